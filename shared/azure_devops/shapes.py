"""Shapes of Azure DevOps REST requests and answers (service-hook events are in ``hooks``)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from shared.azure_devops.fields import WORK_ITEM_UPDATED
from shared.http import ApiRejected

# Search infoCodes meaning the index cannot answer yet: being reindexed, indexing not started,
# account being onboarded.
INDEX_NOT_READY = frozenset({1, 2, 6})
# The Basic auth user name our subscriptions send (the password is the webhook secret).
HOOK_USER = "azure-devops"


@dataclass(frozen=True)
class SearchOutcome:
    hits: list[tuple[int, str]]
    index_ready: bool


class SearchResult(BaseModel):
    model_config = ConfigDict(extra="ignore")
    fields: dict[str, object] = {}


class SearchResponse(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)
    results: list[SearchResult] = []
    info_code: int = Field(0, alias="infoCode")


class WiqlItem(BaseModel):
    model_config = ConfigDict(extra="ignore")
    id: int


class WiqlResponse(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)
    work_items: list[WiqlItem] = Field(default_factory=list, alias="workItems")


class WorkItemState(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    name: str
    category: str | None = None


class StateList(BaseModel):
    model_config = ConfigDict(extra="ignore")

    value: list[WorkItemState]


def wiql_string(text: str) -> str:
    """A WIQL string literal: single quotes, embedded quotes doubled."""
    return "'" + text.replace("'", "''") + "'"


def subscription_body(
    url: str, secret: str, project_id: str | None, status: str = "enabled"
) -> dict[str, Any]:
    """The subscription we want: work item updates, resource version 1.0, no message texts,
    delivered to ``url`` with ``secret`` as the Basic auth password."""
    return {
        "publisherId": "tfs",
        "eventType": WORK_ITEM_UPDATED,
        "resourceVersion": "1.0",
        "consumerId": "webHooks",
        "consumerActionId": "httpRequest",
        "status": status,
        "publisherInputs": {"projectId": project_id} if project_id else {},
        "consumerInputs": {
            "url": url,
            "basicAuthUsername": HOOK_USER,
            "basicAuthPassword": secret,
            "messagesToSend": "none",
            "detailedMessagesToSend": "none",
        },
    }


def json_object(service: str, content: bytes) -> dict[str, Any]:
    try:
        value = json.loads(content)
    except ValueError:
        raise ApiRejected(service, "the answer is not JSON") from None
    if not isinstance(value, dict):
        raise ApiRejected(service, "the answer is not a JSON object")
    return value
