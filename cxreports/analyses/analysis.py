"""One source, validated and joined once, ready for every analysis.

:class:`Analysis` is what notebooks, the command line and the report
builders share, so a number in a PDF and the same number in a notebook come
from the same call. Frames are built lazily and cached.

Windows: for a reporting month (``period``) the driver models use that month
and the three before it (one month of evaluated, surveyed contacts is rarely
enough for a stable model); trends compare the month with those three
months; KPI summaries and coaching activity are for the month itself.
Without a period, everything uses all the data.

A scheduled run saves its validated tables and the frames every notebook
shares once (:meth:`Analysis.save`, a :mod:`cxreports.data.snapshots` folder);
``Analysis.from_source(..., snapshot=folder)`` then starts from those
instead of validating and rebuilding in every notebook kernel.
"""

from __future__ import annotations

import logging
import os
import shutil
import time
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cached_property, wraps
from pathlib import Path

import pandas as pd

from ..core.kpis import DEFAULT_KPIS, PRIMARY_KPI
from ..core.periods import Period, ReportWindows, parse_period
from ..data.roster import roster_for_period
from ..data.snapshots import Snapshot, SnapshotData, snapshot_key, write_snapshot
from ..data.sql import sql_list
from ..data.validation import ValidatedData, validate_source
from .calibration import (
    DEFAULT_RELIABILITY,
    LENIENCY_TOLERANCE,
    adjust_adoption,
    compute_agent_reliability,
    compute_agreement,
    compute_evaluator_leniency,
    compute_sampling_plan,
    compute_vendor_alignment,
    mark_reliability,
)
from .coaching import (
    compute_agent_behaviour_scores,
    compute_coaching_coverage,
    compute_coaching_effectiveness,
    compute_coaching_priorities,
    compute_session_effects,
)
from .drivers import DriverRules, compute_drivers, compute_heterogeneity
from .evaluations import (
    agent_months,
    behaviour_columns,
    contact_stats_sql,
    contact_times,
    contacts_with_team,
    evaluated_contacts,
    evaluation_matrix,
    evaluations_with_team,
    in_window,
)
from .kpi_summary import summarise_kpi_stats
from .qa_form_audit import compute_behaviour_adoption, compute_qa_form_audit
from .rankings import compute_top_overlap, rank_agents
from .trends import compute_behaviour_trends

__all__ = ["Analysis"]

log = logging.getLogger("cxreports")
#: Frames :meth:`Analysis.prepare` builds: the joined data and the analyses most
#: notebooks and reports call.
_PREPARED_FRAMES = ("contact_stats", "evaluations", "evaluated", "scored_evaluations", "team",
                    "agent_months", "trends", "coaching_coverage", "session_effects",
                    "agent_behaviour_scores", "layered_drivers")
#: Frames a snapshot stores when they have been built.
_SHARED_FRAMES = (*_PREPARED_FRAMES, "all_evaluations")


def _frame(method):
    """A cached property that a snapshot can supply instead of building it."""
    @wraps(method)
    def build(self):
        if self._snapshot is not None:
            stored = self._snapshot.frame(method.__name__)
            if stored is not None:
                return stored
        return method(self)

    return cached_property(build)


