"""Fakes of Azure DevOps Git, builds and Classic releases, and of Sentry's releases and
deploys, on top of ``responses`` (or the loopback router): stateful, strict about auth.

Each behaviour names its source in a comment. A fake that copies our own reading of an API
proves nothing (it once hid that every release after the first shipped without commits)."""

from __future__ import annotations

import base64
import hashlib
import json
import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

from fakes import ADO_BASE, Call

REPO_ID = "278d5cd2-584d-4b63-824a-2ba458937249"


def sha(n: int) -> str:
    return hashlib.sha1(str(n).encode(), usedforsecurity=False).hexdigest()  # a git-like id


@dataclass
class FakeGit:
    """One repository (a history of commits, each naming its parents), builds and Classic
    releases. ``commit`` appends to the main line unless given other parents."""

    rsps: Any
    pat: str
    base_url: str = ADO_BASE
    release_base_url: str = "https://vsrm.dev.azure.com/contoso/"
    project: str = "Fabrikam"
    name: str = "Fabrikam-Web"
    history: list[dict[str, Any]] = field(default_factory=list)
    builds: dict[str, dict[str, Any]] = field(default_factory=dict)
    releases: dict[str, dict[str, Any]] = field(default_factory=dict)
    calls: list[Call] = field(default_factory=list)
    main: str = ""  # the main line's head
    default_branch: str = "main"

    def __post_init__(self) -> None:
        prefix = re.escape(self.base_url) + r"([^/_][^/]*)/_apis/"
        repo = prefix + r"git/repositories/([^/?]+)"
        routes = [
            (repo + r"(\?.*)?$", self._repository),
            (repo + r"/commits(\?.*)?$", self._commits),
            (repo + r"/commits/([0-9a-f]{40})(\?.*)?$", self._commit),
            (repo + r"/commits/([0-9a-f]{40})/changes(\?.*)?$", self._changes),
            (prefix + r"build/builds/(\d+)(\?.*)?$", self._build),
            (
                re.escape(self.release_base_url)
                + r"([^/_][^/]*)/_apis/release/releases/(\d+)(\?.*)?$",
                self._release,
            ),
        ]
        for pattern, handler in routes:
            self.rsps.add_callback("GET", re.compile(pattern), callback=handler)

    def commit(
        self,
        message: str,
        paths: dict[str, str] | None = None,
        parents: list[str] | None = None,
    ) -> str:
        n = len(self.history) + 1
        if parents is None:
            parents = [self.main] if self.history else []
        self.history.append(
            {
                "sha": sha(n),
                "parents": parents,
                "message": message,
                "author": {
                    "name": "Jamal Hartnett",
                    "email": "jamal@contoso.com",
                    "date": f"2026-11-{n:02d}T10:00:00Z",
                },
                "changes": paths or {f"src/file{n}.py": "add"},
            }
        )
        if not parents or parents[0] == self.main:
            self.main = sha(n)
        return sha(n)

    def reachable(self, start: str) -> set[str]:
        """``start`` and its ancestors, as ``git rev-list`` walks them."""
        seen: set[str] = set()
        todo = [start]
        while todo:
            current = todo.pop()
            if current not in seen:
                seen.add(current)
                todo += self.history[self._index(current)]["parents"]
        return seen

    def _ok(self, request: Any) -> tuple[int, dict, str] | None:
        self.calls.append(Call("GET", request.path_url))
        expected = "Basic " + base64.b64encode(f":{self.pat}".encode()).decode()
        if request.headers.get("Authorization") != expected:
            return 401, {}, ""
        return None

    def _known(self, request: Any) -> bool:
        found = re.search(r"/([^/]+)/_apis/git/repositories/([^/?]+)", request.path_url)
        return unquote(found[1]) == self.project and unquote(found[2]) in (REPO_ID, self.name)

    def _repository(self, request: Any) -> tuple[int, dict, str]:
        """GET {project}/_apis/git/repositories/{name or id} (REST reference "Repositories -
        Get Repository", with ``defaultBranch`` as in the git.push sample of
        reference/commits-deploys-comments.md); unknown: 404 TF401019."""
        failed = self._ok(request)
        if failed:
            return failed
        if not self._known(request):
            return 404, {}, json.dumps({"message": "TF401019: repository not found"})
        body = {
            "id": REPO_ID,
            "name": self.name,
            "project": {"id": "p-1", "name": self.project},
            "defaultBranch": f"refs/heads/{self.default_branch}",
        }
        return 200, {}, json.dumps(body)

    def _index(self, commit_sha: str) -> int | None:
        return next((i for i, c in enumerate(self.history) if c["sha"] == commit_sha), None)

    def _ref(self, commit: dict[str, Any], truncate: bool) -> dict[str, Any]:
        message = commit["message"]
        first = message.splitlines()[0] if message else ""
        cut = truncate and first != message
        return {
            "commitId": commit["sha"],
            "comment": first if truncate else message,
            "commentTruncated": cut,
            "author": commit["author"],
        }

    def _commits(self, request: Any) -> tuple[int, dict, str]:
        """GET .../commits with GitQueryCommitsCriteria as ``searchCriteria.*`` parameters.

        Sources: GitQueryCommitsCriteria (learn.microsoft.com, .NET and JS API references):
        ``itemVersion`` "identifies the commit or branch to search"; ``compareVersion`` is
        "only applicable when ItemVersion specified. If provided, start walking history
        starting at this commit". Sentry's own client asks for a range with the previous
        release as ``itemVersion`` and the new head as ``compareVersion``
        (``compare_commits`` / ``get_commit_range`` in src/sentry/integrations/vsts/), so the
        answer to both is the commits reachable from ``compareVersion`` and not from
        ``itemVersion`` (``git log item..compare``); an older ``compareVersion`` yields
        nothing. With ``itemVersion`` alone, the history of that commit. Newest first; an
        unknown commit is TF401175 (404), as the REST spec's error list names it."""
        failed = self._ok(request)
        if failed:
            return failed
        if not self._known(request):
            return 404, {}, json.dumps({"message": "TF401019: repository not found"})
        params = request.params
        item = params.get("searchCriteria.itemVersion.version")
        compare = params.get("searchCriteria.compareVersion.version")
        for version, kind in ((item, "itemVersion"), (compare, "compareVersion")):
            if version is not None and (
                params.get(f"searchCriteria.{kind}.versionType") != "commit"
                or self._index(version) is None
            ):
                return 404, {}, json.dumps({"message": "TF401175: commit not found"})
        if item is None:
            # Without itemVersion, compareVersion does not apply (the criteria docs) and the
            # answer is the default branch's history: never what a range asks for.
            chosen = self.reachable(self.main) if self.history else set()
        elif compare is None:
            chosen = self.reachable(item)
        else:
            chosen = self.reachable(compare) - self.reachable(item)
        chain = [c for c in reversed(self.history) if c["sha"] in chosen]
        skip = int(params.get("searchCriteria.$skip", 0))
        top = int(params.get("searchCriteria.$top", 100))
        page = [self._ref(c, truncate=True) for c in chain[skip : skip + top]]
        return 200, {}, json.dumps({"count": len(page), "value": page})

    def _commit(self, request: Any) -> tuple[int, dict, str]:
        """GET .../commits/{sha}: the whole ``comment`` (REST reference "Commits - Get";
        lists cut it to the first line and set ``commentTruncated``, reference note 4.1)."""
        failed = self._ok(request)
        if failed:
            return failed
        index = self._index(re.search(r"/commits/([0-9a-f]{40})", request.path_url)[1])
        if index is None:
            return 404, {}, json.dumps({"message": "TF401175: commit not found"})
        return 200, {}, json.dumps(self._ref(self.history[index], truncate=False))

    def _changes(self, request: Any) -> tuple[int, dict, str]:
        """GET .../commits/{sha}/changes (REST reference "Commits - Get Changes": ``changes[]
        {item{path, gitObjectType}, changeType}``)."""
        failed = self._ok(request)
        if failed:
            return failed
        index = self._index(re.search(r"/commits/([0-9a-f]{40})", request.path_url)[1])
        if index is None:
            return 404, {}, json.dumps({"message": "TF401175: commit not found"})
        changes = [
            {"item": {"path": "/" + path, "gitObjectType": "blob"}, "changeType": kind}
            for path, kind in self.history[index]["changes"].items()
        ]
        return 200, {}, json.dumps({"changeCounts": {}, "changes": changes})

    def _build(self, request: Any) -> tuple[int, dict, str]:
        failed = self._ok(request)
        if failed:
            return failed
        build_id = re.search(r"/builds/(\d+)", request.path_url)[1]
        if build_id not in self.builds:
            return 404, {}, json.dumps({"message": "build not found"})
        return 200, {}, json.dumps(self.builds[build_id])

    def _release(self, request: Any) -> tuple[int, dict, str]:
        failed = self._ok(request)
        if failed:
            return failed
        release_id = re.search(r"/releases/(\d+)", request.path_url)[1]
        if release_id not in self.releases:
            return 404, {}, json.dumps({"message": "release not found"})
        return 200, {}, json.dumps(self.releases[release_id])

    def run(self, build_id: str, head: str, number: str) -> None:
        """A build as ``GET .../_apis/build/builds/{id}`` answers it (Build model,
        learn.microsoft.com "Builds - Get": sourceVersion, sourceBranch, repository,
        buildNumber, startTime, finishTime)."""
        self.builds[build_id] = {
            "id": int(build_id),
            "buildNumber": number,
            "sourceVersion": head,
            "sourceBranch": "refs/heads/main",
            "repository": {"id": REPO_ID, "type": "TfsGit", "name": self.name},
            "startTime": f"2026-11-23T10:{int(build_id) % 60:02d}:00Z",
            "finishTime": f"2026-11-23T11:{int(build_id) % 60:02d}:00Z",
        }

    def classic(self, release_id: str, head: str, number: str, definition: str = "Web") -> None:
        """A Classic release as ``GET {vsrm}/{project}/_apis/release/releases/{id}`` answers it
        (Release model, learn.microsoft.com "Releases - Get Release": ``_links`` holds the web
        view; ``artifacts[].definitionReference`` the build's repository, commit, branch and
        number, as public scripts read them, reference note 3.5)."""
        self.releases[release_id] = {
            "id": int(release_id),
            "name": f"Release-{release_id}",
            "_links": {
                "web": {
                    "href": f"https://dev.azure.com/contoso/{self.project}/_releaseProgress?"
                    f"releaseId={release_id}"
                }
            },
            "releaseDefinition": {"id": 4, "name": definition},
            "artifacts": [
                {
                    "type": "Build",
                    "alias": "_web",
                    "definitionReference": {
                        "repository": {"id": REPO_ID, "name": self.name},
                        "sourceVersion": {"id": head, "name": head},
                        "branch": {"id": "refs/heads/main", "name": "refs/heads/main"},
                        "version": {"id": "77", "name": number},
                    },
                }
            ],
        }


