"""Which repository file a stack frame is (pure): the code mapping of the frame's Sentry
project with the longest stack root that prefixes the frame's path wins, as in Sentry's own
code mappings. The frame's path comes from an event, so it is hostile: a path that would climb
out of the source root (``..``), or holds control characters, maps to nothing."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from shared.store.repositories import CodeMapping, TrackedRepository

MAX_PATH_LENGTH = 1024


@dataclass(frozen=True)
class SourceFile:
    repository: TrackedRepository
    path: str  # in the repository, without a leading slash


def _clean(path: str) -> str:
    return path.replace("\\", "/")


def check_root(root: str) -> str:
    """A stack or source root as stored: forward slashes, no ``..``, ending in ``/`` unless
    empty (the whole path)."""
    root = _clean(root.strip())
    if any(ord(c) < 32 or ord(c) == 127 for c in root) or ".." in root.split("/"):
        raise ValueError("must be a plain path prefix (no .., no control characters)")
    return root if not root or root.endswith("/") else root + "/"


def source_file(
    repositories: Iterable[TrackedRepository], sentry_org: str, sentry_project: str, filename: str
) -> SourceFile | None:
    if not filename or len(filename) > MAX_PATH_LENGTH:
        return None
    if any(ord(c) < 32 or ord(c) == 127 for c in filename):
        return None
    frame = _clean(filename)
    best: tuple[TrackedRepository, CodeMapping] | None = None
    for repo in repositories:
        if repo.sentry_org != sentry_org:
            continue
        for mapping in repo.code_mappings:
            if mapping.sentry_project != sentry_project or not frame.startswith(mapping.stack_root):
                continue
            if best is None or len(mapping.stack_root) > len(best[1].stack_root):
                best = (repo, mapping)
    if best is None:
        return None
    repo, mapping = best
    path = (mapping.source_root + frame[len(mapping.stack_root) :]).lstrip("/")
    if not path or ".." in path.split("/") or path.endswith("/"):
        return None
    return SourceFile(repo, path)
