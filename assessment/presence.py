"""Live per-student hot state in Redis (last seen, current item) for the proctor's view.

Best effort by design: Redis being down must never fail a student's request,
so writes swallow Redis errors and reads return nothing (the proctor view then
falls back to what SQL knows: last saved answer and its item).
"""
from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import UTC, datetime

import redis

__all__ = ["Presence", "Seen"]

log = logging.getLogger(__name__)
_TTL = 12 * 3600


@dataclass(frozen=True)
class Seen:
    """When an attempt's client last spoke to the server, and which item it showed."""

    at: datetime
    current_item: str | None


class Presence:
    """One Redis hash per session: attempt id → {"t": epoch seconds, "i": current item id}."""

    def __init__(self, client: redis.Redis, prefix: str) -> None:
        self.client = client
        self.prefix = prefix

    def _key(self, session_id: int) -> str:
        return f"{self.prefix}live:{session_id}"

    def touch(self, session_id: int, attempt_id: int, now: datetime, current_item: str | None = None) -> None:
        """Record a request from an attempt (keeping the last known item when none is given)."""
        key = self._key(session_id)
        try:
            if current_item is None:
                old = self.client.hget(key, str(attempt_id))
                if old:
                    current_item = json.loads(old).get("i")
            pipe = self.client.pipeline()
            pipe.hset(key, str(attempt_id), json.dumps({"t": now.timestamp(), "i": current_item}))
            pipe.expire(key, _TTL)
            pipe.execute()
        except (redis.RedisError, OSError, ValueError) as exc:
            log.warning("presence not recorded for attempt %s: %s", attempt_id, exc)

    def read(self, session_id: int) -> dict[int, Seen]:
        """Everything known for a session ({} when Redis is unavailable)."""
        try:
            raw = self.client.hgetall(self._key(session_id))
        except (redis.RedisError, OSError) as exc:
            log.warning("presence unavailable for session %s: %s", session_id, exc)
            return {}
        out: dict[int, Seen] = {}
        for attempt_id, value in raw.items():
            try:
                data = json.loads(value)
                out[int(attempt_id)] = Seen(datetime.fromtimestamp(float(data["t"]), tz=UTC), data.get("i"))
            except (ValueError, KeyError, TypeError):
                continue
        return out
