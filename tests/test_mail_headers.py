"""Headers, MIME parts and addresses built from data (issue 14): nothing a plan, a contact or a
note holds may add a header, a recipient or a MIME part, and one address that cannot be sent
to must fail alone. Messages are read back as a real SMTP server receives them and as the
Maildir files are written, and parsed with the email package like a mail client would.
"""

from __future__ import annotations

import dataclasses
import email
import email.policy
import json
import mailbox
import re
import tomllib
from collections.abc import Iterator
from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import jinja2
import pytest
import yaml
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from sqlalchemy import text

from tests.conftest import CONTACTS, SEED, Cli, seed_data
from tests.smtp_server import SmtpServer
from tests.test_render import TEMPLATES, digest, due_soon, item, overdue
from worker.db import make_engine
from worker.mail.envelope import ENVELOPE_HEADER
from worker.mail.errors import PermanentError
from worker.mail.headers import make_address
from worker.mail.maildir import MaildirMailer
from worker.mail.message import message_bytes
from worker.mail.render import render_digest
from worker.mail.smtp import SmtpConfig, SmtpMailer
from worker.mail.templating import make_environment

# Decodes to a line break and a Bcc header; the email package of Python 3.11 and 3.12 used
# to write what it decoded.
FORGED = "=?utf-8?q?x=0D=0ABcc:_attacker@evil.example?="
FORGED_B64 = "=?utf-8?b?DQpCY2M6IGF0dGFja2VyQGV2aWwuZXhhbXBsZQ==?="
QA = "head-of-qa@example.org"
AS_OF = "2012-09-24"  # WS1-01 (Head of QA) is due within the week
HEADERS = [
    "Subject",
    "From",
    "To",
    "Reply-To",
    "Date",
    "Message-ID",
    "Auto-Submitted",
    "X-Planworker-Job",
    "MIME-Version",
    "Content-Type",
]


def clean(value: str) -> str:
    """What a header may show of `value`: printable characters, whitespace runs as one space."""
    kept = "".join(ch for ch in value if ch.isprintable() or ch.isspace())
    return " ".join(kept.split())


def parse(data: bytes) -> EmailMessage:
    parsed = email.message_from_bytes(data, policy=email.policy.default)
    assert isinstance(parsed, EmailMessage)
    return parsed


def header_names(message: EmailMessage) -> list[str]:
    return [name for name in message if name != ENVELOPE_HEADER]


def only_address(message: EmailMessage, header: str) -> tuple[str, str]:
    (address,) = message[header].addresses
    return address.display_name, address.addr_spec


def toml_string(value: str) -> str:
    # JSON's escapes are TOML's, but for DEL, which TOML wants escaped too.
    return json.dumps(value, ensure_ascii=False).replace("\x7f", "\\u007f")


def write_contacts(path: Path, change: dict[str, Any]) -> Path:
    """The shipped contacts file with `change` made to it: {"administrator": {...},
    "Head of QA": {...}} updates those entries, "board" the first board member."""
    data = tomllib.loads(CONTACTS.read_text(encoding="utf-8"))
    for key, values in change.items():
        if key == "board":
            data["board"][0].update(values)
        else:
            (data if key == "administrator" else data["roles"])[key].update(values)
    lines = ["[administrator]"]
    lines += [f"{k} = {toml_string(v)}" for k, v in data["administrator"].items()]
    for person in data["board"]:
        lines += ["[[board]]", *(f"{k} = {toml_string(v)}" for k, v in person.items())]
    for name, role in data["roles"].items():
        lines.append(f"[roles.{toml_string(name)}]")
        for k, v in role.items():
            shown = "[" + ", ".join(map(toml_string, v)) + "]" if isinstance(v, list) else None
            lines.append(f"{k} = {shown or toml_string(v)}")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def use_smtp(cli: Cli, server: SmtpServer) -> None:
    cli.env.update(
        {
            "PLANWORKER_MAIL__BACKEND": "smtp",
            "PLANWORKER_SMTP__HOST": server.host,
            "PLANWORKER_SMTP__PORT": str(server.port),
            "PLANWORKER_SMTP__SECURITY": "none",
            "PLANWORKER_SMTP__TIMEOUT": "5",
        }
    )


