"""The ``cxreports`` command line: parse, call the library, set the exit code.

Exit codes for every command: 0 all done; 1 done, but rows were set aside or
some outputs failed (each named); 2 nothing usable (bad arguments,
unreadable source). run, demo, packs, scorecards, notebooks and deliver stop
cleanly on SIGINT (130) and SIGTERM (143), and run and deliver at their
``timeout`` (124), saying "interrupted: N of M done" (``run.stopping``).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table as RichTable

from .core.errors import CxReportsError, Interrupted
from .core.kpis import modelled_kpis
from .data.validation import ValidatedData, validate_source

app = typer.Typer(
    name="cxreports",
    help="Prove which agent behaviours move customer outcomes; write coaching packs "
    "and vendor scorecards.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
out_console = Console()
err_console = Console(stderr=True)

#: ``--encoding`` of every command that reads a source.
HtmlOption = Annotated[
    bool, typer.Option("--html", help="Also a standalone HTML copy beside each PDF (styles "
                       "and charts inline; for browsers and screen readers).")
]
EncodingOption = Annotated[
    str, typer.Option("--encoding", help="Encoding of CSV files: utf-8 (with or without a BOM; "
                      "UTF-16 with a BOM is recognised), latin-1, cp1252, utf-16 ...")
]


def main() -> None:
    """Entry point: run the app, turning kit errors into one sentence and exit 2."""
    try:
        app()
    except CxReportsError as exc:
        err_console.print(f"[bold red]error:[/] {exc}", highlight=False, soft_wrap=True)
        sys.exit(exc.exit_code)


def _fail(exc: CxReportsError) -> typer.Exit:
    err_console.print(f"[bold red]error:[/] {exc}", highlight=False, soft_wrap=True)
    return typer.Exit(exc.exit_code)


def _stopped(exc: Interrupted, again: str) -> typer.Exit:
    """Say how far a stopped command got and how to finish; exit 130, 143 or 124."""
    err_console.print(f"interrupted: {exc.progress}; {again}", highlight=False, soft_wrap=True)
    return typer.Exit(exc.exit_code)


def print_validation(data: ValidatedData) -> None:
    """A table of rows read/kept/set aside per table, then example reasons."""
    table = RichTable(title=f"Validation of {data.source}", title_justify="left")
    for name in ("table", "read", "kept", "set aside", "source"):
        table.add_column(name, justify="right" if name in ("read", "kept", "set aside") else "left")
    for report in data.reports.values():
        table.add_row(
            report.table,
            f"{report.rows_read:,}",
            f"{report.rows_kept:,}",
            f"{report.rows_set_aside:,}",
            report.origin or "(absent: optional)",
        )
    out_console.print(table)
    for warning in data.warnings:
        err_console.print(f"warning: {warning}", highlight=False, soft_wrap=True)
    for report in data.reports.values():
        if report.broken_lines:
            err_console.print(f"broken lines: {report.broken_lines:,} lines of {report.origin} "
                              "are not rows; set aside with their line numbers",
                              highlight=False, soft_wrap=True)
        for example in report.examples:
            err_console.print(f"set aside: {example}", highlight=False, soft_wrap=True)
        more = report.rows_set_aside - len(report.examples)
        if more > 0:
            err_console.print(f"  … and {more:,} more in {report.table}", highlight=False)


@app.command("sample-data")
def sample_data(
    out: Annotated[Path, typer.Option("--out", help="Folder to write the tables to.")],
    agents: Annotated[int, typer.Option(min=5, help="Number of agents.")] = 120,
    months: Annotated[int, typer.Option(min=1, max=36, help="Months of history.")] = 6,
    seed: Annotated[int, typer.Option(help="Random seed; same seed, same data.")] = 7,
    last_period: Annotated[
        str, typer.Option("--last-period", help="Last month generated, YYYY-MM.")
    ] = "2026-10",
    contacts: Annotated[
        int, typer.Option("--contacts", min=1, help="Average contacts per agent per month.")
    ] = 120,
    broken: Annotated[
        bool, typer.Option("--broken", help="Append rows breaking every contract rule "
                           "(listed in broken.json).")
    ] = False,
    fmt: Annotated[
        str, typer.Option("--format", help="csv, parquet or duckdb.")
    ] = "csv",
    selection: Annotated[
        str, typer.Option(help="How coaching picks a behaviour: observed (the lowest "
                          "observed recent score, as supervisors do) or propensity "
                          "(the true weakness).")
    ] = "observed",
    coaching_lift: Annotated[
        float | None, typer.Option(help="Rise in the chance of showing a behaviour per "
                                   "session on it (0: coaching does nothing; default 0.15).")
    ] = None,
    repeat_share: Annotated[
        float, typer.Option(min=0, max=1, help="Chance a session returns to the last "
                            "focus.")
    ] = 0.3,
    qa_lag_days: Annotated[
        int, typer.Option(min=1, help="Evaluations happen 1 to N days after the contact.")
    ] = 10,
    change_share: Annotated[
        float, typer.Option(min=0, max=1, help="Share of agents whose behaviour really "
                            "changes in the last month.")
    ] = 0.08,
    calibration_share: Annotated[
        float, typer.Option(min=0, max=1, help="Share of each vendor's evaluated interactions "
                            "the brand's evaluators re-score (and of each site's a colleague "
                            "re-scores).")
    ] = 0.05,
) -> None:
    """Write a synthetic contact centre with planted drivers (truth.json beside it).

    Example: cxreports sample-data --out data/sample --agents 120 --months 6 --seed 7
    """
    from .core.periods import parse_period
    from .data.sample import write_sample_data

    if fmt not in ("csv", "parquet", "duckdb"):
        raise _fail(CxReportsError(f"--format {fmt!r} is not one of csv, parquet, duckdb"))
    if selection not in ("observed", "propensity"):
        raise _fail(CxReportsError(f"--selection {selection!r} is not one of observed, "
                                   "propensity"))
    try:
        parse_period(last_period)
    except CxReportsError as exc:
        raise _fail(exc) from None
    path = write_sample_data(out, agents=agents, months=months, seed=seed,
                             last_period=last_period, contacts_per_month=contacts,
                             broken=broken, fmt=fmt, selection=selection,
                             repeat_share=repeat_share, qa_lag_days=qa_lag_days,
                             change_share=change_share, calibration_share=calibration_share,
                             **({} if coaching_lift is None else {"coaching_lift": coaching_lift}))
    out_console.print(f"sample data written to {path}", highlight=False)


@app.command()
def validate(
    source: Annotated[str, typer.Argument(help="Folder, .duckdb file or SQLAlchemy URL.")],
    rejects: Annotated[
        Path | None, typer.Option("--rejects", help="Write DIR/<table>.csv of rows set aside.")
    ] = None,
    encoding: EncodingOption = "utf-8",
) -> None:
    """Check a source against the data contract; set bad rows aside with reasons.

    Exit 0 clean, 1 rows set aside, 2 unusable.

    Example: cxreports validate data/sample --rejects out/rejects
    """
    try:
        data = validate_source(source, encoding=encoding)
    except CxReportsError as exc:
        raise _fail(exc) from None
    print_validation(data)
    if rejects is not None:
        written = data.write_rejects(rejects)
        for name, path in written.items():
            out_console.print(f"rejects for {name}: {path}", highlight=False)
    raise typer.Exit(1 if data.rows_set_aside else 0)


@app.command()
def drivers(
    source: Annotated[str, typer.Argument(help="Folder, .duckdb file or SQLAlchemy URL.")],
    kpi: Annotated[
        list[str], typer.Option("--kpi", help=f"KPI to model: {', '.join(modelled_kpis())} "
                                "(repeat for several).")
    ],
    out: Annotated[Path, typer.Option("--out", help="CSV file to write.")],
    group_by: Annotated[
        str | None, typer.Option("--by", help="site or vendor; omit for everyone together.")
    ] = None,
    period: Annotated[
        str | None, typer.Option("--period", help="Reporting month YYYY-MM: models use it and "
                                 "the 3 months before. Omit for all data.")
    ] = None,
    encoding: EncodingOption = "utf-8",
) -> None:
    """Which QA behaviours drive a KPI, per site or vendor, with intervals and verdicts.

    One row per (group, KPI, behaviour). Exit 1 when rows were set aside.

    Example: cxreports drivers data/sample --kpi csat --by vendor --period 2026-10 --out d.csv
    """
    from .analyses.analysis import Analysis
    from .core.files import atomic_path

    bad = [k for k in kpi if k not in modelled_kpis()]
    if bad:
        raise _fail(CxReportsError(f"--kpi {bad[0]!r} is not one of "
                                   f"{', '.join(modelled_kpis())}"))
    if group_by not in (None, "site", "vendor"):
        raise _fail(CxReportsError(f"--by {group_by!r} is not one of site, vendor"))
    try:
        analysis = Analysis(validate_source(source, encoding=encoding), period=period)
    except CxReportsError as exc:
        raise _fail(exc) from None
    _print_warnings(analysis.data)
    table = analysis.drivers(kpis=kpi, group_by=group_by)
    with atomic_path(out) as tmp:
        table.to_csv(tmp, index=False)
    found = table[table["verdict"] == "driver"]
    out_console.print(
        f"{len(table)} rows written to {out}: {len(found)} driver verdicts, "
        f"{(table['verdict'] == 'insufficient_data').sum()} with insufficient data",
        highlight=False)
    for row in found.sort_values(["kpi", "group", "q_value"]).itertuples():
        out_console.print(f"  {row.kpi:<5} {row.group:<14} {row.behavior_id:<22} "
                          f"{row.estimate:+.3f} [{row.ci_low:+.3f}, {row.ci_high:+.3f}]",
                          highlight=False)
    if analysis.data.rows_set_aside:
        err_console.print(f"{analysis.data.rows_set_aside:,} rows were set aside; run "
                          f"'cxreports validate {source} --rejects DIR' to see them",
                          highlight=False)
        raise typer.Exit(1)


@app.command()
def calibration(
    source: Annotated[str, typer.Argument(help="Folder, .duckdb file or SQLAlchemy URL.")],
    out: Annotated[Path, typer.Option("--out", help="Folder for the tables.")],
    period: Annotated[
        str | None, typer.Option("--period", help="Reporting month YYYY-MM: agreement and "
                                 "leniency use it and the 3 months before, the sampling plan "
                                 "the 3 months ending with it. Omit for the latest month.")
    ] = None,
    encoding: EncodingOption = "utf-8",
) -> None:
    """QA you can trust: evaluator agreement, leniency, vendor QA alignment, sampling plan.

    Writes OUT/qa_agreement.csv, qa_evaluators.csv, qa_vendor_alignment.csv and
    qa_sampling_plan.csv. Exit 1 when rows were set aside.

    Example: cxreports calibration data/sample --period 2026-10 --out outputs/calibration
    """
    from threadpoolctl import threadpool_limits

    from .analyses.analysis import Analysis
    from .core.files import atomic_path
    from .reports.tables import QA_TABLES, report_tables

    try:
        analysis = Analysis(validate_source(source, encoding=encoding), period=period)
        with threadpool_limits(1, user_api="blas"):  # see reports.tables._qa_agreement
            tables = report_tables(analysis, QA_TABLES)
    except CxReportsError as exc:
        raise _fail(exc) from None
    except ValueError as exc:  # no contacts, so no month to report
        raise _fail(CxReportsError(str(exc))) from None
    _print_warnings(analysis.data)
    out.mkdir(parents=True, exist_ok=True)
    for name, table in tables.items():
        with atomic_path(out / f"{name}.csv") as tmp:
            table.to_csv(tmp, index=False)
    flagged = tables["qa_evaluators"]
    flagged = flagged[flagged["flag"] != "ok"]
    out_console.print(f"{len(tables)} tables written to {out} for {analysis.report_period}: "
                      f"{len(flagged)} evaluator(s) flagged", highlight=False)
    for row in flagged.itertuples():
        out_console.print(f"  {row.evaluator_id:<10} {row.flag:<8} {row.leniency:+.3f} "
                          f"[{row.ci_low:+.3f}, {row.ci_high:+.3f}]", highlight=False)
    if analysis.data.rows_set_aside:
        err_console.print(f"{analysis.data.rows_set_aside:,} rows were set aside; run "
                          f"'cxreports validate {source} --rejects DIR' to see them",
                          highlight=False)
        raise typer.Exit(1)


@app.command()
def notebooks(
    params_file: Annotated[Path, typer.Argument(metavar="PARAMS.yaml",
                                                help="Run parameters (see params/).")],
) -> None:
    """Execute the notebooks once per site and vendor with papermill.

    Writes OUT/notebooks/<name>--<group>.ipynb and .html. A failing notebook
    is kept with its error and the others still run; exit 1 names it.

    Example: cxreports notebooks params/monthly.yaml
    """
    from .analyses.analysis import Analysis
    from .core.files import remove_temporary_files
    from .data.sources import resolve_source
    from .run.executors import open_executor
    from .run.notebooks import plan_run_jobs, run_notebook_step
    from .run.params import load_params
    from .run.stopping import stop_on_signals

    _log_to_stderr()
    jobs, made = [], 0

    def done(result) -> None:
        nonlocal made
        made += result.status == "ok"
        stop.check()  # a stop whose exception a library swallowed

    try:
        params = load_params(params_file)
        with stop_on_signals() as stop:
            analysis = Analysis(validate_source(resolve_source(params.source),
                                                encoding=params.encoding), period=params.period)
            jobs = plan_run_jobs(params, analysis)
            with open_executor(params.executor, params.workers) as executor:
                results = run_notebook_step(jobs, analysis, params, executor=executor,
                                            console=err_console, on_done=done,
                                            stop_check=stop.check)
    except CxReportsError as exc:
        raise _fail(exc) from None
    except Interrupted as exc:
        remove_temporary_files(Path(params.out) / "notebooks")  # the workers have ended
        raise _stopped(Interrupted(exc.cause, f"{made} of {len(jobs)} notebooks done"),
                       "run the command again") from None
    failed = [r for r in results if r.status != "ok"]
    out_console.print(f"{len(results) - len(failed)} of {len(results)} notebooks ran; "
                      f"outputs in {Path(params.out) / 'notebooks'}", highlight=False)
    for r in failed:
        err_console.print(f"failed: {r.notebook} for {r.group_by} {r.group}: "
                          f"cell {r.cell}: {r.error}", highlight=False, soft_wrap=True)
    raise typer.Exit(1 if failed or analysis.data.rows_set_aside else 0)


def _report_command(kind: str, source: str, period: str, out: Path, keys: list[str] | None,
                    templates: Path | None, workers: int, encoding: str = "utf-8",
                    html: bool = False) -> None:
    from contextlib import nullcontext

    from .analyses.analysis import Analysis
    from .core.files import remove_temporary_files
    from .reports.batch import REPORT_KINDS, render_reports
    from .run.executors import open_executor
    from .run.progress import progress_step
    from .run.stopping import stop_on_signals

    _log_to_stderr()
    if templates is not None and not templates.is_dir():
        raise _fail(CxReportsError(f"--templates {templates} is not a folder"))
    made = 0

    def done(result) -> None:
        nonlocal made
        if result.status != "ok":
            stop.check()  # a failure caused by the stop is not the report's
        made += result.status == "ok"
        step.advance(f"{result.key} ({result.seconds:.1f}s)"
                     + (f": {result.error}" if result.error else ""),
                     failed=result.status != "ok")
        stop.check()  # a stop whose exception a library swallowed

    try:
        with stop_on_signals() as stop:
            analysis = Analysis(validate_source(source, encoding=encoding), period=period)
            _print_warnings(analysis.data)
            keys = keys or REPORT_KINDS[kind].keys(analysis)
            # One worker renders here: no pool (nor its fork server) to start.
            with (open_executor("local", workers) if workers > 1 else nullcontext() as executor,
                  progress_step(kind, len(keys), console=err_console) as step):
                results = render_reports(
                    kind, analysis, out, keys=keys, templates=templates, executor=executor,
                    max_pending=2 * max(workers, 2), on_done=done, html=html)
    except CxReportsError as exc:
        raise _fail(exc) from None
    except Interrupted as exc:
        remove_temporary_files(Path(out) / kind)  # the workers have ended
        progress = f"{made} of {len(keys)} {kind} done" if keys else exc.progress
        raise _stopped(Interrupted(exc.cause, progress), "run the command again") from None
    failed = [r for r in results if r.status != "ok"]
    out_console.print(f"{len(results) - len(failed)} of {len(results)} {kind} written to "
                      f"{Path(out) / kind}", highlight=False)
    for r in failed:
        err_console.print(f"failed: {r.key}: {r.error}", highlight=False, soft_wrap=True)
    if analysis.data.rows_set_aside:
        err_console.print(f"{analysis.data.rows_set_aside:,} rows were set aside; run "
                          f"'cxreports validate {source} --rejects DIR' to see them",
                          highlight=False)
    raise typer.Exit(1 if failed or analysis.data.rows_set_aside else 0)


@app.command()
def packs(
    source: Annotated[str, typer.Argument(help="Folder, .duckdb file or SQLAlchemy URL.")],
    period: Annotated[str, typer.Option("--period", help="Reporting month, YYYY-MM.")],
    out: Annotated[Path, typer.Option("--out", help="Output folder (PDFs go to OUT/packs/).")],
    supervisor: Annotated[
        list[str] | None, typer.Option("--supervisor", help="Only this supervisor id "
                                       "(repeat for several).")
    ] = None,
    templates: Annotated[
        Path | None, typer.Option("--templates", help="Folder of templates overriding the "
                                  "kit's, file by file.")
    ] = None,
    workers: Annotated[int, typer.Option(min=1, help="Processes, each building and rendering "
                                         "whole reports.")] = 2,
    encoding: EncodingOption = "utf-8",
    html: HtmlOption = False,
) -> None:
    """One PDF coaching pack per supervisor: OUT/packs/<supervisor_id>.pdf.

    Example: cxreports packs data/sample --period 2026-10 --out outputs/2026-10
    """
    _report_command("packs", source, period, out, supervisor, templates, workers, encoding,
                    html)


@app.command()
def scorecards(
    source: Annotated[str, typer.Argument(help="Folder, .duckdb file or SQLAlchemy URL.")],
    period: Annotated[str, typer.Option("--period", help="Reporting month, YYYY-MM.")],
    out: Annotated[Path, typer.Option("--out", help="Output folder (PDFs go to "
                                      "OUT/scorecards/).")],
    templates: Annotated[
        Path | None, typer.Option("--templates", help="Folder of templates overriding the "
                                  "kit's, file by file.")
    ] = None,
    workers: Annotated[int, typer.Option(min=1, help="Processes, each building and rendering "
                                         "whole reports.")] = 2,
    encoding: EncodingOption = "utf-8",
    html: HtmlOption = False,
) -> None:
    """One PDF scorecard per vendor: OUT/scorecards/<vendor>.pdf.

    Example: cxreports scorecards data/sample --period 2026-10 --out outputs/2026-10
    """
    _report_command("scorecards", source, period, out, None, templates, workers, encoding,
                    html)


def _print_warnings(data) -> None:
    """The source's warnings and broken lines, for commands that do not print validation."""
    for warning in data.warnings:
        err_console.print(f"warning: {warning}", highlight=False, soft_wrap=True)
    for report in data.reports.values():
        if report.broken_lines:
            err_console.print(f"broken lines: {report.broken_lines:,} lines of {report.origin} "
                              "are not rows; set aside", highlight=False, soft_wrap=True)


