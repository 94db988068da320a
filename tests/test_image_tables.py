"""Table tests of http/images.py: the size an image's header declares (read before any decoding, to refuse a
decompression bomb), and an upload prepared from bytes, a file or a PIL image. Images made in memory with
Pillow; no server. Written so that mutation testing (README, "Mutation testing") finds no change they miss.
"""

from __future__ import annotations

import base64
import io
import zlib

import pytest
from PIL import Image

from wisgate_nb import errors
from wisgate_nb.http.images import b64decode, decode_image, load_image_input, peek_size


def encoded(size, fmt, mode="RGB", **options) -> bytes:
    buffer = io.BytesIO()
    Image.new(mode, size, (200, 30, 30, 128)[: len(mode)]).save(buffer, format=fmt, **options)  # RGBA: translucent
    return buffer.getvalue()


@pytest.mark.parametrize(("fmt", "mode", "options"), [
    ("PNG", "RGB", {}), ("GIF", "P", {}), ("WEBP", "RGB", {}), ("WEBP", "RGB", {"lossless": True}),
    ("WEBP", "RGBA", {}),  # translucent: an extended (VP8X) header
    ("JPEG", "RGB", {}), ("JPEG", "RGB", {"progressive": True}), ("JPEG", "L", {}),
    ("JPEG", "RGB", {"exif": b"Exif\x00\x00" + b"\x00" * 300}),  # a long segment before the frame
])
@pytest.mark.parametrize("size", [(1, 1), (300, 257), (258, 1030)])
def test_the_declared_size_is_read_from_the_header(fmt, mode, options, size):
    assert peek_size(encoded(size, fmt, mode, **options)) == size


def test_a_jpeg_size_is_found_past_markers_without_a_length():
    jpeg = encoded((40, 21), "JPEG")
    padded = jpeg[:2] + b"\xff\x01" + b"\xff\xd0" + b"\xff\xd8" + jpeg[2:]  # TEM, RST0, SOI: no length follows
    assert peek_size(padded) == (40, 21)


@pytest.mark.parametrize("data", [
    b"\xff\xd8", b"\xff\xd8\xff\xe0\x00\x10JFIF", b"\xff\xd8\x00\x00\x00\x00\x00\x00\x00\x00\x00",
    encoded((9, 9), "JPEG")[:20],  # cut before its frame
])
def test_a_jpeg_without_a_readable_frame_declares_nothing(data):
    assert peek_size(data) is None


def test_a_jpeg_declaring_too_many_pixels_is_refused_before_it_is_decoded():
    jpeg = encoded((300, 200), "JPEG")
    assert decode_image(jpeg, max_pixels=60_000).width == 300
    with pytest.raises(errors.ResponseFormatError) as info:
        decode_image(jpeg, max_pixels=59_999)
    assert str(info.value) == ("the image has too many pixels (more than 59,999): refused as a decompression bomb: "
                               "300x200")


# ---- load_image_input: what an upload is made of ----


def test_a_pil_image_is_sent_as_png_named_after_its_file(tmp_path):
    path = tmp_path / "holiday photo.jpg"
    Image.new("RGB", (5, 4), "blue").save(path)
    with Image.open(path) as opened:
        name, data, mime = load_image_input(opened)
    assert (name, mime) == ("holiday photo.png", "image/png")
    with Image.open(io.BytesIO(data)) as sent:
        assert (sent.format, sent.mode, sent.size) == ("PNG", "RGB", (5, 4))  # RGB stays RGB


@pytest.mark.parametrize(("default_name", "expected"), [("mask.png", "mask.png"), ("", "image.png"),
                                                        ("edit.webp", "edit.png")])
def test_a_pil_image_made_in_memory_takes_the_default_name(default_name, expected):
    assert load_image_input(Image.new("L", (3, 3)), default_name=default_name)[0] == expected


def test_an_image_png_cannot_hold_is_sent_as_rgba():
    name, data, _ = load_image_input(Image.new("CMYK", (3, 2)))
    with Image.open(io.BytesIO(data)) as sent:
        assert (name, sent.format, sent.mode) == ("image.png", "PNG", "RGBA")


@pytest.mark.parametrize(("image", "message"), [
    (42, "an image must be a file path, bytes or a PIL image; got int"),
    (b"not an image at all", "the image cannot be decoded: it is not PNG, JPEG, WebP or GIF data "
                             "(it starts with b'not an i')"),
    (encoded((2, 2), "GIF", "P"), "the image is GIF: send PNG, JPEG or WEBP (a PIL image is converted to PNG)"),
    ("https://img.example/a.png", "image URLs are not accepted: download the file and pass its path"),
])
def test_what_cannot_be_uploaded_says_why(image, message):
    with pytest.raises(errors.ConfigurationError) as info:
        load_image_input(image)
    assert str(info.value) == message


