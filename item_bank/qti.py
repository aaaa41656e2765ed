"""QTI 3.0 content-package export and QTI 3.0 / 2.1 / 2.2 import, lossless for our own items.

Export writes ``imsmanifest.xml`` (IMS CP, resources of type ``imsqti_item_xmlv3p0``) and one
``qti-assessment-item`` per item. What QTI expresses natively goes in standard QTI: text
(zh-TW and English as ``<div xml:lang=...>`` variants), options, the correct response,
mappings and response processing (``match_correct`` / ``map_response`` templates, or explicit
conditions for partial credit). What it cannot express goes in the ``ctc`` extension namespace:
the grid map inside ``qti-custom-interaction``, and per-resource metadata in the manifest
(version, dimension, grades, anchor, status, max score, English title, rationale, IRT).

Import reads the same structures back, and also plain QTI 2.1/2.2 packages (renamed to QTI 3
names first). XML is parsed only through defusedxml with DTDs, entities and external
references refused; zip members are checked for path traversal and size before reading.
"""

from __future__ import annotations

import html
import math
import os
import posixpath
import re
import zipfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import unquote, urlsplit
from xml.etree.ElementTree import Element, SubElement

from item_bank.errors import ItemBankError, ItemValidationError
from item_bank.model import GRADES, Item, Text
from item_bank.sanitizer import parse_xml
from item_bank.validation import PLACEHOLDER, collect_item, validate_bank

__all__ = [
    "CP_NS",
    "CTC_NS",
    "MAX_MEMBER_BYTES",
    "MAX_PACKAGE_BYTES",
    "QTI3_NS",
    "export_qti3",
    "import_qti",
]

QTI3_NS = "http://www.imsglobal.org/xsd/imsqtiasi_v3p0"
QTI2_NS = (
    "http://www.imsglobal.org/xsd/imsqti_v2p1",
    "http://www.imsglobal.org/xsd/imsqti_v2p2",
    "http://www.imsglobal.org/xsd/imsqti_v2p0",
)
CP_NS = "http://www.imsglobal.org/xsd/qti/qtiv3p0/imscp_v1p1"
#: The ctcensus extension namespace: what QTI has no element for.
CTC_NS = "urn:ctcensus:qti-extension:v1"
XSI_NS = "http://www.w3.org/2001/XMLSchema-instance"
XML_NS = "http://www.w3.org/XML/1998/namespace"
_LANG = f"{{{XML_NS}}}lang"

_TEMPLATES = "https://purl.imsglobal.org/spec/qti/v3p0/rptemplates/"
_SCHEMA = "https://purl.imsglobal.org/spec/qti/v3p0/schema/xsd/imsqti_asiv3p0_v1p0.xsd"
_CP_SCHEMA = "https://purl.imsglobal.org/spec/qti/v3p0/schema/xsd/imsqtiv3p0_imscpv1p2_v1p0.xsd"

MAX_MEMBER_BYTES = 8 * 1024 * 1024
MAX_PACKAGE_BYTES = 128 * 1024 * 1024
MAX_MEMBERS = 10_000

_HTML_VOID = frozenset({"br", "hr", "img", "col", "area", "wbr", "param"})
# Element names QTI 2.x shares with XHTML: kept as they are when renaming to QTI 3.
_XHTML = frozenset(
    ["a", "abbr", "acronym", "address", "b", "bdo", "big", "blockquote", "br", "caption", "cite", "code", "col", "colgroup", "dd", "del", "dfn", "div", "dl", "dt", "em", "h1", "h2", "h3", "h4", "h5", "h6", "hr", "i", "img", "ins", "kbd", "li", "object", "ol", "p", "param", "pre", "q", "samp", "small", "span", "strong", "sub", "sup", "table", "tbody", "td", "tfoot", "th", "thead", "tr", "tt", "ul", "var", "figure", "figcaption", "label", "article", "aside", "section", "header", "footer", "nav", "audio", "video", "source", "track", "picture", "ruby", "rt", "rp", "bdi"]
)


# ---------------------------------------------------------------------------------- XML writing


def _q(name: str) -> str:
    return f"{{{QTI3_NS}}}{name}"


def _c(name: str) -> str:
    return f"{{{CTC_NS}}}{name}"


def _split(tag: str) -> tuple[str | None, str]:
    if tag.startswith("{"):
        ns, _, local = tag[1:].partition("}")
        return ns, local
    return None, tag


