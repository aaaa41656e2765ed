"""The design file of `ctcensus simulate-design --design FILE.yaml` (format: docs/design-simulation.md).

`parse_design` reads the YAML into a `scoring.design.DesignSpec`; every error
names the file, the line and the field (`design.yaml, line 12: grades.8.sd:
expected a positive number; found 0`). `design_document` is the inverse (a
plain mapping in the same format): the job queue carries it, and a design made
from the item bank can be saved as a file to edit.
"""
from __future__ import annotations

import math
import re
from typing import Any

import numpy as np
import yaml

from scoring import ItemParameters, ScoringInputError
from scoring.design import DesignError, DesignForm, DesignSpec
from scoring.models import DICHOTOMOUS_MODELS, parse_model_name

from .errors import InvalidInput

__all__ = ["MAX_REPLICATIONS", "MAX_STUDENTS", "DesignFileError", "design_document", "design_from_document",
           "parse_design"]

MAX_REPLICATIONS = 1000
MAX_STUDENTS = 500_000  # per grade: a national census
_TOP = {"replications", "seed", "icc", "school_size_spread", "method", "grades", "anchors", "forms", "items",
        "description"}


class DesignFileError(InvalidInput):
    """A design file that cannot be used; the message names the file, line and field."""


Lines = dict[tuple[Any, ...], int]


def _plain(node: yaml.Node, path: tuple[Any, ...], lines: Lines, source: str) -> Any:
    """The node as plain Python, recording each value's line (1-based) by its path."""
    lines[path] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        out: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            key = _scalar(key_node)
            if key in out:
                raise DesignFileError(f"{source}, line {key_node.start_mark.line + 1}: {_dotted(path + (key,))}: "
                                      f"repeated key")
            out[key] = _plain(value_node, path + (key,), lines, source)
        return out
    if isinstance(node, yaml.SequenceNode):
        return [_plain(v, path + (k,), lines, source) for k, v in enumerate(node.value)]
    return _scalar(node)


_INT = re.compile(r"[-+]?[0-9]+\Z")
_FLOAT = re.compile(r"[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?\Z")


def _scalar(node: yaml.Node) -> Any:
    """A scalar as int, float, bool, None or str (YAML 1.2 core: no sexagesimals, no dates)."""
    if not isinstance(node, yaml.ScalarNode):
        return node
    text = str(node.value)
    if node.style:  # quoted: text
        return text
    if _INT.match(text):
        return int(text)
    if _FLOAT.match(text):
        return float(text)
    low = text.lower()
    if low in ("true", "false"):
        return low == "true"
    if low in ("", "~", "null"):
        return None
    return text


def _dotted(path: tuple[Any, ...]) -> str:
    return ".".join(str(p) for p in path) or "(top)"


class _Reader:
    """Typed access to the parsed document; errors carry the file, line and field."""

    def __init__(self, source: str, lines: Lines) -> None:
        self.source, self.lines = source, lines

    def fail(self, path: tuple[Any, ...], problem: str) -> DesignFileError:
        line = next((self.lines[path[:k]] for k in range(len(path), -1, -1) if path[:k] in self.lines), 1)
        return DesignFileError(f"{self.source}, line {line}: {_dotted(path)}: {problem}")

    def mapping(self, value: Any, path: tuple[Any, ...]) -> dict[Any, Any]:
        if not isinstance(value, dict):
            raise self.fail(path, f"expected a mapping (key: value lines); found {_shown(value)}")
        return value

    def sequence(self, value: Any, path: tuple[Any, ...]) -> list[Any]:
        if not isinstance(value, list) or not value:
            raise self.fail(path, f"expected a non-empty list; found {_shown(value)}")
        return value

    def integer(self, value: Any, path: tuple[Any, ...], low: int, high: int) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise self.fail(path, f"expected a whole number from {low} to {high}; found {_shown(value)}")
        return value

    def number(self, value: Any, path: tuple[Any, ...], low: float = -math.inf, high: float = math.inf,
               *, open_high: bool = False) -> float:
        ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
        if not ok or not low <= value <= high or (open_high and value >= high):
            bound = f" in [{low:g}, {high:g}{')' if open_high else ']'}" if math.isfinite(high) else \
                (f" >= {low:g}" if math.isfinite(low) else "")
            raise self.fail(path, f"expected a number{bound}; found {_shown(value)}")
        return float(value)

    def text(self, value: Any, path: tuple[Any, ...]) -> str:
        if isinstance(value, bool) or value is None or isinstance(value, (dict, list)):
            raise self.fail(path, f"expected an id or name; found {_shown(value)}")
        return str(value)


