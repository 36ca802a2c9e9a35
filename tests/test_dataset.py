"""The curated Kazakhstan dataset against the five articles it comes from.

The tables below were drawn up by reading the articles in fixtures/articles/, not
the YAML: every casualty, arrest and troop figure the articles give must be in the
database as a fact of the right kind citing the right article. The counts per
kind pin the curation: change them only together with the fixtures.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import psycopg
import pytest
from psycopg import sql

Conn = psycopg.Connection[tuple[Any, ...]]

CRISIS = "kazakhstan-2022"
A000 = "000_fd5757eb49514937.txt"  # fr, "Kazakhstan : Derniers développements"
A001 = "001_48a10cba8223f06d.txt"  # fr, arrest of Karim Massimov
A002 = "002_41c8b866e3ccfb2d.txt"  # fr, "Le Conseil de sécurité kazakh ..."
A003 = "003_378a68a9eec595c3.txt"  # fr, EVZ, "La Russie intervient militairement ..."
A004 = "004_d32f03c80d27b2d2.txt"  # en, "Former Kazakh security chief arrested ..."

KIND_TABLE = {
    "casualty": "casualties",
    "arrest": "arrests",
    "deployment": "deployments",
}

# Every number of people killed, injured, arrested or sent that the articles state.
FIGURES: list[tuple[str, str, int]] = [
    (A000, "arrest", 4266),  # "4266 personnes ont été arrêtées" (interior ministry)
    (A000, "arrest", 100),  # "Plus de 100 personnes ont été arrêtées dans un village"
    (A000, "deployment", 150),  # Kyrgyzstan "son intention d'envoyer 150 soldats"
    (A001, "deployment", 2500),  # CSTO operation "environ 2500 hommes"
    (A002, "casualty", 100),  # "Une centaine d'entre eux aurait été abattue"
    (A002, "casualty", 7),  # "7 soldats ont été tués"
    (A002, "arrest", 4400),  # "4 400 personnes ont été interpellées"
    (A002, "casualty", 748),  # "748 soldats ... ont été gravement blessés"
    (A002, "casualty", 18),  # "... et 18 policiers ont été gravement blessés"
    (A003, "casualty", 8),  # "huit policiers ont été tués"
    (A003, "casualty", 317),  # "et 317 autres ont été blessés"
    (A004, "casualty", 26),  # 26 "armed criminals" killed
    (A004, "casualty", 1000),  # "more than a thousand protesters injured"
    (A004, "casualty", 18),  # police "18 killed"
    (A004, "casualty", 748),  # police "748 wounded"
    (A004, "arrest", 4000),  # "More than 4,000 people have been arrested"
]

# The same casualty figures in detail: (article, category, victim group, count, hedge).
CASUALTIES: list[tuple[str, str, str, int, str]] = [
    (A001, "killed", "unspecified", 20, "at_least"),  # "des dizaines de morts"
    (A002, "killed", "jihadists", 100, "about"),
    (A002, "killed", "soldiers", 7, "exact"),
    (A002, "seriously_injured", "soldiers", 748, "exact"),
    (A002, "seriously_injured", "police", 18, "exact"),
    (A003, "killed", "police", 8, "exact"),
    (A003, "injured", "police", 317, "exact"),
    (A004, "killed", "armed_criminals", 26, "exact"),
    (A004, "injured", "protesters", 1000, "more_than"),
    (A004, "killed", "police", 18, "exact"),
    (A004, "injured", "police", 748, "exact"),
]

# Deployment steps: (article, status, sender, count or None).
DEPLOYMENTS: list[tuple[str, str, str, int | None]] = [
    (A000, "announced", "Kyrgyzstan", 150),
    (A000, "approved", "Kyrgyzstan", None),  # by the Kyrgyz parliament, 7 January
    # "Moscou a lancé … une opération … de l'OTSC …, envoyant … environ 2500 hommes": the
    # 2,500 are the CSTO operation's, not Russia's (correction of issue 24)
    (A001, "launched", "Collective Security Treaty Organization", 2500),
    (A002, "requested", "Collective Security Treaty Organization", None),  # Security Council
    (A003, "requested", "Collective Security Treaty Organization", None),  # Tokayev on TV
    # Pashinian: "Moscou et ses alliés de l'OTSC enverraient": the CSTO, not Russia alone
    (A003, "announced", "Collective Security Treaty Organization", None),
    # "A contingent of Russian troops and other countries allied with Moscow arrived"
    (A004, "arrived", "Russia", None),
]

# Named arrests: (article, person, confirmed).
NAMED_ARRESTS: list[tuple[str, str, bool]] = [
    (A000, "Karim Massimov", True),
    (A001, "Karim Massimov", True),
    (A002, "Karim Massimov", True),
    (A002, "Samat Abish", False),  # "cette seconde arrestation n'est pas confirmée"
    (A004, "Karim Massimov", True),
]

KIND_COUNTS = {"statement": 45, "casualty": 11, "deployment": 7, "arrest": 11}


def _one(db: Conn, query: str | sql.Composed, params: tuple[Any, ...] = ()) -> Any:
    row = db.execute(query, params).fetchone()
    assert row is not None
    return row[0]


@pytest.mark.parametrize(("file_name", "kind", "count"), FIGURES)
def test_every_figure_of_the_articles_is_a_fact(
    db: Conn, file_name: str, kind: str, count: int
) -> None:
    query = sql.SQL(
        "SELECT count(DISTINCT f.id) FROM facts f "
        "JOIN {table} k ON k.fact_id = f.id "
        "JOIN citations c ON c.fact_id = f.id "
        "JOIN sources s ON s.id = c.source_id "
        "WHERE f.crisis_id = %s AND f.kind = %s AND k.count = %s AND s.file_name = %s"
    ).format(table=sql.Identifier(KIND_TABLE[kind]))
    found = _one(db, query, (CRISIS, kind, count, file_name))
    assert found >= 1, f"no {kind} fact of {count} citing {file_name}"


@pytest.mark.parametrize(("file_name", "category", "group", "count", "hedge"), CASUALTIES)
def test_casualty_figures_in_detail(
    db: Conn, file_name: str, category: str, group: str, count: int, hedge: str
) -> None:
    found = _one(
        db,
        "SELECT count(DISTINCT f.id) FROM facts f "
        "JOIN casualties k ON k.fact_id = f.id "
        "JOIN citations c ON c.fact_id = f.id JOIN sources s ON s.id = c.source_id "
        "WHERE s.file_name = %s AND k.category = %s AND k.victim_group = %s "
        "AND k.count = %s AND k.hedge = %s",
        (file_name, category, group, count, hedge),
    )
    assert found == 1


@pytest.mark.parametrize(("file_name", "status", "sender", "count"), DEPLOYMENTS)
def test_deployment_steps(
    db: Conn, file_name: str, status: str, sender: str, count: int | None
) -> None:
    found = _one(
        db,
        "SELECT count(DISTINCT f.id) FROM facts f "
        "JOIN deployments d ON d.fact_id = f.id JOIN actors a ON a.id = d.sender_id "
        "JOIN citations c ON c.fact_id = f.id JOIN sources s ON s.id = c.source_id "
        "WHERE s.file_name = %s AND d.status = %s AND a.name = %s "
        "AND d.count IS NOT DISTINCT FROM %s",
        (file_name, status, sender, count),
    )
    assert found == 1


@pytest.mark.parametrize(("file_name", "person", "confirmed"), NAMED_ARRESTS)
def test_named_arrests(db: Conn, file_name: str, person: str, confirmed: bool) -> None:
    rows = db.execute(
        "SELECT DISTINCT r.confirmed FROM facts f "
        "JOIN arrests r ON r.fact_id = f.id JOIN actors a ON a.id = r.person_id "
        "JOIN citations c ON c.fact_id = f.id JOIN sources s ON s.id = c.source_id "
        "WHERE s.file_name = %s AND a.name = %s",
        (file_name, person),
    ).fetchall()
    assert rows == [(confirmed,)]


def test_counts_per_kind(db: Conn) -> None:
    rows = db.execute(
        "SELECT kind, count(*) FROM facts WHERE crisis_id = %s GROUP BY kind", (CRISIS,)
    ).fetchall()
    assert dict(rows) == KIND_COUNTS


def test_every_fact_cites_an_article(db: Conn) -> None:
    uncited = db.execute(
        "SELECT f.id FROM facts f WHERE NOT EXISTS "
        "(SELECT 1 FROM citations c WHERE c.fact_id = f.id)"
    ).fetchall()
    assert uncited == []


def test_quotes_sit_at_their_offsets(db: Conn) -> None:
    wrong = db.execute(
        "SELECT c.fact_id, c.quote FROM citations c JOIN sources s ON s.id = c.source_id "
        "WHERE substr(s.text, c.start_offset + 1, c.end_offset - c.start_offset) <> c.quote"
    ).fetchall()
    assert wrong == []


def test_every_alias_names_one_actor(db: Conn) -> None:
    shared = db.execute(
        "SELECT alias FROM actor_aliases GROUP BY crisis_id, alias "
        "HAVING count(DISTINCT actor_id) > 1"
    ).fetchall()
    assert shared == []
    clashing = db.execute(
        "SELECT al.alias FROM actor_aliases al JOIN actors a "
        "ON a.crisis_id = al.crisis_id AND a.name = al.alias"
    ).fetchall()
    assert clashing == []


@pytest.mark.parametrize(
    ("alias", "name"),
    [
        ("Masimov", "Karim Massimov"),
        ("Nazarbaev", "Nursultan Nazarbayev"),
        ("Nazarbaïev", "Nursultan Nazarbayev"),
        ("OTSC", "Collective Security Treaty Organization"),
        ("OSTC", "Collective Security Treaty Organization"),
        ("Kirghizstan", "Kyrgyzstan"),
        ("Kirghizistan", "Kyrgyzstan"),
        ("Poutine", "Vladimir Putin"),
        ("KNB", "National Security Committee of Kazakhstan"),
    ],
)
def test_spellings_of_the_articles_resolve(db: Conn, alias: str, name: str) -> None:
    rows = db.execute(
        "SELECT a.name FROM actor_aliases al JOIN actors a ON a.id = al.actor_id "
        "WHERE al.crisis_id = %s AND al.alias = %s",
        (CRISIS, alias),
    ).fetchall()
    assert rows == [(name,)]


def test_no_actor_is_unused(db: Conn) -> None:
    unused = db.execute(
        "SELECT a.id FROM actors a WHERE a.crisis_id = %s AND NOT EXISTS "
        "(SELECT 1 FROM fact_actors fa WHERE fa.actor_id = a.id)",
        (CRISIS,),
    ).fetchall()
    assert unused == []


def test_fact_actors_carry_their_facts_dates(db: Conn) -> None:
    # An actor's page filters dates read beside the actor: they must be the facts' own.
    differing = db.execute(
        "SELECT fa.fact_id, fa.occurred_on, f.occurred_on FROM fact_actors fa "
        "JOIN facts f ON f.id = fa.fact_id WHERE fa.occurred_on IS DISTINCT FROM f.occurred_on"
    ).fetchall()
    assert differing == []
    dated = db.execute("SELECT count(*) FROM fact_actors WHERE occurred_on IS NOT NULL").fetchone()
    assert dated is not None and dated[0] > 0


def test_fact_documents_carry_their_facts_dates(db: Conn) -> None:
    # The timeline's export reads answers in the order of this copy of the date.
    differing = db.execute(
        "SELECT d.fact_id, d.occurred_on, f.occurred_on FROM fact_documents d "
        "JOIN facts f ON f.id = d.fact_id WHERE d.occurred_on IS DISTINCT FROM f.occurred_on"
    ).fetchall()
    assert differing == []
    dated = db.execute("SELECT count(*) FROM fact_documents WHERE occurred_on IS NOT NULL")
    assert (row := dated.fetchone()) is not None and row[0] > 0


def test_nationwide_arrests_are_one_disputed_quantity(db: Conn) -> None:
    rows = db.execute(
        "SELECT s.file_name, r.count, r.hedge FROM facts f "
        "JOIN arrests r ON r.fact_id = f.id "
        "JOIN citations c ON c.fact_id = f.id JOIN sources s ON s.id = c.source_id "
        "WHERE f.quantity_key = 'arrests.nationwide' GROUP BY s.file_name, r.count, r.hedge "
        "ORDER BY s.file_name"
    ).fetchall()
    assert rows == [(A000, 4266, "exact"), (A002, 4400, "exact"), (A004, 4000, "more_than")]


@pytest.mark.parametrize(
    ("key", "files"),
    [
        ("killed.police", [A003, A004]),
        ("injured.police", [A003, A004]),
        ("arrest.massimov", [A000, A001, A002, A004]),
        ("deployment.csto", [A001, A002, A003]),  # 004 never names the CSTO
        # 002's ~100 "djihadistes" and 004's 26 "armed criminals": one quantity, two labels
        ("killed.militants", [A002, A004]),
    ],
)
def test_keys_shared_across_articles(db: Conn, key: str, files: list[str]) -> None:
    rows = db.execute(
        "SELECT DISTINCT s.file_name FROM facts f "
        "JOIN citations c ON c.fact_id = f.id JOIN sources s ON s.id = c.source_id "
        "WHERE f.quantity_key = %s ORDER BY s.file_name",
        (key,),
    ).fetchall()
    assert [r[0] for r in rows] == files


def test_each_fact_cites_one_article(db: Conn) -> None:
    """Figures of different articles are never merged into one fact."""
    merged = db.execute(
        "SELECT fact_id FROM citations GROUP BY fact_id HAVING count(DISTINCT source_id) > 1"
    ).fetchall()
    assert merged == []


def test_samat_abish_arrest_is_unconfirmed(db: Conn) -> None:
    rows = db.execute(
        "SELECT r.confirmed, f.verification FROM arrests r "
        "JOIN facts f ON f.id = r.fact_id JOIN actors a ON a.id = r.person_id "
        "WHERE a.name = 'Samat Abish'"
    ).fetchall()
    assert rows == [(False, "unconfirmed")]


def test_2021_dateline_is_stored_as_2022(db: Conn) -> None:
    rows = db.execute(
        "SELECT f.occurred_on, f.date_precision, f.date_note FROM facts f "
        "JOIN citations c ON c.fact_id = f.id "
        "WHERE c.quote LIKE %s",
        ("%le 6 janvier 2021%",),
    ).fetchall()
    assert rows, "the Security Council meeting of '6 janvier 2021' is cited"
    for occurred_on, precision, note in rows:
        assert occurred_on == dt.date(2022, 1, 6)
        assert precision == "day"
        assert note is not None and "2021" in note


def test_december_gloss_is_stored_as_january(db: Conn) -> None:
    rows = db.execute(
        "SELECT DISTINCT f.occurred_on, f.date_note FROM facts f "
        "JOIN citations c ON c.fact_id = f.id WHERE c.quote LIKE %s",
        ("%mercredi 5 décembre%",),
    ).fetchall()
    assert rows
    for occurred_on, note in rows:
        assert occurred_on == dt.date(2022, 1, 5)
        assert note is not None and "décembre" in note


def test_unverifiable_figures_of_004(db: Conn) -> None:
    """004: "These figures might not be independently verified."""
    rows = db.execute(
        "SELECT DISTINCT f.verification FROM facts f "
        "JOIN citations c ON c.fact_id = f.id JOIN sources s ON s.id = c.source_id "
        "WHERE s.file_name = %s "
        "AND (f.kind = 'casualty' OR f.quantity_key = 'arrests.nationwide')",
        (A004,),
    ).fetchall()
    assert rows == [("unverifiable",)]


def test_statement_content_is_in_a_cited_article(db: Conn) -> None:
    missing = db.execute(
        "SELECT st.fact_id FROM statements st WHERE NOT EXISTS ("
        "SELECT 1 FROM citations c JOIN sources s ON s.id = c.source_id "
        "WHERE c.fact_id = st.fact_id AND strpos(s.text, st.content) > 0)"
    ).fetchall()
    assert missing == []


def test_statement_language_is_the_article_language(db: Conn) -> None:
    wrong = db.execute(
        "SELECT st.fact_id FROM statements st JOIN citations c ON c.fact_id = st.fact_id "
        "JOIN sources s ON s.id = c.source_id WHERE s.language <> st.language"
    ).fetchall()
    assert wrong == []
