"""The rows of our tables as typed records, and how each is read from its entity.

Column names are spelled here and in the store module that writes them, nowhere else.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from shared.azure_devops.fields import WORK_ITEM_UPDATED
from shared.store.keys import work_item_row
from shared.store.sync_settings import ResolveStates, SyncOptions

STATUS, ASSIGNEE = "status", "assignee"
SYNCED_FIELDS = (STATUS, ASSIGNEE)


@dataclass(frozen=True)
class SentryOrg:
    """A Sentry organization an integration serves. ``client_secret_setting``: the app setting
    holding the internal integration's client secret (it signs what Sentry sends us);
    ``installation_uuid``: the integration's installation in this organization; ``uninstalled``:
    Sentry told us the integration was removed, so nothing is synced into it."""

    slug: str
    base_url: str
    token_setting: str
    client_secret_setting: str | None = None
    installation_uuid: str | None = None
    uninstalled: bool = False
    app_uuid: str | None = None  # our app, as the actor of the changes we make in Sentry

    def made_by_us(self, actor_type: str | None, actor_id: str | None) -> bool:
        """Whether a Sentry change was made with our token. Changes made with an integration's
        token name it as an ``application`` actor; ``sentry`` is Sentry itself. Until the app's
        uuid is known (``installation.created``), any integration's change counts as ours."""
        if actor_type != "application" or actor_id in (None, "sentry"):
            return False
        return self.app_uuid is None or actor_id == self.app_uuid

    def to_public(self) -> dict[str, Any]:
        return {
            "slug": self.slug,
            "baseUrl": self.base_url,
            "tokenSetting": self.token_setting,
            "clientSecretSetting": self.client_secret_setting,
            "installationUuid": self.installation_uuid,
            "status": "uninstalled" if self.uninstalled else "active",
        }


@dataclass(frozen=True)
class DoneStateMapping:
    """Explicit done-states for a project (name or id) and work item type; ``*`` = any."""

    project: str
    work_item_type: str
    states: tuple[str, ...]

    def to_public(self) -> dict[str, Any]:
        return {"project": self.project, "type": self.work_item_type, "states": list(self.states)}


@dataclass(frozen=True)
class FieldMap:
    """A Sentry value (``source``: level, release, tags.<name>, ...) written into a work item
    field when a work item is created, for a project and type (``*`` = any); ``values``
    translates Sentry's values (a value not listed is left out), empty: the value as it is."""

    project: str
    work_item_type: str
    source: str
    field: str
    values: tuple[tuple[str, str], ...] = ()
    live: bool = False  # kept up to date by the sweep (impact: counts, last seen)

    def to_public(self) -> dict[str, Any]:
        return {
            "project": self.project,
            "type": self.work_item_type,
            "source": self.source,
            "field": self.field,
            "values": dict(self.values),
            "live": self.live,
        }


@dataclass(frozen=True)
class HookSubscription:
    """A service hook subscription we created: its event type and the project it is limited to
    (if any). Subscriptions stored before event types were recorded are ``workitem.updated``."""

    id: str
    project_id: str | None = None
    event_type: str = WORK_ITEM_UPDATED

    def to_public(self) -> dict[str, Any]:
        return {"id": self.id, "projectId": self.project_id, "eventType": self.event_type}