def _shown(value: Any) -> str:
    if value is None:
        return "nothing"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    return repr(value)


def parse_design(text: str, source: str) -> DesignSpec:
    """The design of a YAML document; `source` (the file name) prefixes every error."""
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f", line {mark.line + 1}" if mark is not None else ""
        raise DesignFileError(f"{source}{line}: not valid YAML ({getattr(exc, 'problem', None) or exc})") from None
    lines: Lines = {}
    if node is None:
        raise DesignFileError(f"{source}, line 1: (top): the file is empty; see docs/design-simulation.md")
    data = _plain(node, (), lines, source)
    return design_from_document(data, source, lines)


def design_from_document(data: Any, source: str, lines: Lines | None = None) -> DesignSpec:
    """The design of an already parsed document (the YAML mapping, or `design_document`'s output)."""
    r = _Reader(source, lines or {})
    doc = r.mapping(data, ())
    unknown = sorted(str(k) for k in doc if k not in _TOP)
    if unknown:
        raise r.fail((unknown[0],), f"unknown key; expected one of {', '.join(sorted(_TOP))}")
    for key in ("grades", "anchors", "forms", "items"):
        if key not in doc:
            raise r.fail((key,), "missing; every design file needs grades, anchors, forms and items")
    params = _items(r, r.sequence(doc["items"], ("items",)))
    grades = r.mapping(doc["grades"], ("grades",))
    n, schools, means, sds = {}, {}, {}, {}
    for g, spec in grades.items():
        path = ("grades", g)
        grade = r.integer(int(g) if isinstance(g, str) and g.isdigit() else g, path, 1, 12)
        spec = r.mapping(spec, path)
        extra = sorted(str(k) for k in spec if k not in ("students", "schools", "mean", "sd"))
        if extra:
            raise r.fail(path + (extra[0],), "unknown key; expected students, schools, mean, sd")
        for key in ("students", "schools"):
            if key not in spec:
                raise r.fail(path + (key,), "missing")
        n[grade] = r.integer(spec["students"], path + ("students",), 2, MAX_STUDENTS)
        schools[grade] = r.integer(spec["schools"], path + ("schools",), 1, n[grade])
        means[grade] = r.number(spec.get("mean", 0.0), path + ("mean",), -10, 10)
        sds[grade] = r.number(spec.get("sd", 1.0), path + ("sd",), 0.01, 10)
    forms = []
    for k, f in enumerate(r.sequence(doc["forms"], ("forms",))):
        path = ("forms", k)
        f = r.mapping(f, path)
        for key in ("name", "grade", "items"):
            if key not in f:
                raise r.fail(path + (key,), "missing; a form needs name, grade and items")
        grade = r.integer(f["grade"], path + ("grade",), 1, 12)
        if grade not in n:
            raise r.fail(path + ("grade",), f"grade {grade} is not under grades:; add it there with its students "
                                            f"and schools")
        items = tuple(r.text(i, path + ("items", m)) for m, i in enumerate(r.sequence(f["items"], path + ("items",))))
        forms.append(DesignForm(r.text(f["name"], path + ("name",)), grade, items))
    anchors = doc["anchors"] if doc["anchors"] is not None else []
    if not isinstance(anchors, list):
        raise r.fail(("anchors",), f"expected a list of item ids; found {_shown(anchors)}")
    method = doc.get("method", "wle")
    if method not in ("wle", "eap"):
        raise r.fail(("method",), f"expected wle or eap; found {_shown(method)}")
    try:
        return DesignSpec(
            forms=tuple(forms), anchors=tuple(r.text(a, ("anchors", k)) for k, a in enumerate(anchors)),
            params=params, n_per_grade=n, schools=schools,
            icc=r.number(doc.get("icc", 0.15), ("icc",), 0.0, 1.0, open_high=True),
            grade_means=means, grade_sds=sds,
            replications=r.integer(doc.get("replications", 20), ("replications",), 2, MAX_REPLICATIONS),
            seed=r.integer(doc.get("seed", 1), ("seed",), 0, 2**32 - 1),
            school_size_spread=r.number(doc.get("school_size_spread", 0.5), ("school_size_spread",), 0.0, 1.0,
                                        open_high=True),
            method=method)
    except DesignError as exc:  # cross-field checks (forms, anchors, items): point at the field they name
        raise _located(r, str(exc), params) from None


