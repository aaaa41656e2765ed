"""short_answer: a typed number (within a tolerance) or text (any accepted answer after normalisation); 0/1."""

from __future__ import annotations

import math
import random
from collections import Counter
from collections.abc import Mapping
from decimal import Decimal
from typing import Any
from xml.etree.ElementTree import Element, SubElement

from item_bank.errors import ResponseError
from item_bank.fields import (
    MAX_ANSWER_TEXT,
    Collector,
    canon_number,
    describe,
    is_number,
    normalize_answer_text,
    parse_number,
    scalar_text,
)
from item_bank.model import Item, ShortAnswerKey
from item_bank.qti.xml import (
    TEMPLATES,
    QtiInteraction,
    QtiReadError,
    add_value,
    child_named,
    children_named,
    format_number,
    parse_qti_number,
    qti_tag,
    set_score,
)
from item_bank.types.base import ItemType

__all__ = ["TYPE", "ShortAnswer"]


class ShortAnswer(ItemType):
    """The `answer` block (numeric value and tolerance, or accepted texts); response {"text": "..."}."""

    name = "short_answer"
    fields = ("answer",)
    response_field = "text"
    qti_interactions = ("qti-text-entry-interaction",)

    def parse(self, col: Collector, data: Mapping[str, Any], need_en: bool) -> dict[str, Any]:
        """The answer block."""
        return {"answer": _parse_answer(col, data.get("answer"))}

    def to_dict(self, item: Item) -> dict[str, Any]:
        """The answer block."""
        return {"answer": item.answer.to_dict()} if item.answer is not None else {}

    def student_fields(self, item: Item, lang: str) -> dict[str, Any]:
        """Whether a number or a text is asked (the keyboard the browser offers)."""
        return {"answer_kind": item.answer.kind} if item.answer is not None else {}

    def normalize(self, item: Item, value: Any) -> Any:
        """Text as typed (at most MAX_ANSWER_TEXT characters); whitespace only counts as empty."""
        field = self.response_field
        if not isinstance(value, str):
            raise ResponseError(item.id, field, f"must be text, got {type(value).__name__}")
        if len(value) > MAX_ANSWER_TEXT:
            raise ResponseError(item.id, field, f"longer than {MAX_ANSWER_TEXT} characters")
        return value if value.strip() else None

    def score(self, item: Item, value: Any) -> int:
        """Numeric: parsed and within the tolerance (text that is no number is wrong); text: any accepted."""
        answer = item.answer
        assert answer is not None
        if answer.kind == "numeric":
            number = parse_number(value)
            if number is None:
                return 0  # unparseable text is a wrong answer, not a malformed response
            target = Decimal(str(answer.value))
            return 1 if abs(number - target) <= Decimal(str(answer.tolerance)) else 0
        typed = normalize_answer_text(value, answer.case_sensitive)
        accepted = {normalize_answer_text(a, answer.case_sensitive) for a in answer.accepted}
        return 1 if typed in accepted else 0

    def sample_responses(self, item: Item, score: int, rng: random.Random) -> list[dict[str, Any]]:
        """The value (or first accepted text), or a number beyond the tolerance / a wrong text."""
        answer = item.answer
        assert answer is not None
        if answer.kind == "numeric":
            value = float(answer.value or 0)
            good_text = str(int(value)) if value == int(value) else str(value)
            bad_text = str(int(value + float(answer.tolerance or 0) + 1 + rng.randrange(5)))
        else:
            good_text, bad_text = answer.accepted[0], "不知道"
        return [{"text": good_text if score == item.max_score else bad_text}]

    def qti_declare(self, item: Item, decl: Element) -> None:
        """Numeric: a float correct response; text: a string with a mapping of the accepted answers."""
        answer = item.answer
        assert answer is not None
        if answer.kind == "numeric":
            decl.attrib.update({"cardinality": "single", "base-type": "float"})
            add_value(SubElement(decl, qti_tag("qti-correct-response")), format_number(answer.value or 0))
            return
        decl.attrib.update({"cardinality": "single", "base-type": "string"})
        add_value(SubElement(decl, qti_tag("qti-correct-response")), answer.accepted[0])
        mapping = SubElement(
            decl, qti_tag("qti-mapping"), {"default-value": "0", "lower-bound": "0", "upper-bound": "1"}
        )
        for accepted in answer.accepted:
            SubElement(
                mapping,
                qti_tag("qti-map-entry"),
                {
                    "map-key": accepted,
                    "mapped-value": "1",
                    "case-sensitive": "true" if answer.case_sensitive else "false",
                },
            )

    def qti_interaction(self, item: Item, body: Element, image_src: Mapping[str, str]) -> None:
        """A text entry in its own paragraph."""
        p = SubElement(body, qti_tag("p"))
        SubElement(p, qti_tag("qti-text-entry-interaction"), {"response-identifier": "RESPONSE", "expected-length": "12"})

    def qti_processing(self, item: Item, root: Element) -> None:
        """Text: the map_response template; numeric: equal to the correct response (within the tolerance)."""
        assert item.answer is not None
        if item.answer.kind == "text":
            SubElement(root, qti_tag("qti-response-processing"), {"template": TEMPLATES + "map_response.xml"})
            return
        rp = SubElement(root, qti_tag("qti-response-processing"))
        cond = SubElement(rp, qti_tag("qti-response-condition"))
        rif = SubElement(cond, qti_tag("qti-response-if"))
        tol = item.answer.tolerance
        attrs = (
            {"tolerance-mode": "absolute", "tolerance": f"{format_number(tol)} {format_number(tol)}"}
            if tol
            else {"tolerance-mode": "exact"}
        )
        equal = SubElement(rif, qti_tag("qti-equal"), attrs)
        SubElement(equal, qti_tag("qti-variable"), {"identifier": "RESPONSE"})
        SubElement(equal, qti_tag("qti-correct"), {"identifier": "RESPONSE"})
        set_score(rif, 1)
        set_score(SubElement(cond, qti_tag("qti-response-else")), 0)

    def qti_metadata(self, item: Item, meta: Element) -> None:
        """A numeric answer's tolerance, exactly as written (QTI's own is an attribute of the comparison)."""
        if item.answer is not None and item.answer.kind == "numeric":
            meta.set("tolerance", format_number(item.answer.tolerance))

    def qti_read(self, source: QtiInteraction) -> dict[str, Any] | None:
        """A text entry: one number with a tolerance, or accepted texts; scoring it cannot keep is refused."""
        raw = source.metadata.get("tolerance")
        own_tolerance = parse_qti_number(raw) if raw is not None else None
        answer = _short_answer_key(source.root, source.declaration, source.correct, own_tolerance)
        if isinstance(answer, tuple):
            raise QtiReadError(*answer)
        return {"answer": answer}


