"""HTML from report models (Jinja2), PDF from HTML (WeasyPrint), safely.

- Templates: the user's ``--templates DIR`` first, file by file, then the
  kit's own ``templates/``. Autoescaping is on for every template and
  undefined names raise, so a typo fails loudly instead of printing nothing.
- Numbers are formatted by registered filters (``fmt_kpi``, ``fmt_percent``,
  ...), never by arithmetic in a template.
- The PDF renderer fetches only ``data:`` URLs and files inside the allowed
  folders (the templates and the run's output); no network, no redirects,
  nothing else on disk, and so no ``rel="attachment"`` of a local file.
  WeasyPrint >= 70 is required: earlier versions bypassed a custom fetcher
  for some resources (GHSA-jf6q-chmf-3h3v).
- A standalone HTML copy (:func:`standalone_html`) is the very HTML the PDF
  is rendered from with its style sheets inlined, local images as ``data:``
  URLs and a Content-Security-Policy that lets a browser fetch nothing; the
  template fonts are left out (the browser's own fonts stand in).
"""

from __future__ import annotations

import base64
import functools
import hashlib
import math
import mimetypes
import os
import re
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from html import unescape
from pathlib import Path

import jinja2

from ..core.files import atomic_write_bytes, atomic_write_text, sha256_of
from ..core.kpis import kpi as kpi_spec
from ..core.periods import month_name, window_name
from ..core.resources import template_dir

__all__ = [
    "ReportFiles",
    "SafeFetcher",  # noqa: F822  (made on first use: module __getattr__)
    "render_html",
    "render_pdf",
    "standalone_html",
    "template_dir",
    "template_environment",
    "write_html",
    "write_pdf",
    "write_prebuilt_report",
    "write_report",
]


# --------------------------------------------------------------------------- filters


def _missing(value) -> bool:
    return value is None or (isinstance(value, float) and not math.isfinite(value))


def fmt_num(value, digits: int = 2) -> str:
    """``3.14159`` -> ``"3.14"``; missing -> an en dash."""
    return "–" if _missing(value) else f"{value:,.{digits}f}"


def fmt_int(value) -> str:
    return "–" if _missing(value) else f"{int(round(value)):,}"


def fmt_percent(value, digits: int = 0) -> str:
    """A share 0-1 as a percentage: ``0.731`` -> ``"73%"``."""
    return "–" if _missing(value) else f"{value * 100:.{digits}f}%"


def fmt_signed(value, digits: int = 2) -> str:
    return "–" if _missing(value) else f"{value:+.{digits}f}"


def fmt_kpi(value, kpi: str) -> str:
    """A KPI value on its own scale: CSAT 3.58, NPS -17, FCR 69%, AHT 505."""
    spec = kpi_spec(kpi)
    if spec.fmt == "percent":
        return fmt_percent(value, spec.digits)
    if spec.fmt == "int":
        return fmt_int(value)
    return fmt_num(value, spec.digits)


def fmt_kpi_change(value, kpi: str) -> str:
    """A change in a KPI: percentage points for shares, signed otherwise."""
    if _missing(value):
        return "–"
    spec = kpi_spec(kpi)
    if spec.fmt == "percent":
        return f"{value * 100:+.{spec.digits}f} pts"
    return f"{value:+,.{0 if spec.fmt == 'int' else spec.digits}f}"


def svg_data_uri(svg: str) -> str:
    """An SVG document as a ``data:`` URL for an ``<img src>``."""
    return "data:image/svg+xml;base64," + base64.b64encode(svg.encode("utf-8")).decode("ascii")


def label_of(code) -> str:
    """``"insufficient_data"`` -> ``"insufficient data"``."""
    return "" if code is None else str(code).replace("_", " ")


FILTERS = {
    "fmt_num": fmt_num, "fmt_int": fmt_int, "fmt_percent": fmt_percent,
    "fmt_signed": fmt_signed, "fmt_kpi": fmt_kpi, "fmt_kpi_change": fmt_kpi_change,
    "svg_data_uri": svg_data_uri, "label_of": label_of,
    "month_name": month_name, "window_name": window_name,
}


