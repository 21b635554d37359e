"""The SyncStatus test world: one integration with two Sentry organizations, Azure DevOps and
Sentry faked, and helpers to link, queue, run and read the audit trail."""

from __future__ import annotations

import itertools

import azure.functions.queue as func_queue
from fakes import FakeAzureDevOps, FakeSentry

import SyncStatus
from shared.azure_devops.identity import Identity
from shared.devops_to_sentry.done_states import forget_cached_states
from shared.messages.sync import AssigneeTransition, StateTransition, SyncMessage
from shared.store.audit import AuditLog

PROJECT_ID = "be9b3917-87e6-42a4-a549-2bc06a7a878f"
_ids = itertools.count(1)


class World:
    def __init__(self, app_env, register, stores, rsps, resolution="resolved"):
        self.env = app_env
        self.stores = stores
        self.integration = register(orgs=("acme", "beta"), resolution=resolution)
        self.id = self.integration.id
        self.ado = FakeAzureDevOps(rsps, self.integration.pat)
        self.acme = FakeSentry(
            rsps, "https://acme.sentry.example/", "acme", self.integration.tokens["acme"]
        )
        self.beta = FakeSentry(
            rsps, "https://beta.sentry.example/", "beta", self.integration.tokens["beta"]
        )
        forget_cached_states()

    def link(self, work_item: int, sentry: FakeSentry, issue_id: str, **issue) -> None:
        sentry.add_issue(issue_id, **issue)
        self.stores.links.add(self.id, work_item, sentry.org, issue_id)

    def message(
        self, work_item=5, rev=2, old="New", new="Closed", assignee=None, **extra
    ) -> SyncMessage:
        fields = {
            "integration_id": self.id,
            "work_item_id": work_item,
            "rev": rev,
            "project_id": PROJECT_ID,
            "project_name": "Fabrikam",
            "work_item_type": "Bug",
            "state": StateTransition(old=old, new=new) if (old or new) else None,
            "assignee": assignee,
        }
        fields.update(extra)
        return SyncMessage(**fields)

    def run(self, message: SyncMessage | str, dequeue_count: int = 1) -> None:
        body = message if isinstance(message, str) else message.encode()
        SyncStatus.main(
            func_queue.QueueMessage(
                id=f"m{next(_ids)}", body=body.encode(), dequeue_count=dequeue_count
            )
        )

    def audit(self, work_item: int | None = None) -> list[dict]:
        return AuditLog(self.env.storage()).read(self.id, work_item)

    def link_row(self, work_item: int, org: str, issue_id: str):
        return next(
            link
            for link in self.stores.links.for_work_item(self.id, work_item)
            if (link.sentry_org, link.issue_id) == (org, issue_id)
        )


def to(email: str | None) -> AssigneeTransition:
    return AssigneeTransition(
        new=Identity(display_name="X", unique_name=email, email=email) if email else None
    )
