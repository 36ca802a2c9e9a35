"""Stage one: the fixture files -> a Bundle of specs, every file parsed strictly.

Nothing is cross-checked here (that is `check`); a file that cannot be read or a record
of the wrong shape is a problem named with its file and record.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import msgspec
import yaml

from service.engine.specs import (
    FACT_FILES,
    ActorSpec,
    CrisisSpec,
    FactSpec,
    PlaceSpec,
    SourceSpec,
    Spec,
    convert,
)


class FixtureError(Exception):
    """The dataset, or a change to it, is invalid; `problems` holds one line per problem."""

    def __init__(self, problems: Sequence[str]) -> None:
        self.problems = list(problems)
        super().__init__("\n".join(self.problems))


@dataclass
class SourceText:
    spec: SourceSpec
    text: str


@dataclass
class CrisisBundle:
    """One crisis as read from its files, before cross-checking."""

    crisis: CrisisSpec
    actors: list[ActorSpec] = field(default_factory=list)
    places: list[PlaceSpec] = field(default_factory=list)
    # (file, fact); any iterable, read once: `synth` generates its facts as they are read.
    facts: Iterable[tuple[str, FactSpec]] = field(default_factory=list)


@dataclass
class Bundle:
    """What the crises in it should hold: their records, as read or generated."""

    crises: list[tuple[str, CrisisBundle]] = field(default_factory=list)
    sources: list[tuple[str, SourceText]] = field(default_factory=list)


class _PlainLoader(yaml.SafeLoader):
    """Dates stay strings: a partial date such as 2022-01 must not change type by its length."""


_PlainLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def _read_yaml(path: Path, root: Path) -> Any:
    try:
        return yaml.load(path.read_text(encoding="utf-8"), Loader=_PlainLoader)  # noqa: S506
    except yaml.YAMLError as exc:
        raise FixtureError([f"{_rel(path, root)}: not valid YAML: {exc}"]) from None
    except UnicodeDecodeError as exc:
        raise FixtureError([f"{_rel(path, root)}: not UTF-8: {exc}"]) from None


def _rel(path: Path, root: Path) -> str:
    try:
        return str(path.relative_to(root.parent))
    except ValueError:
        return str(path)


def _record_name(raw: Any, index: int) -> str:
    if isinstance(raw, dict) and isinstance(raw.get("id"), str):
        return f"record {index + 1} (id {raw['id']!r})"
    return f"record {index + 1}"


def _convert_list(raw: Any, spec: type[Spec], where: str, problems: list[str]) -> Iterator[Any]:
    if raw is None:
        return
    if not isinstance(raw, list):
        problems.append(f"{where}: expected a list of records, got {type(raw).__name__}")
        return
    for index, item in enumerate(raw):
        try:
            yield convert(item, spec)
        except msgspec.ValidationError as exc:
            problems.append(f"{where}: {_record_name(item, index)}: {exc}")


def read_bundle(root: Path) -> Bundle:
    """Parse every fixture file under `root`; raise FixtureError listing every problem."""
    root = root.resolve()
    problems: list[str] = []
    bundle = Bundle()
    if not root.is_dir():
        raise FixtureError([f"{root}: no such fixtures folder"])

    sources_file = root / "articles" / "sources.yaml"
    if not sources_file.is_file():
        problems.append(f"{_rel(sources_file, root)}: missing (the list of articles)")
    else:
        where = _rel(sources_file, root)
        for spec in _convert_list(_read_yaml(sources_file, root), SourceSpec, where, problems):
            text_file = sources_file.parent / spec.file
            if not text_file.is_file():
                problems.append(f"{where}: source {spec.id!r}: file {spec.file!r} not found")
                continue
            try:
                text = text_file.read_text(encoding="utf-8")
            except UnicodeDecodeError as exc:
                problems.append(f"{where}: source {spec.id!r}: {spec.file} is not UTF-8: {exc}")
                continue
            bundle.sources.append((where, SourceText(spec, text)))

    facts_root = root / "facts"
    crisis_dirs = (
        sorted(p for p in facts_root.iterdir() if p.is_dir()) if facts_root.is_dir() else []
    )
    if not crisis_dirs:
        problems.append(f"{_rel(facts_root, root)}: no crisis folder")
    for folder in crisis_dirs:
        crisis_file = folder / "crisis.yaml"
        where = _rel(crisis_file, root)
        if not crisis_file.is_file():
            problems.append(f"{where}: missing")
            continue
        try:
            crisis = convert(_read_yaml(crisis_file, root), CrisisSpec)
        except msgspec.ValidationError as exc:
            problems.append(f"{where}: {exc}")
            continue
        if crisis.id != folder.name:
            problems.append(f"{where}: id {crisis.id!r} differs from its folder {folder.name!r}")
        cb = CrisisBundle(crisis)
        for name, spec_type, target in (
            ("actors.yaml", ActorSpec, cb.actors),
            ("places.yaml", PlaceSpec, cb.places),
        ):
            path = folder / name
            if path.is_file():
                w = _rel(path, root)
                target.extend(_convert_list(_read_yaml(path, root), spec_type, w, problems))
        facts: list[tuple[str, FactSpec]] = []
        for name, fact_type in FACT_FILES.items():
            path = folder / name
            if path.is_file():
                w = _rel(path, root)
                for fact in _convert_list(_read_yaml(path, root), fact_type, w, problems):
                    facts.append((w, fact))
        cb.facts = facts
        known = {"crisis.yaml", "actors.yaml", "places.yaml", *FACT_FILES}
        for stray in sorted(p.name for p in folder.iterdir() if p.suffix in {".yaml", ".yml"}):
            if stray not in known:
                problems.append(
                    f"{_rel(folder / stray, root)}: unknown file (expected {sorted(known)})"
                )
        bundle.crises.append((where, cb))
    if problems:
        raise FixtureError(problems)
    return bundle
