"""QTI 3.0 / 2.1 / 2.2 import: our own packages back into equal items, foreign ones as drafts.

QTI 2.x trees are renamed to QTI 3 names first. XML is parsed only through defusedxml with DTDs,
entities and external references refused (item_bank.sanitizer.parse_xml). Text the item cannot show
(MathML, media, templates) and scoring a ctcensus item cannot keep are refused with an error naming
the item and field, never dropped silently.
"""

from __future__ import annotations

import os
import posixpath
import re
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import urlsplit
from xml.etree.ElementTree import Element

from item_bank import types as item_types
from item_bank.errors import ItemBankError, ItemValidationError
from item_bank.model import GRADES, Item
from item_bank.qti.package import DirPackage, Package, Resource, ZipPackage, read_manifest, safe_member
from item_bank.qti.xml import (
    LANG,
    QTI2_NS,
    XHTML,
    QtiInteraction,
    QtiReadError,
    UnsupportedContent,
    child_named,
    children_named,
    declared_values,
    inner_html,
    int_or_text,
    local_name,
    one_language,
    qti_tag,
    split_tag,
    text_dict,
)
from item_bank.sanitizer import parse_xml
from item_bank.validation import collect_item, validate_bank

__all__ = ["import_qti"]


def _kebab(name: str) -> str:
    return re.sub(r"(?<=[a-z0-9])([A-Z])", r"-\1", name).lower()


def _to_qti3(elem: Element) -> None:
    """Rename a QTI 2.x tree in place to QTI 3 names (assessmentItem -> qti-assessment-item)."""
    for e in elem.iter():
        if not isinstance(e.tag, str):
            continue
        ns, local = split_tag(e.tag)
        if ns in QTI2_NS or ns is None:
            if local in XHTML or local.startswith("qti-"):
                e.tag = qti_tag(local)
            else:
                e.tag = qti_tag("qti-" + _kebab(local))
                for key in list(e.attrib):
                    if not key.startswith("{") and _kebab(key) != key:
                        e.attrib[_kebab(key)] = e.attrib.pop(key)



def _meta_dict(meta: Element | None) -> dict[str, Any]:
    """The ctc:item metadata as item-file fields (only those present)."""
    if meta is None:
        return {}
    out: dict[str, Any] = {}
    a = meta.attrib
    if "id" in a:
        out["id"] = a["id"]
    if "version" in a:
        out["version"] = int_or_text(a["version"])
    for key in ("dimension", "status", "type"):
        if key in a:
            out[key] = a[key]
    if "grades" in a:
        out["grades"] = [int_or_text(g) for g in a["grades"].split()]
    if "anchor" in a:
        out["anchor"] = a["anchor"] == "true"
    if "max-score" in a:
        out["max_score"] = int_or_text(a["max-score"])
    title = child_named(meta, "title")
    if title is not None:
        out["_title_en"] = title.text or ""
    rationale = {r.get(LANG, "zh-TW"): r.text or "" for r in children_named(meta, "rationale")}
    if rationale:
        out["rationale"] = rationale
    irt = child_named(meta, "irt")
    if irt is not None:
        block: dict[str, Any] = {
            "model": irt.get("model"),
            "a": _parse_float(irt.get("a")),
            "d": [_parse_float(x) for x in (irt.get("d") or "").split()],
            "parameter_set": irt.get("parameter-set"),
        }
        if irt.get("c") is not None:
            block["c"] = _parse_float(irt.get("c"))
        out["irt"] = block
    return out


def _parse_float(text: str | None) -> float | str | None:
    if text is None:
        return None
    try:
        return float(text)
    except ValueError:
        return text


def _foreign_id(identifier: str) -> str:
    ident = re.sub(r"[^a-z0-9-]+", "-", identifier.lower()).strip("-")
    ident = re.sub(r"-{2,}", "-", ident)[:64].strip("-")
    return ident if len(ident) >= 3 else f"item-{ident or 'x'}"


def _image_name(src: str, taken: set[str]) -> str:
    stem = re.sub(r"[^A-Za-z0-9_-]+", "-", PurePosixPath(src).stem).strip("-")[:60] or "image"
    name, n = stem, 2
    while name in taken:
        name, n = f"{stem}-{n}", n + 1
    return name


