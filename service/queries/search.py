"""Search: facts and articles matching a query, ranked, with marked snippets."""

from __future__ import annotations

import functools
import re
from typing import Any

from psycopg import sql

from service import schemas
from service.queries import names
from service.queries.base import (
    BadCursor,
    Conn,
    Where,
    decode_cursor,
    encode_cursor,
    fetch_rows,
    limit_clause,
    rendered,
)
from service.queries.facts import FactFilter, reviewed
from service.vocabulary import PUBLIC, FactKind, Visibility

FACT_CANDIDATES = 1000
"""Facts ranked per search: the first this many that match, in the order the index finds
them (storage order, which is load order), so that a common word costs what a rare one does."""

SOURCE_CANDIDATES = 100
"""Articles ranked per search, found as facts are, before the phrase check: articles are
long, so checking a phrase and ranking one costs more than a fact."""

FACT_RANK_BOUND = 0.1
"""What no fact can reach on a one-word query, and every article holding the word does.

Each text is ranked against the query as stemmed in its own language, so a word is one
`ts_rank` term, weighted by its first occurrence: D (0.1) in a fact, at least C (0.2) over
pi²/6 = 0.12 in an article. A page that such articles fill skips the facts' lookup (a test
holds PostgreSQL to it; bench/RESULTS.md has what that saves)."""

WINDOW = 160
TITLE_LENGTH = 160
"""A fact's title is its first TITLE_LENGTH characters, to a whole word."""
WINDOW_BEFORE = 60
"""An article's snippet is marked in the WINDOW characters of its passage that start
WINDOW_BEFORE before the word: `ts_headline` parses and stems all it is given."""


def _config(language: sql.Composable) -> sql.Composable:
    """The text search configuration of a text in `language`."""
    return sql.SQL(
        "CASE {} WHEN 'fr' THEN 'french'::regconfig ELSE 'english'::regconfig END"
    ).format(language)