def template_environment(overrides: str | os.PathLike | None = None) -> jinja2.Environment:
    """Jinja environment: overrides first, then the kit's templates; autoescape; strict.

    Cached per folder pair, so a month of packs compiles each template once
    (Jinja's loader still notices a template file that changes on disk).
    """
    return _environment(str(Path(overrides).resolve()) if overrides else None,
                        str(template_dir().resolve()))


@functools.lru_cache(maxsize=16)
def _environment(overrides: str | None, kit: str) -> jinja2.Environment:
    folders = [overrides] if overrides else []
    folders.append(kit)
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(folders),
        autoescape=jinja2.select_autoescape(enabled_extensions=("html", "xml"),
                                            default_for_string=True, default=True),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True, lstrip_blocks=True,
    )
    env.filters.update(FILTERS)
    return env


def render_html(template: str, *, overrides: str | os.PathLike | None = None,
                **context) -> str:
    """Render ``template`` (e.g. ``coaching_pack.html``) with ``context``."""
    return template_environment(overrides).get_template(template).render(**context)


# --------------------------------------------------------------------------- PDF


@functools.cache
def _safe_fetcher() -> type:
    # Made on first use: WeasyPrint takes about a second to import, and a run's own
    # process (its workers render) or a notebook never needs it.
    from weasyprint.urls import URLFetcher

    class SafeFetcher(URLFetcher):
        """Fetches ``data:`` URLs and files under ``roots``; refuses everything else."""

        def __init__(self, roots: list[str | os.PathLike], **kwargs) -> None:
            super().__init__(allowed_protocols=("file", "data"), allow_redirects=False,
                             timeout=5, **kwargs)
            self.roots = [Path(r).resolve() for r in roots]

        def fetch(self, url, headers=None):
            if url.startswith("data:"):
                return super().fetch(url, headers)
            if not url.startswith("file:"):
                raise ValueError(f"refused to fetch {url!r}: only local template files are "
                                 "allowed")
            from urllib.request import url2pathname

            path = Path(url2pathname(url.split("?")[0].split("#")[0].removeprefix("file:")))
            resolved = path.resolve()
            if not any(resolved.is_relative_to(root) for root in self.roots):
                raise ValueError(f"refused to fetch {resolved}: outside the template and output "
                                 "folders")
            return super().fetch(url, headers)

    return SafeFetcher


def __getattr__(name: str):
    if name == "SafeFetcher":  # the class, made (and WeasyPrint imported) on first use
        return _safe_fetcher()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


#: The time stamped into embedded font subsets (seconds since 1970; fontTools
#: reads it from ``SOURCE_DATE_EPOCH``). Fixed, so a PDF depends on its HTML only.
FONT_TIMESTAMP = 0

_epoch_lock = threading.Lock()
_epoch_users = 0
_epoch_saved: str | None = None


@contextmanager
def _source_date_epoch(value: int) -> Iterator[None]:
    """``SOURCE_DATE_EPOCH=value`` while any render in this process runs, then as before.

    Counted, so renders on several threads of one process (a Dask worker with
    ``--nthreads`` > 1) keep it set until the last one finishes.
    """
    global _epoch_users, _epoch_saved
    with _epoch_lock:
        if _epoch_users == 0:
            _epoch_saved = os.environ.get("SOURCE_DATE_EPOCH")
            os.environ["SOURCE_DATE_EPOCH"] = str(value)
        _epoch_users += 1
    try:
        yield
    finally:
        with _epoch_lock:
            _epoch_users -= 1
            if _epoch_users == 0:
                if _epoch_saved is None:
                    os.environ.pop("SOURCE_DATE_EPOCH", None)
                else:
                    os.environ["SOURCE_DATE_EPOCH"] = _epoch_saved


