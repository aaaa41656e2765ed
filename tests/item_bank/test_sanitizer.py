"""Text and SVG sanitisers: hostile markup removed, clean output unchanged (idempotent)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from item_bank.sanitizer import clean_html, clean_svg, parse_xml


def test_html_subset_kept_and_rest_stripped() -> None:
    assert clean_html("<b>粗</b><i>斜</i><code>x</code><br><sub>2</sub>") == (
        "<b>粗</b><i>斜</i><code>x</code><br><sub>2</sub>"
    )
    assert clean_html('<p onclick="x">a<script>bad()</script><style>p{}</style></p>') == "<p>a</p>"
    assert clean_html('<img src=x onerror=alert(1)>t<a href="javascript:x">l</a>') == "tl"
    assert clean_html('<td colspan="2" style="x">') == ""  # a stray cell outside a table
    assert clean_html('<table><tr><td colspan="2" style="c">1</td></tr></table>') == (
        '<table><tr><td colspan="2">1</td></tr></table>'
    )
    assert clean_html("a < b & {{img:map}}") == "a &lt; b &amp; {{img:map}}"


@settings(max_examples=150, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("<>/&\"' abpspanbrtdr=x{}:\u00a0中")), max_size=40))
def test_html_cleaning_is_idempotent(text) -> None:
    once = clean_html(text)
    assert clean_html(once) == once


HOSTILE_SVG = """<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink"
  onload="alert(1)" viewBox="0 0 10 10">
  <script>alert(1)</script>
  <foreignObject><iframe src="http://evil"/></foreignObject>
  <style>@import url(http://evil/x.css);</style>
  <image href="http://evil/track.png"/>
  <a href="javascript:alert(1)"><rect width="1" height="1"/></a>
  <rect width="5" height="5" fill="url(http://evil/#x)" style="fill:url(http://evil)" onclick="x"/>
  <use xlink:href="http://evil/s.svg#a"/><use xlink:href="#ok"/>
  <animate attributeName="href" to="javascript:alert(1)"/>
  <circle id="ok" cx="5" cy="5" r="2" fill="url(#grad)" style="stroke:red"/>
</svg>"""


def test_svg_hostile_content_removed() -> None:
    out = clean_svg(HOSTILE_SVG)
    for bad in ("script", "onload", "onclick", "foreignObject", "iframe", "style>", "@import",
                "image", "javascript", "evil", "animate", "<a "):
        assert bad not in out, bad
    assert '<use href="#ok"/>' in out
    assert 'fill="url(#grad)"' in out and 'style="stroke:red"' in out
    assert out.startswith('<svg xmlns="http://www.w3.org/2000/svg"')
    assert clean_svg(out) == out


@pytest.mark.parametrize(
    "svg, message",
    [
        ('<!DOCTYPE svg [<!ENTITY xxe SYSTEM "file:///etc/passwd">]><svg>&xxe;</svg>', "refused"),
        ('<!DOCTYPE svg SYSTEM "http://evil/x.dtd"><svg/>', "refused"),
        ("<svg><rect></svg>", "not well-formed"),
        ("<html/>", "not an SVG"),
        ("<svg>" + "x" * 300_000 + "</svg>", "larger than"),
    ],
)
def test_svg_refused(svg, message) -> None:
    with pytest.raises(ValueError, match=message):
        clean_svg(svg)


BILLION_LAUGHS = """<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
]>
<lolz>&lol3;</lolz>"""


def test_parse_xml_refuses_entity_bombs() -> None:
    with pytest.raises(ValueError, match="refused"):
        parse_xml(BILLION_LAUGHS)
