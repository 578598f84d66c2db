#!/usr/bin/env python3
"""Draws Batchwatch's app icon into icons/ at the sizes Tauri and the hicolor theme want.

Pure Python (zlib + struct) so it needs nothing installed. Run again after changing a colour;
the PNGs are committed. The tray icon, which shows live progress, is drawn at run time by
batchwatch-core's tray_icon module instead.
"""
import math
import os
import struct
import zlib

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "..", "icons")

RUNNING_BLUE = (47, 125, 225)


def png(path, size, pixel):
    rows = []
    for y in range(size):
        row = bytearray([0])
        for x in range(size):
            row.extend(pixel(x, y, size))
        rows.append(bytes(row))
    raw = zlib.compress(b"".join(rows), 9)

    def chunk(kind, data):
        c = struct.pack(">I", len(data)) + kind + data
        return c + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    data = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", size, size, 8, 6, 0, 0, 0))
    data += chunk(b"IDAT", raw) + chunk(b"IEND", b"")
    with open(path, "wb") as f:
        f.write(data)


def ring(colour, fraction):
    """A disc in `colour` with a white progress ring covering `fraction`."""

    def pixel(x, y, size):
        # 4x4 supersampling for smooth edges.
        acc = [0.0, 0.0, 0.0, 0.0]
        for sy in range(4):
            for sx in range(4):
                px = (x + (sx + 0.5) / 4) / size * 2 - 1
                py = (y + (sy + 0.5) / 4) / size * 2 - 1
                r = math.hypot(px, py)
                rgba = (0, 0, 0, 0)
                if r <= 0.96:
                    rgba = colour + (255,)
                    angle = (math.atan2(px, -py) / (2 * math.pi)) % 1.0
                    if 0.56 <= r <= 0.78:
                        rgba = (255, 255, 255, 255) if angle <= fraction else tuple(int(c * 0.7) for c in colour) + (255,)
                for i in range(4):
                    acc[i] += rgba[i] / 16
        return bytes(int(round(v)) for v in acc)

    return pixel


def main():
    os.makedirs(OUT, exist_ok=True)
    app = ring(RUNNING_BLUE, 0.7)
    # Tauri's names, plus every hicolor size a desktop asks for (16-512) for the package.
    sizes = [("128x128@2x.png", 256), ("icon.png", 512)]
    sizes += [(f"{n}x{n}.png", n) for n in (16, 24, 32, 48, 64, 128, 256, 512)]
    for name, size in sizes:
        png(os.path.join(OUT, name), size, app)


if __name__ == "__main__":
    main()
