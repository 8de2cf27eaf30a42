#!/usr/bin/env python3
"""Print what a `steepest plot` / `bench --plot` SVG draws, in data units.

The file is read with a real XML parser (xml.etree.ElementTree): a file that is not
well-formed XML fails here with exit 1.  Each frame's axis transform is recovered from its
ticks (the grid line of each tick at the pixel of its data-value; log10 when the frame says
so) and inverted for every plotted point.  Each value comes with its tolerance: what the
two-decimal pixel coordinates of the file allow (the point's rounding and the rounding of
the two ticks the transform is taken from).  One line per item, tab-separated:

  title    TEXT
  subtitle TEXT
  note     TEXT
  frame    ID  XLO  XHI  YLO  YHI               (the plot area's corners in data units)
  point    FRAME  CLASS  LABEL  INDEX  X  Y  XTOL  YTOL
  marker   FRAME  KIND  X  Y  XTOL  YTOL  TITLE
  bar      FRAME  GROUP  SERIES  VALUE  TOL
  contour  FRAME  LEVEL  X  Y  XTOL  YTOL        (every vertex of every contour path)
  legend   TEXT
"""
import math
import re
import sys
import xml.etree.ElementTree as ET

NS = "{http://www.w3.org/2000/svg}"
RESOLUTION = 0.005  # half a unit in the last of the two decimals written


class Scale:
    """value = inverse(pixel) from the two ticks farthest apart."""

    def __init__(self, ticks, log):
        if len(ticks) < 2:
            raise SystemExit("svg_dump: a frame axis has fewer than two ticks")
        ticks = sorted(ticks, key=lambda t: t[1])
        (v1, p1), (v2, p2) = ticks[0], ticks[-1]
        self.log = log
        self.u1 = math.log10(v1) if log else v1
        self.u2 = math.log10(v2) if log else v2
        self.p1, self.p2 = p1, p2

    def unit(self, p):
        return self.u1 + (p - self.p1) * (self.u2 - self.u1) / (self.p2 - self.p1)

    def value(self, p):
        u = self.unit(p)
        return 10.0 ** u if self.log else u

    def tolerance(self, p):
        span = abs(self.p2 - self.p1)
        reach = max(1.0, abs(p - self.p1) / span, abs(p - self.p2) / span)
        du = abs((self.u2 - self.u1) / (self.p2 - self.p1)) * RESOLUTION * (1.0 + 2.0 * reach) * 1.0001
        if not self.log:
            return du
        v = self.value(p)
        return v * (10.0 ** du - 1.0)


def frames_of(root):
    frames = {}
    for g in root.iter(NS + "g"):
        if g.get("class") != "frame":
            continue
        xt, yt = [], []
        for tick in g:
            cls = tick.get("class")
            if cls not in ("xtick", "ytick"):
                continue
            line = tick.find(NS + "line")
            value = float(tick.get("data-value"))
            (xt if cls == "xtick" else yt).append((value, float(line.get("x1" if cls == "xtick" else "y1"))))
        area = g.find(NS + "rect")
        frames[g.get("id")] = {
            "x": Scale(xt, g.get("data-xscale") == "log") if xt else None,
            "y": Scale(yt, g.get("data-yscale") == "log"),
            "area": [float(area.get(k)) for k in ("x", "y", "width", "height")],
        }
    return frames


def text_of(el):
    return "".join(el.itertext()).replace("\t", " ").replace("\n", " ")


def main():
    root = ET.parse(sys.argv[1]).getroot()
    if root.tag != NS + "svg":
        raise SystemExit("svg_dump: the root element is not <svg>")
    out = [f"size\t{root.get('width')}\t{root.get('height')}"]
    frames = frames_of(root)
    for fid, f in frames.items():
        x, y, w, h = f["area"]
        sx, sy = f["x"], f["y"]
        xs = f"{sx.value(x)!r}\t{sx.value(x + w)!r}" if sx else "nan\tnan"
        out.append(f"frame\t{fid}\t{xs}\t{sy.value(y + h)!r}\t{sy.value(y)!r}")
    for el in root.iter():
        tag, cls = el.tag[len(NS):], el.get("class") or ""
        f = frames.get(el.get("data-frame"))
        if tag == "text" and cls in ("title", "subtitle", "note"):
            out.append(f"{cls}\t{text_of(el)}")
        elif tag == "text" and cls == "legend-text":
            out.append(f"legend\t{text_of(el)}")
        elif tag == "polyline":
            for k, pair in enumerate(el.get("points").split()):
                px, py = (float(c) for c in pair.split(","))
                out.append(f"point\t{el.get('data-frame')}\t{cls}\t{el.get('data-label')}\t{k}\t"
                           f"{f['x'].value(px)!r}\t{f['y'].value(py)!r}\t{f['x'].tolerance(px)!r}\t"
                           f"{f['y'].tolerance(py)!r}")
        elif cls.startswith("marker "):
            px, py = float(el.get("data-cx")), float(el.get("data-cy"))
            out.append(f"marker\t{el.get('data-frame')}\t{cls.split()[1]}\t{f['x'].value(px)!r}\t"
                       f"{f['y'].value(py)!r}\t{f['x'].tolerance(px)!r}\t{f['y'].tolerance(py)!r}\t"
                       f"{text_of(el.find(NS + 'title'))}")
        elif tag == "rect" and cls == "bar":
            top = float(el.get("y"))  # bars stand on 0 and rise to their value
            tol = f["y"].tolerance(top)
            out.append(f"bar\t{el.get('data-frame')}\t{el.get('data-group')}\t{el.get('data-series')}\t"
                       f"{f['y'].value(top)!r}\t{tol!r}")
        elif tag == "path" and cls == "contour":
            nums = [float(v) for v in re.findall(r"-?[0-9.]+", el.get("d"))]
            for px, py in zip(nums[0::2], nums[1::2]):
                out.append(f"contour\t{el.get('data-frame')}\t{el.get('data-level')}\t{f['x'].value(px)!r}\t"
                           f"{f['y'].value(py)!r}\t{f['x'].tolerance(px)!r}\t{f['y'].tolerance(py)!r}")
    print("\n".join(out))


if __name__ == "__main__":
    main()
