"""Sites built from the manual: the files of a page's code blocks, written as a reader would.

A code block that is a file of the site names it in its first line, as a comment in the
file's own language (``# mysite/.py/init.py``, ``<!-- mysite/index.html -->``). Blocks in
``sh`` and ``text`` are commands and output, not files. A later block for the same path
replaces the earlier one, as a reader following the page would.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

FENCE = re.compile(r"^```([^\n`]*)\n(.*?)^```[ \t]*$", re.MULTILINE | re.DOTALL)
FILE_MARKER = re.compile(r"^(?:#|<!--|/\*|//|\{#)\s*mysite/(\S+?)(?:\s|-->|\*/|#\}|$)")
NOT_FILES = frozenset({"sh", "text"})
"""Languages of blocks that are commands to type or output to expect."""


@dataclass
class Block:
    """One fenced code block: its language, its text, and the site file it is, if any."""

    language: str
    text: str
    path: str | None


@dataclass
class Section:
    """The blocks under one ``##`` heading."""

    title: str
    blocks: list[Block] = field(default_factory=list)

    def files(self) -> dict[str, str]:
        return {block.path: block.text for block in self.blocks if block.path is not None}


def blocks_of(markdown: str) -> list[Block]:
    """Every fenced block of a page, in order."""
    found = []
    for match in FENCE.finditer(markdown):
        language = match.group(1).strip()
        text = match.group(2)
        marker = FILE_MARKER.match(text)
        found.append(Block(language, text, marker.group(1) if marker else None))
    return found


def sections_of(markdown: str) -> list[Section]:
    """The page cut at its ``##`` headings (text before the first heading is left out)."""
    sections = []
    for part in re.split(r"^## ", markdown, flags=re.MULTILINE)[1:]:
        title, _, body = part.partition("\n")
        sections.append(Section(title.strip(), blocks_of(body)))
    return sections


def write_files(root: Path, files: dict[str, str]) -> None:
    """Write ``files`` under ``root``, replacing what was there."""
    for relative, text in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
