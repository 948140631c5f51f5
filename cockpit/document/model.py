"""What a report is made of. Sections hold typed blocks; renderers turn them into Markdown or HTML.

Blocks carry plain values (never markup), so every renderer escapes all user-provided text in
one place.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Paragraph:
    text: str
    tone: str = ""  # "", "good", "bad", "warn": a hint for colour, never required to read it


@dataclass(frozen=True)
class Table:
    columns: tuple[str, ...]
    rows: tuple[tuple[Any, ...], ...]
    caption: str = ""


@dataclass(frozen=True)
class Links:
    items: tuple[tuple[str, str], ...]  # (label, url)


@dataclass(frozen=True)
class Chart:
    """A plotly figure as its JSON dict (``fig.to_plotly_json()``), rendered offline in HTML."""

    title: str
    figure: dict[str, Any]
    fallback: Table | None = None  # what Markdown shows instead


@dataclass(frozen=True)
class Code:
    """A block of code shown as written (a worked example), never run or interpreted."""

    text: str
    language: str = ""
    caption: str = ""


@dataclass(frozen=True)
class Bullet:
    """One list item: text, then an optional command shown as code, then optional detail."""

    text: str
    code: str = ""
    detail: str = ""


@dataclass(frozen=True)
class Bullets:
    items: tuple[Bullet, ...]
    ordered: bool = False
    caption: str = ""


@dataclass(frozen=True)
class Details:
    """Blocks folded under a one-line summary (``<details>``), for what a reader may skip."""

    summary: str
    blocks: tuple[Paragraph | Table | Links | Code | Bullets, ...]


Block = Paragraph | Table | Links | Chart | Code | Details | Bullets


@dataclass
class Section:
    title: str
    anchor: str
    blocks: list[Block] = field(default_factory=list)

    def add(self, block: Block) -> Section:
        self.blocks.append(block)
        return self


@dataclass
class Document:
    title: str
    subtitle: str
    generated_at: str
    sections: list[Section] = field(default_factory=list)
