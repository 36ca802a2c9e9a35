"""The Frictionless Data Package that describes the CSV exports: one resource per list, its
Table Schema made from the same columns the CSV is written with."""

from __future__ import annotations

from typing import Any

from service.export.formats import CSV, columns
from service.export.listings import Listing, everything

PRIMARY_KEYS: dict[str, list[str]] = {
    "statements": ["id"],
    "casualties": ["id"],
    "deployments": ["id"],
    "arrests": ["id"],
    "actors": ["id"],
    "sources": ["id"],
    "disputes": ["crisis_id", "key"],
}
"""The resources of the package (the timeline repeats the facts) and their keys."""

REFERENCES: dict[str, str] = {
    "claimant_id": "actors",
    "speaker_id": "actors",
    "sender_id": "actors",
    "person_id": "actors",
    "citation_source_id": "sources",
}
"""Columns that name a row of another resource, wherever they appear."""


def resource(listing: Listing) -> dict[str, Any]:
    fields = [column.field() for column in columns(listing)]
    names = {f["name"] for f in fields}
    schema: dict[str, Any] = {"fields": fields, "primaryKey": PRIMARY_KEYS[listing.name]}
    keys = [
        {"fields": name, "reference": {"resource": target, "fields": "id"}}
        for name, target in REFERENCES.items()
        if name in names
    ]
    if keys:
        schema["foreignKeys"] = keys
    return {
        "name": listing.name,
        "path": f"{listing.name}.csv",
        "profile": "tabular-data-resource",
        "format": "csv",
        "mediatype": CSV,
        "encoding": "utf-8",
        "dialect": {"delimiter": ",", "lineTerminator": "\r\n", "header": True},
        "schema": schema,
    }


def descriptor(dataset_version: int, created: str | None = None) -> dict[str, Any]:
    """The package of the dataset version its CSVs are copies of (0 before any load); a
    snapshot also names when its last change was made."""
    package: dict[str, Any] = {
        "profile": "tabular-data-package",
        "name": "crisis-facts",
        "title": "crisis-facts: curated, cited facts about crises",
        "description": "Every fact with the exact words of its sources. Cells that a "
        "spreadsheet would take for a formula (starting with =, +, -, @, tab or carriage "
        "return) are prefixed with an apostrophe.",
        "resources": [resource(r) for r in everything() if r.name in PRIMARY_KEYS],
    }
    package["version"] = str(dataset_version)
    if created is not None:
        package["created"] = created
    return package
