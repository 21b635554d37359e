"""``git.push``, Classic Release's ``deployment-completed`` and YAML pipelines'
``stage-state-changed``: queued for ReleaseSync (``releases.apply``), which reads what the
events do not carry (the commit, the repository, the build) from Azure DevOps."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ValidationError

from shared.azure_devops.pipeline_hooks import (
    ZERO_SHA,
    ClassicDeployment,
    GitPush,
    StageStateChanged,
)
from shared.devops_intake.delivery import HookDelivery, ignored
from shared.doors import Rejected, Reply
from shared.log import log_event
from shared.releases.message import ReleaseMessage
from shared.store.repositories import Repositories
from shared.validation import describe_invalid


def _resource(delivery: HookDelivery, model: type[BaseModel]) -> Any:
    if delivery.event.resource is None:
        raise Rejected(400, "resource is missing")
    try:
        return model.model_validate(delivery.event.resource)
    except ValidationError as exc:
        raise Rejected(400, describe_invalid(exc, prefix="resource.")) from None


def _queue(delivery: HookDelivery, message: ReleaseMessage) -> Reply:
    delivery.storage.send_release(message.encode())
    log_event("webhook.release_queued", integration=delivery.integration.id, kind=message.kind)
    return Reply(202, {"status": "queued", "kind": message.kind})


def push(delivery: HookDelivery) -> Reply:
    pushed: GitPush = _resource(delivery, GitPush)
    repo = Repositories(delivery.storage).get(delivery.integration.id, pushed.repository.id)
    if repo is None or not repo.branch:
        return ignored(delivery.event, "the repository is not tracked for releases")
    update = next(
        (
            u
            for u in pushed.ref_updates
            if u.name == repo.branch and u.new_object_id != ZERO_SHA
        ),
        None,
    )
    if update is None:
        return ignored(delivery.event, f"no update of the tracked branch {repo.branch}")
    return _queue(
        delivery,
        ReleaseMessage(
            integration_id=delivery.integration.id,
            kind="push",
            project=repo.project,
            repository_id=repo.repository_id,
            head=update.new_object_id.lower(),
            branch=update.name,
            event_id=delivery.event.event_id,
        ),
    )


def classic_deploy(delivery: HookDelivery) -> Reply:
    deployed: ClassicDeployment = _resource(delivery, ClassicDeployment)
    release_id = deployed.release_id
    project = (deployed.project.id or deployed.project.name) if deployed.project else None
    project = project or delivery.event.project_id
    if not release_id or not project:
        raise Rejected(400, "resource.environment.releaseId (or the project) is missing")
    return _queue(
        delivery,
        ReleaseMessage(
            integration_id=delivery.integration.id,
            kind="classic-deploy",
            project=project,
            release_id=release_id,
            stage=deployed.environment.name,
            result=deployed.environment.status,
            started=deployed.deployment.started_on if deployed.deployment else None,
            finished=deployed.deployment.completed_on if deployed.deployment else None,
            event_id=delivery.event.event_id,
        ),
    )


def stage_completed(delivery: HookDelivery) -> Reply:
    changed: StageStateChanged = _resource(delivery, StageStateChanged)
    if (changed.stage.state or "").casefold() != "completed":
        return ignored(delivery.event, f"stage {changed.stage.name} is {changed.stage.state}")
    project = delivery.event.project_id
    if not project:
        raise Rejected(400, "resourceContainers.project.id is missing")
    pipeline = changed.pipeline or changed.run.pipeline
    web = (changed.stage.links or changed.run.links or {}).get("web") or {}
    return _queue(
        delivery,
        ReleaseMessage(
            integration_id=delivery.integration.id,
            kind="pipeline-deploy",
            project=project,
            build_id=changed.run.id,
            pipeline_id=pipeline.id if pipeline else None,
            pipeline_name=pipeline.name if pipeline else None,
            stage=changed.stage.name,
            result=changed.stage.result,
            url=web.get("href"),
            event_id=delivery.event.event_id,
        ),
    )
