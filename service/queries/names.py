"""Search across languages: a query naming an actor or a place in one of the languages it is
known by also finds what its other names find ("Armenia" finds "Arménie")."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from psycopg import sql

from service.queries.base import Conn, fetch_rows

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


_NAMES_SQL = sql.SQL("""
SELECT (SELECT version FROM dataset_version), entity, name FROM (
    SELECT 'actor:' || a.id AS entity, a.name FROM actors a
    WHERE %(crisis)s::text IS NULL OR a.crisis_id = %(crisis)s
    UNION ALL
    SELECT 'actor:' || al.actor_id, al.alias FROM actor_aliases al
    WHERE %(crisis)s::text IS NULL OR al.crisis_id = %(crisis)s
    UNION ALL
    SELECT 'place:' || p.id, n FROM places p, unnest(array_prepend(p.name, p.aliases)) n
    WHERE %(crisis)s::text IS NULL OR p.crisis_id = %(crisis)s
) names
WHERE %(version)s::bigint IS DISTINCT FROM (SELECT version FROM dataset_version)
""")
"""Every name of every actor and place (of a crisis), unless the dataset is still at the
version the caller read them at."""


@dataclass
class _Names:
    """The names of one scope as of one dataset version, folded once."""

    version: int | None = None
    by_entity: dict[str, list[str]] = field(default_factory=dict)
    folded: dict[str, set[str]] = field(default_factory=dict)  # folded name -> entities
    longest: int = 0  # words in the longest name


_known: dict[tuple[str, int, str, str | None], _Names] = {}
"""Per database and crisis (None: all), what the last search read: read again when a change
has made a new dataset version, so a search costs a one-row query, not a scan of every name."""


async def _names(conn: Conn, crisis: str | None) -> _Names:
    scope = (conn.info.host, conn.info.port, conn.info.dbname, crisis)
    known = _known.get(scope, _Names())
    rows = await fetch_rows(conn, _NAMES_SQL, {"crisis": crisis, "version": known.version})
    if not rows:
        return known
    fresh = _Names(version=rows[0][0])
    for _, entity, name in rows:
        fresh.by_entity.setdefault(entity, []).append(name)
        words = fold(name).split()
        fresh.folded.setdefault(" ".join(words), set()).add(entity)
        fresh.longest = max(fresh.longest, len(words))
    _known[scope] = fresh
    return fresh


@dataclass(frozen=True)
class Expanded:
    """A query with the names it holds taken out (`rest`), and each name as every name of its
    actor or place, in `websearch_to_tsquery` syntax (`"Armenia" or "Arménie"`)."""

    rest: str
    groups: tuple[str, ...]


async def expand(conn: Conn, q: str, crisis: str | None) -> Expanded:
    """`q` with each actor or place it names widened to all their names (an excluded one,
    `-Armenia`, excludes them all). A query with a quoted phrase is searched as typed."""
    words = fold(q).split()
    if '"' in q or not words:
        return Expanded(q, ())
    known = await _names(conn, crisis)
    runs = {
        " ".join(words[start:end])
        for start in range(len(words))
        for end in range(start + 1, min(len(words), start + known.longest) + 1)
    }
    entities = sorted({e for run in runs for e in known.folded.get(run, ())})
    rest, groups = q, list[str]()
    for names in (known.by_entity[entity] for entity in entities):
        spans = [span for name in names if (span := _find(rest, name)) is not None]
        if not spans or len(groups) == MAX_GROUPS:
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
