"""One event of a synthetic crisis, reported by one to four sources, each report a fact."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from service.engine.specs import (
    ArrestSpec,
    CasualtySpec,
    CitationSpec,
    DeploymentSpec,
    FactSpec,
    PlaceSpec,
    StatementSpec,
)
from service.synth.words import (
    CHANNELS,
    CHARGES,
    DEPLOYMENT_VERBS,
    GROUPS,
    HARM,
    SAYINGS,
    STATUSES,
    VERIFICATIONS,
    VICTIMS,
    Report,
)
from service.vocabulary import (
    CasualtyCategory,
    Language,
    StatementMode,
    Verification,
)

if TYPE_CHECKING:
    from service.synth import Generator


class Event:
    """Something that happened, reported by one to four sources, each report one fact."""

    def __init__(self, gen: Generator, offset: int, precision: str, place: PlaceSpec) -> None:
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
        return self.gen._pick(VERIFICATIONS)

    def _common(self, kind: str, citations: list[CitationSpec]) -> dict[str, Any]:
        """The members every kind of fact has, drawn in the order the seed fixes."""
        return {
            "id": self.gen._id(kind),
            "citations": citations,
            "verification": self._verification(),
            "date": self.date,
            "place": self.place.id,
            "actors": self._mentioned(),
        }

    def casualty(self) -> Report:
        gen = self.gen
        random_ = gen.rng.random
        category = CasualtyCategory.KILLED if random_() < 0.5 else CasualtyCategory.INJURED
        if random_() < 0.1:
            category = CasualtyCategory.SERIOUSLY_INJURED
        group = gen._pick(GROUPS)
        base = int(3 + 400 * random_() ** 3)
        place = self.place
        # A key is a slug: the enumerations' underscores become hyphens.
        measured = f"{category.value}.{group.value}".replace("_", "-")
        key = f"{measured}.{gen.cast.slug[place.id]}.{self.day.isoformat()}"
        disputed = random_() < 0.7

        def report(language: Language, citations: list[CitationSpec]) -> tuple[FactSpec, str]:
            claimant = gen._pick(gen.cast.authorities)
            figure = gen._figure(base, disputed)
            amount = gen._amount(figure, language)
            who = gen.cast.spelling[claimant.id, language]
            victims = VICTIMS[language][group]
            harm = HARM[language][category]
            when = self._when(language)
            if language == Language.EN:
                sentence = f"{who} said {amount} {victims} were {harm} in {place.name} {when}."
            else:
                sentence = f"Selon {who}, {amount} {victims} ont été {harm} à {place.name} {when}."
            fact = CasualtySpec(
                **self._common("casualty", citations),
                claimant=claimant.id,
                key=key,
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
        english, french = gen._pick(SAYINGS)
        mode = StatementMode.DIRECT if random_() < 0.6 else StatementMode.REPORTED
        channel = gen._pick(CHANNELS)
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
                **self._common("statement", citations),
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
        status = gen._pick(STATUSES)
        framework = cast.actors[len(cast.states)] if random_() < 0.6 else None  # the alliance
        authoriser = gen._pick(cast.officials) if random_() < 0.3 else None
        counted = random_() < 0.8
        base = int(100 + 3000 * random_() ** 2)
        place = self.place
        key = f"troops.{cast.slug[sender.id]}.{cast.slug[place.id]}" if counted else None
        disputed = random_() < 0.6
        verbs = DEPLOYMENT_VERBS[status]

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
                **self._common("deployment", citations),
                key=key,
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
        charge = gen._pick(CHARGES)
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
                **self._common("arrest", citations),
                claimant=claimant.id,
                key=key,
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
