"""The reporting configuration: scale (500/100 on the base cohort), levels, dimension names, PV count.

Read from `instance/reporting.yaml` when present, else `CTCENSUS_REPORTING_CONFIG`, else the
packaged `assessment/reporting.yaml`. Every problem names the file and the field.
"""
from __future__ import annotations

import itertools
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from scoring import ReportingScale

from .errors import InvalidInput

__all__ = ["DEFAULT_CONFIG", "Level", "ReportingConfig", "load_reporting_config"]

DEFAULT_CONFIG = Path(__file__).with_name("reporting.yaml")
_NOT_REACHED = ("zero", "missing")


@dataclass(frozen=True)
class Level:
    """A proficiency level: ascii code (export columns), zh-TW/English labels and descriptions, lowest score."""

    code: str
    label: dict[str, str]
    describe: dict[str, str]
    min: float | None


@dataclass(frozen=True)
class ReportingConfig:
    """Everything results are reported with; stored with every scoring run."""

    mean: float
    sd: float
    base_year: int
    base_grade: int
    base_mean: float | None
    base_sd: float | None
    levels: tuple[Level, ...]
    dimensions: dict[str, dict[str, str]]
    plausible_values: int
    not_reached: str
    source: str

    @property
    def cuts(self) -> tuple[float, ...]:
        return tuple(float(lv.min) for lv in self.levels[1:] if lv.min is not None)

    @property
    def level_codes(self) -> tuple[str, ...]:
        return tuple(lv.code for lv in self.levels)

    def scale(self, base_mean: float, base_sd: float) -> ReportingScale:
        """The linear scale and cuts, given the base cohort's theta mean and SD."""
        return ReportingScale(mean=self.mean, sd=self.sd, base_mean=base_mean, base_sd=base_sd,
                              cuts=self.cuts, labels=self.level_codes)

    def to_dict(self) -> dict[str, Any]:
        return {
            "scale": {"mean": self.mean, "sd": self.sd, "base_year": self.base_year, "base_grade": self.base_grade,
                      "base_mean": self.base_mean, "base_sd": self.base_sd},
            "levels": [{"code": lv.code, "label": lv.label, "min": lv.min} for lv in self.levels],
            "plausible_values": self.plausible_values,
            "not_reached": self.not_reached,
            "source": self.source,
        }


def load_reporting_config(instance_path: Path | None = None) -> ReportingConfig:
    """The configuration in force: instance file, then CTCENSUS_REPORTING_CONFIG, then the packaged default."""
    candidates = []
    if instance_path is not None:
        candidates.append(Path(instance_path) / "reporting.yaml")
    if os.environ.get("CTCENSUS_REPORTING_CONFIG"):
        candidates.append(Path(os.environ["CTCENSUS_REPORTING_CONFIG"]))
    candidates.append(DEFAULT_CONFIG)
    path = next(p for p in candidates if p.is_file() or p == candidates[-1])
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise InvalidInput(f"{path}: cannot read the reporting configuration ({exc})") from None
    return parse_reporting_config(data, source=str(path))


def _number(where: str, value: Any, *, positive: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise InvalidInput(f"{where}: must be a number; found {value!r}")
    if positive and not value > 0:
        raise InvalidInput(f"{where}: must be positive; found {value!r}")
    return float(value)


def _texts(where: str, value: Any) -> dict[str, str]:
    if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()) or "zh-TW" not in value:
        raise InvalidInput(f"{where}: must map languages to text, with at least zh-TW; found {value!r}")
    return {str(k): v for k, v in value.items()}


def parse_reporting_config(data: Any, *, source: str = "<memory>") -> ReportingConfig:
    """Validate a parsed YAML mapping; InvalidInput names the file and field."""
    if not isinstance(data, dict):
        raise InvalidInput(f"{source}: must be a mapping with scale, levels and dimensions")
    scale = data.get("scale") or {}
    if not isinstance(scale, dict):
        raise InvalidInput(f"{source}: scale: must be a mapping")
    levels_in = data.get("levels")
    if not isinstance(levels_in, list) or len(levels_in) < 2:
        raise InvalidInput(f"{source}: levels: must list at least two levels, lowest first")
    levels = []
    for k, lv in enumerate(levels_in):
        where = f"{source}: levels[{k}]"
        if not isinstance(lv, dict) or not isinstance(lv.get("code"), str) or not lv["code"].isidentifier():
            raise InvalidInput(f"{where}.code: must be an ascii name such as 'basic'")
        low = None if k == 0 else _number(f"{where}.min", lv.get("min"))
        levels.append(Level(code=lv["code"], label=_texts(f"{where}.label", lv.get("label")),
                            describe=_texts(f"{where}.describe", lv.get("describe") or {"zh-TW": ""}), min=low))
    cuts = [lv.min for lv in levels[1:]]
    if any(b <= a for a, b in itertools.pairwise(cuts)):  # type: ignore[operator]
        raise InvalidInput(f"{source}: levels: each level's min must be above the previous one's; found {cuts}")
    if len({lv.code for lv in levels}) != len(levels):
        raise InvalidInput(f"{source}: levels: codes must be unique")
    dims = data.get("dimensions") or {}
    if not isinstance(dims, dict):
        raise InvalidInput(f"{source}: dimensions: must map D1..D4 to names")
    pvs = data.get("plausible_values", 5)
    if isinstance(pvs, bool) or not isinstance(pvs, int) or not 2 <= pvs <= 50:
        raise InvalidInput(f"{source}: plausible_values: must be a whole number 2-50; found {pvs!r}")
    not_reached = data.get("not_reached", "zero")
    if not_reached not in _NOT_REACHED:
        raise InvalidInput(f"{source}: not_reached: must be one of {_NOT_REACHED}; found {not_reached!r}")
    base_mean = scale.get("base_mean")
    base_sd = scale.get("base_sd")
    if (base_mean is None) != (base_sd is None):
        raise InvalidInput(f"{source}: scale: give base_mean and base_sd together, or neither")
    year = scale.get("base_year", 113)
    grade = scale.get("base_grade", 5)
    if isinstance(year, bool) or not isinstance(year, int) or isinstance(grade, bool) or grade not in (5, 8):
        raise InvalidInput(f"{source}: scale: base_year must be a whole number and base_grade 5 or 8")
    return ReportingConfig(
        mean=_number(f"{source}: scale.mean", scale.get("mean", 500)),
        sd=_number(f"{source}: scale.sd", scale.get("sd", 100), positive=True),
        base_year=year,
        base_grade=grade,
        base_mean=None if base_mean is None else _number(f"{source}: scale.base_mean", base_mean),
        base_sd=None if base_sd is None else _number(f"{source}: scale.base_sd", base_sd, positive=True),
        levels=tuple(levels),
        dimensions={str(k): _texts(f"{source}: dimensions.{k}", v) for k, v in dims.items()},
        plausible_values=pvs,
        not_reached=not_reached,
        source=source,
    )
