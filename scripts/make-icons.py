#!/usr/bin/env python3
"""Draws Batchwatch's static icons into icons/ (app icon sizes and the four tray states).

Pure Python (zlib + struct) so it needs nothing installed. Run again after changing a colour;
the PNGs are committed. The tray icon that shows live progress is drawn at run time instead.
"""
import math
import os
import struct
import zlib

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "..", "icons")

COLOURS = {
    "idle": (138, 143, 152),
    "running": (47, 125, 225),
    "attention": (224, 131, 0),
    "done": (46, 157, 91),
}


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


def ring(colour, fraction, mark=None):
    """A disc in `colour` with a white progress ring covering `fraction`, and an optional mark."""

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
                    if mark == "check" and r < 0.5 and near_check(px, py):
                        rgba = (255, 255, 255, 255)
                    if mark == "bang" and r < 0.5 and (abs(px) < 0.08 and (-0.36 < py < 0.12 or 0.22 < py < 0.36)):
                        rgba = (255, 255, 255, 255)
                for i in range(4):
                    acc[i] += rgba[i] / 16
        return bytes(int(round(v)) for v in acc)

    return pixel


def near_check(px, py):
    def seg(ax, ay, bx, by):
        t = max(0, min(1, ((px - ax) * (bx - ax) + (py - ay) * (by - ay)) / ((bx - ax) ** 2 + (by - ay) ** 2)))
        return math.hypot(px - (ax + t * (bx - ax)), py - (ay + t * (by - ay)))

    return min(seg(-0.28, 0.0, -0.08, 0.2), seg(-0.08, 0.2, 0.3, -0.2)) < 0.07


def main():
    os.makedirs(OUT, exist_ok=True)
    app = ring(COLOURS["running"], 0.7)
    for name, size in [("32x32.png", 32), ("128x128.png", 128), ("128x128@2x.png", 256), ("icon.png", 512)]:
        png(os.path.join(OUT, name), size, app)
    marks = {"idle": None, "running": None, "attention": "bang", "done": "check"}
    fractions = {"idle": 0.0, "running": 0.6, "attention": 0.0, "done": 1.0}
    for state, colour in COLOURS.items():
        png(os.path.join(OUT, f"tray-{state}.png"), 64, ring(colour, fractions[state], marks[state]))


if __name__ == "__main__":
    main()
