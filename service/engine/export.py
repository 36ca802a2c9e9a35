"""What is stored -> fixture files: a crisis written back as a journalist edits it.

Loading an export gives 0 changes: curators' changes made through the API are kept by
exporting them into the fixtures before the next load.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import msgspec
import yaml
from psycopg.rows import namedtuple_row

from service.engine import store
from service.engine.specs import (
    FACT_FILES,
    ActorSpec,
    CrisisSpec,
    PlaceSpec,
    SourceSpec,
    Spec,
    convert,
)
from service.engine.write import Cursor
from service.vocabulary import FactKind

FILE_OF = {
    kind: name
    for name, spec in FACT_FILES.items()
    for kind in FactKind
    if store.SPEC_OF[kind] is spec
}
"""The fixture file of each kind of fact."""


def plain(spec: Spec) -> dict[str, Any]:
    """A spec as YAML holds it: members left at their defaults are left out."""
    raw: dict[str, Any] = msgspec.to_builtins(spec)
    defaults = {
        field.name: field.default
        for field in msgspec.structs.fields(spec)
        if field.default is not msgspec.NODEFAULT
    }
    kept = {}
    for name, value in raw.items():
        default = defaults.get(name, msgspec.NODEFAULT)
        if default is msgspec.NODEFAULT or msgspec.to_builtins(default) != value:
            kept[name] = [_set(v) for v in value] if isinstance(value, list) else value
    return kept


def _set(value: Any) -> Any:
    """A record inside a list (a citation, an alias) without its unset members."""
    return {k: v for k, v in value.items() if v is not None} if isinstance(value, dict) else value


def _dump(path: Path, records: list[dict[str, Any]] | dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    text = yaml.safe_dump(records, allow_unicode=True, sort_keys=False, width=100)
    path.write_text(text, encoding="utf-8")


def export(cursor: Cursor, crisis_id: str, root: Path) -> dict[str, int]:
    """Write crisis `crisis_id` under `root` as fixtures; how many records of each file.
    Actors no fact involves wait out of it: a load refuses them, and keeps them stored."""
    counts: dict[str, int] = {}
    with cursor.connection.cursor(row_factory=namedtuple_row) as named:
        crisis: Any = named.execute("SELECT * FROM crises WHERE id = %s", [crisis_id]).fetchone()
        if crisis is None:
            raise LookupError(f"no crisis {crisis_id!r}")
        folder = root / "facts" / crisis_id
        _dump(folder / "crisis.yaml", plain(convert({
            "id": crisis.id, "name": crisis.name, "summary": crisis.summary,
            "country": crisis.country,
            "start": store.partial_text(crisis.start_on, crisis.start_precision),
            "end": store.partial_text(crisis.end_on, crisis.end_precision),
            "corrections": store.correction_specs(crisis.corrections),
        }, CrisisSpec)))  # fmt: skip
        sources = [_source(row, root) for row in named.execute(
            "SELECT * FROM sources WHERE crisis_id = %s ORDER BY id", [crisis_id]
        )]  # fmt: skip
        _dump(root / "articles" / "sources.yaml", sources)
        counts["sources.yaml"] = len(sources)
        actors = [_actor(named, row) for row in named.execute(
            "SELECT * FROM actors a WHERE crisis_id = %s AND EXISTS "
            "(SELECT 1 FROM fact_actors fa WHERE fa.actor_id = a.id) ORDER BY id", [crisis_id]
        ).fetchall()]  # fmt: skip
        _dump(folder / "actors.yaml", actors)
        counts["actors.yaml"] = len(actors)
        places = [_place(row) for row in named.execute(
            "SELECT * FROM places WHERE crisis_id = %s ORDER BY id", [crisis_id]
        )]  # fmt: skip
        _dump(folder / "places.yaml", places)
        counts["places.yaml"] = len(places)
        for kind, name in FILE_OF.items():
            rows: list[Any] = named.execute(
                "SELECT id FROM facts WHERE crisis_id = %s AND kind = %s ORDER BY id",
                [crisis_id, kind.value],
            ).fetchall()
            ids = [row.id for row in rows]
            facts = [plain(found[1]) for i in ids if (found := store.fact_spec(cursor, kind, i))]
            _dump(folder / name, facts)
            counts[name] = len(facts)
    return counts


def _source(row: Any, root: Path) -> dict[str, Any]:
    (root / "articles" / row.file_name).parent.mkdir(parents=True, exist_ok=True)
    (root / "articles" / row.file_name).write_text(row.text, encoding="utf-8")
    return plain(convert({
        "id": row.id, "file": row.file_name, "crisis": row.crisis_id, "title": row.title,
        "language": row.language,
        "published": store.partial_text(row.published_on, row.published_precision),
        "published_note": row.published_note, "outlet": row.outlet, "url": row.url,
        "translations": store.translation_specs(row.translations),
    }, SourceSpec))  # fmt: skip


def _actor(named: Any, row: Any) -> dict[str, Any]:
    aliases = named.execute(
        "SELECT alias, language FROM actor_aliases WHERE actor_id = %s ORDER BY alias", [row.id]
    ).fetchall()
    return plain(convert({
        "id": row.id, "kind": row.kind, "name": row.name, "role": row.role,
        "aliases": [{"name": a.alias, "language": a.language} for a in aliases],
        "corrections": store.correction_specs(row.corrections),
    }, ActorSpec))  # fmt: skip


def _place(row: Any) -> dict[str, Any]:
    coordinates = None
    if row.lat is not None:
        coordinates = {"lat": row.lat, "lon": row.lon, "source": row.coordinates_source}
    return plain(convert({
        "id": row.id, "name": row.name, "aliases": [{"name": a} for a in row.aliases],
        "coordinates": coordinates,
    }, PlaceSpec))  # fmt: skip