def _parse_answer(col: Collector, raw: Any) -> ShortAnswerKey | None:
    if not isinstance(raw, Mapping):
        col.add("answer", f"missing or not an object {{kind, ...}}, found {describe(raw)}")
        return None
    kind = raw.get("kind")
    allowed = {
        "numeric": {"kind", "value", "tolerance"},
        "text": {"kind", "accepted", "case_sensitive"},
    }
    if not isinstance(kind, str) or kind not in allowed:
        col.add("answer.kind", f"must be numeric or text, found {describe(kind)}")
        return None
    ok = True
    for k in raw:
        if k not in allowed[kind]:
            col.add(f"answer.{k}", f"unknown field for a {kind} answer")
            ok = False
    if kind == "numeric":
        value: Any = raw.get("value")
        if not is_number(value):
            col.add("answer.value", f"must be a number, found {describe(value)}")
            ok = False
        tol = raw.get("tolerance", 0)
        if not is_number(tol) or tol < 0:
            col.add("answer.tolerance", f"must be a number >= 0, found {describe(tol)}")
            ok = False
        if not ok:
            return None
        return ShortAnswerKey("numeric", value=canon_number(value), tolerance=canon_number(tol))
    accepted_raw = raw.get("accepted")
    case_sensitive = raw.get("case_sensitive", False)
    if not isinstance(case_sensitive, bool):
        col.add("answer.case_sensitive", f"must be true or false, found {describe(case_sensitive)}")
        ok = False
    if not isinstance(accepted_raw, list) or not accepted_raw:
        col.add("answer.accepted", f"must be a non-empty list of texts, found {describe(accepted_raw)}")
        return None
    accepted: list[str] = []
    for i, a in enumerate(accepted_raw, start=1):
        text = scalar_text(a)
        if text is None or not normalize_answer_text(text):
            col.add(f"answer.accepted[{i}]", f"must be a non-empty text, found {describe(a)}")
            ok = False
        elif len(text) > MAX_ANSWER_TEXT:
            col.add(f"answer.accepted[{i}]", f"longer than {MAX_ANSWER_TEXT} characters")
            ok = False
        else:
            accepted.append(text.strip())
    if not ok:
        return None
    norm = Counter(normalize_answer_text(a, bool(case_sensitive)) for a in accepted)
    dups = sorted(k for k, n in norm.items() if n > 1)
    if dups:
        col.add("answer.accepted", f"accepted answers repeat after normalisation: {', '.join(dups)}")
        return None
    return ShortAnswerKey("text", accepted=tuple(accepted), case_sensitive=bool(case_sensitive))



