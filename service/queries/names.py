"""Search across languages: a query naming an actor or a place in one of the languages it is
known by also finds what its other names find ("Armenia" finds "Arménie")."""

from __future__ import annotations

import re
from dataclasses import dataclass

from psycopg import sql

from service.queries.base import Conn, fetch_rows, rendered

_ACCENTED = "àâäáãåçéèêëíìîïñóòôöõúùûüýÿÀÂÄÁÃÅÇÉÈÊËÍÌÎÏÑÓÒÔÖÕÚÙÛÜÝ"
_PLAIN = "aaaaaaceeeeiiiinooooouuuuyyaaaaaaceeeeiiiinooooouuuuy"
_TABLE = str.maketrans(_ACCENTED, _PLAIN)

MAX_GROUPS = 4
"""Names expanded per query; a query naming more keeps the rest as typed."""


def fold(text: str) -> str:
    """Case and accents aside, every character but a-z and 0-9 a space: the same length as
    `text`, so that a match found in it is a span of `text`."""
    plain = text.translate(_TABLE)
    return "".join(c.lower() if c.isascii() and c.isalnum() else " " for c in plain)


def _sql_fold(value: str) -> sql.Composable:
    """`fold` in SQL, runs of spaces made one (what `strpos` looks for between spaces)."""
    return sql.SQL("regexp_replace(translate(lower({}), {}, {}), '[^a-z0-9]+', ' ', 'g')").format(
        sql.SQL(value), sql.Literal(_ACCENTED), sql.Literal(_PLAIN)
    )


_NAMES_SQL = rendered(
    sql.SQL("""
WITH names AS (
    SELECT 'actor:' || a.id AS entity, a.name FROM actors a
    WHERE %(crisis)s::text IS NULL OR a.crisis_id = %(crisis)s
    UNION ALL
    SELECT 'actor:' || al.actor_id, al.alias FROM actor_aliases al
    WHERE %(crisis)s::text IS NULL OR al.crisis_id = %(crisis)s
    UNION ALL
    SELECT 'place:' || p.id, n FROM places p, unnest(array_prepend(p.name, p.aliases)) n
    WHERE %(crisis)s::text IS NULL OR p.crisis_id = %(crisis)s
), found AS (
    SELECT entity, name,
           strpos(' ' || {query} || ' ', ' ' || trim({name}) || ' ') > 0 AS named
    FROM names
)
SELECT entity, array_agg(DISTINCT name), array_agg(DISTINCT name) FILTER (WHERE named)
FROM found GROUP BY entity HAVING bool_or(named) ORDER BY entity
""").format(query=_sql_fold("%(q)s"), name=_sql_fold("name"))
)
"""Each actor or place one of whose names the query holds as whole words: all its names,
and those the query holds."""


@dataclass(frozen=True)
class Expanded:
    """A query with the names it holds taken out (`rest`), and each name as every name of its
    actor or place, in `websearch_to_tsquery` syntax (`"Armenia" or "Arménie"`)."""

    rest: str
    groups: tuple[str, ...]


async def expand(conn: Conn, q: str, crisis: str | None) -> Expanded:
    """`q` with each actor or place it names widened to all their names (an excluded one,
    `-Armenia`, excludes them all). A query with a quoted phrase is searched as typed."""
    if '"' in q or not q.strip():
        return Expanded(q, ())
    rows = await fetch_rows(conn, _NAMES_SQL, {"q": q, "crisis": crisis})
    rest, groups = q, []
    for _entity, names, named in rows[:MAX_GROUPS]:
        spans = [span for name in named if (span := _find(rest, name)) is not None]
        if not spans:
            continue
        start, end = max(spans, key=lambda span: span[1] - span[0])
        quoted = [f'"{name.replace(chr(34), " ")}"' for name in sorted(names)]
        before = rest[:start].rstrip()
        if before.endswith("-"):  # excluded: each of its names is
            rest = f"{before[:-1]} {rest[end:]}"
            groups.append(" ".join(f"-{name}" for name in quoted))
        else:
            rest = f"{rest[:start]} {rest[end:]}"
            groups.append(" or ".join(quoted))
    if not groups:
        return Expanded(q, ())
    if not fold(rest).strip():  # the query was names only: the first group leads
        return Expanded(groups[0], tuple(groups[1:]))
    return Expanded(rest, tuple(groups))


def _find(text: str, name: str) -> tuple[int, int] | None:
    words = fold(name).split()
    if not words:
        return None
    pattern = r"(?<![a-z0-9])" + r"[^a-z0-9]+".join(map(re.escape, words)) + r"(?![a-z0-9])"
    found = re.search(pattern, fold(text))
    return None if found is None else found.span()
