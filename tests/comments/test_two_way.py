"""Both directions and comments on, through each function's main() against a real Azurite:
Sentry notes <-> work item comments (created, edited, deleted), and the loop check: one change
on either side ends in exactly one write on the other and nothing further."""

from __future__ import annotations

import copy
import json
import uuid

import azure.functions.queue as func_queue
import pytest
from azure.storage.queue import QueueClient
from conftest import DEFAULT_ORG, basic_auth, http_post, load_fixture, reply_json
from fakes import FakeAzureDevOps, FakeSentry

import SentryEvents
import SyncStatus
from shared.devops_to_sentry.done_states import forget_cached_states
from shared.messages.sentry_event import SentryEventMessage
from shared.sentry.webhooks import Actor, CommentData, IssueData
from shared.sentry_to_devops.issues import forget_cached_type_states
from shared.store.audit import AuditLog

ISSUE = "4242"
APP = "2ebf071f-28df-4989-aca9-c37c763b278f"
US = Actor(type="application", id=APP, name="Sync app")
PERSON = Actor(type="user", id="1", name="Meredith Heller")
BOT = "sync-bot@contoso.com"  # the PAT's account (FakeAzureDevOps.account)


class TwoWay:
    def __init__(self, app_env, registered, stores, rsps) -> None:
        self.env, self.registered, self.stores = app_env, registered, stores
        stores.integrations.set_sync(
            registered.id,
            {"status-to-devops": True, "assignee-to-devops": True, "comments": True},
        )
        stores.sentry_orgs.record_installation(registered.id, DEFAULT_ORG, str(uuid.uuid4()), APP)
        self.ado = FakeAzureDevOps(rsps, registered.pat)
        self.sentry = FakeSentry(
            rsps,
            f"https://{DEFAULT_ORG}.sentry.example/",
            DEFAULT_ORG,
            registered.tokens[DEFAULT_ORG],
        )
        self.sentry.add_issue(ISSUE)
        self.ado.work_items[13] = {
            "System.TeamProject": "Fabrikam",
            "System.WorkItemType": "Bug",
            "System.State": "Active",
        }
        stores.links.add(registered.id, 13, DEFAULT_ORG, ISSUE)
        forget_cached_states()
        forget_cached_type_states()
        self.rev = 10

    # -- Azure DevOps side ---------------------------------------------------------------------

    def devops_comment(
        self, html: str, author: str, comment_id: int | None = None, name: str = "Someone"
    ) -> None:
        """Azure DevOps delivers workitem.commented; the queued message runs through SyncStatus."""
        self.rev += 1
        payload = load_fixture("ojdev_workitem_commented_services.json")
        payload["resourceContainers"]["collection"]["id"] = self.registered.id
        payload["notificationId"] = self.rev
        resource = payload["resource"]
        resource.update({"id": 13, "rev": self.rev})
        resource["commentVersionRef"]["commentId"] = comment_id or 7_000 + self.rev
        resource["fields"].update(
            {"System.History": html, "System.ChangedBy": f"{name} <{author}>"}
        )
        self._deliver(payload)

    def devops_state(self, old: str, new: str, by: str) -> None:
        """Azure DevOps delivers workitem.updated (made by ``by``), as the work item moved."""
        self.rev += 1
        self.ado.work_items[13]["System.State"] = new
        payload = load_fixture("ojdev_workitem_updated_state_change_services.json")
        payload["resourceContainers"]["collection"]["id"] = self.registered.id
        payload["notificationId"] = self.rev
        resource = payload["resource"]
        resource.update({"workItemId": 13, "rev": self.rev})
        resource["revisedBy"] = {"displayName": "X", "uniqueName": by}
        resource["fields"]["System.State"] = {"oldValue": old, "newValue": new}
        resource["revision"]["fields"].update({"System.WorkItemType": "Bug", "System.State": new})
        self._deliver(payload)

    def _deliver(self, payload: dict) -> None:
        response = http_post(payload, basic_auth(self.registered.secret))
        assert response.status_code in (200, 202), reply_json(response)
        queued = self.env.queued()
        for message in queued:
            SyncStatus.main(
                func_queue.QueueMessage(
                    id=uuid.uuid4().hex, body=json.dumps(message).encode(), dequeue_count=1
                )
            )
        if queued:
            QueueClient.from_connection_string(
                self.env.connection_string, self.env.queue_name
            ).clear_messages()

    # -- Sentry side ---------------------------------------------------------------------------

    def sentry_note(self, action: str, note_id: str, text: str, actor: Actor = PERSON) -> None:
        data = copy.deepcopy(load_fixture("sentryapp_comment_created.json")["data"])
        data.update({"issue_id": ISSUE, "comment_id": note_id, "comment": text})
        self._event("comment", action, actor, comment=CommentData.model_validate(data))

    def sentry_status(self, status: str, actor: Actor = PERSON) -> None:
        self.sentry.issues[ISSUE]["status"] = status
        data = copy.deepcopy(load_fixture("sentryapp_issue_resolved.json")["data"])
        data["issue"]["id"] = ISSUE
        self._event("issue", status, actor, issue=IssueData.model_validate(data))

    def _event(self, resource: str, action: str, actor: Actor, **data) -> None:
        message = SentryEventMessage(
            integration_id=self.registered.id,
            org=DEFAULT_ORG,
            resource=resource,
            action=action,
            installation_uuid=str(uuid.uuid4()),
            actor=actor,
            **data,
        )
        SentryEvents.main(
            func_queue.QueueMessage(id="m", body=message.encode().encode(), dequeue_count=1)
        )

    # -- what happened -------------------------------------------------------------------------

    def devops_writes(self) -> list:
        return [
            c
            for c in self.ado.calls
            if c.method in ("POST", "PATCH", "DELETE") and "wiql" not in c.path
        ]

    def sentry_writes(self) -> list:
        return [c for c in self.sentry.calls if c.method in ("POST", "PUT", "DELETE")]

    def audit(self) -> list[dict]:
        return AuditLog(self.env.storage()).read(self.registered.id)


