"""The four kinds of fact and the timeline: one class per operation.

Every filter test checks the answer item by item against the unfiltered list, so a filter
that keeps too much, drops too much or reorders fails; and it picks a value that removes
something, so the test could fail at all.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from enum import StrEnum
from typing import Any, ClassVar

import pytest

from service import vocabulary
from service.settings import Settings
from tests.apiclient import (
    CRISIS,
    FACT_LISTS,
    Client,
    Item,
    ids,
    invalid,
    ok,
    problem,
    serve,
    walk,
)

Values = Callable[[Item], Iterable[Any]]


def pick(items: list[Item], values: Values) -> Any | None:
    """The value most items have without all of them having it: a filter on it both keeps
    and removes. None when every item has the same values."""
    counts = Counter(v for item in items for v in set(values(item)))
    telling = [v for v, n in counts.most_common() if n < len(items)]
    return telling[0] if telling else None


def check_filter(
    client: Client,
    path: str,
    name: str,
    value: Any,
    keep: Callable[[Item], bool],
    **base: Any,
) -> list[Item]:
    """`name=value` answers exactly the items `keep` accepts, in the same order, and fewer
    than without it."""
    everything = walk(client, path, **base)
    narrowing: dict[str, Any] = {**base, name: param(value)}
    narrowed = walk(client, path, **narrowing)
    assert all(keep(item) for item in narrowed), f"{name}={value} let through other items"
    assert ids(narrowed) == [item["id"] for item in everything if keep(item)]
    assert len(narrowed) < len(everything), f"{name}={value} removes nothing: the test is void"
    return narrowed


def param(value: Any) -> str:
    return ("true" if value else "false") if isinstance(value, bool) else str(value)


def languages(client: Client) -> dict[str, str]:
    return {s["id"]: s["language"] for s in walk(client, "/v1/sources")}


def citing(item: Item) -> set[str]:
    return {c["source_id"] for c in item["citations"]}


def day(item: Item) -> str | None:
    """The first day of a fact's date (`2022-01` is 2022-01-01): what since and until compare."""
    if not item["date"]:
        return None
    value: str = item["date"]["value"]
    return value + "-01" * (2 - value.count("-"))


