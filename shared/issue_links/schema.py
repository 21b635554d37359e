"""The internal integration's UI schema (pure): the ``issue-link`` element with its ``link``
and ``create`` forms, and the ``alert-rule-action`` element. Sentry sends each ``uri`` to the
host of the webhook URL with the path replaced (and the query too), so every ``uri`` is a full
``/api/...`` path naming the integration and the organization."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from shared.issue_links.form import (
    AREA_PATH,
    ASSIGNEE,
    COMMENT,
    DESCRIPTION,
    ITERATION_PATH,
    OTHER_FIELDS,
    PARENT,
    PRIORITY,
    PROJECT,
    SEVERITY,
    TAGS,
    TITLE,
    WORK_ITEM,
    WORK_ITEM_TYPE,
)

TITLE_PREFIX = "titlePrefix"  # of the alert rule action's settings (``alert_rules.settings``)

# Components (the first path segment after the organization) and the select fields' sources:
# issue-link/<name>, answered by ``issue_links.options``.
ISSUE_LINK, ALERT_RULE = "issue-link", "alert-rule"
WORK_ITEMS, PROJECTS, TYPES, AREAS = "work-items", "projects", "types", "areas"
ITERATIONS, PRIORITIES, SEVERITIES = "iterations", "priorities", "severities"
STACKTRACE_LINK, OPEN = "stacktrace-link", "open"


def base_path(integration_id: str, slug: str) -> str:
    return f"/api/sentry/{quote(integration_id, safe='')}/{quote(slug, safe='')}"


def webhook_url(app_url: str, integration_id: str, slug: str) -> str:
    return app_url.rstrip("/") + base_path(integration_id, slug) + "/webhook"


def schema(integration_id: str, slug: str) -> dict[str, Any]:
    base = base_path(integration_id, slug)
    return {
        "elements": [
            issue_link(base),
            alert_rule_action(base),
            # Sentry adds installationId, projectSlug, filename and lineNo to the uri.
            {"type": STACKTRACE_LINK, "uri": f"{base}/{STACKTRACE_LINK}/{OPEN}"},
        ]
    }


def _select(base: str, name: str, label: str, source: str, **extra: Any) -> dict[str, Any]:
    uri = f"{base}/{ISSUE_LINK}/{source}"
    return {"type": "select", "name": name, "label": label, "uri": uri, **extra}


def _text(name: str, label: str, kind: str = "text", **extra: Any) -> dict[str, Any]:
    return {"type": kind, "name": name, "label": label, **extra}


def _where(base: str) -> list[dict[str, Any]]:
    """Project and type: what both the create form and the alert rule action ask first."""
    once = {"async": False}  # short lists: loaded when the form opens
    return [
        _select(base, PROJECT, "Project", PROJECTS, **once),
        _select(base, WORK_ITEM_TYPE, "Work item type", TYPES, depends_on=[PROJECT], **once),
    ]


def _details(base: str) -> list[dict[str, Any]]:
    """Optional fields of a new work item. Sentry's schema is static: the common fields are
    selects whose options come from the chosen project and type (a type without priority or
    severity offers none), and "Other fields" takes the rest (checked against the type)."""
    once = {"async": False}
    of_type = [PROJECT, WORK_ITEM_TYPE]
    return [
        _select(base, AREA_PATH, "Area path", AREAS, depends_on=[PROJECT], **once),
        _select(base, ITERATION_PATH, "Iteration", ITERATIONS, depends_on=[PROJECT], **once),
        _select(base, PRIORITY, "Priority", PRIORITIES, depends_on=of_type, **once),
        _select(base, SEVERITY, "Severity", SEVERITIES, depends_on=of_type, **once),
        _select(base, PARENT, "Parent work item", WORK_ITEMS, **{"async": True}),
        _text(TAGS, "Tags (separated by ;)"),
        _text(ASSIGNEE, "Assign to (email)"),
        _text(
            OTHER_FIELDS,
            "Other fields, one Field=value per line (e.g. Custom.Team=Payments)",
            "textarea",
        ),
    ]


def issue_link(base: str) -> dict[str, Any]:
    return {
        "type": "issue-link",
        "link": {
            "uri": f"{base}/{ISSUE_LINK}/link",
            "required_fields": [
                _select(base, WORK_ITEM, "Work item", WORK_ITEMS, **{"async": True}),
            ],
            "optional_fields": [_text(COMMENT, "Comment", "textarea")],
        },
        "create": {
            "uri": f"{base}/{ISSUE_LINK}/create",
            "required_fields": [*_where(base), _text(TITLE, "Title", default="issue.title")],
            "optional_fields": [
                _text(
                    DESCRIPTION,
                    "Description (empty: a link to the issue and its culprit)",
                    "textarea",
                ),
                *_details(base),
            ],
        },
    }


def alert_rule_action(base: str) -> dict[str, Any]:
    return {
        "type": "alert-rule-action",
        "title": "Create an Azure DevOps work item",
        "settings": {
            "type": "alert-rule-settings",
            "uri": f"{base}/{ALERT_RULE}/settings",
            "description": (
                "One work item per issue and rule, linked to the issue; "
                "if it is done, the alert adds an 'occurred again' comment."
            ),
            "required_fields": _where(base),
            "optional_fields": [*_details(base), _text(TITLE_PREFIX, "Title prefix")],
        },
    }