@pytest.fixture
def world(app_env, register, stores, rsps, waits):
    return TwoWay(app_env, register(), stores, rsps)


# -- comments ------------------------------------------------------------------------------------


def test_a_sentry_note_becomes_an_attributed_comment_and_follows_edits_and_deletion(world):
    world.sentry_note("created", "1234", "Seen in prod <b>again</b>")
    ((comment_id, html),) = world.ado.comments[13].items()
    assert "<b>Meredith Heller</b> wrote in" in html
    assert f"/organizations/{DEFAULT_ORG}/issues/{ISSUE}/" in html
    assert "Seen in prod &lt;b&gt;again&lt;/b&gt;" in html  # escaped, not rendered
    world.sentry_note("created", "1234", "Seen in prod")  # redelivered: nothing twice
    assert len(world.ado.comments[13]) == 1
    world.sentry_note("updated", "1234", "Seen in prod, twice")
    assert "Seen in prod, twice" in world.ado.comments[13][comment_id]
    world.sentry_note("deleted", "1234", "Seen in prod, twice")
    assert world.ado.comments[13] == {}
    actions = [row["action"] for row in world.audit()][:3]
    assert actions == ["comment-delete", "comment-update", "none"]


def test_a_work_item_comment_becomes_a_sentry_note_with_markdown(world):
    world.devops_comment(
        '<div>Fixed in <b>build 42</b>, see <a href="https://x.io/pr/1">PR</a></div>',
        "ann@contoso.com",
    )
    ((note,),) = [list(n.values()) for n in world.sentry.notes.values()]
    assert note.startswith("**Someone** wrote in [Azure DevOps #13](")
    assert "> Fixed in **build 42**, see [PR](https://x.io/pr/1)" in note


def test_a_long_comment_is_cut_with_a_marker_not_dropped(world):
    world.devops_comment("<p>" + "x" * 20_000 + "</p>", "ann@contoso.com")
    ((note,),) = [list(n.values()) for n in world.sentry.notes.values()]
    assert note.endswith("(cut: the comment is longer than the other side takes)")
    world.sentry_note("created", "77", "y" * 60_000)
    (html,) = world.ado.comments[13].values()
    assert "cut: the comment is longer" in html


