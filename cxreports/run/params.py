"""Run parameters (``PARAMS.yaml``): read strictly, validated, defaults in the package.

YAML is read without implicit dates (as papermill does), so ``period:
2026-10-01`` is the text it looks like, refused with a clear message rather
than turned into a date. An unknown key is an error: a typo must not
silently fall back to a default.
"""

from __future__ import annotations

import codecs
import os
import re
from pathlib import Path
from typing import Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_serializer,
    field_validator,
)

from ..core.errors import UnusableInputError
from ..core.kpis import DEFAULT_KPIS, modelled_kpis
from ..core.periods import Period, parse_period

__all__ = ["RunParams", "load_params"]



class _NoDatesLoader(yaml.SafeLoader):
    """SafeLoader without the timestamp resolver."""


_NoDatesLoader.yaml_implicit_resolvers = {
    key: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for key, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


class RunParams(BaseModel):
    """The parameters of one scheduled run (see README, "A run's parameters")."""

    model_config = ConfigDict(extra="forbid", strict=True, arbitrary_types_allowed=True)

    source: str = Field(description="folder, .duckdb file or SQLAlchemy URL; '' = the sample")
    period: Period = Field(description="reporting month, YYYY-MM")
    out: str = Field(description="output folder")
    kpis: list[str] = Field(default_factory=lambda: list(DEFAULT_KPIS), min_length=1)
    group_by: list[Literal["site", "vendor"]] = Field(
        default_factory=lambda: ["site", "vendor"])
    notebooks: Literal["all"] | list[str] = "all"
    packs: bool = True
    scorecards: bool = True
    executor: str = "local"
    workers: int = Field(default=2, ge=1, le=64)
    timeout: float | None = Field(default=None, gt=0, description="minutes; when reached the "
                                  "run stops as on SIGTERM (exit 124); none by default")
    encoding: str = Field(default="utf-8", description="of CSV sources: utf-8 (with or without "
                          "a BOM), latin-1, cp1252, utf-16 ...")

    @field_validator("period", mode="before")
    @classmethod
    def _period(cls, value: str | Period) -> Period:
        try:
            return parse_period(value)
        except (UnusableInputError, TypeError):
            raise ValueError("is not a month written YYYY-MM") from None

    @field_serializer("period")
    def _period_text(self, value: Period) -> str:
        return str(value)

    @field_validator("kpis")
    @classmethod
    def _kpis(cls, value: list[str]) -> list[str]:
        unknown = [k for k in value if k not in modelled_kpis()]
        if unknown:
            raise ValueError(f"has {unknown[0]!r}, not one of {', '.join(modelled_kpis())}")
        return value

    @field_validator("encoding")
    @classmethod
    def _encoding(cls, value: str) -> str:
        try:
            codecs.lookup(value)
        except LookupError:
            raise ValueError("is not an encoding Python knows (utf-8, latin-1, cp1252, "
                             "utf-16 ...)") from None
        return value

    @field_validator("executor")
    @classmethod
    def _executor(cls, value: str) -> str:
        if value != "local" and not re.fullmatch(r"dask://[\w.\-]+:\d+", value):
            raise ValueError("must be 'local' or dask://HOST:PORT")
        return value


def _describe(error: ValidationError, path: str) -> str:
    first = error.errors()[0]
    where = ".".join(str(p) for p in first["loc"]) or "the file"
    kind = first["type"]
    if kind == "extra_forbidden":
        return f"{path}: unknown key {where!r}"
    if kind == "missing":
        return f"{path}: {where} is required"
    message = first["msg"].removeprefix("Value error, ")
    return f"{path}: {where} {message[0].lower()}{message[1:]} (got {first.get('input')!r})"


def load_params(path: str | os.PathLike, **overrides) -> RunParams:
    """Read and validate ``PARAMS.yaml``; one clear :class:`UnusableInputError` if wrong."""
    path = Path(path)
    try:
        raw = yaml.load(path.read_text(encoding="utf-8"), Loader=_NoDatesLoader)
    except FileNotFoundError:
        raise UnusableInputError(f"parameters file {path} does not exist") from None
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise UnusableInputError(f"{path} is not valid YAML: {str(exc).splitlines()[0]}") \
            from None
    if not isinstance(raw, dict):
        raise UnusableInputError(f"{path} must hold a mapping of parameter names to values")
    raw = {**raw, **overrides}
    for key in ("source", "period", "out"):
        if isinstance(raw.get(key), int | float) and not isinstance(raw.get(key), bool):
            raw[key] = str(raw[key])  # "period: 2026-10" can read as text; be kind to numbers
        if raw.get(key) is None and key == "source":
            raw[key] = ""
    try:
        return RunParams.model_validate(raw)
    except ValidationError as exc:
        raise UnusableInputError(_describe(exc, str(path))) from None
