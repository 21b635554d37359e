"""End to end through the local host with both directions and comments on: a resolve in Sentry
closes the work item and the resulting workitem.updated delivery changes nothing in Sentry; a
comment made in Azure DevOps appears once in Sentry and does not come back."""

from __future__ import annotations

import json
import time

import requests
from conftest import basic_auth, load_fixture, sentry_hook_headers, wait_for
from test_e2e import local_host, router, world  # noqa: F401 - fixtures

APP = "2ebf071f-28df-4989-aca9-c37c763b278f"
ISSUE = "1638844654"



def test_both_directions_one_write_each_and_nothing_further(app_env, world, local_host):  # noqa: F811
    integration, stores, ado, _, sentry = world
    stores.integrations.set_sync(
        integration.id, {"status-to-devops": True, "assignee-to-devops": True, "comments": True}
    )
    stores.sentry_orgs.record_installation(
        integration.id, "acme", "a8e5d37a-696c-4c54-adb5-b3f28d64c7de", APP
    )
    ado.work_items[13] = {
        "System.TeamProject": "Fabrikam",
        "System.WorkItemType": "Bug",
        "System.State": "Active",
    }
    sentry.add_issue(ISSUE, status="resolved")
    stores.links.add(integration.id, 13, "acme", ISSUE)
    secret = integration.client_secrets["acme"]

    def sentry_webhook(resource: str, payload: dict, request_id: str) -> None:
        payload["installation"]["uuid"] = "a8e5d37a-696c-4c54-adb5-b3f28d64c7de"  # as recorded
        body = json.dumps(payload).encode()
        response = requests.post(
            f"{local_host.url}/api/sentry/{integration.id}/acme/webhook",
            data=body,
            headers=sentry_hook_headers(secret, body, resource, request_id),
            timeout=10,
        )
        assert response.status_code in (200, 202), response.text

    def devops_webhook(payload: dict) -> None:
        payload["resourceContainers"]["collection"]["id"] = integration.id
        response = requests.post(
            f"{local_host.url}/api/workitems/webhook",
            json=payload,
            headers=basic_auth(integration.secret),
            timeout=10,
        )
        assert response.status_code in (200, 202), response.text

    def sentry_writes() -> list:
        return [c for c in sentry.calls if c.method in ("POST", "PUT")]

    # 1. A person resolves the issue in Sentry: the work item moves to Resolved, once.
    resolved = load_fixture("sentryapp_issue_resolved.json")
    resolved["data"]["issue"]["id"] = ISSUE
    sentry_webhook("issue", resolved, "r-1")
    assert wait_for(lambda: ado.work_items[13]["System.State"] == "Resolved", timeout=30)
    assert len(ado.patches) == 1

    # 2. Azure DevOps delivers that change, made by our PAT: nothing goes back to Sentry.
    update = load_fixture("ojdev_workitem_updated_state_change_services.json")
    update["notificationId"] = 30
    update["resource"].update({"workItemId": 13, "rev": 3})
    update["resource"]["revisedBy"] = {"displayName": "Sync Bot", "uniqueName": ado.account}
    update["resource"]["fields"]["System.State"] = {"oldValue": "Active", "newValue": "Resolved"}
    update["resource"]["revision"]["fields"].update({"System.WorkItemType": "Bug"})
    devops_webhook(update)
    assert wait_for(lambda: not app_env.queued(), timeout=30)
    assert sentry_writes() == []

    # 3. A person comments on the work item: one note in Sentry.
    commented = load_fixture("ojdev_workitem_commented_services.json")
    commented["notificationId"] = 31
    commented["resource"].update({"id": 13, "rev": 4})
    commented["resource"]["fields"]["System.ChangedBy"] = "Ann <ann@contoso.com>"
    devops_webhook(commented)
    assert wait_for(lambda: sentry.notes.get(ISSUE), timeout=30)
    ((note_id, text),) = sentry.notes[ISSUE].items()
    assert text.startswith("**Ann** wrote in [Azure DevOps #13]")

    # 4. Sentry's webhook for the note our token wrote: it does not come back.
    note = load_fixture("sentryapp_comment_created.json")
    note["data"].update({"issue_id": ISSUE, "comment_id": note_id, "comment": text})
    note["actor"] = {"type": "application", "id": APP, "name": "Sync app"}
    sentry_webhook("comment", note, "r-2")
    time.sleep(1.5)  # give SentryEvents its chance to do something wrong
    assert wait_for(lambda: not app_env.queued(app_env.sentry_queue_name), timeout=30)
    assert ado.comments.get(13, {}) == {}
    assert len(sentry_writes()) == 1 and len(ado.patches) == 1
