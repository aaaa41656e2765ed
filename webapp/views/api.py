"""The student JSON API (/api/v1): ticket login, the attempt, start, answers, submit. Documented in openapi.json.

Thin: parse the request, call assessment services, commit, then answer.
Students authenticate with `Authorization: Bearer <token>` (no cookies, so
no CSRF); a token opens only its own attempt.
"""
from __future__ import annotations

import functools
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from flask import Blueprint, Response, current_app, jsonify, request
from flask.typing import ResponseReturnValue

from assessment import answers as answer_service
from assessment import attempts as attempt_service
from assessment import delivery
from assessment.admission import Busy
from assessment.db import utcnow
from assessment.errors import InvalidInput, ServiceBusy, TooManyRequests, Unauthorized
from assessment.hotstate import RateLimited
from assessment.models import Attempt
from assessment.presence import Presence
from assessment.throttle import TicketLoginThrottle
from assessment.tickets import TokenClaims, normalize_ticket, read_token
from item_bank import types as item_types

from ..body import json_object
from ..extensions import db_session, services

__all__ = ["OPENAPI_PATH", "TICKET_FAILURES_PER_IP", "TICKET_RATE_PER_TICKET", "bp"]

bp = Blueprint("api", __name__, url_prefix="/api/v1")

OPENAPI_PATH = Path(__file__).resolve().parent.parent / "openapi.json"
# A whole school signs in at once from one NAT address, so per IP only *failed* sign-ins count
# (every sign-in counts per ticket), and a ticket that exists is admitted even past that budget:
# the budget only turns further misses into 429s. It must be one a school's typos never reach:
# 200 failures a minute per address (IPv6: per /64). What it allows a guesser: tickets are 8 symbols from a 32-letter alphabet,
# 32^8 ≈ 1.1e12 codes, ~5,350 of them live on a test day. 200/min for an 8-hour day is 96,000
# guesses, each hitting a live ticket with p ≈ 5,350 / 1.1e12 ≈ 4.9e-9: about 1 in 2,100 per
# address per day (and a hit opens one student's attempt, whose name the player shows).
TICKET_FAILURES_PER_IP = 200
TICKET_RATE_PER_TICKET = 10
MAX_ITEM_ID = 64


@bp.after_request
def _no_store(response: Response) -> Response:
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response




def _presence() -> Presence:
    svc = services()
    return Presence(svc.redis, svc.redis_prefix)


def _lang() -> str:
    """The `lang` query parameter (400 bad_lang unless zh-TW or en, as documented), else the cookie, else zh-TW."""
    lang = request.args.get("lang")
    if lang is not None:
        if lang not in ("zh-TW", "en"):
            raise InvalidInput("lang must be zh-TW or en", code="bad_lang")
        return lang
    cookie = request.cookies.get("lang")
    return cookie if cookie in ("zh-TW", "en") else "zh-TW"


def _fast_lang() -> str:
    """The language for a fast path, or "" when `lang` is bad: the full path then authenticates first, then says 400."""
    try:
        return _lang()
    except InvalidInput:
        return ""


def _bearer() -> str:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("send the token from /api/v1/login as 'Authorization: Bearer <token>'", code="no_token")
    return token.strip()


def _current_attempt(for_update: bool = False) -> Attempt:
    """The token's attempt, with a lazy deadline check committed before anything else happens."""
    db = db_session()
    now = utcnow()
    attempt = attempt_service.attempt_for_token(db, _bearer(), secret_key=services().settings.secret_key,
                                                for_update=True)
    if attempt_service.expire_if_due(attempt, now):
        db.commit()
    elif not for_update:
        db.commit()  # release the row lock: reads need not hold it
    return attempt


def _claims() -> TokenClaims | None:
    """The bearer token's claims when its signature and age are good (the hot paths check the rest in SQL)."""
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    try:
        return read_token(services().settings.secret_key, token.strip())
    except Unauthorized:
        return None  # the full path answers 401


def _ticket_throttle() -> TicketLoginThrottle:
    per_ip = int(current_app.config.get("TICKET_FAILURES_PER_IP", TICKET_FAILURES_PER_IP))
    per_ticket = int(current_app.config.get("TICKET_RATE_PER_TICKET", TICKET_RATE_PER_TICKET))
    return TicketLoginThrottle(services().limiter, per_ip, per_ticket)


def _admitted(view: Callable[..., Any]) -> Callable[..., Any]:
    """Serve the view in turn with the worker's other sign-ins, starts and attempt reads (assessment.admission).

    A request the short queue does not reach within its wait is answered 503 `busy` with its
    place and Retry-After at once, instead of waiting unseen until the client gives up.
    """

    @functools.wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        gate = services().admission
        if gate is None:
            return view(*args, **kwargs)
        try:
            with gate.admit():
                return view(*args, **kwargs)
        except Busy as busy:
            raise ServiceBusy(f"many students are starting at once; you are number {busy.position} in line, "
                              f"please wait, the test tries again by itself in {busy.retry_after} s",
                              retry_after=busy.retry_after, position=busy.position) from None

    return wrapped


