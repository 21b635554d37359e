"""Every Azure DevOps REST path we call, relative to an organization's (or collection's) base
URL, and where work item search lives. Names from outside go through ``segment``."""

from __future__ import annotations

from urllib.parse import quote, urlsplit

from shared.http import segment

API_VERSION = "7.1"

# Work item comments are a preview API on every version that has them (Server 2020+).
COMMENTS_API_VERSION = "7.1-preview.4"

WORK_ITEMS_BATCH = "_apis/wit/workitemsbatch"
SUBSCRIPTIONS = "_apis/hooks/subscriptions"
PROJECTS = "_apis/projects"
CONNECTION_DATA = "_apis/connectionData"


def _in_project(project: str | None) -> str:
    return f"{segment(project)}/" if project else ""


def work_item(work_item_id: int, project: str | None = None) -> str:
    return f"{_in_project(project)}_apis/wit/workitems/{int(work_item_id)}"


def work_item_create(project: str, work_item_type: str) -> str:
    # The type goes after a literal "$" (quoted like any name).
    return f"{segment(project)}/_apis/wit/workitems/${segment(work_item_type)}"


def work_item_comments(project: str, work_item_id: int) -> str:
    return f"{segment(project)}/_apis/wit/workItems/{int(work_item_id)}/comments"


def work_item_comment(project: str, work_item_id: int, comment_id: int) -> str:
    return f"{work_item_comments(project, work_item_id)}/{int(comment_id)}"


def work_item_types(project: str) -> str:
    return f"{segment(project)}/_apis/wit/workitemtypes"


def area_paths(project: str) -> str:
    return f"{segment(project)}/_apis/wit/classificationnodes/areas"


def iteration_paths(project: str) -> str:
    return f"{segment(project)}/_apis/wit/classificationnodes/iterations"


# "Work Item Types Field - List" is a preview API in every version that has it.
TYPE_FIELDS_API_VERSION = "7.1-preview.3"


def field(reference_name: str) -> str:
    return f"_apis/wit/fields/{segment(reference_name)}"


def work_item_type_fields(project: str, work_item_type: str) -> str:
    return f"{segment(project)}/_apis/wit/workitemtypes/{segment(work_item_type)}/fields"


def work_item_web_url(base_url: str, project: str, work_item_id: int) -> str:
    """Where people open a work item (``{org}/{project}/_workitems/edit/{id}``)."""
    return f"{base_url.rstrip('/')}/{segment(project)}/_workitems/edit/{int(work_item_id)}"


def repository_file_url(
    base_url: str, project: str, repository: str, path: str, branch: str, line: int | None
) -> str:
    """Where people open a file (at a line) in Azure Repos: ``{project}/_git/{repository}``
    with ``path`` and ``version=GB<branch>`` (the form Sentry's own Azure DevOps integration
    builds in ``format_source_url``), and the line as Azure Repos' "copy link to line" does."""
    url = (
        f"{base_url.rstrip('/')}/{segment(project)}/_git/{segment(repository)}"
        f"?path={quote('/' + path.lstrip('/'), safe='')}&version=GB{quote(branch, safe='')}"
    )
    if line is not None:
        url += (
            f"&line={line}&lineEnd={line + 1}&lineStartColumn=1&lineEndColumn=1"
            "&lineStyle=plain&_a=contents"
        )
    return url


def work_item_org_web_url(base_url: str, work_item_id: int) -> str:
    """Where people open a work item when its project is not known (``{org}/_workitems/...``:
    Azure DevOps finds the project)."""
    return f"{base_url.rstrip('/')}/_workitems/edit/{int(work_item_id)}"


def work_item_updates(work_item_id: int) -> str:
    return f"_apis/wit/workItems/{int(work_item_id)}/updates"


def work_item_type_states(project: str, work_item_type: str) -> str:
    return f"{segment(project)}/_apis/wit/workitemtypes/{segment(work_item_type)}/states"


def wiql(project: str | None = None) -> str:
    return f"{_in_project(project)}_apis/wit/wiql"


def work_item_search(project: str | None = None) -> str:
    """On the search host (``search_base_url``), not the organization's."""
    return f"{_in_project(project)}_apis/search/workitemsearchresults"


def subscription(subscription_id: str) -> str:
    return f"{SUBSCRIPTIONS}/{segment(subscription_id)}"


def _service_host(base_url: str, service: str) -> str:
    """The organization's URL on one of Azure DevOps' service hosts: ``dev.azure.com/{org}/``
    -> ``{service}.dev.azure.com/{org}/``; ``{org}.visualstudio.com`` ->
    ``{org}.{service}.visualstudio.com``; anything else (Azure DevOps Server) is its own host."""
    parts = urlsplit(base_url)
    host = (parts.hostname or "").lower()
    if host == "dev.azure.com":
        return f"{parts.scheme}://{service}.dev.azure.com{parts.path}"
    if host.endswith(".visualstudio.com") and not host.endswith(f".{service}.visualstudio.com"):
        org = host.removesuffix(".visualstudio.com")
        return f"{parts.scheme}://{org}.{service}.visualstudio.com{parts.path}"
    return base_url


def search_base_url(base_url: str) -> str:
    """Where work item search lives for an organization URL (``almsearch``)."""
    return _service_host(base_url, "almsearch")


# -- code and pipelines -------------------------------------------------------------------------


def repository(project: str, repository_id: str) -> str:
    return f"{segment(project)}/_apis/git/repositories/{segment(repository_id)}"


def commits(project: str, repository_id: str) -> str:
    return f"{repository(project, repository_id)}/commits"


def commit(project: str, repository_id: str, sha: str) -> str:
    return f"{commits(project, repository_id)}/{segment(sha)}"


def commit_changes(project: str, repository_id: str, sha: str) -> str:
    return f"{commit(project, repository_id, sha)}/changes"


def build(project: str, build_id: str) -> str:
    return f"{segment(project)}/_apis/build/builds/{segment(build_id)}"


def classic_release(project: str, release_id: str) -> str:
    """On the release host (``release_base_url``)."""
    return f"{segment(project)}/_apis/release/releases/{segment(release_id)}"


def release_base_url(base_url: str) -> str:
    """Where Classic Release lives for an organization URL (``vsrm``)."""
    return _service_host(base_url, "vsrm")
