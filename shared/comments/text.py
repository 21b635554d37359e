"""Comment text between the two sides (pure): Azure DevOps comments are HTML, Sentry notes are
Markdown-ish text. Each carried comment is attributed and links back to where it was written."""

from __future__ import annotations

import html
import re
from html.parser import HTMLParser

from shared.content import code_span, escape_markdown, strip_controls
from shared.validation import web_link

# What a comment may hold once carried; a longer one is cut, with a marker saying so.
MAX_TEXT = 12_000
CUT_MARKER = "\n\n… (cut: the comment is longer than the other side takes)"

_BLOCK = frozenset({"p", "div", "blockquote", "pre", "ul", "ol", "table", "tr", "h1", "h2", "h3"})


class _ToText(HTMLParser):
    """Builds Markdown from HTML. Only our own markers are Markdown: every piece of text is
    escaped, links are kept only when ``web_link`` passes them, images are never emitted (a
    Markdown image loads for everyone who opens the issue: a beacon), code is a code span."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._links: list[str | None] = []
        self._code: list[str] | None = None  # the text of an open <code>

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if self._code is not None:
            if tag == "br" or tag in _BLOCK:
                self._code.append(" ")
            return
        if tag == "br":
            self.parts.append("\n")
        elif tag in _BLOCK:
            self.parts.append("\n\n")
        elif tag == "li":
            self.parts.append("\n- ")
        elif tag in ("b", "strong"):
            self.parts.append("**")
        elif tag in ("i", "em"):
            self.parts.append("_")
        elif tag == "code":
            self._code = []
        elif tag == "img":
            alt = dict(attrs).get("alt")
            if alt:
                self.parts.append(escape_markdown(f"[image: {alt}]"))
        elif tag == "a":
            # Mentions are anchors to "#": their text (@Name) is what matters. A link inside
            # a link is text (Markdown links do not nest).
            keep = None if any(self._links) else web_link(dict(attrs).get("href"))
            self._links.append(keep)
            if keep:
                self.parts.append("[")

    def handle_endtag(self, tag: str) -> None:
        if tag == "code" and self._code is not None:
            self.parts.append(code_span("".join(self._code)))
            self._code = None
        elif self._code is not None:
            return
        elif tag in _BLOCK:
            self.parts.append("\n\n")
        elif tag in ("b", "strong"):
            self.parts.append("**")
        elif tag in ("i", "em"):
            self.parts.append("_")
        elif tag == "a" and self._links:
            href = self._links.pop()
            if href:
                self.parts.append(f"]({href})")

    def handle_data(self, data: str) -> None:
        if self._code is not None:
            self._code.append(data)
        else:
            self.parts.append(escape_markdown(data.replace("\xa0", " ")))


def html_to_text(markup: str) -> str:
    """Azure DevOps comment HTML as Markdown: paragraphs, line breaks, bold, italics, code,
    http(s) links and list items kept; all text escaped; images dropped but for their alt."""
    parser = _ToText()
    try:
        parser.feed(markup or "")
        parser.close()
    except AssertionError:
        # html.parser gives up on some malformed declarations (``<![`` ...) with an
        # AssertionError: keep the comment, as plain text without its tags.
        plain = html.unescape(re.sub(r"<[^>]*>?", " ", markup or ""))
        return re.sub(r"[ \t]+", " ", escape_markdown(plain)).strip()
    if parser._code is not None:  # an unclosed <code>: its text still counts
        parser.parts.append(code_span("".join(parser._code)))
    text = "".join(parser.parts)
    text = re.sub(r"[ \t]+\n", "\n", text)
    return re.sub(r"\n{3,}", "\n\n", text).strip()


def cut(text: str, limit: int = MAX_TEXT) -> str:
    return text if len(text) <= limit else text[: limit - len(CUT_MARKER)] + CUT_MARKER


def note_from_devops(markup: str, author: str | None, work_item_url: str, work_item_id: int) -> str:
    """A Sentry note for a work item comment: attributed, quoted, linking to the work item."""
    who = escape_markdown(" ".join((author or "").split())) or "Someone"
    body = "\n".join(f"> {line}" if line else ">" for line in html_to_text(markup).splitlines())
    url = web_link(work_item_url)
    where = f"[Azure DevOps #{work_item_id}]({url})" if url else f"Azure DevOps #{work_item_id}"
    return cut(f"**{who}** wrote in {where}:\n\n{body}")


def comment_from_sentry(text: str, author: str | None, issue_url: str, truncated: bool) -> str:
    """An Azure DevOps comment (HTML, which every version renders) for a Sentry note."""
    who = html.escape(" ".join(strip_controls(author or "").split()) or "Someone")
    url = web_link(issue_url)
    where = f'<a href="{html.escape(url, quote=True)}">Sentry</a>' if url else "Sentry"
    lines = strip_controls(cut(text)).splitlines()
    body = "<br>".join(html.escape(line) for line in lines)
    if truncated and not body.endswith(html.escape(CUT_MARKER.strip())):
        body += "<br><br>" + html.escape(CUT_MARKER.strip())
    return f"<p><b>{who}</b> wrote in {where}:</p><blockquote>{body}</blockquote>"
