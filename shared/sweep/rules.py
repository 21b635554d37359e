"""What the sweep does for one link (pure; tested exhaustively and by property).

Sentry sends each webhook at most once and none for regressions, so its current state is the
truth and the sweep compares it, for every link, with two things: the link's memory (what the
Azure DevOps side last asked of Sentry) and what the sweep itself saw last time (``swept``,
Sentry's status and assignee as one short key). Sentry unchanged since the last sweep costs
nothing; a change is looked at once.

* A link with an unfinished write of ours (``Pending`` or a repair mark) is settled: SyncStatus
  completes it under a claim. Sentry is not needed for that.
* With a Sentry -> Azure DevOps direction on, a change in Sentry (since the last sweep, or
  against the memory on the first look) is carried to the work item, as if its webhook had
  arrived: SentryEvents reads both sides again and decides (a regression reopens a done
  work item; an echo, or a work item already there, changes nothing).
* With that direction off, Sentry differing from the memory is corrected in Sentry (the
  Azure DevOps side is the truth for that field), except a **regression**: an issue Sentry
  reopened itself (substatus ``regressed``) is never resolved again because its work item is
  still done; it is carried whatever the directions, and the regression policy decides
  (``sentry_to_devops.regression``).
"""

from __future__ import annotations

from dataclasses import dataclass

from shared.devops_to_sentry.rules import LEFT_ALONE
from shared.store.records import ASSIGNEE, STATUS, LinkMemory

REGRESSED = "regressed"


@dataclass(frozen=True)
class Seen:
    """A Sentry issue as the sweep read it. ``assignee``: ``""`` nobody, else ``user:<id>`` or
    ``team:<id>``; ``shown``: whether its sidebar shows this link (our external issue)."""

    status: str
    assignee: str
    substatus: str | None = None
    shown: bool = False
    notes: int | None = None  # how many notes the issue has

    @property
    def key(self) -> str:
        notes = "" if self.notes is None else str(self.notes)
        return f"{self.status}|{self.assignee}|{int(self.shown)}|{notes}"[:200]


def was_shown(swept: str | None) -> bool:
    """Whether the last sweep saw the link in the issue's sidebar."""
    return bool(swept) and _parts(swept or "")[2]


def _parts(swept: str) -> tuple[str, str, bool, str]:
    status, _, rest = swept.partition("|")
    assignee, _, rest = rest.partition("|")
    shown, _, notes = rest.partition("|")
    return status, assignee, shown == "1", notes


@dataclass(frozen=True)
class Directions:
    status_to_devops: bool
    assignee_to_devops: bool
    comments: bool = False


@dataclass(frozen=True)
class Plan:
    """``settle``: queue a settle message for fields of an unfinished write of ours;
    ``fix_sentry``: fields where Sentry is corrected to the memory; ``to_devops``: fields
    carried to the work item; ``unlink``: someone removed the link in Sentry's sidebar;
    ``notes``: the issue's note count changed, so its notes are listed and compared with the
    comments made of them; ``swept``: the key to remember (None: keep what is there)."""

    settle: frozenset[str] = frozenset()
    fix_sentry: frozenset[str] = frozenset()
    to_devops: frozenset[str] = frozenset()
    swept: str | None = None
    why: str = ""
    unlink: bool = False
    notes: bool = False

    @property
    def acts(self) -> bool:
        return bool(
            self.settle or self.fix_sentry or self.to_devops or self.unlink or self.notes
        )


NOTHING = Plan()


def needs_member(memory: LinkMemory, seen: Seen | None, swept: str | None) -> bool:
    """Whether ``plan`` needs the Sentry user of the memory's assignee (a lookup)."""
    return (
        seen is not None
        and bool(memory.assignee)
        and not memory.pending
        and seen.key != swept
    )


