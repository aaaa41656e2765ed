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

from .hotstate import guard_for

__all__ = ["Presence", "Seen", "SessionPresence"]

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


@dataclass(frozen=True)
class SessionPresence:
    """What Redis knows of a session's students, counted in Redis (see `Presence.tally`)."""

    joined: int  # of the students still to start: those signed in
    offline: int  # of the students writing: those not heard from since the cut-off (or never)
    last_active: datetime | None  # the latest activity of any of them


# Counts in Redis, so that no per-student data crosses the network or Python. For session i: KEYS[i] is
# its presence hash, ARGV[2i] and ARGV[2i+1] the comma-separated ids of its students still to start and
# of those writing, ARGV[1] the cut-off (epoch seconds). Returns {joined, offline, last activity} per
# session; the last activity as a string (a Lua number would become an integer in the reply).
_TALLY_LUA = """
local cutoff = tonumber(ARGV[1])
local out = {}
for i, key in ipairs(KEYS) do
  local joined, offline, last = 0, 0, 0
  for group = 0, 1 do
    local ids = {}
    for id in string.gmatch(ARGV[2 * i + group], '[^,]+') do ids[#ids + 1] = id end
    for start = 1, #ids, 500 do
      local batch = {unpack(ids, start, math.min(start + 499, #ids))}
      local values = redis.call('HMGET', key, unpack(batch))
      for _, raw in ipairs(values) do
        local seen = nil
        if raw then  -- signed in; an entry that does not parse still says so
          local ok, value = pcall(cjson.decode, raw)
          seen = (ok and type(value) == 'table') and value or {}
        end
        if group == 0 then
          if seen then joined = joined + 1 end
        elseif not seen or (tonumber(seen.t) or 0) < cutoff then
          offline = offline + 1
        end
        local active = seen and tonumber(seen.a or seen.t) or 0
        if active > last then last = active end
      end
    end
  end
  out[i] = {joined, offline, tostring(last)}
end
return out
"""


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
        if not self.guard.available():
            return {}
        try:
            raw = self.client.hgetall(self._key(session_id))
        except (redis.RedisError, OSError) as exc:
            self.guard.failed(exc)
            log.warning("presence unavailable for session %s: %s", session_id, exc)
            return {}
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

    def tally(self, groups: dict[int, tuple[str, str]], heard_since: datetime) -> dict[int, SessionPresence] | None:
        """Per session: how many of its students still to start have signed in, how many writing are offline.

        `groups` maps a session id to the comma-separated attempt ids of its students still
        to start and of those writing; offline means no request since `heard_since`. One
        script in Redis does the counting for every session (the city's thousands of
        students never reach Python); None when Redis is unavailable.
        """
        if not groups:
            return {}
        if not self.guard.available():
            return None
        ids = list(groups)
        args: list[str] = [repr(heard_since.timestamp())]
        for session_id in ids:
            args += groups[session_id]
        try:
            rows = self.client.eval(_TALLY_LUA, len(ids), *(self._key(i) for i in ids), *args)
        except (redis.RedisError, OSError) as exc:
            self.guard.failed(exc)
            log.warning("presence unavailable for %d session(s): %s", len(ids), exc)
            return None
        out = {}
        for session_id, (joined, offline, last) in zip(ids, rows, strict=True):
            at = datetime.fromtimestamp(float(last), tz=UTC) if float(last) else None
            out[session_id] = SessionPresence(int(joined), int(offline), at)
        return out

