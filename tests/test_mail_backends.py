"""Mail backends against a real SMTP server (aiosmtpd) and real Maildir folders; no mocks.

The backends take finished messages as bytes; the tests build an EmailMessage and pass its bytes.
"""

from __future__ import annotations

import email
import email.policy
import io
import logging
import mailbox
import os
import smtplib
import stat
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from email.message import EmailMessage
from email.parser import BytesHeaderParser
from email.utils import make_msgid
from pathlib import Path
from typing import Literal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.smtp_server import SmtpServer
from worker.mail.backends import Mailer, make_mailer
from worker.mail.console import ConsoleMailer
from worker.mail.envelope import ENVELOPE_HEADER, envelope_sender, message_bytes
from worker.mail.errors import PermanentError, TransientError
from worker.mail.maildir import MaildirMailer
from worker.mail.memory import Kept, MemoryMailer
from worker.mail.smtp import SmtpConfig, SmtpMailer
from worker.mail.smtp_conversation import dot_stuffed

PLAIN = "Action 3.2 (publish the housing strategy) is due on 31 March 2013.\n"
HTML = "<p>Action <b>3.2</b> is due on 31 March 2013.</p>\n"
ICS = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//planworker//test//EN\r\nEND:VCALENDAR\r\n"
USER, PASSWORD = "planworker", "c0rrect-h0rse"
SENDER = "planworker@example.org"


def make_message(subject: str, to: Sequence[str] = ("lead@example.org",)) -> EmailMessage:
    """multipart/mixed: a text + HTML alternative, and an iCalendar attachment."""
    message = EmailMessage(policy=email.policy.SMTP)
    message["From"] = "Plan Worker <planworker@example.org>"
    message["To"] = ", ".join(to)
    message["Subject"] = subject
    message["Message-ID"] = make_msgid(domain="example.org")
    message.set_content(PLAIN)
    message.add_alternative(HTML, subtype="html")
    message.add_attachment(ICS, subtype="calendar", filename="deadlines.ics")
    return message


def send(mailer: Mailer, message: EmailMessage, recipients: Sequence[str]) -> str:
    """What the outbox does: the message's bytes, from its From address, to `recipients`."""
    return mailer.send(message_bytes(message), sender=SENDER, recipients=recipients)


def smtp_config(server: SmtpServer, *, password: str = "", timeout: float = 5.0) -> SmtpConfig:
    security: Literal["none", "starttls", "tls"] = "none" if server.mode == "plain" else server.mode
    return SmtpConfig(
        host=server.host,
        port=server.port,
        security=security,
        username=USER if password else "",
        password=password,
        timeout=timeout,
        ssl_context=server.client_context,
    )


@pytest.fixture
def server() -> Iterator[SmtpServer]:
    with SmtpServer("plain") as running:
        yield running


# --- the contract every backend keeps --------------------------------------------------

Delivered = list[tuple[list[str], EmailMessage]]


@dataclass
class Harness:
    mailer: Mailer
    delivered: Callable[[], Delivered]  # (envelope recipients, parsed message) per delivery


def read_maildir(path: Path) -> Delivered:
    box = mailbox.Maildir(path, create=False)
    found: Delivered = []
    for key in box.iterkeys():
        parsed = email.message_from_bytes(box.get_bytes(key), policy=email.policy.default)
        assert isinstance(parsed, EmailMessage)
        found.append(([a.strip() for a in str(parsed[ENVELOPE_HEADER]).split(",")], parsed))
    return found


@pytest.fixture(
    params=["smtp-plain", "smtp-starttls", "smtp-tls", "smtp-auth", "maildir", "memory"]
)
def harness(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Harness]:
    kind: str = request.param
    if kind.startswith("smtp-"):
        mode = {"smtp-starttls": "starttls", "smtp-tls": "tls"}.get(kind, "plain")
        auth = kind == "smtp-auth"
        with SmtpServer(
            mode,  # type: ignore[arg-type]
            username=USER if auth else "",
            password=PASSWORD if auth else "",
        ) as smtp_server:
            mailer = SmtpMailer(smtp_config(smtp_server, password=PASSWORD if auth else ""))
            yield Harness(mailer, lambda: [(r.rcpt_tos, r.message) for r in smtp_server.received])
    elif kind == "maildir":
        folder = tmp_path / "outbox"
        yield Harness(MaildirMailer(folder), lambda: read_maildir(folder))
    else:
        memory = MemoryMailer()
        yield Harness(memory, lambda: [(list(r), m) for r, m in memory.sent])


