"""XML building blocks of the QTI mapping, shared by export, import and the item types' QTI hooks.

Namespaces, a deterministic serialiser (fixed prefixes, indentation only where it is safe),
sanitised HTML to QTI XHTML and back, and small builders and readers of QTI elements.
"""

from __future__ import annotations

import html
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import Any
from xml.etree.ElementTree import Element, SubElement

from item_bank.fields import PLACEHOLDER
from item_bank.model import Text

__all__ = [
    "CP_NS",
    "CP_SCHEMA",
    "CTC_NS",
    "HTML_VOID",
    "ITEM_SCHEMA",
    "LANG",
    "QTI2_NS",
    "QTI3_NS",
    "TEMPLATES",
    "XHTML",
    "XML_NS",
    "XSI_NS",
    "QtiInteraction",
    "QtiReadError",
    "UnsupportedContent",
    "XmlWriter",
    "add_bilingual",
    "add_value",
    "child_named",
    "children_named",
    "ctc_tag",
    "declared_values",
    "format_number",
    "inner_html",
    "int_or_text",
    "local_name",
    "match_correct",
    "one_language",
    "parse_qti_number",
    "partial_credit_processing",
    "qti_tag",
    "set_score",
    "split_tag",
    "text_dict",
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
LANG = f"{{{XML_NS}}}lang"

TEMPLATES = "https://purl.imsglobal.org/spec/qti/v3p0/rptemplates/"
ITEM_SCHEMA = "https://purl.imsglobal.org/spec/qti/v3p0/schema/xsd/imsqti_asiv3p0_v1p0.xsd"
CP_SCHEMA = "https://purl.imsglobal.org/spec/qti/v3p0/schema/xsd/imsqtiv3p0_imscpv1p2_v1p0.xsd"

HTML_VOID = frozenset({"br", "hr", "img", "col", "area", "wbr", "param"})
# Element names QTI 2.x shares with XHTML: kept as they are when renaming to QTI 3.
XHTML = frozenset(
    ["a", "abbr", "acronym", "address", "b", "bdo", "big", "blockquote", "br", "caption", "cite", "code", "col", "colgroup", "dd", "del", "dfn", "div", "dl", "dt", "em", "h1", "h2", "h3", "h4", "h5", "h6", "hr", "i", "img", "ins", "kbd", "li", "object", "ol", "p", "param", "pre", "q", "samp", "small", "span", "strong", "sub", "sup", "table", "tbody", "td", "tfoot", "th", "thead", "tr", "tt", "ul", "var", "figure", "figcaption", "label", "article", "aside", "section", "header", "footer", "nav", "audio", "video", "source", "track", "picture", "ruby", "rt", "rp", "bdi"]
)




# ---------------------------------------------------------------------------------- XML writing


def qti_tag(name: str) -> str:
    """A QTI 3 element name in Clark notation ({ns}name)."""
    return f"{{{QTI3_NS}}}{name}"


def ctc_tag(name: str) -> str:
    """A ctcensus extension element name in Clark notation."""
    return f"{{{CTC_NS}}}{name}"


def split_tag(tag: str) -> tuple[str | None, str]:
    """(namespace or None, local name) of a Clark-notation tag."""
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


class XmlWriter:
    """A small deterministic XML serialiser: fixed prefixes, indentation only where it is safe."""

    def __init__(self, default_ns: str, prefixes: Mapping[str, str]) -> None:
        self.default_ns = default_ns
        self.prefixes = {XML_NS: "xml", **prefixes}

    def _name(self, tag: str) -> str:
        ns, local = split_tag(tag)
        if ns is None or ns == self.default_ns:
            return local
        return f"{self.prefixes[ns]}:{local}"

    @staticmethod
    def _structural(elem: Element) -> bool:
        ns, local = split_tag(elem.tag)
        if (elem.text or "").strip() or any((c.tail or "").strip() for c in elem):
            return False
        if not len(elem):
            return False
        return local.startswith("qti-") or ns in (CP_NS, CTC_NS) or "ctc-" in elem.get("class", "")

    def write(self, elem: Element, out: list[str], depth: int = 0, root: bool = False) -> None:
        """Serialise `elem` into `out` (namespace declarations on the root)."""
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
        """The UTF-8 document: XML declaration, `root`, final newline."""
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
        elem = SubElement(self.stack[-1], qti_tag(tag), {k: v or "" for k, v in attrs})
        if tag in HTML_VOID:
            self.last = elem
        else:
            self.stack.append(elem)
            self.last = None

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)
        if tag not in HTML_VOID:
            self.handle_endtag(tag)

    def handle_endtag(self, tag: str) -> None:
        for i in range(len(self.stack) - 1, 0, -1):
            if self.stack[i].tag == qti_tag(tag):
                self.last = self.stack[i]
                del self.stack[i:]
                return

    def handle_data(self, data: str) -> None:
        pos = 0
        for match in PLACEHOLDER.finditer(data):
            self._add_text(data[pos : match.start()])
            name = match.group(1)
            img = SubElement(
                self.stack[-1], qti_tag("img"), {"src": self.image_src.get(name, name), "alt": name}
            )
            self.last = img
            pos = match.end()
        self._add_text(data[pos:])