def render_pdf(html: str, *, base_dir: str | os.PathLike,
               roots: list[str | os.PathLike]) -> bytes:
    """PDF bytes of ``html``, tagged for accessibility (PDF/UA-1).

    Relative URLs resolve against ``base_dir`` (the template folder, for
    fonts and CSS); only files under ``roots`` can be read.

    The bytes are a function of ``html`` (and the installed WeasyPrint,
    Pango and fonts) only, so a re-run or another worker writes the same file:

    - the file identifier (``/ID``) is derived from the HTML, not random;
    - the document dates are only those the HTML states
      (``<meta name="dcterms.created">``), never the clock;
    - without HarfBuzz-Subset, WeasyPrint subsets fonts with fontTools, which
      stamps the current time into each font's ``head`` table unless
      ``SOURCE_DATE_EPOCH`` is set (``fontTools.misc.timeTools.timestampNow``):
      it is set to :data:`FONT_TIMESTAMP` for the render, here in the worker,
      whatever the environment of the parent process.
    """
    identifier = hashlib.sha256(html.encode("utf-8")).hexdigest()[:32].encode("ascii")
    from weasyprint import HTML

    document = HTML(string=html, base_url=str(Path(base_dir).resolve()) + os.sep,
                    url_fetcher=_safe_fetcher()(roots))
    with _source_date_epoch(FONT_TIMESTAMP):
        return document.write_pdf(pdf_variant="pdf/ua-1", pdf_tags=True,
                                  pdf_identifier=identifier)


def write_pdf(html: str, target: str, base_dir: str, roots: list[str]) -> tuple[str, float]:
    """Worker task: render ``html`` to ``target`` (whole or not at all); returns sha256, seconds.

    A module-level function so process pools and Dask workers can import it.
    """
    started = time.perf_counter()
    pdf = render_pdf(html, base_dir=base_dir, roots=roots)
    atomic_write_bytes(target, pdf)
    return sha256_of(target), time.perf_counter() - started


# --------------------------------------------------------------------------- standalone HTML

#: Nothing may be fetched by a browser opening a standalone copy: styles and images
#: are inline (``data:``), scripts, frames, forms and connections are refused.
_CSP = ("default-src 'none'; img-src data:; style-src 'unsafe-inline'; font-src data:; "
        "base-uri 'none'; form-action 'none'")
#: On a screen, a page-wide column instead of the print margins of ``@page``.
_SCREEN_CSS = ("@media screen { body { max-width: 190mm; margin: 0 auto; padding: 8mm 6mm; } "
               "img { max-width: 100%; height: auto; } }")
_LINK = re.compile(r"<link\b[^>]*>", re.IGNORECASE)
_ATTR = re.compile(r"""([\w:-]+)\s*=\s*("[^"]*"|'[^']*'|[^\s"'>]+)""")
_IMG_SRC = re.compile(r"""(<img\b[^>]*?\bsrc\s*=\s*)("[^"]*"|'[^']*')""", re.IGNORECASE)
_FONT_FACE = re.compile(r"@font-face\s*\{[^}]*\}", re.IGNORECASE)
_CSS_URL = re.compile(r"""url\(\s*("[^"]*"|'[^']*'|[^)\s]*)\s*\)""", re.IGNORECASE)
_HEAD = re.compile(r"<head\b[^>]*>", re.IGNORECASE)
_CHARSET = re.compile(r"<meta\s+charset\b[^>]*>", re.IGNORECASE)


def _attributes(tag: str) -> dict[str, str]:
    return {name.lower(): unescape(value.strip("\"'"))
            for name, value in _ATTR.findall(tag)}


def _local_file(url: str, base_dir: Path, roots: list[Path]) -> Path | None:
    """The file ``url`` (relative to ``base_dir``) names, if it lies under ``roots``."""
    from urllib.parse import unquote, urlsplit

    parts = urlsplit(url)
    if parts.scheme not in ("", "file") or parts.netloc not in ("", "localhost"):
        return None
    path = Path(unquote(parts.path))
    resolved = (path if path.is_absolute() else base_dir / path).resolve()
    if not any(resolved.is_relative_to(root) for root in roots) or not resolved.is_file():
        return None
    return resolved


def _data_url(path: Path) -> str:
    kind = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    return f"data:{kind};base64," + base64.b64encode(path.read_bytes()).decode("ascii")


