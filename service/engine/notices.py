"""Correction notices and translations: checked, and turned into the JSON their record
keeps (the answer's shape, `schemas.Correction` and `schemas.Translation`)."""

from __future__ import annotations

from collections.abc import Sequence

import msgspec

from service import schemas
from service.engine.specs import (
    CorrectionSpec,
    Spec,
    StatementSpec,
    TranslationSpec,
    parse_partial_date,
)

encode = msgspec.json.Encoder().encode


def corrections(
    notices: Sequence[CorrectionSpec], spec: type[Spec], name: str, found: list[str]
) -> str:
    """The notices as stored; a bad date, or a `previous` member the record does not have,
    is a problem."""
    members = set(spec.__struct_fields__)
    served = []
    for number, notice in enumerate(notices, 1):
        where = f"{name}: correction {number}"
        try:
            parse_partial_date(notice.date)
        except ValueError as exc:
            found.append(f"{where}: {exc}")
        unknown = sorted(set(notice.previous) - members)
        if unknown:
            found.append(f"{where}: previous names no member of the record: {unknown}")
        served.append(
            schemas.Correction(
                date=notice.date,
                summary=notice.summary,
                reason=notice.reason,
                previous=notice.previous,
            )
        )
    return encode(served).decode()


def translations(
    items: Sequence[TranslationSpec],
    originals: dict[int | None, tuple[str, str]],
    name: str,
    found: list[str],
) -> str:
    """The translations as stored. `originals` maps what can be translated (a citation's
    number, or None for the content or title) to (what it is, its language): a translation
    must name one of them, in another language, once per language."""
    served = []
    seen: set[tuple[int | None, str]] = set()
    for number, item in enumerate(items, 1):
        where = f"{name}: translation {number}"
        original = originals.get(item.citation)
        if original is None:
            what = "no content" if item.citation is None else f"no citation {item.citation}"
            found.append(f"{where}: names no quote or statement of the record ({what})")
            continue
        of, language = original
        if item.language.value == language:
            found.append(
                f"{where}: in {language}, the language of the original: a translation "
                "is into another language"
            )
        if (item.citation, item.language.value) in seen:
            found.append(f"{where}: a second {item.language.value} translation of its text")
        seen.add((item.citation, item.language.value))
        served.append(
            schemas.Translation(
                of=of,
                citation=item.citation,
                language=item.language,
                text=item.text,
                translator=item.translator,
                reviewed=item.reviewed,
            )
        )
    return encode(served).decode()


def fact_originals(
    fact: Spec, citation_languages: Sequence[str]
) -> dict[int | None, tuple[str, str]]:
    """What a fact's translations may translate: each quote, and a statement's content."""
    originals: dict[int | None, tuple[str, str]] = {
        number: ("quote", language) for number, language in enumerate(citation_languages, 1)
    }
    if isinstance(fact, StatementSpec):
        originals[None] = ("content", fact.language.value)
    return originals
