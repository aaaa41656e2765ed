"""The calibration problem (items, families, groups, design matrix) and the EM state (the estimates)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

F64 = NDArray[np.float64]


@dataclass
class _Family:
    kind: str  # "1pl" | "2pl" | "3pl" | "grm" | "gpcm"
    items: NDArray[np.intp]  # free items of this family, same K
    K: int

    @property
    def p(self) -> int:
        return 3 if self.kind == "3pl" else self.K if self.kind in ("grm", "gpcm") else 2


@dataclass
class _State:
    a: F64
    d: F64
    c: F64
    mu: F64
    sd: F64

    def copy(self) -> _State:
        return _State(self.a.copy(), self.d.copy(), self.c.copy(), self.mu.copy(), self.sd.copy())


@dataclass
class _Problem:
    J: int
    K: NDArray[np.int64]
    Kmax: int
    model: tuple[str, ...]
    free: NDArray[np.bool_]
    families: list[_Family]
    common_a: bool  # free 1pl items share an estimated slope
    theta: F64
    G: int
    mu_free: NDArray[np.bool_]
    sd_free: NDArray[np.bool_]
    prior_c: tuple[float, float]
    # design
    Z: NDArray[Any]  # (n, C) float32/64
    w: F64  # (n,)
    gidx: NDArray[np.intp]  # (n,)
    ycol_item: NDArray[np.intp]
    ycol_cat: NDArray[np.intp]
    has_missing: bool
    dich: NDArray[np.bool_]
    grm: NDArray[np.bool_]
    gpcm: NDArray[np.bool_]