def _add_html(parent: Element, text: str, image_src: Mapping[str, str]) -> None:
    parser = _HtmlToXml(parent, image_src)
    parser.feed(text)
    parser.close()


def add_bilingual(parent: Element, text: Text, image_src: Mapping[str, str]) -> None:
    """Both language variants as <div xml:lang=...> children (zh-TW first)."""
    for lang, value in (("zh-TW", text.zh_tw), ("en", text.en)):
        if value is not None:
            div = SubElement(parent, qti_tag("div"), {LANG: lang})
            _add_html(div, value, image_src)


def format_number(value: float) -> str:
    """A number as QTI text: repr for floats (round-trips exactly), str for ints."""
    return repr(value) if isinstance(value, float) else str(value)


def add_value(parent: Element, text: str, base_type: str | None = None) -> None:
    """Append <qti-value> (with a base-type when given)."""
    attrs = {"base-type": base_type} if base_type else {}
    SubElement(parent, qti_tag("qti-value"), attrs).text = text


def set_score(parent: Element, score: int) -> None:
    """Append SCORE = `score` (a qti-set-outcome-value)."""
    sov = SubElement(parent, qti_tag("qti-set-outcome-value"), {"identifier": "SCORE"})
    SubElement(sov, qti_tag("qti-base-value"), {"base-type": "float"}).text = str(score)


def match_correct(parent: Element) -> Element:
    """Append <qti-match> of RESPONSE against its correct response."""
    match = SubElement(parent, qti_tag("qti-match"))
    SubElement(match, qti_tag("qti-variable"), {"identifier": "RESPONSE"})
    SubElement(match, qti_tag("qti-correct"), {"identifier": "RESPONSE"})
    return match


def partial_credit_processing(root: Element, partial_condition: Any) -> None:
    """SCORE = 2 if correct, 1 if `partial_condition(parent)` holds, else 0."""
    rp = SubElement(root, qti_tag("qti-response-processing"))
    cond = SubElement(rp, qti_tag("qti-response-condition"))
    rif = SubElement(cond, qti_tag("qti-response-if"))
    match_correct(rif)
    set_score(rif, 2)
    relif = SubElement(cond, qti_tag("qti-response-else-if"))
    partial_condition(relif)
    set_score(relif, 1)
    set_score(SubElement(cond, qti_tag("qti-response-else")), 0)



# ------------------------------------------------------------------------------- XML reading


def local_name(elem: Element) -> str:
    """The element's local name ('' for comments and processing instructions)."""
    return split_tag(elem.tag)[1] if isinstance(elem.tag, str) else ""


def children_named(elem: Element, local: str) -> list[Element]:
    """Direct children with this local name, in order."""
    return [c for c in elem if local_name(c) == local]


def child_named(elem: Element, local: str) -> Element | None:
    """The first direct child with this local name, or None."""
    found = children_named(elem, local)
    return found[0] if found else None


class UnsupportedContent(ValueError):
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


