"""An item drawn on a results page as students saw it (read-only): stem, images, options, lists or grid.

`item_preview` works from `Item.student_view` (never the key); `item_key` and
`item_rationale` draw the key and its rationale for the staff the item pages show
them to (assessment.item_pages.KEY_ROLES), never for a student. Item texts are HTML sanitised at import
(item_bank.sanitizer); {{img:NAME}} placeholders become <img> elements with the item's SVG as a
data URI, which a browser renders without running anything inside it.
"""
from __future__ import annotations

import base64
import re
from typing import Any

from markupsafe import Markup, escape

from item_bank import Item

from .i18n import gettext as _

__all__ = ["item_key", "item_preview", "item_rationale"]

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


def _option_list(tag: str, texts: list[Markup]) -> Markup:
    return Markup("<{0} class=\"item-list\">{1}</{0}>").format(
        Markup(tag), Markup("").join(Markup("<li>{}</li>").format(t) for t in texts))


def item_key(item: Item, lang: str) -> Markup:
    """The answer key in `lang`, lettered as `item_preview` letters the options (staff only)."""
    images = dict(item.images)
    text = {o.id: _rich(o.text.get(lang), images) for o in (*item.options, *item.left, *item.right)}
    letter = {o.id: _LETTERS[k] for k, o in enumerate(item.options)}
    if item.type == "single_choice" and isinstance(item.key, str):
        return Markup("<b>{}.</b> {}").format(letter.get(item.key, "?"), text.get(item.key, ""))
    if item.type == "multiple_response":
        return _option_list("ul", [Markup("<b>{}.</b> {}").format(letter.get(k, "?"), text.get(k, ""))
                                   for k in item.key_ids])
    if item.type == "ordering":
        return _option_list("ol", [text.get(k, Markup("")) for k in item.key_ids])
    if item.type == "matching":
        return _option_list("ul", [Markup("{} → {}").format(text.get(left, ""), text.get(right, ""))
                                   for left, right in item.key_pairs])
    if item.type == "short_answer" and item.answer is not None:
        if item.answer.kind == "numeric":
            return Markup("{} (± {})").format(item.answer.value, item.answer.tolerance)
        return Markup(" / ").join(Markup("<code>{}</code>").format(a) for a in item.answer.accepted)
    if item.type == "grid_path" and item.grid is not None:
        path = item.grid.shortest_path()
        return Markup(_("items.key.path")).format(path=Markup("<code>{}</code>").format(path or "—"),
                                                  n=item.grid.shortest_path_length or 0)
    return Markup("")


def item_rationale(item: Item, lang: str) -> Markup:
    """Why the key is right, in `lang` (staff only); empty when the item has none."""
    if item.rationale is None:
        return Markup("")
    return _rich(item.rationale.get(lang), dict(item.images))
