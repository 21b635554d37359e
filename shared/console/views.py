"""What the console's pages show, read from storage (and, for subscription status, Azure
DevOps): plain values for the templates, which escape everything they print."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from shared.devops_intake.subscriptions import Subscriptions
from shared.errors import ConfigurationError, StorageUnavailable
from shared.http import ApiError
from shared.store.audit import FAILED, KIND_SWEEP, KINDS, POISONED, AuditLog
from shared.store.integrations import Integrations
from shared.store.poison import QUEUES, PoisonQueue
from shared.store.records import Integration
from shared.store.storage import Storage
from shared.store.sweeps import DONE, Sweeps

HOURS = 48
MAX_ROWS = 5000  # audit rows read per integration for the overview (newest first)
WRITES = ("applied",)
FAILURES = (FAILED, POISONED)


@dataclass
class Health:
    level: str = "ok"  # ok, warning, broken
    reasons: list[str] = field(default_factory=list)

    def worse(self, level: str, reason: str) -> None:
        order = ("ok", "warning", "broken")
        if order.index(level) > order.index(self.level):
            self.level = level
        self.reasons.append(reason)


@dataclass
class IntegrationView:
    id: str
    name: str
    health: Health
    subscriptions: list[dict[str, str]]
    last_decision: str | None
    last_by_kind: list[tuple[str, str]]  # (kind, "2026-12-03 07:00 UTC, 5 minutes ago")
    failures_24h: int
    sweep: str
    chart: list[dict[str, int | str]]
    rows_read: int


@dataclass
class QueueView:
    name: str
    depth: int | str
    poison: int | str


def _hour(moment: datetime) -> datetime:
    return moment.replace(minute=0, second=0, microsecond=0)


def overview(
    storage: Storage, now: datetime | None = None
) -> tuple[list[IntegrationView], list[QueueView]]:
    now = now or datetime.now(UTC)
    views = [_integration(storage, i, now) for i in Integrations(storage).list_all()]
    return views, queues(storage)


def queues(storage: Storage) -> list[QueueView]:
    shown = []
    for kind in QUEUES:
        try:
            depth: int | str = storage.depth(kind)
            poison: int | str = PoisonQueue(storage, kind).depth()
        except StorageUnavailable as exc:
            depth = poison = f"unknown ({exc})"
        shown.append(QueueView(kind, depth, poison))
    return shown


def _integration(storage: Storage, integration: Integration, now: datetime) -> IntegrationView:
    health = Health()
    subscriptions: list[dict[str, str]] = []
    try:
        for status in Subscriptions(storage).statuses(integration.id):
            subscriptions.append(
                {"id": status.id, "event": status.event_type, "status": status.status}
            )
            if status.status != "enabled":
                health.worse("broken", f"subscription {status.id} is {status.status}")
    except (ApiError, ConfigurationError) as exc:
        health.worse("warning", f"subscription status could not be read: {exc}")
    if not integration.subscriptions:
        health.worse("warning", "no service hook subscription")
    rows = AuditLog(storage).since(integration.id, now - timedelta(hours=HOURS), MAX_ROWS)
    cut = now - timedelta(hours=24)
    failures = [r for r in rows if r["outcome"] in FAILURES and _time(r) >= cut]
    if failures:
        health.worse("warning", f"{len(failures)} failure(s) in the last 24 hours")
    corrections = sum(1 for r in rows if r.get("kind") == KIND_SWEEP and r["action"] != "none")
    current = Sweeps(storage).current(integration.id)
    sweep = "never run"
    if current is not None:
        state = "finished" if current.after == DONE else "under way"
        sweep = f"round {current.id} {state}, last step {current.updated_at:%Y-%m-%d %H:%M} UTC"
        sweep += f"; {corrections} correction(s) in 48 hours"
        if now - current.updated_at > timedelta(hours=1):
            health.worse("warning", "the sweep has not moved for over an hour")
    return IntegrationView(
        id=integration.id,
        name=integration.name or integration.base_url,
        health=health,
        subscriptions=subscriptions,
        last_decision=rows[0]["time"] if rows else None,
        last_by_kind=_last_by_kind(rows, now),
        failures_24h=len(failures),
        sweep=sweep,
        chart=chart(rows, now),
        rows_read=len(rows),
    )


def _last_by_kind(rows: list[dict[str, Any]], now: datetime) -> list[tuple[str, str]]:
    """The newest decision of each kind (rows are newest first), with its age."""
    shown = []
    for kind in KINDS:
        row = next((r for r in rows if r.get("kind") == kind), None)
        if row is None:
            shown.append((kind, "none in 48 hours"))
            continue
        minutes = int((now - _time(row)).total_seconds() // 60)
        age = f"{minutes} minute(s) ago" if minutes < 120 else f"{minutes // 60} hours ago"
        shown.append((kind, f"{_time(row):%Y-%m-%d %H:%M} UTC, {age}"))
    return shown


def _time(row: dict[str, Any]) -> datetime:
    return datetime.fromisoformat(row["time"])


def chart(rows: list[dict[str, Any]], now: datetime) -> list[dict[str, int | str]]:
    """Per hour over the last 48 hours, oldest first: decisions, writes and failures."""
    start = _hour(now) - timedelta(hours=HOURS - 1)
    bins = [
        {"hour": (start + timedelta(hours=i)).strftime("%d %H:00"), "all": 0, "writes": 0,
         "failures": 0}
        for i in range(HOURS)
    ]  # fmt: skip
    for row in rows:
        index = int((_hour(_time(row)) - start) / timedelta(hours=1))
        if 0 <= index < HOURS:
            bins[index]["all"] += 1
            bins[index]["writes"] += row["outcome"] in WRITES
            bins[index]["failures"] += row["outcome"] in FAILURES
    return bins


@dataclass
class PoisonView:
    id: str
    inserted: str | None
    summary: str
    readable: bool


def poison(storage: Storage, kind: str) -> list[PoisonView]:
    shown = []
    for message in PoisonQueue(storage, kind).peek():
        if message.text is None:
            shown.append(
                PoisonView(
                    message.id,
                    message.inserted,
                    f"not base64 text ({message.size} characters)",
                    False,
                )
            )
            continue
        try:
            summary = json.dumps(json.loads(message.text), indent=1, ensure_ascii=False)
        except ValueError:
            summary = message.text
        shown.append(PoisonView(message.id, message.inserted, summary[:2000], True))
    return shown


# -- one integration ---------------------------------------------------------------------------


@dataclass
class IntegrationPage:
    integration: Integration
    settings: dict[str, Any]
    repositories: list[dict[str, Any]]
    checks: list[dict[str, Any]] | None  # None: not run (a button runs them)


def integration_page(storage: Storage, integration_id: str, run_checks: bool) -> IntegrationPage:
    from shared.maintenance.check import check_integration
    from shared.store.repositories import Repositories

    integration = Integrations(storage).get(integration_id, with_orgs=True)
    shown = integration.to_public()
    settings = {
        "Sync": shown["sync"],
        "Done-states": shown["doneStates"],
        "Resolve states": shown["resolveStates"],
        "Field maps": shown["fieldMaps"],
    }
    checks = None
    if run_checks:
        checks = [c.to_public() for c in check_integration(storage, integration.id)]
    repositories = [r.to_public() for r in Repositories(storage).list(integration.id)]
    return IntegrationPage(integration, settings, repositories, checks)


# -- audit ---------------------------------------------------------------------------------------

PAGE_ROWS = 50


@dataclass(frozen=True)
class AuditFilter:
    work_item: int | None = None
    issue: str | None = None
    outcome: str | None = None
    until: datetime | None = None  # rows at or before this time

    def keep(self, row: dict[str, Any]) -> bool:
        return (
            (self.work_item is None or row["workItemId"] == self.work_item)
            and (self.issue is None or row.get("issueId") == self.issue)
            and (self.outcome is None or row["outcome"] == self.outcome)
            and (self.until is None or _time(row) <= self.until)
        )


def audit_page(
    storage: Storage, integration_id: str, where: AuditFilter, after: str = ""
) -> tuple[list[dict[str, Any]], str | None]:
    integration = Integrations(storage).get(integration_id)
    return AuditLog(storage).page(integration.id, where.keep, after, PAGE_ROWS)


# -- links ---------------------------------------------------------------------------------------


@dataclass
class LinkView:
    work_item_id: int
    work_item_url: str
    sentry_org: str
    issue_id: str
    issue_url: str | None
    memory: dict[str, Any]


def links_page(
    storage: Storage, integration_id: str, work_item: int | None, org: str | None, issue: str | None
) -> list[LinkView]:
    from shared.azure_devops.paths import work_item_org_web_url
    from shared.sentry.paths import issue_web_url
    from shared.store.links import Links
    from shared.validation import web_link

    integration = Integrations(storage).get(integration_id, with_orgs=True)
    links = Links(storage)
    if work_item is not None:
        found = links.for_work_item(integration.id, work_item)
    elif org and issue:
        found = links.for_issue(integration.id, org, issue)
    else:
        return []
    shown = []
    for link in found:
        sentry = integration.sentry_org(link.sentry_org)
        issue_url = (
            web_link(issue_web_url(sentry.base_url, sentry.slug, link.issue_id))
            if sentry is not None
            else None
        )
        memory = link.memory
        shown.append(
            LinkView(
                work_item_id=link.work_item_id,
                work_item_url=work_item_org_web_url(integration.base_url, link.work_item_id),
                sentry_org=link.sentry_org,
                issue_id=link.issue_id,
                issue_url=issue_url,
                memory={
                    "state revision applied": memory.status.rev,
                    "last state": memory.status.state,
                    "Sentry should be": ("resolved" if memory.status.target else "unresolved")
                    if memory.status.target is not None
                    else "not asked yet",
                    "assignee revision applied": memory.assignee_rev,
                    "Sentry assignee should be": memory.assignee
                    if memory.assignee is not None
                    else "not asked yet",
                    "pending (a write under way or unfinished)": ", ".join(sorted(memory.pending))
                    or "none",
                    "leased until": link.lease_until.isoformat() if link.lease_until else "-",
                    "last sync": link.touched_at.isoformat() if link.touched_at else "-",
                },
            )
        )
    return shown
