"""The product's published event contracts, and who subscribes to which event type.

The relay declares every subscriber's queue from this list before publishing anything;
tests check that each service's handlers and this list agree.
"""

from leitai.contracts import ranking, registration, scoring
from leitai.contracts.catalogue import Catalogue, Subscription
from leitai.contracts.registry import ContractRegistry

REGISTRY = ContractRegistry([*registration.CONTRACTS, *scoring.CONTRACTS, *ranking.CONTRACTS])

# consumer -> source -> event types
CONSUMES = {
    "scoring": {"registration": ("SessionOpened",), "ranking": ("StageResultsPublished",)},
    "registration": {"ranking": ("ContestantAdvanced", "StageResultsRepublished")},
    "ranking": {
        "registration": ("ContestCreated", "StageDefined", "EntrySubmitted", "SessionScheduled", "SessionOpened"),
        "scoring": (
            "ScoreSheetSubmitted",
            "ScoreSheetRevised",
            "ToleranceFlagRaised",
            "EntryScored",
            "SessionLocked",
            "ScoreSheetCorrected",
            "ScoreSheetVoided",
            "EntryRescored",
        ),
        "ranking": ("StageResultsPublished", "StageResultsRepublished"),
    },
    "notify": {
        "registration": (
            "ContestCreated",
            "StageDefined",
            "EntrySubmitted",
            "JudgeRegistered",
            "SessionOpened",
            "ForumSeriesCreated",
            "ForumMeetingScheduled",
            "AdvancementChangeFollowed",
            "AdvancementChangeReferred",
            "AdvancementChangeDecided",
        ),
        "scoring": ("ToleranceFlagRaised", "EntryScored"),
        "ranking": ("StageResultsPublished", "StageResultsRepublished", "AppealFiled", "AppealDecided"),
    },
}


def handler_name(event_type: str) -> str:
    """The consumer's method for an event type: EntryScored -> on_entry_scored."""
    return "on_" + "".join(f"_{c.lower()}" if c.isupper() else c for c in event_type).lstrip("_")


SUBSCRIPTIONS = tuple(
    Subscription(consumer, handler_name(event_type), source, event_type)
    for consumer, sources in CONSUMES.items()
    for source, types in sources.items()
    for event_type in types
)
CATALOGUE = Catalogue(REGISTRY, SUBSCRIPTIONS)