_SEARCH_SQL = sql.SQL("""
WITH q AS (
    SELECT query, words, query = words AS plain, english, french,
           numnode(english) <= 1 AND numnode(french) <= 1 AS one_word,
           CASE WHEN strpos(query::text, '!') = 0
                THEN regexp_replace(words::text, '&', '|', 'g')::tsquery END AS any_word,
           CASE WHEN strpos(query::text, '!') = 0
                THEN regexp_replace(english::text, '&|<(-|[0-9]+)>', '|', 'g')::tsquery
                ELSE websearch_to_tsquery('english', %(shown)s) END AS any_english,
           CASE WHEN strpos(query::text, '!') = 0 THEN query
                ELSE websearch_to_tsquery('english', %(shown)s)
                     || websearch_to_tsquery('french', %(shown)s) END AS shown,
           tsvector_to_array(to_tsvector('english', %(near_word)s)
                             || to_tsvector('french', %(near_word)s)
                             || to_tsvector('simple', %(near_names)s)) AS stems
    FROM (
        SELECT query, english, french,
               CASE WHEN strpos(query::text, '!') = 0
                    THEN regexp_replace(query::text, '<(-|[0-9]+)>', '&', 'g')::tsquery
                    ELSE query END AS words
        FROM (SELECT english || french AS query, english, french
              FROM (SELECT websearch_to_tsquery('english', %(q)s){english_names} AS english,
                           websearch_to_tsquery('french', %(q)s){french_names} AS french) t
        ) q
    ) q
),
articles AS (
    SELECT 'source' AS type, s.id,
           ts_rank(s.search, CASE s.language WHEN 'fr' THEN q.french ELSE q.english END)::float8
             AS rank
    FROM q, LATERAL (
        SELECT s.id, s.search, s.language FROM sources s
        WHERE {sources}
        LIMIT {source_candidates}
    ) s
    WHERE q.plain OR s.search @@ q.query
),
hits AS (
    SELECT * FROM (
        SELECT * FROM articles
        UNION ALL
        SELECT f.kind AS type, f.id,
               greatest(ts_rank(f.search, q.english), ts_rank(f.search, q.french))::float8 AS rank
        FROM q, LATERAL (
            SELECT f.id, f.kind, f.search FROM facts f
            WHERE {facts}
            LIMIT {fact_candidates}
        ) f
        WHERE NOT (q.one_word AND (
            SELECT count(*) FROM articles h WHERE {after} AND h.rank >= {fact_rank_bound}
        ) >= {page})
    ) h
    WHERE {after}
    ORDER BY rank DESC, type, id
    {limit}
)
SELECT h.type, h.id, h.rank,
       coalesce(s.title, left(coalesce(st.content, fc.quotes), {title_cut})),
       head.marked,
       CASE WHEN q.one_word THEN s_text.typed END,
       CASE WHEN h.type <> 'source' AND strpos(head.marked, '<mark>') = 0 THEN
           (SELECT ts_headline('english', string_agg(t->>'text', ' '), q.any_english, {marks})
            FROM facts tf, json_array_elements(tf.translations::json) t
            WHERE tf.id = h.id AND t->>'language' = 'en')
       END,
       CASE WHEN h.type <> 'source' AND strpos(head.marked, '<mark>') = 0 THEN
           (SELECT ts_headline({config}, nf.note, coalesce(q.any_word, q.shown), {marks})
            FROM facts nf WHERE nf.id = h.id AND nf.note IS NOT NULL)
       END
FROM hits h CROSS JOIN q
LEFT JOIN sources s ON h.type = 'source' AND s.id = h.id
LEFT JOIN LATERAL (
    SELECT typed, CASE WHEN typed IS NULL THEN coalesce(
        (SELECT p.text FROM source_passages p
         WHERE p.source_id = s.id
           AND EXISTS (SELECT FROM unnest(q.stems) stem
                       WHERE strpos({folded_passage}, {folded_stem}) > 0)
         ORDER BY p.n LIMIT 1),
        (SELECT p.text FROM source_passages p WHERE p.source_id = s.id AND p.n = 0)
    ) END AS excerpt
    FROM (
        SELECT (SELECT substr(p.text, greatest(w.at - {window_before}, 1), {window})
                FROM source_passages p,
                     LATERAL (SELECT coalesce(nullif(strpos(lower(p.text COLLATE "C"), %(near)s),
                                                     0),
                                              strpos(p.text, %(near_initial)s)) AS at) w
                WHERE p.source_id = s.id AND w.at > 0
                ORDER BY p.n LIMIT 1) AS typed
        WHERE s.id IS NOT NULL  -- facts have no passage to look for
        OFFSET 0  -- found once: pulled up, the passage search ran for every use of `typed`
    ) typed
) s_text ON true
LEFT JOIN statements st ON h.type = 'statement' AND st.fact_id = h.id
LEFT JOIN LATERAL (
    SELECT string_agg(c.quote, ' … ' ORDER BY c.position) AS quotes, min(c.source_id) AS source_id
    FROM citations c WHERE h.type <> 'source' AND c.fact_id = h.id
) fc ON true
LEFT JOIN sources fs ON fs.id = fc.source_id
LEFT JOIN LATERAL (
    SELECT CASE WHEN strpos(strict.marked, '<mark>') = 0 AND q.any_word IS NOT NULL
                THEN ts_headline({config}, strict.text, q.any_word, {marks})
                ELSE strict.marked END AS marked
    FROM (
        SELECT text, CASE WHEN NOT (q.one_word AND s_text.typed IS NOT NULL) THEN
                     ts_headline({config}, text, q.shown, {marks}) END AS marked
        FROM (SELECT coalesce(s_text.typed, s_text.excerpt, fc.quotes) AS text) t
    ) strict
) head ON true
ORDER BY h.rank DESC, h.type, h.id
""")
"""Facts and articles matching the query, ranked by `ts_rank` among the first
FACT_CANDIDATES facts and SOURCE_CANDIDATES articles found (the facts skipped when
FACT_RANK_BOUND shows none can be on the page), then paged by (rank, type, id).
Snippets mark the words in a fact's quotes, or in an article's first passage (400
characters, see service.loader.passages) that holds the query's longest phrase or word as
typed (around it, see WINDOW), else one of its stems ("arrest" of "arrested" in
"arrestations"), else in its opening: a passage, not the whole article, is marked and
searched. `q` is a CTE on purpose: a planner that sees the words picks a sequential scan
for a common one, which reads every article's whole vector until it has its candidates."""


def _folded(text: sql.Composable) -> sql.Composable:
    """`text` with the accents of French lower-case letters taken off: a stem ("sieg" of
    `q=siege`) is found in the passage that has the word accented ("siège")."""
    return sql.SQL("translate({}, {}, {})").format(
        text, sql.Literal("àâäéèêëîïôöùûüÿç"), sql.Literal("aaaeeeeiioouuuyc")
    )