@bp.post("/login")
@_admitted
def login() -> ResponseReturnValue:
    """Ticket → attempt id + bearer token (the clock starts later, at POST /attempt/start).

    A ticket that exists is always admitted (a prankster behind a school's NAT
    cannot lock the school out); unknown tickets count against the address and
    are answered 429 past its budget. Every try counts per ticket code.
    """
    body = json_object(check_text=False)  # a non-text ticket is answered as bad_ticket below
    raw = body.get("ticket")
    if not isinstance(raw, str) or len(raw) > 64 or not _encodable(raw):
        raise InvalidInput("send your ticket as {\"ticket\": \"ABCD-EFGH\"} (letters, digits and dashes)",
                           code="bad_ticket")
    lang = _lang()
    throttle = _ticket_throttle()
    ticket = normalize_ticket(raw) or raw.strip().upper()[:16]
    try:
        throttle.before(ticket)
        db = db_session()
        now = utcnow()
        svc = services()
        fast = delivery.ticket_login(svc.engine, svc.delivery, raw, secret_key=svc.settings.secret_key, lang=lang,
                                     now=now)
        if fast is not None:  # an attempt that needs no change: read in one statement
            body, ref = fast
            _presence().touch(ref.session_id, ref.attempt_id, now)
            return jsonify(body)
        try:
            result = attempt_service.login_with_ticket(db, raw, secret_key=services().settings.secret_key, now=now)
        except Unauthorized:
            throttle.failed(request.remote_addr)  # an unknown ticket: raises RateLimited past the budget
            raise
    except RateLimited as exc:
        raise TooManyRequests(f"too many sign-in attempts; check the ticket and try again in {exc.retry_after} s",
                              retry_after=exc.retry_after) from None
    db.commit()
    attempt = result.attempt
    _presence().touch(attempt.session_id, attempt.id, now)
    body = attempt_service.attempt_view(db, attempt, lang=lang, now=now)
    body.update({"token": result.token, "token_type": "Bearer"})
    return jsonify(body)


def _encodable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate: no ticket, and no valid Redis key
        return False
    return True


@bp.get("/attempt")
@_admitted
def attempt() -> ResponseReturnValue:
    """Status, clock, items (no keys) and every acknowledged answer."""
    claims = _claims()
    lang = _fast_lang()
    if claims is not None and lang:
        now = utcnow()
        svc = services()
        fast = delivery.attempt_document(svc.engine, svc.delivery, claims.attempt_id, claims.token_version,
                                         lang=lang, now=now)
        if fast is not None:
            body, ref = fast
            _presence().touch(ref.session_id, ref.attempt_id, now)
            return jsonify(body)
    current = _current_attempt()
    now = utcnow()
    body = attempt_service.attempt_view(db_session(), current, lang=_lang(), now=now)
    _presence().touch(current.session_id, current.id, now)
    return jsonify(body)


def _clock_action(action: Callable[..., Any], *, document: bool = False) -> ResponseReturnValue:
    """Lock the attempt, apply `action` (start or submit), commit, then answer with the clock.

    With `document` the answer is the whole attempt document (`GET /attempt`'s body).
    """
    current = _current_attempt(for_update=True)  # authenticate first: no token is 401 whatever else is wrong
    lang = _lang() if document else ""
    now = utcnow()
    action(current, now=now)
    db = db_session()
    db.commit()
    _presence().touch(current.session_id, current.id, now, active=True)  # start or submit: the student acted
    if document:
        return jsonify(attempt_service.attempt_view(db, current, lang=lang, now=now))
    return jsonify(attempt_service.timer_view(current, now))


@bp.post("/attempt/start")
@_admitted
def start() -> ResponseReturnValue:
    """Start the clock (idempotent: a second start returns the same deadline); answers with the attempt document.

    The document carries the items, which the server sends only once the clock runs, so
    the player needs no `GET /attempt` after the start.
    """
    claims = _claims()
    lang = _fast_lang()
    if claims is not None and lang:
        now = utcnow()
        svc = services()
        fast = delivery.start_fast(svc.engine, svc.delivery, claims.attempt_id, claims.token_version, lang=lang,
                                   now=now)
        if fast is not None:  # the first start of a signed-in attempt, in one statement
            body, ref = fast
            _presence().touch(ref.session_id, ref.attempt_id, now, active=True)
            return jsonify(body)
    return _clock_action(attempt_service.start_attempt, document=True)


