"""E-mail delivery (issue 14) against a real SMTP server on localhost (aiosmtpd).

Every test delivers a private copy of the session's monthly run
(``copy_run(shared_run, ...)``): its packs and scorecards are made, so no
PDF is rendered here. The server is aiosmtpd's, in a thread of this
process, requiring a login; :class:`Mailbox` keeps what it accepted and can
refuse a recipient, drop the connection once, or SIGKILL the sender while a
message is being handed over (before it is accepted, which is when SMTP
hands responsibility for a message to the server).
"""

from __future__ import annotations

import base64
import csv
import email
import hashlib
import json
import os
import signal
import socket
import subprocess
import sys
import threading
from email import policy
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from cxreports.run.params import PASSWORD_VARIABLE, load_params
from tests.conftest import copy_run, invoke_cli, manifest, run_cli

pytestmark = pytest.mark.filterwarnings(
    "ignore:Requiring AUTH while not requiring TLS:UserWarning")  # plain SMTP on localhost

PASSWORD = "Tr0ub4dor-&-3-for-tests"
USER = "cx-reports"


class Mailbox:
    """An aiosmtpd handler that keeps every message it accepts, as parsed e-mails."""

    def __init__(self) -> None:
        self.accepted: list[tuple[list[str], email.message.EmailMessage]] = []
        self.refuse: set[str] = set()  # recipients answered 550 at RCPT
        self.drop_once: set[str] = set()  # recipients whose first DATA loses the connection
        self.kill_at: tuple[int, int] | None = None  # (n-th DATA, pid to SIGKILL) before answering
        self.term_at: int | None = None  # n-th DATA: SIGTERM this process, then accept it
        self.data_seen = 0
        self.logins = 0
        self.port = 0

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address in self.refuse:
            return f"550 5.1.1 <{address}>: mailbox unavailable"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        self.data_seen += 1
        recipient = envelope.rcpt_tos[0]
        if recipient in self.drop_once:
            self.drop_once.discard(recipient)
            server.transport.close()  # the connection drops before the answer: not accepted
            return "421 4.4.2 connection dropped"
        if self.kill_at and self.data_seen == self.kill_at[0]:
            os.kill(self.kill_at[1], signal.SIGKILL)  # our own child, by its id
            return "451 4.3.0 not accepted"  # its sender is gone: nothing was accepted
        if self.term_at == self.data_seen:
            os.kill(os.getpid(), signal.SIGTERM)  # the deliver command runs in this process
        message = email.message_from_bytes(envelope.content, policy=policy.default)
        self.accepted.append((list(envelope.rcpt_tos), message))
        return "250 2.0.0 accepted"

    def authenticate(self, server, session, envelope, mechanism, auth_data) -> AuthResult:
        self.logins += 1
        ok = (isinstance(auth_data, LoginPassword) and auth_data.login == USER.encode()
              and auth_data.password == PASSWORD.encode())
        return AuthResult(success=ok, handled=False)

    def received(self) -> dict[str, list[tuple[str, bytes]]]:
        """Recipient -> [(Message-ID, attachment bytes)] of every accepted message."""
        found: dict[str, list[tuple[str, bytes]]] = {}
        for recipients, message in self.accepted:
            attachments = list(message.iter_attachments())
            assert len(attachments) == 1, "one file per message"
            for recipient in recipients:
                found.setdefault(recipient, []).append(
                    (message["Message-ID"], attachments[0].get_content()))
        return found


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def mailbox():
    box = Mailbox()
    controller = Controller(box, hostname="127.0.0.1", port=_free_port(),
                            authenticator=box.authenticate, auth_required=True,
                            auth_require_tls=False)
    controller.start()
    box.port = controller.port
    try:
        yield box
    finally:
        controller.stop()


@pytest.fixture
def password(monkeypatch):
    monkeypatch.setenv(PASSWORD_VARIABLE, PASSWORD)
    return PASSWORD


def _deliver_params(run, box: Mailbox, name: str = "deliver.yaml", mode: str = "send",
                    **extra) -> Path:
    section = {"mode": mode,
               "smtp": {"host": "127.0.0.1", "port": box.port, "security": "none",
                        "timeout": 10},
               "sender": "CX reports <cx-reports@example.com>", "username": USER,
               "scorecards_to": {"Atlas CX": ["ops@atlas.example"],
                                 "Manila": ["manila@harbor.example"]},
               "rate_limit": None, "retry_seconds": 0.05, **extra.pop("deliver", {})}
    return run.params(name, deliver=section, **extra)