def _esc_text(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _esc_attr(value: str) -> str:
    return (
        _esc_text(value)
        .replace('"', "&quot;")
        .replace("\n", "&#10;")
        .replace("\r", "&#13;")
        .replace("\t", "&#9;")
    )


class _Writer:
    """A small deterministic XML serialiser: fixed prefixes, indentation only where it is safe."""

    def __init__(self, default_ns: str, prefixes: Mapping[str, str]) -> None:
        self.default_ns = default_ns
        self.prefixes = {XML_NS: "xml", **prefixes}

    def _name(self, tag: str) -> str:
        ns, local = _split(tag)
        if ns is None or ns == self.default_ns:
            return local
        return f"{self.prefixes[ns]}:{local}"

    @staticmethod
    def _structural(elem: Element) -> bool:
        ns, local = _split(elem.tag)
        if (elem.text or "").strip() or any((c.tail or "").strip() for c in elem):
            return False
        if not len(elem):
            return False
        return local.startswith("qti-") or ns in (CP_NS, CTC_NS) or "ctc-" in elem.get("class", "")

    def write(self, elem: Element, out: list[str], depth: int = 0, root: bool = False) -> None:
        attrs = [(self._name(k), v) for k, v in elem.attrib.items()]
        if root:
            decls = [("xmlns", self.default_ns)] + [
                (f"xmlns:{p}", ns) for ns, p in self.prefixes.items() if p != "xml"
            ]
            attrs = decls + attrs
        name = self._name(elem.tag)
        out.append("<" + name + "".join(f' {k}="{_esc_attr(v)}"' for k, v in attrs))
        if not len(elem) and not elem.text:
            out.append("/>")
            return
        out.append(">")
        if self._structural(elem):
            pad = "\n" + "  " * (depth + 1)
            for child in elem:
                out.append(pad)
                self.write(child, out, depth + 1)
            out.append("\n" + "  " * depth)
        else:
            out.append(_esc_text(elem.text or ""))
            for child in elem:
                self.write(child, out, depth + 1)
                out.append(_esc_text(child.tail or ""))
        out.append(f"</{name}>")

    def document(self, root: Element) -> bytes:
        out = ['<?xml version="1.0" encoding="UTF-8"?>\n']
        self.write(root, out, root=True)
        out.append("\n")
        return "".join(out).encode("utf-8")


class _HtmlToXml(HTMLParser):
    """Re-create sanitised HTML (our subset) as XHTML elements in the QTI namespace."""

    def __init__(self, parent: Element, image_src: Mapping[str, str]) -> None:
        super().__init__(convert_charrefs=True)
        self.stack = [parent]
        self.last: Element | None = None  # the element whose tail receives following text
        self.image_src = image_src

    def _add_text(self, text: str) -> None:
        if self.last is not None:
            self.last.tail = (self.last.tail or "") + text
        else:
            top = self.stack[-1]
            top.text = (top.text or "") + text

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        elem = SubElement(self.stack[-1], _q(tag), {k: v or "" for k, v in attrs})
        if tag in _HTML_VOID:
            self.last = elem
        else:
            self.stack.append(elem)
            self.last = None

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)
        if tag not in _HTML_VOID:
            self.handle_endtag(tag)

    def handle_endtag(self, tag: str) -> None:
        for i in range(len(self.stack) - 1, 0, -1):
            if self.stack[i].tag == _q(tag):
                self.last = self.stack[i]
                del self.stack[i:]
                return

    def handle_data(self, data: str) -> None:
        pos = 0
        for match in PLACEHOLDER.finditer(data):
            self._add_text(data[pos : match.start()])
            name = match.group(1)
            img = SubElement(
                self.stack[-1], _q("img"), {"src": self.image_src.get(name, name), "alt": name}
            )
            self.last = img
            pos = match.end()
        self._add_text(data[pos:])


def _add_html(parent: Element, text: str, image_src: Mapping[str, str]) -> None:
    parser = _HtmlToXml(parent, image_src)
    parser.feed(text)
    parser.close()


def _add_text(parent: Element, text: Text, image_src: Mapping[str, str]) -> None:
    """Both language variants as <div xml:lang=...> children (zh-TW first)."""
    for lang, value in (("zh-TW", text.zh_tw), ("en", text.en)):
        if value is not None:
            div = SubElement(parent, _q("div"), {_LANG: lang})
            _add_html(div, value, image_src)


def _num(value: float) -> str:
    return repr(value) if isinstance(value, float) else str(value)


def _value(parent: Element, text: str, base_type: str | None = None) -> None:
    attrs = {"base-type": base_type} if base_type else {}
    SubElement(parent, _q("qti-value"), attrs).text = text


def _set_score(parent: Element, score: int) -> None:
    sov = SubElement(parent, _q("qti-set-outcome-value"), {"identifier": "SCORE"})
    SubElement(sov, _q("qti-base-value"), {"base-type": "float"}).text = str(score)


def _match_correct(parent: Element) -> Element:
    match = SubElement(parent, _q("qti-match"))
    SubElement(match, _q("qti-variable"), {"identifier": "RESPONSE"})
    SubElement(match, _q("qti-correct"), {"identifier": "RESPONSE"})
    return match


def _rp_partial(root: Element, partial_condition: Any) -> None:
    """SCORE = 2 if correct, 1 if `partial_condition(parent)` holds, else 0."""
    rp = SubElement(root, _q("qti-response-processing"))
    cond = SubElement(rp, _q("qti-response-condition"))
    rif = SubElement(cond, _q("qti-response-if"))
    _match_correct(rif)
    _set_score(rif, 2)
    relif = SubElement(cond, _q("qti-response-else-if"))
    partial_condition(relif)
    _set_score(relif, 1)
    _set_score(SubElement(cond, _q("qti-response-else")), 0)


