"""The commits of a release, as Sentry takes them: every commit reachable from the release's
head and not from the repository's previous release, with its whole message (so "Fixes
SHORT-ID" anywhere in it counts), its author and its ``patch_set``. The first release of a
repository takes the ``FIRST_RELEASE_COMMITS`` newest; no release takes more than
``MAX_COMMITS`` (Sentry keeps the newest ones; older ones stay in earlier releases)."""

from __future__ import annotations

from typing import Any

from shared.azure_devops.code_client import CodeClient, GitChange
from shared.store.repositories import TrackedRepository

FIRST_RELEASE_COMMITS = 20
MAX_COMMITS = 250
_CHANGE_TYPES = {"add": "A", "delete": "D"}  # anything else (edit, rename, ...) is M


def patch_type(change_type: str) -> str:
    kinds = {part.strip() for part in change_type.casefold().split(",")}
    for kind, letter in _CHANGE_TYPES.items():
        if kind in kinds:
            return letter
    return "M"


def patch_set(changes: list[GitChange]) -> list[dict[str, str]]:
    return [
        {"path": change.item.path.lstrip("/"), "type": patch_type(change.change_type)}
        for change in changes
        if change.item.path and change.item.git_object_type in (None, "blob")
    ]


def release_commits(
    client: CodeClient, repo: TrackedRepository, head: str
) -> list[dict[str, Any]]:
    """The commits since the repository's previous release (newest first)."""
    base = repo.last_sha
    limit = MAX_COMMITS if base else FIRST_RELEASE_COMMITS
    listed = client.commits_between(repo.project, repo.repository_id, head, base, limit)
    commits = []
    for listed_commit in listed:
        commit = listed_commit
        if commit.comment_truncated:
            commit = client.commit(repo.project, repo.repository_id, commit.commit_id)
        author = commit.author
        commits.append(
            {
                "id": commit.commit_id,
                "repository": repo.name,
                "message": commit.comment,
                "author_name": author.name if author else None,
                "author_email": author.email if author else None,
                "timestamp": author.date if author else None,
                "patch_set": patch_set(
                    client.commit_changes(repo.project, repo.repository_id, commit.commit_id)
                ),
            }
        )
    return commits
