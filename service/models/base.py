"""The declarative base, its naming convention, and the CHECKs several tables share."""

from __future__ import annotations

from enum import StrEnum

from sqlalchemy import (
    CheckConstraint,
    MetaData,
)
from sqlalchemy.orm import DeclarativeBase

from service.vocabulary import (
    Hedge,
)

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_N_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


def one_of(column: str, values: type[StrEnum], name: str | None = None) -> CheckConstraint:
    """CHECK that a text column holds one of an enumeration's values."""
    allowed = ", ".join(f"'{v.value}'" for v in values)
    return CheckConstraint(f"{column} IN ({allowed})", name=name or f"{column}_allowed")


def figure_checks() -> tuple[CheckConstraint, ...]:
    """A figure is a count >= 0, with an upper bound >= it only when it is a range."""
    return (
        CheckConstraint("count >= 0", name="count_not_negative"),
        CheckConstraint(
            "count_max IS NULL OR (count IS NOT NULL AND count_max >= count)",
            name="count_max_above_count",
        ),
        CheckConstraint("(hedge = 'range') = (count_max IS NOT NULL)", name="range_has_count_max"),
        one_of("hedge", Hedge),
    )