def maildir_messages(folder: Path) -> list[tuple[list[str], EmailMessage]]:
    """Each file's envelope (its trace header) and message."""
    found = []
    for key in mailbox.Maildir(folder, create=False).iterkeys():
        message = parse(mailbox.Maildir(folder, create=False).get_bytes(key))
        envelope = [a.strip() for a in str(message[ENVELOPE_HEADER]).split(",")]
        found.append((envelope, message))
    return found


def states(cli: Cli) -> dict[str, list[dict[str, Any]]]:
    """The ledger's messages by state, read straight from the database."""
    engine = make_engine(cli.db_url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                text("SELECT id, state, recipient_email, last_error FROM messages ORDER BY id")
            ).mappings()
            by_state: dict[str, list[dict[str, Any]]] = {}
            for row in rows:
                by_state.setdefault(row["state"], []).append(dict(row))
    finally:
        engine.dispose()
    return by_state


@pytest.fixture
def server() -> Iterator[SmtpServer]:
    with SmtpServer("plain") as smtp:
        yield smtp


# --- 1. Headers forged through data ----------------------------------------------------------


def delivered(cli: Cli, server: SmtpServer, backend: str) -> list[tuple[list[str], bytes]]:
    """(envelope recipients, message bytes) of every message a remind run sent."""
    if backend == "smtp":
        use_smtp(cli, server)
        cli("remind", "--as-of", AS_OF)
        return [(r.rcpt_tos, r.data) for r in server.received]
    cli("remind", "--as-of", AS_OF)
    box = mailbox.Maildir(cli.maildir, create=False)
    found = []
    for key in box.iterkeys():
        data = box.get_bytes(key)
        found.append(([a.strip() for a in str(parse(data)[ENVELOPE_HEADER]).split(",")], data))
    return found


@pytest.mark.parametrize("backend", ["smtp", "maildir"])
@pytest.mark.parametrize("forged", [FORGED, FORGED_B64])
def test_a_header_forged_through_an_encoded_word_in_the_data_is_never_written(
    cli: Cli, server: SmtpServer, tmp_path: Path, backend: str, forged: str
) -> None:
    plan = json.loads(json.dumps(seed_data()))
    plan["plan"]["organisation"] = f"Council {forged}"  # into every Subject
    seed = tmp_path / "plan.yaml"
    seed.write_text(yaml.safe_dump(plan, allow_unicode=True), encoding="utf-8")
    contacts = write_contacts(
        tmp_path / "contacts.toml",
        {"Head of QA": {"person": forged}, "administrator": {"name": f"Admin {forged}"}},
    )
    cli.env["PLANWORKER_CONTACTS_FILE"] = str(contacts)
    cli.env["PLANWORKER_MAIL__FROM_NAME"] = f"Reminders {forged}"  # the From display name
    cli("plan", "import", str(seed))

    sent = delivered(cli, server, backend)
    assert sent
    for envelope, data in sent:
        message = parse(data)
        head = data.split(b"\n\n" if backend == "maildir" else b"\r\n\r\n", 1)[0]
        assert not re.search(rb"^(bcc|cc):", head, re.IGNORECASE | re.MULTILINE)
        assert header_names(message) == HEADERS
        to_name, to = only_address(message, "To")
        assert envelope == [to]  # the recipients are exactly the intended one
        assert str(message["Subject"]).endswith(f"Council {forged}")  # shown as written
        shown, sender = only_address(message, "From")
        assert sender == "planworker@example.org" and same_name(shown, f"Reminders {forged}")
        assert same_name(only_address(message, "Reply-To")[0], f"Admin {forged}")
        if to == QA:
            assert same_name(to_name, forged)
    assert QA in [to for envelope, _ in sent for to in envelope]
    assert not [to for envelope, _ in sent for to in envelope if "evil" in to]


def test_the_board_digest_carries_no_header_forged_through_an_encoded_word(
    cli: Cli, tmp_path: Path
) -> None:
    plan = json.loads(json.dumps(seed_data()))
    plan["plan"]["organisation"] = f"Council {FORGED}"
    seed = tmp_path / "plan.yaml"
    seed.write_text(yaml.safe_dump(plan, allow_unicode=True), encoding="utf-8")
    contacts = write_contacts(tmp_path / "contacts.toml", {"board": {"name": FORGED_B64}})
    cli.env["PLANWORKER_CONTACTS_FILE"] = str(contacts)
    cli("plan", "import", str(seed))
    cli("digest", "--as-of", "2012-10-01")
    found = maildir_messages(cli.maildir)
    board = tomllib.loads(contacts.read_text(encoding="utf-8"))["board"]
    assert sorted(to for envelope, _ in found for to in envelope) == sorted(
        p["email"] for p in board
    )
    for envelope, message in found:
        assert header_names(message) == HEADERS
        assert [only_address(message, "To")[1]] == envelope
        assert str(message["Subject"]).endswith(f"Council {FORGED}")
    first = next(m for e, m in found if e == [board[0]["email"]])
    assert same_name(only_address(first, "To")[0], FORGED_B64)


