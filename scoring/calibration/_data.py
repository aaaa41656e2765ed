"""Checking and encoding the inputs of a calibration: responses, anchors (fixed items), the 3PL prior."""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from ..errors import ScoringInputError
from ..models import ItemParameters, parse_model_name

F64 = NDArray[np.float64]


def validate_responses(responses: ArrayLike, *, argument: str = "responses") -> F64:
    """Return ``responses`` as a float64 ``(N, J)`` array, checking values.

    Cells must be NaN (missing) or integer categories ``0..100``.

    Raises
    ------
    ScoringInputError
        Naming the first offending row and column.
    """
    X, _, _ = _response_codes(responses, argument=argument)
    return X


def _response_codes(responses: ArrayLike, *, argument: str = "responses") -> tuple[F64, NDArray[np.int8], NDArray[np.int64]]:
    """Validate and encode responses: (X float64, codes int8 with -1 = missing, counts (J, Kobs))."""
    try:
        X = np.asarray(responses, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ScoringInputError(f"{argument}: expected a numeric (persons x items) array; {exc}") from None
    if X.ndim != 2:
        raise ScoringInputError(f"{argument}: expected a 2-D (n_persons, n_items) array; found shape {X.shape}")
    if X.shape[0] < 1 or X.shape[1] < 1:
        raise ScoringInputError(f"{argument}: expected at least one person and one item; found shape {X.shape}")
    obs = ~np.isnan(X)
    Xw = np.where(obs, X, -1.0)
    bad = (Xw > 100) | ((Xw < 0) & obs) | np.isinf(Xw)
    if not bad.any():
        codes = Xw.astype(np.int8)
        bad = codes != Xw
    if bad.any():
        i, j = np.argwhere(bad)[0]
        raise ScoringInputError(
            f"{argument}: cells must be NaN (missing) or integer categories 0..100; "
            f"found {float(X[i, j]):g} at row {i}, column {j}"
        )
    kobs = max(int(codes.max()) + 1, 1)
    counts = np.stack([(codes == k).sum(axis=0) for k in range(kobs)], axis=1).astype(np.int64)
    return X, codes, counts


def _collapse(codes: NDArray[np.int8], gidx: NDArray[np.intp]) -> tuple[NDArray[np.intp], NDArray[np.intp], F64]:
    """Collapse identical (pattern, group) rows: returns (first index, inverse, counts)."""
    n = codes.shape[0]
    if n > 4000:
        # cheap probe: if a random sample of rows is almost all distinct, collapsing cannot pay
        probe = np.random.default_rng(0).choice(n, 2000, replace=False)
        sub = np.concatenate([codes[probe], gidx[probe, None].astype(codes.dtype)], axis=1)
        if np.unique(sub, axis=0).shape[0] > 0.9 * 2000:
            return np.arange(n), np.arange(n), np.ones(n)
    full = np.concatenate([codes.astype(np.int64), gidx[:, None].astype(np.int64)], axis=1)
    rng = np.random.default_rng(12345)
    h = (full * rng.integers(1, 2**62, size=full.shape[1], dtype=np.int64)).sum(axis=1)  # wraps: a hash
    _, first, inv, cnt = np.unique(h, return_index=True, return_inverse=True, return_counts=True)
    if len(first) > 0.7 * n:
        return np.arange(n), np.arange(n), np.ones(n)
    if not np.array_equal(full[first][inv], full):  # hash collision: exact but slower path
        _, first, inv, cnt = np.unique(full, axis=0, return_index=True, return_inverse=True, return_counts=True)
    return first, inv.ravel(), cnt.astype(np.float64)


def _parse_fixed(
    fixed: Mapping[Any, Any] | ItemParameters | None, names: tuple[str, ...], models: list[str]
) -> dict[int, dict[str, Any]]:
    out: dict[int, dict[str, Any]] = {}
    if fixed is None:
        return out
    if isinstance(fixed, ItemParameters):
        idx = {n: j for j, n in enumerate(names)}
        for jj, n in enumerate(fixed.item_names):
            if n in idx:
                dd = fixed.d[jj]
                out[idx[n]] = {"model": fixed.model[jj], "a": float(fixed.a[jj]), "d": dd[np.isfinite(dd)], "c": float(fixed.c[jj])}
        if not out:
            raise ScoringInputError(
                f"fixed: none of the item names {list(fixed.item_names)[:5]}... match the response items {list(names)[:5]}..."
            )
        return out
    if not isinstance(fixed, Mapping):
        raise ScoringInputError(f"fixed: expected a mapping item -> parameters or an ItemParameters; found {type(fixed).__name__}")
    for key, spec in fixed.items():
        if isinstance(key, str):
            if key not in names:
                raise ScoringInputError(f"fixed: item {key!r} is not one of the response items {list(names)}")
            j = names.index(key)
        else:
            j = int(key)
            if not 0 <= j < len(names):
                raise ScoringInputError(f"fixed: item index {key!r} out of range 0..{len(names) - 1}")
        if not isinstance(spec, Mapping) or "a" not in spec or "d" not in spec:
            raise ScoringInputError(f"fixed[{key!r}]: expected a mapping with keys 'a', 'd' (and optionally 'c', 'model'); found {spec!r}")
        try:
            out[j] = {
                "model": spec.get("model", models[j]),
                "a": float(spec["a"]),
                "d": np.atleast_1d(np.asarray(spec["d"], dtype=np.float64)),
                "c": float(spec.get("c", 0.0)),
            }
        except (TypeError, ValueError) as exc:
            raise ScoringInputError(f"fixed: item {names[j]!r}: expected numbers for 'a', 'd' and 'c'; {exc}") from None
    for j, spec in out.items():
        _check_fixed_values(names[j], spec)
    return out


def _check_fixed_values(name: str, spec: dict[str, Any]) -> None:
    """Reject anchor values no model can use before EM starts (EM would run to ``max_iter`` on them)."""
    m = parse_model_name(spec["model"], where=f"fixed: item {name!r}")
    a, d, c = spec["a"], spec["d"], spec["c"]

    def bad(par: str, expected: str, found: Any) -> ScoringInputError:
        return ScoringInputError(f"fixed: item {name!r} ({m}), parameter {par!r}: expected {expected}; found {found}")

    if not np.isfinite(a):
        raise bad("a", "a finite slope", a)
    if d.ndim != 1 or d.shape[0] < 1 or not np.all(np.isfinite(d)):
        raise bad("d", "finite intercept(s)", d.tolist())
    if m in ("1pl", "2pl", "3pl") and d.shape[0] != 1:
        raise bad("d", "one intercept for a dichotomous item", d.tolist())
    if m == "grm" and np.any(np.diff(d) >= 0):
        raise bad("d", "strictly decreasing GRM cumulative intercepts d1 > d2 > ...", d.tolist())
    if m == "3pl" and not (np.isfinite(c) and 0 <= c < 1):
        raise bad("c", "a lower asymptote in [0, 1)", c)
    if m != "3pl" and c != 0:
        raise bad("c", "0 (only 3pl items have a lower asymptote)", c)


def _check_prior_c(prior_c: Any) -> tuple[float, float]:
    """The Beta(alpha, beta) shapes of the 3PL lower-asymptote prior, both finite and >= 1."""
    try:
        shapes = tuple(float(v) for v in prior_c)
    except (TypeError, ValueError):
        shapes = ()
    if len(shapes) != 2 or not all(np.isfinite(shapes)) or min(shapes) < 1:
        raise ScoringInputError(
            "prior_c: expected the shapes (alpha, beta) of the Beta prior on the 3PL lower asymptotes, two finite "
            "numbers >= 1, e.g. (5, 17) (mode 0.2) or (1, 1) (flat); shapes below 1 put unbounded density at "
            f"c = 0 or c = 1, where no MAP estimate exists; found {prior_c!r}"
        )
    return shapes[0], shapes[1]


def _start_c(prior_c: tuple[float, float]) -> float:
    """Start value of a free lower asymptote: the prior's mode, else its mean, kept inside [0.05, 0.35].

    Not the mode alone: with a shape of 1 it is 0 or 1 (or undefined for the flat prior), where
    the log prior and its gradient are not finite and the M-step would never move c.
    """
    al, be = prior_c
    centre = (al - 1) / (al + be - 2) if al > 1 and be > 1 else al / (al + be)
    return float(min(max(centre, 0.05), 0.35))
