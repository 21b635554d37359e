"""Comment text between the two sides (pure): Azure DevOps comments are HTML, Sentry notes are
Markdown-ish text. Each carried comment is attributed and links back to where it was written."""

from __future__ import annotations

import html
import re
from html.parser import HTMLParser

# What a comment may hold once carried; a longer one is cut, with a marker saying so.
MAX_TEXT = 12_000
CUT_MARKER = "\n\n… (cut: the comment is longer than the other side takes)"

_BLOCK = frozenset({"p", "div", "blockquote", "pre", "ul", "ol", "table", "tr", "h1", "h2", "h3"})


class _ToText(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._links: list[str | None] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
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
            self.parts.append("`")
        elif tag == "a":
            href = dict(attrs).get("href")
            # Mentions are anchors to "#": their text (@Name) is what matters.
            keep = href if href and href.startswith(("http://", "https://")) else None
            self._links.append(keep)
            if keep:
                self.parts.append("[")

    def handle_endtag(self, tag: str) -> None:
        if tag in _BLOCK:
            self.parts.append("\n\n")
        elif tag in ("b", "strong"):
            self.parts.append("**")
        elif tag in ("i", "em"):
            self.parts.append("_")
        elif tag == "code":
            self.parts.append("`")
        elif tag == "a" and self._links:
            href = self._links.pop()
            if href:
                self.parts.append(f"]({href})")

    def handle_data(self, data: str) -> None:
        self.parts.append(data)


def html_to_text(markup: str) -> str:
    """Azure DevOps comment HTML as Markdown-ish text: paragraphs, line breaks, bold, italics,
    code, links and list items kept; everything else is its text."""
    parser = _ToText()
    parser.feed(markup or "")
    parser.close()
    text = "".join(parser.parts).replace("\xa0", " ")
    text = re.sub(r"[ \t]+\n", "\n", text)
    return re.sub(r"\n{3,}", "\n\n", text).strip()


def cut(text: str, limit: int = MAX_TEXT) -> str:
    return text if len(text) <= limit else text[: limit - len(CUT_MARKER)] + CUT_MARKER


def note_from_devops(markup: str, author: str | None, work_item_url: str, work_item_id: int) -> str:
    """A Sentry note for a work item comment: attributed, quoted, linking to the work item."""
    who = author or "Someone"
    body = "\n".join(f"> {line}" if line else ">" for line in html_to_text(markup).splitlines())
    return cut(f"**{who}** wrote in [Azure DevOps #{work_item_id}]({work_item_url}):\n\n{body}")


def comment_from_sentry(text: str, author: str | None, issue_url: str, truncated: bool) -> str:
    """An Azure DevOps comment (HTML, which every version renders) for a Sentry note."""
    who = html.escape(author or "Someone")
    url = html.escape(issue_url, quote=True)
    body = "<br>".join(html.escape(line) for line in cut(text).splitlines())
    if truncated and not body.endswith(html.escape(CUT_MARKER.strip())):
        body += "<br><br>" + html.escape(CUT_MARKER.strip())
    return (
        f'<p><b>{who}</b> wrote in <a href="{url}">Sentry</a>:</p><blockquote>{body}</blockquote>'
    )
