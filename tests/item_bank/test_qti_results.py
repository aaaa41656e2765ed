"""QTI 3.0 results: responses typed as the items' QTI declarations; documents with the spec's structure."""
from __future__ import annotations

import random
from datetime import UTC, datetime
from xml.etree import ElementTree

from item_bank import content_dir, load_bank, score_response
from item_bank.qti_results import (
    RESULT_NS,
    AttemptResult,
    ItemResult,
    assessment_result_xml,
    candidate_response,
)
from item_bank.synthesis import response_for_score

Q = f"{{{RESULT_NS}}}"
WHEN = datetime(2026, 5, 5, 1, 2, 3, tzinfo=UTC)


def test_every_item_type_becomes_typed_response_values() -> None:
    bank = load_bank(content_dir())
    seen = {}
    for item in bank:
        response = response_for_score(item, item.max_score, random.Random(1))
        assert score_response(item, response) == item.max_score
        seen[item.type] = candidate_response(item, response)
        assert candidate_response(item, None).values == ()
    expected = {"single_choice": ("single", "identifier"), "multiple_response": ("multiple", "identifier"),
                "ordering": ("ordered", "identifier"), "matching": ("multiple", "directedPair"),
                "grid_path": ("single", "string")}
    for kind, (cardinality, base_type) in expected.items():
        assert (seen[kind].cardinality, seen[kind].base_type) == (cardinality, base_type) and seen[kind].values
    assert all(" " in v for v in seen["matching"].values)  # directedPair: "source target"
    assert seen["short_answer"].base_type in ("float", "string")
    numeric = next(i for i in bank if i.type == "short_answer" and i.answer and i.answer.kind == "numeric")
    assert candidate_response(numeric, {"text": "１,２00"}).values == ("1200",)  # full width, separators
    assert candidate_response(numeric, {"text": "twelve"}).base_type == "string"  # no number: stays text


def test_document_structure_and_escaping() -> None:
    doc = AttemptResult(
        sourced_id="S0123456789ab", session_source="urn:ctcensus:window:113", session_identifier="Aabc",
        test_identifier="G5-113-v1", datestamp=WHEN,
        context={"GRADE": ("integer", "5"), "GENDER": ("string", "<b>&\"")},
        items=[ItemResult("d1-x-v1", 1, WHEN, None, 1.0, 1),
               ItemResult("d2-y-v1", 2, WHEN, candidate_response(
                   next(i for i in load_bank(content_dir()) if i.type == "short_answer"
                        and i.answer and i.answer.kind == "text"), {"text": "</value><x/>"}), 0.0, 1),
               ItemResult("d3-z-v2", 3, WHEN, None, None, 2)])
    root = ElementTree.fromstring(assessment_result_xml(doc))
    assert root.tag == f"{Q}assessmentResult"
    assert [c.tag.removeprefix(Q) for c in root] == ["context", "testResult", "itemResult", "itemResult", "itemResult"]
    assert root.find(f"{Q}context").get("sourcedId") == "S0123456789ab"
    test = root.find(f"{Q}testResult")
    assert test.get("datestamp") == "2026-05-05T01:02:03+00:00"
    score = test.find(f"{Q}outcomeVariable")
    assert score.get("identifier") == "SCORE" and score.find(f"{Q}value").text == "1"
    assert score.get("normalMaximum") == "4"
    gender = test.find(f"{Q}contextVariable[@identifier='GENDER']/{Q}value")
    assert gender.text == "<b>&\""
    first, second, third = root.findall(f"{Q}itemResult")
    assert first.find(f"{Q}responseVariable") is None and first.get("sequenceIndex") == "1"
    response = second.find(f"{Q}responseVariable")
    assert response.get("baseType") == "string" and response.get("answeredStatus") == "answered"
    assert response.find(f"{Q}candidateResponse/{Q}value").text == "</value><x/>"  # text, never markup
    assert third.find(f"{Q}outcomeVariable[@identifier='SCORE']/{Q}value") is None  # not scored (not reached)