def _inline_css(css: str, base_dir: Path, roots: list[Path]) -> str:
    """``css`` with local ``url()``s as data URLs; fonts dropped, anything else emptied."""
    css = _FONT_FACE.sub("", css)

    def url(match: re.Match) -> str:
        target = match.group(1).strip("\"'")
        if target.startswith("data:"):
            return match.group(0)
        found = _local_file(target, base_dir, roots)
        return f'url("{_data_url(found)}")' if found is not None else "none"

    # "</" cannot end the <style> element early (CSS never needs it outside a string).
    return _CSS_URL.sub(url, css).replace("</", "<\\/")


def standalone_html(html: str, *, base_dir: str | os.PathLike,
                    roots: list[str | os.PathLike]) -> str:
    """``html`` as one self-contained file a browser (or screen reader) opens offline.

    The same document the PDF is rendered from: ``<link rel="stylesheet">``
    becomes an inline ``<style>`` (read with the PDF's rules: relative to
    ``base_dir``, only under ``roots``), local images become ``data:`` URLs,
    ``@font-face`` rules are dropped (the reader's fonts stand in for the
    template's), other links to files are removed, and a Content-Security-Policy
    forbids the browser any fetch. Nothing in it refers to this machine.
    """
    base, allowed = Path(base_dir).resolve(), [Path(r).resolve() for r in roots]

    def link(match: re.Match) -> str:
        attrs = _attributes(match.group(0))
        if "stylesheet" not in attrs.get("rel", "").lower().split():
            return ""  # attachments, icons, preloads: nothing outside the file
        found = _local_file(attrs.get("href", ""), base, allowed)
        if found is None:
            return ""
        css = _inline_css(found.read_text(encoding="utf-8"), found.parent, allowed)
        media = attrs.get("media")
        return (f'<style media="{media}">' if media and re.fullmatch(r"[\w ,()-]+", media)
                else "<style>") + f"\n{css}\n</style>"

    def image(match: re.Match) -> str:
        src = unescape(match.group(2).strip("\"'"))
        if src.startswith("data:"):
            return match.group(0)
        found = _local_file(src, base, allowed)
        return match.group(1) + (f'"{_data_url(found)}"' if found is not None else '""')

    out = _IMG_SRC.sub(image, _LINK.sub(link, html))
    head = (f'\n  <meta http-equiv="Content-Security-Policy" content="{_CSP}">'
            f"\n  <style>{_SCREEN_CSS}</style>")
    found = _CHARSET.search(out) or _HEAD.search(out)
    return (out[:found.end()] + head + out[found.end():]) if found else head + out


def write_html(html: str, target: str, base_dir: str, roots: list[str]) -> str:
    """Write the standalone copy of ``html`` to ``target`` (whole or not at all); its sha256."""
    atomic_write_text(target, standalone_html(html, base_dir=base_dir, roots=roots))
    return sha256_of(target)


# --------------------------------------------------------------------------- worker tasks
# Here, not beside the batch loop in reports.batch: a worker given only these to
# run (a Dask worker; local workers are forked with the kit loaded) imports
# WeasyPrint and Jinja2 (0.8 CPU-s at start), not the analyses, pandas, DuckDB,
# statsmodels and matplotlib that the batch module imports (3.7 CPU-s more).


@dataclass(frozen=True)
class ReportFiles:
    """One report's files and how they are rendered, as plain values a process pool or
    Dask can pickle (:func:`cxreports.reports.batch.render_reports` makes them)."""

    kind: str
    key: str
    pdf: str
    html: str | None  # the standalone copy's path, or None
    templates: str | None
    lang: str
    base_dir: str
    roots: tuple[str, ...]


def write_report(files: ReportFiles, html: str) -> tuple[str, float, str | None]:
    """The PDF of ``html`` and, if asked for, its standalone HTML copy: the PDF's
    sha256 and seconds, the copy's sha256 (or ``None``)."""
    digest, seconds = write_pdf(html, files.pdf, files.base_dir, list(files.roots))
    html_digest = (write_html(html, files.html, files.base_dir, list(files.roots))
                   if files.html else None)
    return digest, seconds, html_digest


def write_prebuilt_report(files: ReportFiles, html: str, model_seconds: float
                          ) -> tuple[str, float, str | None, float]:
    """Worker task for a report whose HTML the parent built: :func:`write_report`,
    passing ``model_seconds`` (the parent's) through."""
    return (*write_report(files, html), model_seconds)