# -- loops: one change, one write on the other side, nothing further -----------------------------


def test_a_sentry_resolve_closes_the_work_item_and_its_echo_changes_nothing_in_sentry(world):
    world.sentry_status("resolved")
    assert world.ado.work_items[13]["System.State"] == "Resolved"
    assert len(world.devops_writes()) == 1
    # Azure DevOps now delivers that change, made by our PAT: Sentry gets no write.
    world.devops_state("Active", "Resolved", by=BOT)
    assert world.sentry_writes() == []
    assert any("made by this app" in row["reason"] for row in world.audit())


def test_a_work_item_close_resolves_sentry_and_its_echo_changes_nothing_in_azure_devops(world):
    world.devops_state("Active", "Closed", by="ann@contoso.com")
    assert world.sentry.issues[ISSUE]["status"] == "resolved"
    assert len(world.sentry_writes()) == 1
    world.sentry_status("resolved", actor=US)  # Sentry's webhook for our own write
    assert world.devops_writes() == []


def test_a_sentry_note_goes_over_once_and_does_not_come_back(world):
    world.sentry_note("created", "555", "Customer reports it again")
    ((comment_id, _),) = world.ado.comments[13].items()
    # Azure DevOps delivers workitem.commented for the comment our PAT wrote.
    world.devops_comment("<p>whatever</p>", BOT, comment_id=comment_id)
    assert world.sentry.notes == {}
    assert len(world.devops_writes()) == 1


def test_a_work_item_comment_goes_over_once_and_does_not_come_back(world):
    world.devops_comment("<p>Deployed the fix</p>", "ann@contoso.com", comment_id=8801)
    ((note_id, _),) = world.sentry.notes[ISSUE].items()
    # Sentry's webhook for the note our token wrote: actor is our app.
    world.sentry_note("created", note_id, "**Someone** wrote ...", actor=US)
    assert world.ado.comments.get(13, {}) == {}
    # Even if the actor were not recognised, the stored pair stops it.
    world.sentry_note("created", note_id, "**Someone** wrote ...", actor=PERSON)
    assert world.ado.comments.get(13, {}) == {}
    assert len(world.sentry_writes()) == 1


def test_comments_are_not_carried_when_comment_sync_is_off(world):
    world.stores.integrations.set_sync(world.registered.id, {"comments": False})
    world.devops_comment("<p>hello</p>", "ann@contoso.com")
    world.sentry_note("created", "9", "hello")
    assert world.sentry.notes == {} and world.ado.comments.get(13, {}) == {}


def test_a_comment_for_a_deleted_sentry_issue_is_recorded_and_not_retried(world):
    del world.sentry.issues[ISSUE]  # deleted in Sentry: its note API answers 404
    world.devops_comment("<p>Still broken</p>", "ann@contoso.com")  # raises if it must retry
    assert world.sentry.notes == {}
    assert any("Sentry issue not found" in row["reason"] for row in world.audit())
    assert not any(row["outcome"] == "failed" for row in world.audit())


def test_an_unreadable_pat_account_is_read_once_not_per_message(world):
    """connectionData failing: the failure is remembered for a while, not read again for every
    link of every message (the pairs still stop our own comments)."""
    reads = []

    def failing(request):
        reads.append(request.path_url)
        return 401, {}, ""

    world.ado._connection = failing
    for n in range(6):
        world.devops_comment(f"<p>comment {n}</p>", "ann@contoso.com")
    assert len(world.sentry.notes[ISSUE]) == 6
    assert len(reads) == 1


def test_hostile_comment_content_reaches_sentry_inert(world):
    """The attack run: images (beacons), links breaking out of their syntax, javascript:
    links and Markdown in the author's name arrive as text; control characters are gone."""
    from markdown_it import MarkdownIt

    world.devops_comment(
        '<div>![x](http://tracker.example/p.png) <a href="https://ok.example/) '
        '![i](http://tracker.example/i.png)">t</a> <a href="javascript:alert(1)">js</a> '
        '<img src="http://tracker.example/q.png"> fine\u202e\u0007</div>',
        "mallory@contoso.com",
        name="**Mallory** ![n](http://tracker.example/n.png)",
    )
    ((note,),) = [list(n.values()) for n in world.sentry.notes.values()]
    page = MarkdownIt("commonmark").render(note)
    assert "<img" not in page and "javascript" not in page
    assert "tracker.example" not in " ".join(
        part for part in page.split('"') if part.startswith("http")
    )
    assert "\u202e" not in note and "\u0007" not in note
    assert "**Mallory**" not in note  # escaped: the name reads as text