@dataclass(frozen=True)
class Integration:
    id: str
    name: str
    base_url: str
    pat_setting: str
    resolution: str = "resolved"
    search_url: str | None = None
    sentry_app_secret_setting: str | None = None
    hook_url: str | None = None
    hook_key_setting: str | None = None
    hook_anonymous: bool = False  # WorkItemWebhook made anonymous: the URL carries no key
    subscriptions: tuple[HookSubscription, ...] = field(default=())
    secret_hash: str | None = None
    previous_secret_hash: str | None = None
    removed: bool = False
    created_at: datetime | None = None
    removed_at: datetime | None = None
    sentry_orgs: tuple[SentryOrg, ...] = field(default=())
    done_states: tuple[DoneStateMapping, ...] = field(default=())
    field_maps: tuple[FieldMap, ...] = field(default=())
    resolve_states: tuple[ResolveStates, ...] = field(default=())
    sync: SyncOptions = field(default=SyncOptions())

    def sentry_org(self, slug: str) -> SentryOrg | None:
        return next((org for org in self.sentry_orgs if org.slug == slug), None)

    @property
    def secret_hashes(self) -> tuple[str | None, str | None]:
        return (self.secret_hash, self.previous_secret_hash)

    def to_public(self) -> dict[str, Any]:
        """What operators may see: no secrets, no hashes."""
        return {
            "id": self.id,
            "name": self.name,
            "baseUrl": self.base_url,
            "patSetting": self.pat_setting,
            "resolution": self.resolution,
            "searchUrl": self.search_url,
            "sentryAppSecretSetting": self.sentry_app_secret_setting,
            "hookUrl": self.hook_url,
            "hookKeySetting": self.hook_key_setting,
            "hookAnonymous": self.hook_anonymous,
            "subscriptions": [sub.to_public() for sub in self.subscriptions],
            "status": "removed" if self.removed else "active",
            "rotationInProgress": bool(self.previous_secret_hash),
            "createdAt": self.created_at.isoformat() if self.created_at else None,
            "removedAt": self.removed_at.isoformat() if self.removed_at else None,
            "sentryOrgs": [org.to_public() for org in self.sentry_orgs],
            "doneStates": [mapping.to_public() for mapping in self.done_states],
            "fieldMaps": [mapping.to_public() for mapping in self.field_maps],
            "resolveStates": [mapping.to_public() for mapping in self.resolve_states],
            "sync": self.sync.to_public(),
        }


@dataclass(frozen=True)
class Link:
    integration_id: str
    work_item_id: int
    sentry_org: str
    issue_id: str
    state_rev: int = 0
    assignee_rev: int = 0
    last_state: str | None = None
    cross_rev: int = 0
    cross_done: bool | None = None
    assignee_target: str | None = None
    pending: frozenset[str] = frozenset()
    lease_until: datetime | None = None
    created_at: datetime | None = None
    touched_at: datetime | None = None
    etag: str | None = None
    external_issue_id: str | None = None  # on the ``s:`` row: the link as Sentry shows it

    @property
    def memory(self) -> LinkMemory:
        return LinkMemory(
            status=StatusMemory(
                rev=self.state_rev,
                state=self.last_state,
                cross_rev=self.cross_rev,
                cross_done=self.cross_done,
            ),
            assignee_rev=self.assignee_rev,
            assignee=self.assignee_target,
            pending=self.pending,
        )

    def leased(self, now: datetime) -> bool:
        return self.lease_until is not None and self.lease_until > now

    @property
    def row_key(self) -> str:
        return work_item_row(self.work_item_id, self.sentry_org, self.issue_id)

    def to_public(self) -> dict[str, Any]:
        shown = {
            "workItemId": self.work_item_id,
            "sentryOrg": self.sentry_org,
            "issueId": self.issue_id,
            "stateRev": self.state_rev,
            "assigneeRev": self.assignee_rev,
            "lastState": self.last_state,
            "pending": sorted(self.pending),
            "createdAt": self.created_at.isoformat() if self.created_at else None,
        }
        if self.external_issue_id:
            shown["externalIssueId"] = self.external_issue_id
        return shown


# -- what a link remembers (written by ``store.link_memory``) ---------------------------------


@dataclass(frozen=True)
class StatusMemory:
    """What a link remembers of the work item's revisions, whatever order they came in.

    ``rev``/``state``: the newest revision seen and its state. ``cross_rev``/``cross_done``:
    the newest revision that moved between not-done and done, and whether it moved into done.
    In order, every such move asks for a write; out of order, the newest one decides.
    """

    rev: int = 0
    state: str | None = None
    cross_rev: int = 0
    cross_done: bool | None = None

    @property
    def target(self) -> bool | None:
        """True: Sentry should be resolved; False: unresolved; None: no move asked anything."""
        return self.cross_done if self.cross_rev else None


@dataclass(frozen=True)
class LinkMemory:
    """Everything a link remembers, and the one thing that decides Sentry's wanted state.

    ``assignee``: the assignee Sentry should have, as the email of a member; ``""`` for
    nobody; None when unknown (no revision asked, or the assignee had no email).
    ``pending``: fields Sentry may not show yet. It is written together with the claim,
    *before* Sentry is called, and cleared after the call succeeded, so a run that dies, times
    out or is overtaken in between leaves a trace the next run on the link completes.
    """

    status: StatusMemory = StatusMemory()
    assignee_rev: int = 0
    assignee: str | None = None
    pending: frozenset[str] = frozenset()


