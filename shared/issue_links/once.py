"""Create a work item once per key, however often the request comes (a retried form, a burst of
alerts for one issue), and however it failed before.

The intent is recorded before Azure DevOps is called (``store.creations``):

* the intent already names a work item: that one is the answer;
* it names none: a create may be under way, or may have reached Azure DevOps without being
  recorded (storage failed right after). The work item is looked for (same project and title,
  created since the intent, with a Hyperlink to the Sentry issue) and taken if found; if not,
  it is created when no attempt is under way (the last one ended without an answer, or the
  intent is older than ``PATIENCE_SECONDS``), else ``CreateInProgress``;
* Azure DevOps refuses the create (unknown project or type, a field rule): the intent is
  dropped and ``CreateRefused`` says why; the outcome is unknown (a timeout): it is kept.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from shared.azure_devops.client import AzureDevOpsClient
from shared.azure_devops.fields import FIELD_TEAM_PROJECT
from shared.errors import SyncError
from shared.http import ApiAuthError, ApiError, ApiNotFound, ApiRejected, ApiThrottled
from shared.store.creations import Creation, Creations
from shared.store.storage import Storage

PATIENCE_SECONDS = 120.0


class CreateRefused(SyncError):
    """Azure DevOps refused the work item for good; ``str()`` says why, naming the field."""


class CreateInProgress(SyncError):
    """Another request is creating this work item right now."""


@dataclass(frozen=True)
class Created:
    work_item_id: int
    project: str
    new: bool  # False: an earlier request made it


@dataclass(frozen=True)
class Plan:
    """What to create: where, the title (to find an unrecorded earlier create), the Sentry
    issue's URL (its Hyperlink marks the work item as ours) and the JSON Patch operations."""

    project: str
    work_item_type: str
    title: str
    web_url: str | None
    operations: list[dict[str, Any]]


def create_once(
    storage: Storage,
    client: AzureDevOpsClient,
    integration_id: str,
    key: tuple[str, str, str],
    plan: Plan,
) -> Created:
    """``key``: (organization, Sentry issue id, digest of what makes the request the same)."""
    creations = Creations(storage)
    creation, new = creations.begin(integration_id, *key)
    if creation.work_item_id is not None:
        return Created(creation.work_item_id, creation.project or plan.project, False)
    if not new:
        found = _find_earlier(client, plan, creation)
        if found is not None:
            project = str(client.work_item(found).fields.get(FIELD_TEAM_PROJECT) or plan.project)
            creations.done(integration_id, creation, found, project)
            return Created(found, project, False)
        if not creation.ended and _age(creation) < PATIENCE_SECONDS:
            raise CreateInProgress("this work item is being created; try again in a moment")
    try:
        item = client.create_work_item(plan.project, plan.work_item_type, plan.operations)
    except ApiNotFound as exc:
        creations.abandon(integration_id, creation)
        raise CreateRefused(_not_found(exc, plan)) from None
    except ApiRejected as exc:
        creations.abandon(integration_id, creation)
        said = exc.remote_message or exc.detail
        raise CreateRefused(f"Azure DevOps refused the work item: {said}") from None
    except (ApiAuthError, ApiThrottled):
        creations.abandon(integration_id, creation)  # not executed: safe to try again
        raise
    except ApiError:
        # Timed out or failed on the way back: it may exist, so the intent stays and the next
        # attempt looks for it first.
        creations.ended(integration_id, creation)
        raise
    project = str(item.fields.get(FIELD_TEAM_PROJECT) or plan.project)
    creations.done(integration_id, creation, item.id, project)
    return Created(item.id, project, True)


def _not_found(exc: ApiNotFound, plan: Plan) -> str:
    return missing_target(exc, plan.project, plan.work_item_type)


def missing_target(exc: ApiNotFound, project: str, work_item_type: str) -> str:
    """What a 404 about a project's type means, as Azure DevOps said it: the project is gone
    (TF200016, ``ProjectDoesNotExistWithNameException``) or the type is not in it."""
    said = exc.remote_message or ""
    if "TF200016" in said or "ProjectDoesNotExist" in said:
        return f"project: Azure DevOps has no project {project!r} ({said[:200]})"
    return (
        f"workItemType: Azure DevOps has no work item type {work_item_type!r} in "
        f"project {project!r}" + (f" ({said[:200]})" if said else "")
    )


def _find_earlier(client: AzureDevOpsClient, plan: Plan, creation: Creation) -> int | None:
    """The work item an earlier attempt created without recording it, if there is one."""
    if not plan.web_url:
        return None
    since = creation.created_at.date().isoformat()
    for candidate in client.work_items_titled(plan.project, plan.title, since):
        if client.work_item(candidate, relations=True).has_hyperlink(plan.web_url):
            return candidate
    return None


def _age(creation: Creation) -> float:
    return (datetime.now(UTC) - creation.created_at).total_seconds()
