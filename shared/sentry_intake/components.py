"""SentryComponents: requests from the integration's UI components in Sentry, verified and
routed by method, component and action (``ROUTES``):

* ``POST /api/sentry/{integrationId}/{org}/issue-link/{link|create}``;
* ``GET /api/sentry/{integrationId}/{org}/issue-link/{work-items|projects|types|areas|
  iterations|priorities|severities}``, the
  select fields (of the issue-link forms and of the alert rule action's settings);
* ``POST /api/sentry/{integrationId}/{org}/alert-rule/settings``, when a person saves an alert
  rule with our action.

authLevel ``anonymous``: Sentry replaces the URL's query, so no function key can ride along;
every request is verified with the organization's client secret instead.

Errors answer ``{"message": ...}``, which Sentry shows to the person: 400 names the field (or
what Azure DevOps said about it), 401 a wrong or missing ``Sentry-App-Signature`` (the same
answer for ids we do not know: it never tells which exist) or an installation other than the
organization's, 404 an unknown request, 409 a create already under way, 502/503/504 Azure
DevOps failing (503 with ``Retry-After`` when throttled). Never 500.
"""

from __future__ import annotations

from collections.abc import Mapping

from pydantic import ValidationError

from shared.doors import Rejected, Reply, answer
from shared.http import deadline
from shared.issue_links import schema
from shared.messages.ui_request import Handler, UiRequest
from shared.router import Router
from shared.sentry.components import AlertRuleSettingsRequest, IssueLinkRequest, SelectRequest
from shared.sentry.signatures import APP_SIGNATURE_HEADER, app_signature_matches
from shared.sentry_intake.caller import caller
from shared.store.storage import Storage, get_storage
from shared.validation import describe_invalid

EDGE = "sentry_components"
MAX_BODY_BYTES = 256 * 1024
# Sentry waits 30 s for an answer to a UI-component request (``safe_urlopen``'s default
# timeout in src/sentry/http.py; the issue-link and select requesters in
# src/sentry/sentry_apps/external_requests/ pass none of their own). Our calls out finish
# within this, leaving room for a cold start, so the person gets our clear, retryable 503
# rather than Sentry's timeout.
DEADLINE_SECONDS = 15.0

# "<method>.<component>.<action>". Each form's handler is imported on its first request, not
# at cold start (a select field's options never load the create form's code).


def _link(request: UiRequest) -> Reply:
    from shared.issue_links.link import link

    return link(request)


def _create(request: UiRequest) -> Reply:
    from shared.issue_links.create import create

    return create(request)


def _options(name: str) -> Handler:
    def handler(request: UiRequest) -> Reply:
        from shared.issue_links import options

        return getattr(options, name)(request)

    return handler


def _alert_settings(request: UiRequest) -> Reply:
    from shared.alert_rules.settings import check

    return check(request)


ROUTES: Router[Handler] = Router()
ROUTES.add(f"post.{schema.ISSUE_LINK}.link", _link)
ROUTES.add(f"post.{schema.ISSUE_LINK}.create", _create)
ROUTES.add(f"get.{schema.ISSUE_LINK}.{schema.WORK_ITEMS}", _options("work_items"))
ROUTES.add(f"get.{schema.ISSUE_LINK}.{schema.PROJECTS}", _options("projects"))
ROUTES.add(f"get.{schema.ISSUE_LINK}.{schema.TYPES}", _options("work_item_types"))
ROUTES.add(f"get.{schema.ISSUE_LINK}.{schema.AREAS}", _options("area_paths"))
ROUTES.add(f"get.{schema.ISSUE_LINK}.{schema.ITERATIONS}", _options("iteration_paths"))
ROUTES.add(f"get.{schema.ISSUE_LINK}.{schema.PRIORITIES}", _options("priorities"))
ROUTES.add(f"get.{schema.ISSUE_LINK}.{schema.SEVERITIES}", _options("severities"))
ROUTES.add(f"post.{schema.ALERT_RULE}.settings", _alert_settings)


def handle_component(
    integration_id: str | None,
    org: str | None,
    component: str | None,
    action: str | None,
    method: str,
    body: bytes,
    params: Mapping[str, str],
    headers: Mapping[str, str],
    storage: Storage | None = None,
) -> Reply:
    lowered = {key.lower(): value for key, value in headers.items()}
    target = f"{component or ''}.{action or ''}"[:80]
    return answer(
        EDGE,
        lambda: _handle(integration_id, org, target, method, body, params, lowered, storage),
        key="message",
    )


def _handle(
    integration_id: str | None,
    slug: str | None,
    target: str,
    method: str,
    body: bytes,
    params: Mapping[str, str],
    headers: Mapping[str, str],
    storage: Storage | None,
) -> Reply:
    if len(body) > MAX_BODY_BYTES:
        raise Rejected(413, f"body is larger than {MAX_BODY_BYTES} bytes")
    storage = storage or get_storage()
    if target == f"{schema.STACKTRACE_LINK}.{schema.OPEN}" and method.upper() == "GET":
        # Opened by a person's browser, unsigned (Sentry's stacktrace-link component).
        from shared.sentry_intake.stack_link import open_stack_link

        return open_stack_link(storage, integration_id, slug, params)
    # Read now: a person waits on it anyway, and what they do (link, create) must follow a
    # setting or an organization changed with the CLI a moment ago.
    who = caller(storage, integration_id, slug, EDGE, max_age=0)
    is_get = method.upper() == "GET"
    signed = b"" if is_get else body
    if not app_signature_matches(who.secret, signed, headers.get(APP_SIGNATURE_HEADER)):
        raise Rejected(401, "missing or wrong Sentry-App-Signature")
    integration, org = who.integration, who.org
    assert integration is not None and org is not None  # nothing else signs
    handler = ROUTES.route(f"{method.lower()}.{target}")
    if handler is None or target.count(".") != 1:
        raise Rejected(404, "unknown component request")
    if org.uninstalled:
        raise Rejected(403, "the integration is uninstalled from this Sentry organization")
    if is_get:
        try:
            select = SelectRequest.from_params(params)
        except ValidationError as exc:
            raise Rejected(400, describe_invalid(exc)) from None
        request = UiRequest(storage, integration, org, select=select)
        installation = request.query.installation_id
    else:
        alert_rule = target.startswith(schema.ALERT_RULE + ".")
        model = AlertRuleSettingsRequest if alert_rule else IssueLinkRequest
        try:
            sent = model.model_validate_json(body)
        except ValidationError as exc:
            raise Rejected(400, describe_invalid(exc)) from None
        if isinstance(sent, IssueLinkRequest):
            request = UiRequest(storage, integration, org, link=sent)
        else:
            request = UiRequest(storage, integration, org, alert_rule=sent)
        installation = sent.installation_id
    if org.installation_uuid and (installation or "").strip().lower() != org.installation_uuid:
        raise Rejected(401, "the request names another installation than this organization's")
    with deadline(DEADLINE_SECONDS):
        return handler(request)
