"""The same input gives the same bytes: a coaching pack and its charts, rendered in two processes.

The two processes run with ``SOURCE_DATE_EPOCH`` values ten hours apart on
the same day (the day a report says it was made on), so a time taken from the
clock or the environment, or a random id, would show up as a difference even
if both renders fall in the same second.
Both processes subset fonts with fontTools, as WeasyPrint does on a machine
without HarfBuzz-Subset: the path that used to stamp the time into the PDF,
tested here whether or not this machine has the library (Chromium brings it).
The HarfBuzz path is compared across processes by the runs in
``test_monthly_run.py``.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from cxreports.reports.rendering import render_pdf, template_dir

# Builds the pack of the first supervisor of the sample's last month, writes
# its two chart SVGs (as embedded in the PDF) and renders the PDF in this
# process (executor=None), as a worker would.
_CHILD = textwrap.dedent("""
    import json, sys
    from pathlib import Path
    import weasyprint.pdf.fonts
    weasyprint.pdf.fonts.harfbuzz_subset = None  # fontTools, as without the library
    from cxreports.analyses.analysis import Analysis
    from cxreports.reports.batch import render_packs
    from cxreports.reports.models import build_coaching_pack

    source, out = Path(sys.argv[1]), Path(sys.argv[2])
    period = json.loads((source / "truth.json").read_text())["months"][-1]
    analysis = Analysis.from_source(source, period=period)
    supervisor = sorted(analysis.team["supervisor_id"].unique())[0]
    pack = build_coaching_pack(analysis, supervisor)
    (out / "drivers.svg").write_text(pack.drivers_chart_svg or "")
    (out / "adoption.svg").write_text(pack.adoption_chart_svg or "")
    [result] = render_packs(analysis, out, supervisors=[supervisor])
    assert result.status == "ok", result.error
    print(json.dumps({"pdf": result.path}))
""")


def _start(source: Path, out: Path, epoch: str) -> subprocess.Popen:
    out.mkdir()
    env = {k: v for k, v in os.environ.items() if k != "SOURCE_DATE_EPOCH"}
    env["MPLBACKEND"] = "Agg"
    env["SOURCE_DATE_EPOCH"] = epoch
    return subprocess.Popen([sys.executable, "-c", _CHILD, str(source), str(out)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=env, cwd=Path(__file__).resolve().parents[1])


@pytest.fixture(scope="module")
def two_renders(small_source, tmp_path_factory) -> list[dict[str, bytes]]:
    base = tmp_path_factory.mktemp("reproducible")
    # In parallel, to keep the test short; the environments differ on purpose.
    # 2026-10-31 00:00 and 10:00 UTC: the same report date, different instants.
    procs = [_start(small_source, base / "one", "1793404800"),
             _start(small_source, base / "two", "1793440800")]
    outputs = []
    for proc in procs:
        stdout, stderr = proc.communicate(timeout=300)
        assert proc.returncode == 0, stderr
        pdf = Path(json.loads(stdout.strip().splitlines()[-1])["pdf"])
        outputs.append({"pdf": pdf.read_bytes(),
                        "drivers.svg": (pdf.parents[1] / "drivers.svg").read_bytes(),
                        "adoption.svg": (pdf.parents[1] / "adoption.svg").read_bytes()})
    return outputs


def test_pack_pdf_is_byte_identical_across_processes(two_renders):
    one, two = two_renders
    assert one["pdf"].startswith(b"%PDF")
    assert hashlib.sha256(one["pdf"]).hexdigest() == hashlib.sha256(two["pdf"]).hexdigest()


# The pack draws one chart (effects and adoption side by side): drivers.svg.
@pytest.mark.parametrize("chart", ["drivers.svg"])
def test_chart_svg_is_byte_identical_across_processes(two_renders, chart):
    one, two = two_renders
    assert one[chart].startswith(b"<?xml"), "the sample should give this chart"
    assert b"<dc:date>" not in one[chart]
    assert one[chart] == two[chart]


def test_render_pdf_ignores_and_restores_the_environment(monkeypatch):
    html = "<html lang='en'><head><title>t</title></head><body><p>Same bytes</p></body></html>"
    roots = [template_dir()]
    monkeypatch.delenv("SOURCE_DATE_EPOCH", raising=False)
    first = render_pdf(html, base_dir=template_dir(), roots=roots)
    assert "SOURCE_DATE_EPOCH" not in os.environ
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1234567890")
    second = render_pdf(html, base_dir=template_dir(), roots=roots)
    assert os.environ["SOURCE_DATE_EPOCH"] == "1234567890"
    assert first == second
    assert b"/ID [" in first  # a file identifier, derived from the HTML
    assert render_pdf(html.replace("Same", "Other"), base_dir=template_dir(),
                      roots=roots) != first