def _expected(run) -> tuple[dict[str, str], dict[str, str]]:
    """Supervisor id -> address (the roster rows of the pack's agents), vendor -> scorecard."""
    with (run.src / "roster.csv").open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    packs, cards = {}, {}
    for entry in manifest(run.out)["outputs"]:
        if entry["step"] == "packs" and entry["status"] == "ok":
            found = {r["supervisor_email"] for r in rows
                     if r["agent_id"] in entry["agents"] and r["supervisor_id"] == entry["key"]}
            (packs[entry["key"]],) = found
        elif entry["step"] == "scorecards" and entry["status"] == "ok":
            cards[entry["key"]] = entry["path"]
    return packs, cards


def _harbor(run) -> str:
    """The vendor of the Manila site in the sample."""
    with (run.src / "roster.csv").open(newline="", encoding="utf-8") as handle:
        return next(r["vendor"] for r in csv.DictReader(handle) if r["site"] == "Manila")


def _assert_no_password(folder: Path, *outputs: str) -> None:
    """The password, and the forms a login sends it in, are in no file under ``folder``."""
    forms = [PASSWORD.encode(), base64.b64encode(PASSWORD.encode()),
             base64.b64encode(f"\0{USER}\0{PASSWORD}".encode())]
    for path in [p for p in folder.rglob("*") if p.is_file()]:
        data = path.read_bytes()
        assert not any(form in data for form in forms), f"password in {path}"
    assert not any(PASSWORD in text for text in outputs)


def _sent_events(out: Path) -> list[dict]:
    return [json.loads(line) for line in (out / "sent.jsonl").read_text().splitlines()]


def test_each_supervisor_receives_exactly_their_pack_and_a_rerun_sends_nothing(
        shared_run, tmp_path, mailbox, password, monkeypatch):
    run = copy_run(shared_run, tmp_path / "run")
    addresses, cards = _expected(run)
    first, second, *rest, mover = sorted(addresses)
    keeper = rest[-1]
    # Roster edits after the run: one address gone, one broken, one team moved to
    # another supervisor (from November: October's packs stay as they were).
    roster = run.src / "roster.csv"
    text = roster.read_text(encoding="utf-8")
    text = text.replace(addresses[first], "").replace(
        addresses[second], addresses[second].replace("@", " at "))
    with roster.open(newline="", encoding="utf-8") as handle:
        template = next(r for r in csv.DictReader(handle) if r["supervisor_id"] == keeper)
    moved = next(o["agents"] for o in manifest(run.out)["outputs"]
                 if o["step"] == "packs" and o["key"] == mover)
    for agent in moved:
        text += ",".join({**template, "agent_id": agent, "valid_from": "2026-11-01",
                          "valid_to": ""}.values()) + "\n"
    roster.write_text(text, encoding="utf-8")
    params = _deliver_params(run, mailbox, deliver={"rate_limit": 1200})

    monkeypatch.chdir(run.folder)  # the parameters name src and out relative to it
    result = invoke_cli("deliver", params.name)

    assert result.exit_code == 1, result.stderr
    received = mailbox.received()
    files = {p: (run.out / p).read_bytes() for p in [f"packs/{k}.pdf" for k in addresses]
             + list(cards.values())}
    wanted = {addresses[k]: f"packs/{k}.pdf" for k in addresses if k not in (first, second,
                                                                               mover)}
    wanted.update({"ops@atlas.example": cards["Atlas CX"],
                   "manila@harbor.example": cards[_harbor(run)]})
    assert set(received) == set(wanted)
    for recipient, messages in received.items():
        assert len(messages) == 1, recipient
        assert messages[0][1] == files[wanted[recipient]], recipient
        others = [p for p, data in files.items() if data == messages[0][1]]
        assert others == [wanted[recipient]]  # their file, and no one else's
    stderr = " ".join(result.stderr.split())
    assert f"packs {first}" in stderr and "no supervisor_email" in stderr
    assert f"packs {second}" in stderr and "is not an e-mail address" in stderr
    assert f"packs {mover}" in stderr and f"team moved: its {len(moved)} agents now " \
        f"report to {keeper}" in stderr
    delivery = manifest(run.out)["delivery"]
    assert delivery["counts"]["sent"] == len(wanted) and delivery["counts"]["skipped"] == 3
    assert {f["key"] for f in delivery["failures"]} == {first, second, mover}
    assert {(f["step"], f["key"].split()[1]) for f in manifest(run.out)["failures"]
            if f["step"] == "deliver"} == {("deliver", first), ("deliver", second),
                                            ("deliver", mover)}
    log = (run.out / "run.log").read_text()
    assert f"deliver: packs {mover} to" in log and "team moved" in log
    sent = [e for e in _sent_events(run.out) if e["event"] == "sent"]
    assert sorted(e["recipient"] for e in sent) == sorted(wanted)
    assert {"recipient", "file", "sha256", "message_id", "at"} <= set(sent[0])

    again = invoke_cli("deliver", params.name, "--resume")
    assert again.exit_code == 1
    assert len(mailbox.accepted) == len(wanted)  # a re-run sends nothing
    assert manifest(run.out)["delivery"]["counts"]["already_sent"] == len(wanted)

    # A pack that changed since it was sent is held, and re-sent only when asked.
    changed = f"packs/{keeper}.pdf"
    (run.out / changed).write_bytes(files[changed] + b"\n%changed\n")
    record = manifest(run.out)
    for entry in record["outputs"]:
        if entry.get("path") == changed:
            entry["sha256"] = hashlib.sha256((run.out / changed).read_bytes()).hexdigest()
    (run.out / "manifest.json").write_text(json.dumps(record))
    held = invoke_cli("deliver", params.name)
    assert len(mailbox.accepted) == len(wanted)
    assert f"held: packs {keeper}" in " ".join(held.stderr.split())
    invoke_cli("deliver", params.name, "--resend-changed")
    resent = mailbox.received()[addresses[keeper]]
    assert len(resent) == 2 and resent[1][1] == (run.out / changed).read_bytes()
    assert resent[0][0] != resent[1][0]  # a new Message-ID for new content
    assert mailbox.logins >= 1
    _assert_no_password(run.out, result.stdout, result.stderr)


