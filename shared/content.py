"""Content crossing from one service into the other (pure). Whatever either side sends is
hostile: anyone with a DSN can put control characters into a Sentry event's title, anyone who
can comment on a work item can write Markdown. Text is cleaned of control characters before it
is written anywhere, and escaped for the place it goes (Markdown here, HTML with ``html``)."""

from __future__ import annotations

import re
from typing import Any

# C0 controls but tab and newline, DEL, C1 controls, and the bidirectional formatting
# characters (Unicode TR9: embeddings, overrides, isolates, marks) that make text read other
# than it is. Zero-width joiners stay: emoji need them.
_CONTROLS = re.compile(
    "[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]"
)
# ASCII punctuation that means something in CommonMark or GitHub-flavoured Markdown; each may
# be backslash-escaped (CommonMark 0.31, "Backslash escapes").
_MARKDOWN = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~&:=])")


def strip_controls(text: str) -> str:
    """``text`` without control and bidi formatting characters; line ends become ``\\n``."""
    return _CONTROLS.sub("", text.replace("\r\n", "\n").replace("\r", "\n"))


def clean(value: Any) -> Any:
    """``value`` with every string in it (dicts and lists walked) passed through
    ``strip_controls``: what a client applies to a body before it leaves."""
    if isinstance(value, str):
        return strip_controls(value)
    if isinstance(value, dict):
        return {key: clean(item) for key, item in value.items()}
    if isinstance(value, list):
        return [clean(item) for item in value]
    return value


def escape_markdown(text: str) -> str:
    """``text`` as literal Markdown: no emphasis, link, image, HTML or autolink can start in
    it, whatever it holds."""
    return _MARKDOWN.sub(r"\\\1", strip_controls(text))


def code_span(text: str) -> str:
    """``text`` as a Markdown code span: its content is literal, delimited by one backtick
    more than the longest run inside (CommonMark, "Code spans")."""
    body = strip_controls(text).replace("\n", " ")
    if not body.strip():
        return escape_markdown(body)
    longest = max((len(run) for run in re.findall(r"`+", body)), default=0)
    fence = "`" * (longest + 1)
    pad = " " if body.startswith("`") or body.endswith("`") else ""
    return f"{fence}{pad}{body}{pad}{fence}"
