"""Student tickets (short, unguessable, easy to type) and the bearer tokens they buy.

A ticket is 8 symbols from a 32-symbol alphabet without the look-alikes
0/O and 1/I (32**8 ≈ 1.1e12 codes), drawn with `secrets`; together with the
per-IP and per-ticket login rate limits this makes tickets not enumerable.
A token is an HMAC-signed (itsdangerous) pair of attempt id and the
attempt's `token_version`: it opens only its own attempt, and bumping the
version (a proctor lock) revokes every token issued before.
"""
from __future__ import annotations

import secrets
from dataclasses import dataclass

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

from .errors import Unauthorized

__all__ = [
    "ALPHABET",
    "TICKET_LENGTH",
    "TOKEN_MAX_AGE",
    "TokenClaims",
    "format_ticket",
    "generate_ticket",
    "issue_token",
    "normalize_ticket",
    "read_token",
]

ALPHABET = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"  # no 0/O, no 1/I
TICKET_LENGTH = 8
TOKEN_MAX_AGE = 24 * 3600  # seconds; a test day, with room for a resumed sitting
_SALT = "ctcensus.attempt-token.v1"


def generate_ticket() -> str:
    """A fresh random ticket (uniqueness is checked by the caller against the database)."""
    return "".join(secrets.choice(ALPHABET) for _ in range(TICKET_LENGTH))


def normalize_ticket(raw: str) -> str:
    """What the student typed, as stored: upper case, without spaces or dashes ('' if impossible)."""
    text = "".join(ch for ch in str(raw).upper() if ch not in " -\t\u3000")
    if len(text) != TICKET_LENGTH or any(ch not in ALPHABET for ch in text):
        return ""
    return text


def format_ticket(ticket: str) -> str:
    """Ticket as printed for people: two groups of four (ABCD-EFGH)."""
    return f"{ticket[:4]}-{ticket[4:]}" if len(ticket) == TICKET_LENGTH else ticket


@dataclass(frozen=True)
class TokenClaims:
    """What a valid token says."""

    attempt_id: int
    token_version: int


def _serializer(secret_key: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(secret_key, salt=_SALT)


def issue_token(secret_key: str, attempt_id: int, token_version: int) -> str:
    """A signed bearer token for one attempt."""
    return str(_serializer(secret_key).dumps({"a": int(attempt_id), "v": int(token_version)}))


def read_token(secret_key: str, token: str, max_age: int = TOKEN_MAX_AGE) -> TokenClaims:
    """Verify a token's signature and age; Unauthorized when it is bad or expired."""
    try:
        data = _serializer(secret_key).loads(token, max_age=max_age)
    except SignatureExpired:
        raise Unauthorized("your sign-in has expired; sign in again with your ticket", code="token_expired") from None
    except BadSignature:
        raise Unauthorized("the sign-in token is not valid; sign in again with your ticket", code="bad_token") from None
    try:
        return TokenClaims(attempt_id=int(data["a"]), token_version=int(data["v"]))
    except (KeyError, TypeError, ValueError):
        raise Unauthorized("the sign-in token is not valid; sign in again with your ticket", code="bad_token") from None
