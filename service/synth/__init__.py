"""A synthetic crisis of any size, for benchmarks: `crisis-facts synth --facts N [--seed S]`.

The same seed and size always give the same crisis `synth-<N>`: articles whose text is
made of the sentences their facts cite, actors with aliases, places, and facts of every
kind. An event is reported by one to four sources, each source's fact its own row, so
quantities measured by several sources with different figures become disputes. The
result is an `engine.Bundle`, checked and applied by the one write path like `fixtures/`.
"""

from __future__ import annotations

import datetime as dt
import random
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field

import msgspec

from service.engine.read import Bundle, CrisisBundle, SourceText
from service.engine.specs import (
    ActorSpec,
    Alias,
    CitationSpec,
    Coordinates,
    CrisisSpec,
    FactSpec,
    PlaceSpec,
    SourceSpec,
)
from service.synth.events import Event
from service.synth.words import (
    DAYS,
    ENDINGS,
    FILLER,
    FIRST,
    GROUP_KINDS,
    HEDGE_WORDS,
    HEDGES,
    KINDS,
    LANGUAGES,
    MONTHS,
    ORG_KINDS,
    OUTLETS,
    PLACE_HEADS,
    PLACE_TAILS,
    REPORTS,
    ROOTS,
    START,
    STATES,
    SYNTH_FILE,
    Report,
    T,
)
from service.synth.words import (
    MIN_FACTS as MIN_FACTS,
)
from service.vocabulary import (
    ActorKind,
    Hedge,
    Language,
)


def crisis_id(facts: int) -> str:
    return f"synth-{facts}"


