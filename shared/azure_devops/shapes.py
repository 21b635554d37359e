"""Shapes of Azure DevOps REST requests and answers (service-hook events are in ``hooks``)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from shared.azure_devops.fields import PUBLISHERS, RESOURCE_VERSIONS, WORK_ITEM_UPDATED
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
    model_config = ConfigDict(defer_build=True, extra="ignore")
    fields: dict[str, object] = {}


class SearchResponse(BaseModel):
    model_config = ConfigDict(defer_build=True, extra="ignore", populate_by_name=True)
    results: list[SearchResult] = []
    info_code: int = Field(0, alias="infoCode")


class WiqlItem(BaseModel):
    model_config = ConfigDict(defer_build=True, extra="ignore")
    id: int


class WiqlResponse(BaseModel):
    model_config = ConfigDict(defer_build=True, extra="ignore", populate_by_name=True)
    work_items: list[WiqlItem] = Field(default_factory=list, alias="workItems")


class WorkItemState(BaseModel):
    model_config = ConfigDict(defer_build=True, extra="ignore", frozen=True)

    name: str
    category: str | None = None


class StateList(BaseModel):
    model_config = ConfigDict(defer_build=True, extra="ignore")

    value: list[WorkItemState]


class Project(BaseModel):
    model_config = ConfigDict(defer_build=True, extra="ignore", frozen=True)

    id: str
    name: str


class ProjectList(BaseModel):
    model_config = ConfigDict(defer_build=True, extra="ignore")

    value: list[Project]


class WorkItemType(BaseModel):
    model_config = ConfigDict(defer_build=True, extra="ignore", frozen=True, populate_by_name=True)

    name: str
    is_disabled: bool = Field(False, alias="isDisabled")


class WorkItemTypeList(BaseModel):
    model_config = ConfigDict(defer_build=True, extra="ignore")

    value: list[WorkItemType]


class ClassificationNode(BaseModel):
    model_config = ConfigDict(defer_build=True, extra="ignore", populate_by_name=True)

    name: str
    children: list[ClassificationNode] = []

    def paths(self, parent: str = "") -> list[str]:
        """Area paths as the System.AreaPath field takes them: ``Project\\Team\\Sub``."""
        own = f"{parent}\\{self.name}" if parent else self.name
        return [own, *(p for child in self.children for p in child.paths(own))]


class TypeField(BaseModel):
    """One field of a work item type ("Work Item Types Field - List" with
    ``$expand=allowedValues``: ``referenceName``, ``name``, ``alwaysRequired``,
    ``defaultValue``, ``allowedValues``)."""

    model_config = ConfigDict(defer_build=True, extra="ignore", frozen=True)

    reference_name: str = Field(alias="referenceName")
    name: str = ""
    always_required: bool = Field(False, alias="alwaysRequired")
    default_value: Any = Field(None, alias="defaultValue")
    allowed_values: list[Any] = Field([], alias="allowedValues")

    @property
    def has_default(self) -> bool:
        return self.default_value not in (None, "")


class TypeFieldList(BaseModel):
    model_config = ConfigDict(defer_build=True, extra="ignore")

    value: list[TypeField]


def add_relation(rel: str, url: str) -> dict[str, Any]:
    """A JSON Patch operation that adds a relation to another work item (by its API URL)."""
    return {"op": "add", "path": "/relations/-", "value": {"rel": rel, "url": url}}


class Relation(BaseModel):
    model_config = ConfigDict(defer_build=True, extra="ignore", frozen=True)

    rel: str
    url: str


class WorkItem(BaseModel):
    """A work item as ``GET _apis/wit/workitems/{id}`` answers (with ``$expand=relations``)."""

    model_config = ConfigDict(defer_build=True, extra="ignore", frozen=True)

    id: int
    rev: int = 0
    fields: dict[str, Any] = {}
    relations: list[Relation] | None = None

    def has_hyperlink(self, url: str) -> bool:
        return any(r.rel == HYPERLINK and r.url == url for r in self.relations or ())


HYPERLINK = "Hyperlink"
JSON_PATCH = "application/json-patch+json"


def set_field(name: str, value: Any) -> dict[str, Any]:
    """A JSON Patch operation that sets a field."""
    return {"op": "add", "path": f"/fields/{name}", "value": value}


def add_hyperlink(url: str, comment: str) -> dict[str, Any]:
    """A JSON Patch operation that adds a Hyperlink relation."""
    return {
        "op": "add",
        "path": "/relations/-",
        "value": {"rel": HYPERLINK, "url": url, "attributes": {"comment": comment}},
    }


def wiql_string(text: str) -> str:
    """A WIQL string literal: single quotes, embedded quotes doubled."""
    return "'" + text.replace("'", "''") + "'"


def subscription_body(
    url: str,
    secret: str,
    project_id: str | None,
    status: str = "enabled",
    event_type: str = WORK_ITEM_UPDATED,
) -> dict[str, Any]:
    """The subscription we want: a work item event, resource version 1.0, no message texts,
    delivered to ``url`` with ``secret`` as the Basic auth password."""
    return {
        "publisherId": PUBLISHERS[event_type],
        "eventType": event_type,
        "resourceVersion": RESOURCE_VERSIONS[event_type],
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
