"""A Sentry note -> a comment on each linked work item (``comment`` events, run by
SentryEvents): created, updated and deleted with the note, as we remember which comment each
note became (``store.comments``); Sentry's own integration can do neither of the last two.

Skipped: notes this app made (the ``actor`` is our app; they came from Azure DevOps comments)
and notes recorded as made from an Azure DevOps comment.
"""

from __future__ import annotations

from shared.azure_devops.client import AzureDevOpsClient
from shared.azure_devops.fields import FIELD_TEAM_PROJECT
from shared.clients import azure_devops_client
from shared.comments.text import comment_from_sentry
from shared.errors import GiveUp
from shared.http import ApiNotFound
from shared.sentry_intake.message import SentryEventMessage
from shared.store.audit import APPLIED, SKIPPED, AuditEntry, AuditLog
from shared.store.comments import DEVOPS, SENTRY, CommentPair, Comments
from shared.store.links import Links
from shared.store.records import Integration, SentryOrg
from shared.store.storage import Storage


def apply_comment(
    storage: Storage, integration: Integration, org: SentryOrg, message: SentryEventMessage
) -> None:
    data = message.comment
    if data is None:
        raise GiveUp("a comment event without its comment")
    audit = AuditLog(storage)

    def record(work_item_id: int, outcome: str, action: str, reason: str) -> None:
        audit.record(
            integration.id,
            AuditEntry(
                work_item_id=work_item_id,
                rev=0,
                outcome=outcome,
                action=action,
                reason=f"Sentry comment.{message.action}: {reason}",
                sentry_org=org.slug,
                issue_id=data.issue_id,
            ),
        )

    actor = message.actor
    if actor is not None and org.made_by_us(actor.type, actor.id):
        record(0, SKIPPED, "none", "a note this app made (from Azure DevOps); not carried back")
        return
    if not integration.sync.comments:
        record(0, SKIPPED, "none", "comment sync is off")
        return
    comments = Comments(storage)
    pairs = comments.of_note(integration.id, org.slug, data.issue_id, data.comment_id)
    if any(pair.origin == DEVOPS for pair in pairs):
        record(0, SKIPPED, "none", "the note was made from an Azure DevOps comment")
        return
    client = azure_devops_client(integration)
    by_work_item = {pair.work_item_id: pair for pair in pairs}
    if message.action == "deleted":
        for pair in pairs:
            project = _project(client, pair.work_item_id)
            if project is not None:
                client.delete_comment(project, pair.work_item_id, pair.comment_id)
            comments.forget(pair)
            record(pair.work_item_id, APPLIED, "comment-delete", "deleted with the note")
        return
    issue_url = f"{org.base_url}organizations/{org.slug}/issues/{data.issue_id}/"
    author = actor.name if actor else None
    html = comment_from_sentry(data.comment, author, issue_url, message.comment_truncated)
    for link in Links(storage).for_issue(integration.id, org.slug, data.issue_id):
        project = _project(client, link.work_item_id)
        if project is None:
            record(link.work_item_id, SKIPPED, "none", "the work item no longer exists")
            continue
        pair = by_work_item.get(link.work_item_id)
        if pair is not None:
            if message.action == "created":
                record(link.work_item_id, SKIPPED, "none", "note already carried")
                continue
            client.update_comment(project, link.work_item_id, pair.comment_id, html)
            record(link.work_item_id, APPLIED, "comment-update", "updated with the note")
            continue
        comment_id = client.add_comment(project, link.work_item_id, html)
        comments.remember(
            CommentPair(
                integration.id,
                org.slug,
                data.issue_id,
                data.comment_id,
                link.work_item_id,
                comment_id,
                SENTRY,
            )
        )
        record(link.work_item_id, APPLIED, "comment", "carried to Azure DevOps")


def _project(client: AzureDevOpsClient, work_item_id: int) -> str | None:
    try:
        item = client.work_item(work_item_id)
    except ApiNotFound:
        return None
    return str(item.fields.get(FIELD_TEAM_PROJECT) or "") or None
