"""`crisis-facts synth`: a deterministic synthetic crisis that passes the one write path."""

from __future__ import annotations

import msgspec
import pytest
import sqlalchemy as sa

from service import engine, synth
from service.engine.rows import FactRecord, Record
from service.engine.specs import Spec, convert
from service.vocabulary import FactKind

FACTS = 2000


@pytest.fixture(scope="module")
def rows() -> list[Record]:
    return engine.records(synth.generate(FACTS, seed=7))


def facts(records: list[Record]) -> list[FactRecord]:
    return [record for record in records if isinstance(record, FactRecord)]


class TestGenerate:
    def test_same_seed_same_crisis(self, rows: list[Record]) -> None:
        again = engine.records(synth.generate(FACTS, seed=7))
        assert again == rows

    def test_another_seed_another_crisis_under_the_same_id(self, rows: list[Record]) -> None:
        other = engine.records(synth.generate(FACTS, seed=8))
        assert other[0].row.id == rows[0].row.id == synth.crisis_id(FACTS)
        assert [f.citations for f in facts(other)] != [f.citations for f in facts(rows)]

    def test_size(self, rows: list[Record]) -> None:
        assert len(facts(rows)) == FACTS
        assert {f.row.kind for f in facts(rows)} == {k.value for k in FactKind}

    def test_every_record_is_a_valid_fixture_record(self) -> None:
        """The generator builds specs directly, which msgspec does not validate: each one
        must pass the fixture format as strictly as a file's records do."""
        bundle = synth.generate(FACTS, seed=7)
        specs: list[Spec] = [cb.crisis for _, cb in bundle.crises]
        specs += [st.spec for _, st in bundle.sources]
        for _, cb in bundle.crises:
            specs += [*cb.actors, *cb.places, *(fact for _, fact in cb.facts)]
        for spec in specs:
            assert convert(msgspec.to_builtins(spec), type(spec)) == spec

    def test_too_small_is_refused(self) -> None:
        with pytest.raises(ValueError, match="at least"):
            synth.generate(synth.MIN_FACTS - 1)


class TestLoaded:
    """Applied beside the curated crisis, in a transaction rolled back."""

    @pytest.fixture
    def loaded(self, connection: sa.Connection) -> sa.Connection:
        engine.apply(connection, synth.generate(FACTS, seed=7), "synth")
        return connection

    def test_curated_crisis_untouched(self, connection: sa.Connection) -> None:
        count = "SELECT crisis_id, count(*) FROM facts GROUP BY 1"
        before: dict[str, int] = {k: v for k, v in connection.exec_driver_sql(count).all()}
        engine.apply(connection, synth.generate(FACTS, seed=7), "synth")
        after: dict[str, int] = {k: v for k, v in connection.exec_driver_sql(count).all()}
        assert after.pop(synth.crisis_id(FACTS)) == FACTS
        assert after == {k: v for k, v in before.items() if k != synth.crisis_id(FACTS)}
        assert after, "the curated crisis is loaded in the test database"

    def test_every_kind_present(self, loaded: sa.Connection) -> None:
        kinds = loaded.exec_driver_sql(
            "SELECT DISTINCT kind FROM facts WHERE crisis_id = %(c)s", {"c": synth.crisis_id(FACTS)}
        ).scalars()
        assert set(kinds) == {k.value for k in FactKind}

    def test_every_citation_is_a_verbatim_span(self, loaded: sa.Connection) -> None:
        spans = loaded.exec_driver_sql(
            """
            SELECT count(*),
                   count(*) FILTER (WHERE substr(s.text, c.start_offset + 1,
                                                 c.end_offset - c.start_offset) = c.quote)
            FROM citations c JOIN sources s ON s.id = c.source_id
            WHERE s.crisis_id = %(c)s
            """,
            {"c": synth.crisis_id(FACTS)},
        ).one()
        assert spans[0] > FACTS  # some facts cite two articles
        assert spans[1] == spans[0]

    def test_disputes_exist(self, loaded: sa.Connection) -> None:
        disputed = loaded.exec_driver_sql(
            """
            SELECT count(*) FROM (
                SELECT f.quantity_key
                FROM facts f
                JOIN citations c ON c.fact_id = f.id AND c.position = 0
                LEFT JOIN casualties ca ON ca.fact_id = f.id
                LEFT JOIN deployments de ON de.fact_id = f.id
                LEFT JOIN arrests ar ON ar.fact_id = f.id
                WHERE f.crisis_id = %(c)s AND f.quantity_key IS NOT NULL
                GROUP BY f.quantity_key
                HAVING count(DISTINCT c.source_id) > 1
                   AND count(DISTINCT (coalesce(ca.count, de.count, ar.count),
                                       coalesce(ca.hedge, de.hedge, ar.hedge))) > 1
            ) k
            """,
            {"c": synth.crisis_id(FACTS)},
        ).scalar_one()
        assert disputed > 20

    def test_search_finds_generated_words(self, loaded: sa.Connection) -> None:
        found = loaded.exec_driver_sql(
            "SELECT count(*) FROM facts WHERE crisis_id = %(c)s AND search IS NOT NULL",
            {"c": synth.crisis_id(FACTS)},
        ).scalar_one()
        assert found == FACTS