def _import_item(
    pkg: Package,
    res: Resource,
    default_dimension: str | None,
    default_grades: tuple[int, ...],
) -> tuple[Item | None, list[ItemValidationError]]:
    where = pkg.where(res.href)
    try:
        root = parse_xml(pkg.read(res.href))
    except (ValueError, OSError) as exc:
        return None, [ItemValidationError(where, None, None, str(exc))]
    _to_qti3(root)
    if local_name(root) != "qti-assessment-item":
        return None, [
            ItemValidationError(
                where, None, None, f"not a QTI assessment item (root element <{local_name(root)}>)"
            )
        ]
    meta = _meta_dict(res.meta)
    identifier = root.get("identifier") or PurePosixPath(res.href).stem
    item_id = meta.get("id") or _foreign_id(identifier)
    errors: list[ItemValidationError] = []

    def fail(field: str | None, message: str) -> tuple[None, list[ItemValidationError]]:
        errors.append(ItemValidationError(where, item_id, field, message))
        return None, errors

    item_lang = root.get(LANG) or ""
    body = child_named(root, "qti-item-body")
    if body is None:
        return fail("qti-item-body", "missing")
    interactions = [e for e in body.iter() if local_name(e).endswith("-interaction")]
    if len(interactions) != 1:
        return fail(
            "interaction",
            f"found {len(interactions)} interactions; ctcensus items have exactly one",
        )
    inter = interactions[0]
    kind = local_name(inter)
    resp_id = inter.get("response-identifier", "RESPONSE")
    decl = next(
        (d for d in children_named(root, "qti-response-declaration") if d.get("identifier") == resp_id),
        None,
    )

    # images: the resource's SVG files, and any <img> in the body
    item_dir = posixpath.dirname(res.href)
    image_by_member: dict[str, str] = {}
    images: dict[str, str] = {}
    for member in res.files:
        if member.lower().endswith(".svg") and pkg.has(member):
            name = _image_name(member, set(images))
            try:
                images[name] = pkg.read(member).decode("utf-8")
            except (ValueError, OSError) as exc:
                return fail(f"images.{name}", f"{pkg.where(member)}: {exc}")
            image_by_member[safe_member(member) or member] = name
    img_elements: dict[Element, str] = {}
    # <img src> and SVG <object data> (its fallback content is then replaced by the image)
    pictures = [(img, img.get("src", "")) for img in body.iter(qti_tag("img"))]
    for obj in body.iter(qti_tag("object")):
        mime = (obj.get("type") or "").split(";")[0].strip().lower()
        if mime == "image/svg+xml" or (not mime and obj.get("data", "").lower().endswith(".svg")):
            pictures.append((obj, obj.get("data", "")))
    for img, src in pictures:
        if urlsplit(src).scheme:
            return fail("images", f"external image {src!r} refused; images must be in the package")
        img_member = safe_member(posixpath.join(item_dir, src))
        if img_member is None:
            return fail("images", f"image path {src!r} leaves the package")
        if img_member not in image_by_member:
            if not img_member.lower().endswith(".svg"):
                return fail("images", f"{src!r}: only SVG images can be imported")
            if not pkg.has(img_member):
                return fail("images", f"{src!r} is not in the package")
            name = _image_name(img_member, set(images))
            try:
                images[name] = pkg.read(img_member).decode("utf-8")
            except (ValueError, OSError) as exc:
                return fail(f"images.{name}", str(exc))
            image_by_member[img_member] = name
        img_elements[img] = image_by_member[img_member]

    data: dict[str, Any] = {
        "id": item_id,
        "version": meta.get("version", 1),
        "dimension": meta.get("dimension", default_dimension),
        "grades": meta.get("grades", list(default_grades)),
        "status": meta.get("status", "draft"),
    }
    no_dimension = data["dimension"] is None
    if no_dimension:
        errors.append(
            ItemValidationError(
                where,
                item_id,
                "dimension",
                "the package gives no CT dimension for this item; pass a default dimension "
                "(e.g. --dimension D3) or add it after import",
            )
        )
    for key in ("anchor", "rationale", "irt"):
        if key in meta:
            data[key] = meta[key]
    title = one_language(root.get("title") or identifier, item_lang)
    if "_title_en" in meta:
        title = {"zh-TW": root.get("title") or identifier, "en": meta["_title_en"]}
    elif meta:
        title = {"zh-TW": root.get("title") or identifier}
    data["title"] = title

    source = QtiInteraction(
        root=root,
        interaction=inter,
        kind=kind,
        declaration=decl,
        correct=declared_values(decl, "qti-correct-response"),
        metadata=dict(res.meta.attrib) if res.meta is not None else {},
        item_lang=item_lang,
        images=img_elements,
    )
    try:
        # the stem: our <div class="ctc-stem">, or the body (minus the interaction) plus any prompt
        stem_div = next(
            (c for c in body if local_name(c) == "div" and "ctc-stem" in c.get("class", "").split()), None
        )
        if stem_div is not None:
            data["stem"] = text_dict(stem_div, item_lang, img_elements)
        else:
            parts = [inner_html(body, img_elements).strip()]
            prompt = child_named(inter, "qti-prompt")
            if prompt is not None:
                parts.append(inner_html(prompt, img_elements).strip())
            stem = "\n".join(p for p in parts if p)
            stem = re.sub(r"<p>\s*</p>", "", re.sub(r">\s*\n\s*<", ">\n<", stem)).strip()
            data["stem"] = one_language(stem, item_lang)
        if images:
            data["images"] = images
        readers = [t for t in map(item_types.get, item_types.names()) if kind in t.qti_interactions]
        for reader in readers:
            type_fields = reader.qti_read(source)
            if type_fields is not None:
                data["type"] = reader.name
                data.update(type_fields)
                break
        else:
            if readers:
                return fail("interaction", f"this {kind} holds nothing a ctcensus type reads "
                            f"({', '.join(t.name for t in readers)}), so it is not supported")
            known = sorted({i for name in item_types.names() for i in item_types.get(name).qti_interactions})
            return fail("interaction", f"{kind} is not supported (ctcensus reads {', '.join(known)})")
    except UnsupportedContent as exc:
        return fail(source.section, str(exc))
    except QtiReadError as exc:
        return fail(exc.field, exc.message)

    if meta.get("type", data["type"]) != data["type"]:
        return fail("type", f"the metadata says {meta['type']}, the interaction makes it {data['type']}")
    data["max_score"] = meta.get("max_score", 1)  # foreign items are imported as 0/1
    item, item_errors = collect_item(data, where)
    if no_dimension:  # already explained above, with the way to fix it
        item_errors = [e for e in item_errors if e.field != "dimension"]
    return (None if errors else item), errors + item_errors


