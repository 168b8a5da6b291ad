"""Make the report fonts in ``templates/fonts/`` from matplotlib's DejaVu Sans.

The reports embed a subset of their fonts in every PDF. WeasyPrint builds
that subset per document with fontTools, and the time it takes grows with
the size of the font's layout tables: the full DejaVu Sans (6,200 glyphs,
every script) made font subsetting half of a pack's render time. These
files keep the scripts a contact centre's names and our figures use (Latin
with its extensions and Vietnamese, combining marks, punctuation, currency,
arrows, maths, geometric shapes, stars and check marks) and the kerning, ligature and mark
features; a character outside them falls back to the system's fonts.

The source is the copy matplotlib ships, so the SVG charts (laid out by
matplotlib with the same font) and the text around them share one embedded
font and the same metrics. Run from the repository root after upgrading
matplotlib or changing the ranges::

    .venv/bin/python scripts/subset_fonts.py

DejaVu's licence (``LICENSE_DEJAVU``) allows derived fonts whose names do not
contain "Bitstream" or "Vera".
"""

from __future__ import annotations

from pathlib import Path

import matplotlib
from fontTools import subset
from fontTools.ttLib import TTFont

RANGES = [
    (0x0020, 0x007E), (0x00A0, 0x024F),  # Basic Latin, Latin-1, Latin Extended-A/B
    (0x0300, 0x036F),                    # combining diacritical marks
    (0x1E00, 0x1EFF),                    # Latin Extended Additional (Vietnamese)
    (0x2000, 0x206F), (0x20A0, 0x20BF),  # punctuation, currency
    (0x2100, 0x214F), (0x2190, 0x22FF),  # letterlike, arrows, maths operators
    (0x25A0, 0x25FF), (0x2605, 0x2606),  # geometric shapes, stars
    (0x2713, 0x2717), (0xFFFD, 0xFFFD),  # check and cross marks, replacement character
]
FEATURES = ["kern", "liga", "mark", "mkmk", "ccmp", "locl"]
FONTS = ["DejaVuSans.ttf", "DejaVuSans-Bold.ttf"]


def subset_font(source: Path, target: Path) -> int:
    """Write the subset of ``source`` to ``target``; returns its number of glyphs."""
    options = subset.Options()
    options.layout_features = FEATURES
    options.name_IDs, options.name_languages = ["*"], ["*"]
    options.notdef_outline = True
    options.hinting = False  # PDFs are scaled, not rasterised at small pixel sizes
    options.drop_tables += ["FFTM", "MATH"]
    font = TTFont(source)
    subsetter = subset.Subsetter(options)
    subsetter.populate(unicodes=[c for low, high in RANGES for c in range(low, high + 1)])
    subsetter.subset(font)
    font.save(target)
    return len(font.getGlyphOrder())


def main() -> None:
    source = Path(matplotlib.get_data_path()) / "fonts" / "ttf"
    target = Path(__file__).resolve().parents[1] / "templates" / "fonts"
    for name in FONTS:
        glyphs = subset_font(source / name, target / name)
        print(f"{target / name}: {glyphs} glyphs, {(target / name).stat().st_size:,} bytes")


if __name__ == "__main__":
    main()
