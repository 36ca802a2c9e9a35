"""The closed vocabularies shared by fixtures, database and API.

One list per enumeration so the loader, the CHECK constraints and the OpenAPI
enums cannot drift apart.
"""

from __future__ import annotations

from enum import StrEnum


class ActorKind(StrEnum):
    PERSON = "person"
    ORGANIZATION = "organization"
    STATE = "state"
    GROUP = "group"


class FactKind(StrEnum):
    STATEMENT = "statement"
    CASUALTY = "casualty"
    DEPLOYMENT = "deployment"
    ARREST = "arrest"


class Verification(StrEnum):
    """How far the source itself stands behind a fact."""

    REPORTED = "reported"  # stated by the article, no word on confirmation
    CONFIRMED = "confirmed"  # the article says it is confirmed
    UNCONFIRMED = "unconfirmed"  # the article says it is not confirmed, or uses the conditional
    UNVERIFIABLE = "unverifiable"  # the article says it could not be independently verified
    DISPUTED = "disputed"  # the article reports that someone denies it


class Precision(StrEnum):
    """How much of a partial date is known."""

    YEAR = "year"
    MONTH = "month"
    DAY = "day"


class Hedge(StrEnum):
    """How a figure is qualified by its source."""

    EXACT = "exact"
    AT_LEAST = "at_least"
    MORE_THAN = "more_than"
    ABOUT = "about"
    UP_TO = "up_to"
    RANGE = "range"


class CasualtyCategory(StrEnum):
    KILLED = "killed"
    INJURED = "injured"
    SERIOUSLY_INJURED = "seriously_injured"


class VictimGroup(StrEnum):
    POLICE = "police"
    SOLDIERS = "soldiers"
    SECURITY_FORCES = "security_forces"
    PROTESTERS = "protesters"
    ARMED_CRIMINALS = "armed_criminals"
    JIHADISTS = "jihadists"
    CIVILIANS = "civilians"
    UNSPECIFIED = "unspecified"


class DeploymentStatus(StrEnum):
    REQUESTED = "requested"
    ANNOUNCED = "announced"
    APPROVED = "approved"
    LAUNCHED = "launched"
    ARRIVED = "arrived"
    WITHDRAWN = "withdrawn"


class StatementMode(StrEnum):
    DIRECT = "direct"  # the article quotes the words
    REPORTED = "reported"  # the article paraphrases, attributing the words


class Channel(StrEnum):
    TV_ADDRESS = "tv_address"
    TWEET = "tweet"
    PRESS_CONFERENCE = "press_conference"
    COMMUNIQUE = "communique"
    INTERVIEW = "interview"
    MEETING = "meeting"
    OTHER = "other"


class Language(StrEnum):
    FR = "fr"
    EN = "en"


class ActorRole(StrEnum):
    """Why an actor is attached to a fact."""

    CLAIMANT = "claimant"
    SPEAKER = "speaker"
    SENDER = "sender"
    FRAMEWORK = "framework"
    AUTHORISER = "authoriser"
    PERSON = "person"
    MENTIONED = "mentioned"


TEXT_SEARCH_CONFIG = {Language.FR: "french", Language.EN: "english"}


class SearchType(StrEnum):
    """What a search hit can be."""

    SOURCE = "source"
    STATEMENT = "statement"
    CASUALTY = "casualty"
    DEPLOYMENT = "deployment"
    ARREST = "arrest"


class RecordKind(StrEnum):
    """What a revision is about: a crisis, an article, an actor, a place or a fact."""

    CRISIS = "crisis"
    SOURCE = "source"
    ACTOR = "actor"
    PLACE = "place"
    STATEMENT = "statement"
    CASUALTY = "casualty"
    DEPLOYMENT = "deployment"
    ARREST = "arrest"


class Operation(StrEnum):
    """What a change did to its record."""

    CREATED = "created"
    UPDATED = "updated"
    DELETED = "deleted"


class Role(StrEnum):
    """What an API key may do; each role may do all that the ones before it may."""

    CURATOR = "curator"  # creates records and edits drafts
    EDITOR = "editor"  # also publishes and retracts
    ADMIN = "admin"  # also manages webhooks and keys


class TimelineInclude(StrEnum):
    """What the timeline may add to its dated facts."""

    UNDATED = "undated"  # facts their source does not date, at its publication date
