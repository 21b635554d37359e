"""Integrations, their Sentry organizations, and links, kept in Azure Table Storage.

Layout (every key obeys Table Storage rules: no ``/ \\ # ?``, far below 1 KiB):

``integrations`` table, one partition per integration (its collection id, a GUID):
    RowKey ``integration``      the Azure DevOps organization: base URL, PAT setting name,
                                webhook secret hashes, options; a tombstone once removed.
    RowKey ``sentry:<slug>``    one Sentry organization it serves: base URL, token setting name.

``links`` table, same partition key; each link is two rows written in one transaction so it
reads from either side with one range query:
    RowKey ``w:<work item, 10 digits>:<slug>:<issue id>``   (also holds the sync watermarks)
    RowKey ``s:<slug>:<issue id>:<work item, 10 digits>``
Under a work item's prefix, rows starting ``~`` are not links but delivery markers
(``shared.deliveries``): one query reads a work item's links and its markers together.
"""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from azure.core import MatchConditions
from azure.core.exceptions import (
    ResourceExistsError,
    ResourceModifiedError,
    ResourceNotFoundError,
)
from azure.data.tables import TableClient, TableTransactionError, UpdateMode

from shared.credentials import check_setting_name, hash_secret, new_webhook_secret
from shared.errors import (
    AlreadyExists,
    IntegrationNotFound,
    IntegrationRemoved,
    InvalidInput,
    NotFound,
)
from shared.payloads import normalize_guid
from shared.rules import LinkMemory, StatusMemory
from shared.storage import INTEGRATIONS, LINKS, Storage, storage_errors

INTEGRATION_ROW = "integration"
# How stale a cached integration row may be where callers accept one (``max_age``).
INTEGRATION_MAX_AGE = 30.0
RESOLUTION_STRATEGIES = ("resolved", "resolvedInNextRelease")
MAX_WORK_ITEM_ID = 2**31 - 1

_SLUG = re.compile(r"^[a-z0-9][a-z0-9_-]{0,49}$")
_ISSUE_ID = re.compile(r"^[1-9][0-9]{0,19}$")  # [0-9], not \d: ASCII digits only
_BATCH_LIMIT = 100


def _now() -> datetime:
    return datetime.now(UTC)


_clock = time.monotonic
_recent: dict[tuple[int, str, bool], tuple[float, Any]] = {}


def forget_cached_integrations() -> None:
    """Drop integration rows read recently (tests; nothing else needs to)."""
    _recent.clear()


# -- validation of operator input -------------------------------------------------------------


def check_integration_id(value: str) -> str:
    try:
        return normalize_guid(value)
    except ValueError:
        raise InvalidInput(
            f"{value!r} is not a collection id (a GUID such as "
            "0c2f7a51-6b7e-4d4a-8e3c-1f2a3b4c5d6e)"
        ) from None


MAX_URL_LENGTH = 2048


def check_base_url(value: str, what: str) -> str:
    """An absolute http(s) URL without query or fragment, returned with one trailing slash.

    ``http://`` is accepted for hosts inside a private network (Azure DevOps Server, a
    self-hosted Sentry); use ``https://`` for anything reached over the internet.
    """
    text = (value or "").strip()
    if len(text) > MAX_URL_LENGTH:
        raise InvalidInput(f"{what} is longer than {MAX_URL_LENGTH} characters")
    try:
        parts = urlsplit(text)
        host = parts.hostname
    except ValueError:
        host = None
    if host is None or parts.scheme not in ("https", "http"):
        shown = text if len(text) <= 100 else text[:100] + "..."
        raise InvalidInput(
            f"{what} must be an absolute http:// or https:// URL (https:// unless the host is "
            f"on a private network), got {shown!r}"
        )
    if parts.query or parts.fragment or parts.username or parts.password:
        raise InvalidInput(f"{what} must not carry credentials, a query or a fragment")
    return f"{parts.scheme}://{parts.netloc}{parts.path.rstrip('/')}/"


def check_slug(value: str) -> str:
    if not _SLUG.match(value or ""):
        raise InvalidInput(
            f"{value!r} is not a Sentry organization slug (lower-case letters, digits, - and _)"
        )
    return value