def assert_same_content(got: EmailMessage, sent: EmailMessage) -> None:
    assert got["Subject"] == sent["Subject"]
    assert got["Message-ID"] == sent["Message-ID"]
    assert got.get_content_type() == "multipart/mixed"
    plain = got.get_body(preferencelist=("plain",))
    html = got.get_body(preferencelist=("html",))
    assert plain is not None and html is not None
    assert lf(plain.get_content()) == PLAIN
    assert lf(html.get_content()) == HTML
    [attachment] = list(got.iter_attachments())
    assert attachment.get_filename() == "deadlines.ics"
    assert attachment.get_content_type() == "text/calendar"
    assert lf(attachment.get_content()) == lf(ICS)


def lf(text: str) -> str:
    """Parsed wire format (CRLF) keeps its line ends in the text; compare the lines only."""
    return text.replace("\r\n", "\n")


def test_every_backend_delivers_each_message_once_to_exactly_its_recipients(
    harness: Harness,
) -> None:
    first = make_message("Reminder: 3.2 due", ["lead@example.org"])
    # The second has an envelope recipient who is in no header (a blind copy).
    second = make_message("Escalation: 3.2 overdue", ["lead@example.org", "head@example.org"])
    second_rcpts = ["lead@example.org", "head@example.org", "audit@example.org"]
    with harness.mailer as mailer:
        mailer.check()
        receipts = [send(mailer, first, ["lead@example.org"]), send(mailer, second, second_rcpts)]
    assert all(receipts)

    delivered = harness.delivered()
    assert sorted(str(m["Subject"]) for _, m in delivered) == sorted(
        [str(first["Subject"]), str(second["Subject"])]
    )
    by_subject = {str(m["Subject"]): (rcpts, m) for rcpts, m in delivered}
    for sent, rcpts in ((first, ["lead@example.org"]), (second, second_rcpts)):
        got_rcpts, got = by_subject[str(sent["Subject"])]
        assert got_rcpts == rcpts
        assert_same_content(got, sent)


# --- SMTP ------------------------------------------------------------------------------


def test_smtp_sends_a_whole_run_over_one_connection_and_returns_the_server_reply(
    server: SmtpServer,
) -> None:
    with SmtpMailer(smtp_config(server)) as mailer:
        receipts = [send(mailer, make_message(f"m{i}"), ["lead@example.org"]) for i in range(4)]
    assert server.sessions == 1
    assert [r.connection for r in server.received] == [1, 1, 1, 1]
    assert receipts == [f"250 2.0.0 OK: queued as {n}" for n in range(1, 5)]
    assert server.received[0].mail_from == "planworker@example.org"


def test_smtp_server_receives_exactly_the_bytes_given(server: SmtpServer) -> None:
    message = make_message("Reminder: 3.2 due")
    # Lines starting with a dot must survive SMTP's dot-stuffing both ways.
    message.get_body(preferencelist=("plain",)).set_content(  # type: ignore[union-attr]
        ".hidden line\n..two dots\n.\nend\n"
    )
    data = message_bytes(message)
    assert b"\r\n.hidden line\r\n..two dots\r\n.\r\n" in data
    with SmtpMailer(smtp_config(server)) as mailer:
        mailer.send(data, sender=SENDER, recipients=["lead@example.org", "head@example.org"])
    [received] = server.received
    assert received.data == data  # aiosmtpd adds no trace headers of its own
    assert received.mail_from == SENDER
    assert received.rcpt_tos == ["lead@example.org", "head@example.org"]


