"""The schema: the product's memory. alembic/ migrations are the only way it changes.

Integrity lives here rather than in Python: foreign keys, NOT NULL where a fact
is meaningless without the value, CHECKs for counts, enumerations and citation
offsets (a citation's end may not pass its source's length, enforced through a
composite foreign key onto `sources(id, text_length)`).
"""

from service.models.base import NAMING_CONVENTION, Base, figure_checks, one_of
from service.models.facts import (
    Arrest,
    Casualty,
    Citation,
    DatasetVersion,
    Deployment,
    DisputedQuantity,
    FactActor,
    FactDocument,
    Statement,
    kind_table_args,
)
from service.models.history import ApiKey, IdempotentRequest, RateCount, Record, Revision
from service.models.records import Actor, ActorAlias, Crisis, Fact, Place, Source, SourcePassage

__all__ = [
    "Actor",
    "ActorAlias",
    "ApiKey",
    "Arrest",
    "Base",
    "Casualty",
    "Citation",
    "Crisis",
    "DatasetVersion",
    "Deployment",
    "DisputedQuantity",
    "Fact",
    "FactActor",
    "FactDocument",
    "IdempotentRequest",
    "NAMING_CONVENTION",
    "Place",
    "RateCount",
    "Record",
    "Revision",
    "Source",
    "SourcePassage",
    "Statement",
    "figure_checks",
    "kind_table_args",
    "one_of",
]
