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
from typing import TypeVar

import msgspec

from service.engine.read import Bundle, CrisisBundle, SourceText
from service.engine.specs import (
    ActorSpec,
    Alias,
    ArrestSpec,
    CasualtySpec,
    CitationSpec,
    Coordinates,
    CrisisSpec,
    DeploymentSpec,
    FactSpec,
    PlaceSpec,
    SourceSpec,
    StatementSpec,
)
from service.vocabulary import (
    ActorKind,
    CasualtyCategory,
    Channel,
    DeploymentStatus,
    Hedge,
    Language,
    StatementMode,
    Verification,
    VictimGroup,
)

MIN_FACTS = 50
"""Below this the crisis cannot use every actor it creates, which the loader refuses."""

T = TypeVar("T")

START = dt.date(2024, 3, 1)
DAYS = 120

_FIRST = (
    "Aidar Aigerim Arman Asel Bakhyt Daniyar Dana Yerlan Gulnara Kairat Marat Nurlan Saule "
    "Timur Zhanna Askar Dinara Yerbol Madina Serik Ainur Berik Aliya Rustam Samal Olzhas "
    "Aizhan Erzhan Kamila Murat"
).split()
_ROOTS = (
    "Abdi Bek Daulet Ermek Ibra Kassym Mukan Nurpeis Omar Rakhim Sadyk Tulegen Ute Zhaksy "
    "Akhmet Baimukhan Iskak Kuanysh Mamyr Sultan Tokta Zhumag Kenzhe Amanzhol Yessen Sarsen "
    "Baitur Kozha Syzdyk Temir Zhetpis Orazal Tursyn Karim Nazar Sagin Dzhumab Alim Ospan Seit"
).split()
_ENDINGS = ("ov", "ev", "bekov", "bayev", "uly")
_PLACE_HEADS = (
    "Ak Kara Kyzyl Zhana Taldy Ust Shym Ekiba Pavlo Semey Aral Balkh Kos Sary Tas Zhezk Uzyn "
    "Kok Shu Mangy"
).split()
_PLACE_TAILS = (
    "tau su kol ozen korgan kent bulak tobe agash sai kum tas dar shy arka zhol yrga lik"
).split()
_STATES = (
    "Russia China Belarus Armenia Tajikistan Kyrgyzstan Uzbekistan Turkey France Germany "
    "Poland Georgia Mongolia Iran India Japan Italy Spain Canada Brazil"
).split()
_ORG_KINDS = (
    "Police Department",
    "City Hospital",
    "Akimat",
    "Prosecutor's Office",
    "Emergency Service",
    "Health Department",
)
_GROUP_KINDS = ("protest committee", "workers' union", "residents' council", "youth movement")
_OUTLETS = (
    ("Orda.kz", Language.EN),
    ("Steppe Wire", Language.EN),
    ("Eurasia Desk", Language.EN),
    ("Central Asia Monitor", Language.EN),
    ("Le Courrier d'Asie", Language.FR),
    ("Nouvelles des Steppes", Language.FR),
)
_MONTHS_EN = "January February March April May June July August September October November December"
_MONTHS_FR = "janvier février mars avril mai juin juillet août septembre octobre novembre décembre"
MONTHS = {Language.EN: _MONTHS_EN.split(), Language.FR: _MONTHS_FR.split()}