def _item_xml(item: Item, image_src: Mapping[str, str]) -> Element:
    root = Element(
        _q("qti-assessment-item"),
        {
            f"{{{XSI_NS}}}schemaLocation": f"{QTI3_NS} {_SCHEMA}",
            # id and version: unique in a package that holds several versions of one item
            "identifier": _resource_name(item),
            "title": item.title.zh_tw,
            "adaptive": "false",
            "time-dependent": "false",
            _LANG: "zh-TW",
        },
    )
    decl = SubElement(root, _q("qti-response-declaration"), {"identifier": "RESPONSE"})
    t = item.type
    if t == "single_choice":
        decl.attrib.update({"cardinality": "single", "base-type": "identifier"})
        _value(SubElement(decl, _q("qti-correct-response")), str(item.key))
    elif t in ("multiple_response", "ordering"):
        card = "multiple" if t == "multiple_response" else "ordered"
        decl.attrib.update({"cardinality": card, "base-type": "identifier"})
        correct = SubElement(decl, _q("qti-correct-response"))
        for k in item.key_ids:
            _value(correct, k)
    elif t == "matching":
        decl.attrib.update({"cardinality": "multiple", "base-type": "directedPair"})
        correct = SubElement(decl, _q("qti-correct-response"))
        for lid, rid in item.key_pairs:
            _value(correct, f"{lid} {rid}")
        if item.max_score == 2:
            mapping = SubElement(
                decl, _q("qti-mapping"), {"default-value": "0", "lower-bound": "0"}
            )
            for lid, rid in item.key_pairs:
                SubElement(
                    mapping, _q("qti-map-entry"), {"map-key": f"{lid} {rid}", "mapped-value": "1"}
                )
    elif t == "short_answer":
        answer = item.answer
        assert answer is not None
        if answer.kind == "numeric":
            decl.attrib.update({"cardinality": "single", "base-type": "float"})
            _value(SubElement(decl, _q("qti-correct-response")), _num(answer.value or 0))
        else:
            decl.attrib.update({"cardinality": "single", "base-type": "string"})
            _value(SubElement(decl, _q("qti-correct-response")), answer.accepted[0])
            mapping = SubElement(
                decl,
                _q("qti-mapping"),
                {"default-value": "0", "lower-bound": "0", "upper-bound": "1"},
            )
            for accepted in answer.accepted:
                SubElement(
                    mapping,
                    _q("qti-map-entry"),
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
        _q("qti-outcome-declaration"),
        {
            "identifier": "SCORE",
            "cardinality": "single",
            "base-type": "float",
            "normal-maximum": str(item.max_score),
        },
    )
    if t == "grid_path":
        score.set("external-scored", "externalMachine")  # scored by simulating the moves
    _value(SubElement(score, _q("qti-default-value")), "0")
    maxscore = SubElement(
        root,
        _q("qti-outcome-declaration"),
        {"identifier": "MAXSCORE", "cardinality": "single", "base-type": "float"},
    )
    _value(SubElement(maxscore, _q("qti-default-value")), str(item.max_score))

    body = SubElement(root, _q("qti-item-body"))
    _add_text(SubElement(body, _q("div"), {"class": "ctc-stem"}), item.stem, image_src)
    if t in ("single_choice", "multiple_response"):
        inter = SubElement(
            body,
            _q("qti-choice-interaction"),
            {
                "response-identifier": "RESPONSE",
                "shuffle": "false",
                "max-choices": "1" if t == "single_choice" else "0",
                "min-choices": "0",
            },
        )
    elif t == "ordering":
        inter = SubElement(
            body, _q("qti-order-interaction"), {"response-identifier": "RESPONSE", "shuffle": "false"}
        )
    if t in ("single_choice", "multiple_response", "ordering"):
        for option in item.options:
            choice = SubElement(inter, _q("qti-simple-choice"), {"identifier": option.id})
            _add_text(choice, option.text, image_src)
    elif t == "matching":
        inter = SubElement(
            body,
            _q("qti-match-interaction"),
            {
                "response-identifier": "RESPONSE",
                "shuffle": "false",
                "max-associations": str(len(item.left)),
            },
        )
        for options, match_max in ((item.left, "1"), (item.right, str(len(item.left)))):
            match_set = SubElement(inter, _q("qti-simple-match-set"))
            for option in options:
                choice = SubElement(
                    match_set,
                    _q("qti-simple-associable-choice"),
                    {"identifier": option.id, "match-max": match_max},
                )
                _add_text(choice, option.text, image_src)
    elif t == "short_answer":
        p = SubElement(body, _q("p"))
        SubElement(
            p,
            _q("qti-text-entry-interaction"),
            {"response-identifier": "RESPONSE", "expected-length": "12"},
        )
    elif t == "grid_path":
        assert item.grid is not None
        inter = SubElement(
            body,
            _q("qti-custom-interaction"),
            {"response-identifier": "RESPONSE", "class": "ctc-grid-path"},
        )
        grid = SubElement(inter, _c("grid"), {"max-moves": str(item.grid.max_moves)})
        for row in item.grid.rows:
            SubElement(grid, _c("row")).text = row

    if t in ("single_choice", "multiple_response") or (
        t in ("ordering", "matching") and item.max_score == 1
    ):
        SubElement(root, _q("qti-response-processing"), {"template": _TEMPLATES + "match_correct.xml"})
    elif t == "ordering":
        order_key = list(item.key_ids)

        def one_adjacent_swap(parent: Element) -> None:
            alternatives = SubElement(parent, _q("qti-or"))
            for i in range(len(order_key) - 1):
                swapped = order_key[:i] + [order_key[i + 1], order_key[i]] + order_key[i + 2 :]
                match = SubElement(alternatives, _q("qti-match"))
                SubElement(match, _q("qti-variable"), {"identifier": "RESPONSE"})
                ordered = SubElement(match, _q("qti-ordered"))
                for k in swapped:
                    SubElement(ordered, _q("qti-base-value"), {"base-type": "identifier"}).text = k

        _rp_partial(root, one_adjacent_swap)
    elif t == "matching":

        def half_right(parent: Element) -> None:
            gte = SubElement(parent, _q("qti-gte"))
            SubElement(gte, _q("qti-map-response"), {"identifier": "RESPONSE"})
            SubElement(gte, _q("qti-base-value"), {"base-type": "float"}).text = repr(
                len(item.left) / 2
            )

        _rp_partial(root, half_right)
    elif t == "short_answer":
        assert item.answer is not None
        if item.answer.kind == "text":
            SubElement(
                root, _q("qti-response-processing"), {"template": _TEMPLATES + "map_response.xml"}
            )
        else:
            rp = SubElement(root, _q("qti-response-processing"))
            cond = SubElement(rp, _q("qti-response-condition"))
            rif = SubElement(cond, _q("qti-response-if"))
            tol = item.answer.tolerance
            attrs = (
                {"tolerance-mode": "absolute", "tolerance": f"{_num(tol)} {_num(tol)}"}
                if tol
                else {"tolerance-mode": "exact"}
            )
            equal = SubElement(rif, _q("qti-equal"), attrs)
            SubElement(equal, _q("qti-variable"), {"identifier": "RESPONSE"})
            SubElement(equal, _q("qti-correct"), {"identifier": "RESPONSE"})
            _set_score(rif, 1)
            _set_score(SubElement(cond, _q("qti-response-else")), 0)
    return root