# Names and organisations as hostile as text gets: encoded words, line breaks of every kind,
# NUL, quotes, angle brackets, commas and any other character.
HOSTILE = st.lists(
    st.one_of(
        st.sampled_from(
            [FORGED, FORGED_B64, "\r\nBcc: a@evil.example", "\r", "\n", "\x00", "\u2028", "\x85"]
        ),
        st.sampled_from(['"', "\\", "<a@evil.example>", ",", ";", ":", "=?", "?=", "é", "😀"]),
        st.text(st.characters(exclude_categories=("Cs",)), max_size=40),
    ),
    max_size=12,
).map("".join)


@pytest.fixture(scope="module")
def module_server() -> Iterator[SmtpServer]:
    with SmtpServer("plain") as smtp:
        yield smtp


@pytest.fixture(scope="module")
def env() -> jinja2.Environment:
    return make_environment([TEMPLATES])


def same_name(shown: str, written: str) -> bool:
    # Python's reader puts a space between two encoded words of a display name, where RFC 2047
    # joins them: the characters must be the same, in the same order.
    seen = "".join(shown.split())
    if len(clean(written)) > 200:  # a long name is shortened to 200 characters
        return len(seen) <= 200 and "".join(clean(written).split()).startswith(seen.rstrip("…"))
    return seen == "".join(clean(written).split())


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(organisation=HOSTILE, to_name=HOSTILE, from_name=HOSTILE, reply_name=HOSTILE)
@example(organisation=FORGED, to_name=FORGED, from_name=FORGED_B64, reply_name="x" * 2000)
def test_any_names_and_organisation_give_exactly_the_intended_headers_and_envelope(
    module_server: SmtpServer,
    env: jinja2.Environment,
    organisation: str,
    to_name: str,
    from_name: str,
    reply_name: str,
) -> None:
    lead = dataclasses.replace(digest(overdue(), name=to_name), organisation=organisation)
    rendered = render_digest(env, lead)
    data = message_bytes(
        rendered,
        sender=make_address(from_name, "planworker@bücher.example"),
        to=make_address(to_name, "lead@example.org"),
        reply_to=make_address(reply_name, "admin@example.org"),
        message_id="<1@example.org>",
        date=datetime(2012, 9, 17, 7, 30, tzinfo=UTC),
        headers={"X-Planworker-Job": "remind 2012-09-17"},
    )
    before = len(module_server.received)
    config = SmtpConfig(module_server.host, module_server.port, "none", timeout=5)
    with SmtpMailer(config) as mailer:
        mailer.send(data, sender="planworker@example.org", recipients=["lead@example.org"])
    (received,) = module_server.received[before:]
    assert received.rcpt_tos == ["lead@example.org"]
    message = parse(received.data)
    assert header_names(message) == HEADERS
    assert str(message["Subject"]) == clean(f"Action plan: 1 overdue — {organisation}")
    shown, address = only_address(message, "To")
    assert address == "lead@example.org" and same_name(shown, to_name)
    shown, address = only_address(message, "From")
    assert address == "planworker@xn--bcher-kva.example" and same_name(shown, from_name)
    shown, address = only_address(message, "Reply-To")
    assert address == "admin@example.org" and same_name(shown, reply_name)
    assert all(len(line) <= 998 for line in received.data.split(b"\r\n"))


# --- 2. A MIME part injected through a status note -------------------------------------------

BOUNDARY = re.compile(rb'boundary="([^"]+)"')


def smuggled_note(boundaries: list[str]) -> str:
    """A note that would end the HTML part and add one of its own for each boundary."""
    lines = []
    for b in boundaries:
        lines += [
            f"--{b}",
            'Content-Type: text/html; charset="utf-8"',
            "",
            "<p>Injected part</p>",
            f"--{b}--",
            f"--{b}-- trailing",
        ]
    return "\n".join(["Audit slipped.", *lines, "End of note."])


