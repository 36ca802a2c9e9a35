"""Reads what the pages show (service/pages) as a reader would: the figures, the disputes
with each side's figure, the timeline's facts and the quotes' languages. Shared by the HTTP
tests and the browser's (which reads the DOM Chromium rendered)."""

from __future__ import annotations

from dataclasses import dataclass, field
from html.parser import HTMLParser

VOID = {"meta", "link", "br", "img", "input", "hr", "wbr", "source", "area", "col", "embed"}


@dataclass
class Shown:
    language: str | None = None
    figures: dict[str, int] = field(default_factory=dict)
    """Every figure on the page: fact id -> the number shown."""
    headline_keys: list[str] = field(default_factory=list)
    disputes: dict[str, list[tuple[str, int]]] = field(default_factory=dict)
    """Quantity key -> each side's (fact id, number), in the order shown."""
    timeline: list[str] = field(default_factory=list)
    undated: list[str] = field(default_factory=list)
    """The timeline's facts marked as not dated by their source."""
    quotes: list[tuple[str | None, str]] = field(default_factory=list)
    """Each quote's lang attribute and the source URL it cites."""
    ids: set[str] = field(default_factory=set)
    links: list[tuple[str, str | None]] = field(default_factory=list)
    """(rel, href) of the <link> elements."""
    scripts: int = 0


class PageReader(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.shown = Shown()
        self.stack: list[dict[str, str | None]] = []

    def _inside(self, name: str) -> str | None:
        for attrs in reversed(self.stack):
            if attrs.get(name):
                return attrs[name]
        return None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        shown = self.shown
        if found.get("id"):
            shown.ids.add(found["id"] or "")
        if tag == "html":
            shown.language = found.get("lang")
        elif tag == "script":
            shown.scripts += 1
        elif tag == "link":
            shown.links.append((found.get("rel") or "", found.get("href")))
        elif tag == "data" and found.get("data-fact"):
            fact, value = found["data-fact"] or "", int(found["value"] or "-1")
            assert shown.figures.setdefault(fact, value) == value, fact
            dispute = self._inside("data-dispute")
            if dispute is not None:
                shown.disputes.setdefault(dispute, []).append((fact, value))
        elif tag == "tr" and found.get("data-key"):
            if found["data-key"] not in shown.headline_keys:
                shown.headline_keys.append(found["data-key"] or "")
        elif tag == "li" and found.get("data-fact") and self._inside("data-timeline"):
            shown.timeline.append(found["data-fact"] or "")
            if "data-undated" in found:
                shown.undated.append(found["data-fact"] or "")
        elif tag == "blockquote":
            shown.quotes.append((found.get("lang"), found.get("cite") or ""))
        if tag not in VOID:
            self.stack.append({**found, "tag": tag})

    def handle_endtag(self, tag: str) -> None:
        for index in range(len(self.stack) - 1, -1, -1):
            if self.stack[index]["tag"] == tag:
                del self.stack[index:]
                return


def read_page(html: str) -> Shown:
    reader = PageReader()
    reader.feed(html)
    reader.close()
    return reader.shown