@bp.post("/attempt/heartbeat")
def heartbeat() -> ResponseReturnValue:
    """The client is alive and shows `current_item`; answers with the clock (pause, extra time)."""
    fast = _heartbeat_fast()
    if fast is not None:
        return fast
    current = _current_attempt()  # authenticate first: no token is 401 whatever the body
    current_item = json_object(required=False, fields=("current_item",)).get("current_item")
    if current_item == "":  # documented: "" means no item on screen, as null does
        current_item = None
    if current_item is not None and (not isinstance(current_item, str) or len(current_item) > MAX_ITEM_ID):
        raise InvalidInput("current_item must be an item id or null", code="bad_item")
    if current_item is not None:
        attempt_service.check_form_item(db_session(), current, current_item)  # 422 unknown_item
    now = utcnow()
    _presence().touch(current.session_id, current.id, now, current_item)
    return jsonify(attempt_service.timer_view(current, now))


def _heartbeat_fast() -> Response | None:
    """A heartbeat of an ordinary attempt with a well-formed body, read in one statement; None for the full path."""
    claims = _claims()
    if claims is None:
        return None
    try:
        current_item = json_object(required=False, fields=("current_item",)).get("current_item")
    except InvalidInput:
        return None
    if current_item == "":
        current_item = None
    if current_item is not None and (not isinstance(current_item, str) or len(current_item) > MAX_ITEM_ID):
        return None
    now = utcnow()
    svc = services()
    clock = delivery.attempt_clock(svc.engine, svc.delivery, claims.attempt_id, claims.token_version,
                                   current_item, now=now)
    if clock is None:
        return None
    body, ref = clock
    _presence().touch(ref.session_id, ref.attempt_id, now, current_item)
    return jsonify(body)


@bp.put("/attempt/answers/<item_id>")
def save_answer(item_id: str) -> ResponseReturnValue:
    """Upsert one answer if its seq is newer; commit; then acknowledge {item_id, seq}."""
    # Authenticate first (no token is 401 whatever the body), but receive the upload before the
    # attempt row is locked, so a slow client never holds the lock.
    request.get_data(cache=True)
    fast = _save_answer_fast(item_id)
    if fast is not None:
        return fast
    current = _current_attempt(for_update=True)
    if len(item_id) > MAX_ITEM_ID:
        raise InvalidInput("item id too long", code="bad_item")
    body = json_object(fields=("seq", "response", "answered_at"))
    if "response" not in body:
        raise InvalidInput("send {\"seq\": n, \"response\": {...}} (response null clears the answer)",
                           code="bad_json")
    answered_at = answer_service.parse_client_time(body.get("answered_at"))
    db = db_session()
    now = utcnow()
    ack = answer_service.save_answer(db, current.id, item_id, body.get("seq"), body.get("response"),
                                     answered_at=answered_at, now=now)
    db.commit()
    _presence().touch(current.session_id, current.id, now, ack.item_id, active=True)
    return jsonify({"item_id": ack.item_id, "seq": ack.seq})


def _save_answer_fast(item_id: str) -> Response | None:
    """The common save (a newer seq of an open, on-time attempt) in one statement; None leaves it to the full path.

    Anything else (no or bad token, a body or seq to refuse, a replay, a paused, locked or
    submitted attempt, the deadline) changes nothing here and gets its exact answer from the
    full path below, which authenticates before it judges the body.
    """
    claims = _claims()
    if claims is None or len(item_id) > MAX_ITEM_ID:
        return None
    svc = services()
    try:
        body = json_object(fields=("seq", "response", "answered_at"))
        answered_at = answer_service.parse_client_time(body.get("answered_at"))
    except InvalidInput:
        return None
    if "response" not in body:
        return None
    now = utcnow()
    saved = delivery.save_answer_fast(svc.engine, svc.delivery, claims.attempt_id, claims.token_version, item_id,
                                      body.get("seq"), body["response"], answered_at=answered_at, now=now)
    if saved is None:
        return None
    ack, ref = saved
    _presence().touch(ref.session_id, ref.attempt_id, now, ack.item_id, active=True)
    return jsonify({"item_id": ack.item_id, "seq": ack.seq})


@bp.post("/attempt/submit")
def submit() -> ResponseReturnValue:
    """End the attempt (idempotent: submitting twice answers the same)."""
    claims = _claims()
    if claims is not None:
        now = utcnow()
        fast = delivery.submit_fast(services().engine, claims.attempt_id, claims.token_version, now=now)
        if fast is not None:  # a running, on-time attempt of an open session, in one statement
            body, ref = fast
            _presence().touch(ref.session_id, ref.attempt_id, now, active=True)
            return jsonify(body)
    return _clock_action(attempt_service.submit_attempt)


@bp.get("/openapi.json")
def openapi() -> ResponseReturnValue:
    """This API's OpenAPI 3 document."""
    with OPENAPI_PATH.open(encoding="utf-8") as fh:
        doc = json.load(fh)
    # the item types come from their registry, the one list of them
    doc["components"]["schemas"]["Item"]["properties"]["type"]["enum"] = list(item_types.names())
    return jsonify(doc)
