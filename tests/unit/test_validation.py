"""Links we show or write into either system: only https (http to private hosts), nothing that
can close the link syntax of Markdown or HTML."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shared.validation import web_link


@pytest.mark.parametrize(
    "value",
    [
        "https://dev.azure.com/contoso/Fabrikam/_workitems/edit/12",
        "https://acme.sentry.io/issues/501/?project=2",
        "http://127.0.0.1:7071/x",
        "http://tfs:8080/tfs/DefaultCollection/",
        "http://10.1.2.3/sentry/",
    ],
)
def test_safe_links_pass(value):
    assert web_link(value) == value


@pytest.mark.parametrize(
    "value",
    [
        "javascript:alert(1)",
        "JavaScript://example.com/%0Aalert(1)",
        "data:text/html,<b>x</b>",
        "http://tracker.example/p.png",  # plain http to a public host
        "https://x.example/a) ![i](https://beacon.example/p.png",
        'https://x.example/"onmouseover="alert(1)',
        "https://x.example/<script>",
        "https://user:pw@x.example/",
        "https://x.example/\u0000",
        "//x.example/",
        "",
        None,
        42,
        "https://" + "a" * 3000 + ".example/",
    ],
)
def test_unsafe_links_are_refused(value):
    assert web_link(value) is None


@given(st.text(max_size=200))
def test_whatever_passes_cannot_break_out_of_a_link(text):
    for candidate in (text, "https://x.example/" + text):
        link = web_link(candidate)
        if link is not None:
            assert link.startswith(("https://", "http://"))
            assert not any(c in link for c in " \t\n()[]<>\"'`\\")


def test_a_webhook_secret_never_starts_with_a_dash(monkeypatch):
    from shared import credentials

    drawn = iter(["-starts-with-a-dash", "_fine"])
    monkeypatch.setattr(credentials.secrets, "token_urlsafe", lambda n: next(drawn))
    assert credentials.new_webhook_secret() == "_fine"
