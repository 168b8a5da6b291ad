"""Writing files safely: whole or not at all, and never outside their folder."""

from __future__ import annotations

import hashlib
import os
import re
import unicodedata
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

__all__ = ["atomic_path", "atomic_write_bytes", "atomic_write_text", "remove_temporary_files",
           "safe_filename", "sha256_of"]


@contextmanager
def atomic_path(target: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside ``target``; rename it over ``target`` on success.

    A reader never sees a half-written file: either the old file or the new
    one. On an exception the temporary file is removed and ``target`` is
    untouched.
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    # Hidden, unique per process, and keeping the suffix tools check for
    # (_TEMPORARY matches it, to clear what a killed process left).
    tmp = target.with_name(f".{target.stem}.{os.getpid()}.tmp{target.suffix}")
    try:
        yield tmp
        os.replace(tmp, target)
    finally:
        if tmp.exists():
            tmp.unlink()


_TEMPORARY = re.compile(r"\..+\.\d+\.tmp(\.[^.]+)?")


def remove_temporary_files(folder: str | os.PathLike) -> list[Path]:
    """Remove the half-written files of :func:`atomic_path` in ``folder`` (not below it).

    Only a process killed while writing leaves one. Call it when nothing else
    writes to ``folder``. Returns the files removed.
    """
    folder = Path(folder)
    found = [p for p in folder.iterdir() if _TEMPORARY.fullmatch(p.name) and p.is_file()] \
        if folder.is_dir() else []
    for path in found:
        path.unlink(missing_ok=True)
    return found


def atomic_write_bytes(target: str | os.PathLike, data: bytes) -> Path:
    """Write ``data`` to ``target`` whole or not at all."""
    with atomic_path(target) as tmp:
        tmp.write_bytes(data)
    return Path(target)


def atomic_write_text(target: str | os.PathLike, text: str) -> Path:
    """Write ``text`` (UTF-8) to ``target`` whole or not at all."""
    return atomic_write_bytes(target, text.encode("utf-8"))


_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def safe_filename(identifier: str, *, max_length: int = 80) -> str:
    """Turn an id into a file name that cannot leave its folder.

    Path separators, ``..``, control characters and anything outside
    ``[A-Za-z0-9._-]`` become ``_``; a leading dot is removed so the file is
    not hidden. When anything had to change, a short hash of the original id
    is appended so two different ids never share a file.

    Examples
    --------
    >>> safe_filename("SUP-01")
    'SUP-01'
    >>> safe_filename("../../etc/passwd")
    'etc_passwd-3754d6cb'
    """
    text = unicodedata.normalize("NFKD", str(identifier)).encode("ascii", "ignore").decode()
    cleaned = _UNSAFE.sub("_", text).strip("._-") or "id"
    cleaned = cleaned[:max_length]
    if cleaned != identifier:
        digest = hashlib.sha256(str(identifier).encode("utf-8")).hexdigest()[:8]
        cleaned = f"{cleaned}-{digest}"
    return cleaned


def sha256_of(path: str | os.PathLike) -> str:
    """Hex SHA-256 of a file's bytes, read in blocks."""
    digest = hashlib.sha256()
    with Path(path).open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