def _short_answer_key(
    root: Element, decl: Element | None, correct: list[str], own_tolerance: Any
) -> dict[str, Any] | tuple[str, str]:
    """The answer of a text entry, or (field, problem) when its scoring is more than ctcensus can keep.

    ctcensus short answers score 0 or 1: one number within an absolute tolerance, or any of
    some texts. A foreign mapping with partial or negative credit, a rounding comparison or an
    asymmetric tolerance would silently score differently, so they are refused, not dropped.
    """
    numeric = decl is not None and decl.get("base-type") in ("float", "integer")
    full, case_flags, problem = _full_credit_entries(root, decl)
    if problem is not None:
        return problem
    if numeric:
        keys = full if full else correct
        values = {parse_qti_number(k) for k in keys}
        if len(values) > 1:
            return "answer.value", (
                f"the item accepts several numbers ({', '.join(keys)}); a ctcensus numeric answer has one "
                "value and a tolerance: keep one in the package, or edit the item after import"
            )
        value = next(iter(values), None)
        if value is None:
            found = f"{keys[0]!r} is not a number" if keys else "is missing"
            return "answer.value", f"the correct response {found}"
        tolerance = own_tolerance if own_tolerance is not None else _foreign_tolerance(root, value)
        if isinstance(tolerance, tuple):
            return tolerance
        return {"kind": "numeric", "value": value, "tolerance": tolerance}
    if full:
        if len(set(case_flags)) > 1:
            return "answer.case_sensitive", (
                "the mapping mixes case-sensitive and case-insensitive answers; a ctcensus text answer "
                "has one setting for all of them"
            )
        return {"kind": "text", "accepted": full, "case_sensitive": case_flags[0]}
    return {"kind": "text", "accepted": correct, "case_sensitive": True}


