"""Hypothesis-made answer payloads for every item type through PUT /api/v1/attempt/answers/<item_id>.

The bodies are arbitrary JSON (wrong types, nesting, unicode, control characters, lone surrogates,
NaN, negative and huge numbers), near-valid responses of the item's type, and raw bytes. A small
model of docs/answer-protocol.md predicts each answer: a body the protocol refuses is a 4xx with a
JSON {error, message} and the answers table is unchanged; a well-formed body with a stale or replayed
seq is acknowledged with the stored seq and changes nothing; a newer seq with a response
`item_bank.validate_response` refuses is 422; a newer valid one is stored normalised, with
`score_response`'s score. No answer is ever a 5xx.

Bounded: 80 examples per type for the mixed payloads and 20 for valid ones; derandomized under CI
(the conftest's Hypothesis "ci" profile).
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest
from flask.testing import FlaskClient
from hypothesis import HealthCheck, event, example, given, settings
from hypothesis import strategies as st
from sqlalchemy import text
from sqlalchemy.engine import Engine

from assessment.answers import MAX_SEQ
from assessment.text import control_character
from item_bank import Item, ResponseError, score_response, validate_response
from item_bank.validation import MAX_ANSWER_TEXT
from tests.assessment.factories import TYPES

from .conftest import World, bearer, snapshot, student_token

FIELDS = ("seq", "response", "answered_at")
NEXT, SAME, OLDER = "<next seq>", "<stored seq>", "<older seq>"  # resolved against the stored seq when sent
NASTY = ["<script>alert(1)</script>", "\x00", "\x1b[31m", "\u0085", "\u202e", "\ud800", "\udfff", "A" * 201,
         "x" * 70_000, "\t\n", " ", "", "１２", "1e309", "NaN", "-0", "__proto__", "constructor", "%00", "\\u0000"]

# Control characters and lone surrogates are refused before anything else (400 bad_json), so they get
# their own branch; everywhere else strings are printable, so that most bodies reach the deeper rules.
MARKUP = ["<script>alert(1)</script>", '"><img src=x onerror=alert(1)>', "javascript:alert(1)", "\u202e", "１２"]
printable = st.text(st.characters(exclude_categories=("Cc", "Cs")), max_size=20)
leaves = (st.none() | st.booleans() | st.integers(min_value=-(2**80), max_value=2**80)
          | st.floats(allow_nan=True, allow_infinity=True) | printable | st.sampled_from(MARKUP))
nasty = st.sampled_from(NASTY) | st.text(max_size=20)
json_values = st.recursive(leaves, lambda inner: st.lists(inner, max_size=4)
                           | st.dictionaries(printable | st.sampled_from(MARKUP), inner, max_size=4),
                           max_leaves=12)
seqs = st.sampled_from([NEXT, NEXT, NEXT, SAME, OLDER]) | st.sampled_from(
    [0, -1, 1, MAX_SEQ, MAX_SEQ + 1, 2**63, -(2**63), 10**30, 1.0, 1.5, True, False, "1", None, [1], {"n": 1}]
) | leaves
answered_ats = st.sampled_from(["2026-05-04T01:02:03Z", "2026-05-04T01:02:03+08:00", "2026-05-04T01:02:03",
                                "yesterday", "", "9999-99-99T99:99:99Z", "2026-05-04T01:02:03Z" * 3, 0, None])


def _ids(item: Item) -> tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]:
    return tuple(item.option_ids), tuple(getattr(item, "left_ids", ()) or ()), tuple(getattr(item, "right_ids", ()) or ())


def valid_responses(item: Item) -> st.SearchStrategy[dict[str, Any] | None]:
    """Responses `validate_response` accepts for this item (empty ones included)."""
    options, left, right = _ids(item)
    field = {"single_choice": "choice", "multiple_response": "choices", "ordering": "order", "matching": "pairs",
             "short_answer": "text", "grid_path": "moves"}[item.type]
    if item.type == "single_choice":
        value: st.SearchStrategy[Any] = st.sampled_from(options)
    elif item.type == "multiple_response":
        value = st.lists(st.sampled_from(options), unique=True, max_size=len(options))
    elif item.type == "ordering":
        value = st.permutations(list(options))
    elif item.type == "matching":
        value = st.lists(st.sampled_from(left), unique=True).flatmap(
            lambda lefts: st.tuples(*(st.tuples(st.just(x), st.sampled_from(right)).map(list) for x in lefts)).map(list))
    elif item.type == "short_answer":
        value = st.text(max_size=MAX_ANSWER_TEXT).filter(
            lambda s: control_character(s, allow_line_breaks=True) is None) | st.sampled_from(["7", "１２", " 3 "])
    else:
        assert item.grid is not None
        value = st.text(alphabet="URDLurdl ", max_size=item.grid.max_moves)
    return st.none() | st.fixed_dictionaries({field: value})


def near_responses(item: Item) -> st.SearchStrategy[Any]:
    """Responses of about the right shape: unknown ids, repeats, partial orders, wrong field names and types."""
    options, left, right = _ids(item)
    ids = st.sampled_from([*options, *left, *right, "Z", "", "a", "A ", "<b>A</b>", *MARKUP])
    shapes = (st.fixed_dictionaries({"choice": ids | leaves}) | st.fixed_dictionaries({"choices": st.lists(ids)})
              | st.fixed_dictionaries({"order": st.lists(ids, max_size=8)})
              | st.fixed_dictionaries({"pairs": st.lists(st.lists(ids, max_size=3), max_size=6)})
              | st.fixed_dictionaries({"text": st.text(max_size=MAX_ANSWER_TEXT + 5) | nasty})
              | st.fixed_dictionaries({"choice": nasty}) | st.fixed_dictionaries({"order": st.lists(nasty, max_size=3)})
              | st.fixed_dictionaries({"moves": st.text(alphabet="URDLurdlX ,0", max_size=60)})
              | st.dictionaries(st.sampled_from(["choice", "choices", "order", "pairs", "text", "moves", "x"]),
                                json_values, max_size=3))
    return valid_responses(item) | shapes | json_values


@dataclass(frozen=True)
class Payload:
    """One request: a body (JSON value, or raw bytes) and its content type; seq may be NEXT/SAME/OLDER."""

    body: Any
    content_type: str = "application/json"


def payloads(item: Item) -> st.SearchStrategy[Payload]:
    """Mostly bodies the protocol judges (so that stored, stale and 422 answers are reached), then the rest."""
    relative = st.sampled_from([NEXT, NEXT, NEXT, SAME, OLDER])
    objects = st.fixed_dictionaries({"seq": st.one_of(relative, relative, relative, seqs),
                                     "response": near_responses(item)}, optional={"answered_at": answered_ats})
    extra = st.fixed_dictionaries({"seq": seqs, "response": near_responses(item)},
                                  optional={"x": json_values, "attempt_id": st.integers(), "\x00": nasty})
    missing = st.fixed_dictionaries({}, optional={"seq": seqs, "answered_at": answered_ats})
    raw = st.binary(max_size=40) | st.sampled_from([b"", b"{", b'{"seq": 1, "response": ', b"[" * 40 + b"]" * 40,
                                                     b'{"seq": 1, "response": {"choice": "\xff"}}', b"\xef\xbb\xbf{}"])
    odd_types = st.builds(Payload, objects, st.sampled_from(["text/plain", "application/x-www-form-urlencoded",
                                                             "application/json; charset=utf-8"]))
    return st.one_of(*[objects.map(Payload)] * 8, extra.map(Payload), missing.map(Payload), json_values.map(Payload),
                     odd_types, raw.map(Payload))


def _resolve(value: Any, stored: int) -> Any:
    return {NEXT: stored + 1, SAME: max(stored, 1), OLDER: max(stored - 1, 1)}.get(value, value) \
        if isinstance(value, str) else value


def _plain_text(value: Any) -> bool:
    """Every string (keys included) is Unicode text without control characters other than tab and line breaks."""
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return False
        return control_character(value, allow_line_breaks=True) is None
    if isinstance(value, dict):
        return all(_plain_text(k) and _plain_text(v) for k, v in value.items())
    if isinstance(value, list):
        return all(_plain_text(v) for v in value)
    return True


def _answered_at_ok(value: Any) -> bool:
    if value is None:
        return True
    if not isinstance(value, str) or len(value) > 40:
        return False
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        return False
    return parsed.tzinfo is not None


MAX_BODY = 2 * 1024 * 1024  # the app's MAX_CONTENT_LENGTH: larger bodies are 413
MAX_DEPTH = 32  # webapp/body.py: deeper bodies are 400 bad_json


def _depth(value: Any) -> int:
    if isinstance(value, dict):
        return 1 + max((_depth(v) for v in value.values()), default=0)
    if isinstance(value, list):
        return 1 + max((_depth(v) for v in value), default=0)
    return 0


def well_formed(body: Any, content_type: str) -> bool:
    """What the protocol accepts to judge at all (else 4xx): a JSON object of the known fields, with a response,
    a seq in 1..2^31-1, an ISO time with zone (or none) as answered_at, plain text everywhere, at most 32 levels
    deep and 2 MiB long."""
    if not isinstance(body, dict) or not content_type.startswith("application/json"):
        return False
    if _depth(body) > MAX_DEPTH or len(json.dumps(body).encode()) > MAX_BODY:
        return False
    seq = body.get("seq")
    return (set(body) <= set(FIELDS) and "response" in body and not isinstance(seq, bool) and isinstance(seq, int)
            and 1 <= seq <= MAX_SEQ and _answered_at_ok(body.get("answered_at")) and _plain_text(body))


def _stored(engine: Engine, attempt_id: int, item_id: str) -> tuple[int, Any, int | None] | None:
    with engine.connect() as conn:
        row = conn.execute(text("SELECT a.seq, a.response, a.score FROM answers a JOIN items i ON i.pk = a.item_pk "
                                "WHERE a.attempt_id = :a AND i.item_id = :i"), {"a": attempt_id, "i": item_id}).first()
    if row is None:
        return None
    response = json.loads(row[1]) if isinstance(row[1], str) else row[1]
    return int(row[0]), response, row[2]


def _send(client: FlaskClient, token: str, item: Item, payload: Payload, stored: int) -> Any:
    body = payload.body
    if isinstance(body, bytes):
        data = body
    else:
        if isinstance(body, dict) and "seq" in body:
            body = {**body, "seq": _resolve(body["seq"], stored)}
        data = json.dumps(body).encode()
    return client.put(f"/api/v1/attempt/answers/{item.id}", data=data, headers={
        **bearer(token), "Content-Type": payload.content_type}), body


def _check(client: FlaskClient, engine: Engine, token: str, attempt_id: int, item: Item, payload: Payload) -> None:
    """Send one payload; assert the answer and the table against the protocol's model."""
    row = _stored(engine, attempt_id, item.id)
    stored_seq = row[0] if row else 0
    before = snapshot(engine, "answers")
    response, body = _send(client, token, item, payload, stored_seq)
    status = response.status_code
    assert status < 500, (status, response.get_data(as_text=True)[:300])
    assert response.mimetype == "application/json", response.mimetype
    answer = response.get_json()
    if status >= 400:
        assert set(answer) >= {"error", "message"} and all(isinstance(answer[k], str) for k in ("error", "message"))
        assert "<script" not in answer["message"] and "<b>" not in answer["message"], answer  # input made inert
        assert snapshot(engine, "answers") == before, answer
    if not well_formed(body, payload.content_type):
        event(f"refused {status} {answer.get('error')}")  # what was reached (Hypothesis statistics)
        assert 400 <= status < 500, (status, answer)
        return
    event(f"judged {status} {answer.get('error', 'ok')}")
    seq = body["seq"]
    if seq <= stored_seq:  # a replay or a stale seq: acknowledged with what is stored, whatever the body
        assert (status, answer) == (200, {"item_id": item.id, "seq": stored_seq}), answer
        assert snapshot(engine, "answers") == before
        return
    try:
        normal = validate_response(item, body["response"])
    except ResponseError:
        assert (status, answer["error"]) == (422, "invalid_response"), answer
        return
    assert (status, answer) == (200, {"item_id": item.id, "seq": seq}), answer
    assert _stored(engine, attempt_id, item.id) == (seq, normal, score_response(item, normal))
    others = [r for r in snapshot(engine, "answers")["answers"] if not (r[0] == attempt_id and r[2] == seq)]
    assert len(others) == len(before["answers"]) - (1 if row else 0)