def _log_to_stderr() -> None:
    import logging

    if not logging.getLogger("cxreports").handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
        logging.getLogger("cxreports").addHandler(handler)
        logging.getLogger("cxreports").setLevel(logging.INFO)


def _print_outcome(outcome, out: Path) -> None:
    import json

    manifest = json.loads(outcome.manifest.read_text())
    steps = manifest["steps"]
    out_console.print(f"manifest: {outcome.manifest}", highlight=False)
    for kind in ("packs", "scorecards", "notebooks"):
        if kind in steps:
            out_console.print(f"{kind}: {out / kind}  ({steps[kind]['done']} made, "
                              f"{steps[kind]['kept']} kept, {steps[kind]['seconds']:.0f}s)",
                              highlight=False)
    out_console.print(f"tables: {out / 'tables'}", highlight=False)
    _print_delivery(manifest, out)
    for name, item in manifest["rejects"].items():
        if item["count"]:
            err_console.print(f"set aside: {item['count']:,} rows of {name} "
                              f"({out / item['path']})", highlight=False)
    for failure in outcome.failures:
        err_console.print(f"failed: {failure['step']} {failure['key']}: {failure['reason']}",
                          highlight=False)


def _print_delivery(manifest: dict, out: Path) -> None:
    delivery = manifest.get("delivery")
    if not delivery:
        return
    counts = ", ".join(f"{n} {k.replace('_', ' ')}" for k, n in delivery["counts"].items() if n)
    where = f" to {out / delivery['outbox']}" if delivery.get("outbox") else ""
    out_console.print(f"deliver ({delivery['mode']}{where}): {counts or 'nothing to send'}; "
                      f"journal {out / delivery['journal']}", highlight=False)
    for message in delivery["messages"]:
        if message["status"] == "held":
            err_console.print(f"held: {message['kind']} {message['key']} to "
                              f"{message['recipient']}: {message['reason']}", highlight=False)


