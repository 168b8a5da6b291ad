"""Text of a PDF for assertions, extracted once per file per test process.

pypdf takes most of a second to extract a seven-page pack, and several tests
read the same session PDFs; the cache is keyed by path, size and modification
time, so a file written again is read again.
"""

from __future__ import annotations

import functools
import os
import re
from pathlib import Path

from pypdf import PdfReader


@functools.lru_cache(maxsize=64)
def _pages(path: str, size: int, mtime_ns: int) -> tuple[str, ...]:
    return tuple(re.sub(r"\s+", " ", page.extract_text() or "")
                 for page in PdfReader(path).pages)


def pages_text(path: str | Path) -> list[str]:
    """Each page's text, whitespace collapsed."""
    stat = os.stat(path)
    return list(_pages(str(path), stat.st_size, stat.st_mtime_ns))


def pdf_text(path: str | Path) -> str:
    """The whole document's text, whitespace collapsed."""
    return re.sub(r"\s+", " ", " ".join(pages_text(path)))
