"""The row-key grammar, pinned to the exact strings rows were written with before the store was
laid out anew: data already in Table Storage must keep being found."""

from datetime import UTC, datetime

from shared.store import keys


def test_link_rows_and_their_markers():
    assert keys.work_item_row(13, "acme", "101") == "w:0000000013:acme:101"
    assert keys.issue_row("acme", "101", 13) == "s:acme:101:0000000013"
    assert keys.repair_row(13, "acme", "101") == "w:0000000013:~p:acme:101"
    assert keys.delivery_row(13, 7) == "w:0000000013:~r:0000000007"
    assert keys.seen_row(13) == "w:0000000013:~seen"
    assert keys.marked_link_row("w:0000000013:~p:acme:101") == "w:0000000013:acme:101"
    assert keys.marked_link_row("w:0000000013:acme:101") is None
    assert keys.is_delivery_row("w:0000000013:~r:0000000007")
    assert not keys.is_delivery_row("w:0000000013:~seen")
    assert keys.work_item_of("w:0000000013:~r:0000000007") == 13


def test_ranges_hold_what_they_promise():
    links_only = keys.links_range(13)
    with_repairs = keys.links_and_repairs_range(13)
    everything = keys.prefix_range(keys.work_item_prefix(13))
    link, repair = keys.work_item_row(13, "a-b_c9", "9" * 20), keys.repair_row(13, "zz", "1")
    delivery, seen = keys.delivery_row(13, 2**31 - 1), keys.seen_row(13)
    other = keys.work_item_row(14, "acme", "1")

    def inside(key, bounds):
        return bounds[0] <= key < bounds[1]

    assert inside(link, links_only) and not inside(repair, links_only)
    assert inside(repair, with_repairs) and not inside(delivery, with_repairs)
    assert all(inside(k, everything) for k in (link, repair, delivery, seen))
    assert not any(inside(other, bounds) for bounds in (links_only, with_repairs, everything))
    assert keys.prefix_range("s:acme:") == ("s:acme:", "s:acme;")
    assert keys.WORK_ITEM_ROWS == ("w:", "w;")


def test_integration_state_cache_and_audit_rows():
    assert keys.INTEGRATION_ROW == "integration"
    assert keys.sentry_org_row("acme") == "sentry:acme"
    assert keys.state_row("Fabrikam Fiber", "User Story") == "fabrikam%20fiber:user%20story"
    assert keys.state_row("x" * 500, "Bug").startswith("sha256:")
    moment = datetime(2026, 11, 23, tzinfo=UTC)
    assert keys.audit_row_at(moment) == f"{10**19 - int(moment.timestamp() * 1_000_000):020d}"
    assert keys.new_audit_row(moment).startswith(keys.audit_row_at(moment) + ":")
    assert keys.audit_row_at(moment) > keys.audit_row_at(datetime(2026, 11, 24, tzinfo=UTC))