def test_a_file_that_cannot_be_uploaded_is_named(tmp_path):
    (tmp_path / "notes.png").write_bytes(b"not an image at all")
    (tmp_path / "anim.gif").write_bytes(encoded((2, 2), "GIF", "P"))
    for name, message in [
        ("notes.png", "notes.png cannot be decoded: it is not PNG, JPEG, WebP or GIF data (it starts with b'not an i')"),
        ("anim.gif", "anim.gif is GIF: send PNG, JPEG or WEBP (a PIL image is converted to PNG)"),
        ("", f"cannot read image file {tmp_path}: Is a directory"),
    ]:
        with pytest.raises(errors.ConfigurationError) as info:
            load_image_input(tmp_path / name)
        assert str(info.value) == message


# ---- decode_image: what the server sent, checked ----


@pytest.mark.parametrize(("data", "fmt"), [
    (encoded((7, 5), "PNG"), "png"), (encoded((7, 5), "JPEG"), "jpeg"), (encoded((7, 5), "WEBP"), "webp"),
    (encoded((7, 5), "GIF", "P"), "gif"), (encoded((7, 5), "GIF", "P", transparency=200), "gif"),  # GIF87a, GIF89a
])
def test_a_decoded_image_keeps_its_bytes_format_size_and_pixels(data, fmt):
    blob = decode_image(data, max_pixels=35, revised_prompt="a fox")
    assert (blob.data, blob.format, blob.width, blob.height, blob.revised_prompt) == (data, fmt, 7, 5, "a fox")
    assert blob.decoded.size == (7, 5)  # decoded once: the thumbnail does not decode the file again
    assert (blob.to_pil().format.lower(), blob.to_pil().size) == (fmt, (7, 5))  # its bytes, opened anew
    assert decode_image(data, max_pixels=35, revised_prompt=["not", "text"]).revised_prompt is None


def test_a_tall_image_of_exactly_the_pixel_cap_is_decoded():
    assert decode_image(encoded((100, 300), "PNG"), max_pixels=30_000).height == 300


@pytest.mark.parametrize(("data", "message"), [
    (b"BM" + b"\x00" * 40, "the image is BMP: only PNG, JPEG, WebP and GIF data is decoded"),
    (b"RIFF\x00\x00\x00\x00AVI LIST", "the image cannot be decoded: it is not PNG, JPEG, WebP or GIF data "
                                       "(it starts with b'RIFF\\x00\\x00\\x00\\x00')"),  # a RIFF that is no WebP
    (b"<html><body>", "the image cannot be decoded: it is not PNG, JPEG, WebP or GIF data "
                      "(it starts with b'<html><b')"),
    (encoded((20, 20), "PNG")[:60], "the image cannot be decoded (OSError: image file is truncated)"),
])
def test_what_is_not_an_image_is_a_format_error_that_says_what_it_is(data, message):
    with pytest.raises(errors.ResponseFormatError) as info:
        decode_image(data, max_pixels=10**6)
    assert str(info.value) == message


def test_base64_data_urls_and_wrapped_lines_are_read_and_stray_characters_refused():
    data = encoded((3, 3), "PNG")
    text = base64.b64encode(data).decode()
    assert b64decode(text) == data
    assert b64decode("data:image/png;base64," + text) == data
    assert b64decode("\n".join(text[i:i + 20] for i in range(0, len(text), 20))) == data
    for bad in (text[:-3], text[:10] + "*" + text[10:]):
        with pytest.raises(errors.ResponseFormatError) as info:
            b64decode(bad)
        assert str(info.value) == "an image's base64 data is truncated or corrupted"


def frame(marker: int, width: int, height: int) -> bytes:
    """A JPEG segment of the given marker whose bytes read like a frame of width × height."""
    return bytes([0xFF, marker, 0x00, 0x11, 0x08]) + height.to_bytes(2, "big") + width.to_bytes(2, "big")


