"""The internal integration's UI schema (pure): the ``issue-link`` element with its ``link``
and ``create`` forms. Sentry sends each ``uri`` to the host of the webhook URL with the path
replaced (and the query too), so every ``uri`` is a full ``/api/...`` path naming the
integration and the organization."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from shared.issue_links.form import (
    AREA_PATH,
    ASSIGNEE,
    COMMENT,
    DESCRIPTION,
    PROJECT,
    TAGS,
    TITLE,
    WORK_ITEM,
    WORK_ITEM_TYPE,
)

# The select fields' sources: issue-link/<name>, answered by ``issue_links.options``.
WORK_ITEMS, PROJECTS, TYPES, AREAS = "work-items", "projects", "types", "areas"


def base_path(integration_id: str, slug: str) -> str:
    return f"/api/sentry/{quote(integration_id, safe='')}/{quote(slug, safe='')}"


def webhook_url(app_url: str, integration_id: str, slug: str) -> str:
    return app_url.rstrip("/") + base_path(integration_id, slug) + "/webhook"


def issue_link_schema(integration_id: str, slug: str) -> dict[str, Any]:
    base = base_path(integration_id, slug) + "/issue-link"

    def select(name: str, label: str, source: str, **extra: Any) -> dict[str, Any]:
        return {"type": "select", "name": name, "label": label, "uri": f"{base}/{source}", **extra}

    return {
        "elements": [
            {
                "type": "issue-link",
                "link": {
                    "uri": f"{base}/link",
                    "required_fields": [
                        select(WORK_ITEM, "Work item", WORK_ITEMS, **{"async": True}),
                    ],
                    "optional_fields": [
                        {"type": "textarea", "name": COMMENT, "label": "Comment"},
                    ],
                },
                "create": {
                    "uri": f"{base}/create",
                    "required_fields": [
                        select(PROJECT, "Project", PROJECTS, **{"async": False}),
                        select(
                            WORK_ITEM_TYPE,
                            "Work item type",
                            TYPES,
                            depends_on=[PROJECT],
                            **{"async": False},
                        ),
                        {
                            "type": "text",
                            "name": TITLE,
                            "label": "Title",
                            "default": "issue.title",
                        },
                    ],
                    "optional_fields": [
                        {
                            "type": "textarea",
                            "name": DESCRIPTION,
                            "label": "Description (empty: a link to the issue and its culprit)",
                        },
                        select(
                            AREA_PATH, "Area path", AREAS, depends_on=[PROJECT], **{"async": False}
                        ),
                        {"type": "text", "name": TAGS, "label": "Tags (separated by ;)"},
                        {"type": "text", "name": ASSIGNEE, "label": "Assign to (email)"},
                    ],
                },
            }
        ]
    }
