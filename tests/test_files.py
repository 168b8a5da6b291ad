"""File names from ids never leave their folder; writes are whole or nothing."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cxreports.core.files import atomic_path, safe_filename


@given(st.text(min_size=0, max_size=60))
def test_safe_filename_stays_in_folder(identifier):
    name = safe_filename(identifier)
    assert name and "/" not in name and "\\" not in name
    assert not name.startswith(".")
    base = Path("/out/packs")
    assert (base / f"{name}.pdf").resolve().parent == base


@given(st.text(max_size=20), st.text(max_size=20))
def test_different_ids_never_share_a_file(a, b):
    if a != b:
        assert safe_filename(a) != safe_filename(b)


def test_known_ids():
    assert safe_filename("S01") == "S01"
    assert safe_filename("Harbor BPO").startswith("Harbor_BPO-")
    assert safe_filename("../../x").startswith("x-")


def test_atomic_path_leaves_old_file_on_failure(tmp_path):
    target = tmp_path / "report.pdf"
    target.write_text("old")
    with pytest.raises(RuntimeError), atomic_path(target) as tmp:
        tmp.write_text("half")
        raise RuntimeError("renderer crashed")
    assert target.read_text() == "old"
    assert list(tmp_path.iterdir()) == [target]