def _metadata_xml(item: Item) -> Element:
    meta = Element(
        _c("item"),
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
        SubElement(meta, _c("title"), {_LANG: "en"}).text = item.title.en
    if item.rationale is not None:
        for lang, value in (("zh-TW", item.rationale.zh_tw), ("en", item.rationale.en)):
            if value is not None:
                SubElement(meta, _c("rationale"), {_LANG: lang}).text = value
    if item.answer is not None and item.answer.kind == "numeric":
        meta.set("tolerance", _num(item.answer.tolerance))
    if item.irt is not None:
        irt = SubElement(
            meta,
            _c("irt"),
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


def _resource_name(item: Item) -> str:
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
        {"identifier": "ctcensus-item-bank", f"{{{XSI_NS}}}schemaLocation": f"{CP_NS} {_CP_SCHEMA}"},
    )
    md = SubElement(manifest, f"{{{CP_NS}}}metadata")
    SubElement(md, f"{{{CP_NS}}}schema").text = "QTI Package"
    SubElement(md, f"{{{CP_NS}}}schemaversion").text = "3.0.0"
    SubElement(manifest, f"{{{CP_NS}}}organizations")
    resources = SubElement(manifest, f"{{{CP_NS}}}resources")
    item_writer = _Writer(QTI3_NS, {CTC_NS: "ctc", XSI_NS: "xsi"})
    for item in items:
        name = _resource_name(item)
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
    files["imsmanifest.xml"] = _Writer(CP_NS, {CTC_NS: "ctc", XSI_NS: "xsi"}).document(manifest)

    target = Path(directory)
    if target.suffix.lower() == ".zip":
        target.parent.mkdir(parents=True, exist_ok=True)
        with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as zf:
            for member, data in sorted(files.items()):
                zf.writestr(member, data)
        return target
    for member, data in files.items():
        out = target / member
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_bytes(data)
    return target


# -------------------------------------------------------------------------------- package input


class _Package:
    """Read-only access to a package's members by their package-relative POSIX path."""

    def __init__(self, label: str) -> None:
        self.label = label

    def where(self, member: str) -> str:
        return f"{self.label}/{member}"

    def read(self, member: str) -> bytes:  # pragma: no cover - overridden
        raise NotImplementedError

    def has(self, member: str) -> bool:  # pragma: no cover - overridden
        raise NotImplementedError


def _safe_member(name: str) -> str | None:
    """The normalised member path, or None if it is absolute or climbs out of the package."""
    name = unquote(name).replace("\\", "/")
    if not name or name.startswith("/") or re.match(r"^[A-Za-z]:", name) or "\x00" in name:
        return None
    norm = posixpath.normpath(name)
    if norm == ".." or norm.startswith(("../", "/")):
        return None
    return norm


class _DirPackage(_Package):
    def __init__(self, root: Path) -> None:
        super().__init__(str(root))
        self.root = root.resolve()

    def _path(self, member: str) -> Path:
        safe = _safe_member(member)
        if safe is None:
            raise ValueError(f"refused path {member!r}: it leaves the package directory")
        path = (self.root / safe).resolve()
        if path != self.root and self.root not in path.parents:
            raise ValueError(f"refused path {member!r}: it leaves the package directory")
        return path

    def has(self, member: str) -> bool:
        try:
            return self._path(member).is_file()
        except ValueError:
            return False

    def read(self, member: str) -> bytes:
        path = self._path(member)
        if path.stat().st_size > MAX_MEMBER_BYTES:
            raise ValueError(f"{member} is larger than {MAX_MEMBER_BYTES} bytes")
        return path.read_bytes()


class _ZipPackage(_Package):
    def __init__(self, path: Path) -> None:
        super().__init__(str(path) + "!")
        self.path = path
        self.members: dict[str, zipfile.ZipInfo] = {}

    def open(self) -> list[ItemValidationError]:
        """Check every member name and size before anything is read."""
        errors: list[ItemValidationError] = []
        try:
            zf = zipfile.ZipFile(self.path)
        except (zipfile.BadZipFile, OSError) as exc:
            return [ItemValidationError(str(self.path), None, None, f"not a readable zip file: {exc}")]
        with zf:
            infos = zf.infolist()
        if len(infos) > MAX_MEMBERS:
            return [
                ItemValidationError(str(self.path), None, None, f"more than {MAX_MEMBERS} members")
            ]
        total = 0
        for info in infos:
            safe = _safe_member(info.filename)
            if safe is None:
                errors.append(
                    ItemValidationError(
                        str(self.path),
                        None,
                        None,
                        f"refused member {info.filename!r}: absolute or '..' path (zip-slip)",
                    )
                )
                continue
            if info.file_size > MAX_MEMBER_BYTES:
                errors.append(
                    ItemValidationError(
                        str(self.path),
                        None,
                        None,
                        f"refused member {info.filename!r}: {info.file_size} bytes is more than "
                        f"{MAX_MEMBER_BYTES}",
                    )
                )
            total += info.file_size
            if not info.is_dir():
                self.members[safe] = info
        if total > MAX_PACKAGE_BYTES:
            errors.append(
                ItemValidationError(
                    str(self.path), None, None, f"unpacked size {total} is more than {MAX_PACKAGE_BYTES}"
                )
            )
        return errors

    def has(self, member: str) -> bool:
        safe = _safe_member(member)
        return safe is not None and safe in self.members

    def read(self, member: str) -> bytes:
        safe = _safe_member(member)
        if safe is None or safe not in self.members:
            raise ValueError(f"{member} is not in the package")
        with zipfile.ZipFile(self.path) as zf, zf.open(self.members[safe]) as fh:
            data = fh.read(MAX_MEMBER_BYTES + 1)  # the header's size may lie
        if len(data) > MAX_MEMBER_BYTES:
            raise ValueError(f"{member} is larger than {MAX_MEMBER_BYTES} bytes")
        return data


@dataclass
class _Resource:
    href: str
    files: list[str] = field(default_factory=list)
    meta: Element | None = None


# ------------------------------------------------------------------------------- XML reading


def _kebab(name: str) -> str:
    return re.sub(r"(?<=[a-z0-9])([A-Z])", r"-\1", name).lower()


def _to_qti3(elem: Element) -> None:
    """Rename a QTI 2.x tree in place to QTI 3 names (assessmentItem -> qti-assessment-item)."""
    for e in elem.iter():
        if not isinstance(e.tag, str):
            continue
        ns, local = _split(e.tag)
        if ns in QTI2_NS or ns is None:
            if local in _XHTML or local.startswith("qti-"):
                e.tag = _q(local)
            else:
                e.tag = _q("qti-" + _kebab(local))
                for key in list(e.attrib):
                    if not key.startswith("{") and _kebab(key) != key:
                        e.attrib[_kebab(key)] = e.attrib.pop(key)


def _local(elem: Element) -> str:
    return _split(elem.tag)[1] if isinstance(elem.tag, str) else ""


def _children(elem: Element, local: str) -> list[Element]:
    return [c for c in elem if _local(c) == local]


def _child(elem: Element, local: str) -> Element | None:
    found = _children(elem, local)
    return found[0] if found else None


class _Unsupported(ValueError):
    """Content the item text cannot hold; importing without it would change what students see."""


_HTML_NS = (QTI3_NS, None, "http://www.w3.org/1999/xhtml")
_NAMESPACE_NAMES = {
    "http://www.w3.org/1998/Math/MathML": "MathML",
    "http://www.w3.org/2000/svg": "inline SVG",
}
# QTI content that is never shown to students with the item text: safe to leave out.
_NOT_STUDENT_TEXT = frozenset({"qti-rubric-block", "qti-feedback-inline", "qti-feedback-block"})
# HTML whose content is media the sanitiser would strip (an SVG <object> becomes an image before this).
_MEDIA = frozenset({"object", "embed", "audio", "video", "iframe", "canvas", "picture", "source", "track"})


def _inner_html(elem: Element, images: Mapping[Element, str]) -> str:
    """Serialise an element's content back to HTML; images become {{img:NAME}} placeholders.

    Raises _Unsupported for content ctcensus cannot show (MathML, media, QTI templates...):
    silently leaving it out would change the question.
    """
    out = [html.escape(elem.text or "", quote=False)]
    for child in elem:
        if isinstance(child.tag, str):
            ns, local = _split(child.tag)
            if child in images:
                out.append("{{img:" + images[child] + "}}")
            elif local == "qti-text-entry-interaction":
                out.append("____")  # the blank of a foreign inline text entry
            elif local == "qti-rubric-block" and "candidate" in (child.get("view") or "").split():
                raise _Unsupported("<rubricBlock view=\"candidate\"> (text for the student) cannot be imported; "
                                   "move its text into the item body")
            elif local in _NOT_STUDENT_TEXT or local.endswith("-interaction"):
                pass  # the interaction itself is read separately; feedback and scorer rubrics are not item text
            elif ns not in _HTML_NS:
                kind = _NAMESPACE_NAMES.get(ns or "", f"namespace {ns}")
                raise _Unsupported(
                    f"<{local}> ({kind}) cannot be imported: ctcensus item text is HTML; "
                    "write it as text or as an SVG image (<img src=\"....svg\">)"
                )
            elif local in _MEDIA or local.startswith("qti-"):
                what = f" data={child.get('data')!r}" if child.get("data") else ""
                raise _Unsupported(
                    f"<{local}{what}> cannot be imported: ctcensus item text holds HTML text and SVG "
                    "images only; replace it with text or an SVG image"
                )
            else:
                attrs = "".join(
                    f' {k}="{html.escape(v)}"'
                    for k, v in child.attrib.items()
                    if not k.startswith("{")
                )
                out.append(f"<{local}{attrs}>")
                if local not in _HTML_VOID:
                    out.append(_inner_html(child, images))
                    out.append(f"</{local}>")
        out.append(html.escape(child.tail or "", quote=False))
    return "".join(out)


def _lang_divs(elem: Element) -> dict[str, Element] | None:
    """Our bilingual layout: only <div xml:lang=...> children (and whitespace)."""
    if (elem.text or "").strip():
        return None
    found: dict[str, Element] = {}
    for child in elem:
        lang = child.get(_LANG)
        if _local(child) != "div" or lang is None or (child.tail or "").strip():
            return None
        found[lang] = child
    return found or None


def _text_dict(elem: Element, item_lang: str, images: Mapping[Element, str]) -> dict[str, str]:
    """A {'zh-TW', 'en'} text object from bilingual divs, or from one-language content."""
    divs = _lang_divs(elem)
    if divs is not None:
        out: dict[str, str] = {}
        for lang, div in divs.items():
            key = "zh-TW" if lang.lower().startswith("zh") else "en" if lang.lower().startswith("en") else None
            if key is not None and key not in out:
                out[key] = _inner_html(div, images)
        if out:
            return out
    text = _inner_html(elem, images).strip()
    return _one_language(text, item_lang)


def _one_language(text: str, item_lang: str) -> dict[str, str]:
    # zh-TW is required: foreign text fills it (the item is a draft until translated).
    if item_lang.lower().startswith("zh"):
        return {"zh-TW": text}
    return {"zh-TW": text, "en": text}


def _values(decl: Element | None, container: str) -> list[str]:
    if decl is None:
        return []
    box = _child(decl, container)
    return [(v.text or "").strip() for v in _children(box, "qti-value")] if box is not None else []


def _parse_number(text: str) -> int | float | None:
    text = text.strip()
    if re.fullmatch(r"[+-]?[0-9]{1,400}", text):  # longer: float() gives inf, which validation refuses
        return int(text)
    try:
        value = float(text)
    except ValueError:
        return None
    return int(value) if value.is_integer() and abs(value) < 2**53 else value


def _int_or_text(text: str) -> int | str:
    """ASCII digits as an int (validation then checks the range); anything else, e.g. '²', stays text."""
    return int(text) if re.fullmatch(r"[0-9]{1,400}", text) else text


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
        values = {_parse_number(k) for k in keys}
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
    mapping = _child(decl, "qti-mapping") if decl is not None else None
    processing = _child(root, "qti-response-processing")
    template = (processing.get("template") or "") if processing is not None else ""
    if mapping is None or template.rstrip("/").removesuffix(".xml").endswith("match_correct"):
        return [], [], None  # match_correct scores against the correct response, never the mapping
    bounds: dict[str, float | None] = {}
    for name in ("default-value", "lower-bound", "upper-bound"):
        text = mapping.get(name)
        number = _parse_number(text) if text is not None else None
        if text is not None and number is None:
            return [], [], ("answer", f"qti-mapping {name} {text!r} is not a number")
        bounds[name] = number
    if bounds["default-value"]:
        return [], [], ("answer", (
            f"the mapping gives {bounds['default-value']} to every other answer; a ctcensus short answer "
            "scores 0 unless the answer is accepted"
        ))
    scored: list[tuple[str, float, bool]] = []
    for entry in _children(mapping, "qti-map-entry"):
        key, text = entry.get("map-key", ""), entry.get("mapped-value", "")
        value = _parse_number(text)
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
                f"map entry {key!r} is worth {_num(value)} of {_num(top)} (partial credit); a ctcensus "
                "short answer scores 0 or 1: make each accepted answer worth the full score, or 0, in the package"
            ))
    full = [(key, cs) for key, value, cs in scored if value > 0]
    return [key for key, _cs in full], [cs for _key, cs in full], None


