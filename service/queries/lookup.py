"""Whether the ids a request's filters name exist, and which ids a misspelt one may have
meant: a filter naming nothing would otherwise answer an empty list, as if nothing matched."""

from __future__ import annotations

import difflib
import unicodedata
from collections.abc import Mapping
from typing import LiteralString

from psycopg import sql

from service.queries.base import Conn, fetch_rows

WHAT_TABLE: dict[str, LiteralString] = {"crisis": "crises", "actor": "actors", "source": "sources"}
"""What a filter names and the table whose ids it names."""

_NAMES: dict[str, LiteralString] = {
    "crisis": "SELECT id, id FROM crises UNION ALL SELECT id, name FROM crises",
    "source": "SELECT id, id FROM sources UNION ALL SELECT id, title FROM sources",
    "actor": "SELECT id, id FROM actors UNION ALL SELECT id, name FROM actors "
    "UNION ALL SELECT actor_id, alias FROM actor_aliases",
}
"""Every (id, name it goes by) of what a filter names: its id, name, title and aliases."""
CANDIDATES = 50_000
"""At most this many names are compared with a misspelt id (only a request naming no item
reads them)."""


def folded(text: str) -> str:
    """Lower case without accents, words joined by hyphens: `Tokaïev` -> `tokaiev`."""
    plain = unicodedata.normalize("NFKD", text)
    plain = "".join(c for c in plain if not unicodedata.combining(c)).lower()
    return "-".join("".join(c if c.isalnum() else " " for c in plain).split())


async def unknown(conn: Conn, named: Mapping[str, tuple[str, str]]) -> dict[str, str]:
    """Of the filters `named` (parameter -> (what it names, id)), those whose id names
    nothing, each with its id."""
    missing: dict[str, str] = {}
    for parameter, (what, ident) in named.items():
        table = sql.Identifier(WHAT_TABLE[what])
        query = sql.SQL("SELECT 1 FROM {} WHERE id = %(id)s").format(table)
        if not await fetch_rows(conn, query, {"id": ident}):
            missing[parameter] = ident
    return missing


async def closest(conn: Conn, what: str, wanted: str, count: int = 3) -> list[str]:
    """The ids of the items whose id, name or alias is closest to `wanted`, case and accents
    aside: `tokayev` finds `kassym-jomart-tokayev`, an alias's words count one by one."""
    query = sql.SQL("{} LIMIT {}").format(sql.SQL(_NAMES[what]), sql.Literal(CANDIDATES))
    rows = await fetch_rows(conn, query, {})
    target = folded(wanted)
    scores: dict[str, float] = {}
    for ident, name in rows:
        name = folded(name or "")
        words = [name, *name.split("-")]
        best = max(difflib.SequenceMatcher(None, target, w).ratio() for w in words)
        if target and target in name:
            best = max(best, 0.9)
        scores[ident] = max(scores.get(ident, 0.0), best)
    ranked = sorted((s, i) for i, s in scores.items() if s >= 0.7)
    return [ident for _, ident in sorted(ranked, key=lambda p: (-p[0], p[1]))[:count]]
