"""The contract's OpenAPI links: how the answer of a write (or a read) names the next
request a curator makes of the same record. A created record's id is its URL's; its ETag
is the If-Match of the edit, publication or retraction that follows; a history's first
entry is one revision to read. Clients read these to chain calls; schemathesis' stateful
phase follows them (tests/test_contract_stateful.py)."""

from __future__ import annotations

from dataclasses import dataclass

from litestar.openapi.spec import Link, OpenAPI, Operation, Reference

ID = "$response.body#/id"
ETAG = "$response.header.ETag"


@dataclass(frozen=True, slots=True)
class Family:
    """The operations of one kind of record, named as their operation ids name them."""

    noun: str  # "Casualty": CreateCasualty, GetCasualty, EditCasualty ...
    path_id: str  # the path parameter naming one record
    editable: bool  # PATCH answers
    reviewed: bool  # publication, retraction and deletion answer (facts)


FAMILIES = (
    Family("Statement", "fact_id", editable=True, reviewed=True),
    Family("Casualty", "fact_id", editable=True, reviewed=True),
    Family("Deployment", "fact_id", editable=True, reviewed=True),
    Family("Arrest", "fact_id", editable=True, reviewed=True),
    Family("Actor", "actor_id", editable=True, reviewed=False),
    Family("Source", "source_id", editable=False, reviewed=False),
)


def _to(operation_id: str, description: str, parameters: dict[str, str]) -> Link:
    return Link(operation_id=operation_id, parameters=parameters, description=description)


def follow_ups(family: Family) -> dict[str, Link]:
    """What may follow an answer of one record of `family`: read it, its history, and
    (with its ETag as If-Match) change it."""
    noun, ident = family.noun, {family.path_id: ID}
    guarded = {**ident, "If-Match": ETAG}
    links = {
        f"Get{noun}": _to(f"Get{noun}", f"Read the {noun.lower()} again.", ident),
        f"List{noun}Revisions": _to(
            f"List{noun}Revisions", f"The {noun.lower()}'s history.", ident
        ),
    }
    if family.editable:
        links[f"Edit{noun}"] = _to(
            f"Edit{noun}", f"Edit the {noun.lower()} as this answer shows it.", guarded
        )
    if family.reviewed:
        for verb in ("Publish", "Retract", "Delete"):
            links[f"{verb}{noun}"] = _to(
                f"{verb}{noun}", f"{verb} the {noun.lower()} as this answer shows it.", guarded
            )
    return links


def one_revision(family: Family) -> dict[str, Link]:
    """From a history to its newest revision."""
    parameters = {
        family.path_id: f"$request.path.{family.path_id}",
        "number": "$response.body#/0/revision",
    }
    name = f"Get{family.noun}Revision"
    return {name: _to(name, "The newest revision, with the answer as of then.", parameters)}


def answered_by(family: Family) -> dict[str, tuple[str, dict[str, Link]]]:
    """operation id -> (the status whose answer links, its links)."""
    noun, then = family.noun, follow_ups(family)
    answers = {f"Create{noun}": ("201", then), f"Get{noun}": ("200", then)}
    if family.editable:
        answers[f"Edit{noun}"] = ("200", then)
    if family.reviewed:
        answers[f"Publish{noun}"] = ("200", then)
        answers[f"Retract{noun}"] = ("200", then)
    answers[f"List{noun}Revisions"] = ("200", one_revision(family))
    return answers


def add_links(document: OpenAPI) -> None:
    """Give each answer in FAMILIES its links; every target must be an operation of the
    document (a renamed operation fails here, not in a client)."""
    links = {op: answer for family in FAMILIES for op, answer in answered_by(family).items()}
    operations: dict[str, Operation] = {}
    for item in (document.paths or {}).values():
        for operation in (item.get, item.post, item.patch, item.delete):
            if operation is not None and operation.operation_id:
                operations[operation.operation_id] = operation
    for operation_id, (status, answer_links) in links.items():
        response = (operations[operation_id].responses or {})[status]
        assert not isinstance(response, Reference)
        missing = {link.operation_id for link in answer_links.values()} - set(operations)
        assert not missing, f"links from {operation_id} to no operation: {missing}"
        response.links = dict(sorted(answer_links.items()))