def import_qti(
    path: str | os.PathLike[str],
    *,
    default_dimension: str | None = None,
    default_grades: tuple[int, ...] = GRADES,
) -> list[Item]:
    """Read a QTI 3.0 or 2.1/2.2 package (directory, .zip, or one item .xml); all-or-nothing.

    Items without ctcensus metadata become drafts of version 1 for `default_grades`; they need
    `default_dimension` (else an error names the file and field). Raises ItemBankError.
    """
    source = Path(path)
    pkg: Package
    resources: list[Resource]
    if source.is_dir():
        pkg = DirPackage(source)
        if not pkg.has("imsmanifest.xml"):
            raise ItemBankError(
                [ItemValidationError(str(source), None, None, "no imsmanifest.xml in the directory")]
            )
        resources, errors = read_manifest(pkg)
    elif source.suffix.lower() == ".zip":
        zpkg = ZipPackage(source)
        errors = zpkg.open()
        if errors:
            raise ItemBankError(errors)
        pkg = zpkg
        if not pkg.has("imsmanifest.xml"):
            raise ItemBankError(
                [ItemValidationError(str(source), None, None, "no imsmanifest.xml in the zip")]
            )
        resources, errors = read_manifest(pkg)
    elif source.is_file() and source.name == "imsmanifest.xml":
        return import_qti(source.parent, default_dimension=default_dimension, default_grades=default_grades)
    elif source.is_file() and source.suffix.lower() == ".xml":
        pkg = DirPackage(source.parent)
        resources, errors = [Resource(source.name)], []
    else:
        raise ItemBankError(
            [ItemValidationError(str(source), None, None, "not a QTI package (directory, .zip or .xml)")]
        )
    items: list[Item] = []
    for res in resources:
        item, item_errors = _import_item(pkg, res, default_dimension, tuple(default_grades))
        errors.extend(item_errors)
        if item is not None:
            items.append(item)
    errors.extend(validate_bank(items))
    if errors:
        raise ItemBankError(errors)
    return items