def median_day(items: list[Item]) -> str:
    days = sorted(d for item in items if (d := day(item)) is not None)
    assert len(set(days)) > 1, "the data has a single date: since/until cannot be tested"
    return days[len(days) // 2]


# The filters every fact list and the timeline share: the values an item has for each.
COMMON: dict[str, Values] = {
    "crisis": lambda item: [item["crisis_id"]],
    "actor": lambda item: [a["id"] for a in item["actors"]],
    "source": citing,
    "verification": lambda item: [item["verification"]],
    "key": lambda item: [item["quantity_key"]] if item["quantity_key"] else [],
}

ABSENT = {
    "crisis": "no-such-crisis",
    "actor": "no-such-actor",
    "source": "no-such-source",
    "key": "no.such.key",
}

NAMING_NOTHING = {ABSENT["crisis"], ABSENT["actor"], ABSENT["source"]}


def absent(items: list[Item], name: str) -> str:
    """A valid value of filter `name` that no item has: filtering on it removes everything."""
    if name in ABSENT:
        return ABSENT[name]
    assert name == "verification"
    present = {v for item in items for v in COMMON[name](item)}
    return next(v.value for v in vocabulary.Verification if v.value not in present)


@pytest.fixture(scope="module")
def client(settings: Settings) -> Iterator[Client]:
    """Overrides conftest's: an app without the rate limit, for thousands of requests."""
    with serve(settings) as client:
        yield client


class FactListCases:
    """The cases every fact list answers; subclasses name the list and its own filters."""

    path: ClassVar[str]
    kind: ClassVar[str]
    own_filters: ClassVar[dict[str, type[StrEnum] | type[bool]]] = {}

    def test_lists_every_fact_of_its_kind_once_in_id_order(self, client: Client) -> None:
        items = walk(client, self.path)
        assert items, f"the curated data has no {self.kind}"
        assert {item["kind"] for item in items} == {self.kind}
        assert ids(items) == sorted(set(ids(items)))
        assert all(item["crisis_id"] == CRISIS for item in items)
        assert all(item["citations"] for item in items), "every fact rests on a citation"

    @pytest.mark.parametrize("name", sorted(COMMON))
    def test_common_filter(self, client: Client, name: str) -> None:
        items = walk(client, self.path)
        values = COMMON[name]
        value = pick(items, values) or absent(items, name)
        if value in NAMING_NOTHING:  # an id naming nothing is a 404: tests/test_named_filters.py
            problem(client, self.path, 404, **{name: value})
            return
        narrowed = check_filter(client, self.path, name, value, lambda i: value in values(i))
        if pick(items, values) is not None:
            assert narrowed

    def test_crisis_filter_keeps_its_crisis(self, client: Client) -> None:
        assert walk(client, self.path, crisis=CRISIS) == walk(client, self.path)

    def test_language_filter(self, client: Client) -> None:
        lang = languages(client)
        items = walk(client, self.path)
        value = pick(items, lambda i: {lang[s] for s in citing(i)}) or "en"
        check_filter(
            client, self.path, "language", value, lambda i: value in {lang[s] for s in citing(i)}
        )

    def test_since_until(self, client: Client) -> None:
        items = walk(client, self.path)
        days = sorted({d for i in items if (d := day(i)) is not None})
        assert days, f"some {self.kind} facts are dated"
        after_last = (dt.date.fromisoformat(days[-1]) + dt.timedelta(days=1)).isoformat()
        before_first = (dt.date.fromisoformat(days[0]) - dt.timedelta(days=1)).isoformat()
        assert check_filter(client, self.path, "since", after_last, lambda i: False) == []
        assert check_filter(client, self.path, "until", before_first, lambda i: False) == []
        if len(days) < 2:
            return  # one date only: the bounds above are all a narrower filter can show
        middle = median_day(items)

        def after(i: Item) -> bool:
            return (d := day(i)) is not None and d >= middle

        def before(i: Item) -> bool:
            return (d := day(i)) is not None and d <= middle

        check_filter(client, self.path, "since", middle, after)
        check_filter(client, self.path, "until", middle, before)
        on_the_day = check_filter(
            client, self.path, "since", middle, lambda i: day(i) == middle, until=middle
        )
        assert on_the_day

    def test_actor_with_dates_pages_through_exactly_its_facts(self, client: Client) -> None:
        # Pins the actor filter, which pages by walking the actor's facts of one kind in
        # id order: small pages must give every fact involving the actor in the date
        # range, once each, in id order, and nothing else.
        items = walk(client, self.path)
        involved = Counter(a["id"] for i in items if day(i) is not None for a in i["actors"])
        actor = involved.most_common(1)[0][0]
        dated = [i for i in items if day(i) is not None and actor in {a["id"] for a in i["actors"]}]
        since = min(day(i) or "" for i in dated)
        until = median_day(dated) if len({day(i) for i in dated}) > 1 else since
        expected = [i["id"] for i in dated if since <= (day(i) or "") <= until]
        assert expected
        found = walk(client, self.path, limit=1, actor=actor, since=since, until=until)
        assert ids(found) == expected

    def test_actor_dates_and_another_filter_page_through_exactly_their_facts(
        self, client: Client
    ) -> None:
        # The actor's dates are read beside the actor, other filters on each fact walked:
        # both must hold for every fact given, and no fact meeting both may be skipped.
        items = walk(client, self.path)
        involved = Counter(a["id"] for i in items if day(i) is not None for a in i["actors"])
        actor = involved.most_common(1)[0][0]
        dated = [i for i in items if day(i) is not None and actor in {a["id"] for a in i["actors"]}]
        since, until = min(day(i) or "" for i in dated), max(day(i) or "" for i in dated)
        verification = Counter(i["verification"] for i in dated).most_common(1)[0][0]
        expected = [i["id"] for i in dated if i["verification"] == verification]
        found = walk(
            client,
            self.path,
            limit=1,
            actor=actor,
            since=since,
            until=until,
            verification=verification,
        )
        assert expected
        assert ids(found) == expected

    def test_until_before_since_is_refused(self, client: Client) -> None:
        invalid(client, self.path, "until", since="2022-01-08", until="2022-01-07")

    def test_own_filter(self, client: Client, own_filter: str) -> None:
        items = walk(client, self.path)
        vocab = self.own_filters[own_filter]

        def values(i: Item) -> list[Any]:
            return [] if i[own_filter] is None else [i[own_filter]]

        value = pick(items, values)
        if value is None:
            present = {v for i in items for v in values(i)}
            choices = [True, False] if vocab is bool else [v.value for v in vocab]
            value = next(v for v in choices if v not in present)
        check_filter(client, self.path, own_filter, value, lambda i: i[own_filter] == value)

    def test_own_filter_refuses_unknown_values(self, client: Client, own_filter: str) -> None:
        invalid(client, self.path, own_filter, **{own_filter: "zombies"})

    @pytest.mark.parametrize("name", ["crisis", "actor", "source", "key"])
    def test_malformed_ids_are_refused(self, client: Client, name: str) -> None:
        invalid(client, self.path, name, **{name: "Not A Slug!"})

    @pytest.mark.parametrize("name", ["verification", "language"])
    def test_unknown_enum_values_are_refused(self, client: Client, name: str) -> None:
        invalid(client, self.path, name, **{name: "zombies"})

    def test_unknown_ids_are_not_found(self, client: Client) -> None:
        problem(client, self.path, 404, actor="no-such-actor")


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "own_filter" in metafunc.fixturenames:
        own = sorted(getattr(metafunc.cls, "own_filters", {}))
        assert own, f"{metafunc.cls} lists facts of a kind: it declares that kind's filters"
        metafunc.parametrize("own_filter", own)


class TestListStatements(FactListCases):
    path = FACT_LISTS["statement"]
    kind = "statement"
    own_filters = {"mode": vocabulary.StatementMode, "channel": vocabulary.Channel}

    def test_direct_quotes_are_verbatim(self, client: Client) -> None:
        direct = walk(client, self.path, mode="direct")
        assert direct
        for statement in direct:
            assert any(statement["content"] in c["quote"] for c in statement["citations"]), (
                statement["id"]
            )
            assert statement["speaker"]["id"] in {a["id"] for a in statement["actors"]}


class TestListCasualties(FactListCases):
    path = FACT_LISTS["casualty"]
    kind = "casualty"
    own_filters = {"category": vocabulary.CasualtyCategory, "victim_group": vocabulary.VictimGroup}

    def test_every_casualty_has_a_figure(self, client: Client) -> None:
        for item in walk(client, self.path):
            figure = item["figure"]
            assert figure["count"] >= 0 and figure["hedge"] in set(vocabulary.Hedge)

    def test_unknown_category_names_the_parameter(self, client: Client) -> None:
        invalid(client, self.path, "category", category="zombies")


class TestListDeployments(FactListCases):
    path = FACT_LISTS["deployment"]
    kind = "deployment"
    own_filters = {"status": vocabulary.DeploymentStatus}


class TestListArrests(FactListCases):
    path = FACT_LISTS["arrest"]
    kind = "arrest"
    own_filters = {"confirmed": bool}

    def test_nationwide_figures_of_three_sources(self, client: Client) -> None:
        nationwide = walk(client, self.path, key="arrests.nationwide")
        counts = sorted(item["figure"]["count"] for item in nationwide)
        assert counts == [4000, 4266, 4400]
        assert len({s for item in nationwide for s in citing(item)}) == 3

    def test_massimov_arrest_is_found_through_his_id(self, client: Client) -> None:
        arrests = walk(client, self.path, actor="karim-massimov")
        assert any((a["person"] or {}).get("id") == "karim-massimov" for a in arrests)

    def test_confirmed_must_be_a_boolean(self, client: Client) -> None:
        invalid(client, self.path, "confirmed", confirmed="maybe")


class FactDetailCases:
    path: ClassVar[str]
    kind: ClassVar[str]

    def test_every_listed_fact_reads_back_the_same(self, client: Client) -> None:
        items = walk(client, self.path)
        for item in items:
            assert ok(client, f"{self.path}/{item['id']}") == item

    def test_unknown_id_is_not_found(self, client: Client) -> None:
        body = problem(client, f"{self.path}/no-such-fact", 404)
        assert "no-such-fact" in body["detail"]

    def test_a_fact_of_another_kind_is_not_found_here(self, client: Client) -> None:
        other = next(k for k in FACT_LISTS if k != self.kind)
        other_id = walk(client, FACT_LISTS[other], limit=1)[0]["id"]
        problem(client, f"{self.path}/{other_id}", 404)

    def test_malformed_id_is_refused(self, client: Client) -> None:
        invalid(client, f"{self.path}/Not%20An%20Id", "fact_id")


class TestGetStatement(FactDetailCases):
    path = FACT_LISTS["statement"]
    kind = "statement"


class TestGetCasualty(FactDetailCases):
    path = FACT_LISTS["casualty"]
    kind = "casualty"


class TestGetDeployment(FactDetailCases):
    path = FACT_LISTS["deployment"]
    kind = "deployment"


class TestGetArrest(FactDetailCases):
    path = FACT_LISTS["arrest"]
    kind = "arrest"


class TestGetTimeline:
    path = "/v1/timeline"

    def test_dated_facts_of_every_kind_in_date_then_id_order(self, client: Client) -> None:
        items = walk(client, self.path)
        keys = [(day(i), i["id"]) for i in items]
        assert all(d is not None for d, _ in keys)
        assert keys == sorted(keys)
        dated = [i for path in FACT_LISTS.values() for i in walk(client, path) if day(i)]
        assert sorted(ids(items)) == sorted(ids(dated))
        assert len({i["kind"] for i in items}) > 1

    def test_kind_filter_repeats(self, client: Client) -> None:
        everything = walk(client, self.path)
        kinds = Counter(i["kind"] for i in everything)
        one, two = (kind for kind, _ in kinds.most_common(2))
        check_filter(client, self.path, "kind", one, lambda i: i["kind"] == one)
        both = walk(client, self.path, kind=[one, two])
        assert {i["kind"] for i in both} == {one, two}
        assert ids(both) == [i["id"] for i in everything if i["kind"] in {one, two}]

    @pytest.mark.parametrize("name", sorted(COMMON))
    def test_common_filter(self, client: Client, name: str) -> None:
        items = walk(client, self.path)
        values = COMMON[name]
        value = pick(items, values) or absent(items, name)
        if value in NAMING_NOTHING:  # an id naming nothing is a 404: tests/test_named_filters.py
            problem(client, self.path, 404, **{name: value})
            return
        check_filter(client, self.path, name, value, lambda i: value in values(i))

    def test_language_filter(self, client: Client) -> None:
        lang = languages(client)
        check_filter(
            client, self.path, "language", "en", lambda i: "en" in {lang[s] for s in citing(i)}
        )

    def test_since_until(self, client: Client) -> None:
        middle = median_day(walk(client, self.path))
        check_filter(client, self.path, "since", middle, lambda i: (day(i) or "") >= middle)
        check_filter(client, self.path, "until", middle, lambda i: (day(i) or "") <= middle)

    def test_until_before_since_is_refused(self, client: Client) -> None:
        invalid(client, self.path, "until", since="2022-01-08", until="2022-01-01")

    def test_unknown_kind_is_refused(self, client: Client) -> None:
        invalid(client, self.path, "kind", kind="zombie")

    def test_malformed_date_is_refused(self, client: Client) -> None:
        invalid(client, self.path, "since", since="8 January")
