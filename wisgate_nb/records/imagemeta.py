"""Text metadata inside image files, written and read at the byte level: the pixels are never re-encoded.

    PNG   tEXt (Latin-1) or iTXt (UTF-8) chunks, put right after IHDR so readers see them before the pixels
    JPEG  an XMP packet in an APP1 segment (after JFIF's APP0), at most 64 KB
    WebP  an "XMP " chunk in the extended (VP8X) container; a simple file gets a VP8X header

Readers never raise on a damaged file: they return what they found and a list of problems.
"""

from __future__ import annotations

import re
import struct
import zlib
from xml.sax.saxutils import escape as xml_escape
from xml.sax.saxutils import unescape as xml_unescape

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
XMP_JPEG_HEADER = b"http://ns.adobe.com/xap/1.0/\x00"
XMP_NS = "urn:wisgate_nb:provenance:1"
JPEG_SEGMENT_MAX = 65535 - 2  # a segment's length field counts itself
MAX_XMP_JPEG = JPEG_SEGMENT_MAX - len(XMP_JPEG_HEADER)
_TEXT_CHUNKS = (b"tEXt", b"iTXt", b"zTXt")


def kind_of(data: bytes) -> str | None:
    if data[:8] == PNG_SIGNATURE:
        return "png"
    if data[:2] == b"\xff\xd8":
        return "jpeg"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "webp"
    return None


# -- PNG ---------------------------------------------------------------------------------
def _png_chunk(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))


def png_text_chunk(keyword: str, text: str) -> bytes:
    """tEXt when the text is Latin-1 (what every reader knows), else iTXt (UTF-8)."""
    try:
        return _png_chunk(b"tEXt", keyword.encode("latin-1") + b"\x00" + text.encode("latin-1"))
    except UnicodeEncodeError:
        return _png_chunk(b"iTXt", keyword.encode("latin-1") + b"\x00\x00\x00\x00\x00" + text.encode("utf-8"))


def _png_chunks(data: bytes, problems: list[str], check: bool = True):
    """(kind, payload, start, end) of each chunk; stops at IEND or where the file is damaged."""
    i = 8
    while i + 8 <= len(data):
        length, kind = struct.unpack(">I", data[i:i + 4])[0], data[i + 4:i + 8]
        end = i + 12 + length
        if end > len(data):
            problems.append(f"the {kind.decode('latin-1', 'replace')} chunk is cut short")
            yield kind, data[i + 8:end - 4], i, len(data)
            return
        payload = data[i + 8:i + 8 + length]
        if check and zlib.crc32(kind + payload) != struct.unpack(">I", data[end - 4:end])[0]:
            problems.append(f"the checksum of a {kind.decode('latin-1', 'replace')} chunk does not match")
        yield kind, payload, i, end
        if kind == b"IEND":
            return
        i = end


def _png_text(kind: bytes, payload: bytes) -> tuple[str, str]:
    keyword, _, rest = payload.partition(b"\x00")
    if kind == b"tEXt":
        return keyword.decode("latin-1"), rest.decode("latin-1")
    if kind == b"zTXt":
        return keyword.decode("latin-1"), zlib.decompressobj().decompress(rest[1:], 1_000_000).decode("latin-1")
    compressed, rest = rest[:1] == b"\x01", rest[2:]
    _lang, _, rest = rest.partition(b"\x00")
    _translated, _, text = rest.partition(b"\x00")
    if compressed:
        text = zlib.decompressobj().decompress(text, 1_000_000)
    return keyword.decode("latin-1"), text.decode("utf-8", "replace")


