"""Sanitisers for item text (HTML subset via nh3) and SVG images (allowlist on top of defusedxml).

Both are idempotent: cleaning clean output returns it unchanged, which keeps exports lossless.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

import defusedxml
import defusedxml.ElementTree as DET
import nh3

__all__ = [
    "ALLOWED_TAGS",
    "MAX_SVG_BYTES",
    "SVG_NS",
    "clean_html",
    "clean_svg",
    "parse_xml",
]

#: The HTML subset allowed in item text (docs/item-format.md).
ALLOWED_TAGS = frozenset(
    "b i em strong code br p ul ol li table tr td th span sub sup".split()
)
_ALLOWED_ATTRIBUTES = {
    "td": {"colspan", "rowspan"},
    "th": {"colspan", "rowspan"},
    "span": {"lang"},
}

SVG_NS = "http://www.w3.org/2000/svg"
_XLINK_NS = "http://www.w3.org/1999/xlink"
_XML_NS = "http://www.w3.org/XML/1998/namespace"
MAX_SVG_BYTES = 256 * 1024

_SVG_ELEMENTS = frozenset(
    """svg g defs symbol use title desc rect circle ellipse line polyline polygon path text tspan
    marker linearGradient radialGradient stop clipPath mask pattern""".split()
)
_SVG_ATTRIBUTES = frozenset(
    """id class x y x1 y1 x2 y2 cx cy r rx ry width height d points viewBox preserveAspectRatio
    transform fill fill-opacity fill-rule stroke stroke-width stroke-opacity stroke-linecap
    stroke-linejoin stroke-dasharray stroke-dashoffset stroke-miterlimit opacity font-family
    font-size font-weight font-style text-anchor dominant-baseline alignment-baseline
    letter-spacing word-spacing dx dy rotate offset stop-color stop-opacity gradientUnits
    gradientTransform spreadMethod fx fy markerWidth markerHeight refX refY orient markerUnits
    marker-start marker-mid marker-end clip-path clip-rule clipPathUnits mask maskUnits
    maskContentUnits patternUnits patternContentUnits patternTransform visibility display role
    aria-label aria-hidden version lang style textLength lengthAdjust vector-effect
    shape-rendering text-rendering pathLength href""".split()
)
# url(...) is only allowed to point inside the document (gradients, markers, clip paths).
_URL = re.compile(r"url\s*\(\s*['\"]?\s*([^)'\"]*)", re.IGNORECASE)
_DANGEROUS_VALUE = re.compile(r"javascript:|vbscript:|data:|expression\s*\(|@import|\\", re.I)


def clean_html(text: str) -> str:
    """Strip everything but the allowed HTML subset (scripts and styles lose their content)."""
    return nh3.clean(
        text, tags=set(ALLOWED_TAGS), attributes=_ALLOWED_ATTRIBUTES, link_rel=None
    ).strip()


def parse_xml(data: bytes | str) -> ET.Element:
    """Parse XML refusing DTDs, entities and external references; raise ValueError on any problem."""
    try:
        return DET.fromstring(data, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except defusedxml.DTDForbidden:
        raise ValueError(
            "refused: the XML declares a DTD (<!DOCTYPE ...>); DTDs, entities and external "
            "references are not allowed (XXE / entity-expansion protection)"
        ) from None
    except defusedxml.EntitiesForbidden:
        raise ValueError(
            "refused: the XML declares entities; entity declarations are not allowed "
            "(entity-expansion protection)"
        ) from None
    except defusedxml.ExternalReferenceForbidden:
        raise ValueError(
            "refused: the XML references an external resource (XXE protection)"
        ) from None
    except ET.ParseError as exc:
        raise ValueError(f"not well-formed XML: {exc}") from None


def _local(tag: str) -> tuple[str | None, str]:
    if tag.startswith("{"):
        ns, _, name = tag[1:].partition("}")
        return ns, name
    return None, tag


def _safe_value(value: str) -> bool:
    if _DANGEROUS_VALUE.search(value):
        return False
    return all(target.strip().startswith("#") for target in _URL.findall(value))


def _escape_text(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _escape_attr(value: str) -> str:
    return (
        _escape_text(value)
        .replace('"', "&quot;")
        .replace("\n", "&#10;")
        .replace("\r", "&#13;")
        .replace("\t", "&#9;")
    )


def _clean_svg_element(elem: ET.Element, out: list[str], root: bool) -> None:
    _, name = _local(elem.tag)
    attrs: list[tuple[str, str]] = []
    if root:
        attrs.append(("xmlns", SVG_NS))
    for key, value in elem.attrib.items():
        ns, attr = _local(key)
        if ns == _XML_NS and attr in ("space", "lang"):
            attrs.append((f"xml:{attr}", value))
            continue
        if ns == _XLINK_NS and attr == "href":
            ns = None
        if ns is not None or attr not in _SVG_ATTRIBUTES or attr.lower().startswith("on"):
            continue
        if attr == "href" and not value.strip().startswith("#"):
            continue
        if not _safe_value(value):
            continue
        if attr == "href" and any(a == "href" for a, _ in attrs):
            continue
        attrs.append((attr, value))
    out.append("<" + name + "".join(f' {a}="{_escape_attr(v)}"' for a, v in attrs))
    children = [c for c in elem if isinstance(c.tag, str)]
    if not elem.text and not children:
        out.append("/>")
        return
    out.append(">")
    if elem.text:
        out.append(_escape_text(elem.text))
    for child in children:
        ns, child_name = _local(child.tag)
        if ns in (SVG_NS, None) and child_name in _SVG_ELEMENTS:
            _clean_svg_element(child, out, root=False)
        if child.tail:
            out.append(_escape_text(child.tail))
    out.append(f"</{name}>")


def clean_svg(svg: str) -> str:
    """Return a safe SVG: allowlisted elements/attributes, no scripts, no on*, no external links.

    Raises ValueError when the text is too large, not well-formed or not an <svg> document.
    """
    if len(svg.encode("utf-8")) > MAX_SVG_BYTES:
        raise ValueError(f"the SVG is larger than {MAX_SVG_BYTES // 1024} KiB")
    root = parse_xml(svg.strip())
    ns, name = _local(root.tag)
    if name != "svg" or ns not in (SVG_NS, None):
        raise ValueError(f"the image is not an SVG document (root element <{name}>)")
    out: list[str] = []
    _clean_svg_element(root, out, root=True)
    return "".join(out)