def check_issue_id(value: str | int) -> str:
    text = str(value).strip()
    if not _ISSUE_ID.match(text):
        raise InvalidInput(f"{value!r} is not a Sentry issue id (a positive number)")
    return text


_NUMBER = re.compile(r"^[0-9]{1,10}$")


def check_work_item_id(value: str | int) -> int:
    """A work item id: ASCII digits only (``int()`` would take ``١٢`` too), optional ``#``."""
    text = str(value).strip().removeprefix("#")
    if not _NUMBER.match(text):
        raise InvalidInput(f"{value!r} is not a work item id (a positive number)")
    number = int(text)
    if not 0 < number <= MAX_WORK_ITEM_ID:
        raise InvalidInput(f"{value!r} is not a work item id (a positive number)")
    return number


def check_resolution(value: str) -> str:
    if value not in RESOLUTION_STRATEGIES:
        raise InvalidInput(f"resolution must be one of {', '.join(RESOLUTION_STRATEGIES)}")
    return value


# -- the records ------------------------------------------------------------------------------


@dataclass(frozen=True)
class SentryOrg:
    slug: str
    base_url: str
    token_setting: str

    def to_public(self) -> dict[str, Any]:
        return {"slug": self.slug, "baseUrl": self.base_url, "tokenSetting": self.token_setting}


@dataclass(frozen=True)
class DoneStateMapping:
    """Explicit done-states for a project (name or id) and work item type; ``*`` = any."""

    project: str
    work_item_type: str
    states: tuple[str, ...]

    def to_public(self) -> dict[str, Any]:
        return {"project": self.project, "type": self.work_item_type, "states": list(self.states)}


@dataclass(frozen=True)
class HookSubscription:
    """A service hook subscription we created, and the project it is limited to (if any)."""

    id: str
    project_id: str | None = None

    def to_public(self) -> dict[str, Any]:
        return {"id": self.id, "projectId": self.project_id}


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
    subscriptions: tuple[HookSubscription, ...] = field(default=())
    secret_hash: str | None = None
    previous_secret_hash: str | None = None
    removed: bool = False
    created_at: datetime | None = None
    removed_at: datetime | None = None
    sentry_orgs: tuple[SentryOrg, ...] = field(default=())
    done_states: tuple[DoneStateMapping, ...] = field(default=())

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
            "subscriptions": [sub.to_public() for sub in self.subscriptions],
            "status": "removed" if self.removed else "active",
            "rotationInProgress": bool(self.previous_secret_hash),
            "createdAt": self.created_at.isoformat() if self.created_at else None,
            "removedAt": self.removed_at.isoformat() if self.removed_at else None,
            "sentryOrgs": [org.to_public() for org in self.sentry_orgs],
            "doneStates": [mapping.to_public() for mapping in self.done_states],
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
        return {
            "workItemId": self.work_item_id,
            "sentryOrg": self.sentry_org,
            "issueId": self.issue_id,
            "stateRev": self.state_rev,
            "assigneeRev": self.assignee_rev,
            "lastState": self.last_state,
            "pending": sorted(self.pending),
            "createdAt": self.created_at.isoformat() if self.created_at else None,
        }


def _work_item_key(work_item_id: int) -> str:
    return f"{work_item_id:010d}"


def work_item_prefix(work_item_id: int) -> str:
    return f"w:{_work_item_key(work_item_id)}:"


MARKER = "~"  # sorts after every slug character, so markers follow a work item's links


def work_item_row(work_item_id: int, slug: str, issue_id: str) -> str:
    return f"w:{_work_item_key(work_item_id)}:{slug}:{issue_id}"


def issue_row(slug: str, issue_id: str, work_item_id: int) -> str:
    return f"s:{slug}:{issue_id}:{_work_item_key(work_item_id)}"


def _prefix_filter(prefix: str) -> tuple[str, dict[str, str]]:
    # Rows sharing a prefix ending in ":" sort before prefix-with-";" (the next character).
    return (
        "PartitionKey eq @pk and RowKey ge @lo and RowKey lt @hi",
        {"lo": prefix, "hi": prefix[:-1] + ";"},
    )


