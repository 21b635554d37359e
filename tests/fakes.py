"""Fakes of Azure DevOps and Sentry on top of `responses`: stateful, strict about auth, and
recording every call. Any request nobody registered fails, so nothing leaves the machine."""

from __future__ import annotations

import base64
import json
import re
from collections import deque
from dataclasses import dataclass, field
from typing import Any

import responses
from conftest import load_fixture

ADO_BASE = "https://dev.azure.com/contoso/"


@dataclass
class Call:
    method: str
    path: str
    body: Any = None


@dataclass
class FakeSentry:
    """One Sentry organization at ``base_url`` that accepts ``token``."""

    rsps: responses.RequestsMock
    base_url: str
    org: str
    token: str
    issues: dict[str, dict[str, Any]] = field(default_factory=dict)
    members: dict[str, str] = field(default_factory=dict)  # email -> user id
    calls: list[Call] = field(default_factory=list)
    failures: deque = field(default_factory=deque)  # (status, headers) answered next
    external_issues: dict[str, dict[str, Any]] = field(default_factory=dict)
    notes: dict[str, dict[str, str]] = field(default_factory=dict)  # issue -> note id -> text
    # Sentry's rate-limit window for the issue index: calls left (None: no headers sent)
    window: int | None = None
    note_users: dict[str, dict[str, str]] = field(default_factory=dict)  # note id -> user

    def __post_init__(self) -> None:
        external = re.compile(
            re.escape(f"{self.base_url}api/0/sentry-app-installations/")
            + r"([\w-]+)/external-issues/(\w+/)?$"
        )
        for method in ("POST", "DELETE"):
            self.rsps.add_callback(method, external, callback=lambda r: self._external(r))
        prefix = re.escape(f"{self.base_url}api/0/organizations/{self.org}/")
        for method in (responses.POST, responses.GET):
            self.rsps.add_callback(
                method,
                re.compile(prefix + r"issues/(\w+)/comments/(\?.*)?$"),
                callback=lambda r: self._note(r),
            )
        self.rsps.add_callback(
            responses.GET,
            re.compile(prefix + r"issues/(\?.*)?$"),
            callback=lambda r: self._issues(r),
        )
        self.rsps.add_callback(
            responses.GET,
            re.compile(prefix + r"issues/(\w+)/events/latest/$"),
            callback=lambda r: self._latest_event(r),
        )
        issue = re.compile(prefix + r"issues/(\w+)/$")
        # Looked up at call time, so a test can wrap a handler.
        self.rsps.add_callback(responses.GET, issue, callback=lambda r: self._issue(r))
        self.rsps.add_callback(responses.PUT, issue, callback=lambda r: self._issue(r))
        self.rsps.add_callback(
            responses.GET,
            re.compile(prefix + r"members/(\?.*)?$"),
            callback=lambda r: self._members(r),
        )

    def add_issue(
        self, issue_id: str, status: str = "unresolved", assignee: str | None = None
    ) -> None:
        self.issues[issue_id] = {"status": status, "assignee": assignee}

    @property
    def writes(self) -> list[Call]:
        return [call for call in self.calls if call.method == "PUT"]

    def _check(self, request: Any) -> tuple[int, dict, str] | None:
        if request.headers.get("Authorization") != f"Bearer {self.token}":
            return 401, {}, json.dumps({"detail": "Invalid token"})
        if self.failures:
            status, headers = self.failures.popleft()
            return status, headers, json.dumps({"detail": "failure"})
        return None

    def _issue(self, request: Any) -> tuple[int, dict, str]:
        """GET/PUT /api/0/organizations/{org}/issues/{id}/ (Sentry API reference "Retrieve
        an Issue" / "Update an Issue"): ``status`` takes resolved, resolvedInNextRelease,
        unresolved, ignored (the latter two resolved forms read back as ``resolved`` with
        ``statusDetails.inNextRelease``); ``assignedTo`` takes ``user:<id>``, ``team:<id>``
        or an empty value to unassign; PUT answers the updated issue. Unknown id: 404 with
        Sentry's ``detail`` text (fixtures/sentry_*)."""
        path = request.path_url
        body = json.loads(request.body) if request.body else None
        self.calls.append(Call(request.method, path, body))
        failed = self._check(request)
        if failed:
            return failed
        issue_id = path.rstrip("/").rsplit("/", 1)[-1]
        if issue_id not in self.issues:
            return 404, {}, json.dumps({"detail": "The requested resource does not exist"})
        issue = self.issues[issue_id]
        if request.method == "PUT":
            if "status" in body:
                issue["status"] = (
                    "resolved" if body["status"].startswith("resolved") else body["status"]
                )
                issue["status_details"] = (
                    {"inNextRelease": True} if body["status"] == "resolvedInNextRelease" else {}
                )
            if "assignedTo" in body:
                value = body["assignedTo"]
                issue["assignee"] = value.removeprefix("user:") if value else None
        return 200, {}, json.dumps(self._issue_json(issue_id))

    def _issues(self, request: Any) -> tuple[int, dict, str]:
        """GET /api/0/organizations/{org}/issues/?group=<id>&group=<id>&project=-1
        (OrganizationGroupIndexEndpoint.get, src/sentry/issues/endpoints/
        organization_group_index.py): with ``group`` parameters, exactly those issues (no
        search, no paging); an id that is not an integer is 400 "Group ids must be
        integers"; unknown ids are left out. Rate-limit headers as the middleware sends them
        (src/sentry/middleware/ratelimit.py: X-Sentry-Rate-Limit-Remaining, -Reset in epoch
        seconds); an exhausted window answers 429."""
        from urllib.parse import parse_qs, urlsplit

        self.calls.append(Call("GET", request.path_url))
        failed = self._check(request)
        if failed:
            return failed
        query = parse_qs(urlsplit(request.url).query)
        ids = query.get("group", [])
        if not all(i.isdigit() for i in ids):
            return 400, {}, json.dumps({"detail": "Group ids must be integers"})
        assert query.get("project") == ["-1"], "every project the token can see"
        headers: dict[str, str] = {}
        if self.window is not None:
            if self.window <= 0:
                return 429, {"X-Sentry-Rate-Limit-Reset": "9999999999"}, ""
            self.window -= 1
            headers = {
                "X-Sentry-Rate-Limit-Remaining": str(self.window),
                "X-Sentry-Rate-Limit-Reset": str(int(__import__("time").time()) + 30),
            }
        found = [self._issue_json(i) for i in dict.fromkeys(ids) if i in self.issues]
        return 200, headers, json.dumps(found)

    def _issue_json(self, issue_id: str) -> dict[str, Any]:
        issue = self.issues[issue_id]
        assignee = issue["assignee"]
        return {
            "id": issue_id,
            "shortId": f"PROJ-{issue_id}",
            "title": "ZeroDivisionError: division by zero",
            "culprit": "billing.invoice in total",
            "permalink": f"{self.base_url}organizations/{self.org}/issues/{issue_id}/",
            "status": issue["status"],
            "substatus": issue.get("substatus"),
            "statusDetails": issue.get("status_details", {}),
            "numComments": len(self.notes.get(issue_id, {})),
            # The sidebar's links, platform external issues among them, as the stream
            # serializer adds them (PlatformExternalIssue.get_annotations_for_group_list).
            "annotations": [
                {"url": e["webUrl"], "displayName": f"{e['project']}#{e['identifier']}"}
                for e in self.external_issues.values()
                if str(e["issueId"]) == issue_id
            ],
            "assignedTo": (
                {
                    "type": issue.get("assignee_type", "user"),
                    "id": assignee,
                    "name": "Someone",
                    "email": next(
                        (e for e, uid in self.members.items() if uid == assignee),
                        "someone@example.com",
                    ),
                }
                if assignee
                else None
            ),
            "project": {"id": "2", "slug": "backend", "name": "Backend"},
            # Retrieve an Issue's level, counts and first release (API reference; count and
            # userCount as Sentry sends them: count a string, userCount a number).
            "level": issue.get("level", "error"),
            "count": str(issue.get("count", 12)),
            "userCount": issue.get("user_count", 3),
            "firstSeen": "2026-11-30T08:00:00Z",
            "lastSeen": issue.get("last_seen", "2026-12-03T06:00:00Z"),
            "firstRelease": (
                {"version": issue["first_release"]} if issue.get("first_release") else None
            ),
        }

    def _latest_event(self, request: Any) -> tuple[int, dict, str]:
        """GET .../issues/{id}/events/latest/ (API reference "Retrieve an Issue Event",
        ``latest``): the event, its ``tags`` a list of ``{key, value}``."""
        self.calls.append(Call("GET", request.path_url))
        failed = self._check(request)
        if failed:
            return failed
        issue_id = request.path_url.split("/issues/")[1].split("/")[0]
        if issue_id not in self.issues:
            return 404, {}, json.dumps({"detail": "The requested resource does not exist"})
        tags = self.issues[issue_id].get("tags", {"environment": "production"})
        event = {"eventID": "9fac2ceed9344f2bbfdd1fdacb0ed9b1", "groupID": issue_id,
                 "tags": [{"key": k, "value": v} for k, v in tags.items()]}  # fmt: skip
        return 200, {}, json.dumps(event)

    def add_person_note(self, issue_id: str, note_id: str, text: str, name: str) -> None:
        """A note a person writes in Sentry (its webhook is up to the test)."""
        self.notes.setdefault(issue_id, {})[note_id] = text
        self.note_users[note_id] = {"id": "7", "name": name}

    def _note(self, request: Any) -> tuple[int, dict, str]:
        """POST .../issues/{id}/comments/ (src/sentry/api/endpoints/group_notes.py): 201 with
        the activity (``id``, ``type: note``, ``data.text``); the same text from the same user
        on the same issue within an hour is 400 "You have already posted that comment."
        (this fake has one user, our token, and no clock: within the hour is always)."""
        body = json.loads(request.body) if request.body else None
        self.calls.append(Call(request.method, request.path_url, body))
        failed = self._check(request)
        if failed:
            return failed
        issue_id = re.search(r"issues/(\w+)/comments", request.path_url)[1]
        if issue_id not in self.issues:
            return 404, {}, json.dumps({"detail": "The requested resource does not exist"})
        if request.method == "GET":
            # GroupNotesEndpoint.get: the notes as activities, newest first, a page of 100.
            listed = [
                {
                    "id": note_id,
                    "type": "note",
                    "data": {"text": text},
                    "user": self.note_users.get(note_id, {"id": "999", "name": "Sync app"}),
                }
                for note_id, text in reversed(self.notes.get(issue_id, {}).items())
            ][:100]
            return 200, {}, json.dumps(listed)
        notes = self.notes.setdefault(issue_id, {})
        if body["text"] in notes.values():
            return 400, {"Content-Type": "application/json"}, json.dumps(
                {"detail": "You have already posted that comment."}
            )
        note_id = str(9000 + sum(len(n) for n in self.notes.values()))
        notes[note_id] = body["text"]
        return 201, {}, json.dumps({"id": note_id, "type": "note", "data": {"text": body["text"]}})

    def _external(self, request: Any) -> tuple[int, dict, str]:
        """POST/DELETE /api/0/sentry-app-installations/{uuid}/external-issues/[{id}/]
        (src/sentry/sentry_apps/api/endpoints/installation_external_issues.py and
        installation_external_issue_details.py; DELETE of an unknown id is 404)."""
        body = json.loads(request.body) if request.body else None
        self.calls.append(Call(request.method, request.path_url, body))
        failed = self._check(request)
        if failed:
            return failed
        match = re.search(r"installations/([\w-]+)/external-issues/(\w+)?", request.path_url)
        installation, external_id = match[1], match[2]
        if request.method == "DELETE":
            if external_id not in self.external_issues:
                return 404, {}, json.dumps({"detail": "not found"})
            del self.external_issues[external_id]
            return 204, {}, ""
        # One external issue per Sentry issue and app: PlatformExternalIssue is unique on
        # (group, service_type) and the creator calls update_or_create on them, so a second
        # registration for the issue replaces the first under the same id
        # (src/sentry/sentry_apps/external_issues/external_issue_creator.py, models/
        # platformexternalissue.py).
        for known_id, known in self.external_issues.items():
            if (known["issueId"], known["installation"]) == (body["issueId"], installation):
                known.update(body)
                return 200, {}, json.dumps({"id": known_id, **known})
        new_id = str(len(self.external_issues) + 500)
        self.external_issues[new_id] = {**body, "installation": installation}
        display = f"{body['project']}#{body['identifier']}"
        return 201, {}, json.dumps({"id": new_id, "displayName": display, **body})

    def _members(self, request: Any) -> tuple[int, dict, str]:
        """GET /api/0/organizations/{org}/members/?query=email:<address>
        (src/sentry/core/endpoints/organization_member_index.py: the member's invite email,
        or any email of its user, verified or not, via user_service.get_many_by_email).
        Each member carries ``user`` {id, email} once the invite is accepted; a pending
        invite has ``user: null``. The fake compares case-insensitively; whether Sentry's
        user-email lookup ignores case was not confirmed, so tests use one spelling."""
        self.calls.append(Call("GET", request.path_url))
        failed = self._check(request)
        if failed:
            return failed
        query = request.params.get("query", "")
        email = query.removeprefix("email:").lower()
        found = [
            {
                "id": f"9{user_id}",
                "email": address,
                "name": address,
                "user": {"id": user_id, "email": address, "name": address},
                "role": "member",
                "pending": False,
            }
            for address, user_id in self.members.items()
            if address.lower() == email
        ]
        return 200, {}, json.dumps(found)


