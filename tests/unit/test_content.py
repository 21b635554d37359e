"""Content crossing into the other service (pure): Sentry notes made from work item comments are
rendered with a CommonMark renderer (markdown-it-py, as Sentry's UI renders notes with a
CommonMark/GFM reader), and must hold no image and no link but the ones we allow."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st
from markdown_it import MarkdownIt

from shared.comments.text import comment_from_sentry, html_to_text, note_from_devops
from shared.content import clean, code_span, escape_markdown, strip_controls

WORK_ITEM = "https://dev.azure.com/contoso/Fabrikam/_workitems/edit/13"
RENDER = MarkdownIt("commonmark", {"linkify": False, "html": True}).enable("table")


def rendered(markdown: str) -> str:
    return RENDER.render(markdown)


def hrefs(page: str) -> list[str]:
    return re.findall(r'href="([^"]*)"', page)


ATTACKS = [
    ("![x](http://tracker.example/p.png)", "Ann"),
    ('<a href="https://ok.example/) ![i](http://tracker.example/p.png)">t</a>', "Ann"),
    ('<a href="javascript:alert(1)">click</a>', "Ann"),
    ('<a href="JAVASCRIPT:alert(1)">click</a><a href=" javascript:x">y</a>', "Ann"),
    ('<img src="http://tracker.example/p.png" alt="a cat">', "Ann"),
    ("<code>`` ![c](http://tracker.example/p.png) ``</code>", "Ann"),
    ("plain", "**Mallory** ![n](http://tracker.example/n.png)"),
    ("plain", "[Mallory](javascript:alert(1))"),
    ("&lt;img src=http://tracker.example/p.png&gt;", "Ann"),
    ("<p>[a]: http://tracker.example/ref.png</p><p>![a]</p>", "Ann"),
    ("<b>bold ![x](http://t.example/p.png)</b> <i>_i_</i>", "Ann\u202e\x1b[31m\x00"),
]


@pytest.mark.parametrize(("markup", "author"), ATTACKS)
def test_attacks_render_no_image_and_no_foreign_link(markup, author):
    page = rendered(note_from_devops(markup, author, WORK_ITEM, 13))
    assert "<img" not in page
    assert "<script" not in page
    for href in hrefs(page):
        assert href in (WORK_ITEM, "https://ok.example/")
    assert not re.search("[\x00-\x08\x1b\u202e]", page)


@pytest.mark.parametrize("markup", ["<![<b>", "<!x", "a <![CDATA[x", "<![if ! IE]>x<![endif]>"])
def test_markup_the_html_parser_gives_up_on_still_makes_a_note(markup):
    page = rendered(note_from_devops(markup, "Ann", WORK_ITEM, 13))
    assert "<img" not in page and page.startswith("<p>")


def test_kept_formatting_and_links():
    markup = '<div>Fixed in <b>build 42</b>, see <a href="https://x.io/pr/1">PR</a></div>'
    page = rendered(note_from_devops(markup, "Ann Lee", WORK_ITEM, 13))
    assert "<strong>build 42</strong>" in page
    assert '<a href="https://x.io/pr/1">PR</a>' in page
    assert '<strong>Ann Lee</strong> wrote in <a href="' + WORK_ITEM in page


def test_a_link_with_an_unsafe_address_keeps_its_text_only():
    text = html_to_text('<a href="http://tracker.example/p.png">the log</a>')
    assert text == "the log"


def test_code_is_literal():
    page = rendered(note_from_devops("<code>a ` b *c*</code>", "Ann", WORK_ITEM, 13))
    assert "<code>a ` b *c*</code>" in page


def test_an_unusable_work_item_url_is_not_linked():
    note = note_from_devops("x", "Ann", "javascript:alert(1)", 13)
    assert "javascript" not in note and "Azure DevOps #13:" in note


def test_sentry_notes_into_azure_devops_stay_escaped_and_lose_controls():
    html = comment_from_sentry("<img src=x>\u202e\x07", "Bob\x1b<b>", "javascript:x", False)
    assert "<img" not in html and "&lt;img src=x&gt;" in html
    assert "\u202e" not in html and "\x07" not in html and "\x1b" not in html
    assert "javascript" not in html and "<b>Bob&lt;b&gt;</b>" in html


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("a\x00b\x07c\x1bd\x7fe\x85f", "abcdef"),
        ("abc\u202eevil\u2066x\u2069\u200f", "abcevilx"),
        ("line\r\nnext\rlast\tend", "line\nnext\nlast\tend"),
        ("family 👨\u200d👩\u200d👧", "family 👨\u200d👩\u200d👧"),
    ],
)
def test_strip_controls(text, expected):
    assert strip_controls(text) == expected


def test_clean_walks_bodies():
    body = [{"op": "add", "path": "/fields/System.Title", "value": "a\x00b"}, {"n": 1}]
    assert clean(body) == [{"op": "add", "path": "/fields/System.Title", "value": "ab"}, {"n": 1}]


@given(st.text(max_size=300))
def test_escaped_text_renders_as_itself(text):
    page = rendered(escape_markdown(text))
    # (An indented line may still become a code block: layout, with its text literal.)
    assert "<img" not in page and "<a " not in page and "<em>" not in page
    assert "<strong>" not in page and "<h1>" not in page and "<h2>" not in page
    assert "<ul>" not in page and "<ol>" not in page and "<hr" not in page


@pytest.mark.parametrize("text", ["a\n===", "a\n---", "# h", "1. x", "- x", "***", "<b>x</b>"])
def test_escaped_lines_make_no_structure(text):
    page = rendered(escape_markdown(text))
    assert page.startswith("<p>") and "<b>" not in page


@given(st.text(max_size=200))
def test_code_spans_hold_their_text(text):
    page = rendered(code_span(text))
    assert "<img" not in page and "<a " not in page


_TAGS = st.sampled_from(
    ["<b>", "</b>", "<i>", "</i>", "<code>", "</code>", "<p>", "</p>", "<br>", "<li>",
     '<a href="https://x.example/">', '<a href="javascript:x">', "</a>",
     '<img src="http://t.example/p.png">', "![", "](http://t.example/p.png)", "[", "]", "(",
     ")", "`", "*", "_", "<", ">", "&lt;", "&amp;", "\\", "\n", "http://t.example/x.png"]
)  # fmt: skip


@given(st.lists(st.one_of(_TAGS, st.text(max_size=8)), max_size=40), st.text(max_size=40))
def test_no_comment_and_no_author_makes_an_image_or_a_foreign_link(pieces, author):
    page = rendered(note_from_devops("".join(pieces), author, WORK_ITEM, 13))
    assert "<img" not in page
    for href in hrefs(page):
        assert href in (WORK_ITEM, "https://x.example/")


def test_every_body_a_client_sends_is_cleaned():
    import json

    import responses

    from shared.http import ApiClient

    client = ApiClient("https://dev.azure.com/contoso/", {})
    with responses.RequestsMock() as rsps:
        rsps.add("PATCH", "https://dev.azure.com/contoso/_apis/wit/workitems/1", json={})
        client.request(
            "PATCH",
            "_apis/wit/workitems/1",
            idempotent=False,
            json=[{"op": "add", "path": "/fields/System.Title", "value": "Boom\u202e\x00\x1b[2J"}],
        )
        sent = json.loads(rsps.calls[0].request.body)
    assert sent[0]["value"] == "Boom[2J"