# -- notes: once, whatever the order and the number of deliveries --------------------------------


def _while_adding(world, during):
    """Run ``during`` while the first comment is being added (between Azure DevOps receiving
    the POST and answering it): the interleaving where a second run, or a deletion, races."""
    import threading

    add = world.ado._comment
    entered, done = threading.Event(), threading.Event()

    def slow(request):
        if request.method == "POST" and not entered.is_set():
            entered.set()
            done.wait(10)
        return add(request)

    world.ado._comment = slow
    worker = threading.Thread(target=world.sentry_note, args=("created", "700", "Seen again"))
    worker.start()
    assert entered.wait(10)
    try:
        during()
    finally:
        done.set()
        worker.join(10)
    world.ado._comment = add


def test_two_deliveries_of_one_note_at_once_make_one_comment(world):
    """Sentry's retry carries a new Request-ID; both copies run at once. Ruled out by the
    claim: the second run sees the first's claim and adds nothing."""
    _while_adding(world, lambda: world.sentry_note("created", "700", "Seen again"))
    assert len(world.ado.comments[13]) == 1
    world.sentry_note("created", "700", "Seen again")  # and once more, afterwards
    assert len(world.ado.comments[13]) == 1
    assert any("another run is carrying" in row["reason"] for row in world.audit())


def test_a_deletion_racing_the_creation_leaves_no_comment(world):
    """Interleaving: the creation claimed the note and Azure DevOps is adding the comment
    when the deletion arrives. The deletion marks the claim; the creation's completion finds
    it changed and takes its comment back."""
    _while_adding(world, lambda: world.sentry_note("deleted", "700", "Seen again"))
    assert world.ado.comments.get(13, {}) == {}
    assert any("deleted meanwhile" in row["reason"] for row in world.audit())


def test_a_deletion_seen_before_its_creation_leaves_no_comment(world):
    world.sentry_note("deleted", "701", "gone")  # Sentry does not order its webhooks
    world.sentry_note("created", "701", "gone")
    world.sentry_note("updated", "701", "gone, edited")
    assert world.ado.comments.get(13, {}) == {}
    # And a note deleted after it was carried does not come back when its creation is seen
    # again (a late copy, a sweep).
    world.sentry_note("created", "702", "here")
    world.sentry_note("deleted", "702", "here")
    world.sentry_note("created", "702", "here")
    assert world.ado.comments.get(13, {}) == {}


def test_an_edit_whose_creation_was_lost_creates_the_comment(world):
    world.sentry_note("updated", "703", "first words, edited")
    (text,) = world.ado.comments[13].values()
    assert "first words, edited" in text
    world.sentry_note("created", "703", "first words")  # the lost one arrives late
    assert len(world.ado.comments[13]) == 1


def test_a_claim_left_by_a_run_that_died_is_taken_over(world):
    from datetime import UTC, datetime, timedelta

    from shared.store.comments import CLAIM_SECONDS, Comments
    from shared.store.keys import note_row
    from shared.store.storage import LINKS

    comments = Comments(world.env.storage())
    assert comments.claim(world.registered.id, DEFAULT_ORG, ISSUE, "704", 13) is not None
    world.sentry_note("created", "704", "lost run")
    assert world.ado.comments.get(13, {}) == {}  # a fresh claim: someone is on it
    table = world.env.storage().table(LINKS)
    row = table.get_entity(world.registered.id, note_row(DEFAULT_ORG, ISSUE, "704", 13))
    row["ClaimedAt"] = datetime.now(UTC) - timedelta(seconds=CLAIM_SECONDS + 1)
    table.update_entity(row)
    world.sentry_note("created", "704", "lost run")
    assert len(world.ado.comments[13]) == 1


# -- lost webhooks: the sweep brings Azure DevOps where the webhooks would have ------------------


