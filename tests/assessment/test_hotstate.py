"""The Redis rate limiter (atomic count-then-give-back) and address keys."""
import pytest

from assessment.hotstate import RateLimited, RateLimiter, address_key, connect_redis


@pytest.fixture
def redis_client(redis_url, instance_path, redis_prefix):  # type: ignore[no-untyped-def]
    return connect_redis(redis_url, instance_path)


@pytest.fixture
def limiter(redis_client, redis_prefix):  # type: ignore[no-untyped-def]
    return RateLimiter(redis_client, redis_prefix)


def test_hit_counts_before_the_check_and_release_gives_back(limiter, redis_client, redis_prefix) -> None:  # type: ignore[no-untyped-def]
    redis_client.delete(redis_prefix + "rl:k")
    limiter.hit("k", 2)
    limiter.hit("k", 2)
    with pytest.raises(RateLimited) as info:
        limiter.hit("k", 2)
    assert 0 < info.value.retry_after <= 60
    limiter.release("k")
    limiter.release("k")
    assert redis_client.get(redis_prefix + "rl:k") == "1"
    limiter.hit("k", 2)  # a slot given back can be used again
    assert 0 < redis_client.ttl(redis_prefix + "rl:k") <= 60


def test_release_never_goes_below_zero_nor_recreates_a_key(limiter, redis_client, redis_prefix) -> None:  # type: ignore[no-untyped-def]
    redis_client.delete(redis_prefix + "rl:gone")
    limiter.release("gone")
    assert redis_client.exists(redis_prefix + "rl:gone") == 0
    limiter.hit("gone", 5)
    limiter.release("gone")
    limiter.release("gone")
    assert redis_client.get(redis_prefix + "rl:gone") == "0"


@pytest.mark.parametrize(("addr", "key"), [
    ("192.0.2.7", "192.0.2.7"),
    ("2001:db8:1:2:3:4:5:6", "2001:db8:1:2::/64"),
    ("2001:db8:1:2::", "2001:db8:1:2::/64"),
    ("::ffff:192.0.2.7", "192.0.2.7"),
    (None, "unknown"),
    ("not-an-address", "not-an-address"),
])
def test_address_key(addr, key) -> None:  # type: ignore[no-untyped-def]
    assert address_key(addr) == key
