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
    XSI_NS,
    XmlWriter,
    add_bilingual,
    add_value,
    ctc_tag,
    qti_tag,
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
    kind = item.item_type
    kind.qti_declare(item, decl)

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
    if kind.qti_external_scoring:
        score.set("external-scored", "externalMachine")  # e.g. grid_path: scored by simulating the moves
    add_value(SubElement(score, qti_tag("qti-default-value")), "0")
    maxscore = SubElement(
        root,
        qti_tag("qti-outcome-declaration"),
        {"identifier": "MAXSCORE", "cardinality": "single", "base-type": "float"},
    )
    add_value(SubElement(maxscore, qti_tag("qti-default-value")), str(item.max_score))

    body = SubElement(root, qti_tag("qti-item-body"))
    add_bilingual(SubElement(body, qti_tag("div"), {"class": "ctc-stem"}), item.stem, image_src)
    kind.qti_interaction(item, body, image_src)
    kind.qti_processing(item, root)
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
    item.item_type.qti_metadata(item, meta)
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
