"""A Sentry note -> a comment on each linked work item (``comment`` events, run by
SentryEvents): created, updated and deleted with the note, as we remember which comment each
note became (``store.comments``); Sentry's own integration can do neither of the last two.

Skipped: notes this app made (the ``actor`` is our app; they came from Azure DevOps comments)
and notes recorded as made from an Azure DevOps comment.

Sentry sends each webhook at most once, unordered, and its retries look like new deliveries,
so: a note becomes one comment per work item however often it is seen (the note is claimed
for the work item before the comment is added, ``store.comments``); ``updated`` for a note we
never saw creates its comment (the creation was lost); ``deleted`` leaves a tombstone first,
so a creation seen after it, or racing it, leaves no comment.
"""

from __future__ import annotations

from shared.azure_devops.client import AzureDevOpsClient
from shared.azure_devops.fields import FIELD_TEAM_PROJECT
from shared.clients import azure_devops_client
from shared.comments.text import comment_from_sentry
from shared.errors import GiveUp
from shared.http import ApiAuthError, ApiNotFound, ApiRejected
from shared.messages.sentry_event import SentryEventMessage
from shared.sentry import paths as sentry_paths
from shared.store.audit import APPLIED, KIND_SENTRY, SKIPPED, AuditEntry, AuditLog
from shared.store.comments import DEVOPS, ClaimLost, Comments
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
                kind=KIND_SENTRY,
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
    state = comments.note_state(integration.id, org.slug, data.issue_id, data.comment_id)
    if any(pair.origin == DEVOPS for pair in state.pairs):
        record(0, SKIPPED, "none", "the note was made from an Azure DevOps comment")
        return
    client = azure_devops_client(integration)
    if message.action == "deleted":
        comments.tombstone(integration.id, org.slug, data.issue_id, data.comment_id)
        for pair in state.pairs:
            project = _project(client, pair.work_item_id)
            if project is not None:
                _delete_comment(client, project, pair.work_item_id, pair.comment_id)
            comments.forget(pair)
            record(pair.work_item_id, APPLIED, "comment-delete", "deleted with the note")
        if not state.pairs:
            record(0, SKIPPED, "none", "no comment was made for the note; it will never be")
        return
    if state.deleted:
        record(0, SKIPPED, "none", "the note was deleted in Sentry; no comment is made for it")
        return
    issue_url = sentry_paths.issue_web_url(org.base_url, org.slug, data.issue_id)
    author = actor.name if actor else None
    html = comment_from_sentry(data.comment, author, issue_url, message.comment_truncated)
    by_work_item = {pair.work_item_id: pair for pair in state.pairs}
    for link in Links(storage).for_issue(integration.id, org.slug, data.issue_id):
        pair = by_work_item.get(link.work_item_id)
        if pair is not None and message.action == "created":
            record(link.work_item_id, SKIPPED, "none", "note already carried")
            continue
        project = _project(client, link.work_item_id)
        if project is None:
            record(link.work_item_id, SKIPPED, "none", "the work item no longer exists")
            continue
        if pair is not None:
            client.update_comment(project, link.work_item_id, pair.comment_id, html)
            record(link.work_item_id, APPLIED, "comment-update", "updated with the note")
            continue
        claim = comments.claim(
            integration.id, org.slug, data.issue_id, data.comment_id, link.work_item_id,
            take_over=True,
        )  # fmt: skip
        if claim is None:
            record(link.work_item_id, SKIPPED, "none", "another run is carrying the note")
            continue
        try:
            comment_id = client.add_comment(project, link.work_item_id, html)
        except (ApiRejected, ApiNotFound, ApiAuthError):
            comments.release(claim)  # surely not added: a retry may claim it again
            raise
        try:
            comments.complete(claim, comment_id)
        except ClaimLost:
            # Deleted in Sentry while we were adding it: take the comment back.
            _delete_comment(client, project, link.work_item_id, comment_id)
            record(link.work_item_id, SKIPPED, "none", "the note was deleted meanwhile")
            continue
        record(link.work_item_id, APPLIED, "comment", "carried to Azure DevOps")


def _delete_comment(
    client: AzureDevOpsClient, project: str, work_item_id: int, comment_id: int
) -> None:
    try:
        client.delete_comment(project, work_item_id, comment_id)
    except ApiNotFound:
        pass  # gone already


def _project(client: AzureDevOpsClient, work_item_id: int) -> str | None:
    try:
        item = client.work_item(work_item_id)
    except ApiNotFound:
        return None
    return str(item.fields.get(FIELD_TEAM_PROJECT) or "") or None