@pytest.mark.parametrize("with_calendar", [True, False], ids=["with-calendar", "no-calendar"])
def test_a_note_holding_the_messages_boundary_adds_no_mime_part(
    env: jinja2.Environment, with_calendar: bool
) -> None:
    def message(note: str) -> bytes:
        items = [item(latest_note=note)] + ([due_soon()] if with_calendar else [])
        return message_bytes(
            render_digest(env, digest(*items)),
            sender=make_address("Reminders", "planworker@example.org"),
            to=make_address("Head of QA", "lead@example.org"),
            reply_to=None,
            message_id="<same-key@example.org>",  # the ledger key: known to anyone
            date=datetime(2012, 9, 17, 7, 30, tzinfo=UTC),
        )

    # A writer who has seen one message knows the boundaries its next one would use.
    seen = [b.decode() for b in BOUNDARY.findall(message("Audit slipped."))]
    assert seen
    data = message(smuggled_note(seen))
    parsed = parse(data)
    kinds = [part.get_content_type() for part in parsed.walk()]
    if with_calendar:
        assert kinds == [
            "multipart/mixed",
            "multipart/alternative",
            "text/plain",
            "text/html",
            "text/calendar",
        ]
    else:
        assert kinds == ["multipart/alternative", "text/plain", "text/html"]
    assert not parsed.defects
    html = parsed.get_body(("html",))
    text_part = parsed.get_body(("plain",))
    assert html is not None and text_part is not None
    assert "Injected part" in html.get_content()  # the note is shown, inert, as text
    assert "End of note." in html.get_content()
    assert "End of note." in text_part.get_content()
    assert data == message(smuggled_note(seen))  # the same message, byte for byte


# --- 3. One address stops everyone ------------------------------------------------------------


def test_a_non_ascii_local_part_is_refused_at_config_check_naming_the_contact(
    cli: Cli, tmp_path: Path
) -> None:
    contacts = write_contacts(
        tmp_path / "contacts.toml", {"Head of QA": {"email": "jösé@example.org"}}
    )
    cli("plan", "import", str(SEED))
    cli.env["PLANWORKER_CONTACTS_FILE"] = str(contacts)
    checked = cli("config", "check", ok=False)
    assert checked.exit_code == 1
    assert "Head of QA" in checked.output and "jösé@example.org" in checked.output
    assert "SMTPUTF8" in checked.output and "Traceback" not in checked.output
    reminded = cli("remind", "--as-of", AS_OF, ok=False)
    assert reminded.exit_code == 1 and "Head of QA" in reminded.output
    assert states(cli) == {}  # nothing half-recorded


def test_an_address_no_backend_can_take_fails_alone_and_the_run_goes_on(
    cli: Cli, tmp_path: Path
) -> None:
    cli("plan", "import", str(SEED))
    # Recorded while the Maildir could not be written: every message waits in the ledger.
    blocked = tmp_path / "not-a-folder"
    blocked.write_text("", encoding="utf-8")
    cli.env["PLANWORKER_MAIL__MAILDIR"] = str(blocked)
    cli("remind", "--as-of", AS_OF, ok=False)
    before = states(cli)
    waiting = before["pending"]
    assert len(waiting) > 2 and set(before) <= {"pending", "sending"}
    # One of them holds an address from before addresses were checked when read.
    bad = waiting[1]["id"]
    engine = make_engine(cli.db_url)
    with engine.begin() as conn:
        conn.execute(
            text("UPDATE messages SET recipient_email = :bad WHERE id = :id"),
            {"bad": "jösé@example.org", "id": bad},
        )
    engine.dispose()
    del cli.env["PLANWORKER_MAIL__MAILDIR"]
    result = cli("remind", "--as-of", AS_OF, ok=False)
    assert result.exit_code == 1 and "jösé@example.org" in result.output
    after = states(cli)
    assert set(after) == {"sent", "failed"}  # none left in "sending" or waiting
    (failed,) = after["failed"]
    assert failed["id"] == bad and "not ASCII" in failed["last_error"]
    sent = {m["id"] for m in after["sent"]}
    planned = {m["id"] for found in before.values() for m in found}
    assert planned - {bad} <= sent
    # The administrator hears of the one that failed.
    notices = [m["recipient_email"] for m in after["sent"] if m["id"] not in planned]
    assert notices and set(notices) == {"planworker-admin@example.org"}
    assert len(maildir_messages(cli.maildir)) == len(sent)


