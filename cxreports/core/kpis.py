"""The KPI catalogue: every customer outcome the kit knows, described once.

A KPI is a frozen :class:`KPI` record looked up by name with :func:`kpi`;
nothing else in the package lists KPIs, says which way is better, which
model fits one, how it is printed, or whether it may be a headline. Handle
time is in the catalogue (reported, modelled on request) but is never a
headline: relationship outcomes are.

Examples
--------
>>> kpi("fcr").model, kpi("fcr").better, kpi("fcr").fmt
('logit', 'higher', 'percent')
>>> [k.name for k in KPIS if k.headline]
['csat', 'csat_top_box', 'nps', 'fcr', 'ces']
>>> modelled_kpis()
('csat', 'nps', 'fcr', 'ces', 'aht_seconds')
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

__all__ = [
    "DEFAULT_KPIS",
    "KPI",
    "KPIS",
    "PRIMARY_KPI",
    "kpi",
    "kpi_names",
    "modelled_kpis",
]


@dataclass(frozen=True)
class KPI:
    """One customer outcome.

    ``column`` is the ``interactions`` column it is computed from;
    ``summary`` says how a group's value is formed (``mean``, ``share`` of
    true values, ``top_box`` share of 4-5 CSAT answers, ``nps`` promoters
    minus detractors); ``model`` is how driver models fit it (``ols``,
    ``logit`` with effects as average marginal effects in probability, or
    ``None`` when it is not modelled); ``fmt`` and ``digits`` are how a value
    is printed (``num``, ``int`` or ``percent``); ``headline`` is False for
    efficiency measures that are reported but never the goal.
    """

    name: str
    label: str
    short_label: str
    unit: str
    column: str
    summary: Literal["mean", "share", "top_box", "nps"]
    scale: tuple[float, float | None]
    better: Literal["higher", "lower"]
    model: Literal["ols", "logit"] | None
    fmt: Literal["num", "int", "percent"]
    digits: int
    headline: bool

    @property
    def is_share(self) -> bool:
        """Values are proportions 0-1 (shown as %, changes in percentage points)."""
        return self.fmt == "percent"


#: The catalogue, in the order reports list KPIs.
KPIS: tuple[KPI, ...] = (
    KPI("csat", "CSAT (1-5)", "CSAT", "CSAT points", "csat", "mean", (1, 5), "higher", "ols",
        "num", 2, True),
    KPI("csat_top_box", "CSAT top-box (4-5)", "CSAT top-box", "share of 4-5 answers", "csat",
        "top_box", (0, 1), "higher", None, "percent", 0, True),
    KPI("nps", "NPS", "NPS", "NPS points (0-10 scale)", "nps", "nps", (-100, 100), "higher",
        "ols", "num", 0, True),
    KPI("fcr", "First contact resolution", "FCR", "probability of resolution", "fcr", "share",
        (0, 1), "higher", "logit", "percent", 0, True),
    KPI("ces", "Customer effort (7 = easiest)", "Effort", "effort points (7 = easiest)", "ces",
        "mean", (1, 7), "higher", "ols", "num", 2, True),
    KPI("aht_seconds", "Average handle time (s)", "Handle time", "seconds of handle time",
        "aht_seconds", "mean", (0, None), "lower", "ols", "int", 0, False),
)
_BY_NAME = {k.name: k for k in KPIS}

#: The outcome coaching priorities, driver sentences and the top-N check lead with.
PRIMARY_KPI = "csat"

#: What a run models by default: the relationship outcomes.
DEFAULT_KPIS: tuple[str, ...] = tuple(k.name for k in KPIS if k.model and k.headline)


def kpi(name: str) -> KPI:
    """The catalogue's record for ``name``; a clear ``ValueError`` for an unknown one."""
    try:
        return _BY_NAME[name]
    except KeyError:
        raise ValueError(f"kpi {name!r} is not one of {', '.join(_BY_NAME)}") from None


def kpi_names() -> tuple[str, ...]:
    """Every KPI name, in catalogue order."""
    return tuple(_BY_NAME)


def modelled_kpis() -> tuple[str, ...]:
    """KPIs a driver model can be fitted on (``--kpi`` choices), in catalogue order."""
    return tuple(k.name for k in KPIS if k.model)
