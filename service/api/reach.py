"""Which kept answers a change could alter: each answer gets a tag from its URL when it is
kept, and a change of a few facts names the tags of every answer that could show them.

    /v1/casualties/ID[/...]           ("record", "casualties", ID)   the fact, its history
    /v1/casualties?crisis=C           ("facts", C, "casualties")     a list of one kind
    /v1/timeline|disputes|search?...  ("facts", C, "")               lists of every kind
    /v1/crises, /v1/crises/C          ("counts", "" or C)            counts of facts
    anything else under /v1           ("any",)                       actors' counts, changes

C is "" without a single `crisis` filter: such an answer may hold facts of any crisis.
"""

from __future__ import annotations

import urllib.parse

from service.engine.rows import KINDS
from service.touched import Touched

Tag = tuple[str, ...]

FACT_LISTS = {info.path.removeprefix("/v1/"): kind for kind, info in KINDS.items()}
SEGMENT = {kind.value: segment for segment, kind in FACT_LISTS.items()}
EVERY_KIND = frozenset({"timeline", "disputes", "search"})
ANY: Tag = ("any",)


def tag_of(path: str, query: bytes) -> Tag:
    """The tag of the answer kept for `path?query` (a path under /v1/)."""
    parts = path.rstrip("/").split("/")[2:]  # "", "v1", then the resource
    if not parts:
        return ANY
    head = parts[0]
    if head in FACT_LISTS and len(parts) > 1:
        return ("record", head, parts[1])
    if head in FACT_LISTS:
        return ("facts", _crisis(query), head)
    if head in EVERY_KIND and len(parts) == 1:
        return ("facts", _crisis(query), "")
    if head == "crises" and len(parts) <= 2:
        return ("counts", parts[1] if len(parts) == 2 else "")
    return ANY


def _crisis(query: bytes) -> str:
    """The one crisis a query names, else "" (every crisis)."""
    if b"crisis" not in query:
        return ""
    named = urllib.parse.parse_qs(query.decode("latin-1")).get("crisis", [])
    return named[0] if len(named) == 1 else ""


def touched_tags(touched: Touched) -> set[Tag]:
    """The tags of every answer that could show a fact `touched` names."""
    tags = {ANY}
    for fact in touched.facts:
        segment = SEGMENT[fact.kind]
        tags.add(("record", segment, fact.id))
        for crisis in ("", fact.crisis):
            tags.update({("facts", crisis, segment), ("facts", crisis, "")})
            if fact.counted:
                tags.add(("counts", crisis))
    return tags
