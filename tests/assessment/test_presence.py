"""Presence touches are queued and written in order by a background writer; a read sees this process's touches."""
from datetime import timedelta

import redis

from assessment.db import utcnow
from assessment.presence import Presence


def test_touches_are_written_in_order_and_read_back(app) -> None:  # type: ignore[no-untyped-def]
    svc = app.extensions["ctcensus"]
    presence = Presence(svc.redis, svc.redis_prefix)
    t0 = utcnow()
    for k in range(200):  # many queued touches: the last one wins, in the order they were made
        presence.touch(7, 1, t0 + timedelta(seconds=k), f"item-{k % 3}")
    presence.touch(7, 1, t0 + timedelta(seconds=300))  # a heartbeat without an item keeps the last one
    presence.touch(7, 2, t0, None, active=True)
    seen = Presence(svc.redis, svc.redis_prefix).read(7)
    assert seen[1].current_item == "item-1" and seen[1].at == t0 + timedelta(seconds=300)
    assert seen[1].active_at == t0 + timedelta(seconds=199)  # the heartbeat on the same item is no activity
    assert seen[2].current_item is None and seen[2].active_at == t0


def test_a_dead_redis_never_fails_or_delays_a_touch(app) -> None:  # type: ignore[no-untyped-def]
    dead = redis.Redis(host="127.0.0.1", port=1, socket_timeout=0.2, socket_connect_timeout=0.2)
    presence = Presence(dead, "x:")
    presence.touch(1, 1, utcnow(), "item")  # queued; the writer logs the failure
    assert presence.read(1) == {}


def test_a_touch_from_another_host_arriving_late_does_not_move_the_live_status_back(app) -> None:  # type: ignore[no-untyped-def]
    """Two hosts' writers send their touches independently; the newer request wins whatever the arrival order.

    The student's save on host B (newer, the next item) reaches Redis before host A's
    writer sends the heartbeat A received just before: the proctor must still see the
    save's time and item, not the older heartbeat's.
    """
    from assessment.hotstate import connect_redis

    svc = app.extensions["ctcensus"]
    host_a = Presence(connect_redis(svc.settings.redis_url, svc.settings.instance_path), svc.redis_prefix)
    host_b = Presence(svc.redis, svc.redis_prefix)
    t0 = utcnow()
    host_b.touch(9, 1, t0 + timedelta(seconds=1), "item-2", active=True)
    assert host_b.read(9)[1].current_item == "item-2"  # B's writer has sent it
    host_a.touch(9, 1, t0, "item-1")  # older, sent later by A's writer
    host_a.touch(9, 2, t0 - timedelta(seconds=5), None, active=True)
    host_b.touch(9, 2, t0 - timedelta(seconds=9), "item-3")  # an older request that moved to an item: active then
    host_a.read(9)
    seen = host_b.read(9)
    assert (seen[1].at, seen[1].current_item, seen[1].active_at) == (t0 + timedelta(seconds=1), "item-2",
                                                                      t0 + timedelta(seconds=1))
    # the older touch's activity still counts where it is the latest known; its item does not replace a newer one
    assert (seen[2].at, seen[2].current_item, seen[2].active_at) == (t0 - timedelta(seconds=5), "item-3",
                                                                      t0 - timedelta(seconds=5))