@pytest.mark.parametrize(("segments", "size"), [
    (frame(0xC0, 40, 30), (40, 30)),  # cut right after the frame's size: still read
    (frame(0xCF, 41, 31), (41, 31)),  # the last start-of-frame marker
    (b"\xff\xd7" + frame(0xC2, 42, 32), (42, 32)),  # RST7 has no length
    (frame(0xC4, 1, 1)[:4] + b"\x00" * 15 + frame(0xC0, 43, 33), (43, 33)),  # a Huffman table, then the frame
    (frame(0xC8, 1, 1)[:4] + b"\x00" * 15 + frame(0xC1, 44, 34), (44, 34)),  # JPG extension
    (frame(0xCC, 1, 1)[:4] + b"\x00" * 15 + frame(0xC3, 45, 35), (45, 35)),  # arithmetic conditioning
])
def test_only_a_start_of_frame_segment_declares_the_size(segments, size):
    assert peek_size(b"\xff\xd8" + segments) == size


def with_fill_byte(jpeg: bytes) -> bytes:
    """The same JPEG with a fill byte after its start: Pillow reads it, the header peek does not."""
    return jpeg[:2] + b"\xff" + jpeg[2:]


def test_an_image_the_header_peek_misses_is_still_held_to_the_pixel_cap():
    jpeg = with_fill_byte(encoded((300, 200), "JPEG"))
    assert peek_size(jpeg) is None
    assert decode_image(jpeg, max_pixels=60_000).width == 300
    with pytest.raises(errors.ResponseFormatError) as info:
        decode_image(jpeg, max_pixels=59_999)
    assert str(info.value) == ("the image has too many pixels (more than 59,999): refused as a decompression bomb: "
                               "300x200")


def test_an_image_pillow_itself_calls_a_bomb_is_refused_as_one():
    jpeg = bytearray(encoded((8, 8), "JPEG"))
    at = jpeg.index(b"\xff\xc0")
    jpeg[at + 5:at + 9] = (20_000).to_bytes(2, "big") + (20_000).to_bytes(2, "big")  # 400 million pixels declared
    with pytest.raises(errors.ResponseFormatError) as info:
        decode_image(with_fill_byte(bytes(jpeg)), max_pixels=10**12)
    assert str(info.value) == (f"the image has too many pixels (more than {int(Image.MAX_IMAGE_PIXELS):,}): "
                               "refused as a decompression bomb")


def gif(flags: int, background: int = 0, table: bytes = b"", then: bytes = b",") -> bytes:
    """A GIF's header (40 × 30) as written by hand: its flags, background index, colour table and next block."""
    return b"GIF89a" + (40).to_bytes(2, "little") + (30).to_bytes(2, "little") + bytes([flags, background, 0]) \
        + table + then + b"\x00" * 8


@pytest.mark.parametrize(("data", "size"), [
    (gif(0x00), (40, 30)),                                    # no global colour table
    (gif(0x00)[:14], (40, 30)),                               # the header and the next block's first byte
    (gif(0x01), (40, 30)),                                    # a table's size bits, but no table flag
    (gif(0x81, background=5, table=b"\x00" * 12, then=b"!"), (40, 30)),  # a 4-colour table, then an extension
    (gif(0x80, table=b"\x00" * 6, then=b";"), (40, 30)),      # a 2-colour table, then the end
    (gif(0x80, table=b"\x00" * 6, then=b"x"), None),          # no block where one must be
    (gif(0x81, then=b","), None),                             # a table announced but missing
    (encoded((300, 257), "GIF", "P", transparency=200), (300, 257)),  # GIF89a as Pillow writes it
    (b"\x00" * 8 + encoded((5, 5), "PNG")[8:], None),          # a PNG's chunks without its signature
    (b"RIFF\x00\x00\x00\x00WEBQ" + b"VP8X" + b"\x00" * 20, None),  # RIFF, but not WebP
    (b"RIFF\x00\x00\x00\x00WEBP" + b"VP8Q" + b"\x00" * 20, None),  # an unknown WebP chunk
    (encoded((300, 257), "WEBP", lossless=True)[:25], (300, 257)),  # a lossless header, just long enough
    (encoded((300, 257), "WEBP", lossless=True)[:24], None),
    (encoded((300, 257), "WEBP")[:30], (300, 257)),           # a lossy header, just long enough
    (encoded((300, 257), "WEBP")[:29], None),
])
def test_a_header_declares_a_size_only_when_it_is_whole(data, size):
    assert peek_size(data) == size


def test_a_png_wider_than_three_bytes_declares_its_whole_width():
    def chunk(kind: bytes, data: bytes) -> bytes:
        return len(data).to_bytes(4, "big") + kind + data + zlib.crc32(kind + data).to_bytes(4, "big")

    header = (2**24 + 1).to_bytes(4, "big") + (2**24 + 2).to_bytes(4, "big") + b"\x08\x02\x00\x00\x00"
    assert peek_size(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header)) == (2**24 + 1, 2**24 + 2)