# -- from entities ---------------------------------------------------------------------------


def integration_from(entity: dict[str, Any], orgs: tuple[SentryOrg, ...] = ()) -> Integration:
    return Integration(
        id=entity["PartitionKey"],
        name=entity.get("Name", ""),
        base_url=entity.get("BaseUrl", ""),
        pat_setting=entity.get("PatSetting", ""),
        resolution=entity.get("Resolution", "resolved"),
        search_url=entity.get("SearchUrl") or None,
        sentry_app_secret_setting=entity.get("SentryAppSecretSetting") or None,
        hook_url=entity.get("HookUrl") or None,
        hook_key_setting=entity.get("HookKeySetting") or None,
        hook_anonymous=bool(entity.get("HookAnonymous")),
        subscriptions=tuple(
            HookSubscription(
                item["id"], item.get("projectId"), item.get("eventType") or WORK_ITEM_UPDATED
            )
            for item in json.loads(entity.get("Subscriptions") or "[]")
        ),
        secret_hash=entity.get("SecretHash") or None,
        previous_secret_hash=entity.get("PreviousSecretHash") or None,
        removed=entity.get("Status") == "removed",
        created_at=entity.get("CreatedAt"),
        removed_at=entity.get("RemovedAt"),
        sentry_orgs=orgs,
        done_states=done_states_from(entity.get("DoneStates")),
        field_maps=field_maps_from(entity.get("FieldMaps")),
        resolve_states=resolve_states_from(entity.get("ResolveStates")),
        sync=SyncOptions.from_json(entity.get("SyncOptions")),
    )


def done_states_from(text: str | None) -> tuple[DoneStateMapping, ...]:
    if not text:
        return ()
    return tuple(
        DoneStateMapping(item["project"], item["type"], tuple(item["states"]))
        for item in json.loads(text)
    )


def field_maps_from(text: str | None) -> tuple[FieldMap, ...]:
    if not text:
        return ()
    return tuple(
        FieldMap(
            item["project"],
            item["type"],
            item["source"],
            item["field"],
            tuple(item.get("values", {}).items()),
            bool(item.get("live")),
        )
        for item in json.loads(text)
    )


def resolve_states_from(text: str | None) -> tuple[ResolveStates, ...]:
    if not text:
        return ()
    return tuple(
        ResolveStates(
            item["project"],
            item["type"],
            item.get("onResolve"),
            item.get("onUnresolve"),
            item.get("onRegression"),
        )
        for item in json.loads(text)
    )


def sentry_org_from(entity: dict[str, Any]) -> SentryOrg:
    return SentryOrg(
        slug=entity["Slug"],
        base_url=entity["BaseUrl"],
        token_setting=entity["TokenSetting"],
        client_secret_setting=entity.get("ClientSecretSetting") or None,
        installation_uuid=entity.get("InstallationUuid") or None,
        uninstalled=entity.get("Status") == "uninstalled",
        app_uuid=entity.get("AppUuid") or None,
    )


def link_from_row(entity: Any) -> Link:
    return Link(
        integration_id=entity["PartitionKey"],
        work_item_id=int(entity["WorkItemId"]),
        sentry_org=entity["SentryOrg"],
        issue_id=entity["IssueId"],
        state_rev=int(entity.get("StateRev", 0) or 0),
        assignee_rev=int(entity.get("AssigneeRev", 0) or 0),
        last_state=entity.get("LastState") or None,
        cross_rev=int(entity.get("CrossRev", 0) or 0),
        cross_done=entity.get("CrossDone"),
        # "" is "nobody"; a missing column is "not known".
        assignee_target=entity.get("AssigneeTarget"),
        pending=frozenset(p for p in (entity.get("Pending") or "").split(",") if p),
        lease_until=entity.get("LeaseUntil"),
        created_at=entity.get("CreatedAt"),
        touched_at=getattr(entity, "metadata", {}).get("timestamp"),
        external_issue_id=entity.get("ExternalIssueId") or None,
        etag=getattr(entity, "metadata", {}).get("etag"),
    )
