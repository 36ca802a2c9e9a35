"""All read SQL: one function per question, each one round trip, returning Structs.

Facts are answered from `fact_documents`, their JSON built by the write path and sent as
stored. Lists are keyset-paginated on a unique, indexed order; each statement is built
once per shape and only its values vary per request.
"""

from service.queries.base import (
    KIND_TABLE,
    BadCursor,
    Conn,
    Stored,
    Where,
    decode_cursor,
    encode_cursor,
    fetch_rows,
    limit_clause,
    rendered,
)
from service.queries.facts import (
    PLACED_ON,
    FactFilter,
    Tombstone,
    fact_conditions,
    get_fact,
    kind_join,
    list_facts,
    reviewed,
    timeline,
    tombstone,
)
from service.queries.resources import (
    ACTORS,
    DISPUTE_CONDITIONS,
    SOURCES,
    Keyset,
    get_actor,
    get_crisis,
    get_source,
    given_params,
    keyset_page,
    list_actors,
    list_crises,
    list_disputes,
    list_sources,
    viewed_by,
)
from service.queries.search import FACT_RANK_BOUND, mark_snippet, search
from service.queries.system import dataset_version, schema_revision

__all__ = [
    "ACTORS",
    "DISPUTE_CONDITIONS",
    "FACT_RANK_BOUND",
    "KIND_TABLE",
    "PLACED_ON",
    "SOURCES",
    "BadCursor",
    "Conn",
    "FactFilter",
    "Keyset",
    "Stored",
    "Tombstone",
    "Where",
    "dataset_version",
    "decode_cursor",
    "encode_cursor",
    "fact_conditions",
    "fetch_rows",
    "get_actor",
    "get_crisis",
    "get_fact",
    "get_source",
    "given_params",
    "keyset_page",
    "kind_join",
    "limit_clause",
    "list_actors",
    "list_crises",
    "list_disputes",
    "list_facts",
    "list_sources",
    "reviewed",
    "viewed_by",
    "mark_snippet",
    "rendered",
    "schema_revision",
    "search",
    "timeline",
    "tombstone",
]