def _foreign_tolerance(root: Element, value: Any) -> float | int | tuple[str, str]:
    """The absolute tolerance of a foreign numeric comparison (a relative one scaled by the value)."""
    if next(root.iter(_q("qti-equal-rounded")), None) is not None:
        return "answer.tolerance", (
            "the response processing rounds the answer (equalRounded); a ctcensus numeric answer compares "
            "within an absolute tolerance: give it one after import instead"
        )
    equal = next(root.iter(_q("qti-equal")), None)
    if equal is None:
        return 0
    mode = equal.get("tolerance-mode", "exact")
    if mode == "exact":
        return 0
    if mode not in ("absolute", "relative"):
        return "answer.tolerance", f"tolerance-mode {mode!r} is not exact, absolute or relative"
    text = equal.get("tolerance") or ""
    parts = [_parse_number(t) for t in text.split()]
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


def _meta_dict(meta: Element | None) -> dict[str, Any]:
    """The ctc:item metadata as item-file fields (only those present)."""
    if meta is None:
        return {}
    out: dict[str, Any] = {}
    a = meta.attrib
    if "id" in a:
        out["id"] = a["id"]
    if "version" in a:
        out["version"] = _int_or_text(a["version"])
    for key in ("dimension", "status", "type"):
        if key in a:
            out[key] = a[key]
    if "grades" in a:
        out["grades"] = [_int_or_text(g) for g in a["grades"].split()]
    if "anchor" in a:
        out["anchor"] = a["anchor"] == "true"
    if "max-score" in a:
        out["max_score"] = _int_or_text(a["max-score"])
    if "tolerance" in a:
        out["_tolerance"] = _parse_number(a["tolerance"])
    title = _child(meta, "title")
    if title is not None:
        out["_title_en"] = title.text or ""
    rationale = {r.get(_LANG, "zh-TW"): r.text or "" for r in _children(meta, "rationale")}
    if rationale:
        out["rationale"] = rationale
    irt = _child(meta, "irt")
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
    pkg: _Package,
    res: _Resource,
    default_dimension: str | None,
    default_grades: tuple[int, ...],
) -> tuple[Item | None, list[ItemValidationError]]:
    where = pkg.where(res.href)
    try:
        root = parse_xml(pkg.read(res.href))
    except (ValueError, OSError) as exc:
        return None, [ItemValidationError(where, None, None, str(exc))]
    _to_qti3(root)
    if _local(root) != "qti-assessment-item":
        return None, [
            ItemValidationError(
                where, None, None, f"not a QTI assessment item (root element <{_local(root)}>)"
            )
        ]
    meta = _meta_dict(res.meta)
    identifier = root.get("identifier") or PurePosixPath(res.href).stem
    item_id = meta.get("id") or _foreign_id(identifier)
    errors: list[ItemValidationError] = []

    def fail(field: str | None, message: str) -> tuple[None, list[ItemValidationError]]:
        errors.append(ItemValidationError(where, item_id, field, message))
        return None, errors

    item_lang = root.get(_LANG) or ""
    body = _child(root, "qti-item-body")
    if body is None:
        return fail("qti-item-body", "missing")
    interactions = [e for e in body.iter() if _local(e).endswith("-interaction")]
    if len(interactions) != 1:
        return fail(
            "interaction",
            f"found {len(interactions)} interactions; ctcensus items have exactly one",
        )
    inter = interactions[0]
    kind = _local(inter)
    resp_id = inter.get("response-identifier", "RESPONSE")
    decl = next(
        (d for d in _children(root, "qti-response-declaration") if d.get("identifier") == resp_id),
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
            image_by_member[_safe_member(member) or member] = name
    img_elements: dict[Element, str] = {}
    # <img src> and SVG <object data> (its fallback content is then replaced by the image)
    pictures = [(img, img.get("src", "")) for img in body.iter(_q("img"))]
    for obj in body.iter(_q("object")):
        mime = (obj.get("type") or "").split(";")[0].strip().lower()
        if mime == "image/svg+xml" or (not mime and obj.get("data", "").lower().endswith(".svg")):
            pictures.append((obj, obj.get("data", "")))
    for img, src in pictures:
        if urlsplit(src).scheme:
            return fail("images", f"external image {src!r} refused; images must be in the package")
        img_member = _safe_member(posixpath.join(item_dir, src))
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
    title = _one_language(root.get("title") or identifier, item_lang)
    if "_title_en" in meta:
        title = {"zh-TW": root.get("title") or identifier, "en": meta["_title_en"]}
    elif meta:
        title = {"zh-TW": root.get("title") or identifier}
    data["title"] = title

    section = "stem"  # where unsupported content was met, for the error
    try:
        # the stem: our <div class="ctc-stem">, or the body (minus the interaction) plus any prompt
        stem_div = next(
            (c for c in body if _local(c) == "div" and "ctc-stem" in c.get("class", "").split()), None
        )
        if stem_div is not None:
            data["stem"] = _text_dict(stem_div, item_lang, img_elements)
        else:
            parts = [_inner_html(body, img_elements).strip()]
            prompt = _child(inter, "qti-prompt")
            if prompt is not None:
                parts.append(_inner_html(prompt, img_elements).strip())
            stem = "\n".join(p for p in parts if p)
            stem = re.sub(r"<p>\s*</p>", "", re.sub(r">\s*\n\s*<", ">\n<", stem)).strip()
            data["stem"] = _one_language(stem, item_lang)
        if images:
            data["images"] = images

        def options(container: Element, local: str, field: str = "options") -> list[dict[str, Any]]:
            nonlocal section
            section = field
            return [
                {"id": c.get("identifier"), "text": _text_dict(c, item_lang, img_elements)}
                for c in _children(container, local)
            ]

        cardinality = decl.get("cardinality") if decl is not None else None
        correct = _values(decl, "qti-correct-response")
        if kind == "qti-choice-interaction":
            single = cardinality == "single" or (cardinality is None and inter.get("max-choices") == "1")
            data["type"] = "single_choice" if single else "multiple_response"
            data["options"] = options(inter, "qti-simple-choice")
            if single:
                if len(correct) != 1:
                    return fail("key", f"a single-choice item needs one correct value, found {len(correct)}")
                data["key"] = correct[0]
            else:
                data["key"] = correct
        elif kind == "qti-order-interaction":
            data["type"] = "ordering"
            data["options"] = options(inter, "qti-simple-choice")
            data["key"] = correct
        elif kind == "qti-match-interaction":
            data["type"] = "matching"
            sets = _children(inter, "qti-simple-match-set")
            if len(sets) != 2:
                return fail("interaction", f"a match interaction needs 2 match sets, found {len(sets)}")
            data["left"] = options(sets[0], "qti-simple-associable-choice", "left")
            data["right"] = options(sets[1], "qti-simple-associable-choice", "right")
            left_ids = {o["id"] for o in data["left"]}
            pairs = []
            for value in correct:
                ids = value.split()
                if len(ids) == 2 and ids[0] not in left_ids and ids[1] in left_ids:
                    ids.reverse()  # an undirected 'pair' written right-first
                pairs.append(ids)
            data["key"] = pairs
        elif kind == "qti-text-entry-interaction":
            data["type"] = "short_answer"
            answer = _short_answer_key(root, decl, correct, meta.get("_tolerance"))
            if isinstance(answer, tuple):
                return fail(*answer)
            data["answer"] = answer
        elif kind == "qti-custom-interaction":
            grid = next((e for e in inter.iter(_c("grid"))), None)
            if grid is None:
                return fail("interaction", "a custom interaction without ctc:grid data is not supported")
            data["type"] = "grid_path"
            block: dict[str, Any] = {"map": [(r.text or "") for r in grid.iter(_c("row"))]}
            max_moves = grid.get("max-moves")
            if max_moves is not None:
                block["max_moves"] = _int_or_text(max_moves)
            data["grid"] = block
        else:
            return fail("interaction", f"{kind} is not supported (ctcensus has choice, order, match, "
                        "text-entry and grid custom interactions)")
    except _Unsupported as exc:
        return fail(section, str(exc))

    if meta.get("type", data["type"]) != data["type"]:
        return fail("type", f"the metadata says {meta['type']}, the interaction makes it {data['type']}")
    data["max_score"] = meta.get("max_score", 1)  # foreign items are imported as 0/1
    item, item_errors = collect_item(data, where)
    if no_dimension:  # already explained above, with the way to fix it
        item_errors = [e for e in item_errors if e.field != "dimension"]
    return (None if errors else item), errors + item_errors


def _read_manifest(pkg: _Package) -> tuple[list[_Resource], list[ItemValidationError]]:
    where = pkg.where("imsmanifest.xml")
    try:
        root = parse_xml(pkg.read("imsmanifest.xml"))
    except (ValueError, OSError) as exc:
        return [], [ItemValidationError(where, None, None, str(exc))]
    resources: list[_Resource] = []
    errors: list[ItemValidationError] = []
    for res in root.iter():
        if _local(res) != "resource":
            continue
        if not res.get("type", "").startswith(("imsqti_item_xmlv", "imsqti_apipitem_xmlv")):
            continue
        href = res.get("href")
        file_hrefs = [f.get("href", "") for f in res if _local(f) == "file"]
        href = href or (file_hrefs[0] if file_hrefs else None)
        if href is None:
            errors.append(ItemValidationError(where, None, "resource", "an item resource without href"))
            continue
        safe = [_safe_member(h) for h in [href, *file_hrefs]]
        if any(s is None for s in safe):
            errors.append(
                ItemValidationError(
                    where, None, "resource", f"refused resource {res.get('identifier')!r}: a path "
                    "is absolute or leaves the package"
                )
            )
            continue
        meta = next((m for m in res.iter(_c("item"))), None)
        resources.append(_Resource(safe[0], [s for s in safe[1:] if s], meta))  # type: ignore[arg-type]
    if not resources and not errors:
        errors.append(ItemValidationError(where, None, None, "the manifest lists no QTI item resources"))
    return resources, errors


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
    pkg: _Package
    resources: list[_Resource]
    if source.is_dir():
        pkg = _DirPackage(source)
        if not pkg.has("imsmanifest.xml"):
            raise ItemBankError(
                [ItemValidationError(str(source), None, None, "no imsmanifest.xml in the directory")]
            )
        resources, errors = _read_manifest(pkg)
    elif source.suffix.lower() == ".zip":
        zpkg = _ZipPackage(source)
        errors = zpkg.open()
        if errors:
            raise ItemBankError(errors)
        pkg = zpkg
        if not pkg.has("imsmanifest.xml"):
            raise ItemBankError(
                [ItemValidationError(str(source), None, None, "no imsmanifest.xml in the zip")]
            )
        resources, errors = _read_manifest(pkg)
    elif source.is_file() and source.name == "imsmanifest.xml":
        return import_qti(source.parent, default_dimension=default_dimension, default_grades=default_grades)
    elif source.is_file() and source.suffix.lower() == ".xml":
        pkg = _DirPackage(source.parent)
        resources, errors = [_Resource(source.name)], []
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
