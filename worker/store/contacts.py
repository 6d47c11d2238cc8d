"""Mirroring the contacts directory into the database, so queries can join leads to people."""

from __future__ import annotations

from sqlalchemy import delete, insert, select, text
from sqlalchemy.orm import Session

from worker.contacts import Directory, directory_rows
from worker.models import Contact, ContactKey

# Any fixed number: the PostgreSQL advisory lock that serialises replacing the contacts.
CONTACTS_LOCK = 0x636F6E74  # "cont"


def _stored(session: Session) -> tuple[list[tuple[str, ...]], list[tuple[str, ...]]]:
    columns = (
        Contact.role,
        Contact.key,
        Contact.person,
        Contact.email,
        Contact.deputy_key,
        Contact.line_manager_key,
    )
    stored = sorted(tuple(r) for r in session.execute(select(*columns)))
    stored_keys = sorted(
        tuple(r)
        for r in session.execute(
            select(ContactKey.key, Contact.key).join(Contact, Contact.id == ContactKey.contact_id)
        )
    )
    return stored, stored_keys


def sync_directory(session: Session, directory: Directory) -> bool:
    """Make the contacts tables equal the directory; True if anything changed."""
    contacts, keys = directory_rows(directory)
    wanted = sorted(tuple(c.values()) for c in contacts)
    if _stored(session) == (wanted, keys):
        return False
    if session.get_bind().dialect.name == "postgresql":
        # Workers starting together after the file changed would each replace the table, and
        # the second's rows clash with the first's: one at a time, and the second, reading
        # again once the first has committed, finds nothing left to do. (SQLite's write
        # transactions are one at a time already.)
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": CONTACTS_LOCK})
        if _stored(session) == (wanted, keys):
            return False
    # The directory is small (hundreds of roles): replacing it whole is simplest and exact.
    session.execute(delete(ContactKey))
    session.execute(delete(Contact))
    ids = (
        dict(
            (key, contact_id)
            for contact_id, key in session.execute(
                insert(Contact).returning(Contact.id, Contact.key), contacts
            )
        )
        if contacts
        else {}
    )
    if keys:
        session.execute(insert(ContactKey), [{"key": k, "contact_id": ids[r]} for k, r in keys])
    return True