def test_a_refused_recipient_and_a_dropped_connection_do_not_stop_the_rest(
        shared_run, tmp_path, mailbox, password, monkeypatch):
    run = copy_run(shared_run, tmp_path / "run")
    addresses, cards = _expected(run)
    refused, dropped = sorted(addresses)[1], sorted(addresses)[2]
    mailbox.refuse.add(addresses[refused])
    mailbox.drop_once.add(addresses[dropped])
    params = _deliver_params(run, mailbox)

    monkeypatch.chdir(run.folder)
    result = invoke_cli("deliver", params.name)

    assert result.exit_code == 1
    stderr = " ".join(result.stderr.split())
    assert f"failed: deliver packs {refused} to {addresses[refused]}: recipient refused: 550" \
        in stderr
    received = mailbox.received()
    assert set(received) == ({a for a in addresses.values() if a != addresses[refused]}
                             | {"ops@atlas.example", "manila@harbor.example"})
    assert all(len(messages) == 1 for messages in received.values())
    assert received[addresses[dropped]][0][1] == (run.out / f"packs/{dropped}.pdf").read_bytes()
    events = [(e["event"], e["key"]) for e in _sent_events(run.out)]
    assert ("failed", dropped) in events and ("sent", dropped) in events
    messages = {m["key"]: m for m in manifest(run.out)["delivery"]["messages"]}
    assert messages[dropped]["attempts"] == 2 and messages[dropped]["status"] == "sent"
    assert messages[refused]["status"] == "failed"
    _assert_no_password(run.out, result.stdout, result.stderr)


def test_the_password_comes_only_from_the_environment_and_is_never_written(
        shared_run, tmp_path, mailbox, monkeypatch):
    run = copy_run(shared_run, tmp_path / "run")
    monkeypatch.chdir(run.folder)
    in_yaml = _deliver_params(run, mailbox, "in_yaml.yaml", deliver={"password": PASSWORD})
    refused = invoke_cli("deliver", in_yaml.name)
    assert refused.exit_code == 2 and "must not hold a password" in refused.stderr
    assert PASSWORD not in refused.stdout + refused.stderr
    in_yaml.unlink()

    params = _deliver_params(run, mailbox)
    monkeypatch.delenv(PASSWORD_VARIABLE, raising=False)
    missing = invoke_cli("deliver", params.name)
    assert missing.exit_code == 2 and PASSWORD_VARIABLE in missing.stderr
    assert mailbox.data_seen == 0

    monkeypatch.setenv(PASSWORD_VARIABLE, PASSWORD)
    result = invoke_cli("deliver", params.name)
    assert result.exit_code == 0, result.stderr
    assert mailbox.logins >= 1 and len(mailbox.accepted) == len(_expected(run)[0]) + 2
    assert PASSWORD not in json.dumps(manifest(run.out))
    _assert_no_password(run.folder / "out", result.stdout, result.stderr)


def test_a_stop_while_a_message_is_handed_over_journals_it_and_a_rerun_sends_the_rest(
        shared_run, tmp_path, mailbox, password, monkeypatch):
    if threading.current_thread() is not threading.main_thread():
        pytest.skip("signal handlers, and so this test's SIGTERM, need the main thread")
    run = copy_run(shared_run, tmp_path / "run")
    total = len(_expected(run)[0]) + 2
    params = _deliver_params(run, mailbox)
    monkeypatch.chdir(run.folder)
    mailbox.term_at = 3  # SIGTERM arrives while the 3rd message's data is with the server

    stopped = invoke_cli("deliver", params.name)

    assert stopped.exit_code == 143, stopped.stderr
    assert f"interrupted: 3 of {total} messages sent; run again" in stopped.stderr
    assert len(mailbox.accepted) == 3
    assert [e["event"] for e in _sent_events(run.out)].count("sent") == 3  # none lost
    assert manifest(run.out)["delivery"]["counts"]["sent"] == 3
    again = invoke_cli("deliver", params.name)
    assert again.exit_code == 0, again.stderr
    received = mailbox.received()
    assert len(received) == total and all(len(m) == 1 for m in received.values())