def png_put_text(data: bytes, texts: dict[str, str]) -> bytes:
    """The PNG with these text chunks right after IHDR (older chunks with the same keywords dropped).

    Only chunk headers are read and the pixels' chunks are copied once, as they are (their checksums
    are the server's business): stamping a 3 MB PNG costs about a millisecond.
    """
    view, spans, i = memoryview(data), [], 8
    while i + 8 <= len(data):
        length, kind = struct.unpack(">I", data[i:i + 4])[0], data[i + 4:i + 8]
        end = i + 12 + length
        if end > len(data):
            raise ValueError(f"not a well-formed PNG: the {kind.decode('latin-1', 'replace')} chunk is cut short")
        spans.append((kind, i, end))
        if kind == b"IEND":
            break
        i = end
    if not spans or spans[0][0] != b"IHDR":
        raise ValueError("not a well-formed PNG: no IHDR")
    keep = [view[start:end] for kind, start, end in spans[1:]
            if not (kind in _TEXT_CHUNKS and bytes(view[start + 8:end - 4]).partition(b"\x00")[0].decode("latin-1")
                    in texts)]
    new = b"".join(png_text_chunk(k, v) for k, v in texts.items())
    return b"".join([view[:spans[0][2]], new, *keep, view[spans[-1][2]:]])


def png_read_text(data: bytes, problems: list[str]) -> dict[str, str]:
    found: dict[str, str] = {}
    for kind, payload, _start, end in _png_chunks(data, problems, check=False):
        if kind in _TEXT_CHUNKS:
            if zlib.crc32(kind + payload) != struct.unpack(">I", data[end - 4:end])[0]:
                problems.append(f"the checksum of a {kind.decode()} chunk does not match")
            try:
                keyword, text = _png_text(kind, payload)
            except (zlib.error, UnicodeDecodeError) as exc:
                problems.append(f"a text chunk cannot be read ({exc})")
                continue
            found.setdefault(keyword, text)
    return found


# -- XMP ---------------------------------------------------------------------------------
def xmp_packet(fields: dict[str, str], description: str | None = None) -> bytes:
    """An XMP packet with one wisgate_nb:NAME element per field (and dc:description, shown by photo tools)."""
    body = "".join(f"<wisgate_nb:{name}>{xml_escape(value)}</wisgate_nb:{name}>" for name, value in fields.items())
    if description is not None:
        body += (f'<dc:description><rdf:Alt><rdf:li xml:lang="x-default">{xml_escape(description)}</rdf:li>'
                 "</rdf:Alt></dc:description>")
    return ('<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>'
            '<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
            f'<rdf:Description rdf:about="" xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:wisgate_nb="{XMP_NS}">'
            f"{body}</rdf:Description></rdf:RDF></x:xmpmeta><?xpacket end=\"w\"?>").encode()


def xmp_fields(packet: bytes) -> dict[str, str]:
    """The wisgate_nb:NAME elements of an XMP packet (a regex, not an XML parser: files may be hostile)."""
    text = packet.decode("utf-8", "replace")
    return {m.group(1): xml_unescape(m.group(2))
            for m in re.finditer(r"<wisgate_nb:(\w+)>(.*?)</wisgate_nb:\1>", text, re.DOTALL)}


# -- JPEG --------------------------------------------------------------------------------
def _jpeg_segments(data: bytes):
    """(marker, start, end) of the segments before the image data (SOS)."""
    i = 2
    while i + 4 <= len(data) and data[i] == 0xFF:
        marker = data[i + 1]
        if marker == 0xDA:  # start of scan: the compressed pixels follow
            return
        end = i + 2 + struct.unpack(">H", data[i + 2:i + 4])[0]
        yield marker, i, min(end, len(data))
        i = end


def jpeg_put_xmp(data: bytes, packet: bytes) -> bytes:
    """The JPEG with this XMP packet (an older XMP segment dropped), after the JFIF/EXIF headers."""
    if len(packet) > MAX_XMP_JPEG:
        raise ValueError(f"an XMP packet in a JPEG holds at most {MAX_XMP_JPEG} bytes")
    segments = list(_jpeg_segments(data))
    out, at = [data[:2]], 2
    inserted = False
    for marker, start, end in segments:
        if not inserted and marker not in (0xE0, 0xE1):  # after APP0 (JFIF) and APP1 (EXIF)
            out.append(_xmp_segment(packet))
            inserted = True
        if not (marker == 0xE1 and data[start + 4:start + 4 + len(XMP_JPEG_HEADER)] == XMP_JPEG_HEADER):
            out.append(data[start:end])
        at = end
    if not inserted:
        out.append(_xmp_segment(packet))
    return b"".join(out) + data[at:]


