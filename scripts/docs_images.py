"""The README's pictures: the top of the report's and the dashboard's screenshots, scaled down for docs/img.

    python scripts/docs_images.py data/reports/summary.png data/dashboard/dashboard.png docs/img

(`make docs-images` takes both screenshots first; they need Debian's chromium.)
"""

from __future__ import annotations

import sys
from pathlib import Path

from PIL import Image

WIDTH = 900  # px: sharp in a README column, ~100-200 KB as a palette PNG
# source rows kept: the verdict and sources; the first charts
CROP = {"report.png": 1250, "dashboard.png": 1150}


def shrink(source: Path, out: Path, keep_rows: int) -> Path:
    image = Image.open(source).convert("RGB")
    image = image.crop((0, 0, image.width, min(keep_rows, image.height)))
    image = image.resize((WIDTH, round(image.height * WIDTH / image.width)), Image.LANCZOS)
    out.parent.mkdir(parents=True, exist_ok=True)
    image.quantize(colors=128, method=Image.Quantize.MEDIANCUT).save(out, optimize=True)
    return out


def main(argv: list[str]) -> int:
    report, dashboard, folder = (Path(a) for a in argv)
    for source, name in ((report, "report.png"), (dashboard, "dashboard.png")):
        out = shrink(source, folder / name, CROP[name])
        print(f"{out} ({out.stat().st_size // 1024} KB)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
