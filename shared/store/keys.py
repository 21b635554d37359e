"""The row-key grammar of every table, in one place.

Every key obeys Table Storage's rules: no ``/ \\ # ?``, far below 1 KiB.

``integrations``, partition = integration (collection id, a GUID):
    ``integration``                 the Azure DevOps organization (``store.integrations``)
    ``sentry:<slug>``               a Sentry organization it serves (``store.sentry_orgs``)
    ``repo:<repository id>``        an Azure DevOps repository tracked for Sentry releases
                                    (``store.repositories``)

``links``, partition = integration; a link is two rows, so it reads from either side with one
range query (``store.links``; its memory columns: ``store.link_memory``):
    ``w:<work item, 10 digits>:<slug>:<issue id>``
    ``s:<slug>:<issue id>:<work item, 10 digits>``
  and under a work item's prefix, after its links (``~`` sorts after every slug character):
    ``w:<work item>:~p:<slug>:<issue id>``   repair mark (``store.link_memory``)
    ``w:<work item>:~r:<rev, 10 digits>``    delivery marker (``store.deliveries``),
    ``w:<work item>:~r:<rev>:c``              the same for a comment
    ``w:<work item>:~seen``                  reconcile watermark (``store.deliveries``)
  and, apart from links:
    ``c:<slug>:<issue id>:<digest>``          a work item create asked for from Sentry
                                            (``store.creations``)
    ``n:<slug>:<issue id>:<note id>:<work item>``       a Sentry note and the work item
    ``m:<work item>:<comment id>:<slug>:<issue id>``    comment it became or came from, read
                                            from either side (``store.comments``)

``statecache``, partition = integration: ``<project>:<work item type>``, percent-encoded
(``store.state_cache``).

``audit``, partition = integration (or ``unreadable``): inverted time + random suffix, so a
partition reads newest first (``store.audit``).
"""

from __future__ import annotations

import hashlib
import uuid
from datetime import datetime
from urllib.parse import quote

INTEGRATION_ROW = "integration"
SWEEP_ROW = "sweep"  # the sweep's round under way (``store.sweeps``)
SENTRY_ORG_PREFIX = "sentry:"
MARKER = "~"
_REPAIR = f"{MARKER}p:"
_DELIVERY = f"{MARKER}r:"
_SWEPT = f"{MARKER}s:"
_MAX_TICKS = 10**19


def prefix_range(prefix: str) -> tuple[str, str]:
    """Bounds (``ge``, ``lt``) of the row keys starting with ``prefix`` (which ends in ``:``):
    they sort before prefix-with-``;``, the next character."""
    return prefix, prefix[:-1] + ";"


# -- integrations -----------------------------------------------------------------------------


def sentry_org_row(slug: str) -> str:
    return f"{SENTRY_ORG_PREFIX}{slug}"


REPOSITORY_PREFIX = "repo:"


def repository_row(repository_id: str) -> str:
    return f"{REPOSITORY_PREFIX}{repository_id}"


def form_defaults_row(slug: str, project_slug: str) -> str:
    # Sorts before ``integration``: outside the range an integration is read with.
    return f"defaults:{slug}:{quote(project_slug, safe='')}"


# -- links ------------------------------------------------------------------------------------

WORK_ITEM_ROWS = prefix_range("w:")


def _work_item_key(work_item_id: int) -> str:
    return f"{work_item_id:010d}"


def work_item_prefix(work_item_id: int) -> str:
    return f"w:{_work_item_key(work_item_id)}:"


def work_item_of(row_key: str) -> int:
    """The work item of any row under ``w:``."""
    return int(row_key.split(":")[1])


def work_item_row(work_item_id: int, slug: str, issue_id: str) -> str:
    return f"w:{_work_item_key(work_item_id)}:{slug}:{issue_id}"


def issue_row(slug: str, issue_id: str, work_item_id: int) -> str:
    return f"s:{slug}:{issue_id}:{_work_item_key(work_item_id)}"


def issue_prefix(slug: str, issue_id: str | None = None) -> str:
    return f"s:{slug}:{issue_id}:" if issue_id is not None else f"s:{slug}:"


def links_range(work_item_id: int) -> tuple[str, str]:
    """A work item's links only."""
    prefix = work_item_prefix(work_item_id)
    return prefix, prefix + MARKER


