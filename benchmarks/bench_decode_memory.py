"""Peak memory of decoding one image (``audit.datasets.images.read_image``), in bytes per pixel.

Each image is decoded in a fresh process; the peak resident set (``VmHWM``) less the resident
set before the call is its cost. Linux only (reads ``/proc/self/status``).

    python benchmarks/bench_decode_memory.py [--tree PATH ...]

``--tree`` names other checkouts to measure the same files with (their ``audit`` package).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "datasets"))

from test_bounded_decoding import write_big_gray_png  # noqa: E402

_CODE = """
import inspect, sys
from audit.datasets.images import read_image
def rss(key):
    for line in open('/proc/self/status'):
        if line.startswith(key):
            return int(line.split()[1]) * 1024
base = rss('VmRSS:')
kw = {'max_pixels': None} if 'max_pixels' in inspect.signature(read_image).parameters else {}
read_image(sys.argv[1], **kw)
print(rss('VmHWM:') - base)
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--tree", action="append", default=[], help="another checkout")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="bench-decode-"))
    write_big_gray_png(folder / "gray-12000.png", 12000, 12000)
    Image.new("RGBA", (6000, 6000), (10, 200, 30, 128)).save(folder / "rgba-6000.png")
    Image.fromarray(np.full((6000, 6000), 30000, np.uint16)).save(folder / "gray16-6000.png")
    files = {"gray-12000.png": 144e6, "rgba-6000.png": 36e6, "gray16-6000.png": 36e6}
    for tree in [str(ROOT), *args.tree]:
        for name, pixels in files.items():
            done = subprocess.run([sys.executable, "-c", _CODE, str(folder / name)],
                                  capture_output=True, text=True, cwd=tree, check=True,
                                  env={**os.environ, "PYTHONPATH": tree})
            peak = int(done.stdout.split()[-1])
            print(f"{tree}  {name:16s} {(folder / name).stat().st_size / 1e3:8.0f} KB  "
                  f"peak {peak / 2**20:6.0f} MiB  {peak / pixels:5.1f} B/px")


if __name__ == "__main__":
    main()