@dataclass
class FakeSentryReleases:
    """Sentry's releases and deploys for one organization."""

    rsps: Any
    base_url: str
    org: str
    token: str
    releases: dict[str, dict[str, Any]] = field(default_factory=dict)
    calls: list[Call] = field(default_factory=list)
    busy: int = 0  # answer 409 to this many commit updates

    def __post_init__(self) -> None:
        prefix = re.escape(f"{self.base_url}api/0/organizations/{self.org}/releases/")
        self.rsps.add_callback("POST", re.compile(prefix + "$"), callback=lambda r: self._create(r))
        release = prefix + r"([^/]+)/"
        self.rsps.add_callback("PUT", re.compile(release + "$"), callback=lambda r: self._update(r))
        for method in ("GET", "POST"):
            self.rsps.add_callback(
                method, re.compile(release + "deploys/$"), callback=lambda r: self._deploys(r)
            )

    def _auth(self, request: Any) -> tuple[int, dict, str] | None:
        body = json.loads(request.body) if request.body else None
        self.calls.append(Call(request.method, request.path_url, body))
        if request.headers.get("Authorization") != f"Bearer {self.token}":
            return 401, {}, json.dumps({"detail": "Invalid token"})
        return None

    def _create(self, request: Any) -> tuple[int, dict, str]:
        """POST /api/0/organizations/{org}/releases/ (Sentry API reference "Create a New
        Release for an Organization"): 201, or 208 for a version that exists (src/sentry/
        api/endpoints/organization_releases.py answers 208 on an existing release)."""
        failed = self._auth(request)
        if failed:
            return failed
        body = json.loads(request.body)
        if body["version"] in self.releases:
            return 208, {}, json.dumps({"version": body["version"]})
        self.releases[body["version"]] = {**body, "commits": None, "deploys": []}
        return 201, {}, json.dumps({"version": body["version"]})

    def _version(self, request: Any) -> str:
        return unquote(re.search(r"/releases/([^/]+)/", request.path_url)[1])

    def _update(self, request: Any) -> tuple[int, dict, str]:
        """PUT .../releases/{version}/ with ``commits`` (Sentry API reference "Update an
        Organization's Release"); 409 while earlier commits are still processed (the lock
        in src/sentry/models/release.py set_commits, as our ReleaseSync handles it)."""
        failed = self._auth(request)
        if failed:
            return failed
        if self.busy:
            self.busy -= 1
            return (
                409,
                {"Content-Type": "application/json"},
                json.dumps({"detail": "Release commits are currently being processed"}),
            )
        self.releases[self._version(request)]["commits"] = json.loads(request.body)["commits"]
        return 200, {}, json.dumps({"version": self._version(request)})

    def _deploys(self, request: Any) -> tuple[int, dict, str]:
        """GET/POST .../releases/{version}/deploys/ (Sentry API reference "List a
        Release's Deploys" / "Create a Deploy"); an unknown release is 404."""
        failed = self._auth(request)
        if failed:
            return failed
        release = self.releases.get(self._version(request))
        if release is None:
            return 404, {}, json.dumps({"detail": "not found"})
        if request.method == "GET":
            return 200, {}, json.dumps(release["deploys"])
        release["deploys"].append(json.loads(request.body))
        return 201, {}, json.dumps(json.loads(request.body))
