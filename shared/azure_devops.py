"""Azure DevOps REST client (Services and Server): PAT over Basic auth, api-version 7.1.

Outgoing calls go only to the integration's base URL, never to a URL from a payload.
"""

from __future__ import annotations

import base64
from urllib.parse import quote

from pydantic import BaseModel, ConfigDict, ValidationError

from shared.http import ApiClient, ApiRejected, RetryPolicy

API_VERSION = "7.1"


class WorkItemState(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    name: str
    category: str | None = None


class _StateList(BaseModel):
    model_config = ConfigDict(extra="ignore")

    value: list[WorkItemState]


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
        path = (
            f"{quote(project, safe='')}/_apis/wit/workitemtypes/"
            f"{quote(work_item_type, safe='')}/states"
        )
        response = self.request("GET", path, idempotent=True, params={"api-version": API_VERSION})
        try:
            return _StateList.model_validate_json(response.content).value
        except ValidationError:
            raise ApiRejected(self.service, "unexpected answer to the states request") from None

    def work_item_fields(self, work_item_id: int, fields: list[str]) -> dict[str, object]:
        """Selected fields of one work item (flat values)."""
        response = self.request(
            "GET",
            f"_apis/wit/workitems/{int(work_item_id)}",
            idempotent=True,
            params={"fields": ",".join(fields), "api-version": API_VERSION},
        )
        try:
            found = response.json().get("fields", {})
        except (ValueError, AttributeError):
            raise ApiRejected(self.service, "unexpected answer to the work item request") from None
        return found if isinstance(found, dict) else {}