_HEDGE_WORDS = {
    Language.EN: {
        Hedge.EXACT: "{n}",
        Hedge.AT_LEAST: "at least {n}",
        Hedge.MORE_THAN: "more than {n}",
        Hedge.ABOUT: "about {n}",
        Hedge.UP_TO: "up to {n}",
        Hedge.RANGE: "between {n} and {m}",
    },
    Language.FR: {
        Hedge.EXACT: "{n}",
        Hedge.AT_LEAST: "au moins {n}",
        Hedge.MORE_THAN: "plus de {n}",
        Hedge.ABOUT: "environ {n}",
        Hedge.UP_TO: "jusqu'à {n}",
        Hedge.RANGE: "entre {n} et {m}",
    },
}
_VICTIMS = {
    Language.EN: {
        VictimGroup.POLICE: "police officers",
        VictimGroup.SOLDIERS: "soldiers",
        VictimGroup.SECURITY_FORCES: "members of the security forces",
        VictimGroup.PROTESTERS: "protesters",
        VictimGroup.ARMED_CRIMINALS: "armed criminals",
        VictimGroup.JIHADISTS: "militants",
        VictimGroup.CIVILIANS: "civilians",
        VictimGroup.UNSPECIFIED: "people",
    },
    Language.FR: {
        VictimGroup.POLICE: "policiers",
        VictimGroup.SOLDIERS: "militaires",
        VictimGroup.SECURITY_FORCES: "membres des forces de sécurité",
        VictimGroup.PROTESTERS: "manifestants",
        VictimGroup.ARMED_CRIMINALS: "criminels armés",
        VictimGroup.JIHADISTS: "djihadistes",
        VictimGroup.CIVILIANS: "civils",
        VictimGroup.UNSPECIFIED: "personnes",
    },
}
_HARM = {
    Language.EN: {
        CasualtyCategory.KILLED: "killed",
        CasualtyCategory.INJURED: "injured",
        CasualtyCategory.SERIOUSLY_INJURED: "seriously injured",
    },
    Language.FR: {
        CasualtyCategory.KILLED: "tués",
        CasualtyCategory.INJURED: "blessés",
        CasualtyCategory.SERIOUSLY_INJURED: "grièvement blessés",
    },
}
# (English, French) pairs; {place} is filled in per event.
_SAYINGS = (
    ("order will be restored in {place} within days", "l'ordre sera rétabli à {place} sous peu"),
    ("the curfew in {place} stays in force", "le couvre-feu reste en vigueur à {place}"),
    (
        "no shots were fired at peaceful protesters in {place}",
        "aucun tir n'a visé les manifestants pacifiques à {place}",
    ),
    ("the government of {place} has resigned", "le gouvernement de {place} a démissionné"),
    ("fuel prices in {place} will be capped", "le prix du carburant sera plafonné à {place}"),
    ("foreign troops will leave {place} soon", "les troupes étrangères quitteront bientôt {place}"),
    ("the internet will be restored in {place}", "internet sera rétabli à {place}"),
    (
        "those responsible for the violence in {place} will be punished",
        "les responsables des violences à {place} seront punis",
    ),
    (
        "talks with the protesters of {place} have begun",
        "des discussions avec les manifestants de {place} ont commencé",
    ),
    (
        "the airport of {place} is back under control",
        "l'aéroport de {place} est de nouveau sous contrôle",
    ),
)
_CHARGES = (
    ("high treason", "haute trahison"),
    ("organising mass riots", "organisation d'émeutes"),
    ("attempting to seize power", "tentative de prise du pouvoir"),
    ("abuse of office", "abus de pouvoir"),
)
_FILLER = {
    Language.EN: (
        "The situation remained tense on the streets.",
        "Mobile internet access was cut for much of the day.",
        "Shops and banks stayed closed.",
        "Residents described hearing gunfire overnight.",
        "The claims could not be independently verified.",
        "Officials gave no further details.",
    ),
    Language.FR: (
        "La situation restait tendue dans les rues.",
        "L'accès à internet mobile a été coupé une grande partie de la journée.",
        "Les commerces et les banques sont restés fermés.",
        "Des habitants ont dit avoir entendu des tirs pendant la nuit.",
        "Ces affirmations n'ont pas pu être vérifiées de manière indépendante.",
        "Les autorités n'ont pas donné plus de détails.",
    ),
}
_KIND_WEIGHTS = (("statement", 25), ("casualty", 35), ("deployment", 15), ("arrest", 25))
_REPORTS = (1, 1, 1, 1, 2, 2, 2, 3, 3, 4)  # how many sources report one event
_VERIFICATIONS = (
    (Verification.REPORTED,) * 6
    + (Verification.CONFIRMED,) * 2
    + (Verification.UNCONFIRMED, Verification.UNVERIFIABLE, Verification.DISPUTED)
)
_HEDGES = (Hedge.EXACT,) * 5 + (
    Hedge.AT_LEAST,
    Hedge.MORE_THAN,
    Hedge.ABOUT,
    Hedge.UP_TO,
    Hedge.RANGE,
)
_DEPLOYMENT_VERBS = {
    DeploymentStatus.REQUESTED: ("was asked to send", "a été sollicité pour envoyer"),
    DeploymentStatus.ANNOUNCED: ("announced it would send", "a annoncé l'envoi de"),
    DeploymentStatus.APPROVED: ("approved sending", "a approuvé l'envoi de"),
    DeploymentStatus.LAUNCHED: ("began sending", "a commencé à envoyer"),
    DeploymentStatus.ARRIVED: ("has deployed", "a déployé"),
    DeploymentStatus.WITHDRAWN: ("withdrew", "a retiré"),
}


