"""Broken CSV lines planted into a written table, for the malformed-CSV tests.

:mod:`.broken` plants *rows* that break the contract; this module plants
*lines* that are not rows at all, as real exports have them: a stray
delimiter (a field too many), a field missing, a garbage line, a byte in
another encoding, a quote that is never closed, two lines glued together,
a last line cut short. :func:`add_broken_lines` rewrites a CSV written by
:func:`~cxreports.data.sample.write_sample_data` (one row per line) and
returns where each damaged line landed, so a test can check that every one
is set aside, once, with its line number, and every other row is kept.
"""

from __future__ import annotations

import csv
import io
import os
import random
from dataclasses import dataclass
from pathlib import Path

__all__ = ["DAMAGE_KINDS", "Damage", "add_broken_lines"]

#: Every kind of damaged line :func:`add_broken_lines` can plant.
DAMAGE_KINDS = ("extra_field", "missing_field", "garbage", "stray_byte", "open_quote",
                "glued")
#: Bytes that are never valid UTF-8 before an ASCII byte.
_STRAY_BYTES = (0x80, 0x9D, 0xC3, 0xE9, 0xFF)


@dataclass(frozen=True)
class Damage:
    """One damaged line: after which data row it goes, what is wrong, and a seed.

    ``after_row`` counts the file's rows (0 = straight after the header);
    the damaged line is made from that row (the first row for 0), so it
    looks like its neighbours. ``seed`` picks the field, byte or text.
    """

    after_row: int
    kind: str
    seed: int = 0
    #: For ``garbage``: the line (delimiters, quotes and line breaks are removed).
    text: str = "garbage: the export was interrupted here"


def _fields(line: bytes, delimiter: str) -> list[str]:
    text = line.decode("utf-8", errors="surrogateescape")
    return next(csv.reader([text], delimiter=delimiter, quotechar='"'))


def _join(fields: list[str], delimiter: str) -> str:
    out = io.StringIO()
    csv.writer(out, delimiter=delimiter, quotechar='"', lineterminator="").writerow(fields)
    return out.getvalue()


def _encode(text: str) -> bytes:
    return text.encode("utf-8", errors="surrogateescape")


def _damaged(damage: Damage, template: bytes, following: bytes, delimiter: str) -> bytes:
    rng = random.Random(damage.seed)
    if damage.kind == "extra_field":
        return _encode(_join([*_fields(template, delimiter), "extra"], delimiter))
    if damage.kind == "missing_field":
        return _encode(_join(_fields(template, delimiter)[:-1], delimiter))
    if damage.kind == "garbage":
        text = "".join(c for c in damage.text if c not in f'{delimiter}"\r\n').strip()
        return (text or "garbage").encode()
    if damage.kind == "stray_byte":
        ascii_at = [i for i, b in enumerate(template) if b < 0x80]
        at = rng.choice(ascii_at)
        return template[:at] + bytes([rng.choice(_STRAY_BYTES)]) + template[at:]
    if damage.kind == "open_quote":
        fields = _fields(template, delimiter)
        plain = [i for i, f in enumerate(fields)
                 if f and not any(c in f for c in f'{delimiter}"\r\n')] or [0]
        at = rng.choice(plain)
        parts = [_join([f], delimiter) for f in fields]
        parts[at] = '"' + fields[at]
        return _encode(delimiter.join(parts))
    if damage.kind == "glued":
        return template + following
    raise ValueError(f"unknown damage {damage.kind!r}; known: {', '.join(DAMAGE_KINDS)}")


def add_broken_lines(path: str | os.PathLike, damages: list[Damage], *,
                     cut_last_line: bool = False, delimiter: str = ",") -> list[dict]:
    """Insert damaged lines into the CSV at ``path``, in place.

    ``cut_last_line`` also ends the file with a copy of its last row cut
    short (half its fields, no line break), as an interrupted export does.
    Returns one record per damaged line, in file order: ``line`` (1-based
    physical line, the header is line 1), ``kind`` and ``raw`` (the line as
    written, undecodable bytes as ``\\xNN``).
    """
    path = Path(path)
    data = path.read_bytes()
    newline = b"\r\n" if b"\r\n" in data[: data.find(b"\n") + 1] else b"\n"
    lines = data.split(newline)
    if lines and lines[-1] == b"":
        lines.pop()
    header, rows = lines[0], lines[1:]
    if not rows:
        raise ValueError(f"{path} has no rows to model damaged lines on")
    after: dict[int, list[Damage]] = {}
    for damage in damages:
        if not 0 <= damage.after_row <= len(rows):
            raise ValueError(f"{path} has {len(rows)} rows; cannot damage after row "
                             f"{damage.after_row}")
        after.setdefault(damage.after_row, []).append(damage)
    out, planted = [header], []

    def plant(row: int) -> None:
        template = rows[max(row, 1) - 1]
        following = rows[min(row, len(rows) - 1)]
        for damage in after.get(row, []):
            line = _damaged(damage, template, following, delimiter)
            out.append(line)
            planted.append({"line": len(out), "kind": damage.kind,
                            "raw": line.decode("utf-8", errors="backslashreplace")})

    plant(0)
    for k, row in enumerate(rows, start=1):
        out.append(row)
        plant(k)
    body = newline.join(out) + newline
    if cut_last_line:
        fields = _fields(rows[-1], delimiter)
        cut = _encode(_join(fields[: max(1, len(fields) // 2)], delimiter))
        body += cut
        planted.append({"line": len(out) + 1, "kind": "cut_last_line",
                        "raw": cut.decode("utf-8", errors="backslashreplace")})
    path.write_bytes(body)
    return planted
