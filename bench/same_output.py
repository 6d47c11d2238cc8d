"""Whether two runs sent the same messages and recorded the same ledger: the check behind
"the output is unchanged" in docs/benchmarks.md, for comparing a change with the code
before it on the same plan.

Each run is a database (SQLAlchemy URL) and the Maildir folder it delivered into. Messages
are compared per recipient by subject and by their text and HTML parts as a mail reader
decodes them (the Date header and the MIME boundaries differ from run to run; the parts do
not); the ledger by every recorded column of every item, with its message's recipient and
subject, in key order.

    .venv/bin/python bench/same_output.py sqlite:///var/a.db var/a-mail \
        sqlite:///var/b.db var/b-mail

Exit status 0 when both are the same, 1 when not (the first differences are printed).
"""

from __future__ import annotations

import argparse
import email
import email.policy
import hashlib
import mailbox
import sys
from collections.abc import Sequence
from email.message import EmailMessage
from pathlib import Path

from sqlalchemy import create_engine, select

from worker.models import Message, Notification

Ledger = list[tuple[object, ...]]


def messages(folder: Path) -> dict[str, list[str]]:
    """Recipient -> the sorted digests of their messages' subject, text and HTML."""
    found: dict[str, list[str]] = {}
    for raw in mailbox.Maildir(folder, factory=None, create=False):
        parsed = email.message_from_bytes(bytes(raw), policy=email.policy.default)
        assert isinstance(parsed, EmailMessage)
        parts = [
            part.get_content()
            for part in parsed.walk()
            if part.get_content_type() in ("text/plain", "text/html")
        ]
        digest = hashlib.sha256("\0".join([str(parsed["Subject"]), *parts]).encode())
        found.setdefault(str(parsed["To"]), []).append(digest.hexdigest())
    return {to: sorted(d) for to, d in found.items()}


def ledger(url: str) -> Ledger:
    n, m = Notification, Message
    columns = [
        *(n.key, n.action_id, n.recipient_email, n.section, n.kind, n.threshold, n.due_date),
        *(n.rule, n.target_text, n.precision, n.rag, n.state, n.via, n.reason),
        *(m.recipient_email, m.subject),
    ]
    query = select(*columns).join(m, m.id == n.message_id).order_by(n.key)
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            return [tuple(row) for row in connection.execute(query)]
    finally:
        engine.dispose()


def differences(a: Ledger, b: Ledger, limit: int = 5) -> list[str]:
    keys_a = {row[0]: row for row in a}
    keys_b = {row[0]: row for row in b}
    found = [f"only in the first: {k}" for k in sorted(keys_a.keys() - keys_b.keys())]
    found += [f"only in the second: {k}" for k in sorted(keys_b.keys() - keys_a.keys())]
    found += [
        f"differs: {keys_a[k]} / {keys_b[k]}"
        for k in sorted(keys_a.keys() & keys_b.keys())
        if keys_a[k] != keys_b[k]
    ]
    return found[:limit]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("first_url")
    parser.add_argument("first_maildir", type=Path)
    parser.add_argument("second_url")
    parser.add_argument("second_maildir", type=Path)
    args = parser.parse_args(argv)
    mail_a, mail_b = messages(args.first_maildir), messages(args.second_maildir)
    rows_a, rows_b = ledger(args.first_url), ledger(args.second_url)
    count_a, count_b = sum(map(len, mail_a.values())), sum(map(len, mail_b.values()))
    same_mail = mail_a == mail_b
    print(f"messages: {count_a} and {count_b}, {'the same' if same_mail else 'DIFFERENT'}")
    if not same_mail:
        differ = [
            to for to in sorted(mail_a.keys() | mail_b.keys()) if mail_a.get(to) != mail_b.get(to)
        ]
        for to in differ[:5]:
            print(f"  differs for {to}")
    same_ledger = rows_a == rows_b
    verdict = "the same" if same_ledger else "DIFFERENT"
    print(f"ledger: {len(rows_a)} and {len(rows_b)} items, {verdict}")
    for line in differences(rows_a, rows_b):
        print(f"  {line}")
    return 0 if same_mail and same_ledger else 1


if __name__ == "__main__":
    sys.exit(main())
