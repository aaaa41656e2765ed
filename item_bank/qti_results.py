"""QTI 3.0 Results Reporting: one ``assessmentResult`` document per attempt (pure data in, XML bytes out).

The element names and attributes are those of the 1EdTech QTI 3.0 Results
Reporting binding (namespace ``imsqti_result_v3p0``; the item packages that
``items export`` writes use the ASI namespace ``imsqtiasi_v3p0`` instead):
``assessmentResult`` holds ``context`` (``@sourcedId`` and
``sessionIdentifier``), one ``testResult`` and an ``itemResult`` per item
presented. Each ``itemResult`` carries the item's ``RESPONSE`` as a
``responseVariable`` typed as the item's response declaration types it (its
``candidateResponse`` holds the values; empty when the item was left out) and
its ``SCORE`` as an ``outcomeVariable``. Item identifiers are those of the
content package (``<item id>-v<version>``), so the two files join.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from xml.etree.ElementTree import Element, SubElement, tostring

from item_bank.model import Item
from item_bank.responses import parse_number

__all__ = [
    "RESULT_NS",
    "RESULT_SCHEMA",
    "AttemptResult",
    "CandidateResponse",
    "ItemResult",
    "assessment_result_xml",
    "candidate_response",
    "qti_item_identifier",
]

RESULT_NS = "http://www.imsglobal.org/xsd/imsqti_result_v3p0"
RESULT_SCHEMA = "https://purl.imsglobal.org/spec/qti/v3p0/schema/xsd/imsqti_resultv3p0_v1p0.xsd"
_XSI_NS = "http://www.w3.org/2001/XMLSchema-instance"

# cardinality and baseType of RESPONSE per item type, as item_bank.qti declares it
_DECLARED = {
    "single_choice": ("single", "identifier"),
    "multiple_response": ("multiple", "identifier"),
    "ordering": ("ordered", "identifier"),
    "matching": ("multiple", "directedPair"),
    "short_answer": ("single", "string"),
    "grid_path": ("single", "string"),
}


@dataclass(frozen=True)
class CandidateResponse:
    """A response as a QTI response variable: cardinality, baseType and its values (empty = no response)."""

    cardinality: str
    base_type: str
    values: tuple[str, ...]


@dataclass(frozen=True)
class ItemResult:
    """One item of an attempt: its response (None when only the score is known) and score (None: not scored)."""

    identifier: str
    sequence_index: int | None
    datestamp: datetime
    response: CandidateResponse | None
    score: float | None
    max_score: int


@dataclass(frozen=True)
class AttemptResult:
    """One attempt: who (a pseudonym), which test, when, context variables and its items."""

    sourced_id: str
    session_source: str
    session_identifier: str
    test_identifier: str
    datestamp: datetime
    context: Mapping[str, tuple[str, str]]  # identifier -> (baseType, value), e.g. GRADE -> ("integer", "5")
    items: Sequence[ItemResult]


def qti_item_identifier(item_id: str, version: int) -> str:
    """The item's identifier in a QTI content package written by ``export_qti3``."""
    return f"{item_id}-v{version}"


def candidate_response(item: Item, response: Mapping[str, Any] | None) -> CandidateResponse:
    """The stored response of `item` as the values of its QTI ``RESPONSE`` variable."""
    cardinality, base_type = _DECLARED[item.type]
    if not response:
        values: tuple[str, ...] = ()
    elif item.type == "single_choice":
        values = (str(response["choice"]),)
    elif item.type in ("multiple_response", "ordering"):
        values = tuple(str(v) for v in response["choices" if item.type == "multiple_response" else "order"])
    elif item.type == "matching":
        values = tuple(f"{left} {right}" for left, right in response["pairs"])
    elif item.type == "short_answer":
        text = str(response["text"])
        number = parse_number(text) if item.answer is not None and item.answer.kind == "numeric" else None
        # a numeric item declares a float RESPONSE; text that is no number stays text
        if number is not None:
            return CandidateResponse(cardinality, "float", (format(number.normalize(), "f"),))
        values = (text,)
    else:  # grid_path
        values = (str(response["moves"]),)
    return CandidateResponse(cardinality, base_type, values)


def _stamp(when: datetime) -> str:
    return when.isoformat(timespec="seconds")


def _score(parent: Element, identifier: str, value: float | None, maximum: float | None = None) -> None:
    attrs = {"identifier": identifier, "cardinality": "single", "baseType": "float"}
    if maximum is not None:
        attrs |= {"normalMinimum": "0", "normalMaximum": f"{maximum:g}"}
    variable = SubElement(parent, "outcomeVariable", attrs)
    if value is not None:
        SubElement(variable, "value").text = f"{value:g}"


def assessment_result_xml(result: AttemptResult) -> bytes:
    """One ``assessmentResult`` document (UTF-8, with its XML declaration)."""
    # namespace declarations written as attributes: ElementTree's default_namespace refuses unqualified attributes
    root = Element("assessmentResult", {"xmlns": RESULT_NS, "xmlns:xsi": _XSI_NS,
                                        "xsi:schemaLocation": f"{RESULT_NS} {RESULT_SCHEMA}"})
    context = SubElement(root, "context", {"sourcedId": result.sourced_id})
    SubElement(context, "sessionIdentifier",
               {"sourceID": result.session_source, "identifier": result.session_identifier})
    test = SubElement(root, "testResult", {"identifier": result.test_identifier,
                                           "datestamp": _stamp(result.datestamp)})
    scores = [r.score for r in result.items if r.score is not None]
    _score(test, "SCORE", float(sum(scores)), float(sum(r.max_score for r in result.items)))
    for identifier, (base_type, value) in result.context.items():
        variable = SubElement(test, "contextVariable",
                              {"identifier": identifier, "cardinality": "single", "baseType": base_type})
        SubElement(variable, "value").text = value
    for r in result.items:
        attrs = {"identifier": r.identifier, "datestamp": _stamp(r.datestamp), "sessionStatus": "final"}
        if r.sequence_index is not None:
            attrs["sequenceIndex"] = str(r.sequence_index)
        item = SubElement(root, "itemResult", attrs)
        if r.response is not None:
            variable = SubElement(item, "responseVariable", {
                "identifier": "RESPONSE", "cardinality": r.response.cardinality, "baseType": r.response.base_type,
                "scoreStatus": "scored" if r.score is not None else "notscored",
                "answeredStatus": "answered" if r.response.values else "presented"})
            given = SubElement(variable, "candidateResponse")
            for value in r.response.values:
                SubElement(given, "value").text = value
        _score(item, "SCORE", r.score, float(r.max_score))
    return tostring(root, encoding="utf-8", xml_declaration=True)