IDN = "qa@bücher.example"
IDN_ASCII = "qa@xn--bcher-kva.example"


@pytest.mark.parametrize("backend", ["maildir", "smtp"])
def test_an_international_domain_goes_out_as_its_a_label_in_headers_and_envelope(
    cli: Cli, server: SmtpServer, tmp_path: Path, backend: str
) -> None:
    contacts = write_contacts(tmp_path / "contacts.toml", {"Head of QA": {"email": IDN}})
    cli.env["PLANWORKER_CONTACTS_FILE"] = str(contacts)
    cli("config", "check")
    cli("plan", "import", str(SEED))
    sent = delivered(cli, server, backend)
    assert set(states(cli)) == {"sent"}
    (envelope, data) = next((e, d) for e, d in sent if IDN_ASCII in e)
    assert envelope == [IDN_ASCII]
    message = parse(data)
    assert only_address(message, "To")[1] == IDN_ASCII
    to_line = re.search(rb"^To:.*(?:\r?\n[ \t].*)*", data, re.MULTILINE)
    assert to_line is not None and b"=?" not in to_line.group(0)  # no encoded word in an address
    assert f"<{IDN_ASCII}>".encode() in to_line.group(0)


def test_a_long_display_name_is_refused_at_config_check_naming_the_contact(
    cli: Cli, tmp_path: Path
) -> None:
    contacts = write_contacts(tmp_path / "contacts.toml", {"Head of QA": {"person": "x" * 2000}})
    cli.env["PLANWORKER_CONTACTS_FILE"] = str(contacts)
    checked = cli("config", "check", ok=False)
    assert checked.exit_code == 1
    assert "Head of QA" in checked.output and "person" in checked.output
    assert "2000 characters" in checked.output


def test_a_long_display_name_is_shortened_so_the_server_takes_the_message(
    server: SmtpServer, env: jinja2.Environment
) -> None:
    data = message_bytes(
        render_digest(env, digest(overdue())),
        sender=make_address("Reminders", "planworker@example.org"),
        to=make_address("x" * 2000, "lead@example.org"),
        reply_to=make_address("Zoë " * 500, "admin@example.org"),
        message_id="<1@example.org>",
        date=datetime(2012, 9, 17, 7, 30, tzinfo=UTC),
    )
    with SmtpMailer(SmtpConfig(server.host, server.port, "none", timeout=5)) as mailer:
        mailer.send(data, sender="planworker@example.org", recipients=["lead@example.org"])
    (received,) = server.received
    message = received.message
    name, address = only_address(message, "To")
    assert address == "lead@example.org" and same_name(name, "x" * 2000)
    assert same_name(only_address(message, "Reply-To")[0], "Zoë " * 500)
    assert all(len(line) <= 998 for line in received.data.split(b"\r\n"))


def test_the_maildir_backend_files_an_international_domain_and_refuses_a_wide_local_part(
    tmp_path: Path,
) -> None:
    data = b"From: a@example.org\r\nSubject: hi\r\n\r\nhello\r\n"
    mailer = MaildirMailer(tmp_path / "outbox")
    mailer.send(data, sender="a@example.org", recipients=[IDN])
    ((envelope, _),) = maildir_messages(tmp_path / "outbox")
    assert envelope == [IDN_ASCII]
    with pytest.raises(PermanentError) as refused:
        mailer.send(data, sender="a@example.org", recipients=["jösé@example.org"])
    assert "jösé@example.org" in refused.value.reason and not refused.value.backend
    assert len(maildir_messages(tmp_path / "outbox")) == 1


@pytest.mark.parametrize(
    ("variable", "value", "reason"),
    [
        ("PLANWORKER_MAIL__FROM_ADDRESS", "plänworker@example.org", "SMTPUTF8"),
        ("PLANWORKER_MAIL__REPLY_TO", "réponses@example.org", "SMTPUTF8"),
        ("PLANWORKER_MAIL__FROM_NAME", "Reminders" * 30, "270 characters"),
    ],
)
def test_the_senders_address_and_name_follow_the_same_rules_at_config_check(
    cli: Cli, variable: str, value: str, reason: str
) -> None:
    cli.env[variable] = value
    checked = cli("config", "check", ok=False)
    assert checked.exit_code == 1 and "Traceback" not in checked.output
    assert variable in checked.output and reason in checked.output  # where, and why
