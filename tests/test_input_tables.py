"""Table tests of an edit's inputs — core/inputs.py: the images and the mask loaded from paths, bytes, PIL images,
results or a mask painter, and checked before anything is sent — written so that mutation testing (README,
"Mutation testing") finds no change they miss. Small images made in memory; no server, no kernel.
"""

from __future__ import annotations

import io

import pytest
from PIL import Image

from wisgate_nb.core import inputs
from wisgate_nb.core.inputs import check_mask, is_painter, load_edit_inputs, load_image, painted_mask
from wisgate_nb.errors import ConfigurationError
from wisgate_nb.records import Generation


def png(size=(8, 6), mode="RGB", fmt="PNG") -> bytes:
    buffer = io.BytesIO()
    Image.new(mode, size, (10, 20, 30, 0) if mode == "RGBA" else (10, 20, 30)).save(buffer, format=fmt)
    return buffer.getvalue()


MASK = png(mode="RGBA")


class Painter:
    """A mask painter as core sees one: a class that says so, and its mask (a PIL image or None)."""

    _wisgate_mask_painter = True

    def __init__(self, mask):
        self.mask = mask


class Lookalike:
    _wisgate_mask_painter = "yes"  # only True itself says "painter"


def test_an_image_from_bytes_a_path_a_pil_image_or_a_result(tmp_path):
    data = png()
    assert load_image(data) == ("image.png", data, "image/png")
    (tmp_path / "cat.png").write_bytes(data)
    assert load_image(tmp_path / "cat.png") == ("cat.png", data, "image/png")
    assert load_image(str(tmp_path / "cat.png")) == ("cat.png", data, "image/png")
    name, sent, mime = load_image(Image.open(io.BytesIO(data)))
    assert (name, mime, Image.open(io.BytesIO(sent)).size) == ("image.png", "image/png", (8, 6))
    assert load_image(Generation(None, (), (), (data,))) == ("image.png", data, "image/png")  # its first image
    assert load_image(png(fmt="JPEG"), default_name="mask.png")[0::2] == ("mask.jpg", "image/jpeg")


def test_a_painter_passed_as_the_image_is_pointed_to_the_mask():
    with pytest.raises(ConfigurationError, match="^the image is a mask painter"):
        load_image(Painter(None))
    with pytest.raises(ConfigurationError) as info:
        load_image(Painter(None), what="image 2 of 3")
    assert str(info.value) == ("image 2 of 3 is a mask painter: pass it as the mask (mask=painter), and the image "
                               "it paints on as the image")


def test_only_a_class_that_says_true_is_a_painter():
    assert is_painter(Painter(None))
    assert not is_painter(Lookalike())
    assert not is_painter(png())


def test_an_image_over_50_mb_is_refused_before_it_is_read(tmp_path, monkeypatch):
    big = tmp_path / "big.png"
    big.write_bytes(png())
    read = []
    monkeypatch.setattr("wisgate_nb.http.images.load_image_input", lambda image, default_name: read.append(image))
    monkeypatch.setattr(inputs.os.path, "getsize", lambda path: 50 * 1024 * 1024 + 1)
    with pytest.raises(ConfigurationError) as info:
        load_image(big)
    assert str(info.value) == "big.png is 50.0 MB: the edits API takes at most 50 MB per image"
    assert read == []  # the size was checked before the file was read


def test_an_image_of_exactly_50_mb_is_read(tmp_path, monkeypatch):
    path = tmp_path / "edge.png"
    path.write_bytes(png())
    monkeypatch.setattr(inputs.os.path, "getsize", lambda p: 50 * 1024 * 1024)
    assert load_image(path)[0] == "edge.png"


def test_a_missing_file_is_named_by_the_loader(tmp_path):
    with pytest.raises(ConfigurationError) as info:
        load_image(tmp_path / "gone.png")
    assert str(info.value) == f"image file not found: {tmp_path / 'gone.png'}"


@pytest.mark.parametrize("url", ["https://example.com/cat.png", "HTTP://example.com/cat.png"])
def test_an_image_url_is_refused_without_looking_on_disk(url, monkeypatch):
    monkeypatch.setattr(inputs.os.path, "getsize", lambda p: pytest.fail("a URL is not a file"))
    with pytest.raises(ConfigurationError, match="image URLs are not accepted"):
        load_image(url)


@pytest.mark.parametrize(("what", "message"), [
    ({}, "cat.png is 60.0 MB: the edits API takes at most 50 MB per image"),  # one image: its file's name
    ({"what": "the image"}, "cat.png is 60.0 MB: the edits API takes at most 50 MB per image"),
    ({"what": "image 1 of 2"}, "image 1 of 2 is 60.0 MB: the edits API takes at most 50 MB per image"),
])
def test_loaded_bytes_over_the_limit_are_named_as_asked(monkeypatch, what, message):
    huge = b"x" * (60 * 1024 * 1024)
    monkeypatch.setattr("wisgate_nb.http.images.load_image_input", lambda image, default_name: ("cat.png", huge, "image/png"))
    with pytest.raises(ConfigurationError) as info:
        load_image(b"anything", **what)
    assert str(info.value) == message


