#!/usr/bin/env python3
"""Decode one barcode in a grayscale PNG with zxing-cpp, independently of tracemark's Rust code.

Usage: scripts/zxing_decode.py FILE.png

Prints one JSON line:
  {"file": ..., "format": "DataMatrix", "symbology_identifier": "]d2",
   "text": "...", "bytes_hex": "30313039..."}
where bytes_hex is the transmitted data (FNC1 separators as 1D, no leading FNC1).
Exit status 1 with {"file": ..., "error": ...} when nothing is found.

Only the standard library and zxing-cpp are needed (no PIL, no numpy): the PNG is read here.
Install zxing-cpp with scripts/install-decoders.sh.
"""

import json
import struct
import sys
import zlib


def read_gray_png(path):
    """Return (width, height, bytes) for a non-interlaced grayscale or RGB(A) PNG, as 8-bit luma."""
    with open(path, "rb") as f:
        data = f.read()
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise ValueError("not a PNG file")
    pos, idat, ihdr = 8, [], None
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind = data[pos + 4 : pos + 8]
        body = data[pos + 8 : pos + 8 + length]
        pos += 12 + length
        if kind == b"IHDR":
            ihdr = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat.append(body)
        elif kind == b"IEND":
            break
    if ihdr is None:
        raise ValueError("no IHDR chunk")
    width, height, depth, color, _, _, interlace = ihdr
    channels = {0: 1, 2: 3, 4: 2, 6: 4}.get(color)
    if channels is None or interlace != 0 or (depth != 8 and channels != 1):
        raise ValueError(f"unsupported PNG: depth {depth}, colour type {color}, interlace {interlace}")
    bits_pp = depth * channels
    stride = (width * bits_pp + 7) // 8
    bpp = max(1, bits_pp // 8)
    raw = zlib.decompress(b"".join(idat))
    prev = bytearray(stride)
    out = bytearray()
    for y in range(height):
        start = y * (stride + 1)
        ftype = raw[start]
        row = bytearray(raw[start + 1 : start + 1 + stride])
        for i in range(stride):
            a = row[i - bpp] if i >= bpp else 0
            b = prev[i]
            c = prev[i - bpp] if i >= bpp else 0
            if ftype == 1:
                row[i] = (row[i] + a) & 0xFF
            elif ftype == 2:
                row[i] = (row[i] + b) & 0xFF
            elif ftype == 3:
                row[i] = (row[i] + (a + b) // 2) & 0xFF
            elif ftype == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                pred = a if pa <= pb and pa <= pc else (b if pb <= pc else c)
                row[i] = (row[i] + pred) & 0xFF
        prev = row
        if channels == 1 and depth < 8:
            scale = 255 // ((1 << depth) - 1)
            per_byte = 8 // depth
            mask = (1 << depth) - 1
            for x in range(width):
                byte = row[x // per_byte]
                shift = 8 - depth * (x % per_byte + 1)
                out.append(((byte >> shift) & mask) * scale)
        elif channels <= 2:
            out.extend(row[::channels])
        else:
            for x in range(width):
                r, g, b = row[x * channels : x * channels + 3]
                out.append((r * 299 + g * 587 + b * 114) // 1000)
    return width, height, bytes(out)


def main():
    if len(sys.argv) != 2:
        print("usage: zxing_decode.py FILE.png", file=sys.stderr)
        return 2
    path = sys.argv[1]
    import zxingcpp

    width, height, pixels = read_gray_png(path)
    view = memoryview(pixels).cast("B", (height, width))
    results = zxingcpp.read_barcodes(view, text_mode=zxingcpp.TextMode.Plain)
    if not results:
        print(json.dumps({"file": path, "error": "no barcode found"}))
        return 1
    r = results[0]
    print(
        json.dumps(
            {
                "file": path,
                "format": str(r.format).split(".")[-1],
                "symbology_identifier": r.symbology_identifier,
                "text": r.text,
                "bytes_hex": bytes(r.bytes).hex(),
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
