"""The render step of every job: a decided digest becomes the bytes of one message (or of
several parts when it is too large to send whole), with its Message-ID and subject."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import date, datetime
from functools import lru_cache
from pathlib import Path

import jinja2

from worker.jobs.config import RemindConfig
from worker.mail.headers import make_address
from worker.mail.message import Attachment, message_bytes, message_id_of, with_subject
from worker.mail.parts import Encoder, split_to_fit
from worker.mail.render import LINKED_SECTIONS, render_digest
from worker.mail.templating import Rendered, TemplateError, make_environment
from worker.rules.digest import LEAD_SECTIONS, Digest, Recipient
from worker.store.outbox import Planned
from worker.web.links import ACK, LEAD


@lru_cache(maxsize=8)
def template_environment(folders: tuple[Path, ...]) -> jinja2.Environment:
    # One environment per folder list, so templates are compiled once, not on every run
    # (Jinja still reloads a template whose file has changed).
    return make_environment(folders)


def environment(config: RemindConfig) -> jinja2.Environment:
    return template_environment(tuple(config.templates))


def envelope(
    rendered: Rendered,
    config: RemindConfig,
    to: Recipient,
    message_id: str,
    now: datetime,
    job: str,
    as_of: date,
    attachments: Sequence[Attachment] = (),
) -> bytes:
    """The message as sent: the rendered parts with the job's headers (every job's, and the
    one-off messages': requests, chasers, fresh links)."""
    return message_bytes(
        rendered,
        sender=config.identity.sender,
        to=make_address(to.name, to.email),
        reply_to=config.identity.reply_to,
        message_id=message_id,
        date=now,
        headers={"X-Planworker-Job": f"{job} {as_of.isoformat()}"},
        attachments=attachments,
    )


def link_to_page(config: RemindConfig, plan_id: int, digest: Digest, now: datetime) -> str | None:
    """The recipient's signed link, signed at `now`: for a lead's reminder their page to
    report on; for an escalation only, the page to acknowledge it (which stops its weekly
    repeats). None when links are not configured or the message is neither."""
    if config.links is None or not digest.has(*LINKED_SECTIONS):
        return None
    purpose = LEAD if digest.has(*LEAD_SECTIONS) else ACK
    return config.links.link(plan_id, digest.recipient.email, purpose, now)


def messages(
    found: Sequence[Digest],
    config: RemindConfig,
    now: datetime,
    job: str,
    template: str = "reminder",
    *,
    plan_id: int,
    errors: list[str],
) -> Iterator[Planned]:
    """Render each digest, in parts when it is too large to send whole (mail/parts.py),
    with the recipient's link to their page when links are configured; one that fails is
    reported in `errors` and left for the next run. The messages come one at a time, each
    digest's once all of its parts have rendered: none of a failed digest's is given."""
    env = environment(config)
    domain = config.mail_domain()
    days = config.links.days if config.links else 0

    def render_one(digest: Digest) -> Rendered:
        link = link_to_page(config, plan_id, digest, now)
        return render_digest(
            env, digest, template=template, prodid_domain=domain, link=link, link_days=days
        )

    def encode(digest: Digest, rendered: Rendered) -> Planned:
        message_id = message_id_of((item.key for item in digest.all_items), domain)
        content = envelope(rendered, config, digest.recipient, message_id, now, job, digest.as_of)
        return Planned(digest, content, message_id, rendered.subject)

    def relabel(planned: Planned, old: str, subject: str) -> Planned:
        content = with_subject(planned.content, old, subject)
        return Planned(planned.digest, content, planned.message_id, subject)

    encoder = Encoder(render_one, encode, lambda planned: len(planned.content), relabel)
    for digest in found:
        try:
            parts = split_to_fit(digest, config.max_message_bytes, encoder)
        except TemplateError as exc:
            errors.append(f"{digest.recipient.email}: {exc}")
            continue
        except ValueError as exc:  # an address or header that cannot be written safely
            who = f"{digest.recipient.name} <{digest.recipient.email}>"
            errors.append(f"{who}: cannot write the message: {exc}")
            continue
        yield from parts