_SEARCH_CONSTANTS = {
    "source_candidates": sql.Literal(SOURCE_CANDIDATES),
    "fact_candidates": sql.Literal(FACT_CANDIDATES),
    "fact_rank_bound": sql.Literal(FACT_RANK_BOUND),
    "window_before": sql.Literal(WINDOW_BEFORE),
    "window": sql.Literal(WINDOW),
    "folded_passage": _folded(sql.SQL('lower(p.text COLLATE "C")')),
    "folded_stem": _folded(sql.SQL("stem")),
    "title_cut": sql.Literal(TITLE_LENGTH + 1),  # one more: whole_words sees a title was cut
    "config": _config(sql.SQL("coalesce(s.language, fs.language)")),
    "marks": sql.Literal(
        "StartSel=<mark>, StopSel=</mark>, MaxFragments=2, MaxWords=30, MinWords=10"
    ),
}

_HREF = {
    "source": "/v1/sources/",
    "statement": "/v1/statements/",
    "casualty": "/v1/casualties/",
    "deployment": "/v1/deployments/",
    "arrest": "/v1/arrests/",
}


_EXCLUDED = re.compile(r'-"[^"]*"?|(?:^|\s)-\S+')
"""What a query excludes: `-"a phrase"` and `-word`."""


def _shown(expanded: names.Expanded) -> str:
    """What a snippet of a query that excludes words marks: its other words and names, as
    `ts_headline` marks an excluded word too ("Kazakh" of `-police`, "Kazakh police")."""
    wanted = [expanded.rest, *(group for group in expanded.groups if not group.startswith("-"))]
    return _EXCLUDED.sub(" ", " ".join(wanted))


def _near(q: str) -> tuple[str, str]:
    """Where an article's snippet is taken from: the longest phrase the query quotes, else
    its longest word, lowercased; and its longest word alone, whose stem is looked for when
    the text does not have the word as typed. Excluded words (`-word`) are not looked for."""
    kept = _EXCLUDED.sub(" ", q)
    phrases = [" ".join(p.split()) for p in re.findall(r'"([^"]*)"', kept)]
    words = [w for w in re.findall(r"\w+", kept.lower()) if w != "or"]  # "or" is an operator
    word = max(words, key=len, default="")
    return max(phrases, key=len, default="").lower() or word, word


def _near_forms(q: str) -> dict[str, str]:
    """`_near` as it appears in an article's text with only ASCII letters lowercased (lowering
    the whole text by the locale cost ten times more): a word with a capital outside ASCII
    ("État", "ÉTAT") is found by its initial form."""
    near, word = _near(q)
    return {"near": near, "near_initial": near[:1].upper() + near[1:], "near_word": word}


_MARKED_AS = (r"(?<!\w){}(?!\w)", r"(?<!\w){}\w*", r"{}\w*")
"""Where a one-word query's article snippet marks the word: where it stands whole; only if
it does not, at the start of words ("arrestation" in "arrestations", as `ts_headline`
marked a stem's forms), else inside one. "les" standing whole leaves "lesson" unmarked."""


def _named(expanded: names.Expanded) -> str:
    """Every name the query's actors and places are known by, for an article's snippet to be
    taken from a passage that holds one ("Arménie" for "Armenia")."""
    quoted = re.findall(r'(-?)"([^"]*)"', " ".join((expanded.rest, *expanded.groups)))
    return " ".join(name for excluded, name in quoted if not excluded)


def _snippet(text: str, translation: str | None, note: str | None) -> dict[str, Any]:
    """The snippet with the query's words marked and where it was taken from: the words as
    written, else the fact's English translation, else its curators' note (both searched)."""
    fallbacks: tuple[tuple[schemas.SnippetOrigin, str | None], ...] = (
        ("translation", translation),
        ("note", note),
    )
    for origin, headline in fallbacks:
        if "<mark>" not in text and headline is not None and "<mark>" in headline:
            return {"snippet": headline, "snippet_from": origin}
    return {"snippet": text, "snippet_from": "text"}


def _marked(headline: str | None, window: str | None, word: str) -> str:
    """The snippet of the words as written: `ts_headline`'s, or a one-word query's window."""
    return (headline or "") if window is None else mark_snippet(window, word)


def mark_snippet(window: str, word: str) -> str:
    """A one-word query's article snippet: the window where the word was found as typed (see
    WINDOW), marked in Python, case aside, where `ts_headline` would parse and stem it all."""
    if not word:
        return window
    for form in _MARKED_AS:
        pattern = re.compile(form.format(re.escape(word)), re.IGNORECASE)
        marked, count = pattern.subn(lambda found: f"<mark>{found.group(0)}</mark>", window)
        if count:
            return marked
    return window