def _located(r: _Reader, message: str, params: ItemParameters) -> DesignFileError:
    """A DesignSpec error with the file line of the field it names."""
    head = message.split(":", 1)[0]
    form = re.match(r"forms\[(\d+)\]", head)
    if form:
        return r.fail(("forms", int(form.group(1))), message.split(":", 1)[1].strip())
    if head == "params":
        quoted = re.search(r"'([^']+)'", message)
        ids = list(params.item_names)
        path: tuple[Any, ...] = ("items", ids.index(quoted.group(1))) if quoted and quoted.group(1) in ids \
            else ("items",)
        return r.fail(path, message.split(":", 1)[1].strip())
    return r.fail((head,), message.split(":", 1)[1].strip() if ":" in message else message)


def _items(r: _Reader, rows: list[Any]) -> ItemParameters:
    """True parameters from `items:` rows: id, model, a, b (a list for polytomous items) or d, c for 3pl."""
    ids, models, a_s, d_s, c_s = [], [], [], [], []
    for k, row in enumerate(rows):
        path = ("items", k)
        row = r.mapping(row, path)
        extra = sorted(str(x) for x in row if x not in ("id", "model", "a", "b", "d", "c"))
        if extra:
            raise r.fail(path + (extra[0],), "unknown key; expected id, model, a, b (or d), c")
        for key in ("id", "a"):
            if key not in row:
                raise r.fail(path + (key,), "missing; every item needs an id and a slope a")
        ids.append(r.text(row["id"], path + ("id",)))
        try:
            model = parse_model_name(row.get("model", "2pl"), where="model")
        except ScoringInputError as exc:
            raise r.fail(path + ("model",), str(exc).split(": ", 1)[1]) from None
        models.append(model)
        a = r.number(row["a"], path + ("a",), 0.01, 20)
        if ("b" in row) == ("d" in row):
            raise r.fail(path + ("b",), "give either b (difficulty / thresholds) or d (intercepts), not both")
        key = "b" if "b" in row else "d"
        raw = row[key]
        values = raw if isinstance(raw, list) else [raw]
        steps = [r.number(v, path + (key,) + ((m,) if isinstance(raw, list) else ()), -20, 20)
                 for m, v in enumerate(values)]
        if model in DICHOTOMOUS_MODELS and len(steps) != 1:
            raise r.fail(path + (key,), f"a {model} item has one {key}; found {len(steps)} values")
        ordered = np.all(np.diff(steps) > 0) if key == "b" else np.all(np.diff(steps) < 0)
        if model == "grm" and not ordered:
            raise r.fail(path + (key,), f"graded (grm) {key} values must be {'increasing' if key == 'b' else 'decreasing'}")
        d_s.append([-a * s for s in steps] if key == "b" else steps)
        a_s.append(a)
        c_s.append(r.number(row.get("c", 0.0), path + ("c",), 0.0, 0.5) if model == "3pl" else 0.0)
        if "c" in row and model != "3pl":
            raise r.fail(path + ("c",), f"only 3pl items have a lower asymptote c; this item is {model}")
    if len(set(ids)) != len(ids):
        k = next(k for k, i in enumerate(ids) if ids.index(i) != k)
        raise r.fail(("items", k, "id"), f"item {ids[k]!r} is listed twice")
    width = max(len(d) for d in d_s)
    d = np.full((len(d_s), width), np.nan)
    for j, row_d in enumerate(d_s):
        d[j, : len(row_d)] = row_d
    try:
        return ItemParameters(tuple(models), np.array(a_s), d, np.array(c_s), item_names=tuple(ids))
    except ScoringInputError as exc:
        raise r.fail(("items",), str(exc)) from None


def design_document(spec: DesignSpec) -> dict[str, Any]:
    """The design as a plain mapping in the file format (JSON- and YAML-safe), (a, b) for items."""
    p = spec.params
    items = []
    for j, item in enumerate(p.item_names):
        b = [round(float(x), 6) for x in p.b[j] if np.isfinite(x)]
        row: dict[str, Any] = {"id": item, "model": p.model[j], "a": round(float(p.a[j]), 6),
                               "b": b[0] if p.model[j] in DICHOTOMOUS_MODELS else b}
        if p.model[j] == "3pl":
            row["c"] = round(float(p.c[j]), 6)
        items.append(row)
    return {
        "replications": spec.replications, "seed": spec.seed, "icc": spec.icc,
        "school_size_spread": spec.school_size_spread, "method": spec.method,
        "grades": {g: {"students": int(spec.n_per_grade[g]), "schools": int(spec.schools[g]),
                       "mean": float(spec.grade_means.get(g, 0.0)), "sd": float(spec.grade_sds.get(g, 1.0))}
                   for g in spec.grades},
        "anchors": list(spec.anchors),
        "forms": [{"name": f.name, "grade": f.grade, "items": list(f.items)} for f in spec.forms],
        "items": items,
    }