def _integration_from(entity: dict[str, Any], orgs: tuple[SentryOrg, ...] = ()) -> Integration:
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
        subscriptions=tuple(
            HookSubscription(item["id"], item.get("projectId"))
            for item in json.loads(entity.get("Subscriptions") or "[]")
        ),
        secret_hash=entity.get("SecretHash") or None,
        previous_secret_hash=entity.get("PreviousSecretHash") or None,
        removed=entity.get("Status") == "removed",
        created_at=entity.get("CreatedAt"),
        removed_at=entity.get("RemovedAt"),
        sentry_orgs=orgs,
        done_states=_mappings_from(entity.get("DoneStates")),
    )


def _mappings_from(text: str | None) -> tuple[DoneStateMapping, ...]:
    if not text:
        return ()
    return tuple(
        DoneStateMapping(item["project"], item["type"], tuple(item["states"]))
        for item in json.loads(text)
    )


def _org_from(entity: dict[str, Any]) -> SentryOrg:
    return SentryOrg(
        slug=entity["Slug"], base_url=entity["BaseUrl"], token_setting=entity["TokenSetting"]
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
        etag=getattr(entity, "metadata", {}).get("etag"),
    )


class Registry:
    """Reads and writes integrations, Sentry organizations and links."""

    def __init__(self, storage: Storage) -> None:
        self._storage = storage

    @property
    def _integrations(self) -> TableClient:
        return self._storage.table(INTEGRATIONS)

    @property
    def _links(self) -> TableClient:
        return self._storage.table(LINKS)

    # -- integrations -------------------------------------------------------------------------

    def add_integration(
        self,
        integration_id: str,
        *,
        name: str,
        base_url: str,
        pat_setting: str,
        resolution: str = "resolved",
    ) -> tuple[Integration, str]:
        """Register an Azure DevOps organization; returns it and its first webhook secret."""
        integration_id = check_integration_id(integration_id)
        secret = new_webhook_secret()
        entity = {
            "PartitionKey": integration_id,
            "RowKey": INTEGRATION_ROW,
            "Name": (name or "").strip()[:200],
            "BaseUrl": check_base_url(base_url, "the Azure DevOps base URL"),
            "PatSetting": check_setting_name(pat_setting),
            "Resolution": check_resolution(resolution),
            "SecretHash": hash_secret(secret),
            "PreviousSecretHash": "",
            "Status": "active",
            "CreatedAt": _now(),
        }
        with storage_errors():
            try:
                self._integrations.create_entity(entity)
            except ResourceExistsError:
                existing = self._integrations.get_entity(integration_id, INTEGRATION_ROW)
                if existing.get("Status") != "removed":
                    raise AlreadyExists(
                        f"integration {integration_id} is already registered"
                    ) from None
                # Re-registering a removed organization replaces its tombstone.
                self._integrations.update_entity(
                    entity,
                    mode=UpdateMode.REPLACE,
                    etag=existing.metadata["etag"],
                    match_condition=MatchConditions.IfNotModified,
                )
        self._forget(integration_id)
        return _integration_from(entity), secret

    def get_integration(
        self, integration_id: str, *, with_orgs: bool = False, max_age: float = 0.0
    ) -> Integration:
        """The active integration; raises ``IntegrationNotFound`` or ``IntegrationRemoved``.

        With ``max_age`` a copy read at most that many seconds ago may be returned instead of
        reading storage again (only active integrations are kept).
        """
        integration_id = check_integration_id(integration_id)
        key = (id(self._storage), integration_id, with_orgs)
        if max_age > 0:
            entry = _recent.get(key)
            if entry is not None and _clock() - entry[0] <= max_age:
                return entry[1]
        try:
            integration = self._read_integration(integration_id, with_orgs=with_orgs)
        except IntegrationNotFound:
            _recent.pop(key, None)
            raise
        if integration.removed:
            _recent.pop(key, None)
            raise IntegrationRemoved(integration.id)
        if len(_recent) > 1000:
            _recent.clear()
        _recent[key] = (_clock(), integration)
        return integration

    def _forget(self, integration_id: str) -> None:
        """After a write in this process, no caller should get the old copy."""
        for with_orgs in (False, True):
            _recent.pop((id(self._storage), integration_id, with_orgs), None)

    def _read_integration(self, integration_id: str, *, with_orgs: bool) -> Integration:
        integration_id = check_integration_id(integration_id)
        with storage_errors():
            if not with_orgs:
                try:
                    entity = self._integrations.get_entity(integration_id, INTEGRATION_ROW)
                except ResourceNotFoundError:
                    raise IntegrationNotFound(integration_id) from None
                return _integration_from(entity)
            rows = list(
                self._integrations.query_entities(
                    "PartitionKey eq @pk", parameters={"pk": integration_id}
                )
            )
        main = next((row for row in rows if row["RowKey"] == INTEGRATION_ROW), None)
        if main is None:
            raise IntegrationNotFound(integration_id)
        orgs = tuple(
            sorted(
                (_org_from(row) for row in rows if row["RowKey"].startswith("sentry:")),
                key=lambda org: org.slug,
            )
        )
        return _integration_from(main, orgs)

    def list_integrations(self, *, include_removed: bool = False) -> list[Integration]:
        with storage_errors():
            rows = list(
                self._integrations.query_entities(
                    "RowKey eq @rk", parameters={"rk": INTEGRATION_ROW}
                )
            )
        integrations = [_integration_from(row) for row in rows]
        return sorted(
            (i for i in integrations if include_removed or not i.removed), key=lambda i: i.id
        )

    def remove_integration(self, integration_id: str) -> None:
        """Tombstone the integration (the webhook then answers 410) and drop its links.

        Running it again on a removed integration finishes a cleanup that was interrupted.
        """
        integration = self._read_integration(integration_id, with_orgs=True)
        with storage_errors():
            if not integration.removed:
                self._integrations.update_entity(
                    {
                        "PartitionKey": integration.id,
                        "RowKey": INTEGRATION_ROW,
                        "Status": "removed",
                        "RemovedAt": _now(),
                        "SecretHash": "",
                        "PreviousSecretHash": "",
                    },
                    mode=UpdateMode.MERGE,
                )
            link_rows = self._links.query_entities(
                "PartitionKey eq @pk", parameters={"pk": integration.id}, select=["RowKey"]
            )
            _delete_rows(self._links, integration.id, [row["RowKey"] for row in link_rows])
            _delete_rows(
                self._integrations,
                integration.id,
                [f"sentry:{org.slug}" for org in integration.sentry_orgs],
            )
        self._forget(integration.id)

    def rotate_secret(self, integration_id: str) -> str:
        """A new webhook secret; the current one stays valid as the previous secret."""
        secret = new_webhook_secret()
        self._update_integration(
            integration_id,
            lambda entity: {
                "SecretHash": hash_secret(secret),
                "PreviousSecretHash": entity.get("SecretHash", ""),
            },
        )
        return secret

    def finish_rotation(self, integration_id: str) -> None:
        """Stop accepting the previous webhook secret."""
        self._update_integration(integration_id, lambda entity: {"PreviousSecretHash": ""})

    def _update_integration(self, integration_id: str, change: Any) -> None:
        """Read-modify-write of the integration row, refused if someone wrote in between."""
        integration_id = check_integration_id(integration_id)
        with storage_errors():
            try:
                entity = self._integrations.get_entity(integration_id, INTEGRATION_ROW)
            except ResourceNotFoundError:
                raise IntegrationNotFound(integration_id) from None
            if entity.get("Status") == "removed":
                raise IntegrationRemoved(integration_id)
            entity.update(change(entity))
            try:
                self._integrations.update_entity(
                    entity, mode=UpdateMode.MERGE, match_condition=MatchConditions.IfNotModified
                )
            except ResourceModifiedError:
                raise AlreadyExists(
                    "the integration changed at the same time; run the command again"
                ) from None
        self._forget(integration_id)

    def update_integration(
        self,
        integration_id: str,
        *,
        name: str | None = None,
        base_url: str | None = None,
        pat_setting: str | None = None,
        resolution: str | None = None,
        search_url: str | None = None,
        sentry_app_secret_setting: str | None = None,
    ) -> Integration:
        """Change settings of an integration; ``""`` clears the optional ones."""
        changes: dict[str, Any] = {}
        if name is not None:
            changes["Name"] = name.strip()[:200]
        if base_url is not None:
            changes["BaseUrl"] = check_base_url(base_url, "the Azure DevOps base URL")
        if pat_setting is not None:
            changes["PatSetting"] = check_setting_name(pat_setting)
        if resolution is not None:
            changes["Resolution"] = check_resolution(resolution)
        if search_url is not None:
            changes["SearchUrl"] = search_url and check_base_url(search_url, "the search URL")
        if sentry_app_secret_setting is not None:
            changes["SentryAppSecretSetting"] = sentry_app_secret_setting and check_setting_name(
                sentry_app_secret_setting
            )
        if not changes:
            raise InvalidInput("nothing to change: give at least one option")
        self._update_integration(integration_id, lambda entity: changes)
        return self.get_integration(integration_id, with_orgs=True)

    def set_hook(self, integration_id: str, url: str, key_setting: str | None) -> Integration:
        """Where Azure DevOps should deliver (the WorkItemWebhook URL, without its key)."""
        parts = urlsplit(url)
        if parts.scheme != "https" or not parts.hostname or parts.query or parts.fragment:
            raise InvalidInput(
                "the webhook URL must be https:// without a query; give the function key "
                "as an app setting name with --key-setting"
            )
        changes = {
            "HookUrl": url,
            "HookKeySetting": check_setting_name(key_setting) if key_setting else "",
        }
        self._update_integration(integration_id, lambda entity: changes)
        return self.get_integration(integration_id)

    def set_subscriptions(self, integration_id: str, subscriptions: list[HookSubscription]) -> None:
        text = json.dumps([sub.to_public() for sub in subscriptions])
        self._update_integration(integration_id, lambda entity: {"Subscriptions": text})

    def set_done_states(
        self, integration_id: str, project: str, work_item_type: str, states: list[str]
    ) -> Integration:
        """Configure (or, with no states, clear) the done-states of a project and type."""
        project, work_item_type = project.strip(), work_item_type.strip()
        if not project or not work_item_type:
            raise InvalidInput("give a project (name, id or *) and a work item type (or *)")
        cleaned = tuple(dict.fromkeys(s.strip() for s in states if s.strip()))

        def change(entity: dict[str, Any]) -> dict[str, Any]:
            kept = [
                m
                for m in _mappings_from(entity.get("DoneStates"))
                if (m.project.casefold(), m.work_item_type.casefold())
                != (project.casefold(), work_item_type.casefold())
            ]
            if cleaned:
                kept.append(DoneStateMapping(project, work_item_type, cleaned))
            return {"DoneStates": json.dumps([m.to_public() for m in kept])}

        self._update_integration(integration_id, change)
        return self.get_integration(integration_id)

    # -- Sentry organizations -----------------------------------------------------------------

    def add_sentry_org(
        self, integration_id: str, *, slug: str, base_url: str, token_setting: str
    ) -> SentryOrg:
        integration = self.get_integration(integration_id)
        org = SentryOrg(
            slug=check_slug(slug),
            base_url=check_base_url(base_url, "the Sentry base URL"),
            token_setting=check_setting_name(token_setting),
        )
        with storage_errors():
            try:
                self._integrations.create_entity(
                    {
                        "PartitionKey": integration.id,
                        "RowKey": f"sentry:{org.slug}",
                        "Slug": org.slug,
                        "BaseUrl": org.base_url,
                        "TokenSetting": org.token_setting,
                    }
                )
            except ResourceExistsError:
                raise AlreadyExists(
                    f"Sentry organization {org.slug} is already part of integration "
                    f"{integration.id}"
                ) from None
        self._forget(integration.id)
        return org

    def remove_sentry_org(self, integration_id: str, slug: str) -> None:
        integration = self.get_integration(integration_id, with_orgs=True)
        slug = check_slug(slug)
        if slug not in {org.slug for org in integration.sentry_orgs}:
            raise NotFound(f"integration {integration.id} has no Sentry organization {slug}")
        with storage_errors():
            query, params = _prefix_filter(f"s:{slug}:")
            in_use = sum(
                1
                for _ in self._links.query_entities(
                    query, parameters={"pk": integration.id, **params}, select=["RowKey"]
                )
            )
            if in_use:
                raise InvalidInput(
                    f"Sentry organization {slug} still has {in_use} link(s); remove them first"
                )
            self._integrations.delete_entity(integration.id, f"sentry:{slug}")
        self._forget(integration.id)

    # -- links --------------------------------------------------------------------------------

    def add_link(self, integration_id: str, work_item_id: int, slug: str, issue_id: str) -> Link:
        integration = self.get_integration(integration_id, with_orgs=True)
        work_item_id = check_work_item_id(work_item_id)
        slug, issue_id = check_slug(slug), check_issue_id(issue_id)
        if slug not in {org.slug for org in integration.sentry_orgs}:
            raise NotFound(f"integration {integration.id} has no Sentry organization {slug}")
        now = _now()
        common = {
            "PartitionKey": integration.id,
            "WorkItemId": work_item_id,
            "SentryOrg": slug,
            "IssueId": issue_id,
            "CreatedAt": now,
        }
        rows = [
            {
                **common,
                "RowKey": work_item_row(work_item_id, slug, issue_id),
                "StateRev": 0,
                "AssigneeRev": 0,
            },
            {**common, "RowKey": issue_row(slug, issue_id, work_item_id)},
        ]
        with storage_errors():
            try:
                self._links.submit_transaction([("create", row) for row in rows])
            except TableTransactionError as exc:
                if exc.status_code == 409:
                    raise AlreadyExists(
                        f"work item {work_item_id} is already linked to {slug} issue {issue_id}"
                    ) from None
                raise
        return Link(integration.id, work_item_id, slug, issue_id, created_at=now)

    def remove_link(self, integration_id: str, work_item_id: int, slug: str, issue_id: str) -> None:
        integration = self.get_integration(integration_id)
        work_item_id = check_work_item_id(work_item_id)
        slug, issue_id = check_slug(slug), check_issue_id(issue_id)
        keys = [
            work_item_row(work_item_id, slug, issue_id),
            issue_row(slug, issue_id, work_item_id),
        ]
        with storage_errors():
            try:
                self._links.submit_transaction(
                    [("delete", {"PartitionKey": integration.id, "RowKey": key}) for key in keys]
                )
            except TableTransactionError as exc:
                if exc.status_code == 404:
                    raise NotFound(
                        f"work item {work_item_id} is not linked to {slug} issue {issue_id}"
                    ) from None
                raise

    def links_for_work_item(self, integration_id: str, work_item_id: int) -> list[Link]:
        """Every Sentry issue linked to the work item (one range query in one partition)."""
        return self.links_and_rows(integration_id, work_item_id, [])[0]

    def links_and_rows(
        self, integration_id: str, work_item_id: int, row_keys: list[str]
    ) -> tuple[list[Link], set[str]]:
        """The work item's links and which of ``row_keys`` (its markers) exist: one query."""
        prefix = work_item_prefix(work_item_id)
        query = "PartitionKey eq @pk and ( ( RowKey ge @lo and RowKey lt @hi )"
        params = {"pk": integration_id, "lo": prefix, "hi": prefix + MARKER}
        for index, key in enumerate(row_keys):
            query += f" or RowKey eq @k{index}"
            params[f"k{index}"] = key
        query += " )"
        links, found = [], set()
        with storage_errors():
            for row in self._links.query_entities(query, parameters=params):
                if "SentryOrg" in row:
                    links.append(link_from_row(row))
                else:
                    found.add(row["RowKey"])
        return links, found

    def links_for_issue(self, integration_id: str, slug: str, issue_id: str) -> list[Link]:
        """Every work item linked to the Sentry issue (one range query in one partition)."""
        query, params = _prefix_filter(f"s:{check_slug(slug)}:{check_issue_id(issue_id)}:")
        with storage_errors():
            rows = self._links.query_entities(query, parameters={"pk": integration_id, **params})
            return [link_from_row(row) for row in rows]

    def list_links(self, integration_id: str) -> list[Link]:
        integration = self.get_integration(integration_id)
        query, params = _prefix_filter("w:")
        with storage_errors():
            rows = self._links.query_entities(query, parameters={"pk": integration.id, **params})
            return [link_from_row(row) for row in rows if "SentryOrg" in row]


def _delete_rows(table: TableClient, partition: str, row_keys: list[str]) -> None:
    for start in range(0, len(row_keys), _BATCH_LIMIT):
        chunk = row_keys[start : start + _BATCH_LIMIT]
        table.submit_transaction(
            [("delete", {"PartitionKey": partition, "RowKey": key}) for key in chunk]
        )
