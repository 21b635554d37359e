"""A work item comment -> a note on each linked Sentry issue (run by SyncStatus for a sync
message that carries a ``comment``).

Skipped: comments this app made (their author is the PAT's account, or they are recorded as
made from a Sentry note), and comments already carried to that issue. The note is attributed
and links to the work item; Sentry's note API needs a user behind the token, and with an
internal integration's token that user is the integration's proxy user, so notes appear as
written by the integration, with the person's name in their first line.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from shared.azure_devops import paths
from shared.clients import devops_account, sentry_client
from shared.comments.text import CUT_MARKER, note_from_devops
from shared.errors import ConfigurationError
from shared.http import ApiError, ApiNotFound
from shared.log import log_event
from shared.messages.sync import SyncMessage
from shared.store.audit import APPLIED, SKIPPED
from shared.store.comments import DEVOPS, SENTRY, CommentPair, Comments
from shared.store.records import Integration, Link
from shared.store.storage import Storage

Record = Callable[..., None]  # Syncer.record


def carry_comment(
    storage: Storage,
    integration: Integration,
    message: SyncMessage,
    links: list[Link],
    record: Record,
) -> list[Exception]:
    """Post the comment to each linked issue; returns the failures (each already audited)."""
    comment = message.comment
    assert comment is not None
    author = comment.author
    try:
        account = devops_account(integration)
    except (ApiError, ConfigurationError) as exc:
        log_event("comments.account_unreadable", logging.WARNING, error=type(exc).__name__)
        account = None  # the stored pairs still catch our own comments
    if account and author and (author.unique_name or "").casefold() == account.casefold():
        record(message, SKIPPED, "none", "a comment this app made (from Sentry); not carried back")
        return []
    comments = Comments(storage)
    known = (
        comments.of_devops_comment(integration.id, message.work_item_id, comment.id)
        if comment.id is not None
        else []
    )
    if any(pair.origin == SENTRY for pair in known):
        record(message, SKIPPED, "none", "the comment was made from a Sentry note")
        return []
    project = message.project_name or message.project_id
    url = (
        paths.work_item_web_url(integration.base_url, project, message.work_item_id)
        if project
        else paths.work_item_org_web_url(integration.base_url, message.work_item_id)
    )
    text = note_from_devops(
        comment.html, author.display_name if author else None, url, message.work_item_id
    )
    if comment.truncated and not text.endswith(CUT_MARKER):
        text += CUT_MARKER
    done = {(pair.sentry_org, pair.issue_id) for pair in known}
    failures: list[Exception] = []
    for link in links:
        if (link.sentry_org, link.issue_id) in done:
            record(message, SKIPPED, "none", "comment already carried", link=link)
            continue
        org = integration.sentry_org(link.sentry_org)
        if org is None:
            continue
        try:
            note_id = sentry_client(org).add_note(org.slug, link.issue_id, text)
        except ApiNotFound:
            # Deleted in Sentry: retrying cannot help (as SyncStatus skips such a link).
            record(message, SKIPPED, "none", "Sentry issue not found; not carried", link=link)
            continue
        except ApiError as exc:
            record(message, "failed", "comment", f"not carried: {exc}", link=link, error=exc)
            failures.append(exc)
            continue
        if note_id is not None and comment.id is not None:
            comments.remember(
                CommentPair(
                    integration.id,
                    link.sentry_org,
                    link.issue_id,
                    note_id,
                    message.work_item_id,
                    comment.id,
                    DEVOPS,
                )
            )
        reason = "carried to Sentry" if note_id else "Sentry already has this note"
        record(message, APPLIED if note_id else SKIPPED, "comment", reason, link=link)
    return failures
