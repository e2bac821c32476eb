#!/usr/bin/python3
"""Check a screenshot of analysis/timeline's page: the overview's highlight
strip (opaque HIGHLIGHT) covers the violating window's pixels, computed from
the trace's violation_json and the layout constants of analysis/timeline.

    test_timeline.py TRACE PNG     (exit 0 ok, 1 not)
"""
import importlib.machinery
import importlib.util
import json
import os
import sys

import h5py
import matplotlib.image as mpimg
import numpy as np

HERE = os.path.dirname(os.path.realpath(__file__))
loader = importlib.machinery.SourceFileLoader("timeline", os.path.join(HERE, "..", "analysis", "timeline"))
spec = importlib.util.spec_from_loader("timeline", loader)
tl = importlib.util.module_from_spec(spec)
loader.exec_module(tl)

BODY_MARGIN = 12  # analysis/timeline's CSS body margin


def main(trace, png):
    with h5py.File(trace, "r") as f:
        v = json.loads(f.attrs["violation_json"])
        end = int(f.attrs["sim_end_ns"])
    w = v["window"]
    x0 = BODY_MARGIN + tl.LEFT + w["first_ns"] * tl.PLOT / end
    x1 = BODY_MARGIN + tl.LEFT + w["last_ns"] * tl.PLOT / end
    if x1 - x0 < tl.MIN_HIGHLIGHT_PX:
        mid = (x0 + x1) / 2
        x0, x1 = mid - tl.MIN_HIGHLIGHT_PX / 2, mid + tl.MIN_HIGHLIGHT_PX / 2
    img = mpimg.imread(png)[:, :, :3]
    want = np.array([int(tl.HIGHLIGHT[i:i + 2], 16) / 255 for i in (1, 3, 5)])
    hit = np.all(np.abs(img - want) < 6 / 255, axis=2)
    rows = []
    for y in range(hit.shape[0]):
        xs = np.flatnonzero(hit[y])
        if len(xs) and abs(xs[0] - x0) <= 2 and abs(xs[-1] + 1 - x1) <= 2:
            rows.append(y)
    print(f"test_timeline: window {w['first_ns']}..{w['last_ns']} ns -> x {x0:.1f}..{x1:.1f} px; "
          f"{len(rows)} screenshot rows of {tl.HIGHLIGHT} exactly there"
          + (f" (y {rows[0]}..{rows[-1]})" if rows else ""))
    if len(rows) < 6:
        print("test_timeline: FAIL: the violating window is not highlighted where expected")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2]))