#: ``--resend-changed`` of run and deliver.
ResendOption = Annotated[
    bool, typer.Option("--resend-changed", help="Send again a pack or scorecard whose file "
                       "changed since it was sent (otherwise it is held and named).")
]


@app.command()
def run(
    params_file: Annotated[Path, typer.Argument(metavar="PARAMS.yaml",
                                                help="Run parameters (see params/).")],
    resume: Annotated[bool, typer.Option("--resume", help="Redo only what is missing, "
                                         "failed or out of date.")] = False,
    resend_changed: ResendOption = False,
    html: Annotated[bool, typer.Option("--html", help="Also a standalone HTML copy of each "
                                       "pack and scorecard (as html: true in the "
                                       "parameters).")] = False,
) -> None:
    """The scheduled monthly job: validate, notebooks, packs, scorecards, tables, deliver.

    Exit 0 all clean; 1 rows set aside or some outputs failed (each named);
    2 nothing usable (bad parameters, unreadable source, folder locked);
    130 / 143 stopped by SIGINT / SIGTERM, 124 by the timeout in the
    parameters (what finished is kept: run again with --resume).

    Example: cxreports run params/monthly.yaml --resume
    """
    from .run.monthly import run_monthly
    from .run.params import load_params

    _log_to_stderr()
    try:
        params = load_params(params_file, **({"html": True} if html else {}))
        outcome = run_monthly(params, params_file=params_file, resume=resume,
                              resend_changed=resend_changed, console=err_console)
    except CxReportsError as exc:
        raise _fail(exc) from None
    except Interrupted as exc:
        raise _stopped(exc, "run again with --resume") from None
    _print_outcome(outcome, Path(params.out))
    raise typer.Exit(outcome.exit_code)