def test_smtp_sends_bare_line_feeds_as_crlf(server: SmtpServer) -> None:
    data = b"From: planworker@example.org\nSubject: lf\n\nfirst\r\nsecond\rthird\n.dot\n"
    with SmtpMailer(smtp_config(server)) as mailer:
        mailer.send(data, sender=SENDER, recipients=["lead@example.org"])
    expected = (
        b"From: planworker@example.org\r\nSubject: lf\r\n\r\nfirst\r\nsecond\r\nthird\r\n.dot\r\n"
    )
    assert [r.data for r in server.received] == [expected]


# Lines made of the bytes that matter to DATA: dots, both line ends, and text.
_DATA_BYTES = st.lists(st.sampled_from([b".", b"..", b"\r\n", b"\n", b"\r", b"a", b"\xe2\x80\x94"]))


@given(_DATA_BYTES.map(b"".join))
def test_data_is_dot_stuffed_and_ended_as_smtplib_would(message: bytes) -> None:
    # smtplib's own DATA step is the reference: planworker's replaces its regular expression.
    expected = smtplib._quote_periods(message)  # type: ignore[attr-defined]
    if not expected.endswith(b"\r\n"):
        expected += b"\r\n"
    assert dot_stuffed(message) == expected + b".\r\n"


def test_smtp_lines_of_dots_arrive_as_sent_over_one_connection(server: SmtpServer) -> None:
    bodies = [b".", b"..\r\n.", b"x\r\n.\r\n..\r\n...", b"no dot, no line end"]
    sent = [b"Subject: dots\r\n\r\n" + body + b"\r\n" for body in bodies]
    with SmtpMailer(smtp_config(server)) as mailer:
        for data in sent:
            mailer.send(data, sender=SENDER, recipients=["lead@example.org"])
    assert [r.data for r in server.received] == sent
    assert server.sessions == 1


def test_smtp_non_ascii_addresses_go_out_with_smtputf8(server: SmtpServer) -> None:
    with SmtpMailer(smtp_config(server)) as mailer:
        mailer.send(
            message_bytes(make_message("utf8")),
            sender="plänworker@example.org",
            recipients=["lëad@example.org"],
        )
    [received] = server.received
    assert (received.mail_from, received.rcpt_tos) == (
        "plänworker@example.org",
        ["lëad@example.org"],
    )


