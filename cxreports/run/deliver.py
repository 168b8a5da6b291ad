"""E-mail delivery of coaching packs and vendor scorecards, exactly once.

The last step of the monthly run, and ``cxreports deliver`` on a finished
run. Three parts:

- :func:`plan_deliveries` decides who gets what. Each supervisor gets the
  pack made for their own ``supervisor_id``, at the one ``supervisor_email``
  the roster gives that id; each address in ``scorecards_to`` gets the
  scorecard of the vendor it is listed under (or of the one vendor of the
  site it is listed under). A pack is never re-addressed: a missing,
  malformed, ambiguous or shared address, a team that changed since the
  pack was made, or a team that has moved to another supervisor since the
  month (the roster's latest rows) skips the pack, with the reason.
- :func:`send_deliveries` builds each message with the standard library's
  :mod:`email` package and sends it with :mod:`smtplib` (plain, STARTTLS or
  SSL; the password from ``$CXREPORTS_SMTP_PASSWORD``, never written
  anywhere), at most ``rate_limit`` a minute. A dropped connection or a 4xx
  reply is retried with back-off; a 5xx refusal fails that message only.
  In dry-run mode each message is written to ``OUT/outbox/*.eml`` instead.
- :class:`SentJournal` (``OUT/sent.jsonl``, kept across runs) records each
  message: ``sending`` before the message data goes out, then ``sent`` once
  the server has accepted it (or ``failed``), each line fsynced before the
  next message. A message whose pack (period, kind, key, recipient, sha256)
  was sent is not sent again; a changed pack is re-sent only when asked
  (``resend_changed``). SIGINT, SIGTERM and the timeout are held off while
  a message is handed over and journalled, so a clean stop never loses a
  record; only SIGKILL in that moment (milliseconds) leaves one ``sending``
  without an answer, and the next run sends that message again with the
  same ``Message-ID`` (mail clients show one).
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import os
import signal
import smtplib
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from email import policy as email_policy
from email.generator import BytesGenerator
from email.message import EmailMessage
from email.utils import format_datetime, parseaddr
from pathlib import Path

import pandas as pd

from ..core.files import atomic_write_bytes, safe_filename, sha256_of
from ..core.periods import Period
from .params import DeliverParams, SmtpParams, is_address

__all__ = ["OUTBOX", "SENT_JOURNAL", "Delivery", "DeliveryReport", "SentJournal",
           "build_message", "plan_deliveries", "send_deliveries"]

log = logging.getLogger("cxreports")

#: The journal of sent messages, in OUT; kept across runs (never removed by the kit).
SENT_JOURNAL = "sent.jsonl"
#: Where a dry run writes the messages it would send, in OUT.
OUTBOX = "outbox"
_ATTACHMENT = {"packs": "coaching-pack", "scorecards": "scorecard"}
_HELD_SIGNALS = {signal.SIGINT, signal.SIGTERM, signal.SIGALRM}
#: Non-ASCII text goes quoted-printable or base64, for servers without 8BITMIME.
_POLICY = email_policy.default.clone(cte_type="7bit")


@dataclass
class Delivery:
    """One message to send (or the reason it is not sent).

    ``status``: ``planned`` (not yet tried), ``sent``, ``already_sent`` (the
    journal has it), ``held`` (changed since it was sent; not re-sent
    without ``resend_changed``), ``written`` (dry run: ``outbox/*.eml``),
    ``failed`` (tried; the server or the connection refused) or ``skipped``
    (never tried: bad address, moved team, no pack).
    """

    kind: str
    key: str
    recipient: str | None
    file: str | None
    sha256: str | None
    subject: str = ""
    body: str = field(default="", repr=False)
    html: str | None = None
    status: str = "planned"
    reason: str | None = None
    message_id: str | None = None
    at: str | None = None
    attempts: int = 0
    eml: str | None = None  # dry run: the file written under OUT/outbox

    @property
    def identity(self) -> tuple:
        return (self.kind, self.key, self.recipient)

    @property
    def name(self) -> str:
        """``packs S01 to dev@example.com``: how failures name it."""
        return f"{self.kind} {self.key}" + (f" to {self.recipient}" if self.recipient else "")

    def record(self) -> dict:
        """For the manifest: everything but the body."""
        return {k: v for k, v in asdict(self).items() if k != "body"}


@dataclass
class DeliveryReport:
    """What a delivery planned and how each message ended (updated as it goes)."""

    mode: str
    deliveries: list[Delivery]
    period: str = ""

    @property
    def counts(self) -> dict[str, int]:
        names = ["sent", "already_sent", "held", "written", "failed", "skipped", "planned"]
        return {n: sum(d.status == n for d in self.deliveries) for n in names}

    @property
    def failures(self) -> list[Delivery]:
        return [d for d in self.deliveries if d.status in ("failed", "skipped")]

    def progress(self) -> str:
        """``"3 of 8 messages sent"`` (or written, in a dry run)."""
        done = "written" if self.mode == "dry-run" else "sent"
        wanted = [d for d in self.deliveries if d.status not in ("skipped", "already_sent")]
        return f"{sum(d.status == done for d in wanted)} of {len(wanted)} messages {done}"

    def summary(self) -> dict:
        """The manifest's ``delivery`` section."""
        return {"mode": self.mode, "period": self.period, "journal": SENT_JOURNAL,
                "outbox": OUTBOX if self.mode == "dry-run" else None,
                "counts": self.counts,
                "failures": [{"kind": d.kind, "key": d.key, "recipient": d.recipient,
                              "status": d.status, "reason": d.reason} for d in self.failures],
                "messages": [d.record() for d in self.deliveries]}


# --------------------------------------------------------------------------- planning


def _addresses(rows: pd.DataFrame) -> list[str]:
    if "supervisor_email" not in rows:
        return []
    values = rows["supervisor_email"].dropna().astype(str).str.strip()
    return sorted({v for v in values if v})


def _first(rows: pd.DataFrame, column: str, default: str) -> str:
    if column not in rows:
        return default
    values = rows[column].dropna().astype(str).str.strip()
    values = values[values != ""]
    return values.iloc[0] if len(values) else default


def _made(outputs: list[dict], out: Path, kind: str, key: str) -> tuple[dict | None, str | None]:
    """The run's record of ``kind``/``key`` if its file is the one it made; else why not."""
    entry = None
    for candidate in outputs:  # the last record of an item is the current one
        if candidate.get("step") == kind and str(candidate.get("key")) == key:
            entry = candidate
    noun = "pack" if kind == "packs" else "scorecard"
    if entry is None:
        return None, f"no {noun} was made for {key} (run 'cxreports run PARAMS.yaml --resume')"
    if entry.get("status") != "ok" or not entry.get("path"):
        return None, f"its {noun} failed: {entry.get('error') or 'no file'}"
    path = out / entry["path"]
    if not path.is_file():
        return None, f"{entry['path']} is missing"
    if sha256_of(path) != entry.get("sha256"):
        return None, f"{entry['path']} is not the file the run made (its checksum differs)"
    return entry, None


def _html_body(entry: dict, out: Path) -> str | None:
    """The HTML copy of a report, where the run recorded one beside the PDF."""
    for rel, digest in entry.get("extra") or []:
        path = out / rel
        if str(rel).endswith(".html") and path.is_file() and sha256_of(path) == digest:
            return str(rel)
    return None


def _team_change(entry: dict, members: list[str], key: str) -> str | None:
    made_for = entry.get("agents")
    if made_for is None or sorted(made_for) == members:
        return None
    gone, new = sorted(set(made_for) - set(members)), sorted(set(members) - set(made_for))
    parts = ([f"{', '.join(gone)} left"] if gone else []) + (
        [f"{', '.join(new)} joined"] if new else [])
    return (f"the team of {key} changed since its file was made ({'; '.join(parts)}); "
            "run 'cxreports run PARAMS.yaml --resume' to remake it")


def plan_deliveries(team: pd.DataFrame, roster: pd.DataFrame, outputs: list[dict],
                    out: str | os.PathLike, params: DeliverParams,
                    period: Period) -> list[Delivery]:
    """Every message a run's packs and scorecards call for, or the reason one is skipped.

    Parameters
    ----------
    team
        The report month's team: one roster row per agent
        (``Analysis.team``), with ``supervisor_id``, ``supervisor_email``,
        ``supervisor_name``, ``vendor`` and ``site``.
    roster
        The whole validated roster; each agent's latest-starting row tells
        whether a team has moved since.
    outputs
        The run's output records (``manifest.json`` ``outputs``): ``step``,
        ``key``, ``status``, ``path`` (relative to ``out``), ``sha256``, and
        ``agents`` (whom the report was made for) where recorded.
    out
        The run's output folder.
    params
        The ``deliver`` section.
    period
        The report month.

    Returns
    -------
    list[Delivery]
        Packs by supervisor id, then scorecards by vendor and address;
        ``planned`` or ``skipped`` with the reason.
    """
    out = Path(out)
    month = f"{period.start:%B %Y}"
    plans: list[Delivery] = []
    if params.packs and len(team):
        latest = (roster.sort_values(["agent_id", "valid_from"], kind="stable")
                  .drop_duplicates("agent_id", keep="last")
                  .set_index("agent_id")["supervisor_id"])
        owners: dict[str, set[str]] = {}
        for supervisor, rows in team.groupby("supervisor_id"):
            for address in _addresses(rows):
                owners.setdefault(address.lower(), set()).add(str(supervisor))
        for supervisor, rows in team.groupby("supervisor_id"):
            supervisor = str(supervisor)
            members = sorted(rows["agent_id"].astype(str))
            addresses = _addresses(rows)
            recipient = addresses[0] if len(addresses) == 1 else None
            plan = Delivery("packs", supervisor, recipient, None, None)
            plans.append(plan)
            entry, problem = _made(outputs, out, "packs", supervisor)
            now_with = sorted({str(latest.get(a, supervisor)) for a in members})
            if problem is None:
                problem = _team_change(entry, members, supervisor)
            if problem is None and supervisor not in now_with:
                problem = (f"team moved: its {len(members)} agents now report to "
                           f"{', '.join(now_with)}; the pack is sent to no one")
            if problem is None and not addresses:
                problem = "no supervisor_email on the roster"
            if problem is None and len(addresses) > 1:
                problem = ("the roster gives more than one supervisor_email "
                           f"({', '.join(addresses)})")
            if problem is None and not is_address(recipient):
                problem = f"supervisor_email {recipient!r} is not an e-mail address"
            if problem is None and len(owners[recipient.lower()]) > 1:
                others = sorted(owners[recipient.lower()] - {supervisor})
                problem = (f"supervisor_email {recipient} is also given for {', '.join(others)}; "
                           "whose pack is whose cannot be told")
            if problem is not None:
                plan.status, plan.reason = "skipped", problem
                continue
            name = _first(rows, "supervisor_name", supervisor)
            fields = {"month": month, "period": str(period), "supervisor_id": supervisor,
                      "supervisor_name": name, "vendor": _first(rows, "vendor", "")}
            plan.file, plan.sha256 = entry["path"], entry["sha256"]
            plan.html = _html_body(entry, out)
            plan.subject = params.subject.format(**fields)
            plan.body = (
                f"Hello {name},\n\nYour coaching pack for {month} is attached: your team's "
                "customer outcomes, the behaviours that drive them, and whom to coach on "
                f"what.\n\nIt covers the {len(members)} agents of your team in {month} "
                f"(supervisor id {supervisor}) and no one else.\n\n"
                "Sent by the monthly cxreports run.\n")
    vendors = set(team["vendor"].dropna().astype(str)) if "vendor" in team else set()
    site_vendors: dict[str, set[str]] = {}
    if "site" in team:
        for site, rows in team.groupby("site"):
            site_vendors[str(site)] = set(rows["vendor"].dropna().astype(str))
    seen: set[tuple[str, str]] = set()
    for group, addresses in params.scorecards_to.items():
        vendor, problem = group, None
        if group not in vendors:
            found = site_vendors.get(group)
            if found is None:
                problem = (f"{group!r} in scorecards_to is not a vendor or site with agents "
                           f"in {month}")
            elif len(found) > 1:
                problem = (f"site {group!r} has agents of {len(found)} vendors "
                           f"({', '.join(sorted(found))}); list the vendor instead")
            else:
                vendor = next(iter(found))
        entry = None
        if problem is None:
            entry, problem = _made(outputs, out, "scorecards", vendor)
        if problem is None:
            rows = team[team["vendor"].astype(str) == vendor]
            problem = _team_change(entry, sorted(rows["agent_id"].astype(str)), vendor)
        for address in addresses:
            if (vendor, address.lower()) in seen:
                continue
            seen.add((vendor, address.lower()))
            plan = Delivery("scorecards", vendor, address, None, None)
            plans.append(plan)
            if problem is not None:
                plan.status, plan.reason = "skipped", problem
                continue
            fields = {"month": month, "period": str(period), "supervisor_id": "",
                      "supervisor_name": "", "vendor": vendor}
            plan.file, plan.sha256 = entry["path"], entry["sha256"]
            plan.html = _html_body(entry, out)
            plan.subject = params.scorecard_subject.format(**fields)
            plan.body = (
                f"Hello,\n\nThe {vendor} scorecard for {month} is attached: customer "
                f"outcomes against targets, behaviour adoption and coaching activity of "
                f"{vendor}'s agents.\n\nSent by the monthly cxreports run.\n")
    return plans


# --------------------------------------------------------------------------- the journal


class SentJournal:
    """``OUT/sent.jsonl``: one JSON line per event, fsynced before the next message.

    Events: ``sending`` (the message data is about to go out), ``sent``
    (the server accepted it) and ``failed`` (it did not). Each has the
    ``period``, ``kind``, ``key``, ``recipient``, ``file``, ``sha256``,
    ``message_id`` and ``at`` (UTC). Lines cut short by a kill are ignored.
    """

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = Path(path)
        self.events: dict[tuple, list[dict]] = {}
        if self.path.is_file():
            for line in self.path.read_text(encoding="utf-8").splitlines():
                with suppress(json.JSONDecodeError, KeyError, TypeError):
                    entry = json.loads(line)
                    self._index(entry)

    def _index(self, entry: dict) -> None:
        key = (entry["period"], entry["kind"], entry["key"], entry["recipient"])
        self.events.setdefault(key, []).append(entry)

    def history(self, period: str, delivery: Delivery) -> list[dict]:
        return self.events.get((period, *delivery.identity), [])

    def add(self, entry: dict) -> None:
        """Append ``entry`` and force it to disk (and the folder entry, the first time)."""
        created = not self.path.exists()
        with self.path.open("ab") as handle:
            if not created and handle.tell() and _last_byte(self.path) != b"\n":
                handle.write(b"\n")  # a line a kill cut short must not swallow this one
            handle.write(json.dumps(entry, sort_keys=True).encode("utf-8") + b"\n")
            handle.flush()
            os.fsync(handle.fileno())
        if created:
            folder = os.open(self.path.parent, os.O_RDONLY)
            try:
                os.fsync(folder)
            finally:
                os.close(folder)
        self._index(entry)


def _last_byte(path: Path) -> bytes:
    with path.open("rb") as handle:
        handle.seek(-1, os.SEEK_END)
        return handle.read(1)


@contextmanager
def _signals_held() -> Iterator[None]:
    """Hold SIGINT, SIGTERM and the timeout until the block ends, then act on the first.

    The handlers in force (``run.stopping``'s, which raise ``Interrupted``)
    are swapped for one that only notes the signal, and called with it at
    the end. Python runs signal handlers in the main thread whatever thread
    the signal reaches, so swapping handlers holds them where blocking the
    signal in one thread would not. Elsewhere than the main thread there is
    nothing to hold.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    noted: list[tuple[int, object]] = []
    previous: dict[int, object] = {}
    try:
        for signum in _HELD_SIGNALS:
            previous[signum] = signal.signal(signum, lambda n, frame: noted.append((n, frame)))
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        if noted:
            signum, frame = noted[0]
            handler = previous.get(signum)
            if callable(handler):
                handler(signum, frame)  # run.stopping's handler raises Interrupted here
            elif handler == signal.SIG_DFL:
                signal.raise_signal(signum)


# --------------------------------------------------------------------------- messages


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _message_id(period: str, delivery: Delivery, sender: str) -> str:
    """The same for the same pack, recipient and month: a re-send after a kill is one mail."""
    digest = hashlib.sha256("\0".join([period, delivery.kind, delivery.key,
                                       delivery.recipient or "", delivery.sha256 or ""])
                            .encode("utf-8")).hexdigest()[:32]
    domain = parseaddr(sender)[1].rpartition("@")[2]
    return f"<{digest}.cxreports@{domain}>"


def build_message(delivery: Delivery, *, sender: str, out: str | os.PathLike,
                  attachment: bytes, period: str, when: datetime | None = None) -> EmailMessage:
    """The e-mail for ``delivery``: a text body (and the HTML report as an alternative
    where the run made one) with the PDF attached.

    Examples
    --------
    >>> d = Delivery("packs", "S01", "dev@example.com", "packs/S01.pdf", "0" * 64,
    ...              subject="Your coaching pack for October 2026", body="Hello Dev,")
    >>> msg = build_message(d, sender="cx@example.com", out=".", attachment=b"%PDF-1.7",
    ...                     period="2026-10")
    >>> msg["To"], msg.get_content_type(), [p.get_filename() for p in msg.iter_attachments()]
    ('dev@example.com', 'multipart/mixed', ['coaching-pack-2026-10-S01.pdf'])
    """
    msg = EmailMessage(policy=_POLICY)
    msg["From"] = sender
    msg["To"] = delivery.recipient
    msg["Subject"] = delivery.subject
    msg["Date"] = format_datetime(when or _now())
    msg["Message-ID"] = delivery.message_id or _message_id(period, delivery, sender)
    msg["Auto-Submitted"] = "auto-generated"
    msg["X-CXReports-File"] = delivery.file
    msg["X-CXReports-SHA256"] = delivery.sha256
    msg.set_content(delivery.body)
    if delivery.html:
        msg.add_alternative((Path(out) / delivery.html).read_text(encoding="utf-8"),
                            subtype="html")
    name = f"{_ATTACHMENT.get(delivery.kind, delivery.kind)}-{period}-{Path(delivery.file).name}"
    msg.add_attachment(attachment, maintype="application", subtype="pdf", filename=name)
    return msg


def _wire_bytes(msg: EmailMessage) -> bytes:
    """The message as SMTP carries it (CRLF line ends), as ``smtplib.send_message`` makes it."""
    buffer = io.BytesIO()
    BytesGenerator(buffer, policy=msg.policy.clone(linesep="\r\n")).flatten(msg, linesep="\r\n")
    return buffer.getvalue()


# --------------------------------------------------------------------------- SMTP


class _Smtp:
    """One SMTP connection, opened (and logged into) when first needed, reopened after a drop."""

    def __init__(self, smtp: SmtpParams, username: str | None, password: str | None) -> None:
        self.smtp, self.username, self._password = smtp, username, password
        self.conn: smtplib.SMTP | None = None

    def connection(self) -> smtplib.SMTP:
        if self.conn is not None:
            return self.conn
        host, port, timeout = self.smtp.host, self.smtp.port, self.smtp.timeout
        context = ssl.create_default_context()
        if self.smtp.security == "ssl":
            conn = smtplib.SMTP_SSL(host, port, timeout=timeout, context=context)
        else:
            conn = smtplib.SMTP(host, port, timeout=timeout)
        try:
            if self.smtp.security == "starttls":
                conn.starttls(context=context)
            if self.username is not None:
                conn.login(self.username, self._password or "")
        except BaseException:
            conn.close()
            raise
        self.conn = conn
        return conn

    def drop(self) -> None:
        if self.conn is not None:
            self.conn.close()
            self.conn = None

    def quit(self) -> None:
        if self.conn is not None:
            with suppress(Exception):
                self.conn.quit()
            self.drop()


def _text(response: bytes | str) -> str:
    text = response.decode("utf-8", "replace") if isinstance(response, bytes) else str(response)
    return " ".join(text.split())


def _classify(exc: Exception) -> tuple[str, str]:
    """``(fatal | permanent | transient, reason)`` for an error sending one message."""
    if isinstance(exc, smtplib.SMTPAuthenticationError):
        return "fatal", f"login refused: {exc.smtp_code} {_text(exc.smtp_error)}"
    if isinstance(exc, smtplib.SMTPNotSupportedError):
        return "fatal", f"the server does not support it: {exc}"
    if isinstance(exc, ssl.SSLCertVerificationError):
        return "fatal", f"the server's TLS certificate is not trusted: {exc.verify_message}"
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        code, text = next(iter(exc.recipients.values()))
        return ("permanent" if code >= 500 else "transient",
                f"recipient refused: {code} {_text(text)}")
    if isinstance(exc, smtplib.SMTPSenderRefused) and exc.smtp_code >= 500:
        return "fatal", f"sender {exc.sender} refused: {exc.smtp_code} {_text(exc.smtp_error)}"
    if isinstance(exc, smtplib.SMTPResponseException):
        return ("permanent" if exc.smtp_code >= 500 else "transient",
                f"refused: {exc.smtp_code} {_text(exc.smtp_error)}")
    if isinstance(exc, smtplib.SMTPServerDisconnected):
        return "transient", f"connection lost: {exc or type(exc).__name__}"
    if isinstance(exc, OSError):  # refused, timed out, reset, a TLS handshake that failed
        return "transient", f"connection failed: {exc or type(exc).__name__}"
    return "permanent", f"{type(exc).__name__}: {exc}"


def _hand_over(conn: smtplib.SMTP, sender: str, delivery: Delivery, payload: bytes,
               journal: SentJournal, base: dict) -> None:
    """One SMTP transaction; the data and its journal lines are one step for a clean stop."""
    conn.ehlo_or_helo_if_needed()
    code, response = conn.mail(sender)
    if code != 250:
        with suppress(smtplib.SMTPException, OSError):
            conn.rset()
        raise smtplib.SMTPSenderRefused(code, response, sender)
    code, response = conn.rcpt(delivery.recipient)
    if code not in (250, 251):
        with suppress(smtplib.SMTPException, OSError):
            conn.rset()
        raise smtplib.SMTPRecipientsRefused({delivery.recipient: (code, response)})
    with _signals_held():
        journal.add({**base, "event": "sending", "at": _now().isoformat(timespec="seconds")})
        try:
            code, response = conn.data(payload)
            if code != 250:
                with suppress(smtplib.SMTPException, OSError):
                    conn.rset()
                raise smtplib.SMTPDataError(code, response)
        except Exception as exc:
            journal.add({**base, "event": "failed", "at": _now().isoformat(timespec="seconds"),
                         "reason": _classify(exc)[1]})
            raise
        delivery.at = _now().isoformat(timespec="seconds")
        journal.add({**base, "event": "sent", "at": delivery.at})
        delivery.status, delivery.reason = "sent", None


def send_deliveries(report: DeliveryReport, *, params: DeliverParams,
                    out: str | os.PathLike, password: str | None = None,
                    resend_changed: bool = False,
                    on_done: Callable[[Delivery], None] | None = None) -> DeliveryReport:
    """Send (or, in a dry run, write) the planned messages of ``report``, exactly once.

    Updates each delivery's ``status`` as it goes, so after an
    :class:`~cxreports.core.errors.Interrupted` the report says what was
    sent. ``on_done`` is called once for each planned message (sent,
    written, failed, already sent or held), not for those skipped at
    planning; it reports them (only retries and warnings are logged here).
    """
    out = Path(out)
    period = report.period
    journal = SentJournal(out / SENT_JOURNAL)
    outbox = out / OUTBOX
    if report.mode == "dry-run" and outbox.is_dir():
        for stale in outbox.glob("*.eml"):  # the outbox shows this dry run only
            stale.unlink()
    todo = []
    for delivery in report.deliveries:
        if delivery.status != "planned":
            continue
        history = journal.history(period, delivery)
        sent = [e for e in history if e.get("event") == "sent"]
        delivery.message_id = _message_id(period, delivery, params.sender)
        if sent and sent[-1].get("sha256") == delivery.sha256:
            delivery.status, delivery.at = "already_sent", sent[-1].get("at")
            delivery.message_id = sent[-1].get("message_id", delivery.message_id)
            if on_done:
                on_done(delivery)
            continue
        if history and history[-1].get("event") == "sending":
            # Killed while handing it over: the server may have it. Same Message-ID.
            delivery.reason = "in doubt after a killed run: sent again with the same Message-ID"
            log.warning("deliver: %s to %s was being sent when a run was killed; sending it "
                        "again with the same Message-ID", delivery.file, delivery.recipient)
        elif sent and not resend_changed:
            delivery.status = "held"
            delivery.reason = (f"{delivery.file} changed since it was sent on {sent[-1]['at']}; "
                               "not sent again (--resend-changed sends it)")
            log.warning("deliver: %s", delivery.reason)
            if on_done:
                on_done(delivery)
            continue
        todo.append(delivery)

    smtp = None
    if report.mode == "send":
        smtp = _Smtp(params.smtp, params.username, password)
    envelope_sender = parseaddr(params.sender)[1]
    interval = 60.0 / params.rate_limit if params.rate_limit else 0.0
    last_send: float | None = None
    given_up: str | None = None
    lost_in_a_row = 0
    finished = False
    try:
        for delivery in todo:
            if given_up is not None:
                delivery.status, delivery.reason = "failed", f"not sent: {given_up}"
                if on_done:
                    on_done(delivery)
                continue
            data = (out / delivery.file).read_bytes()
            if hashlib.sha256(data).hexdigest() != delivery.sha256:
                delivery.status = "failed"
                delivery.reason = f"{delivery.file} changed while delivering; not sent"
                if on_done:
                    on_done(delivery)
                continue
            msg = build_message(delivery, sender=params.sender, out=out, attachment=data,
                                period=period)
            if smtp is None:
                name = (f"{delivery.kind}--{safe_filename(delivery.key)}--"
                        f"{safe_filename(delivery.recipient)}.eml")
                atomic_write_bytes(outbox / name, msg.as_bytes())
                delivery.status, delivery.eml = "written", f"{OUTBOX}/{name}"
                if on_done:
                    on_done(delivery)
                continue
            payload = _wire_bytes(msg)
            base = {"period": period, "kind": delivery.kind, "key": delivery.key,
                    "recipient": delivery.recipient, "file": delivery.file,
                    "sha256": delivery.sha256, "message_id": delivery.message_id}
            for attempt in range(params.retries + 1):
                if last_send is not None and interval:
                    time.sleep(max(0.0, last_send + interval - time.monotonic()))
                last_send = time.monotonic()
                delivery.attempts = attempt + 1
                try:
                    _hand_over(smtp.connection(), envelope_sender, delivery, payload,
                               journal, base)
                    lost_in_a_row = 0
                    break
                except Exception as exc:  # one message's failure must not stop the others
                    kind, reason = _classify(exc)
                    if kind == "transient":
                        smtp.drop()
                        if attempt < params.retries:
                            wait = params.retry_seconds * 2 ** attempt
                            log.warning("deliver: %s: %s; trying again in %.1fs",
                                        delivery.name, reason, wait)
                            time.sleep(wait)
                            continue
                        reason = f"{reason} (gave up after {attempt + 1} attempts)"
                        lost_in_a_row += 1
                        if lost_in_a_row >= 2:
                            given_up = f"the server at {params.smtp.host} keeps failing ({reason})"
                    elif kind == "fatal":
                        given_up = reason
                    delivery.status, delivery.reason = "failed", reason
                    break
            if on_done:
                on_done(delivery)
        finished = True
    finally:
        if smtp is not None:  # stopped: close at once rather than wait for a goodbye
            (smtp.quit if finished else smtp.drop)()
    return report
