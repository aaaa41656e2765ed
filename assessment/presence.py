"""Live per-student hot state in Redis (last seen, current item) for the proctor's view.

Best effort by design: Redis being down must never fail a student's request,
so writes swallow Redis errors and reads return nothing (the proctor view then
falls back to what SQL knows: last saved answer and its item).
"""
from __future__ import annotations

import json
import logging
import os
import threading
import time
import weakref
from collections import deque
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

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

# KEYS[1] the session's hash; ARGV: attempt id, now (epoch seconds), current item ("" = keep the last
# known one), "1" when the student acted, the hash's TTL. Times are written as strings so that
# no precision is lost in Lua (cjson prints 14 digits); `read` takes numbers and strings alike.
# Each host's writer sends its touches on its own, so a touch may arrive after a newer one from
# another host (issue 10.7): it then moves nothing back. The last request and the item shown stay
# the newer touch's (its item fills in only where none is known), and its activity counts only
# if it is later than the activity known.
_TOUCH_LUA = """
local previous = {}
local old = redis.call('HGET', KEYS[1], ARGV[1])
if old then
  local ok, value = pcall(cjson.decode, old)
  if ok and type(value) == 'table' then previous = value end
end
local function known(name)
  local value = previous[name]
  if value == cjson.null then return nil end
  if type(value) == 'number' then return string.format('%.6f', value) end
  return value
end
local now, item = ARGV[2], ARGV[3]
if item == '' then item = nil end
local last_t, last_item, active_at = known('t'), known('i'), known('a')
local entry
if last_t and tonumber(last_t) and tonumber(now) < tonumber(last_t) then
  active_at = active_at or last_t
  local acted = ARGV[4] == '1' or (item ~= nil and item ~= last_item)
  if acted and tonumber(now) > (tonumber(active_at) or 0) then active_at = now end
  entry = {t = last_t, a = active_at, i = last_item or item}
else
  local shown = item or last_item
  if ARGV[4] == '1' or (shown ~= nil and shown ~= last_item) or active_at == nil then active_at = now end
  entry = {t = now, a = active_at, i = shown}
end
if entry['i'] == nil then entry['i'] = cjson.null end
redis.call('HSET', KEYS[1], ARGV[1], cjson.encode(entry))
redis.call('EXPIRE', KEYS[1], ARGV[5])
return 1
"""


class _Writer:
    """Sends a process's presence touches to Redis from a background thread, in pipelines, in order.

    A touch is best-effort hot state, so a request does not wait for Redis: it queues the
    touch and answers. `flush` waits until everything queued so far is written (a read in
    the same process sees its own writes).
    """

    def __init__(self, client: redis.Redis) -> None:
        self.client = client
        self.script = client.register_script(_TOUCH_LUA)
        self.guard = guard_for(client)
        self._pending: deque[tuple[list[str], list[Any]]] = deque()
        self._cond = threading.Condition()
        self._writing = False
        self._running = False
        self._waiting = False  # the writer is waiting for touches (only then does a touch wake it)
        self._flushing = 0  # readers waiting in flush: the writer sends at once, without gathering
        self._pid = 0

    def submit(self, keys: list[str], args: list[Any]) -> None:
        with self._cond:
            if self._pid != os.getpid():  # first use in this process (or after a fork)
                self._pid = os.getpid()
                self._pending.clear()
                self._running = False
            if not self._running:  # the writer ends after a quiet spell; start it again
                self._running = True
                threading.Thread(target=self._run, name="presence-writer", daemon=True).start()
            if len(self._pending) < _MAX_PENDING:  # Redis far behind: drop rather than grow without bound
                self._pending.append((keys, args))
            if self._waiting:  # a busy or gathering writer takes this touch with its next batch anyway
                self._waiting = False
                self._cond.notify_all()

    def flush(self, timeout: float = 2.0) -> None:
        deadline = time.monotonic() + timeout
        with self._cond:
            self._flushing += 1
            self._cond.notify_all()  # a gathering writer sends now
            try:
                while (self._pending or self._writing) and self._pid == os.getpid():
                    remaining = deadline - time.monotonic()
                    if remaining <= 0:
                        return
                    self._cond.wait(remaining)
            finally:
                self._flushing -= 1

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._pending:
                    self._waiting = True
                    if not self._cond.wait(_IDLE_SECONDS) and not self._pending:
                        self._waiting = self._running = False  # quiet: end (no idle thread per Redis client)
                        return
                self._waiting = False
                # Gather: the touches of a few ms share one pipeline (one round trip, one wake-up of this
                # thread) instead of one each; a reader's flush cuts the wait short.
                gather_until = time.monotonic() + _GATHER_SECONDS
                while not self._flushing and len(self._pending) < _BATCH and time.monotonic() < gather_until:
                    self._cond.wait(gather_until - time.monotonic())
                batch = list(self._pending)
                self._pending.clear()
                self._writing = True
            try:
                if self.guard.available():
                    pipe = self.client.pipeline(transaction=False)
                    for keys, args in batch:
                        self.script(keys=keys, args=args, client=pipe)
                    pipe.execute()
            except (redis.RedisError, OSError) as exc:
                self.guard.failed(exc)
                log.warning("presence not recorded for %d requests: %s", len(batch), exc)
            finally:
                with self._cond:
                    self._writing = False
                    self._cond.notify_all()


_MAX_PENDING = 50_000
_GATHER_SECONDS = 0.02  # how long the writer lets touches gather before it sends them (hot state: no one waits)
_BATCH = 200  # send at once when this many are waiting
_IDLE_SECONDS = 5.0
_writers: weakref.WeakKeyDictionary[redis.Redis, _Writer] = weakref.WeakKeyDictionary()
_writers_lock = threading.Lock()


def _writer(client: redis.Redis) -> _Writer:
    """The process's writer for `client`."""
    with _writers_lock:
        writer = _writers.get(client)
        if writer is None:
            writer = _writers[client] = _Writer(client)
        return writer


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
        current item counts as activity too, a heartbeat on the same item does not. The
        request does not wait for Redis: a background writer sends the touches in order, in
        pipelines, each a server-side script that reads the previous entry and writes the new one.
        """
        if not self.guard.available():
            return
        _writer(self.client).submit([self._key(session_id)], [str(attempt_id), repr(now.timestamp()),
                                                              current_item or "", "1" if active else "", _TTL])

    def read(self, session_id: int) -> dict[int, Seen]:
        """Everything known for a session ({} when Redis is unavailable); this process's touches included."""
        if not self.guard.available():
            return {}
        _writer(self.client).flush()
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
        _writer(self.client).flush()  # this process's touches first, as `read` does
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

