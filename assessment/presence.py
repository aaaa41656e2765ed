"""Live per-student hot state in Redis (last seen, current item) for the proctor's view.

Best effort by design: Redis being down must never fail a student's request,
so writes swallow Redis errors and reads return nothing (the proctor view then
falls back to what SQL knows: last saved answer and its item).
"""
from __future__ import annotations

import json
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

import redis

from .hotstate import guard_for

__all__ = ["Presence", "Seen"]

log = logging.getLogger(__name__)
_TTL = 12 * 3600


@dataclass(frozen=True)
class Seen:
    """When an attempt's client last spoke to the server, which item it showed, and when the student last acted.

    `at` is any request (a heartbeat too: the client is connected); `active_at` is
    the last *activity*: the start, a saved answer or a change of the current
    item. A client that keeps sending heartbeats but holds back every save is
    connected yet idle.
    """

    at: datetime
    current_item: str | None
    active_at: datetime


class Presence:
    """One Redis hash per session: attempt id → {"t": last request, "i": current item id, "a": last activity}."""

    def __init__(self, client: redis.Redis, prefix: str) -> None:
        self.client = client
        self.prefix = prefix
        self.guard = guard_for(client)  # a Redis known to be down is skipped, not waited for

    def _key(self, session_id: int) -> str:
        return f"{self.prefix}live:{session_id}"

    def touch(self, session_id: int, attempt_id: int, now: datetime, current_item: str | None = None, *,
              active: bool = False) -> None:
        """Record a request from an attempt (keeping the last known item when none is given).

        `active` marks the student's own activity (start, saved answer); a change of the
        current item counts as activity too, a heartbeat on the same item does not.
        """
        key = self._key(session_id)
        if not self.guard.available():
            return
        try:
            old = self.client.hget(key, str(attempt_id))
            previous = json.loads(old) if old else {}
            if current_item is None:
                current_item = previous.get("i")
            moved = current_item is not None and current_item != previous.get("i")
            active_at = now.timestamp() if active or moved or "a" not in previous else float(previous["a"])
            pipe = self.client.pipeline()
            pipe.hset(key, str(attempt_id), json.dumps({"t": now.timestamp(), "i": current_item, "a": active_at}))
            pipe.expire(key, _TTL)
            pipe.execute()
        except (redis.RedisError, OSError) as exc:
            self.guard.failed(exc)
            log.warning("presence not recorded for attempt %s: %s", attempt_id, exc)
        except (ValueError, TypeError) as exc:
            log.warning("presence not recorded for attempt %s: %s", attempt_id, exc)

    def read(self, session_id: int) -> dict[int, Seen]:
        """Everything known for a session ({} when Redis is unavailable)."""
        return self.read_many([session_id]).get(session_id, {})

    def read_many(self, session_ids: Iterable[int]) -> dict[int, dict[int, Seen]]:
        """Everything known for several sessions in one round trip (session id -> attempt id -> Seen).

        {} when Redis is unavailable; a session nobody has signed in to is missing or empty.
        """
        ids = list(session_ids)
        if not ids or not self.guard.available():
            return {}
        try:
            pipe = self.client.pipeline(transaction=False)
            for session_id in ids:
                pipe.hgetall(self._key(session_id))
            hashes = pipe.execute()
        except (redis.RedisError, OSError) as exc:
            self.guard.failed(exc)
            log.warning("presence unavailable for %d session(s): %s", len(ids), exc)
            return {}
        return {session_id: _parse(raw) for session_id, raw in zip(ids, hashes, strict=True)}


def _parse(raw: dict[str, str]) -> dict[int, Seen]:
    out: dict[int, Seen] = {}
    for attempt_id, value in raw.items():
        try:
            data = json.loads(value)
            at = datetime.fromtimestamp(float(data["t"]), tz=UTC)
            active_at = datetime.fromtimestamp(float(data["a"]), tz=UTC) if "a" in data else at
            out[int(attempt_id)] = Seen(at, data.get("i"), active_at)
        except (ValueError, KeyError, TypeError):
            continue
    return out