def links_and_repairs_range(work_item_id: int) -> tuple[str, str]:
    """A work item's links and repair marks, without its delivery markers."""
    prefix = work_item_prefix(work_item_id)
    return prefix, prefix + _REPAIR + MARKER


def notice_row(work_item_id: int, slug: str, issue_id: str, kind: str) -> str:
    """A failure notice posted for a link (``store.notices``): once per link and kind."""
    return f"x:{_work_item_key(work_item_id)}:{slug}:{issue_id}:{kind}"


def repair_row(work_item_id: int, slug: str, issue_id: str) -> str:
    return f"{work_item_prefix(work_item_id)}{_REPAIR}{slug}:{issue_id}"


def marked_link_row(row_key: str) -> str | None:
    """The link row a repair mark's row key names, or None if ``row_key`` is no mark."""
    prefix, found, slug_issue = row_key.partition(_REPAIR)
    return prefix + slug_issue if found else None


def swept_row(work_item_id: int, slug: str, issue_id: str) -> str:
    """What the sweep last saw of the link's Sentry issue (its own row, so that recording it
    never touches the link row another run may hold)."""
    return f"{work_item_prefix(work_item_id)}{_SWEPT}{slug}:{issue_id}"


def swept_link_row(row_key: str) -> str | None:
    """The link row a swept row's key names, or None if ``row_key`` is no swept row."""
    prefix, found, slug_issue = row_key.partition(_SWEPT)
    return prefix + slug_issue if found else None


def creation_row(slug: str, issue_id: str, digest: str) -> str:
    return f"c:{slug}:{issue_id}:{digest}"


def issue_notes_prefix(slug: str, issue_id: str) -> str:
    return f"n:{slug}:{issue_id}:"


def note_prefix(slug: str, issue_id: str, note_id: str) -> str:
    return f"n:{slug}:{issue_id}:{note_id}:"


def note_row(slug: str, issue_id: str, note_id: str, work_item_id: int) -> str:
    return f"{note_prefix(slug, issue_id, note_id)}{_work_item_key(work_item_id)}"


def note_tombstone_row(slug: str, issue_id: str, note_id: str) -> str:
    """A note Sentry deleted, remembered so that its creation, seen later (Sentry does not
    order webhooks) or again (a sweep, a replay), adds no comment."""
    return f"{note_prefix(slug, issue_id, note_id)}{MARKER}deleted"


def devops_comment_prefix(work_item_id: int, comment_id: int) -> str:
    return f"m:{_work_item_key(work_item_id)}:{comment_id}:"


def devops_comment_row(work_item_id: int, comment_id: int, slug: str, issue_id: str) -> str:
    return f"{devops_comment_prefix(work_item_id, comment_id)}{slug}:{issue_id}"


def delivery_row(work_item_id: int, rev: int, comment: bool = False) -> str:
    """A queued change of revision ``rev``; a comment queued from the same revision has its
    own marker (``:c``), as both a state change and a comment can come from one revision."""
    return f"{work_item_prefix(work_item_id)}{_DELIVERY}{rev:010d}{':c' if comment else ''}"


def is_delivery_row(row_key: str) -> bool:
    return f":{_DELIVERY}" in row_key


def seen_row(work_item_id: int) -> str:
    return f"{work_item_prefix(work_item_id)}{MARKER}seen"


# -- statecache -------------------------------------------------------------------------------


def state_row(project: str, work_item_type: str) -> str:
    # Percent-encoded, readable for the names people use; a digest for the rare name that
    # would be too long.
    key = f"{quote(project.casefold(), safe='')}:{quote(work_item_type.casefold(), safe='')}"
    if len(key) <= 400:
        return key
    return "sha256:" + hashlib.sha256(key.encode()).hexdigest()


# -- audit ------------------------------------------------------------------------------------


def audit_row_at(moment: datetime) -> str:
    """The audit row key prefix of ``moment``: later moments sort first."""
    ticks = int(moment.timestamp() * 1_000_000)
    return f"{_MAX_TICKS - ticks:020d}"


def new_audit_row(now: datetime) -> str:
    return f"{audit_row_at(now)}:{uuid.uuid4().hex[:12]}"