def _type_field(reference: str, name: str, **more: Any) -> dict[str, Any]:
    return {"referenceName": reference, "name": name, "alwaysRequired": False, **more}


_COMMON_FIELDS = [
    _type_field("System.Title", "Title", alwaysRequired=True),
    _type_field("System.State", "State", alwaysRequired=True, defaultValue="New"),
    _type_field("System.Reason", "Reason", alwaysRequired=True),  # filled in by Azure DevOps
    _type_field("System.AreaPath", "Area Path"),
    _type_field("System.IterationPath", "Iteration Path"),
    _type_field("System.AssignedTo", "Assigned To"),
    _type_field("System.Description", "Description"),
    _type_field("System.Tags", "Tags"),
]
_PRIORITY = _type_field(
    "Microsoft.VSTS.Common.Priority", "Priority", defaultValue=2, allowedValues=[1, 2, 3, 4]
)
_SEVERITY = _type_field(
    "Microsoft.VSTS.Common.Severity", "Severity", defaultValue="3 - Medium",
    allowedValues=["1 - Critical", "2 - High", "3 - Medium", "4 - Low"],
)  # fmt: skip


@dataclass
class FakeAzureDevOps:
    rsps: responses.RequestsMock
    pat: str
    base_url: str = ADO_BASE
    calls: list[Call] = field(default_factory=list)
    failures: deque = field(default_factory=deque)
    states: dict[str, Any] = field(
        default_factory=lambda: load_fixture("msdocs_api_workitemtype_states_bug.json")
    )
    work_items: dict[int, dict[str, Any]] = field(default_factory=dict)
    revs: dict[int, int] = field(default_factory=dict)
    updates: dict[int, list[dict[str, Any]]] = field(default_factory=dict)
    subscriptions: dict[str, dict[str, Any]] = field(default_factory=dict)
    created: int = 0
    relations: dict[int, list[dict[str, Any]]] = field(default_factory=dict)
    comments: dict[int, dict[int, str]] = field(default_factory=dict)  # work item -> id -> text
    comment_ids: int = 2_743_800
    # project -> work item types and area tree (names only)
    projects: dict[str, dict[str, Any]] = field(
        default_factory=lambda: {
            "Fabrikam": {
                "id": "be9b3917-87e6-42a4-a549-2bc06a7a878f",
                "types": ["Bug", "Task", "User Story"],
                "areas": {"name": "Fabrikam", "children": [{"name": "Web"}, {"name": "API"}]},
            }
        }
    )
    next_id: int = 1000
    # work item type -> its fields ("*": any other type), as "Work Item Types Field - List"
    # answers them for the Agile process's Bug and Task.
    type_fields: dict[str, list[dict[str, Any]]] = field(default_factory=lambda: {
        "Bug": [*_COMMON_FIELDS, _PRIORITY, _SEVERITY],
        "*": [*_COMMON_FIELDS, _PRIORITY],
    })  # fmt: skip
    # organization fields no type of the fake has (Fields - Get finds them)
    extra_fields: list[dict[str, Any]] = field(default_factory=lambda: [
        _type_field("Microsoft.VSTS.Build.FoundIn", "Found In"),
    ])  # fmt: skip
    identities: set[str] | None = None  # None: every identity is known
    account: str = "sync-bot@contoso.com"  # whom the PAT acts as (connectionData)
    patches: list[tuple[int, list[dict[str, Any]]]] = field(default_factory=list)

    def __post_init__(self) -> None:
        prefix = re.escape(self.base_url)
        hooks = re.compile(prefix + r"_apis/hooks/subscriptions(/[\w-]+)?(\?.*)?$")
        for method in ("POST", "GET", "PUT"):
            self.rsps.add_callback(method, hooks, callback=lambda r: self._hooks(r))
        self.rsps.add_callback(
            responses.GET,
            re.compile(prefix + r"_apis/wit/workItems/\d+/updates(\?.*)?$"),
            callback=lambda r: self._updates(r),
        )
        self.rsps.add_callback(
            responses.GET,
            re.compile(prefix + r"[^/]+/_apis/wit/workitemtypes/[^/]+/states(\?.*)?$"),
            callback=lambda r: self._states(r),
        )
        self.rsps.add_callback(
            responses.GET,
            re.compile(prefix + r"([^/_][^/]*/)?_apis/wit/workitems/\d+(\?.*)?$"),
            callback=lambda r: self._work_item(r),  # looked up at call time: tests wrap it
        )
        self.rsps.add_callback(
            responses.POST,
            re.compile(prefix + r"([^/_][^/]*/)?_apis/wit/wiql(\?.*)?$"),
            callback=self._wiql,
        )
        self.rsps.add_callback(
            responses.POST,
            re.compile(prefix + r"_apis/wit/workitemsbatch(\?.*)?$"),
            callback=self._batch,
        )
        self.rsps.add_callback(
            "PATCH",
            re.compile(prefix + r"_apis/wit/workitems/\d+(\?.*)?$"),
            callback=lambda r: self._patch(r),  # looked up at call time: tests wrap it
        )
        self.rsps.add_callback(
            responses.POST,
            re.compile(prefix + r"([^/_][^/]*)/_apis/wit/workitems/\$([^/?]+)(\?.*)?$"),
            callback=self._create,
        )
        comments = re.compile(
            prefix + r"([^/_][^/]*)/_apis/wit/workItems/(\d+)/comments(/\d+)?(\?.*)?$"
        )
        for method in ("POST", "PATCH", "DELETE"):
            self.rsps.add_callback(method, comments, callback=lambda r: self._comment(r))
        self.rsps.add_callback(
            responses.GET,
            re.compile(prefix + r"_apis/projects(\?.*)?$"),
            callback=lambda r: self._projects(r),
        )
        self.rsps.add_callback(
            responses.GET,
            re.compile(prefix + r"_apis/connectionData(\?.*)?$"),
            callback=lambda r: self._connection(r),
        )
        self.rsps.add_callback(
            responses.GET,
            re.compile(prefix + r"([^/_][^/]*)/_apis/wit/workitemtypes(\?.*)?$"),
            callback=self._types,
        )
        self.rsps.add_callback(
            responses.GET,
            re.compile(prefix + r"([^/_][^/]*)/_apis/wit/classificationnodes/(areas|iterations)(\?.*)?$"),
            callback=lambda r: self._nodes(r),
        )
        self.rsps.add_callback(
            responses.GET,
            re.compile(prefix + r"([^/_][^/]*)/_apis/wit/workitemtypes/([^/?]+)/fields(\?.*)?$"),
            callback=lambda r: self._type_fields(r),
        )
        self.rsps.add_callback(
            responses.GET,
            re.compile(prefix + r"_apis/wit/fields/([^/?]+)(\?.*)?$"),
            callback=lambda r: self._field(r),
        )

    def _check(self, request: Any, version: str | None = "7.1") -> tuple[int, dict, str] | None:
        """Basic auth with an empty user and the PAT (learn.microsoft.com "Use personal
        access tokens"); the api-version each call names (REST reference of each call)."""
        expected = "Basic " + base64.b64encode(f":{self.pat}".encode()).decode()
        if request.headers.get("Authorization") != expected:
            return 401, {}, ""
        assert request.headers.get("X-TFS-FedAuthRedirect") == "Suppress"
        assert request.params.get("api-version") == version
        if self.failures:
            status, headers = self.failures.popleft()
            if status == "timeout":
                import requests

                raise requests.ConnectTimeout("timed out")
            return status, headers, json.dumps({"message": "failure"})
        return None

    def _states(self, request: Any) -> tuple[int, dict, str]:
        """GET {project}/_apis/wit/workitemtypes/{type}/states (REST reference "Work Item
        Type States - List"; answer shape from fixtures/msdocs_api_workitemtype_states_bug)."""
        self.calls.append(Call("GET", request.path_url))
        return self._check(request) or (200, {}, json.dumps(self.states))

    def _work_item(self, request: Any) -> tuple[int, dict, str]:
        """GET _apis/wit/workitems/{id}[?$expand=relations] (REST reference "Work Items -
        Get Work Item", fixtures/msdocs_api_workitem_get); unknown: 404 TF401232."""
        self.calls.append(Call("GET", request.path_url))
        failed = self._check(request)
        if failed:
            return failed
        item_id = int(request.path_url.split("?")[0].rsplit("/", 1)[-1])
        if item_id not in self.work_items:
            return 404, {}, json.dumps({"message": "TF401232: Work item does not exist"})
        return 200, {}, json.dumps(self._item_json(item_id, request.params.get("$expand")))

    def _item_json(self, item_id: int, expand: str | None = "relations") -> dict[str, Any]:
        answer: dict[str, Any] = {
            "id": item_id,
            "rev": self.revs.get(item_id, 1),
            "fields": self.work_items[item_id],
        }
        if expand == "relations":
            answer["relations"] = self.relations.get(item_id, [])
        return answer

    def _patch(self, request: Any) -> tuple[int, dict, str]:
        """PATCH _apis/wit/workitems/{id} with application/json-patch+json (REST reference
        "Work Items - Update"): a failed ``test /rev`` is 412 (JSON Patch, RFC 6902 test;
        VS403351 as Azure DevOps words it); a state outside the type's states is TF401320;
        an unknown identity in Assigned To is errorCode 600171 (reference note 4.3)."""
        body = json.loads(request.body)
        self.calls.append(Call("PATCH", request.path_url, body))
        failed = self._check(request)
        if failed:
            return failed
        assert request.headers["Content-Type"] == "application/json-patch+json"
        item_id = int(request.path_url.split("?")[0].rsplit("/", 1)[-1])
        if item_id not in self.work_items:
            return 404, {}, json.dumps({"message": "TF401232: Work item does not exist"})
        for op in body:
            if op["op"] == "test" and op["path"] == "/rev" and op["value"] != self.revs.get(item_id, 1):
                return 412, {"Content-Type": "application/json"}, json.dumps(
                    {"message": "VS403351: the work item was changed (rev)"}
                )
        refused = self._refused(body)
        if refused:
            return 400, {"Content-Type": "application/json"}, json.dumps(refused)
        self._apply(item_id, [op for op in body if op["op"] != "test"])
        self.patches.append((item_id, body))
        return 200, {}, json.dumps(self._item_json(item_id))

    def _refused(self, operations: list[dict[str, Any]]) -> dict[str, Any] | None:
        """Azure DevOps' answer to a state not in the type or an unknown identity."""
        for op in operations:
            if op["path"] == "/fields/System.State":
                names = {s["name"] for s in self.states["value"]}
                if op["value"] not in names:
                    return {
                        "message": f"TF401320: Rule Error for field State. The field 'State' "
                        f"contains the value '{op['value']}' that is not in the list of "
                        "supported values."
                    }
            if op["path"] == "/fields/System.AssignedTo" and op["value"]:
                if self.identities is not None and op["value"] not in self.identities:
                    return {
                        "message": f"The identity value '{op['value']}' for field 'Assigned To' "
                        "is an unknown identity.",
                        "errorCode": 600171,
                    }
        return None

    def _apply(self, item_id: int, operations: list[dict[str, Any]]) -> None:
        for op in operations:
            if op["path"] == "/fields/System.AssignedTo":
                # REST answers identities as IdentityRef objects, whatever was written.
                value = op["value"]
                fields = self.work_items[item_id]
                if value:
                    fields["System.AssignedTo"] = {"displayName": value, "uniqueName": value}
                else:
                    fields.pop("System.AssignedTo", None)
            elif op["path"].startswith("/fields/"):
                self.work_items[item_id][op["path"].removeprefix("/fields/")] = op["value"]
            elif op["path"] == "/relations/-":
                known = self.relations.setdefault(item_id, [])
                if any(r["url"] == op["value"]["url"] for r in known):
                    raise AssertionError("the same relation added twice")
                known.append(op["value"])
        self.revs[item_id] = self.revs.get(item_id, 1) + 1

    def _create(self, request: Any) -> tuple[int, dict, str]:
        """POST {project}/_apis/wit/workitems/${type} (REST reference "Work Items - Create"):
        a missing project is TF200016, a missing type VS402323, a rule failure TF401320."""
        body = json.loads(request.body)
        self.calls.append(Call("POST", request.path_url, body))
        failed = self._check(request)
        if failed:
            return failed
        assert request.headers["Content-Type"] == "application/json-patch+json"
        match = re.search(r"/([^/]+)/_apis/wit/workitems/\$([^/?]+)", request.path_url)
        from urllib.parse import unquote

        project, kind = unquote(match[1]), unquote(match[2])
        if project not in self.projects:
            # Azure DevOps' wording and typeKey for a missing project, as answers quoted in
            # public clients' tests show them (TF200016, ProjectDoesNotExistWithNameException).
            return 404, {"Content-Type": "application/json"}, json.dumps(
                {
                    "message": f"TF200016: The following project does not exist: {project}.",
                    "typeKey": "ProjectDoesNotExistWithNameException",
                }
            )
        if kind not in self.projects[project]["types"]:
            return 404, {"Content-Type": "application/json"}, json.dumps(
                {
                    # As quoted in public clients' notes and tests (VS402323).
                    "message": f"VS402323: Work item type {kind} does not exist in project "
                    f"{project}.",
                }
            )
        fields = {op["path"].removeprefix("/fields/"): op["value"] for op in body if op["path"].startswith("/fields/")}
        if "System.AreaPath" in fields and not str(fields["System.AreaPath"]).startswith(project):
            return 400, {"Content-Type": "application/json"}, json.dumps(
                {"message": "TF401320: Rule Error for field Area Path. Error code: Required, InvalidListValue."}
            )
        # A field the type always requires, with no default, must be given (the process's
        # rule; Azure DevOps answers TF401320, reference azure-devops.md §5).
        required = [
            f for f in self.type_fields.get(kind, self.type_fields["*"])
            if f["alwaysRequired"] and f.get("defaultValue") in (None, "")
            and not f["referenceName"].startswith("System.") and f["referenceName"] not in fields
        ]  # fmt: skip
        if required:
            return 400, {"Content-Type": "application/json"}, json.dumps(
                {"message": f"TF401320: Rule Error for field {required[0]['name']}. Error code: Required, HasValues, LimitedToValues, AllowsOldValue, InvalidEmpty."}
            )
        self.next_id += 1
        item_id = self.next_id
        self.work_items[item_id] = {
            "System.TeamProject": project,
            "System.WorkItemType": kind,
            "System.State": "New",
        }
        self._apply(item_id, body)
        return 200, {}, json.dumps(self._item_json(item_id))

    def _comment(self, request: Any) -> tuple[int, dict, str]:
        """POST/PATCH/DELETE {project}/_apis/wit/workItems/{id}/comments[/{commentId}] at
        7.1-preview.4 (REST spec 7.1 comments examples, reference note 4.2): add answers the
        comment with ``id`` and ``version`` 1, update increments ``version``, delete marks it
        deleted; an unknown comment is 404."""
        body = json.loads(request.body) if request.body else None
        self.calls.append(Call(request.method, request.path_url, body))
        failed = self._check(request, "7.1-preview.4")
        if failed:
            return failed
        match = re.search(r"workItems/(\d+)/comments(?:/(\d+))?", request.path_url)
        item_id = int(match[1])
        known = self.comments.setdefault(item_id, {})
        if request.method == "POST":
            self.comment_ids += 1
            known[self.comment_ids] = body["text"]
            return 200, {}, json.dumps({"id": self.comment_ids, "text": body["text"], "version": 1})
        comment_id = int(match[2])
        if comment_id not in known:
            return 404, {}, json.dumps({"message": "comment not found"})
        if request.method == "DELETE":
            del known[comment_id]
            return 200, {}, json.dumps({"id": comment_id, "isDeleted": True})
        known[comment_id] = body["text"]
        return 200, {}, json.dumps({"id": comment_id, "text": body["text"], "version": 2})

    def _connection(self, request: Any) -> tuple[int, dict, str]:
        """GET _apis/connectionData (no api-version, as the clients call it): the PAT's
        ``authenticatedUser`` with its ``Account`` property (the shape the Azure DevOps
        clients read, e.g. azure-devops-python-api's Location client)."""
        self.calls.append(Call("GET", request.path_url))
        failed = self._check(request, None)
        if failed:
            return failed
        user = {
            "id": "8f2a2e36-0000-0000-0000-000000000001",
            "providerDisplayName": "Sync Bot",
            "properties": {"Account": {"$type": "System.String", "$value": self.account}},
        }
        return 200, {}, json.dumps({"authenticatedUser": user})

    def _projects(self, request: Any) -> tuple[int, dict, str]:
        """GET _apis/projects (REST reference "Projects - List",
        fixtures/msdocs_api_projects_list): ``{count, value[{id, name}]}``."""
        self.calls.append(Call("GET", request.path_url))
        failed = self._check(request)
        if failed:
            return failed
        value = [{"id": p["id"], "name": name} for name, p in self.projects.items()]
        return 200, {}, json.dumps({"count": len(value), "value": value})

    def _types(self, request: Any) -> tuple[int, dict, str]:
        """GET {project}/_apis/wit/workitemtypes (REST reference "Work Item Types - List":
        ``name``, ``isDisabled``); a missing project is TF200016 (404)."""
        self.calls.append(Call("GET", request.path_url))
        failed = self._check(request)
        if failed:
            return failed
        from urllib.parse import unquote

        project = unquote(re.search(r"/([^/]+)/_apis/wit/workitemtypes", request.path_url)[1])
        if project not in self.projects:
            return 404, {}, json.dumps({"message": f"TF200016: The following project does not exist: {project}."})
        value = [{"name": t, "isDisabled": False} for t in self.projects[project]["types"]]
        return 200, {}, json.dumps({"count": len(value), "value": value})

    def _nodes(self, request: Any) -> tuple[int, dict, str]:
        """GET {project}/_apis/wit/classificationnodes/{areas|iterations}?$depth= (REST
        reference "Classification Nodes - Get": a node with ``name`` and ``children``, the same
        shape for both structure groups)."""
        self.calls.append(Call("GET", request.path_url))
        failed = self._check(request)
        if failed:
            return failed
        from urllib.parse import unquote

        match = re.search(r"/([^/]+)/_apis/wit/classificationnodes/(\w+)", request.path_url)
        project, group = unquote(match[1]), match[2]
        if project not in self.projects:
            return 404, {}, json.dumps({"message": f"TF200016: The following project does not exist: {project}."})
        node = self.projects[project].get(group) or {"name": project, "children": []}
        return 200, {}, json.dumps(node)

    def _field(self, request: Any) -> tuple[int, dict, str]:
        """GET _apis/wit/fields/{name} (REST reference "Fields - Get": the organization's
        field by reference or display name); unknown: 404 TF51535 "Cannot find field"."""
        self.calls.append(Call("GET", request.path_url))
        failed = self._check(request)
        if failed:
            return failed
        from urllib.parse import unquote

        name = unquote(re.search(r"_apis/wit/fields/([^/?]+)", request.path_url)[1]).casefold()
        known = [f for fields in self.type_fields.values() for f in fields] + self.extra_fields
        for found in known:
            if name in (found["referenceName"].casefold(), found["name"].casefold()):
                return 200, {}, json.dumps({"referenceName": found["referenceName"], "name": found["name"]})
        return 404, {"Content-Type": "application/json"}, json.dumps({"message": f"TF51535: Cannot find field {name}."})

    def _type_fields(self, request: Any) -> tuple[int, dict, str]:
        """GET {project}/_apis/wit/workitemtypes/{type}/fields?$expand=allowedValues (REST
        reference "Work Item Types Field - List", api-version 7.1-preview.3; each field's
        ``referenceName``, ``name``, ``alwaysRequired``, ``defaultValue`` and, expanded,
        ``allowedValues``). A missing project is TF200016, a missing type VS402323 (404)."""
        self.calls.append(Call("GET", request.path_url))
        failed = self._check(request, "7.1-preview.3")
        if failed:
            return failed
        assert request.params.get("$expand") == "allowedValues"
        from urllib.parse import unquote

        match = re.search(r"/([^/]+)/_apis/wit/workitemtypes/([^/?]+)/fields", request.path_url)
        project, kind = unquote(match[1]), unquote(match[2])
        answer = {"Content-Type": "application/json"}
        if project not in self.projects:
            return 404, answer, json.dumps({"message": f"TF200016: The following project does not exist: {project}."})
        if kind not in self.projects[project]["types"]:
            return 404, answer, json.dumps({"message": f"VS402323: Work item type {kind} does not exist in project {project}."})
        fields = self.type_fields.get(kind, self.type_fields["*"])
        return 200, {}, json.dumps({"count": len(fields), "value": fields})

    def _wiql(self, request: Any) -> tuple[int, dict, str]:
        """POST [{project}/]_apis/wit/wiql?$top= (REST reference "Wiql - Query By Wiql",
        fixtures/msdocs_api_wiql_flat_query): a flat ``workItems[{id, url}]`` list. Only the
        title conditions our code writes are understood (an assertion names any other)."""
        body = json.loads(request.body)
        self.calls.append(Call("POST", request.path_url, body))
        failed = self._check(request)
        if failed:
            return failed
        top = int(request.params.get("$top", "20000"))
        exact = re.search(r"\[System.Title\] = '((?:[^']|'')*)'", body["query"])
        match = re.search(r"\[System.Title\] CONTAINS '((?:[^']|'')*)'", body["query"])
        assert match or exact, body["query"]
        needle = (match or exact)[1].replace("''", "'").casefold()
        ids = [
            item_id
            for item_id, fields in sorted(self.work_items.items(), reverse=True)
            if (
                needle == str(fields.get("System.Title", "")).casefold()
                if exact
                else needle in str(fields.get("System.Title", "")).casefold()
            )
        ][:top]
        return (
            200,
            {},
            json.dumps(
                {
                    "queryType": "flat",
                    "workItems": [
                        {"id": i, "url": f"{self.base_url}_apis/wit/workItems/{i}"} for i in ids
                    ],
                }
            ),
        )

    def _batch(self, request: Any) -> tuple[int, dict, str]:
        """POST _apis/wit/workitemsbatch (REST reference "Work Items - Get Work Items
        Batch"): at most 200 ids; ``errorPolicy: omit`` leaves unknown ids out."""
        body = json.loads(request.body)
        self.calls.append(Call("POST", request.path_url, body))
        failed = self._check(request)
        if failed:
            return failed
        assert len(body["ids"]) <= 200
        value = []
        for i in body["ids"]:
            if i in self.work_items:
                known = {"System.Id": i, **self.work_items[i]}
                fields = {name: known[name] for name in body["fields"] if name in known}
                value.append({"id": i, "rev": self.revs.get(i, 1), "fields": fields})
        return 200, {}, json.dumps({"count": len(value), "value": value})

    def _hooks(self, request: Any) -> tuple[int, dict, str]:
        """POST/GET/PUT _apis/hooks/subscriptions[/{id}] (REST reference "Subscriptions",
        fixtures/msdocs_api_hooks_subscription_create)."""
        body = json.loads(request.body) if request.body else None
        self.calls.append(Call(request.method, request.path_url, body))
        failed = self._check(request)
        if failed:
            return failed
        match = re.search(r"subscriptions/([\w-]+)", request.path_url)
        if request.method == "POST":
            self.created += 1
            sub_id = f"sub-{self.created}"
            self.subscriptions[sub_id] = {**body, "id": sub_id, "status": "enabled"}
            return 200, {}, json.dumps(self._masked(sub_id))
        sub_id = match[1] if match else ""
        if sub_id not in self.subscriptions:
            return 404, {}, json.dumps({"message": "subscription not found"})
        if request.method == "PUT":
            self.subscriptions[sub_id] = {**body, "id": sub_id}
        return 200, {}, json.dumps(self._masked(sub_id))

    def _masked(self, sub_id: str) -> dict[str, Any]:
        """Azure DevOps never returns basicAuthPassword."""
        stored = json.loads(json.dumps(self.subscriptions[sub_id]))
        if "basicAuthPassword" in stored.get("consumerInputs", {}):
            stored["consumerInputs"]["basicAuthPassword"] = "********"
        return stored

    def _updates(self, request: Any) -> tuple[int, dict, str]:
        """GET _apis/wit/workItems/{id}/updates?$top=&$skip= (REST reference "Updates -
        List", fixtures/msdocs_api_workitem_update_get)."""
        self.calls.append(Call("GET", request.path_url))
        failed = self._check(request)
        if failed:
            return failed
        item_id = int(re.search(r"workItems/(\d+)/updates", request.path_url)[1])
        skip = int(request.params.get("$skip", 0))
        top = int(request.params.get("$top", 200))
        page = self.updates.get(item_id, [])[skip : skip + top]
        return 200, {}, json.dumps({"count": len(page), "value": page})