def _names(config: str, groups: int) -> sql.Composable:
    """`&&` each group of names (`%(g0)s`, ...): one of its names must match."""
    return sql.SQL("").join(
        sql.SQL(" && websearch_to_tsquery({}, {})").format(
            sql.Literal(config), sql.Placeholder(f"g{n}")
        )
        for n in range(groups)
    )


@functools.lru_cache(maxsize=1024)
def _search_sql(
    types: tuple[str, ...],
    by_crisis: bool,
    statuses: tuple[str, ...],
    paged: bool,
    rows: int,
    groups: int = 0,
) -> sql.SQL:
    """The search for these types, filters, review statuses, page size and number of names
    widened (service.queries.names), built once: only its values vary, as parameters."""
    sources = Where.of("s.search @@ q.words")
    facts = Where.of("f.search @@ q.query") + reviewed("f", statuses)
    if "source" not in types:
        sources += Where.of("false")
    # The kinds are written into the SQL, one prepared statement per combination: as an
    # array parameter, PostgreSQL judged the generic plan dearer and planned every search.
    kinds = [sql.Literal(kind.value) for kind in FactKind if kind.value in types]
    if not kinds:
        facts += Where.of("false")
    elif len(kinds) < len(FactKind):
        facts += Where.of(sql.SQL("f.kind IN ({})").format(sql.SQL(", ").join(kinds)))
    if by_crisis:
        sources += Where.of("s.crisis_id = %(crisis)s")
        facts += Where.of("f.crisis_id = %(crisis)s")
    after = Where()
    if paged:
        after = Where.of("(-rank, type, id) > (-%(rank)s, %(after_type)s, %(after_id)s)")
    query = _SEARCH_SQL.format(
        sources=sources.joined(),
        facts=facts.joined(),
        after=after.joined(),
        page=sql.Literal(rows),
        limit=limit_clause(rows),
        english_names=_names("english", groups),
        french_names=_names("french", groups),
        **_SEARCH_CONSTANTS,
    )
    return rendered(query)


def whole_words(text: str | None) -> str | None:
    """A fact's title (its words or quotes) cut after a whole word, with an ellipsis: a title
    cut mid-word ("vaincr") reads as a typo."""
    if text is None or len(text) <= TITLE_LENGTH:
        return text
    cut = text[:TITLE_LENGTH]
    space = cut.rfind(" ")
    return (cut[:space] if space > TITLE_LENGTH // 2 else cut).rstrip(" ,;:.…") + "…"


async def search(
    conn: Conn,
    q: str,
    crisis: str | None,
    types: tuple[str, ...],
    limit: int,
    cursor: str | None,
    visibility: Visibility = PUBLIC,
) -> schemas.Page[schemas.SearchHit]:
    """Sources and facts matching `q` (English and French stemming, an actor's or place's
    every name for the one it is called by), best first; facts of the review statuses
    `visibility` sees."""
    near = _near_forms(q)
    expanded = await names.expand(conn, q, crisis)
    params: dict[str, Any] = {"q": expanded.rest, **near, "near_names": _named(expanded)}
    params["shown"] = _shown(expanded)
    params.update({f"g{n}": group for n, group in enumerate(expanded.groups)})
    if crisis is not None:
        params["crisis"] = crisis
    scope = FactFilter(
        crisis=crisis, kind_filters={"q": q, "types": types}, visibility=visibility
    ).scope("search")
    if cursor is not None:
        rank, after_type, after_id = decode_cursor(scope, cursor, (str, str, str))
        try:
            params["rank"] = float(rank)
        except ValueError:
            raise BadCursor("not a cursor issued by this API") from None
        params["after_type"], params["after_id"] = after_type, after_id
    query = _search_sql(
        types,
        crisis is not None,
        visibility.statuses,
        cursor is not None,
        limit + 1,
        len(expanded.groups),
    )
    rows = await fetch_rows(conn, query, params)
    items = [
        schemas.SearchHit(
            type=r[0],
            id=r[1],
            rank=r[2],
            title=(r[3] if r[0] == "source" else whole_words(r[3])) or r[1],
            **_snippet(_marked(r[4], r[5], near["near"]), translation=r[6], note=r[7]),
            href=_HREF[r[0]] + r[1],
        )
        for r in rows[:limit]
    ]
    next_cursor = None
    if len(rows) > limit:
        last = items[-1]
        next_cursor = encode_cursor(scope, [repr(last.rank), last.type, last.id])
    return schemas.Page(items=items, next_cursor=next_cursor)
