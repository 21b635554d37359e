"""The issue-link form's fields, checked (pure): each mistake names the field, as Sentry shows
the message to the person who filled the form in."""

from __future__ import annotations

import hashlib
import html
import json
from dataclasses import asdict, dataclass
from typing import Any

from shared.errors import InvalidInput
from shared.issue_links.type_fields import parse_other_fields
from shared.shapes import MAX_NAME_LENGTH, check_path_name
from shared.validation import check_work_item_id, web_link

# Azure DevOps' limit for System.Title.
MAX_TITLE_LENGTH = 255
MAX_TEXT_LENGTH = 32_000
MAX_TAGS = 50

# Field names of our schema (``schema``), the one place they are spelled besides it.
WORK_ITEM = "workItem"
COMMENT = "comment"
PROJECT = "project"
WORK_ITEM_TYPE = "workItemType"
TITLE = "title"
DESCRIPTION = "description"
AREA_PATH = "areaPath"
TAGS = "tags"
ASSIGNEE = "assignee"
ITERATION_PATH = "iterationPath"
PRIORITY = "priority"
SEVERITY = "severity"
PARENT = "parent"
OTHER_FIELDS = "otherFields"


@dataclass(frozen=True)
class LinkForm:
    work_item_id: int
    comment: str | None = None


@dataclass(frozen=True)
class CreateForm:
    project: str
    work_item_type: str
    title: str | None = None  # None: the Sentry issue's title
    description: str | None = None  # None: a link to the issue and its culprit
    area_path: str | None = None
    tags: tuple[str, ...] = ()
    assignee: str | None = None
    iteration_path: str | None = None
    priority: str | None = None
    severity: str | None = None
    parent: int | None = None
    other_fields: tuple[tuple[str, str], ...] = ()  # (field, value), checked against the type

    def digest(self, slug: str, issue_id: str) -> str:
        """Same form for the same issue, same digest: the key that makes a create idempotent."""
        text = json.dumps([slug, issue_id, asdict(self)], sort_keys=True, default=list)
        return hashlib.sha256(text.encode()).hexdigest()[:32]


def _text(fields: dict[str, Any], name: str, limit: int = MAX_TEXT_LENGTH) -> str | None:
    value = fields.get(name)
    if value is None:
        return None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str):
        raise InvalidInput(f"{name} must be text")
    value = value.strip()
    if len(value) > limit:
        raise InvalidInput(f"{name} is longer than {limit} characters")
    return value or None


def _name(fields: dict[str, Any], name: str, *, required: bool) -> str | None:
    value = _text(fields, name, MAX_NAME_LENGTH)
    if value is None:
        if required:
            raise InvalidInput(f"{name} is required")
        return None
    try:
        check_path_name(value)
    except ValueError as exc:
        raise InvalidInput(f"{name} {exc}") from None
    return value


def read_link(fields: dict[str, Any]) -> LinkForm:
    raw = fields.get(WORK_ITEM)
    if raw is None or raw == "":
        raise InvalidInput(f"{WORK_ITEM} is required (the work item to link)")
    try:
        work_item_id = check_work_item_id(raw if isinstance(raw, (str, int)) else "")
    except InvalidInput:
        raise InvalidInput(f"{WORK_ITEM} must be a work item id (a positive number)") from None
    return LinkForm(work_item_id, _text(fields, COMMENT))


def read_create(fields: dict[str, Any]) -> CreateForm:
    project = _name(fields, PROJECT, required=True)
    work_item_type = _name(fields, WORK_ITEM_TYPE, required=True)
    assert project is not None and work_item_type is not None
    title = _text(fields, TITLE)
    if title is not None:
        title = default_title(title, None)  # Sentry fills the issue's title in: cut to fit
    area = _text(fields, AREA_PATH, 4000)
    tags = tuple(
        dict.fromkeys(t.strip() for t in (_text(fields, TAGS, 4000) or "").split(";") if t.strip())
    )
    if len(tags) > MAX_TAGS or any(len(t) > 400 for t in tags):
        raise InvalidInput(f"{TAGS}: at most {MAX_TAGS} tags of up to 400 characters")
    parent = None
    raw_parent = fields.get(PARENT)
    if raw_parent not in (None, ""):
        try:
            parent = check_work_item_id(raw_parent if isinstance(raw_parent, (str, int)) else "")
        except InvalidInput:
            raise InvalidInput(f"{PARENT} must be a work item id (a positive number)") from None
    return CreateForm(
        project=project,
        work_item_type=work_item_type,
        title=title,
        description=_text(fields, DESCRIPTION),
        area_path=area,
        tags=tags,
        assignee=_text(fields, ASSIGNEE, 512),
        iteration_path=_text(fields, ITERATION_PATH, 4000),
        priority=_text(fields, PRIORITY, 256),
        severity=_text(fields, SEVERITY, 256),
        parent=parent,
        other_fields=parse_other_fields(_text(fields, OTHER_FIELDS), OTHER_FIELDS),
    )


def default_title(issue_title: str | None, short_id: str | None) -> str:
    """The Sentry issue's title, cut to what Azure DevOps takes."""
    title = " ".join((issue_title or short_id or "Sentry issue").split())
    return title if len(title) <= MAX_TITLE_LENGTH else title[: MAX_TITLE_LENGTH - 1] + "…"


def description_html(text: str | None, web_url: str | None, culprit: str | None) -> str:
    """The description as HTML: the person's text (escaped), else a link to the Sentry issue
    and its culprit."""
    if text:
        return "<br>".join(html.escape(line) for line in text.splitlines())
    parts = []
    if web_link(web_url):
        url = html.escape(web_url or "", quote=True)
        parts.append(f'<p>Sentry issue: <a href="{url}">{url}</a></p>')
    if culprit:
        parts.append(f"<p>Culprit: <code>{html.escape(culprit)}</code></p>")
    return "".join(parts) or "<p>Created from Sentry.</p>"


def comment_html(text: str, actor: str | None, web_url: str | None) -> str:
    """A comment added with a link, attributed to the person who made the link."""
    who = html.escape(actor) if actor else "Someone"
    link = web_link(web_url)
    where = f' in <a href="{html.escape(link, quote=True)}">Sentry</a>' if link else ""
    body = "<br>".join(html.escape(line) for line in text.splitlines())
    return f"<p><b>{who}</b> linked this work item{where}:</p><blockquote>{body}</blockquote>"
