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
    model_validator,
)

from ..core.errors import UnusableInputError
from ..core.kpis import DEFAULT_KPIS, modelled_kpis
from ..core.periods import Period, parse_period

__all__ = ["PASSWORD_VARIABLE", "DeliverParams", "RunParams", "SmtpParams", "is_address",
           "load_params", "smtp_password"]

#: The environment variable the SMTP password is read from (never from a file).
PASSWORD_VARIABLE = "CXREPORTS_SMTP_PASSWORD"
#: Placeholders a subject may use (``str.format`` names).
SUBJECT_FIELDS = ("month", "period", "supervisor_id", "supervisor_name", "vendor")
_ADDRESS = re.compile(
    r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
    r"@([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?")


def is_address(text: object) -> bool:
    """Whether ``text`` is one plain e-mail address (``name@example.com``, ASCII).

    Examples
    --------
    >>> is_address("dev.okonkwo@example.com"), is_address("dev@localhost"), is_address("a b@x.io")
    (True, False, False)
    """
    return isinstance(text, str) and len(text) <= 254 and _ADDRESS.fullmatch(text) is not None



class _NoDatesLoader(yaml.SafeLoader):
    """SafeLoader without the timestamp resolver."""


_NoDatesLoader.yaml_implicit_resolvers = {
    key: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for key, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


class SmtpParams(BaseModel):
    """Where delivery sends: ``{host: smtp.example.com, port: 587, security: starttls}``."""

    model_config = ConfigDict(extra="forbid", strict=True)

    host: str = Field(min_length=1)
    port: int = Field(default=587, ge=1, le=65535)
    security: Literal["none", "starttls", "ssl"] = "starttls"
    timeout: float = Field(default=30, gt=0, description="seconds to wait for the server")


class DeliverParams(BaseModel):
    """The ``deliver`` section: e-mail packs and scorecards (see README, "Delivery")."""

    model_config = ConfigDict(extra="forbid", strict=True)

    mode: Literal["dry-run", "send"] = "dry-run"
    smtp: SmtpParams | None = None
    sender: str = Field(description="From: address, 'name@example.com' or 'Name <name@...>'")
    username: str | None = Field(default=None, description=f"password from ${PASSWORD_VARIABLE}")
    subject: str = "Your coaching pack for {month}"
    scorecard_subject: str = "{vendor} scorecard for {month}"
    packs: bool = Field(default=True, description="send each supervisor their pack")
    scorecards_to: dict[str, list[str]] = Field(
        default_factory=dict, description="vendor (or site) -> addresses getting its scorecard")
    rate_limit: float | None = Field(default=60, gt=0, description="messages per minute; "
                                     "null = as fast as the server takes them")
    retries: int = Field(default=3, ge=0, le=10, description="after a dropped connection")
    retry_seconds: float = Field(default=2, ge=0, description="first back-off; then doubled")

    @model_validator(mode="after")
    def _send_needs_server(self) -> DeliverParams:
        if self.mode == "send" and self.smtp is None:
            raise ValueError("needs smtp: {host: ..., port: ..., security: ...} to send")
        return self

    @field_validator("sender")
    @classmethod
    def _sender(cls, value: str) -> str:
        from email.utils import parseaddr

        if not is_address(parseaddr(value)[1]):
            raise ValueError("is not an e-mail address ('cx-reports@example.com' or "
                             "'CX reports <cx-reports@example.com>')")
        return value

    @field_validator("subject", "scorecard_subject")
    @classmethod
    def _subject(cls, value: str) -> str:
        try:
            value.format(**{name: name for name in SUBJECT_FIELDS})
        except (KeyError, IndexError, ValueError, AttributeError):
            raise ValueError("may use only the placeholders "
                             + ", ".join(f"{{{n}}}" for n in SUBJECT_FIELDS)) from None
        return value

    @field_validator("scorecards_to")
    @classmethod
    def _copy_list(cls, value: dict[str, list[str]]) -> dict[str, list[str]]:
        for group, addresses in value.items():
            bad = [a for a in addresses if not is_address(a)]
            if bad:
                raise ValueError(f"has {bad[0]!r} for {group!r}, not an e-mail address")
        return value


def smtp_password(params: DeliverParams) -> str | None:
    """The SMTP password from ``$CXREPORTS_SMTP_PASSWORD`` when a ``username`` is set.

    Raises :class:`UnusableInputError` when sending needs it and it is not set.
    """
    if params.username is None:
        return None
    password = os.environ.get(PASSWORD_VARIABLE)
    if params.mode == "send" and not password:
        raise UnusableInputError(f"deliver.username is set but ${PASSWORD_VARIABLE} is not: "
                                 "export the SMTP password in the environment of the run")
    return password


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
    html: bool = Field(default=False, description="also a standalone HTML copy of each "
                       "report: OUT/packs/<supervisor_id>.html, OUT/scorecards/<vendor>.html")
    timeout: float | None = Field(default=None, gt=0, description="minutes; when reached the "
                                  "run stops as on SIGTERM (exit 124); none by default")
    encoding: str = Field(default="utf-8", description="of CSV sources: utf-8 (with or without "
                          "a BOM), latin-1, cp1252, utf-16 ...")
    deliver: DeliverParams | None = Field(default=None, description="e-mail the packs and "
                                          "scorecards; off without this section")

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
    deliver = raw.get("deliver")
    if isinstance(deliver, dict) and ("password" in deliver or (
            isinstance(deliver.get("smtp"), dict) and "password" in deliver["smtp"])):
        # Refused without echoing the value: a password never belongs in this file.
        raise UnusableInputError(f"{path}: deliver must not hold a password; set "
                                 f"${PASSWORD_VARIABLE} in the run's environment instead")
    for key in ("source", "period", "out"):
        if isinstance(raw.get(key), int | float) and not isinstance(raw.get(key), bool):
            raw[key] = str(raw[key])  # "period: 2026-10" can read as text; be kind to numbers
        if raw.get(key) is None and key == "source":
            raw[key] = ""
    try:
        return RunParams.model_validate(raw)
    except ValidationError as exc:
        raise UnusableInputError(_describe(exc, str(path))) from None
