"""The sync queue message and the one person model it shares with the service hooks."""

import json

from shared.azure_devops.hooks import RevisionFields
from shared.azure_devops.identity import Identity, parse_identity
from shared.messages.sync import AssigneeTransition, StateTransition, SyncMessage

COLLECTION = "0c2f7a51-6b7e-4d4a-8e3c-1f2a3b4c5d6e"

# A version 1 message as WorkItemWebhook wrote it before the layout change: it must decode and
# encode to the same text.
V1 = {
    "v": 1,
    "integrationId": COLLECTION,
    "workItemId": 5,
    "rev": 7,
    "projectName": "Fabrikam",
    "workItemType": "Bug",
    "changedBy": {"displayName": "Jamal", "uniqueName": "jamal@contoso.com", "email": "jamal@contoso.com"},
    "state": {"old": "Active", "new": "Closed"},
    "assignee": {"new": {"displayName": "Ann", "uniqueName": "CONTOSO\\ann"}},
    "delivery": {"subscriptionId": "s-1", "notificationId": 3},
}


def test_a_version_1_message_reads_and_writes_unchanged():
    message = SyncMessage.decode(json.dumps(V1))
    assert json.loads(message.encode()) == V1
    assert message.assignee is not None and message.assignee.new is not None
    assert message.assignee.new.email is None  # an on-premises account has no email


def test_both_hook_dialects_give_the_person_the_message_carries():
    as_string = parse_identity("Jamal Hartnett <Jamal@Contoso.com>")
    as_object = parse_identity({"displayName": "Jamal Hartnett", "uniqueName": "Jamal@Contoso.com"})
    assert as_string == as_object
    assert as_string is not None and as_string.email == "jamal@contoso.com"
    fields = RevisionFields.model_validate({"System.AssignedTo": "Jamal Hartnett <Jamal@Contoso.com>"})
    message = SyncMessage(
        integration_id=COLLECTION,
        work_item_id=5,
        rev=2,
        state=StateTransition(old="New", new="Active"),
        assignee=AssigneeTransition(new=fields.assigned_to),
    )
    again = SyncMessage.decode(message.encode())
    assert again.assignee is not None and again.assignee.new == as_string
    assert json.loads(message.encode())["assignee"]["new"] == {
        "displayName": "Jamal Hartnett",
        "uniqueName": "Jamal@Contoso.com",
        "email": "jamal@contoso.com",
    }


def test_same_person_across_dialects_and_case():
    assert Identity.named("A", "a@x.com").same_person(Identity.named("Other", "A@X.COM"))
    assert not Identity.named("A", None).same_person(Identity.named("B", None))
    assert not Identity.named("A", "a@x.com").same_person(None)