SETTINGS = settings(max_examples=80, suppress_health_check=list(HealthCheck), deadline=None)


@pytest.mark.parametrize("kind", TYPES)
def test_any_payload_is_judged_by_the_protocol_and_never_a_5xx(client: FlaskClient, two_schools: World,
                                                                watch: Engine, kind: str) -> None:
    world = two_schools
    token = student_token(client, world.a.tickets[0])
    attempt_id, item = world.a.attempt_ids[0], world.items[kind]

    @given(payload=payloads(item))
    @example(payload=Payload({"seq": NEXT, "response": {"text": "x" * (3 * 1024 * 1024)}}))  # over MAX_CONTENT_LENGTH
    @example(payload=Payload({"seq": NEXT, "response": json.loads("[" * 33 + "]" * 33)}))  # deeper than 32
    @example(payload=Payload({"seq": 2**31, "response": None}))
    @example(payload=Payload({"seq": NEXT, "response": None, "answered_at": "2026-05-04T01:02:03Z"}))
    @SETTINGS
    def check(payload: Payload) -> None:
        _check(client, watch, token, attempt_id, item, payload)

    check()


@pytest.mark.parametrize("kind", TYPES)
def test_valid_responses_are_stored_and_scored_like_the_item_bank(client: FlaskClient, two_schools: World,
                                                                  watch: Engine, kind: str) -> None:
    """Every valid response with a newer seq is acknowledged, stored normalised and scored as `score_response`;
    the other attempts' answers (the classmate's, school B's) never change."""
    world = two_schools
    token = student_token(client, world.a.tickets[0])
    other = student_token(client, world.b.tickets[0])
    item = world.items[kind]
    seeded = client.put(f"/api/v1/attempt/answers/{item.id}", headers=bearer(other),
                        json={"seq": 5, "response": None})
    assert seeded.status_code == 200
    theirs = _stored(watch, world.b.attempt_ids[0], item.id)
    scores: set[int] = set()

    @given(response=valid_responses(item),
           answered_at=st.none() | st.just(datetime.now(UTC).isoformat().replace("+00:00", "Z")))
    @settings(max_examples=20, suppress_health_check=list(HealthCheck), deadline=None)
    def check(response: dict[str, Any] | None, answered_at: str | None) -> None:
        body: dict[str, Any] = {"seq": NEXT, "response": response}
        if answered_at is not None:
            body["answered_at"] = answered_at
        _check(client, watch, token, world.a.attempt_ids[0], item, Payload(body))
        row = _stored(watch, world.a.attempt_ids[0], item.id)
        assert row is not None and row[2] is not None
        scores.add(row[2])

    check()
    assert scores <= set(range(item.max_score + 1))
    assert _stored(watch, world.b.attempt_ids[0], item.id) == theirs


def test_an_unknown_field_name_is_not_echoed_as_markup(client: FlaskClient, two_schools: World) -> None:
    """Regression: the 400 for an unknown body field quoted the client's field name as it came (`<script>...`)."""
    token = student_token(client, two_schools.a.tickets[0])
    item = two_schools.items["single_choice"]
    for url, send in ((f"/api/v1/attempt/answers/{item.id}", client.put), ("/api/v1/attempt/heartbeat", client.post)):
        response = send(url, headers=bearer(token), json={"seq": 1, "response": None,
                                                          "<script>alert(1)</script>": 1})
        body = response.get_json()
        assert response.status_code == 400 and body["error"] == "bad_json", body
        assert "<script>" not in body["message"] and "&lt;script&gt;alert(1)&lt;/script&gt;" in body["message"]
