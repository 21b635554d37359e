"""Azure DevOps REST client (Services and Server): PAT over Basic auth, api-version 7.1.

Outgoing calls go only to the integration's base URL, never to a URL from a payload.
"""

from __future__ import annotations

import base64
from typing import Any

from pydantic import ValidationError

from shared.azure_devops import paths
from shared.azure_devops.fields import FIELD_ID, FIELD_TITLE
from shared.azure_devops.paths import API_VERSION, COMMENTS_API_VERSION
from shared.azure_devops.shapes import (
    INDEX_NOT_READY,
    JSON_PATCH,
    ClassificationNode,
    Project,
    ProjectList,
    SearchOutcome,
    SearchResponse,
    StateList,
    TypeField,
    TypeFieldList,
    WiqlResponse,
    WorkItem,
    WorkItemState,
    WorkItemType,
    WorkItemTypeList,
    json_object,
    wiql_string,
)
from shared.http import ApiClient, ApiNotFound, ApiRejected, RetryPolicy


class AzureDevOpsClient(ApiClient):
    service = "azure-devops"

    def __init__(self, base_url: str, pat: str, policy: RetryPolicy | None = None) -> None:
        token = base64.b64encode(f":{pat}".encode()).decode("ascii")
        super().__init__(
            base_url,
            {
                "Authorization": f"Basic {token}",
                "Accept": "application/json",
                # Without it a rejected PAT gets a sign-in page instead of a 401.
                "X-TFS-FedAuthRedirect": "Suppress",
            },
            policy,
        )

    def work_item_type_states(self, project: str, work_item_type: str) -> list[WorkItemState]:
        """The states of one work item type in one project, with their categories."""
        path = paths.work_item_type_states(project, work_item_type)
        response = self.request("GET", path, idempotent=True, params={"api-version": API_VERSION})
        try:
            return StateList.model_validate_json(response.content).value
        except ValidationError:
            raise ApiRejected(self.service, "unexpected answer to the states request") from None

    def work_item_fields(self, work_item_id: int, fields: list[str]) -> dict[str, object]:
        """Selected fields of one work item (flat values)."""
        return self._fields(paths.work_item(work_item_id), fields)

    def work_item_title(self, work_item_id: int, project: str | None = None) -> str | None:
        """The title of one work item, or None if it does not exist (or is not visible)."""
        try:
            fields = self._fields(paths.work_item(work_item_id, project), [FIELD_TITLE])
        except ApiNotFound:
            return None
        return str(fields.get(FIELD_TITLE) or "")

    def search_work_items(self, text: str, project: str | None, top: int) -> SearchOutcome:
        """Full-text work item search (on the search host: ``almsearch.dev.azure.com``)."""
        response = self.request(
            "POST",
            paths.work_item_search(project),
            idempotent=True,  # a search changes nothing
            params={"api-version": API_VERSION},
            json={"searchText": text, "$top": top, "$skip": 0, "includeFacets": False},
        )
        try:
            answer = SearchResponse.model_validate_json(response.content)
        except ValidationError:
            raise ApiRejected(self.service, "unexpected answer to the search request") from None
        if answer.info_code in INDEX_NOT_READY:
            return SearchOutcome(hits=[], index_ready=False)
        hits = []
        for result in answer.results:
            # Search answers with lower-case field names and string values.
            item_id = str(result.fields.get("system.id", ""))
            if item_id.isascii() and item_id.isdigit():
                hits.append((int(item_id), str(result.fields.get("system.title") or "")))
        return SearchOutcome(hits=hits, index_ready=True)

    def search_titles_with_wiql(self, text: str, project: str | None, top: int) -> list[int]:
        """Ids of work items whose title contains ``text``, most recently changed first."""
        where = f"[System.Title] CONTAINS {wiql_string(text)}"
        if project:
            where += " AND [System.TeamProject] = @project"
        response = self.request(
            "POST",
            paths.wiql(project),
            idempotent=True,  # a query changes nothing
            params={"$top": top, "api-version": API_VERSION},
            json={
                # The only user text in it went through wiql_string.
                "query": f"SELECT [System.Id] FROM WorkItems WHERE {where} "  # noqa: S608
                "ORDER BY [System.ChangedDate] DESC"
            },
        )
        try:
            answer = WiqlResponse.model_validate_json(response.content)
        except ValidationError:
            raise ApiRejected(self.service, "unexpected answer to the WIQL query") from None
        return [item.id for item in answer.work_items][:top]

    def titles(self, ids: list[int]) -> dict[int, str]:
        """Titles of up to 200 work items at once (missing ones are left out)."""
        return {
            int(item["id"]): str((item.get("fields") or {}).get(FIELD_TITLE) or "")
            for item in self.work_items(ids[:200], [FIELD_ID, FIELD_TITLE])
        }

    def _fields(self, path: str, fields: list[str]) -> dict[str, object]:
        response = self.request(
            "GET",
            path,
            idempotent=True,
            params={"fields": ",".join(fields), "api-version": API_VERSION},
        )
        try:
            found = response.json().get("fields", {})
        except (ValueError, AttributeError):
            raise ApiRejected(self.service, "unexpected answer to the work item request") from None
        return found if isinstance(found, dict) else {}

    # -- service hook subscriptions (organization level) ----------------------------------------

    def create_subscription(self, body: dict[str, Any]) -> dict[str, Any]:
        # A create is not idempotent: a blind retry could make two subscriptions.
        response = self.request(
            "POST",
            paths.SUBSCRIPTIONS,
            idempotent=False,
            params={"api-version": API_VERSION},
            json=body,
        )
        return json_object(self.service, response.content)

    def get_subscription(self, subscription_id: str) -> dict[str, Any] | None:
        """The subscription, or None if Azure DevOps no longer has it."""
        try:
            response = self.request(
                "GET",
                paths.subscription(subscription_id),
                idempotent=True,
                params={"api-version": API_VERSION},
            )
        except ApiNotFound:
            return None
        return json_object(self.service, response.content)

    def replace_subscription(self, subscription_id: str, body: dict[str, Any]) -> dict[str, Any]:
        # Replacing with the same full body twice gives the same result: safe to retry.
        response = self.request(
            "PUT",
            paths.subscription(subscription_id),
            idempotent=True,
            params={"api-version": API_VERSION},
            json=body,
        )
        return json_object(self.service, response.content)

    # -- reading many work items ------------------------------------------------------------------

    def work_items(self, ids: list[int], fields: list[str]) -> list[dict[str, Any]]:
        """``id``, ``rev`` and ``fields`` of up to 200 work items (missing ones left out)."""
        if not ids:
            return []
        if len(ids) > 200:
            raise ValueError("workitemsbatch takes at most 200 ids")
        response = self.request(
            "POST",
            paths.WORK_ITEMS_BATCH,
            idempotent=True,  # a read, despite the POST
            params={"api-version": API_VERSION},
            json={"ids": ids, "fields": fields, "errorPolicy": "omit"},
        )
        value = json_object(self.service, response.content).get("value") or []
        return [item for item in value if isinstance(item, dict) and "id" in item]

    def work_item_updates(self, work_item_id: int, skip: int = 0) -> list[dict[str, Any]]:
        """The work item's updates (the shape service hooks deliver), from ``skip`` on."""
        updates: list[dict[str, Any]] = []
        while True:
            response = self.request(
                "GET",
                paths.work_item_updates(work_item_id),
                idempotent=True,
                params={"$top": 200, "$skip": skip, "api-version": API_VERSION},
            )
            page = json_object(self.service, response.content).get("value") or []
            updates += [item for item in page if isinstance(item, dict)]
            if len(page) < 200:
                return updates
            skip += len(page)

    # -- issue links: reading, creating and linking work items ---------------------------------

    def work_item(self, work_item_id: int, *, relations: bool = False) -> WorkItem:
        params: dict[str, Any] = {"api-version": API_VERSION}
        if relations:
            params["$expand"] = "relations"
        response = self.request(
            "GET", paths.work_item(work_item_id), idempotent=True, params=params
        )
        return self._model(WorkItem, response.content, "work item")

    def create_work_item(
        self, project: str, work_item_type: str, operations: list[dict[str, Any]]
    ) -> WorkItem:
        # Not idempotent: the caller records its intent first (``store.creations``).
        response = self.request(
            "POST",
            paths.work_item_create(project, work_item_type),
            idempotent=False,
            params={"api-version": API_VERSION},
            json=operations,
            content_type=JSON_PATCH,
        )
        return self._model(WorkItem, response.content, "work item create")

    def update_work_item(self, work_item_id: int, operations: list[dict[str, Any]]) -> WorkItem:
        # Callers send operations that are safe to repeat, or guard them with a /rev test.
        response = self.request(
            "PATCH",
            paths.work_item(work_item_id),
            idempotent=False,
            params={"api-version": API_VERSION},
            json=operations,
            content_type=JSON_PATCH,
        )
        return self._model(WorkItem, response.content, "work item update")

    def add_comment(self, project: str, work_item_id: int, html: str) -> int:
        """Add a comment (HTML, which every version renders); returns its id."""
        response = self.request(
            "POST",
            paths.work_item_comments(project, work_item_id),
            idempotent=False,
            params={"api-version": COMMENTS_API_VERSION},
            json={"text": html},
        )
        return int(json_object(self.service, response.content).get("id") or 0)

    def work_items_titled(self, project: str, title: str, created_on_or_after: str) -> list[int]:
        """Ids of the project's work items with exactly this title, created on or after the
        day ``created_on_or_after`` (``YYYY-MM-DD``), newest first."""
        where = (
            f"[System.TeamProject] = @project AND [System.Title] = {wiql_string(title)} "
            f"AND [System.CreatedDate] >= {wiql_string(created_on_or_after)}"
        )
        response = self.request(
            "POST",
            paths.wiql(project),
            idempotent=True,  # a query changes nothing
            params={"$top": 20, "api-version": API_VERSION},
            # The only user text in it went through wiql_string.
            json={
                "query": f"SELECT [System.Id] FROM WorkItems WHERE {where} "  # noqa: S608
                "ORDER BY [System.Id] DESC"
            },
        )
        return [item.id for item in self._model(WiqlResponse, response.content, "WIQL").work_items]

    def authenticated_account(self) -> str | None:
        """The account (unique name, an email on Services) the PAT acts as: how this app's own
        changes appear in service hooks (``revisedBy``, ``System.ChangedBy``)."""
        response = self.request("GET", paths.CONNECTION_DATA, idempotent=True)
        user = json_object(self.service, response.content).get("authenticatedUser") or {}
        account = ((user.get("properties") or {}).get("Account") or {}).get("$value")
        return str(account) if account else None

    def update_comment(self, project: str, work_item_id: int, comment_id: int, html: str) -> None:
        # Setting the same text twice gives the same comment: safe to retry.
        self.request(
            "PATCH",
            paths.work_item_comment(project, work_item_id, comment_id),
            idempotent=True,
            params={"api-version": COMMENTS_API_VERSION},
            json={"text": html},
        )

    def delete_comment(self, project: str, work_item_id: int, comment_id: int) -> None:
        try:
            self.request(
                "DELETE",
                paths.work_item_comment(project, work_item_id, comment_id),
                idempotent=True,
                params={"api-version": COMMENTS_API_VERSION},
            )
        except ApiNotFound:
            pass  # already gone

    def projects(self) -> list[Project]:
        response = self.request(
            "GET",
            paths.PROJECTS,
            idempotent=True,
            params={"api-version": API_VERSION, "$top": 500},
        )
        return self._model(ProjectList, response.content, "projects").value

    def work_item_types(self, project: str) -> list[WorkItemType]:
        response = self.request(
            "GET",
            paths.work_item_types(project),
            idempotent=True,
            params={"api-version": API_VERSION},
        )
        return self._model(WorkItemTypeList, response.content, "work item types").value

    def area_paths(self, project: str) -> list[str]:
        response = self.request(
            "GET",
            paths.area_paths(project),
            idempotent=True,
            params={"api-version": API_VERSION, "$depth": 10},
        )
        return self._model(ClassificationNode, response.content, "area paths").paths()

    def iteration_paths(self, project: str) -> list[str]:
        response = self.request(
            "GET",
            paths.iteration_paths(project),
            idempotent=True,
            params={"api-version": API_VERSION, "$depth": 10},
        )
        return self._model(ClassificationNode, response.content, "iteration paths").paths()

    def work_item_type_fields(self, project: str, work_item_type: str) -> list[TypeField]:
        """The type's fields with their required flags, defaults and allowed values."""
        response = self.request(
            "GET",
            paths.work_item_type_fields(project, work_item_type),
            idempotent=True,
            params={"api-version": paths.TYPE_FIELDS_API_VERSION, "$expand": "allowedValues"},
        )
        return self._model(TypeFieldList, response.content, "work item type fields").value

    def field_exists(self, name: str) -> str | None:
        """The reference name of the organization's field ``name`` (reference or display
        name, "Fields - Get"); None if there is none."""
        try:
            response = self.request(
                "GET", paths.field(name), idempotent=True, params={"api-version": API_VERSION}
            )
        except ApiNotFound:
            return None
        found = json_object(self.service, response.content).get("referenceName")
        return str(found) if found else None

    def _model(self, model: Any, content: bytes, what: str) -> Any:
        try:
            return model.model_validate_json(content)
        except ValidationError:
            raise ApiRejected(self.service, f"unexpected answer to the {what} request") from None