def _xmp_segment(packet: bytes) -> bytes:
    payload = XMP_JPEG_HEADER + packet
    return b"\xff\xe1" + struct.pack(">H", len(payload) + 2) + payload


def jpeg_read_xmp(data: bytes) -> bytes | None:
    for marker, start, end in _jpeg_segments(data):
        if marker == 0xE1 and data[start + 4:start + 4 + len(XMP_JPEG_HEADER)] == XMP_JPEG_HEADER:
            return data[start + 4 + len(XMP_JPEG_HEADER):end]
    return None


# -- WebP --------------------------------------------------------------------------------
def _webp_chunks(data: bytes):
    i = 12
    while i + 8 <= len(data):
        kind, size = data[i:i + 4], struct.unpack("<I", data[i + 4:i + 8])[0]
        yield kind, data[i + 8:i + 8 + size]
        i += 8 + size + (size & 1)


def _riff_chunk(kind: bytes, payload: bytes) -> bytes:
    return kind + struct.pack("<I", len(payload)) + payload + (b"\x00" if len(payload) & 1 else b"")


def webp_put_xmp(data: bytes, packet: bytes, width: int, height: int) -> bytes:
    """The WebP with this XMP chunk; a simple (VP8/VP8L) file becomes an extended one (VP8X)."""
    chunks = [(k, p) for k, p in _webp_chunks(data) if k != b"XMP "]
    if not chunks:
        raise ValueError("not a well-formed WebP")
    if chunks[0][0] == b"VP8X":
        header = bytes([chunks[0][1][0] | 0x04]) + chunks[0][1][1:]
        chunks = chunks[1:]
    else:
        alpha = chunks[0][0] == b"VP8L" and len(chunks[0][1]) >= 5 and bool(chunks[0][1][4] & 0x10)
        header = (bytes([0x04 | (0x10 if alpha else 0)]) + b"\x00\x00\x00"
                  + (width - 1).to_bytes(3, "little") + (height - 1).to_bytes(3, "little"))
    body = b"WEBP" + _riff_chunk(b"VP8X", header) + b"".join(_riff_chunk(k, p) for k, p in chunks)
    body += _riff_chunk(b"XMP ", packet)
    return b"RIFF" + struct.pack("<I", len(body)) + body


def webp_read_xmp(data: bytes) -> bytes | None:
    for kind, payload in _webp_chunks(data):
        if kind == b"XMP ":
            return payload
    return None


# -- what a server put in a file ---------------------------------------------------------------


def drop_metadata_holding(data: bytes, needle: bytes) -> bytes:
    """The image without the metadata blocks (PNG ancillary chunks, JPEG APPn/COM segments, WebP chunks other
    than the bitstream's) that hold ``needle``: a server that echoes the key into a file never gets it written.
    Unchanged when no block holds it, or for a file this cannot take apart."""
    if not needle or needle not in data:
        return data
    kind = kind_of(data)
    try:
        if kind == "png":
            return _drop_png(data, needle)
        if kind == "jpeg":
            out, at = [data[:2]], 2
            for marker, start, end in _jpeg_segments(data):
                if not ((0xE0 <= marker <= 0xEF or marker == 0xFE) and needle in data[start:end]):
                    out.append(data[start:end])
                at = end
            return b"".join(out) + data[at:]
        if kind == "webp":
            kept = b"".join(_riff_chunk(k, p) for k, p in _webp_chunks(data)
                            if k in (b"VP8 ", b"VP8L", b"VP8X", b"ALPH", b"ANIM", b"ANMF") or needle not in p)
            return b"RIFF" + struct.pack("<I", 4 + len(kept)) + b"WEBP" + kept
    except (ValueError, struct.error):
        return data
    return data


def _drop_png(data: bytes, needle: bytes) -> bytes:
    out, i = [data[:8]], 8
    while i + 8 <= len(data):
        length, kind = struct.unpack(">I", data[i:i + 4])[0], data[i + 4:i + 8]
        end = min(i + 12 + length, len(data))
        if not (kind[:1].islower() and needle in data[i + 8:end]):  # ancillary chunks only; pixels stay
            out.append(data[i:end])
        i = end
    return b"".join(out) + data[i:]