def _patches(world) -> list:
    return [c for c in world.ado.calls if c.method == "PATCH"]


def _sweep(world) -> None:
    """``reconcile``, then SentryEvents and SyncStatus take what it queued."""
    import io

    from shared.cli import main as cli

    assert cli.main(["reconcile", world.registered.id], out=io.StringIO(), err=io.StringIO()) == 0
    for name, function in ((world.env.sentry_queue_name, SentryEvents), (None, SyncStatus)):
        queued = world.env.queued(name)
        for message in queued:
            function.main(
                func_queue.QueueMessage(
                    id=uuid.uuid4().hex, body=json.dumps(message).encode(), dequeue_count=1
                )
            )
        if queued:
            QueueClient.from_connection_string(
                world.env.connection_string, name or world.env.queue_name
            ).clear_messages()


def test_every_lost_status_and_assignee_webhook_is_repaired_by_one_sweep_exactly_once(world):
    """Sentry resolves, then assigns, and not one webhook arrives (both directions on)."""
    world.sentry.members["meredith@example.com"] = "31"
    world.ado.work_items[13]["System.State"] = "Active"
    issue = world.sentry.issues[ISSUE]
    issue.update(status="resolved", assignee="31")  # changed in Sentry; no webhook
    _sweep(world)
    assert world.ado.work_items[13]["System.State"] == "Resolved"
    assert world.ado.work_items[13]["System.AssignedTo"]["uniqueName"] == "meredith@example.com"
    writes = len(_patches(world))
    assert writes >= 1
    # The echo of our own work item write, and another sweep: nothing more, either side.
    world.devops_state("Active", "Resolved", by=BOT)
    _sweep(world)
    assert len(_patches(world)) == writes
    assert world.sentry_writes() == []
    # A regression (Sentry reopens it, no webhook): the work item reopens, once.
    issue.update(status="unresolved", substatus="regressed")
    _sweep(world)
    _sweep(world)
    assert world.ado.work_items[13]["System.State"] == "Active"
    assert len(_patches(world)) == writes + 1


def test_lost_note_webhooks_are_repaired_by_the_sweep_once(world):
    """A person writes a note in Sentry and later deletes it; neither webhook arrives. The
    note count the sweep reads in its batched call changes, so it lists the notes: the note
    becomes one comment, and goes with the note. Our own notes are not carried back."""
    _sweep(world)  # the sweep's first look at the issue
    world.devops_comment("<p>From Azure DevOps</p>", "ann@contoso.com", comment_id=8802)
    world.sentry.add_person_note(ISSUE, "9101", "Seen in prod again", "Meredith Heller")
    _sweep(world)
    (text,) = world.ado.comments[13].values()
    assert "Seen in prod again" in text and "Meredith Heller" in text
    _sweep(world)
    _sweep(world)
    assert len(world.ado.comments[13]) == 1
    del world.sentry.notes[ISSUE]["9101"]
    _sweep(world)
    assert world.ado.comments[13] == {}
    assert len([c for c in world.ado.calls if c.method == "POST" and "/comments" in c.path]) == 1


def test_a_sweep_racing_an_azure_devops_change_on_its_way_does_not_flip_it_back(world):
    """Interleaving: the work item was closed (Sentry resolved to match), then reopened in
    Azure DevOps; that webhook is still on its way when the sweep runs. Sentry is where our
    side put it, so the sweep carries nothing back: no flip-flop."""
    _sweep(world)  # the sweep's first look: Sentry unresolved
    world.devops_state("Active", "Closed", by="ann@contoso.com")
    assert world.sentry.issues[ISSUE]["status"] == "resolved"  # changed since that look
    world.ado.work_items[13]["System.State"] = "Active"  # reopened; its webhook is late
    _sweep(world)
    assert world.ado.work_items[13]["System.State"] == "Active"
    assert _patches(world) == []
    world.devops_state("Closed", "Active", by="ann@contoso.com")  # the late webhook
    assert world.sentry.issues[ISSUE]["status"] == "unresolved"
    _sweep(world)
    assert world.ado.work_items[13]["System.State"] == "Active" and _patches(world) == []
