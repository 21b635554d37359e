"""End to end through the local host for the Sentry side: signed Sentry webhooks (the
installation, then an alert rule firing twice) go through the Sentry queue to SentryEvents,
which creates one linked work item; an issue-link create makes one work item (JSON Patch),
stores the link and registers it in Sentry. Azure DevOps and Sentry are faked on 127.0.0.1."""

from __future__ import annotations

import json

import requests
from conftest import load_fixture, sentry_hook_headers, sentry_signature, wait_for
from test_e2e import local_host, router, world  # noqa: F401 - fixtures

INSTALLATION = "a8e5d37a-696c-4c54-adb5-b3f28d64c7de"



def test_sentry_webhook_then_issue_link_create(app_env, world, local_host):  # noqa: F811
    integration, stores, ado, _, sentry = world
    secret = integration.client_secrets["acme"]
    base = f"{local_host.url}/api/sentry/{integration.id}/acme"

    # 1. installation.created, then an alert rule fires twice for one issue: one work item.
    created = load_fixture("sentryapp_installation_created.json")
    created["data"]["installation"]["organization"]["slug"] = "acme"
    alert = load_fixture("sentryapp_event_alert_triggered.json")
    alert["data"]["issue_alert"]["settings"] = [
        {"name": "project", "value": "Fabrikam"},
        {"name": "workItemType", "value": "Bug"},
    ]
    for request_id, resource, payload in (
        ("req-1", "installation", created),
        ("req-2", "event_alert", alert),
        ("req-3", "event_alert", alert),
    ):
        body = json.dumps(payload).encode()
        response = requests.post(
            f"{base}/webhook",
            data=body,
            headers=sentry_hook_headers(secret, body, resource, request_id),
            timeout=10,
        )
        assert response.status_code in (200, 202), response.text
    org = stores.integrations.get(integration.id, with_orgs=True).sentry_org("acme")
    assert org.installation_uuid == INSTALLATION
    assert wait_for(
        lambda: stores.links.for_issue(integration.id, "acme", "1117540176"), timeout=30
    )
    assert wait_for(lambda: not app_env.queued(app_env.sentry_queue_name), timeout=30)
    (alert_item,) = [i for i in ado.work_items if i > 1000]
    assert ado.work_items[alert_item]["System.Title"] == "ReferenceError: heck is not defined"

    # 2. The issue-link form creates a work item.
    sentry.add_issue("4242")
    issue_url = f"{sentry.base_url}organizations/acme/issues/4242/"
    form = {
        "fields": {"project": "Fabrikam", "workItemType": "Bug", "title": "Crash in billing"},
        "installationId": INSTALLATION,
        "issueId": "4242",
        "webUrl": issue_url,
        "project": {"slug": "backend", "id": "2"},
        "actor": {"type": "user", "id": "1", "name": "Meredith Heller"},
    }
    body = json.dumps(form).encode()
    response = requests.post(
        f"{base}/issue-link/create",
        data=body,
        headers={"Content-Type": "application/json", "Sentry-App-Signature": sentry_signature(secret, body)},
        timeout=20,
    )
    assert response.status_code == 200, response.text
    (item_id,) = [i for i in ado.work_items if i > alert_item]
    assert response.json() == {
        "webUrl": f"{ado.base_url}Fabrikam/_workitems/edit/{item_id}",
        "project": "Fabrikam",
        "identifier": str(item_id),
    }
    alert_create, create = [c for c in ado.calls if "/_apis/wit/workitems/$Bug" in c.path]
    assert {"op": "add", "path": "/fields/System.Title", "value": "Crash in billing"} not in (
        alert_create.body
    )
    assert {"op": "add", "path": "/fields/System.Title", "value": "Crash in billing"} in create.body
    assert any(op["path"] == "/relations/-" and op["value"]["url"] == issue_url for op in create.body)
    (link,) = stores.links.for_issue(integration.id, "acme", "4242")
    assert link.work_item_id == item_id
    registered = {(e["issueId"], e["identifier"]) for e in sentry.external_issues.values()}
    assert registered == {(1117540176, str(alert_item)), (4242, str(item_id))}