@app.command()
def deliver(
    params_file: Annotated[Path, typer.Argument(metavar="PARAMS.yaml",
                                                help="Run parameters with a deliver section.")],
    resume: Annotated[bool, typer.Option("--resume", help="Accepted for symmetry with run: "
                                         "what was sent is never sent again anyway.")] = False,
    resend_changed: ResendOption = False,
) -> None:
    """E-mail each supervisor their pack and each vendor contact their scorecard, once.

    Works on the finished run in the parameters' out folder. mode: dry-run
    (the default) writes OUT/outbox/*.eml instead of sending. Every sent
    message is journalled in OUT/sent.jsonl, so running it again sends
    nothing twice. The SMTP password comes from $CXREPORTS_SMTP_PASSWORD.

    Exit 0 all delivered; 1 some messages failed or were skipped (each
    named: bad address, moved team, refused); 2 nothing usable (no deliver
    section, no run, password missing, folder locked); 130 / 143 / 124
    stopped (what was sent is journalled: run again).

    Example: cxreports deliver params/monthly.yaml
    """
    from .run.monthly import deliver_monthly
    from .run.params import load_params

    _log_to_stderr()
    try:
        params = load_params(params_file)
        outcome = deliver_monthly(params, params_file=params_file, resume=resume,
                                  resend_changed=resend_changed, console=err_console)
    except CxReportsError as exc:
        raise _fail(exc) from None
    except Interrupted as exc:
        raise _stopped(exc, "run again to send the rest") from None
    import json

    _print_delivery(json.loads(outcome.manifest.read_text()), Path(params.out))
    for failure in outcome.failures:
        err_console.print(f"failed: {failure['step']} {failure['key']}: {failure['reason']}",
                          highlight=False)
    raise typer.Exit(outcome.exit_code)


@app.command()
def demo(
    out: Annotated[Path, typer.Option("--out", help="Output folder.")] = Path("outputs/demo"),
) -> None:
    """Generate the sample contact centre and run the whole monthly job on it.

    Example: cxreports demo --out outputs/demo
    """
    from .run.demo import run_demo

    _log_to_stderr()
    try:
        code = run_demo(out, console=err_console)
    except CxReportsError as exc:
        raise _fail(exc) from None
    except Interrupted as exc:
        raise _stopped(exc, "run the demo again") from None
    out_console.print(f"coaching packs: {(out / 'packs').resolve()}", highlight=False)
    out_console.print(f"vendor scorecards: {(out / 'scorecards').resolve()}", highlight=False)
    out_console.print(f"manifest: {(out / 'manifest.json').resolve()}", highlight=False)
    raise typer.Exit(code)


if __name__ == "__main__":  # pragma: no cover
    main()
