"""QTI 3.0 export: one ``qti-assessment-item`` per item version and the manifest with ctcensus metadata.

What QTI expresses natively goes in standard QTI: text (zh-TW and English as ``<div xml:lang=...>``
variants), options, the correct response, mappings and response processing (``match_correct`` /
``map_response`` templates, or explicit conditions for partial credit). What it cannot express goes
in the ``ctc`` extension namespace: the grid map inside ``qti-custom-interaction``, and per-resource
metadata in the manifest (version, dimension, grades, anchor, status, max score, English title,
rationale, IRT).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from xml.etree.ElementTree import Element, SubElement

from item_bank.errors import ItemBankError
from item_bank.model import Item
from item_bank.qti.package import write_package
from item_bank.qti.xml import (
    CP_NS,
    CP_SCHEMA,
    CTC_NS,
    ITEM_SCHEMA,
    LANG,
    QTI3_NS,
    TEMPLATES,
    XSI_NS,
    XmlWriter,
    add_bilingual,
    add_value,
    ctc_tag,
    format_number,
    partial_credit_processing,
    qti_tag,
    set_score,
)
from item_bank.validation import validate_bank

__all__ = ["export_qti3", "resource_name"]


def _item_xml(item: Item, image_src: Mapping[str, str]) -> Element:
    root = Element(
        qti_tag("qti-assessment-item"),
        {
            f"{{{XSI_NS}}}schemaLocation": f"{QTI3_NS} {ITEM_SCHEMA}",
            # id and version: unique in a package that holds several versions of one item
            "identifier": resource_name(item),
            "title": item.title.zh_tw,
            "adaptive": "false",
            "time-dependent": "false",
            LANG: "zh-TW",
        },
    )
    decl = SubElement(root, qti_tag("qti-response-declaration"), {"identifier": "RESPONSE"})
    t = item.type
    if t == "single_choice":
        decl.attrib.update({"cardinality": "single", "base-type": "identifier"})
        add_value(SubElement(decl, qti_tag("qti-correct-response")), str(item.key))
    elif t in ("multiple_response", "ordering"):
        card = "multiple" if t == "multiple_response" else "ordered"
        decl.attrib.update({"cardinality": card, "base-type": "identifier"})
        correct = SubElement(decl, qti_tag("qti-correct-response"))
        for k in item.key_ids:
            add_value(correct, k)
    elif t == "matching":
        decl.attrib.update({"cardinality": "multiple", "base-type": "directedPair"})
        correct = SubElement(decl, qti_tag("qti-correct-response"))
        for lid, rid in item.key_pairs:
            add_value(correct, f"{lid} {rid}")
        if item.max_score == 2:
            mapping = SubElement(
                decl, qti_tag("qti-mapping"), {"default-value": "0", "lower-bound": "0"}
            )
            for lid, rid in item.key_pairs:
                SubElement(
                    mapping, qti_tag("qti-map-entry"), {"map-key": f"{lid} {rid}", "mapped-value": "1"}
                )
    elif t == "short_answer":
        answer = item.answer
        assert answer is not None
        if answer.kind == "numeric":
            decl.attrib.update({"cardinality": "single", "base-type": "float"})
            add_value(SubElement(decl, qti_tag("qti-correct-response")), format_number(answer.value or 0))
        else:
            decl.attrib.update({"cardinality": "single", "base-type": "string"})
            add_value(SubElement(decl, qti_tag("qti-correct-response")), answer.accepted[0])
            mapping = SubElement(
                decl,
                qti_tag("qti-mapping"),
                {"default-value": "0", "lower-bound": "0", "upper-bound": "1"},
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
    elif t == "grid_path":
        decl.attrib.update({"cardinality": "single", "base-type": "string"})

    score = SubElement(
        root,
        qti_tag("qti-outcome-declaration"),
        {
            "identifier": "SCORE",
            "cardinality": "single",
            "base-type": "float",
            "normal-maximum": str(item.max_score),
        },
    )
    if t == "grid_path":
        score.set("external-scored", "externalMachine")  # scored by simulating the moves
    add_value(SubElement(score, qti_tag("qti-default-value")), "0")
    maxscore = SubElement(
        root,
        qti_tag("qti-outcome-declaration"),
        {"identifier": "MAXSCORE", "cardinality": "single", "base-type": "float"},
    )
    add_value(SubElement(maxscore, qti_tag("qti-default-value")), str(item.max_score))

    body = SubElement(root, qti_tag("qti-item-body"))
    add_bilingual(SubElement(body, qti_tag("div"), {"class": "ctc-stem"}), item.stem, image_src)
    if t in ("single_choice", "multiple_response"):
        inter = SubElement(
            body,
            qti_tag("qti-choice-interaction"),
            {
                "response-identifier": "RESPONSE",
                "shuffle": "false",
                "max-choices": "1" if t == "single_choice" else "0",
                "min-choices": "0",
            },
        )
    elif t == "ordering":
        inter = SubElement(
            body, qti_tag("qti-order-interaction"), {"response-identifier": "RESPONSE", "shuffle": "false"}
        )
    if t in ("single_choice", "multiple_response", "ordering"):
        for option in item.options:
            choice = SubElement(inter, qti_tag("qti-simple-choice"), {"identifier": option.id})
            add_bilingual(choice, option.text, image_src)
    elif t == "matching":
        inter = SubElement(
            body,
            qti_tag("qti-match-interaction"),
            {
                "response-identifier": "RESPONSE",
                "shuffle": "false",
                "max-associations": str(len(item.left)),
            },
        )
        for options, match_max in ((item.left, "1"), (item.right, str(len(item.left)))):
            match_set = SubElement(inter, qti_tag("qti-simple-match-set"))
            for option in options:
                choice = SubElement(
                    match_set,
                    qti_tag("qti-simple-associable-choice"),
                    {"identifier": option.id, "match-max": match_max},
                )
                add_bilingual(choice, option.text, image_src)
    elif t == "short_answer":
        p = SubElement(body, qti_tag("p"))
        SubElement(
            p,
            qti_tag("qti-text-entry-interaction"),
            {"response-identifier": "RESPONSE", "expected-length": "12"},
        )
    elif t == "grid_path":
        assert item.grid is not None
        inter = SubElement(
            body,
            qti_tag("qti-custom-interaction"),
            {"response-identifier": "RESPONSE", "class": "ctc-grid-path"},
        )
        grid = SubElement(inter, ctc_tag("grid"), {"max-moves": str(item.grid.max_moves)})
        for row in item.grid.rows:
            SubElement(grid, ctc_tag("row")).text = row

    if t in ("single_choice", "multiple_response") or (
        t in ("ordering", "matching") and item.max_score == 1
    ):
        SubElement(root, qti_tag("qti-response-processing"), {"template": TEMPLATES + "match_correct.xml"})
    elif t == "ordering":
        order_key = list(item.key_ids)

        def one_adjacent_swap(parent: Element) -> None:
            alternatives = SubElement(parent, qti_tag("qti-or"))
            for i in range(len(order_key) - 1):
                swapped = order_key[:i] + [order_key[i + 1], order_key[i]] + order_key[i + 2 :]
                match = SubElement(alternatives, qti_tag("qti-match"))
                SubElement(match, qti_tag("qti-variable"), {"identifier": "RESPONSE"})
                ordered = SubElement(match, qti_tag("qti-ordered"))
                for k in swapped:
                    SubElement(ordered, qti_tag("qti-base-value"), {"base-type": "identifier"}).text = k

        partial_credit_processing(root, one_adjacent_swap)
    elif t == "matching":

        def half_right(parent: Element) -> None:
            gte = SubElement(parent, qti_tag("qti-gte"))
            SubElement(gte, qti_tag("qti-map-response"), {"identifier": "RESPONSE"})
            SubElement(gte, qti_tag("qti-base-value"), {"base-type": "float"}).text = repr(
                len(item.left) / 2
            )

        partial_credit_processing(root, half_right)
    elif t == "short_answer":
        assert item.answer is not None
        if item.answer.kind == "text":
            SubElement(
                root, qti_tag("qti-response-processing"), {"template": TEMPLATES + "map_response.xml"}
            )
        else:
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
    return root


def _metadata_xml(item: Item) -> Element:
    meta = Element(
        ctc_tag("item"),
        {
            "id": item.id,
            "version": str(item.version),
            "type": item.type,
            "dimension": item.dimension,
            "grades": " ".join(map(str, item.grades)),
            "anchor": "true" if item.anchor else "false",
            "status": item.status,
            "max-score": str(item.max_score),
        },
    )
    if item.title.en is not None:
        SubElement(meta, ctc_tag("title"), {LANG: "en"}).text = item.title.en
    if item.rationale is not None:
        for lang, value in (("zh-TW", item.rationale.zh_tw), ("en", item.rationale.en)):
            if value is not None:
                SubElement(meta, ctc_tag("rationale"), {LANG: lang}).text = value
    if item.answer is not None and item.answer.kind == "numeric":
        meta.set("tolerance", format_number(item.answer.tolerance))
    if item.irt is not None:
        irt = SubElement(
            meta,
            ctc_tag("irt"),
            {
                "model": item.irt.model,
                "a": repr(item.irt.a),
                "d": " ".join(repr(x) for x in item.irt.d),
                "parameter-set": item.irt.parameter_set,
            },
        )
        if item.irt.c is not None:
            irt.set("c", repr(item.irt.c))
    return meta


def resource_name(item: Item) -> str:
    """The item's QTI identifier and file stem, id-v<version> (several versions may share a package)."""
    return f"{item.id}-v{item.version}"