def test_dry_run_sends_nothing_and_writes_one_eml_per_message(shared_run, tmp_path, mailbox,
                                                               monkeypatch):
    run = copy_run(shared_run, tmp_path / "run")
    addresses, cards = _expected(run)
    params = _deliver_params(run, mailbox, mode="dry-run")
    assert load_params(params).deliver.mode == "dry-run"

    monkeypatch.chdir(run.folder)
    result = invoke_cli("deliver", params.name)

    assert result.exit_code == 0, result.stderr
    assert mailbox.data_seen == 0 and mailbox.logins == 0 and not mailbox.accepted
    assert not (run.out / "sent.jsonl").exists()
    emls = sorted((run.out / "outbox").glob("*.eml"))
    assert len(emls) == len(addresses) + 2
    wanted = {a: f"packs/{k}.pdf" for k, a in addresses.items()}
    wanted.update({"ops@atlas.example": cards["Atlas CX"],
                   "manila@harbor.example": cards[_harbor(run)]})
    seen = set()
    for path in emls:
        message = email.message_from_bytes(path.read_bytes(), policy=policy.default)
        (attachment,) = message.iter_attachments()
        assert attachment.get_content() == (run.out / wanted[message["To"]]).read_bytes()
        assert message["X-CXReports-File"] == wanted[message["To"]]
        seen.add(message["To"])
    assert seen == set(wanted)
    assert manifest(run.out)["delivery"]["counts"]["written"] == len(emls)


def test_deliver_is_off_by_default_and_its_section_is_strict(tmp_path):
    from tests.conftest import write_params

    assert load_params(write_params(tmp_path / "p.yaml", "", "out")).deliver is None
    assert "Example: cxreports deliver" in invoke_cli("deliver", "--help").stdout
    shipped = load_params(Path(__file__).parents[1] / "params" / "monthly.yaml").deliver
    assert shipped is not None and shipped.mode == "dry-run"
    for bad, words in [({"sender": "x@example.com", "mode": "send"}, "needs smtp"),
                       ({"sender": "not an address"}, "is not an e-mail address"),
                       ({"sender": "x@example.com", "subject": "{whoever}"}, "placeholders"),
                       ({"sender": "x@example.com", "scorecards_to": {"V": ["nope"]}},
                        "not an e-mail address"),
                       ({"sender": "x@example.com", "rate": 5}, "unknown key 'deliver.rate'")]:
        result = invoke_cli("deliver", write_params(tmp_path / "bad.yaml", "", "out",
                                                    deliver=bad))
        assert result.exit_code == 2 and words in result.stderr, (bad, result.stderr)


@pytest.mark.slow
def test_run_killed_during_delivery_then_resumed_delivers_every_pack_once(
        shared_run, tmp_path, mailbox, password):
    run = copy_run(shared_run, tmp_path / "run")
    addresses, cards = _expected(run)
    params = _deliver_params(run, mailbox, notebooks=[])
    env = {**os.environ, "COLUMNS": "200", "NO_COLOR": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "cxreports", "run", params.name, "--resume"],
                            cwd=run.folder, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        mailbox.kill_at = (3, proc.pid)  # SIGKILL while the 3rd message is handed over
        stdout, stderr = proc.communicate(timeout=300)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)  # our own child's group, by its id
            proc.communicate()
    assert proc.returncode == -signal.SIGKILL, stderr
    assert len(mailbox.accepted) == 2
    events = _sent_events(run.out)
    assert [e["event"] for e in events] == ["sending", "sent", "sending", "sent", "sending"]

    resumed = run_cli("run", params.name, "--resume", cwd=run.folder)

    assert resumed.returncode == 1, resumed.stderr  # the broken sample's rows set aside
    received = mailbox.received()
    wanted = {*addresses.values(), "ops@atlas.example", "manila@harbor.example"}
    assert set(received) == wanted
    assert all(len(messages) == 1 for messages in received.values())  # exactly once
    for key, address in addresses.items():
        assert received[address][0][1] == (run.out / f"packs/{key}.pdf").read_bytes()
    in_doubt = events[-1]
    assert received[in_doubt["recipient"]][0][0] == in_doubt["message_id"]
    record = manifest(run.out)
    assert record["delivery"]["counts"]["already_sent"] == 2
    assert record["delivery"]["counts"]["sent"] == len(wanted) - 2
    _assert_no_password(run.folder, stdout, stderr, resumed.stdout, resumed.stderr)
