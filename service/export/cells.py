"""What a fact keeps beside its answer for CSV exports: its cells in its kind's own columns
as the csv module writes them, joined into the runs that every export's columns keep
together, so that an export joins a few stored texts instead of parsing every answer again
(bench/RESULTS.md, exports). The write path stores them; service.export.lines joins them."""

from __future__ import annotations

import functools
import itertools
import typing
from collections.abc import Callable, Sequence
from typing import Any

from service import schemas
from service.export.columns import Column, fact_columns, texts

SHAPES: tuple[type[schemas.Fact], ...] = typing.get_args(schemas.AnyFact)

Run = tuple[int, int]
"""Cells `[start, end)` of a kind's own columns, stored joined as one text."""


def placed(own: Sequence[Column], columns: Sequence[Column]) -> list[int | None]:
    """For each of `columns`, which of the `own` cells it is (None: another kind's column)."""
    at = {c.name: i for i, c in enumerate(own)}
    return [at.get(c.name) for c in columns]


@functools.cache
def runs(shape: type[schemas.Fact]) -> tuple[Run, ...]:
    """The runs of `shape`'s own cells that stay together in the columns of every export of
    facts (any kinds, in any order): cut wherever one of them puts two cells apart."""
    own = fact_columns([shape])
    cuts = {0, len(own)}
    others = [s for s in SHAPES if s is not shape]
    for n in range(len(others) + 1):
        for chosen in itertools.permutations(others, n):
            for at in range(n + 1):
                layout = fact_columns([*chosen[:at], shape, *chosen[at:]])
                where = {i: p for p, i in enumerate(placed(own, layout)) if i is not None}
                cuts.update(i + 1 for i in range(len(own) - 1) if where[i + 1] != where[i] + 1)
    bounds = sorted(cuts)
    return tuple(itertools.pairwise(bounds))


@functools.cache
def _maker(shape: type[schemas.Fact]) -> Callable[[Any], list[str]]:
    return texts(shape, fact_columns([shape]), runs(shape))


def fact_cells(fact: schemas.Fact) -> list[str]:
    """What `fact_documents.cells` holds for `fact`: its CSV cells in its kind's own
    columns (`fact_columns([its shape])`), quoted, joined by `,` within each of `runs`."""
    return _maker(type(fact))(fact)
