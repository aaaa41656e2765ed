"""Sign-in throttling policy: limit the guesser, never the school.

Students: a ticket that exists is always looked up and admitted, whatever its
address has done; per address only *failures* (unknown tickets) are counted,
and past the budget further failures are answered 429. Every try counts per
ticket code (a student does not sign in ten times a minute).

Staff: failures are counted per (username, address), per username and per
address. A (username, address) pair over its own limit is refused; a pair with
a recent failure is also refused while its username or its address is over the
looser shared limit. A pair with no recent failure is always checked: the real
user at another desk and a colleague behind the attacker's NAT still sign in.
See docs/deploy.md for the reasoning and the numbers.
"""
from __future__ import annotations

import hashlib
import logging

from .hotstate import RateLimited, RateLimiter, address_key

log = logging.getLogger(__name__)

__all__ = ["STAFF_ADDRESS_FACTOR", "STAFF_USER_FACTOR", "StaffLoginThrottle", "TicketLoginThrottle"]

STAFF_USER_FACTOR = 5  # per username, across addresses: 5 x the per-(username, address) limit
STAFF_ADDRESS_FACTOR = 10  # per address, across usernames: 10 x


def _name_key(username: str) -> str:
    # hashed: any length or character a form may carry makes a short, safe key
    return hashlib.sha256(username.strip().lower().encode("utf-8", "surrogatepass")).hexdigest()[:32]


class StaffLoginThrottle:
    """Staff password sign-in limits (failures per minute), counted atomically before the password check."""

    def __init__(self, limiter: RateLimiter, per_pair: int) -> None:
        self.limiter = limiter
        self.per_pair = per_pair
        self.per_user = per_pair * STAFF_USER_FACTOR
        self.per_address = per_pair * STAFF_ADDRESS_FACTOR

    def _keys(self, username: str, remote_addr: str | None) -> tuple[str, str, str]:
        name, addr = _name_key(username), address_key(remote_addr)
        return f"login:fail:pair:{name}:{addr}", f"login:fail:user:{name}", f"login:fail:ip:{addr}"

    def before(self, username: str, remote_addr: str | None) -> None:
        """Take a provisional failure slot for this (username, address); raise RateLimited when refused.

        Counted before the check so parallel guesses cannot all pass; given back
        by `succeeded` (or `aborted`) when the attempt was no wrong password.
        """
        pair, user, addr = self._keys(username, remote_addr)
        if self.limiter.hit(pair, self.per_pair) == 1:
            return  # no recent failure of this username from this address: always checked
        for key, limit in ((user, self.per_user), (addr, self.per_address)):
            count, ttl = self.limiter.count(key)
            if count >= limit:
                self.limiter.release(pair)
                raise RateLimited(key, max(ttl, 1))

    def failed(self, username: str, remote_addr: str | None) -> None:
        """A wrong password: the pair keeps its slot; the username and the address count one failure."""
        _, user, addr = self._keys(username, remote_addr)
        self.limiter.record(user)
        self.limiter.record(addr)

    def succeeded(self, username: str, remote_addr: str | None) -> None:
        """A correct password (or no answer at all): give the provisional slot back."""
        self.limiter.release(self._keys(username, remote_addr)[0])

    aborted = succeeded


class TicketLoginThrottle:
    """Student ticket sign-in limits: every try per ticket code, failures per address (never a valid ticket)."""

    def __init__(self, limiter: RateLimiter, failures_per_address: int, per_ticket: int) -> None:
        self.limiter = limiter
        self.failures_per_address = failures_per_address
        self.per_ticket = per_ticket

    def before(self, ticket: str) -> None:
        """Count a try of this ticket code; raise RateLimited past the per-ticket limit."""
        if ticket:
            self.limiter.hit(f"ticket:code:{ticket}", self.per_ticket)

    def failed(self, remote_addr: str | None) -> None:
        """An unknown ticket: count it against the address; raise RateLimited once over the budget."""
        address = address_key(remote_addr)
        count, ttl = self.limiter.record(f"ticket:fail:ip:{address}")
        if count == self.failures_per_address + 1:  # once per window: operators may block it upstream
            log.warning("address %s passed %d unknown tickets this minute (a guesser?); its valid tickets are "
                        "still admitted", address, self.failures_per_address)
        if count > self.failures_per_address:
            raise RateLimited("ticket failures of this address", max(ttl, 1))