def export_qti3(items: Iterable[Item], directory: str | os.PathLike[str]) -> Path:
    """Write a QTI 3.0 content package (a directory, or a .zip when the path ends in .zip).

    Returns the path written. Export then :func:`import_qti` gives back equal items.
    """
    items = list(items)
    errors = validate_bank(items)
    if errors:
        raise ItemBankError(errors)
    files: dict[str, bytes] = {}
    manifest = Element(
        f"{{{CP_NS}}}manifest",
        {"identifier": "ctcensus-item-bank", f"{{{XSI_NS}}}schemaLocation": f"{CP_NS} {CP_SCHEMA}"},
    )
    md = SubElement(manifest, f"{{{CP_NS}}}metadata")
    SubElement(md, f"{{{CP_NS}}}schema").text = "QTI Package"
    SubElement(md, f"{{{CP_NS}}}schemaversion").text = "3.0.0"
    SubElement(manifest, f"{{{CP_NS}}}organizations")
    resources = SubElement(manifest, f"{{{CP_NS}}}resources")
    item_writer = XmlWriter(QTI3_NS, {CTC_NS: "ctc", XSI_NS: "xsi"})
    for item in items:
        name = resource_name(item)
        href = f"items/{name}.xml"
        image_src = {img: f"{name}/{img}.svg" for img in item.images}
        files[href] = item_writer.document(_item_xml(item, image_src))
        res = SubElement(
            resources,
            f"{{{CP_NS}}}resource",
            {"identifier": f"res-{name}", "type": "imsqti_item_xmlv3p0", "href": href},
        )
        SubElement(res, f"{{{CP_NS}}}metadata").append(_metadata_xml(item))
        SubElement(res, f"{{{CP_NS}}}file", {"href": href})
        for img, svg in item.images.items():
            img_href = f"items/{name}/{img}.svg"
            files[img_href] = svg.encode("utf-8")
            SubElement(res, f"{{{CP_NS}}}file", {"href": img_href})
    files["imsmanifest.xml"] = XmlWriter(CP_NS, {CTC_NS: "ctc", XSI_NS: "xsi"}).document(manifest)

    return write_package(files, Path(directory))