SYNTH_FILE = "synth"
"""Where problems in generated facts are reported from: there is no file."""

_GROUPS = tuple(VictimGroup)
_CHANNELS = tuple(Channel)
_STATUSES = tuple(DeploymentStatus)
_KINDS = tuple(kind for kind, weight in _KIND_WEIGHTS for _ in range(weight))
_LANGUAGES = (Language.EN, Language.FR)

Report = Callable[[Language, list[CitationSpec]], tuple[FactSpec, str]]
"""Builds one source's fact of an event, in the source's language, and the sentence it cites."""


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


class _Generator:
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
            for lang in _LANGUAGES
        }
        # Set per pass by `_reports`.
        self.rng = random.Random()
        self.made = 0
        self.counters: dict[str, int] = {}

    # ------------------------------------------------------------ cast

    def _places(self, rng: random.Random) -> list[PlaceSpec]:
        names = [head + tail for tail in _PLACE_TAILS for head in _PLACE_HEADS]
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

        for state in _STATES[: max(4, n // 20)]:
            add(ActorKind.STATE, state, "state", [])
        add(
            ActorKind.ORGANIZATION,
            "Collective Security Treaty Organization",
            "military alliance",
            [Alias(name="CSTO", language=Language.EN), Alias(name="OTSC", language=Language.FR)],
        )
        organizations = [(place.name, kind) for kind in _ORG_KINDS for place in places]
        groups = [(place.name, kind) for kind in _GROUP_KINDS for place in places]
        people = [(first, root + end) for end in _ENDINGS for root in _ROOTS for first in _FIRST]
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
            outlet, language = _OUTLETS[rng.randrange(len(_OUTLETS))]
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
        hedge = _HEDGES[int(random_() * len(_HEDGES))]
        count_max = count + 1 + int(random_() * (count // 4 + 1)) if hedge == Hedge.RANGE else None
        return count, count_max, hedge

    @staticmethod
    def _amount(figure: tuple[int, int | None, Hedge], language: Language) -> str:
        count, count_max, hedge = figure
        return _HEDGE_WORDS[language][hedge].format(n=count, m=count_max)

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
            kind = _KINDS[int(random_() * len(_KINDS))]
            reports = min(_REPORTS[int(random_() * len(_REPORTS))], total - self.made)
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
            event = _Event(self, offset, precision, place)
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
            filler = _FILLER[spec.language]
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


class _Event:
    """Something that happened, reported by one to four sources, each report one fact."""

    def __init__(self, gen: _Generator, offset: int, precision: str, place: PlaceSpec) -> None:
        self.gen = gen
        self.offset = offset
        self.day = gen.dates[offset]
        self.precision = precision
        self.place = place
        text = self.day.isoformat()
        self.date = None if precision == "none" else text if precision == "day" else text[:7]

    def _when(self, language: Language) -> str:
        return self.gen.words[self.offset, self.precision, language]

    def _mentioned(self) -> list[str]:
        """Other actors involved; the first facts walk through every actor once."""
        gen = self.gen
        actors = gen.cast.actors
        if gen.made < len(actors):
            return [actors[gen.made].id]
        if gen.rng.random() < 0.5:
            return [actors[int(len(actors) * gen.rng.random() ** 2)].id]
        return []

    def _verification(self) -> Verification:
        return self.gen._pick(_VERIFICATIONS)

    def casualty(self) -> Report:
        gen = self.gen
        random_ = gen.rng.random
        category = CasualtyCategory.KILLED if random_() < 0.5 else CasualtyCategory.INJURED
        if random_() < 0.1:
            category = CasualtyCategory.SERIOUSLY_INJURED
        group = gen._pick(_GROUPS)
        base = int(3 + 400 * random_() ** 3)
        place = self.place
        key = f"{category.value}.{group.value}.{gen.cast.slug[place.id]}.{self.day.isoformat()}"
        disputed = random_() < 0.7

        def report(language: Language, citations: list[CitationSpec]) -> tuple[FactSpec, str]:
            claimant = gen._pick(gen.cast.authorities)
            figure = gen._figure(base, disputed)
            amount = gen._amount(figure, language)
            who = gen.cast.spelling[claimant.id, language]
            victims = _VICTIMS[language][group]
            harm = _HARM[language][category]
            when = self._when(language)
            if language == Language.EN:
                sentence = f"{who} said {amount} {victims} were {harm} in {place.name} {when}."
            else:
                sentence = f"Selon {who}, {amount} {victims} ont été {harm} à {place.name} {when}."
            fact = CasualtySpec(
                id=gen._id("casualty"),
                citations=citations,
                claimant=claimant.id,
                verification=self._verification(),
                date=self.date,
                key=key,
                place=place.id,
                actors=self._mentioned(),
                category=category,
                victim_group=group,
                count=figure[0],
                count_max=figure[1],
                hedge=figure[2],
            )
            return fact, sentence

        return report

    def statement(self) -> Report:
        gen = self.gen
        random_ = gen.rng.random
        speaker = gen.cast.officials[int(len(gen.cast.officials) * random_() ** 2)]
        english, french = gen._pick(_SAYINGS)
        mode = StatementMode.DIRECT if random_() < 0.6 else StatementMode.REPORTED
        channel = gen._pick(_CHANNELS)
        said = {
            Language.EN: english.format(place=self.place.name),
            Language.FR: french.format(place=self.place.name),
        }

        def report(language: Language, citations: list[CitationSpec]) -> tuple[FactSpec, str]:
            who = gen.cast.spelling[speaker.id, language]
            when = self._when(language)
            content = said[language]
            if mode == StatementMode.DIRECT:
                content = content[0].upper() + content[1:] + "."
                if language == Language.EN:
                    sentence = f'{who} said {when}: "{content}"'
                else:
                    sentence = f"{who} a déclaré {when} : « {content} »"
            elif language == Language.EN:
                sentence = f"{who} said {when} that {content}."
            else:
                sentence = f"{who} a affirmé {when} que {content}."
            fact = StatementSpec(
                id=gen._id("statement"),
                citations=citations,
                verification=self._verification(),
                date=self.date,
                place=self.place.id,
                actors=self._mentioned(),
                speaker=speaker.id,
                content=content,
                mode=mode,
                language=language,
                channel=channel,
            )
            return fact, sentence

        return report

    def deployment(self) -> Report:
        gen = self.gen
        random_ = gen.rng.random
        cast = gen.cast
        sender = cast.states[int(len(cast.states) * random_() ** 2)]
        status = gen._pick(_STATUSES)
        framework = cast.actors[len(cast.states)] if random_() < 0.6 else None  # the alliance
        authoriser = gen._pick(cast.officials) if random_() < 0.3 else None
        counted = random_() < 0.8
        base = int(100 + 3000 * random_() ** 2)
        place = self.place
        key = f"troops.{cast.slug[sender.id]}.{cast.slug[place.id]}" if counted else None
        disputed = random_() < 0.6
        verbs = _DEPLOYMENT_VERBS[status]

        def report(language: Language, citations: list[CitationSpec]) -> tuple[FactSpec, str]:
            figure = gen._figure(base, disputed) if counted else None
            when = self._when(language)
            english = language == Language.EN
            under = ""
            if framework is not None:
                name = cast.spelling[framework.id, language]
                under = f" under the {name} mandate" if english else f" sous mandat de l'{name}"
            troops = "troops" if english else "soldats"
            if figure is not None:
                troops = f"{gen._amount(figure, language)} {troops}"
            if english:
                sentence = f"{sender.name} {verbs[0]} {troops} to {place.name}{under} {when}."
            else:
                sentence = f"{sender.name} {verbs[1]} {troops} vers {place.name}{under} {when}."
            fact = DeploymentSpec(
                id=gen._id("deployment"),
                citations=citations,
                verification=self._verification(),
                date=self.date,
                key=key,
                place=place.id,
                actors=self._mentioned(),
                sender=sender.id,
                status=status,
                count=figure[0] if figure else None,
                count_max=figure[1] if figure else None,
                hedge=figure[2] if figure else None,
                framework=framework.id if framework else None,
                authorised_by=authoriser.id if authoriser else None,
                purpose="to protect strategic sites" if framework else None,
            )
            return fact, sentence

        return report

    def arrest(self) -> Report:
        gen = self.gen
        random_ = gen.rng.random
        cast = gen.cast
        person = gen._pick(cast.suspects) if random_() < 0.35 else None
        charge = gen._pick(_CHARGES)
        base = int(5 + 2000 * random_() ** 3)
        place = self.place
        key = None if person else f"arrests.{cast.slug[place.id]}.{self.day.isoformat()}"
        disputed = random_() < 0.7

        def report(language: Language, citations: list[CitationSpec]) -> tuple[FactSpec, str]:
            claimant = gen._pick(cast.authorities)
            when = self._when(language)
            confirmed = random_() < 0.7
            english = language == Language.EN
            figure = None
            crime = charge[0] if english else charge[1]
            if person is not None:
                who = cast.spelling[person.id, language]
                if english:
                    verb = "was arrested" if confirmed else "was reportedly detained"
                    sentence = f"{who} {verb} {when} on suspicion of {crime}."
                else:
                    verb = "a été arrêté" if confirmed else "aurait été interpellé"
                    sentence = f"{who} {verb} {when}, soupçonné de {crime}."
            else:
                figure = gen._figure(base, disputed)
                amount = gen._amount(figure, language)
                source = cast.spelling[claimant.id, language]
                if english:
                    sentence = (
                        f"{source} said {amount} people were detained in {place.name} {when}."
                    )
                else:
                    sentence = (
                        f"Selon {source}, {amount} personnes ont été interpellées "
                        f"à {place.name} {when}."
                    )
            fact = ArrestSpec(
                id=gen._id("arrest"),
                citations=citations,
                claimant=claimant.id,
                verification=self._verification(),
                date=self.date,
                key=key,
                place=place.id,
                actors=self._mentioned(),
                confirmed=confirmed,
                person=person.id if person else None,
                count=figure[0] if figure else None,
                count_max=figure[1] if figure else None,
                hedge=figure[2] if figure else None,
                charge=crime if person else None,
                legal_basis="Article 175 of the Criminal Code" if person else None,
                scope=None if person else f"in {place.name}",
            )
            return fact, sentence

        return report


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
    return _Generator(facts, seed).bundle()
