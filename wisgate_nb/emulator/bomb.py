"""A decompression bomb for the ``bomb`` fault: a tiny PNG that declares an enormous picture."""

from __future__ import annotations

import functools
import struct
import zlib

__all__ = ["bomb_png"]


def _png_chunk(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))


@functools.lru_cache(maxsize=1)
def bomb_png(side: int = 30000) -> bytes:
    """A valid 1-bit PNG of side x side black pixels that is about 110 KB on the wire.

    Built fast: a block of rows is deflated once after a full flush (which resets the
    compressor's history), so the same compressed bytes can simply be repeated.
    """
    row = b"\x00" + bytes((side + 7) // 8)
    rows_per_block = 1000
    blocks, rest = divmod(side, rows_per_block)
    packer = zlib.compressobj(9, zlib.DEFLATED, -15)
    block = packer.compress(row * rows_per_block) + packer.flush(zlib.Z_FULL_FLUSH)
    tail_packer = zlib.compressobj(9, zlib.DEFLATED, -15)
    tail = tail_packer.compress(row * rest) + tail_packer.flush(zlib.Z_FINISH)
    checksum = 1
    for _ in range(blocks):
        checksum = zlib.adler32(row * rows_per_block, checksum)
    checksum = zlib.adler32(row * rest, checksum)
    stream = b"\x78\xda" + block * blocks + tail + struct.pack(">I", checksum)
    header = struct.pack(">IIBBBBB", side, side, 1, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", header)
        + _png_chunk(b"IDAT", stream)
        + _png_chunk(b"IEND", b"")
    )
