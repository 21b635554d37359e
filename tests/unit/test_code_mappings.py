"""Which repository file a stack frame is (pure)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shared.releases.code_mappings import check_root, source_file
from shared.store.repositories import CodeMapping, TrackedRepository


def _repo(name: str, *mappings: CodeMapping, org: str = "acme") -> TrackedRepository:
    return TrackedRepository("i", name, name, "P", org, ("web",), "{sha}", code_mappings=mappings)


REPOS = [
    _repo("all", CodeMapping("web", "", "")),
    _repo("app", CodeMapping("web", "app/", "src/")),
    _repo("deep", CodeMapping("web", "app/billing/", "billing/")),
    _repo("elsewhere", CodeMapping("web", "app/billing/x/", "z/"), org="other"),
]


@pytest.mark.parametrize(
    ("filename", "repo", "path"),
    [
        ("app/billing/x/a.py", "deep", "billing/x/a.py"),  # longest root; the other org ignored
        ("app/models.py", "app", "src/models.py"),
        ("lib/x.py", "all", "lib/x.py"),
        ("app\\win\\y.cs", "app", "src/win/y.cs"),
        ("app/../secret", None, None),
        ("app/x\x00.py", None, None),
        ("", None, None),
        ("app/", None, None),
    ],
)
def test_longest_stack_root_of_the_project_wins(filename, repo, path):
    found = source_file(REPOS, "acme", "web", filename)
    assert (found.repository.name, found.path) == (repo, path) if found else repo is None


def test_another_project_maps_nothing():
    assert source_file(REPOS, "acme", "mobile", "app/x.py") is None


@pytest.mark.parametrize(("given", "stored"), [("app", "app/"), ("a\\b\\", "a/b/"), ("", "")])
def test_roots_are_stored_as_prefixes(given, stored):
    assert check_root(given) == stored


@pytest.mark.parametrize("bad", ["../x", "a/../b/", "a\x01/"])
def test_roots_that_climb_or_hide_are_refused(bad):
    with pytest.raises(ValueError):
        check_root(bad)


@given(st.text(max_size=60))
def test_a_mapped_path_never_climbs_out_of_the_source_root(name):
    found = source_file(REPOS, "acme", "web", "app/" + name)
    if found is not None:
        assert ".." not in found.path.split("/") and not found.path.startswith("/")