@dataclass(frozen=True)
class Sizes:
    """How many of everything a crisis of `facts` facts has."""

    facts: int
    sources: int
    actors: int
    places: int

    @classmethod
    def of(cls, facts: int) -> Sizes:
        return cls(
            facts=facts,
            sources=max(8, facts // 16),
            actors=max(24, facts // 400),
            places=max(8, facts // 2500),
        )


def _slug(text: str) -> str:
    out = "".join(c if c.isalnum() and c.isascii() else "-" for c in text.lower())
    return "-".join(part for part in out.split("-") if part)


@dataclass
class _Cast:
    """Everyone and everywhere the events draw from."""

    places: list[PlaceSpec]
    actors: list[ActorSpec]
    officials: list[ActorSpec] = field(default_factory=list)
    suspects: list[ActorSpec] = field(default_factory=list)
    authorities: list[ActorSpec] = field(default_factory=list)
    states: list[ActorSpec] = field(default_factory=list)
    spelling: dict[tuple[str, Language], str] = field(default_factory=dict)
    slug: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        people = [a for a in self.actors if a.kind == ActorKind.PERSON]
        self.officials = [a for a in people if a.role == "official"] or people
        self.suspects = [a for a in people if a.role != "official"] or people
        organizations = [a for a in self.actors if a.kind == ActorKind.ORGANIZATION]
        self.authorities = organizations + self.officials
        self.states = [a for a in self.actors if a.kind == ActorKind.STATE]
        for actor in self.actors:
            french = next((a.name for a in actor.aliases if a.language == Language.FR), None)
            self.spelling[actor.id, Language.EN] = actor.name
            self.spelling[actor.id, Language.FR] = french or actor.name
            self.slug[actor.id] = _slug(actor.name)
        for place in self.places:
            self.slug[place.id] = _slug(place.name)


class Generator:
    """Two passes over the same random events: the first writes the articles, the second
    yields the facts citing them, so that facts never all sit in memory at once."""

    def __init__(self, facts: int, seed: int) -> None:
        if facts < MIN_FACTS:
            raise ValueError(f"a synthetic crisis needs at least {MIN_FACTS} facts")
        self.sizes = Sizes.of(facts)
        self.seed = f"crisis-facts synth {seed} {facts}"
        self.crisis = crisis_id(facts)
        rng = random.Random(self.seed + " cast")
        places = self._places(rng)
        self.cast = _Cast(places, self._actors(rng, places))
        self.sources = self._sources(rng)
        self.dates = [(START + dt.timedelta(days=d)) for d in range(DAYS + 1)]
        self.words = {
            (d, p, lang): self._date_words(self.dates[d], p, lang)
            for d in range(DAYS + 1)
            for p in ("day", "month", "none")
            for lang in LANGUAGES
        }
        # Set per pass by `_reports`.
        self.rng = random.Random()
        self.made = 0
        self.counters: dict[str, int] = {}

    # ------------------------------------------------------------ cast

    def _places(self, rng: random.Random) -> list[PlaceSpec]:
        names = [head + tail for tail in PLACE_TAILS for head in PLACE_HEADS]
        rng.shuffle(names)
        places = []
        for i in range(self.sizes.places):
            base = names[i % len(names)]
            name = base if i < len(names) else f"{base}-{i // len(names) + 1}"
            coords = None
            if i % 4 != 3:
                coords = Coordinates(
                    lat=round(41 + 14 * rng.random(), 4),
                    lon=round(47 + 40 * rng.random(), 4),
                    source="synthetic: drawn at random within the country's bounding box",
                )
            places.append(
                PlaceSpec(
                    id=f"{self.crisis}.place.{i:05d}",
                    name=name,
                    aliases=[Alias(name=name.upper())] if i % 3 == 0 else [],
                    coordinates=coords,
                )
            )
        return places

    def _actors(self, rng: random.Random, places: list[PlaceSpec]) -> list[ActorSpec]:
        """Persons, organizations, states and groups, every name and alias unique."""
        n = self.sizes.actors
        taken: set[str] = set()
        actors: list[ActorSpec] = []

        def add(kind: ActorKind, name: str, role: str, aliases: list[Alias]) -> None:
            if name in taken:
                return
            taken.add(name)
            fresh = []
            for alias in aliases:
                if alias.name not in taken:
                    taken.add(alias.name)
                    fresh.append(alias)
            actors.append(
                ActorSpec(
                    id=f"{self.crisis}.actor.{len(actors):05d}",
                    kind=kind,
                    name=name,
                    role=role,
                    aliases=fresh,
                )
            )

        for state in STATES[: max(4, n // 20)]:
            add(ActorKind.STATE, state, "state", [])
        add(
            ActorKind.ORGANIZATION,
            "Collective Security Treaty Organization",
            "military alliance",
            [Alias(name="CSTO", language=Language.EN), Alias(name="OTSC", language=Language.FR)],
        )
        organizations = [(place.name, kind) for kind in ORG_KINDS for place in places]
        groups = [(place.name, kind) for kind in GROUP_KINDS for place in places]
        people = [(first, root + end) for end in ENDINGS for root in ROOTS for first in FIRST]
        rng.shuffle(people)
        while len(actors) < n:
            pick = rng.random()
            if pick < 0.6 and people:
                first, last = people.pop()
                name = f"{first} {last}"
                french = (
                    name.replace("kh", "h").replace("zh", "j").replace("y", "i").replace("u", "ou")
                )
                aliases = [Alias(name=f"{first[0]}. {last}", language=Language.EN)]
                if french != name:
                    aliases.append(Alias(name=french, language=Language.FR))
                add(ActorKind.PERSON, name, "official" if pick < 0.3 else "public figure", aliases)
            elif pick < 0.85 and organizations:
                place, kind = organizations.pop(rng.randrange(len(organizations)))
                add(ActorKind.ORGANIZATION, f"{place} {kind}", "authority", [])
            elif groups:
                place, kind = groups.pop(rng.randrange(len(groups)))
                add(ActorKind.GROUP, f"{place} {kind}", "civil society", [])
            elif not people:
                raise ValueError("too many actors asked for the name lists")
        return actors

    def _sources(self, rng: random.Random) -> list[SourceSpec]:
        n = self.sizes.sources
        sources = []
        for i in range(n):
            outlet, language = OUTLETS[rng.randrange(len(OUTLETS))]
            day = START + dt.timedelta(days=i * DAYS // n + rng.randrange(2))
            sources.append(
                SourceSpec(
                    id=f"{self.crisis}.article.{i:06d}",
                    file=f"{self.crisis}/{i:06d}.txt",
                    crisis=self.crisis,
                    title="-",  # set once the text is known
                    language=language,
                    published=day.isoformat(),
                    published_note="synthetic: the day the article's window of events begins",
                    outlet=outlet,
                    url=f"https://news.example/{_slug(outlet)}/{i}",
                )
            )
        return sources

    # ------------------------------------------------------------ events

    @staticmethod
    def _date_words(day: dt.date, precision: str, language: Language) -> str:
        month = MONTHS[language][day.month - 1]
        if language == Language.EN:
            if precision == "day":
                return f"on {day.day} {month}"
            return f"in {month}" if precision == "month" else "during the unrest"
        if precision == "day":
            return f"le {day.day} {month}"
        return f"en {month}" if precision == "month" else "pendant les troubles"

    def _pick(self, items: Sequence[T]) -> T:
        return items[int(self.rng.random() * len(items))]

    def _figure(self, base: int, disputed: bool) -> tuple[int, int | None, Hedge]:
        random_ = self.rng.random
        if not disputed:
            return base, None, Hedge.EXACT
        count = max(1, base + int((random_() - 0.4) * (base // 2 + 5)))
        hedge = HEDGES[int(random_() * len(HEDGES))]
        count_max = count + 1 + int(random_() * (count // 4 + 1)) if hedge == Hedge.RANGE else None
        return count, count_max, hedge

    @staticmethod
    def _amount(figure: tuple[int, int | None, Hedge], language: Language) -> str:
        count, count_max, hedge = figure
        return HEDGE_WORDS[language][hedge].format(n=count, m=count_max)

    def _id(self, kind: str) -> str:
        n = self.counters[kind] = self.counters.get(kind, 0) + 1
        return f"{self.crisis}.{kind}.{n:07d}"

    def _reports(self) -> Iterator[tuple[int, int | None, FactSpec, str, list[CitationSpec]]]:
        """Every report of every event: (source, relaying source or None, fact, sentence,
        the fact's citation list to fill). The same sequence on every call."""
        self.rng = rng = random.Random(self.seed + " events")
        self.made = 0
        self.counters = {}
        random_ = rng.random
        total = self.sizes.facts
        n_sources = len(self.sources)
        window = min(n_sources, 48)
        places = self.cast.places
        languages = [s.language for s in self.sources]
        while self.made < total:
            kind = KINDS[int(random_() * len(KINDS))]
            reports = min(REPORTS[int(random_() * len(REPORTS))], total - self.made)
            offset = int(random_() * DAYS)
            roll = random_()
            precision = "day" if roll < 0.88 else "month" if roll < 0.97 else "none"
            place = places[int(len(places) * random_() ** 1.5)]
            low = min(max(0, offset * n_sources // DAYS - window // 2), n_sources - window)
            chosen: list[int] = []
            while len(chosen) < min(reports + 1, window):
                pick = low + int(random_() * window)
                if pick not in chosen:
                    chosen.append(pick)
            event = Event(self, offset, precision, place)
            report: Report = getattr(event, kind)()
            relay = chosen[reports] if len(chosen) > reports else None
            for index in chosen[:reports]:
                citations: list[CitationSpec] = []
                fact, sentence = report(languages[index], citations)
                relayed = relay is not None and random_() < 0.25
                if relay is not None and languages[relay] != languages[index]:
                    relayed = False  # a relay repeats the words: only in the same language
                self.made += 1
                yield index, relay if relayed else None, fact, sentence, citations

    # ------------------------------------------------------------ the two passes

    def _articles(self) -> tuple[list[SourceText], dict[tuple[int, str], int]]:
        """Pass one: each article's text is the sentences its facts cite, between fillers.
        Also which (article, sentence) occur more than once in their text, and as which."""
        sentences: list[dict[str, None]] = [{} for _ in self.sources]
        for index, relay, _, sentence, _ in self._reports():
            sentences[index][sentence] = None
            if relay is not None:
                sentences[relay][sentence] = None
        rng = random.Random(self.seed + " text")
        texts = []
        repeated: dict[tuple[int, str], int] = {}
        for index, spec in enumerate(self.sources):
            filler = FILLER[spec.language]
            body = list(sentences[index])
            sentences[index] = {}
            # A title cut short of any whole sentence, so it never repeats a quote.
            first = body[0] if body else filler[0]
            title = first[:60].rsplit(" ", 1)[0] + " …"
            head = f"{title}\n\n{self._pick_with(rng, filler)} "
            text = head + " ".join(body) + f" {self._pick_with(rng, filler)}\n"
            offset = len(head)
            for sentence in body:
                if text.count(sentence) > 1:
                    repeated[index, sentence] = _count_overlapping(text, sentence, offset) + 1
                offset += len(sentence) + 1
            texts.append(SourceText(msgspec.structs.replace(spec, title=title), text))
        return texts, repeated

    @staticmethod
    def _pick_with(rng: random.Random, items: Sequence[str]) -> str:
        return items[int(rng.random() * len(items))]

    def _facts(self, repeated: dict[tuple[int, str], int]) -> Iterator[tuple[str, FactSpec]]:
        """Pass two: the same events again, now as facts citing the finished articles."""
        ids = [s.id for s in self.sources]
        for index, relay, fact, sentence, citations in self._reports():
            citations.append(
                CitationSpec(
                    source=ids[index], quote=sentence, occurrence=repeated.get((index, sentence))
                )
            )
            if relay is not None:
                citations.append(
                    CitationSpec(
                        source=ids[relay],
                        quote=sentence,
                        occurrence=repeated.get((relay, sentence)),
                    )
                )
            yield SYNTH_FILE, fact

    def bundle(self) -> Bundle:
        texts, repeated = self._articles()
        crisis = CrisisSpec(
            id=self.crisis,
            name=f"Synthetic unrest ({self.sizes.facts:,} facts)",
            summary="A generated crisis for benchmarks: every quote occurs in its generated "
            "article, every figure is one source's claim.",
            country="Synthetic Republic",
            start=START.isoformat(),
            end=(START + dt.timedelta(days=DAYS)).isoformat(),
        )
        folder = CrisisBundle(
            crisis,
            actors=self.cast.actors,
            places=self.cast.places,
            facts=self._facts(repeated),
        )
        return Bundle(
            crises=[(f"synth/facts/{self.crisis}/crisis.yaml", folder)],
            sources=[(SYNTH_FILE, text) for text in texts],
        )


def _count_overlapping(text: str, quote: str, end: int) -> int:
    """How many times `quote` starts before `end`, counting overlaps as the loader does."""
    count = 0
    at = text.find(quote)
    while at != -1 and at < end:
        count += 1
        at = text.find(quote, at + 1)
    return count


def timed(bundle: Bundle, already: float = 0.0) -> Callable[[], float]:
    """Count the time spent generating facts as the loader reads them; the returned
    function gives it in seconds, plus `already` (the articles, made up front)."""
    spent = [already]

    def clocked(facts: Iterable[tuple[str, FactSpec]]) -> Iterator[tuple[str, FactSpec]]:
        iterator = iter(facts)
        while True:
            began = time.perf_counter()
            item = next(iterator, None)
            spent[0] += time.perf_counter() - began
            if item is None:
                return
            yield item

    for _, folder in bundle.crises:
        folder.facts = clocked(folder.facts)
    return lambda: spent[0]


def generate(facts: int, seed: int = 1) -> Bundle:
    """The loader's input for crisis `synth-<facts>`: the same for the same size and seed.

    The crisis's facts are produced while the loader reads them (an iterator, consumed
    once), so a million facts never sit in memory together."""
    return Generator(facts, seed).bundle()
