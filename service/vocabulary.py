"""The closed vocabularies shared by fixtures, database and API.

One list per enumeration so the loader, the CHECK constraints and the OpenAPI
enums cannot drift apart.
"""

from __future__ import annotations

from enum import StrEnum
from typing import NamedTuple


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
    PUBLISHED = "published"  # an editor published a draft, or a retracted fact again
    RETRACTED = "retracted"  # an editor withdrew a published fact, saying why


class Role(StrEnum):
    """What an API key may do; each role may do all that the ones before it may."""

    CURATOR = "curator"  # creates records and edits drafts
    EDITOR = "editor"  # also publishes and retracts
    ADMIN = "admin"  # also manages webhooks and keys


class ReviewStatus(StrEnum):
    """Where a fact stands in review: only published facts are in public answers."""

    DRAFT = "draft"  # a curator's, seen only with an API key until an editor publishes it
    PUBLISHED = "published"
    RETRACTED = "retracted"  # withdrawn with a reason; still answered at its URL


class Included(StrEnum):
    """What a list may be asked to include beyond its published facts."""

    RETRACTED = "retracted"


class Visibility(NamedTuple):
    """Which facts a reader sees: published ones; drafts too with an API key; retracted ones
    too when asked (`include=retracted`)."""

    drafts: bool = False
    retracted: bool = False

    @property
    def statuses(self) -> tuple[str, ...]:
        """The review statuses seen, in ReviewStatus's order (made once: every read asks)."""
        return _STATUSES[self]

    @property
    def bit(self) -> int:
        """This reader's bit in `disputed_quantities.views`."""
        return 1 << (2 * self.drafts + self.retracted)


VISIBILITIES = tuple(
    Visibility(drafts, retracted) for drafts in (False, True) for retracted in (False, True)
)


def _seen(visibility: Visibility) -> tuple[str, ...]:
    seen = {ReviewStatus.PUBLISHED, *([ReviewStatus.DRAFT] if visibility.drafts else [])}
    if visibility.retracted:
        seen.add(ReviewStatus.RETRACTED)
    return tuple(s.value for s in ReviewStatus if s in seen)


_STATUSES = {visibility: _seen(visibility) for visibility in VISIBILITIES}
"""Every kind of reader: a dispute is found for each."""

PUBLIC = Visibility()
"""An anonymous reader's: published facts only."""