def plan(
    memory: LinkMemory,
    marked: bool,
    seen: Seen | None,
    swept: str | None,
    directions: Directions,
    member: str | None = None,
    only_link: bool = False,
) -> Plan:
    """What to do for one link. ``seen`` None: the issue is gone from Sentry (deleted, or no
    longer visible to the token). ``member``: the Sentry user id of the memory's assignee,
    looked up when ``needs_member`` says so (None: unknown, or no such member: then the
    assignee is not compared)."""
    if memory.pending or marked:
        fields = memory.pending or frozenset({STATUS, ASSIGNEE})
        return Plan(settle=frozenset(fields), why="a write of ours was left unfinished")
    if seen is None or seen.key == swept:
        return NOTHING
    first_look = swept is None
    before_status, before_assignee, before_shown, before_notes = (
        _parts(swept) if swept else (None, None, False, "")
    )
    # Sentry sends no webhook for an unlink in its sidebar; the sweep sees the link it showed
    # last time gone. With several links the sidebar shows one, so nothing is concluded then.
    if before_shown and not seen.shown and only_link:
        return Plan(swept=seen.key, unlink=True, why="the link was removed in Sentry's sidebar")
    fix: set[str] = set()
    carry: set[str] = set()
    why: list[str] = []

    # A change in Sentry that the memory explains (Sentry is where the Azure DevOps side put
    # it) was ours, not Sentry's: carrying it back could undo a newer change in Azure DevOps
    # whose message is still on its way.
    target = memory.status.target
    if seen.status not in LEFT_ALONE:
        wanted = None if target is None else ("resolved" if target else "unresolved")
        differs = wanted is not None and seen.status != wanted
        moved = wanted is None and (
            before_status != seen.status if not first_look else seen.status == "resolved"
        )
        regressed = seen.status == "unresolved" and seen.substatus == REGRESSED
        if regressed and (differs or moved or (not first_look and before_status != "unresolved")):
            # Never resolved again because its work item is still done: the integration's
            # regression policy decides, whatever the status direction.
            carry.add(STATUS)
            why.append("regressed in Sentry: the regression policy applies")
        elif directions.status_to_devops:
            if differs or moved:
                carry.add(STATUS)
                was = "" if first_look else f", was {before_status}"
                why.append(f"Sentry says {seen.status}{was}")
        elif differs and not regressed:
            fix.add(STATUS)
            why.append(f"Sentry says {seen.status}, the work item's revision says {wanted}")

    if memory.assignee is None:
        explained, assignee_differs = False, False
    elif memory.assignee == "":
        explained, assignee_differs = seen.assignee == "", seen.assignee != ""
    elif member is None:
        explained, assignee_differs = False, False  # no Sentry user to compare with
    else:
        mine = f"user:{member}"
        explained, assignee_differs = seen.assignee == mine, seen.assignee != mine
    if first_look:  # nothing to compare with but the memory: an unexplained assignee counts
        assignee_moved = memory.assignee is None and seen.assignee != ""
    else:
        assignee_moved = before_assignee != seen.assignee and not explained
    if directions.assignee_to_devops:
        if assignee_differs or assignee_moved:
            carry.add(ASSIGNEE)
            why.append("Sentry's assignee changed")
    elif assignee_differs:
        fix.add(ASSIGNEE)
        why.append(f"Sentry's assignee is not {memory.assignee or 'nobody'}")

    # A note whose webhook was lost (created or deleted) changes the count: look at them.
    notes = (
        directions.comments
        and not first_look
        and seen.notes is not None
        and before_notes != str(seen.notes)
    )
    if notes:
        why.append(f"Sentry's note count is {seen.notes}, was {before_notes or 'unknown'}")
    return Plan(
        fix_sentry=frozenset(fix),
        to_devops=frozenset(carry),
        swept=seen.key,
        why="; ".join(why),
        notes=notes,
    )


def notes_to_carry(
    listed: list[str], known: dict[str, tuple[bool, bool]], complete: bool
) -> tuple[list[str], list[str]]:
    """Notes whose webhooks were lost: ``listed`` note ids Sentry has now; ``known``, by
    note id, (made from an Azure DevOps comment or carried by us, deleted). Returns the notes
    to carry as created (none of our rows: never seen) and as deleted (carried by us, no
    longer in a complete listing)."""
    present = set(listed)
    created = [note for note in listed if note not in known]
    deleted = [
        note
        for note, (ours, gone) in known.items()
        if complete and ours and not gone and note not in present
    ]
    return created, sorted(deleted)