def inner_html(elem: Element, images: Mapping[Element, str]) -> str:
    """Serialise an element's content back to HTML; images become {{img:NAME}} placeholders.

    Raises UnsupportedContent for content ctcensus cannot show (MathML, media, QTI templates...):
    silently leaving it out would change the question.
    """
    out = [html.escape(elem.text or "", quote=False)]
    for child in elem:
        if isinstance(child.tag, str):
            ns, local = split_tag(child.tag)
            if child in images:
                out.append("{{img:" + images[child] + "}}")
            elif local == "qti-text-entry-interaction":
                out.append("____")  # the blank of a foreign inline text entry
            elif local == "qti-rubric-block" and "candidate" in (child.get("view") or "").split():
                raise UnsupportedContent("<rubricBlock view=\"candidate\"> (text for the student) cannot be imported; "
                                   "move its text into the item body")
            elif local in _NOT_STUDENT_TEXT or local.endswith("-interaction"):
                pass  # the interaction itself is read separately; feedback and scorer rubrics are not item text
            elif ns not in _HTML_NS:
                kind = _NAMESPACE_NAMES.get(ns or "", f"namespace {ns}")
                raise UnsupportedContent(
                    f"<{local}> ({kind}) cannot be imported: ctcensus item text is HTML; "
                    "write it as text or as an SVG image (<img src=\"....svg\">)"
                )
            elif local in _MEDIA or local.startswith("qti-"):
                what = f" data={child.get('data')!r}" if child.get("data") else ""
                raise UnsupportedContent(
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
                if local not in HTML_VOID:
                    out.append(inner_html(child, images))
                    out.append(f"</{local}>")
        out.append(html.escape(child.tail or "", quote=False))
    return "".join(out)


def _lang_divs(elem: Element) -> dict[str, Element] | None:
    """Our bilingual layout: only <div xml:lang=...> children (and whitespace)."""
    if (elem.text or "").strip():
        return None
    found: dict[str, Element] = {}
    for child in elem:
        lang = child.get(LANG)
        if local_name(child) != "div" or lang is None or (child.tail or "").strip():
            return None
        found[lang] = child
    return found or None


def text_dict(elem: Element, item_lang: str, images: Mapping[Element, str]) -> dict[str, str]:
    """A {'zh-TW', 'en'} text object from bilingual divs, or from one-language content."""
    divs = _lang_divs(elem)
    if divs is not None:
        out: dict[str, str] = {}
        for lang, div in divs.items():
            key = "zh-TW" if lang.lower().startswith("zh") else "en" if lang.lower().startswith("en") else None
            if key is not None and key not in out:
                out[key] = inner_html(div, images)
        if out:
            return out
    text = inner_html(elem, images).strip()
    return one_language(text, item_lang)


def one_language(text: str, item_lang: str) -> dict[str, str]:
    """A text object from one-language content (foreign text fills zh-TW until translated)."""
    # zh-TW is required: foreign text fills it (the item is a draft until translated).
    if item_lang.lower().startswith("zh"):
        return {"zh-TW": text}
    return {"zh-TW": text, "en": text}


def declared_values(decl: Element | None, container: str) -> list[str]:
    """The <qti-value> texts inside `container` of a response declaration."""
    if decl is None:
        return []
    box = child_named(decl, container)
    return [(v.text or "").strip() for v in children_named(box, "qti-value")] if box is not None else []


def parse_qti_number(text: str) -> int | float | None:
    """A number written in QTI (int when integral), or None."""
    text = text.strip()
    if re.fullmatch(r"[+-]?[0-9]{1,400}", text):  # longer: float() gives inf, which validation refuses
        return int(text)
    try:
        value = float(text)
    except ValueError:
        return None
    return int(value) if value.is_integer() and abs(value) < 2**53 else value


def int_or_text(text: str) -> int | str:
    """ASCII digits as an int (validation then checks the range); anything else, e.g. '²', stays text."""
    return int(text) if re.fullmatch(r"[0-9]{1,400}", text) else text



class QtiReadError(ValueError):
    """An item type cannot keep what an imported interaction says (the import names the field)."""

    def __init__(self, field: str, message: str) -> None:
        self.field = field
        self.message = message
        super().__init__(f"{field}: {message}")


@dataclass
class QtiInteraction:
    """What an item type's ``qti_read`` hook sees of one imported item (QTI 3 names)."""

    root: Element
    interaction: Element
    #: The interaction's local name, e.g. "qti-choice-interaction".
    kind: str
    #: The response declaration the interaction answers, if any.
    declaration: Element | None
    #: Values of its correct response.
    correct: list[str]
    #: Attributes of the manifest's ctc:item metadata (empty for foreign items).
    metadata: Mapping[str, str]
    item_lang: str
    images: Mapping[Element, str] = field(default_factory=dict)
    #: Where unsupported content was met, for the error (set by :meth:`options`).
    section: str = "stem"

    def options(self, container: Element, local: str, field: str = "options") -> list[dict[str, Any]]:
        """The (id, text) options under `container` as item-file options; texts in both languages when given."""
        self.section = field
        return [
            {"id": c.get("identifier"), "text": text_dict(c, self.item_lang, self.images)}
            for c in children_named(container, local)
        ]