def _full_credit_entries(
    root: Element, decl: Element | None
) -> tuple[list[str], list[bool], tuple[str, str] | None]:
    """Map keys worth the full score, their case sensitivity, or a problem with the mapping."""
    mapping = child_named(decl, "qti-mapping") if decl is not None else None
    processing = child_named(root, "qti-response-processing")
    template = (processing.get("template") or "") if processing is not None else ""
    if mapping is None or template.rstrip("/").removesuffix(".xml").endswith("match_correct"):
        return [], [], None  # match_correct scores against the correct response, never the mapping
    bounds: dict[str, float | None] = {}
    for name in ("default-value", "lower-bound", "upper-bound"):
        text = mapping.get(name)
        number = parse_qti_number(text) if text is not None else None
        if text is not None and number is None:
            return [], [], ("answer", f"qti-mapping {name} {text!r} is not a number")
        bounds[name] = number
    if bounds["default-value"]:
        return [], [], ("answer", (
            f"the mapping gives {bounds['default-value']} to every other answer; a ctcensus short answer "
            "scores 0 unless the answer is accepted"
        ))
    scored: list[tuple[str, float, bool]] = []
    for entry in children_named(mapping, "qti-map-entry"):
        key, text = entry.get("map-key", ""), entry.get("mapped-value", "")
        value = parse_qti_number(text)
        if value is None:
            return [], [], ("answer.accepted", f"map entry {key!r} has mapped-value {text!r}, which is not a number")
        if bounds["upper-bound"] is not None:
            value = min(value, bounds["upper-bound"])
        if bounds["lower-bound"] is not None:
            value = max(value, bounds["lower-bound"])
        if value < 0:
            return [], [], ("answer.accepted", (
                f"map entry {key!r} is worth {value} (negative marking); a ctcensus short answer scores a "
                "wrong answer 0: set it to 0 or give the mapping lower-bound 0"
            ))
        scored.append((key, value, entry.get("case-sensitive", "true").lower() != "false"))
    top = max((value for _key, value, _cs in scored), default=0)
    for key, value, _cs in scored:
        if 0 < value < top:
            return [], [], ("answer.accepted", (
                f"map entry {key!r} is worth {format_number(value)} of {format_number(top)} (partial credit); a ctcensus "
                "short answer scores 0 or 1: make each accepted answer worth the full score, or 0, in the package"
            ))
    full = [(key, cs) for key, value, cs in scored if value > 0]
    return [key for key, _cs in full], [cs for _key, cs in full], None


def _foreign_tolerance(root: Element, value: Any) -> float | int | tuple[str, str]:
    """The absolute tolerance of a foreign numeric comparison (a relative one scaled by the value)."""
    if next(root.iter(qti_tag("qti-equal-rounded")), None) is not None:
        return "answer.tolerance", (
            "the response processing rounds the answer (equalRounded); a ctcensus numeric answer compares "
            "within an absolute tolerance: give it one after import instead"
        )
    equal = next(root.iter(qti_tag("qti-equal")), None)
    if equal is None:
        return 0
    mode = equal.get("tolerance-mode", "exact")
    if mode == "exact":
        return 0
    if mode not in ("absolute", "relative"):
        return "answer.tolerance", f"tolerance-mode {mode!r} is not exact, absolute or relative"
    text = equal.get("tolerance") or ""
    parts = [parse_qti_number(t) for t in text.split()]
    if not 1 <= len(parts) <= 2 or any(t is None or t < 0 or not math.isfinite(t) for t in parts):
        return "answer.tolerance", f"tolerance {text!r} is not one or two numbers >= 0"
    if len(set(parts)) > 1:
        return "answer.tolerance", (
            f"tolerance {text!r} differs below and above the answer; a ctcensus tolerance is the same both ways"
        )
    if any(equal.get(f"include-{side}-bound", "true").lower() == "false" for side in ("lower", "upper")):
        return "answer.tolerance", "the comparison excludes its bounds; a ctcensus tolerance includes them"
    tolerance = parts[0]
    assert tolerance is not None
    if mode == "relative":
        if not isinstance(value, (int, float)) or not math.isfinite(value):
            return 0  # the value itself is reported as invalid
        # relative to a fixed correct value: the same interval as an absolute tolerance
        tolerance = float(f"{abs(value) * tolerance / 100:.12g}")
    return tolerance


TYPE = ShortAnswer()
