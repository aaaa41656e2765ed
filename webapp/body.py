"""The one JSON request-body reader: every malformed body is 400 bad_json, never a 500."""
from __future__ import annotations

import html
import json
from collections.abc import Collection, Iterator
from typing import Any

from flask import request

from assessment.errors import InvalidInput
from assessment.text import control_character, describe_character

__all__ = ["json_object"]

MAX_DEPTH = 32  # no request of ours nests deeper; deeper bodies are refused before they are parsed


def json_object(*, required: bool = True, check_text: bool = True,
                fields: Collection[str] | None = None) -> dict[str, Any]:
    """The request's JSON object body.

    Parameters
    ----------
    required : bool
        Without a body (or not sent as application/json) raise bad_json; otherwise answer {}.
    check_text : bool
        Refuse strings that are no Unicode text (a lone surrogate such as "\\ud800") or hold a
        control character other than tab and line breaks (NUL: PostgreSQL cannot store it).
        A caller that reports a more specific error for a field checks it itself.
    fields : collection of str, optional
        The only fields the body may have (as its OpenAPI schema says: additionalProperties false);
        any other is bad_json, so a misspelt field is reported rather than silently ignored.

    Raises InvalidInput (400, code "bad_json") for invalid JSON, nesting deeper than MAX_DEPTH
    (Python's parser would raise RecursionError), a body that is not an object (even an optional
    one), an unknown field, or strings that are not plain text.
    """
    hint = "send a JSON object as the request body (Content-Type: application/json)"
    raw = request.get_data(cache=True)
    if not raw.strip() or not request.is_json:
        if required:
            raise InvalidInput(hint, code="bad_json")
        return {}
    if _too_deep(raw):
        raise InvalidInput(f"the JSON body nests deeper than {MAX_DEPTH} levels; {hint}", code="bad_json")
    try:
        data = json.loads(raw)
    except (ValueError, RecursionError):  # UnicodeDecodeError is a ValueError
        raise InvalidInput(f"the body is not valid JSON; {hint}", code="bad_json") from None
    if not isinstance(data, dict):  # also for an optional body: `false` or `[null, null]` is no object
        raise InvalidInput(hint, code="bad_json")
    if fields is not None:
        unknown = sorted(k for k in data if k not in fields)
        if unknown:
            # the names are the client's: made inert like every message that quotes input (docs/answer-protocol.md)
            shown = html.escape(", ".join(repr(k[:40]) for k in unknown[:5]), quote=False)
            raise InvalidInput(f"unknown field(s) {shown}; this body takes only {', '.join(fields)}", code="bad_json")
    if check_text:
        try:
            json.dumps(data, ensure_ascii=False).encode("utf-8")
        except UnicodeEncodeError:
            raise InvalidInput("the body holds a string that is not valid Unicode text (a lone surrogate); "
                               "send UTF-8 text", code="bad_json") from None
        bad = next(filter(None, (control_character(s, allow_line_breaks=True) for s in _strings(data))), None)
        if bad is not None:
            raise InvalidInput(f"the body holds a string with the control character {describe_character(bad)}; "
                               "send plain text", code="bad_json")
    return data


def _strings(value: Any) -> Iterator[str]:
    """Every string in a parsed JSON value, keys included (depth is bounded by MAX_DEPTH)."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield key
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)


def _too_deep(raw: bytes) -> bool:
    """True if brackets outside strings nest deeper than MAX_DEPTH (a linear scan, no parsing)."""
    if raw.count(b"[") + raw.count(b"{") <= MAX_DEPTH:
        return False  # the common case, decided in C
    depth = 0
    in_string = escaped = False
    for byte in raw:
        if in_string:
            if escaped:
                escaped = False
            elif byte == 0x5C:  # backslash
                escaped = True
            elif byte == 0x22:  # quote
                in_string = False
        elif byte == 0x22:
            in_string = True
        elif byte in (0x5B, 0x7B):  # [ {
            depth += 1
            if depth > MAX_DEPTH:
                return True
        elif byte in (0x5D, 0x7D):
            depth -= 1
    return False