def test_smtp_wrong_password_is_permanent_and_never_shows_the_password(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    wrong = "Wr0ng-Secret-9"
    with SmtpServer("plain", username=USER, password=PASSWORD) as auth_server:
        config = smtp_config(auth_server, password=wrong)
        with SmtpMailer(config) as mailer, pytest.raises(PermanentError) as err:
            send(mailer, make_message("hello"), ["lead@example.org"])
        with pytest.raises(PermanentError) as check_err:
            SmtpMailer(config).check()
        assert auth_server.received == []
    assert "535" in err.value.reason and USER in err.value.reason
    assert not err.value.transient
    for text in (err.value.reason, str(err.value), check_err.value.reason, repr(config)):
        assert wrong not in text
    assert wrong not in caplog.text


def test_smtp_recipient_refused_with_550_is_permanent_with_the_servers_text(
    server: SmtpServer,
) -> None:
    server.reject_rcpt["nobody@example.org"] = (550, "5.1.1 No such user")
    with SmtpMailer(smtp_config(server)) as mailer:
        with pytest.raises(PermanentError) as err:
            send(mailer, make_message("lost"), ["nobody@example.org"])
        assert "550 5.1.1 No such user" in err.value.reason
        assert "nobody@example.org" in err.value.reason
        assert err.value.refused == {"nobody@example.org": (550, "5.1.1 No such user")}
        assert server.received == []

        # Refused in part: the error says who did get it, so nobody gets it twice on retry.
        with pytest.raises(PermanentError) as partial:
            send(mailer, make_message("half"), ["lead@example.org", "nobody@example.org"])
        assert partial.value.accepted == ("lead@example.org",)
        assert [r.rcpt_tos for r in server.received] == [["lead@example.org"]]

        # The connection is still good for the next message.
        send(mailer, make_message("fine"), ["lead@example.org"])
    assert server.sessions == 1


def test_smtp_recipients_refused_only_with_4xx_is_transient(server: SmtpServer) -> None:
    server.reject_rcpt["busy@example.org"] = (452, "4.2.2 Mailbox full")
    with SmtpMailer(smtp_config(server)) as mailer, pytest.raises(TransientError) as err:
        send(mailer, make_message("later"), ["busy@example.org"])
    assert "452 4.2.2 Mailbox full" in err.value.reason


def test_smtp_451_at_data_is_transient_and_the_next_message_goes_through(
    server: SmtpServer,
) -> None:
    server.fail_next_data.append((451, "4.3.0 Try again later"))
    with SmtpMailer(smtp_config(server)) as mailer:
        with pytest.raises(TransientError) as err:
            send(mailer, make_message("first"), ["lead@example.org"])
        assert "451 4.3.0 Try again later" in err.value.reason
        assert err.value.transient and not err.value.backend  # this message's trouble
        send(mailer, make_message("second"), ["lead@example.org"])
    assert [str(r.message["Subject"]) for r in server.received] == ["second"]


def test_smtp_server_down_is_transient_and_check_says_so_then_it_comes_back() -> None:
    with SmtpServer("starttls") as smtp_server:
        config = smtp_config(smtp_server)
        with SmtpMailer(config) as mailer:
            send(mailer, make_message("before"), ["lead@example.org"])
            smtp_server.stop()
            with pytest.raises(TransientError) as err:
                send(mailer, make_message("while down"), ["lead@example.org"])
            assert "refused" in err.value.reason.lower()
            assert err.value.backend  # reconnecting failed: every message would fail
            assert f"{smtp_server.host}:{smtp_server.port}" in err.value.reason
            with pytest.raises(TransientError):
                SmtpMailer(config).check()

            smtp_server.start()  # same port
            SmtpMailer(config).check()
            send(mailer, make_message("after"), ["lead@example.org"])
        subjects = [str(r.message["Subject"]) for r in smtp_server.received]
        assert subjects == ["before", "after"]


@pytest.mark.parametrize("mode", ["plain", "tls"])
def test_smtp_reconnects_when_the_server_hung_up_between_messages(
    mode: Literal["plain", "tls"],
) -> None:
    with SmtpServer(mode) as smtp_server:
        smtp_server.drop_after = 1
        with SmtpMailer(smtp_config(smtp_server)) as mailer:
            for i in range(3):
                send(mailer, make_message(f"m{i}"), ["lead@example.org"])
        assert [str(r.message["Subject"]) for r in smtp_server.received] == ["m0", "m1", "m2"]
        assert [r.connection for r in smtp_server.received] == [1, 2, 3]


def test_smtp_untrusted_certificate_is_permanent() -> None:
    with SmtpServer("tls") as smtp_server:
        config = SmtpConfig(smtp_server.host, smtp_server.port, "tls", timeout=5.0)
        with SmtpMailer(config) as mailer, pytest.raises(PermanentError) as err:
            send(mailer, make_message("hello"), ["lead@example.org"])
    assert "certificate" in err.value.reason


def test_smtp_starttls_wanted_but_not_offered_is_permanent(server: SmtpServer) -> None:
    config = SmtpConfig(server.host, server.port, "starttls", timeout=5.0)
    with pytest.raises(PermanentError) as err:
        SmtpMailer(config).check()
    assert "STARTTLS" in err.value.reason


def test_smtp_config_defaults_the_port_from_the_security_and_hides_the_password() -> None:
    ports = [SmtpConfig("mx", None, s).effective_port for s in ("none", "starttls", "tls")]
    assert ports == [25, 587, 465]
    assert "hunter2" not in repr(SmtpConfig("mx", None, "tls", "u", "hunter2"))


# --- Maildir ---------------------------------------------------------------------------


def test_maildir_message_reads_back_with_mailbox_with_the_same_headers_and_parts(
    tmp_path: Path,
) -> None:
    folder = tmp_path / "deep" / "outbox"
    sent = make_message("Reminder")
    with MaildirMailer(folder) as mailer:
        mailer.check()
        key = send(mailer, sent, ["lead@example.org"])

    got = mailbox.Maildir(folder, create=False).get_message(key)
    assert got.get_subdir() == "new"
    assert got[ENVELOPE_HEADER] == "lead@example.org"
    assert [(k, v) for k, v in got.items() if k != ENVELOPE_HEADER] == [
        (k, str(v)) for k, v in sent.items()
    ]
    assert [p.get_content_type() for p in got.walk()] == [p.get_content_type() for p in sent.walk()]
    assert os.listdir(folder / "tmp") == []


def test_maildir_file_is_the_given_bytes_with_lf_line_ends_under_the_trace_header(
    tmp_path: Path,
) -> None:
    sent = make_message("Reminder")
    data = message_bytes(sent)
    rcpts = ["lead@example.org", "audit@example.org"]
    with MaildirMailer(tmp_path / "outbox") as mailer:
        key = mailer.send(data, sender=SENDER, recipients=rcpts)

    raw = mailbox.Maildir(tmp_path / "outbox", create=False).get_bytes(key)
    trace = f"{ENVELOPE_HEADER}: lead@example.org, audit@example.org\n".encode()
    assert raw == trace + data.replace(b"\r\n", b"\n")
    assert b"\r" not in raw
    got = email.message_from_bytes(raw, policy=email.policy.default)
    assert isinstance(got, EmailMessage)
    assert [(k, str(v)) for k, v in got.items()][1:] == [(k, str(v)) for k, v in sent.items()]
    sent_parts, got_parts = list(sent.walk()), list(got.walk())
    assert [p.get_content_type() for p in got_parts] == [p.get_content_type() for p in sent_parts]
    for got_part, sent_part in zip(got_parts, sent_parts, strict=True):
        assert got_part.get_filename() == sent_part.get_filename()
        if not sent_part.is_multipart():
            assert lf(got_part.get_content()) == lf(sent_part.get_content())
    assert_same_content(got, sent)


def test_maildir_that_cannot_be_written_is_transient_naming_the_folder(tmp_path: Path) -> None:
    folder = tmp_path / "outbox"
    if os.geteuid() == 0:
        folder.write_text("not a folder")  # root ignores permissions, but not file types
    else:
        send(MaildirMailer(folder), make_message("first"), ["lead@example.org"])
        for sub in ("tmp", "new"):
            (folder / sub).chmod(stat.S_IRUSR | stat.S_IXUSR)
    new_before = sorted(os.listdir(folder / "new")) if folder.is_dir() else []
    try:
        mailer = MaildirMailer(folder)
        with pytest.raises(TransientError) as err:
            send(mailer, make_message("second"), ["lead@example.org"])
        with pytest.raises(TransientError):
            mailer.check()
    finally:
        for sub in ("tmp", "new"):
            if (folder / sub).is_dir():
                (folder / sub).chmod(0o700)
    assert str(folder) in err.value.reason
    assert err.value.transient and err.value.backend
    assert (sorted(os.listdir(folder / "new")) if folder.is_dir() else []) == new_before


# --- console, memory, factory ----------------------------------------------------------


def test_console_shows_headers_text_and_attachment_names_but_not_the_html() -> None:
    out = io.StringIO()
    with ConsoleMailer(out) as mailer:
        receipt = send(mailer, make_message("Reminder: 3.2 due"), ["lead@example.org"])
    text = out.getvalue()
    assert receipt == "printed"
    assert "Subject: Reminder: 3.2 due" in text
    assert "From: Plan Worker <planworker@example.org>" in text
    assert f"{ENVELOPE_HEADER}: lead@example.org" in text
    assert PLAIN.strip() in text
    assert "<b>" not in text and "VCALENDAR" not in text
    assert "[attachment: deadlines.ics, text/calendar]" in text


def test_memory_keeps_the_bytes_and_parses_them_only_when_asked() -> None:
    message = make_message("original")
    data = message_bytes(message)
    with MemoryMailer() as mailer:
        assert mailer.send(data, sender=SENDER, recipients=["lead@example.org"]) == "kept"
    assert_same_content(mailer.sent[0][1], message)
    message.replace_header("Subject", "changed afterwards")
    assert mailer.count == len(mailer.sent_bytes) == 1
    assert mailer.sent_bytes == [Kept(SENDER, ("lead@example.org",), data)]
    assert mailer.sent_bytes[0].data is data  # kept as given, not copied or re-serialised
    [(rcpts, kept)] = mailer.sent
    assert rcpts == ("lead@example.org",)
    assert kept["Subject"] == "original"
    # Every access parses afresh: changing what it returned changes nothing kept.
    kept.replace_header("Subject", "changed by the reader")
    assert mailer.sent[0][1]["Subject"] == "original"


def test_make_mailer_builds_each_backend_and_names_what_is_missing(tmp_path: Path) -> None:
    config = SmtpConfig("mx.example.org", None, "starttls")
    assert isinstance(make_mailer("smtp", smtp=config, maildir=None), SmtpMailer)
    assert isinstance(make_mailer("maildir", smtp=None, maildir=tmp_path), MaildirMailer)
    assert isinstance(make_mailer("console", smtp=None, maildir=None), ConsoleMailer)
    assert isinstance(make_mailer("memory", smtp=None, maildir=None), MemoryMailer)
    with pytest.raises(ValueError, match="SMTP"):
        make_mailer("smtp", smtp=None, maildir=tmp_path)
    with pytest.raises(ValueError, match="Maildir"):
        make_mailer("maildir", smtp=config, maildir=None)


NOWHERE = SmtpConfig("127.0.0.1", 9, "none", timeout=1.0)  # refused before connecting


@pytest.mark.parametrize(
    "mailer",
    [SmtpMailer(NOWHERE), MaildirMailer(Path("/nonexistent/outbox")), MemoryMailer()],
    ids=["smtp", "maildir", "memory"],
)
def test_a_message_without_recipients_sender_or_content_is_refused_permanently(
    mailer: Mailer,
) -> None:
    data = message_bytes(make_message("nobody"))
    with pytest.raises(PermanentError) as err:
        mailer.send(data, sender=SENDER, recipients=[])
    assert "recipients" in err.value.reason
    for sender in ("", "  ", "a@example.org\r\nRCPT TO:<victim@example.org>"):
        with pytest.raises(PermanentError) as err:
            mailer.send(data, sender=sender, recipients=["lead@example.org"])
        assert not err.value.transient and not err.value.backend and "From" in err.value.reason
    with pytest.raises(PermanentError, match="empty"):
        mailer.send(b"", sender=SENDER, recipients=["lead@example.org"])
    # Mistakes in the calling code, not in the message.
    with pytest.raises(TypeError):
        mailer.send(data, sender=SENDER, recipients="lead@example.org")
    with pytest.raises(TypeError):
        mailer.send(make_message("object"), sender=SENDER, recipients=["lead@example.org"])  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        mailer.send(data.decode(), sender=SENDER, recipients=["lead@example.org"])  # type: ignore[arg-type]


def test_envelope_sender_reads_the_first_from_address_also_from_the_headers_alone() -> None:
    message = make_message("hello")
    data = message_bytes(message)
    headers_only = BytesHeaderParser(policy=email.policy.default).parsebytes(data)
    compat = email.message_from_bytes(data)  # the old policy keeps headers as text
    for parsed in (message, headers_only, compat):
        assert envelope_sender(parsed) == SENDER
    two = make_message("two")
    two.replace_header("From", '"Worker, Plan" <first@example.org>, second@example.org')
    assert envelope_sender(two) == "first@example.org"
    no_from = make_message("anonymous")
    del no_from["From"]
    for broken in ("undisclosed-recipients:;", "<>", ""):
        blank = make_message("broken")
        blank.replace_header("From", broken)
        for parsed in (blank, email.message_from_bytes(message_bytes(blank))):
            with pytest.raises(PermanentError, match="From"):
                envelope_sender(parsed)
    with pytest.raises(PermanentError, match="From"):
        envelope_sender(no_from)
