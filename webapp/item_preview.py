"""An item drawn on a results page as students saw it (read-only): stem, images, options, lists or grid.

Works from `Item.student_view` (never the key). Item texts are HTML sanitised at import
(item_bank.sanitizer); {{img:NAME}} placeholders become <img> elements with the item's SVG as a
data URI, which a browser renders without running anything inside it.
"""
from __future__ import annotations

import base64
import re
from typing import Any

from markupsafe import Markup, escape

from .i18n import gettext as _

__all__ = ["item_preview"]

_IMAGE_REF = re.compile(r"\{\{img:([A-Za-z0-9_-]{1,64})\}\}")
_LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"


def _rich(html: str | None, images: dict[str, str]) -> Markup:
    """Sanitised item HTML with its image placeholders replaced (unknown names are dropped)."""

    def image(match: re.Match[str]) -> str:
        svg = images.get(match.group(1), "")
        if not svg.strip().startswith("<"):
            return ""
        data = base64.b64encode(svg.encode("utf-8")).decode("ascii")
        return f'<img class="item-img" alt="" src="data:image/svg+xml;base64,{data}">'

    return Markup(_IMAGE_REF.sub(image, html or ""))  # sanitised at import; images become data URIs


def _list(tag: str, entries: list[dict[str, Any]], images: dict[str, str], *, letters: bool = False) -> Markup:
    items = Markup("").join(
        Markup("<li>{}{}</li>").format(Markup("<b>{}.</b> ").format(_LETTERS[k]) if letters else "",
                                       _rich(e.get("text"), images))
        for k, e in enumerate(entries))
    return Markup("<{0} class=\"item-list\">{1}</{0}>").format(Markup(tag), items)


def item_preview(view: dict[str, Any] | None) -> Markup:
    """The item's student view as read-only HTML; empty for an item not shown (a secure anchor)."""
    if not view:
        return Markup("")
    images = dict(view.get("images") or {})
    parts = [Markup('<div class="stem">{}</div>').format(_rich(view.get("stem"), images))]
    kind = view.get("type")
    if kind in ("single_choice", "multiple_response"):
        parts.append(_list("ol", view.get("options", []), images, letters=True))
    elif kind == "ordering":
        parts.append(Markup("<p class=\"muted\">{}</p>").format(_("results.item.order")))
        parts.append(_list("ul", view.get("options", []), images))
    elif kind == "matching":
        parts.append(Markup('<div class="item-matching">{}{}</div>').format(
            _list("ol", view.get("left", []), images), _list("ul", view.get("right", []), images)))
    elif kind == "short_answer":
        parts.append(Markup("<p class=\"muted\">{}</p>").format(_("results.item.short_answer")))
    elif kind == "grid_path" and view.get("grid"):
        rows = Markup("").join(
            Markup("<tr>{}</tr>").format(Markup("").join(Markup("<td>{}</td>").format(escape(c)) for c in row))
            for row in view["grid"]["map"])
        parts.append(Markup('<table class="item-grid" aria-label="{}"><tbody>{}</tbody></table>').format(
            _("results.item.grid"), rows))
    return Markup('<div class="item-preview-body" lang="{}">{}</div>').format(view.get("lang", "zh-TW"),
                                                                                Markup("").join(parts))