@dataclass
class FakeSearch:
    """Work item search on its own host; ``mode`` 'ok', 'missing' (404) or 'not-ready'."""

    rsps: responses.RequestsMock
    pat: str
    base_url: str = "https://almsearch.dev.azure.com/contoso/"
    answer: dict[str, Any] = field(
        default_factory=lambda: load_fixture("msdocs_api_workitem_search_results.json")
    )
    mode: str = "ok"
    calls: list[Call] = field(default_factory=list)
    failures: deque = field(default_factory=deque)

    def __post_init__(self) -> None:
        self.rsps.add_callback(
            responses.POST,
            re.compile(
                re.escape(self.base_url)
                + r"([^/_][^/]*/)?_apis/search/workitemsearchresults(\?.*)?$"
            ),
            callback=self._search,
        )

    def _search(self, request: Any) -> tuple[int, dict, str]:
        """POST almsearch.../_apis/search/workitemsearchresults (REST reference "Work Item
        Search Results - Fetch Work Item Search Results", fixtures/
        msdocs_api_workitem_search_results); 404 when the search extension is missing
        (Azure DevOps Server without it) and ``infoCode`` 2 while the index is being built
        (the reference's list of info codes, reference note on search)."""
        body = json.loads(request.body)
        self.calls.append(Call("POST", request.path_url, body))
        expected = "Basic " + base64.b64encode(f":{self.pat}".encode()).decode()
        if request.headers.get("Authorization") != expected:
            return 401, {}, ""
        if self.failures:
            status, headers = self.failures.popleft()
            if status == "timeout":
                import requests

                raise requests.ReadTimeout("timed out")
            return status, headers, ""
        if self.mode == "missing":
            return 404, {}, ""
        if self.mode == "not-ready":
            return 200, {}, json.dumps({"count": 0, "results": [], "infoCode": 2})
        return 200, {}, json.dumps(self.answer)


class Stores:
    """The store writers tests set their data up with (integrations, Sentry orgs, links)."""

    def __init__(self, storage) -> None:
        from shared.store.integrations import Integrations
        from shared.store.links import Links
        from shared.store.sentry_orgs import SentryOrgs

        self.integrations = Integrations(storage)
        self.sentry_orgs = SentryOrgs(storage)
        self.links = Links(storage)
