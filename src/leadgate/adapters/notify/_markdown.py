"""The notification Markdown subset, parsed once and written out for each channel.

``leadgate.domain.notifications`` writes a small subset of Markdown (headings, ``- `` items,
one-line paragraphs, ``**bold**``, code spans, links, backslash escapes). Slack's mrkdwn,
Teams' Adaptive Cards and HTML mail each format differently and escape differently, so
each gets its own writer from one parse instead of text substitutions on the Markdown.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from typing import Any, Literal

_INLINE = re.compile(
    r"""
    \\(?P<esc>[!-/:-@\[-`{-~])
    | (?P<strong>\*\*)
    | `(?P<code>[^`]*)`
    | \[(?P<label>(?:\\.|[^\]\\])*)\]\((?P<url>[^)\s]*)\)
    | (?P<text>[^\\*`\[]+)
    | (?P<other>.)
    """,
    re.VERBOSE | re.DOTALL,
)
_UNESCAPE = re.compile(r"\\([!-/:-@\[-`{-~])")
_SAFE_URL = re.compile(r"(?:https?://|mailto:)[^\s<>\"|]+", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class Span:
    """A run of literal text (escapes already removed) and how it is shown."""

    text: str
    bold: bool = False
    code: bool = False
    url: str | None = None


@dataclass(frozen=True, slots=True)
class Block:
    """A heading, a paragraph, or one list item."""

    kind: Literal["heading", "paragraph", "item"]
    spans: tuple[Span, ...]

    @property
    def text(self) -> str:
        return "".join(span.text for span in self.spans)


def parse(markdown: str) -> list[Block]:
    """Given notification Markdown, return its blocks in order."""
    blocks: list[Block] = []
    paragraph: list[str] = []

    def flush() -> None:
        if paragraph:
            blocks.append(Block("paragraph", _inline(" ".join(paragraph))))
            paragraph.clear()

    for raw in markdown.splitlines():
        line = raw.strip()
        heading = re.match(r"#{1,6}\s+(.*)", line)
        if not line:
            flush()
        elif heading:
            flush()
            blocks.append(Block("heading", _inline(heading.group(1).rstrip("#").strip())))
        elif line.startswith(("- ", "* ")):
            flush()
            blocks.append(Block("item", _inline(line[2:].strip())))
        else:
            paragraph.append(line)
    flush()
    return blocks


def _inline(text: str) -> tuple[Span, ...]:
    spans: list[Span] = []
    bold = False
    for match in _INLINE.finditer(text):
        kind = match.lastgroup
        if kind == "strong":
            bold = not bold
        elif kind == "code":
            spans.append(Span(match.group("code"), bold=bold, code=True))
        elif kind == "url":
            label = _UNESCAPE.sub(r"\1", match.group("label"))
            url = match.group("url")
            # Only web and mail links survive: a javascript: link must not reach a mail client.
            spans.append(Span(label, bold=bold, url=url if _SAFE_URL.fullmatch(url) else None))
        else:
            spans.append(Span(match.group(kind or "other"), bold=bold))
    return tuple(_merge(spans))


def _merge(spans: list[Span]) -> list[Span]:
    merged: list[Span] = []
    for span in spans:
        if not span.text:
            continue
        last = merged[-1] if merged else None
        if last and not (last.code or last.url or span.code or span.url) and last.bold == span.bold:
            merged[-1] = Span(last.text + span.text, bold=span.bold)
        else:
            merged.append(span)
    return merged


# --- plain text ---------------------------------------------------------------------------


def to_text(blocks: list[Block]) -> str:
    """Given blocks, return plain text: what a mail client without HTML shows."""
    lines: list[str] = []
    for i, block in enumerate(blocks):
        text = "".join(_text_span(span) for span in block.spans)
        if block.kind == "heading":
            lines.extend(["", text.upper()] if i else [text.upper()])
        elif block.kind == "item":
            lines.append(f"  - {text}")
        else:
            lines.extend(["", text] if i and blocks[i - 1].kind != "heading" else [text])
    return "\n".join(lines)


def _text_span(span: Span) -> str:
    if span.url and span.url != span.text:
        return f"{span.text} <{span.url}>"
    return span.text


# --- HTML -----------------------------------------------------------------------------------


def to_html(blocks: list[Block]) -> str:
    """Given blocks, return an HTML fragment with inline styles (mail clients drop <style>)."""
    out: list[str] = []
    in_list = False
    for block in blocks:
        if block.kind == "item" and not in_list:
            out.append('<ul style="margin:4px 0 8px 0;padding-left:20px">')
            in_list = True
        elif block.kind != "item" and in_list:
            out.append("</ul>")
            in_list = False
        inner = "".join(_html_span(span) for span in block.spans)
        if block.kind == "heading":
            out.append(f'<h3 style="margin:16px 0 4px 0;font-size:15px">{inner}</h3>')
        elif block.kind == "item":
            out.append(f'<li style="margin:2px 0">{inner}</li>')
        else:
            out.append(f'<p style="margin:4px 0">{inner}</p>')
    if in_list:
        out.append("</ul>")
    return "\n".join(out)


def _html_span(span: Span) -> str:
    text = html.escape(span.text)
    if span.code:
        text = f"<code>{text}</code>"
    if span.url:
        text = f'<a href="{html.escape(span.url, quote=True)}">{text}</a>'
    return f"<strong>{text}</strong>" if span.bold else text


# --- Slack mrkdwn ---------------------------------------------------------------------------


def slack_escape(text: str) -> str:
    """Slack reads <...> as links and mentions (<!channel>): escape the three characters."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def to_slack(block: Block) -> str:
    """Given one block, return it as Slack mrkdwn."""
    text = "".join(_slack_span(span) for span in block.spans)
    if block.kind == "heading":
        return f"*{text}*"
    if block.kind == "item":
        return f"• {text}"
    return text


def _slack_span(span: Span) -> str:
    text = slack_escape(span.text)
    if span.code:
        text = "`" + text.replace("`", "'") + "`"
    if span.url:
        text = f"<{span.url}|{text.replace('|', '¦')}>"
    if span.bold:
        # Slack only sees *bold* when the markers touch non-space characters.
        core = text.strip()
        if core:
            lead, trail = text[: len(text) - len(text.lstrip())], text[len(text.rstrip()) :]
            text = f"{lead}*{core}*{trail}"
    return text


# --- Teams Adaptive Card ---------------------------------------------------------------------


def to_teams(block: Block) -> dict[str, Any]:
    """Given one block, return an Adaptive Card element.

    RichTextBlock's TextRuns are shown literally (no Markdown), so lead data needs no escaping.
    """
    runs = [_teams_run(span) for span in block.spans]
    element: dict[str, Any] = {"type": "RichTextBlock", "inlines": runs}
    if block.kind == "heading":
        element["inlines"] = [{**run, "weight": "Bolder", "size": "Medium"} for run in runs]
        element["spacing"] = "Medium"
        element["separator"] = True
    elif block.kind == "item":
        element["inlines"] = [{"type": "TextRun", "text": "• "}, *runs]
        element["spacing"] = "Small"
    else:
        element["spacing"] = "Small"
    return element


def _teams_run(span: Span) -> dict[str, Any]:
    run: dict[str, Any] = {"type": "TextRun", "text": span.text}
    if span.bold:
        run["weight"] = "Bolder"
    if span.code:
        run["fontType"] = "Monospace"
    if span.url:
        run["selectAction"] = {"type": "Action.OpenUrl", "url": span.url}
        run["color"] = "Accent"
    return run
