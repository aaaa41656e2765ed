"""The states an attempt and a session can be in, as typed enums (stored as their string values).

`StrEnum` members compare equal to their values, so rows read by raw SQL (the hot
path) and JSON bodies need no conversion. The database refuses any other value
(CHECK constraints, migration 0007).
"""
from __future__ import annotations

from enum import StrEnum

__all__ = ["AttemptSource", "AttemptStatus", "SessionStatus", "SubmitReason"]


class AttemptStatus(StrEnum):
    """An attempt's life: signed in, clock running, over (docs/answer-protocol.md)."""

    NOT_STARTED = "not_started"
    IN_PROGRESS = "in_progress"
    SUBMITTED = "submitted"
    REPLACED = "replaced"  # superseded by re-imported scores (`responses import --replace`); kept, locked


class SubmitReason(StrEnum):
    """Why a submitted attempt ended."""

    STUDENT = "student"
    DEADLINE = "deadline"
    SESSION_CLOSED = "session_closed"
    IMPORT = "import"  # scores imported with `ctcensus responses import`


class SessionStatus(StrEnum):
    """A class's test session: students can answer while open; paused stops the clocks; closed ends it."""

    OPEN = "open"
    PAUSED = "paused"
    CLOSED = "closed"


class AttemptSource(StrEnum):
    """Where an attempt's answers came from."""

    ONLINE = "online"  # taken in the player
    IMPORT = "import"  # item scores from `ctcensus responses import`
