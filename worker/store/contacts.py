"""Mirroring the contacts directory into the database, so queries can join leads to people."""

from __future__ import annotations

from sqlalchemy import delete, insert, select
from sqlalchemy.orm import Session

from worker.contacts import Directory, directory_rows
from worker.models import Contact, ContactKey


def sync_directory(session: Session, directory: Directory) -> bool:
    """Make the contacts tables equal the directory; True if anything changed."""
    contacts, keys = directory_rows(directory)
    columns = (
        Contact.role,
        Contact.key,
        Contact.person,
        Contact.email,
        Contact.deputy_key,
        Contact.line_manager_key,
    )
    stored = sorted(tuple(r) for r in session.execute(select(*columns)))
    wanted = sorted(tuple(c.values()) for c in contacts)
    stored_keys = sorted(
        tuple(r)
        for r in session.execute(
            select(ContactKey.key, Contact.key).join(Contact, Contact.id == ContactKey.contact_id)
        )
    )
    if stored == wanted and stored_keys == keys:
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
