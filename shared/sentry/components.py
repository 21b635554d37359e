"""Requests Sentry sends for an integration's UI components, as pydantic models.

* issue-link ``link`` and ``create``: a POST with the form's ``fields``, the issue and where it
  lives; signed with ``Sentry-App-Signature`` over the body.
* alert-rule-action settings: a POST with the rule's ``fields`` as ``[{name, value}]`` when a
  person saves the rule; signed like the above.
* select fields with a ``uri``: a GET with ``installationId``, ``projectSlug``, ``query`` and
  ``dependentData`` (JSON of the fields it depends on); signed over the empty string.
Answers: issue-link ``{"webUrl", "project", "identifier"}``; select ``[{"label", "value"}]``;
errors ``{"message": ...}``, which Sentry shows to the person.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from shared.sentry.webhooks import Actor, IssueId
from shared.validation import web_link

Text = Annotated[str, Field(max_length=2048)]


class _Model(BaseModel):
    model_config = ConfigDict(
        defer_build=True,
        extra="ignore",
        frozen=True,
        populate_by_name=True,
        coerce_numbers_to_str=True,
    )


class SentryProject(_Model):
    id: Text | None = None
    slug: Text | None = None


class IssueLinkRequest(_Model):
    fields: dict[str, Any] = {}
    installation_id: Text = Field(alias="installationId")
    issue_id: IssueId = Field(alias="issueId")
    web_url: Text | None = Field(None, alias="webUrl")
    project: SentryProject | None = None
    actor: Actor | None = None

    @field_validator("web_url")
    @classmethod
    def _a_web_link(cls, value: str | None) -> str | None:
        # It becomes a link in the work item and a Hyperlink relation: https only (http for
        # a private host), nothing that can close the link's syntax.
        if value is not None and web_link(value) is None:
            raise ValueError("must be an https:// link to the Sentry issue")
        return value


class Setting(_Model):
    name: Annotated[str, Field(max_length=128)]
    value: Any = None


class AlertRuleSettingsRequest(_Model):
    """What Sentry posts to the alert rule action's settings ``uri`` when a rule is saved."""

    installation_id: Text = Field(alias="installationId")
    fields: list[Setting] = []


class SelectRequest(_Model):
    installation_id: Text | None = Field(None, alias="installationId")
    project_slug: Text | None = Field(None, alias="projectSlug")
    query: Text | None = None
    dependent_data: dict[str, Any] = Field({}, alias="dependentData")

    @classmethod
    def from_params(cls, params: Mapping[str, str]) -> SelectRequest:
        """Read the query string; ``dependentData`` is JSON text (``{}`` if it is not)."""
        raw = params.get("dependentData") or ""
        try:
            dependent = json.loads(raw) if raw else {}
        except ValueError:
            dependent = {}
        return cls.model_validate(
            {
                "installationId": params.get("installationId"),
                "projectSlug": params.get("projectSlug"),
                "query": params.get("query"),
                "dependentData": dependent if isinstance(dependent, dict) else {},
            }
        )


def linked(web_url: str, project: str, identifier: str) -> dict[str, str]:
    """The issue-link answer: Sentry shows ``project#identifier``, linking to ``web_url``."""
    return {"webUrl": web_url, "project": project, "identifier": identifier}


def option(label: str, value: str, default: bool = False) -> dict[str, Any]:
    """A select option; ``default``: Sentry selects it when the form opens (the ``default``
    key of Sentry's select-option answer, fixtures/sentryapp_ui_select_options_response)."""
    shown: dict[str, Any] = {"label": label, "value": value}
    if default:
        shown["default"] = True
    return shown
