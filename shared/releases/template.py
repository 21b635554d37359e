"""Release version templates (pure): text with ``{placeholders}``.

``{sha}`` the deployed commit (40 hex), ``{short_sha}`` its first 12 characters, ``{build}``
the build number (YAML run, or the Classic release's build artifact), ``{name}`` the
repository's name, ``{branch}`` the branch without ``refs/heads/``. Examples: ``{sha}``,
``{name}@{build}``, ``backend@{short_sha}``. Anything else in braces is refused. Sentry's own
rules apply to the result: at most 200 characters, no whitespace or slash, not ``.``/``..``/
``latest``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from shared.errors import InvalidInput

FIELDS = ("sha", "short_sha", "build", "name", "branch")
MAX_VERSION_LENGTH = 200
_PLACEHOLDER = re.compile(r"\{([^{}]*)\}")
_SAFE = re.compile(r"[^A-Za-z0-9._@+:=~-]")


def check_template(template: str) -> str:
    text = (template or "").strip()
    if not text:
        raise InvalidInput("the version template is empty")
    unknown = sorted({name for name in _PLACEHOLDER.findall(text) if name not in FIELDS})
    if unknown:
        raise InvalidInput(
            f"unknown placeholder(s) in the version template: {', '.join(unknown)} "
            f"(known: {', '.join(FIELDS)})"
        )
    if "{" in _PLACEHOLDER.sub("", text) or "}" in _PLACEHOLDER.sub("", text):
        raise InvalidInput("unbalanced braces in the version template")
    return text


def uses_build(template: str) -> bool:
    """Whether a version needs a build number (so a push alone cannot name the release)."""
    return "build" in _PLACEHOLDER.findall(template)


def render(template: str, values: Mapping[str, str | None]) -> str:
    def fill(match: re.Match[str]) -> str:
        value = values.get(match[1])
        if not value:
            raise InvalidInput(f"the version template needs {{{match[1]}}}, which is unknown here")
        return _SAFE.sub("-", value)

    version = _PLACEHOLDER.sub(fill, template)
    if version in (".", "..", "latest") or len(version) > MAX_VERSION_LENGTH:
        raise InvalidInput(f"{version[:60]!r} is not a Sentry release version")
    return version


def branch_name(ref: str | None) -> str | None:
    return ref.removeprefix("refs/heads/") if ref else None