def test_a_mask_over_50_mb_is_named_the_mask(monkeypatch):
    monkeypatch.setattr("wisgate_nb.http.images.load_image_input",
                        lambda image, default_name: (default_name, b"x" * (60 * 1024 * 1024 if image == b"mask" else 9),
                                                     "image/png"))
    with pytest.raises(ConfigurationError) as info:
        load_edit_inputs([b"image"], b"mask")
    assert str(info.value) == "the mask is 60.0 MB: the edits API takes at most 50 MB per image"


def test_loaded_bytes_of_exactly_the_limit_pass(monkeypatch):
    edge = b"x" * (50 * 1024 * 1024)
    monkeypatch.setattr("wisgate_nb.http.images.load_image_input", lambda image, default_name: ("image.png", edge, "image/png"))
    assert load_image(b"anything")[1] is edge


def test_an_edit_loads_its_images_in_order_and_its_mask():
    first, second = png(), png(size=(4, 4))
    images, mask = load_edit_inputs([first, second], MASK)
    assert images == (("image.png", first, "image/png"), ("image.png", second, "image/png"))
    assert mask == ("mask.png", MASK, "image/png")
    assert load_edit_inputs((first,), None) == ((("image.png", first, "image/png"),), None)


def test_each_of_several_images_is_named_by_its_place():
    with pytest.raises(ConfigurationError) as info:
        load_edit_inputs([png(), Painter(None)], None)
    assert str(info.value).startswith("image 2 of 2 is a mask painter")
    with pytest.raises(ConfigurationError) as info:
        load_edit_inputs([Painter(None)], None)
    assert str(info.value).startswith("the image is a mask painter")


@pytest.mark.parametrize(("images", "mask", "message"), [
    ([], None, "an edit needs at least one image (a path, bytes, a PIL image or a result)"),
    (None, MASK, "a mask was given without an image: pass the image to edit too"),
    ([png()] * 17, None, "an edit takes at most 16 images; got 17"),
])
def test_the_number_of_images_is_checked_first(images, mask, message):
    with pytest.raises(ConfigurationError) as info:
        load_edit_inputs(images, mask)
    assert str(info.value) == message


def test_a_mask_over_4_mb_is_refused(monkeypatch):
    loaded = []

    def fake(image, default_name):
        loaded.append(default_name)
        return (default_name, b"x" * (4 * 1024 * 1024 + (1 if default_name == "mask.png" else 0)), "image/png")

    monkeypatch.setattr("wisgate_nb.http.images.load_image_input", fake)
    with pytest.raises(ConfigurationError) as info:
        load_edit_inputs([b"image"], b"mask")
    assert str(info.value) == "the mask is 4.0 MB: the edits API takes at most 4 MB per mask"
    assert loaded == ["image.png", "mask.png"]


def test_a_mask_of_exactly_4_mb_passes_to_the_mask_check(monkeypatch):
    monkeypatch.setattr("wisgate_nb.http.images.load_image_input",
                        lambda image, default_name: (default_name, b"x" * (4 * 1024 * 1024), "image/png"))
    checked = []
    monkeypatch.setattr(inputs, "check_mask", lambda image, mask: checked.append((image[0], mask[0])))
    load_edit_inputs([b"image"], b"mask")
    assert checked == [("image.png", "mask.png")]


def test_a_painters_mask_is_the_mask():
    painter_mask = Image.new("RGBA", (8, 6), (0, 0, 0, 255))
    painter_mask.putpixel((2, 2), (0, 0, 0, 0))
    images, mask = load_edit_inputs([png()], Painter(painter_mask))
    assert mask[0::2] == ("mask.png", "image/png")
    assert Image.open(io.BytesIO(mask[1])).getpixel((2, 2))[3] == 0


@pytest.mark.parametrize("mask", [None, Image.new("RGBA", (8, 6), (0, 0, 0, 255))])
def test_a_painter_with_nothing_painted_says_so(mask):
    with pytest.raises(ConfigurationError) as info:
        painted_mask(Painter(mask))
    assert str(info.value) == ("the mask painter has nothing painted: paint the area to change first "
                               "(or add a stroke from Python: painter.add_rect(...))")


def test_one_painted_pixel_is_a_mask():
    mask = Image.new("RGBA", (8, 6), (0, 0, 0, 255))
    mask.putpixel((7, 5), (0, 0, 0, 254))
    assert painted_mask(Painter(mask)) is mask


@pytest.mark.parametrize(("mask", "message"), [
    (png(size=(6, 8), mode="RGBA"), "the mask is 6x8 but the image is 8x6: a mask must have the same size as the "
                                    "image (a mask painter: make it for this image)"),
    (png(mode="RGB", fmt="WEBP"), "the mask must be a PNG with transparent areas to edit, got WEBP"),
    (png(mode="RGB"), "the mask has no alpha channel (RGB): the server would ignore it. Make it RGBA, transparent "
                      "where the image may change (or use a mask painter)"),
])
def test_a_mask_is_a_png_of_the_images_size_with_alpha(mask, message):
    with pytest.raises(ConfigurationError) as info:
        check_mask(("image.png", png(), "image/png"), ("mask.png", mask, "image/png"))
    assert str(info.value) == message


def test_a_palette_mask_with_transparency_is_accepted():
    buffer = io.BytesIO()
    Image.new("P", (8, 6), 0).save(buffer, format="PNG", transparency=0)
    check_mask(("image.png", png(), "image/png"), ("mask.png", buffer.getvalue(), "image/png"))
    check_mask(("image.png", png(), "image/png"), ("mask.png", MASK, "image/png"))