class Analysis:
    """Validated data of one source, with the joined frames analyses need.

    Examples
    --------
    >>> analysis = Analysis.from_source("data/sample", period="2026-10")  # doctest: +SKIP
    >>> analysis.drivers(kpis=["csat"], group_by="vendor").head()  # doctest: +SKIP
    """

    def __init__(self, data: ValidatedData | SnapshotData, *, period: str | Period | None = None,
                 rules: DriverRules | None = None, snapshot: Snapshot | None = None) -> None:
        self.data = data
        self.period = parse_period(period) if period is not None else None
        self.rules = rules or DriverRules()
        self._memo: dict[tuple, pd.DataFrame] = {}
        self._snapshot = snapshot

    def _cached(self, key: tuple, build) -> pd.DataFrame:
        """Compute once per key; callers get a copy so they cannot change the cache."""
        if key not in self._memo:
            stored = self._snapshot.frame(repr(key)) if self._snapshot is not None else None
            self._memo[key] = stored if stored is not None else build()
        return self._memo[key].copy()

    @classmethod
    def from_source(cls, source: str | os.PathLike, *, period: str | Period | None = None,
                    rules: DriverRules | None = None,
                    snapshot: str | os.PathLike | None = None) -> Analysis:
        """Validate ``source`` and prepare it (see :func:`validate_source`).

        ``snapshot``: a folder written by :meth:`save` (a scheduled run
        passes its own) to start from instead of validating. It is used only
        if it was made for the same source, period and driver rules;
        otherwise, or if it is missing, the source is validated as usual
        and a warning says why.
        """
        rules = rules or DriverRules()
        parsed = parse_period(period) if period is not None else None
        if snapshot:
            opened = Snapshot.open(snapshot, key=snapshot_key(source, parsed, rules))
            if opened is not None:
                log.info("using the run's snapshot %s of %s", snapshot, source)
                return cls(opened.data, period=parsed, rules=rules, snapshot=opened)
        return cls(validate_source(source), period=parsed, rules=rules)

    def prepare(self, *, kpis: list[str] | tuple[str, ...] = DEFAULT_KPIS
                ) -> Analysis:
        """Build the frames the notebooks and reports share (before :meth:`save`)."""
        for name in _PREPARED_FRAMES:
            getattr(self, name)
        for by in ("site", "vendor", None):
            self.drivers(kpis=list(kpis), group_by=by)
        return self

    def save(self, folder: str | os.PathLike, *, source: str | os.PathLike) -> None:
        """Save the validated tables and every frame built so far to ``folder``.

        ``source`` is what notebooks will pass to :meth:`from_source` (a
        snapshot is used only for the same source, period and rules).
        """
        built = vars(self)
        frames = {name: built[name] for name in _SHARED_FRAMES if name in built}
        frames.update({repr(key): value for key, value in self._memo.items()})
        write_snapshot(folder, key=snapshot_key(source, self.period, self.rules),
                       data=self.data, rows_set_aside=self.data.rows_set_aside, frames=frames)

    @contextmanager
    def shared_snapshot(self, folder: str | os.PathLike, *, source: str | os.PathLike,
                        kpis: list[str] | tuple[str, ...] = DEFAULT_KPIS,
                        ) -> Iterator[Path]:
        """:meth:`prepare` and :meth:`save` to ``folder`` for a batch of notebooks; removed after.

        Example
        -------
        >>> with analysis.shared_snapshot("out/.snapshot", source=src) as snap:  # doctest: +SKIP
        ...     run_notebooks(plan_notebook_jobs(..., snapshot=snap))
        """
        folder = Path(folder)
        started = time.perf_counter()
        self.prepare(kpis=kpis)
        self.save(folder, source=source)
        log.info("shared snapshot %s written in %.1fs", folder, time.perf_counter() - started)
        try:
            yield folder
        finally:
            shutil.rmtree(folder, ignore_errors=True)

    # ------------------------------------------------------------------ windows

    @cached_property
    def windows(self) -> ReportWindows:
        """The report month's windows (:class:`cxreports.core.periods.ReportWindows`)."""
        return ReportWindows(self.report_period)

    @property
    def driver_window(self) -> list[str] | None:
        """Months the driver models use (``None`` without a period: all data)."""
        return self.windows.driver.labels if self.period else None

    @property
    def baseline(self) -> list[str] | None:
        """The baseline months before the period (``None`` without a period)."""
        return self.windows.baseline.labels if self.period else None

    @cached_property
    def report_period(self) -> Period:
        """The month month-based analyses describe: ``period``, or the latest with contacts."""
        if self.period is not None:
            return self.period
        months = self.contact_stats["period"].dropna()
        if months.empty:
            raise ValueError("the source has no contacts, so there is no month to report")
        return parse_period(months.max())

    @property
    def recent_window(self) -> list[str]:
        """The months agent behaviour scores and coaching history cover."""
        return self.windows.recent.labels

    # ------------------------------------------------------------------ tables

    @cached_property
    def qa_form(self) -> pd.DataFrame:
        return self.data.table("qa_form")

    @cached_property
    def roster(self) -> pd.DataFrame:
        return self.data.table("roster")

    @cached_property
    def behaviors(self) -> list[str]:
        """Behaviour ids in QA form order."""
        return behaviour_columns(self.qa_form)

    @_frame
    def contact_stats(self) -> pd.DataFrame:
        """Per agent, month and team: contacts and KPI sums (all months).

        The contacts themselves stay in DuckDB
        (:func:`~cxreports.analyses.evaluations.contact_stats_sql`); every KPI
        summary, agent-month and ranking is added up from these sums.
        """
        sql = contact_stats_sql(self.data.relation("interactions"), self.data.relation("roster"))
        return self.data.con.execute(sql).df()

    def contacts_frame(self, *, months: list[str] | None = None,
                       agents: list[str] | None = None) -> pd.DataFrame:
        """Contacts with team and month as a DataFrame: for small slices and checks.

        Loads rows into memory (all of them without ``months`` or
        ``agents``); the analyses themselves never do.
        """
        where = ["TRUE"]
        if agents is not None:
            where.append(f"agent_id IN ({sql_list(list(agents)) or 'NULL'})")
        frame = self.data.con.execute(
            f"SELECT * FROM {self.data.relation('interactions')} WHERE {' AND '.join(where)} "
            f"ORDER BY started_at, interaction_id").df()
        out = contacts_with_team(frame, self.roster)
        return out if months is None else in_window(out, months)

    @_frame
    def evaluations(self) -> pd.DataFrame:
        """One row per QA evaluation, a column per behaviour (all months)."""
        return evaluation_matrix(self.data.relation("qa_scores"), behaviors=self.behaviors,
                                 con=self.data.con)

    @_frame
    def evaluated(self) -> pd.DataFrame:
        """Evaluated contacts with KPIs and team (all months)."""
        return evaluated_contacts(self.data.con, self.data.relation("interactions"),
                                  self.evaluations, self.roster, behaviors=self.behaviors)

    @_frame
    def scored_evaluations(self) -> pd.DataFrame:
        """Evaluations with team, month and overall ``qa_score`` (all months).

        Placed by when the evaluated contact happened (``contact_at``, month
        ``period``), not by when QA scored it (``evaluated_period``).
        """
        evaluations = self.evaluations.assign(contact_at=contact_times(
            self.data.con, self.data.relation("interactions"),
            self.evaluations["interaction_id"]))
        return evaluations_with_team(evaluations, self.roster, self.qa_form)

    @_frame
    def team(self) -> pd.DataFrame:
        """One roster row per agent who worked in the report month, in their last team."""
        return roster_for_period(self.roster, self.report_period)

    @_frame
    def agent_months(self) -> pd.DataFrame:
        """Per agent and month: behaviour means and KPI means with counts."""
        return agent_months(self.contact_stats, self.evaluations, self.roster,
                            behaviors=self.behaviors)

    def _window(self, frame: pd.DataFrame, months: list[str] | None) -> pd.DataFrame:
        return frame if months is None else in_window(frame, months)

    # ------------------------------------------------------------------ analyses

    def drivers(self, *, kpis: list[str] | str = DEFAULT_KPIS,
                group_by: str | None = None) -> pd.DataFrame:
        """:func:`.compute_drivers` for each KPI over the driver window.

        Adds ``window_start`` and ``window_end`` (``YYYY-MM``) and the
        behaviour's ``label`` and ``kind`` from the QA form.
        """
        kpis = [kpis] if isinstance(kpis, str) else list(kpis)
        return self._cached(("drivers", tuple(kpis), group_by),
                            lambda: self._drivers(kpis, group_by))

    def _drivers(self, kpis: list[str], group_by: str | None) -> pd.DataFrame:
        window = self.driver_window
        contacts = self._window(self.evaluated, window)
        months = self._window(self.agent_months, window)
        frames = [
            compute_drivers(contacts, kpi=k, behaviors=self.behaviors, group_by=group_by,
                            agent_months=months, rules=self.rules)
            for k in kpis
        ]
        out = pd.concat(frames, ignore_index=True)
        all_months = sorted(self.contact_stats["period"].dropna().unique())
        out["window_start"] = window[0] if window else (all_months[0] if all_months else None)
        out["window_end"] = window[-1] if window else (all_months[-1] if all_months else None)
        labels = self.qa_form.set_index("behavior_id")[["label", "kind"]]
        return out.join(labels, on="behavior_id")

    def heterogeneity(self, *, kpis: list[str] | str = DEFAULT_KPIS,
                      group_by: str = "vendor") -> pd.DataFrame:
        """:func:`.compute_heterogeneity` across the groups of ``group_by``."""
        return compute_heterogeneity(self.drivers(kpis=kpis, group_by=group_by),
                                     alpha=self.rules.alpha)

    def kpi_summary(self, *, group_by: list[str] | str | None = None,
                    months: list[str] | None = None, min_responses: int = 30,
                    agents: list[str] | None = None) -> pd.DataFrame:
        """:func:`.compute_kpi_summary` for the report month (or ``months``), from
        :attr:`contact_stats`; ``agents`` limits it to those agents' contacts."""
        window = months or [str(self.report_period)]
        keys = [group_by] if isinstance(group_by, str) else list(group_by or [])
        key = ("kpi_summary", str(group_by), tuple(window), min_responses,
               tuple(agents) if agents is not None else None)

        def build() -> pd.DataFrame:
            stats = in_window(self.contact_stats, window)
            if agents is not None:
                stats = stats[stats["agent_id"].isin(agents)]
            return summarise_kpi_stats(stats, group_by=keys, min_responses=min_responses)

        return self._cached(key, build)

    def rankings(self, *, kpi: str = PRIMARY_KPI, group_by: str | None = None) -> pd.DataFrame:
        """:func:`.rank_agents` over the driver window."""
        window = self.driver_window
        return self._cached(("rankings", kpi, group_by), lambda: rank_agents(
            self._window(self.scored_evaluations, window),
            self._window(self.contact_stats, window), kpi=kpi, group_by=group_by))

    def top_overlap(self, *, kpi: str = PRIMARY_KPI, group_by: str | None = None,
                    top_n: int = 20) -> pd.DataFrame:
        """:func:`.compute_top_overlap` over the driver window."""
        return self._cached(("top_overlap", kpi, group_by, top_n), lambda: compute_top_overlap(
            self.rankings(kpi=kpi, group_by=group_by), kpi=kpi, top_n=top_n))

    @_frame
    def trends(self) -> pd.DataFrame:
        """:func:`.compute_behaviour_trends` for the report month."""
        return compute_behaviour_trends(self.scored_evaluations, period=self.report_period,
                                        behaviors=self.behaviors)

    @_frame
    def coaching_coverage(self) -> pd.DataFrame:
        """:func:`.compute_coaching_coverage` for the report month."""
        return compute_coaching_coverage(self.data.table("coaching"), self.roster,
                                         self.data.table("supervisor_time"),
                                         period=self.report_period)

    @_frame
    def session_effects(self) -> pd.DataFrame:
        """:func:`.compute_session_effects` over all the data."""
        return compute_session_effects(self.data.table("coaching"), self.scored_evaluations,
                                       behaviors=self.behaviors)

    def coaching_effectiveness(self, *, group_by: str | None = None) -> pd.DataFrame:
        """:func:`.compute_coaching_effectiveness` (all sessions measured).

        Cached per ``group_by``: one fit serves every pack of the month (it
        takes seconds at thousands of agents; per pack it took hours).
        """
        return self._cached(("coaching_effectiveness", group_by),
                            lambda: compute_coaching_effectiveness(self.session_effects,
                                                                   group_by=group_by))

    @_frame
    def agent_behaviour_scores(self) -> pd.DataFrame:
        """:func:`.compute_agent_behaviour_scores` over the recent window."""
        recent = in_window(self.scored_evaluations, self.recent_window)
        return compute_agent_behaviour_scores(recent, self.team, behaviors=self.behaviors,
                                              period=self.report_period)

    @_frame
    def layered_drivers(self) -> pd.DataFrame:
        """Drivers for every KPI by site, by vendor and for everyone, in one frame."""
        kpis = list(DEFAULT_KPIS)
        return pd.concat([self.drivers(kpis=kpis, group_by=level)
                          for level in ("site", "vendor", None)], ignore_index=True)

    def coaching_priorities(self, *, kpi: str = PRIMARY_KPI) -> pd.DataFrame:
        """:func:`.compute_coaching_priorities` for the report month."""
        return self._cached(("priorities", kpi), lambda: compute_coaching_priorities(
            self.agent_behaviour_scores, self.layered_drivers, kpi=kpi))

    def qa_form_audit(self, *, group_by: str | None = None,
                      group: str | None = None) -> pd.DataFrame:
        """:func:`.compute_qa_form_audit` over the driver window.

        With ``group_by`` and ``group``, only that site's or vendor's
        evaluations and driver models count; otherwise every site and vendor
        model does.
        """
        drivers = self.layered_drivers
        evaluations = self._window(self.scored_evaluations, self.driver_window)
        if group_by is not None:
            drivers = drivers[(drivers["group_by"] == group_by) & (drivers["group"] == group)]
            evaluations = evaluations[evaluations[group_by] == group]
        else:
            drivers = drivers[drivers["group_by"] != "all"]
        return compute_qa_form_audit(evaluations, self.qa_form, drivers)

    def adoption(self, *, group_by: list[str] | str | None = None,
                 months: list[str] | None = None) -> pd.DataFrame:
        """:func:`.compute_behaviour_adoption` over the driver window
        (or ``months``), with the behaviour's ``label`` and ``kind``."""
        def build() -> pd.DataFrame:
            evaluations = self._window(self.scored_evaluations, months or self.driver_window)
            out = compute_behaviour_adoption(evaluations, behaviors=self.behaviors,
                                             group_by=group_by)
            return out.join(self.qa_form.set_index("behavior_id")[["label", "kind"]],
                            on="behavior_id")

        return self._cached(("adoption", str(group_by), tuple(months or ())), build)

    def group_members(self, group_by: str, group: str) -> pd.DataFrame:
        """The report month's team rows (one per agent) in a site or vendor."""
        if group_by not in ("site", "vendor"):
            raise ValueError(f"group_by must be site or vendor, not {group_by!r}")
        members = self.team[self.team[group_by] == group]
        if members.empty:
            known = ", ".join(sorted(self.team[group_by].dropna().unique()))
            raise ValueError(f"no {group_by} named {group!r} in {self.report_period}; "
                             f"known: {known}")
        return members

    # ------------------------------------------------------------------ QA calibration

    @_frame
    def all_evaluations(self) -> pd.DataFrame:
        """Every evaluation, calibration re-scores included (all months).

        :attr:`evaluations` keeps one per interaction (the routine one); this
        keeps them all, with ``routine`` (the one the other analyses count),
        ``employer`` (from the optional ``evaluators`` table) and the team
        and ``period`` of the interaction (those of its routine evaluation).
        The input of :mod:`cxreports.analyses.calibration`.
        """
        out = evaluation_matrix(self.data.relation("qa_scores"), behaviors=self.behaviors,
                                con=self.data.con, routine_only=False)
        routine = self.scored_evaluations
        # Not Series.isin: on Arrow strings pandas makes a scalar per value (3 s
        # for the 180,000 routine evaluations of 7,500 agents).
        routine_ids = pd.Index(routine["evaluation_id"].unique())
        out["routine"] = routine_ids.get_indexer(out["evaluation_id"]) >= 0
        team = routine.dropna(subset=["interaction_id"]).drop_duplicates("interaction_id")
        team = team.set_index("interaction_id")[["supervisor_id", "site", "vendor", "period"]]
        out = out.join(team, on="interaction_id")
        by_eval = routine.set_index("evaluation_id")[["supervisor_id", "site", "vendor",
                                                      "period"]]
        out = out.fillna({c: out["evaluation_id"].map(by_eval[c]) for c in by_eval.columns})
        evaluators = self.data.table("evaluators")
        employer = evaluators.drop_duplicates("evaluator_id").set_index("evaluator_id")[
            "employer"]
        out["employer"] = out["evaluator_id"].map(employer)
        return out

    def _calibration_window(self) -> pd.DataFrame:
        """Calibration looks at the driver window (four months), or all data."""
        return self._window(self.all_evaluations, self.driver_window)

    def qa_agreement(self, *, group_by: str | None = None, n_boot: int = 1000) -> pd.DataFrame:
        """:func:`.compute_agreement` over the driver window, overall or by ``group_by``."""
        return self._cached(("qa_agreement", group_by, n_boot), lambda: compute_agreement(
            self._calibration_window(), behaviors=self.behaviors, group_by=group_by,
            n_boot=n_boot))

    def evaluator_leniency(self, *, tolerance: float = LENIENCY_TOLERANCE) -> pd.DataFrame:
        """:func:`.compute_evaluator_leniency` over the driver window."""
        return self._cached(("evaluator_leniency", tolerance), lambda: compute_evaluator_leniency(
            self._calibration_window(), behaviors=self.behaviors, tolerance=tolerance))

    def vendor_alignment(self) -> pd.DataFrame:
        """:func:`.compute_vendor_alignment` over the driver window, with ``label`` and ``kind``."""
        def build() -> pd.DataFrame:
            out = compute_vendor_alignment(self._calibration_window(), behaviors=self.behaviors)
            return out.join(self.qa_form.set_index("behavior_id")[["label", "kind"]],
                            on="behavior_id")
        return self._cached(("vendor_alignment",), build)

    def adoption_adjusted(self) -> pd.DataFrame:
        """Adoption by vendor over the driver window, as scored and adjusted for the
        vendor QA team's leniency (:func:`.adjust_adoption`)."""
        return adjust_adoption(self.adoption(group_by="vendor"), self.vendor_alignment())

    def agent_reliability(self, *, target: float = DEFAULT_RELIABILITY) -> pd.DataFrame:
        """:func:`.compute_agent_reliability` of routine evaluations in the recent window."""
        recent = in_window(self.scored_evaluations, self.recent_window)
        return self._cached(("agent_reliability", target), lambda: compute_agent_reliability(
            recent, behaviors=self.behaviors, target=target))

    def sampling_plan(self, *, target: float = DEFAULT_RELIABILITY) -> pd.DataFrame:
        """:func:`.compute_sampling_plan` for the report month's team (overall QA score)."""
        reliability = self.agent_reliability(target=target)
        icc = float(reliability.loc[reliability["behavior_id"] == "qa_score", "icc"].iloc[0])
        return compute_sampling_plan(self.scored_evaluations, self.team,
                                     months=self.recent_window, icc=icc, target=target)

    def agent_behaviour_reliability(self, *, target: float = DEFAULT_RELIABILITY
                                    ) -> pd.DataFrame:
        """:attr:`agent_behaviour_scores` with :func:`.mark_reliability`: which of an
        agent's behaviour figures reach the reliability target."""
        return self._cached(("agent_behaviour_reliability", target), lambda: mark_reliability(
            self.agent_behaviour_scores, self.agent_reliability(target=target), target=target))
