"""Live impact (``integration field-map --live``): the sweep keeps chosen work item fields at
Sentry's current event count, users affected and last seen, from the issues it reads anyway
(one batched read per 100). A work item's linked issues add up (counts) or the latest wins
(last seen). Per chunk: one ``workitemsbatch`` read per 200 work items with live maps (their
project, type and current values), and one write per work item whose values changed, never
one for a value already there; so boards and queries can sort bugs by impact."""

from __future__ import annotations

import logging
from collections import defaultdict
from datetime import datetime
from typing import Any

from shared.azure_devops.fields import FIELD_TEAM_PROJECT, FIELD_WORK_ITEM_TYPE
from shared.azure_devops.shapes import set_field
from shared.clients import azure_devops_client
from shared.http import ApiError
from shared.issue_links.sentry_values import IssueFacts, applicable, mapped_values
from shared.log import log_event
from shared.sentry.shapes import SentryIssue
from shared.store.audit import APPLIED, KIND_SWEEP, AuditEntry, AuditLog
from shared.store.records import FieldMap, Integration, Link
from shared.store.storage import Storage

BATCH = 200


def facts_of(issues: list[SentryIssue]) -> IssueFacts:
    """What a work item's linked issues say together (pure)."""

    def total(values: list[str | None]) -> str | None:
        numbers = [int(v) for v in values if v is not None and str(v).isdigit()]
        return str(sum(numbers)) if numbers else None

    seen = [i.last_seen for i in issues if i.last_seen]
    return IssueFacts(
        values={
            "count": total([i.count for i in issues]),
            "userCount": total([i.user_count for i in issues]),
            "lastSeen": max(seen, key=_moment) if seen else None,
        }
    )


def _moment(value: str) -> datetime | str:
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return value


def same(current: Any, wanted: str) -> bool:
    """Whether a field already holds the value (numbers and times compared as such, as Azure
    DevOps may answer 12 for "12" or add milliseconds to a time)."""
    if current is None:
        return False
    if str(current) == wanted:
        return True
    if isinstance(current, (int, float)) and wanted.lstrip("-").isdigit():
        return float(current) == float(wanted)
    left, right = _moment(str(current)), _moment(wanted)
    return isinstance(left, datetime) and isinstance(right, datetime) and left == right


def changes(maps: list[FieldMap], facts: IssueFacts, current: dict[str, Any]) -> dict[str, str]:
    """The live fields to write: mapped, and not already holding the value (pure)."""
    wanted = mapped_values(maps, facts)
    return {name: value for name, value in wanted.items() if not same(current.get(name), value)}


def update_impact(
    storage: Storage,
    integration: Integration,
    pairs: list[tuple[Link, SentryIssue]],
    errors: list[str],
) -> int:
    """Write what changed; returns how many work items were written."""
    live = [m for m in integration.field_maps if m.live]
    if not live or not pairs:
        return 0
    by_item: dict[int, list[SentryIssue]] = defaultdict(list)
    for link, issue in pairs:
        by_item[link.work_item_id].append(issue)
    client = azure_devops_client(integration)
    fields = [FIELD_TEAM_PROJECT, FIELD_WORK_ITEM_TYPE, *sorted({m.field for m in live})]
    ids = sorted(by_item)
    written = 0
    for start in range(0, len(ids), BATCH):
        try:
            items = client.work_items(ids[start : start + BATCH], fields)
        except ApiError as exc:
            errors.append(
                f"impact: reading {len(ids[start : start + BATCH])} work items failed: {exc}"
            )
            continue
        for item in items:
            current = item.get("fields") or {}
            maps = applicable(
                live,
                str(current.get(FIELD_TEAM_PROJECT) or ""),
                str(current.get(FIELD_WORK_ITEM_TYPE) or ""),
            )
            wanted = changes(maps, facts_of(by_item[int(item["id"])]), current)
            if not wanted:
                continue
            try:
                client.update_work_item(
                    int(item["id"]), [set_field(name, value) for name, value in wanted.items()]
                )
            except ApiError as exc:
                errors.append(f"impact: work item {item['id']}: {exc}")
                log_event("sweep.impact_failed", logging.WARNING, error=type(exc).__name__)
                continue
            written += 1
            AuditLog(storage).record(
                integration.id,
                AuditEntry(
                    kind=KIND_SWEEP,
                    work_item_id=int(item["id"]),
                    rev=int(item.get("rev") or 0),
                    outcome=APPLIED,
                    action="impact",
                    reason="Sentry's impact: "
                    + ", ".join(f"{name} = {value}" for name, value in sorted(wanted.items())),
                ),
            )
    return written
