#!/usr/bin/env python3
"""Render each kind of `steepest plot` picture in headless Chromium and check the screenshot.

usage: render_svg.py STEEPEST_BINARY WORK_DIR

Makes, in WORK_DIR, the three kinds of picture with the built binary (the tutorial's two
points fitted from m = -1, b = 5 at lr 0.1: its loss history and its descent path; a small
CPU `bench --plot`), opens each in headless Chromium at 800x600 and checks that the
screenshot PNG is 800x600, is not blank (a real share of the pixels is not the background)
and shows the picture's first colour (Okabe-Ito blue, #0072B2: the series, the path, the
first backend's bars).

Without Chromium it prints why and exits 77 (ctest: skipped), unless
STEEPEST_REQUIRE_BROWSER=1, when that is a failure (exit 1).  Install it with
`scripts/setup.sh --browser`.
"""
import os
import shutil
import struct
import subprocess
import sys
import zlib

WIDTH, HEIGHT = 800, 600
BLUE = (0x00, 0x72, 0xB2)


def browser():
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        path = shutil.which(name)
        if path:
            return path
    return None


def run(cmd):
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    if r.returncode != 0:
        raise SystemExit(f"render_svg: {' '.join(cmd)} failed (exit {r.returncode}):\n{r.stdout}{r.stderr}")


def make_pictures(steepest, work):
    data = os.path.join(work, "tutorial.csv")
    with open(data, "w") as f:
        f.write("x,y\n1,3\n2,5\n")
    h, t = os.path.join(work, "history.csv"), os.path.join(work, "trace.csv")
    run([steepest, "fit", data, "--init-weights", "-1", "--init-bias", "5", "--lr", "0.1", "--epochs", "60",
         "--history", h, "--trace", t, "--quiet"])
    pictures = {k: os.path.join(work, k + ".svg") for k in ("loss", "path", "bench")}
    run([steepest, "plot", h, "-o", pictures["loss"]])
    run([steepest, "plot", t, "--data", data, "-o", pictures["path"]])
    run([steepest, "bench", "--rows", "20000", "--features", "4", "--epochs", "2", "--tts-epochs", "0",
         "--solver-epochs", "0", "--quiet", "--plot", pictures["bench"]])
    return pictures


def png_pixels(path):
    """(width, height, rows of RGB tuples) of an 8-bit RGB or RGBA PNG, non-interlaced."""
    with open(path, "rb") as f:
        data = f.read()
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise SystemExit(f"render_svg: {path} is not a PNG file")
    pos, idat, head = 8, b"", None
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + length]
        if kind == b"IHDR":
            head = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    width, height, depth, colour, _, _, interlace = head
    if depth != 8 or colour not in (2, 6) or interlace:
        raise SystemExit(f"render_svg: {path}: PNG depth {depth}, colour type {colour}, interlace {interlace}: "
                         "not read here")
    bpp = 3 if colour == 2 else 4
    raw, stride = zlib.decompress(idat), width * bpp
    rows, prev = [], bytearray(stride)
    for y in range(height):
        kind, line = raw[y * (stride + 1)], bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        for i in range(stride):
            a = line[i - bpp] if i >= bpp else 0
            b, c = prev[i], prev[i - bpp] if i >= bpp else 0
            if kind == 1:
                line[i] = (line[i] + a) & 255
            elif kind == 2:
                line[i] = (line[i] + b) & 255
            elif kind == 3:
                line[i] = (line[i] + (a + b) // 2) & 255
            elif kind == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        rows.append([tuple(line[x * bpp:x * bpp + 3]) for x in range(width)])
        prev = line
    return width, height, rows


def check(name, png):
    width, height, rows = png_pixels(png)
    problems = []
    if (width, height) != (WIDTH, HEIGHT):
        problems.append(f"the screenshot is {width}x{height}, not {WIDTH}x{HEIGHT}")
    pixels = [p for row in rows for p in row]
    background = max(set(pixels[::97]), key=pixels[::97].count)
    drawn = sum(1 for p in pixels if p != background) / len(pixels)
    colours = len(set(pixels))
    blue = sum(1 for p in pixels if max(abs(p[k] - BLUE[k]) for k in range(3)) <= 24)
    if drawn < 0.01 or colours < 8:
        problems.append(f"blank: {100 * drawn:.2f}% of the pixels differ from the background, {colours} colours")
    if blue < 50:
        problems.append(f"only {blue} pixels of the first series colour #0072B2")
    print(f"render_svg: {name}: {width}x{height}, {100 * drawn:.1f}% drawn, {colours} colours, {blue} blue pixels"
          + ("" if not problems else ": " + "; ".join(problems)))
    return not problems


def main():
    if len(sys.argv) != 3:
        raise SystemExit(__doc__)
    steepest, work = sys.argv[1], sys.argv[2]
    chrome = browser()
    if chrome is None:
        if os.environ.get("STEEPEST_REQUIRE_BROWSER") == "1":
            print("render_svg: FAILED: no chromium found and STEEPEST_REQUIRE_BROWSER=1 "
                  "(install it with scripts/setup.sh --browser)")
            return 1
        print("render_svg: skipped: no chromium found (install it with scripts/setup.sh --browser)")
        return 77
    os.makedirs(work, exist_ok=True)
    ok = True
    for name, svg in make_pictures(steepest, work).items():
        png = os.path.join(work, name + ".png")
        if os.path.exists(png):
            os.remove(png)
        run([chrome, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--no-first-run",
             f"--user-data-dir={os.path.join(work, 'chromium-profile')}", f"--window-size={WIDTH},{HEIGHT}",
             f"--screenshot={png}", "file://" + os.path.abspath(svg)])
        if not os.path.exists(png):
            print(f"render_svg: {name}: chromium wrote no screenshot")
            ok = False
            continue
        ok = check(name, png) and ok
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
