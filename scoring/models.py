"""Unidimensional IRT item response models in slope/intercept form.

All models are parameterised as in R mirt (Chalmers, 2012) with the latent
trait ``theta`` on the logit metric (no 1.702 scaling constant):

``1pl`` / ``2pl`` / ``3pl`` (dichotomous, categories 0/1)
    ``P(X=1 | theta) = c + (1 - c) / (1 + exp(-(a * theta + d)))``.
    ``c = 0`` unless the model is ``3pl``. The intercept is ``d[:, 0]``.
    ``1pl`` items share one common slope in calibration; the item-level
    formula is the 2PL one.

``grm`` (Samejima's graded response model, mirt ``itemtype="graded"``)
    Categories ``0..K-1``; ``P(X >= k | theta) = logistic(a * theta + d_k)``
    for ``k = 1..K-1`` with ``d_1 > d_2 > ... > d_{K-1}``;
    ``P(X = k) = P(X >= k) - P(X >= k + 1)``.

``gpcm`` (Muraki's generalized partial credit model)
    Categories ``0..K-1`` scored ``0..K-1``;
    ``P(X = k | theta) ∝ exp(a * k * theta + sum_{m=1..k} d_m)``
    (the empty sum for ``k = 0`` is 0). ``d_1..d_{K-1}`` are the *step*
    intercepts. R mirt's ``gpcm`` reports *cumulative* intercepts
    ``d0 = 0, d1, ..., d(K-1)``; ours are their first differences
    (``d_step_k = d_mirt_k - d_mirt_{k-1}``), so that the IRT thresholds
    (mirt's ``coef(IRTpars=TRUE)`` ``b1..b(K-1)``) are ``b_k = -d_k / a``
    exactly as for the GRM. With ``K = 2`` the GPCM equals the 2PL.

Parameter arrays are stored in :class:`ItemParameters`: ``a`` is ``(J,)``,
``d`` is ``(J, Kmax - 1)`` padded with NaN beyond each item's last
category (dichotomous items use column 0 only) and ``c`` is ``(J,)``.

References
----------
Chalmers, R. P. (2012). mirt: A multidimensional item response theory package
for the R environment. *Journal of Statistical Software*, 48(6), 1-29.
Samejima, F. (1969). Estimation of latent ability using a response pattern of
graded scores. *Psychometrika Monograph Supplement*, 17.
Muraki, E. (1992). A generalized partial credit model: Application of an EM
algorithm. *Applied Psychological Measurement*, 16(2), 159-176.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Literal, cast

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.special import expit, log_expit

from .errors import ScoringInputError

__all__ = [
    "DICHOTOMOUS_MODELS",
    "MODEL_ALIASES",
    "MODEL_NAMES",
    "POLYTOMOUS_MODELS",
    "ItemParameters",
    "ModelName",
    "category_probabilities",
    "expected_score",
    "from_irt_parameters",
    "item_information",
    "log_category_probabilities",
    "normalize_model_names",
    "parse_model_name",
    "test_information",
    "to_irt_parameters",
]

ModelName = Literal["1pl", "2pl", "3pl", "grm", "gpcm"]
MODEL_NAMES: tuple[str, ...] = ("1pl", "2pl", "3pl", "grm", "gpcm")
DICHOTOMOUS_MODELS: frozenset[str] = frozenset({"1pl", "2pl", "3pl"})
POLYTOMOUS_MODELS: frozenset[str] = frozenset({"grm", "gpcm"})
#: Other names accepted for a model (case-insensitive): mirt's ``"Rasch"`` and ``"graded"``.
MODEL_ALIASES: Mapping[str, str] = MappingProxyType({"rasch": "1pl", "graded": "grm"})


def parse_model_name(name: object, *, where: str) -> str:
    """The canonical name (one of MODEL_NAMES) of a model name, case-insensitive, aliases resolved.

    The one model-name parser of the package (calibration, item parameters, CSV
    files); `where` names the argument, item or file line in the error message.
    """
    if not isinstance(name, str):
        raise ScoringInputError(f"{where}: expected a model name; found {name!r}")
    low = name.strip().lower()
    canon = MODEL_ALIASES.get(low, low)
    if canon not in MODEL_NAMES:
        raise ScoringInputError(f"{where}: expected one of {', '.join(MODEL_NAMES)} (or 'rasch', 'graded'); "
                                f"found {name!r}")
    return canon


def normalize_model_names(model: str | Sequence[str], n_items: int, *, argument: str = "model") -> tuple[str, ...]:
    """Return one canonical model name per item.

    Parameters
    ----------
    model : str or sequence of str
        A single name applied to every item, or one name per item. ``"rasch"``
        is accepted as an alias of ``"1pl"`` and ``"graded"`` of ``"grm"``.
    n_items : int
        Number of items ``J``.
    argument : str
        Argument name used in error messages.

    Returns
    -------
    tuple of str, length ``J``
    """
    if isinstance(model, str):
        names = [model] * n_items
    else:
        names = list(model)
        if len(names) != n_items:
            raise ScoringInputError(
                f"{argument}: expected one model name per item ({n_items} items); found {len(names)} names"
            )
    return tuple(parse_model_name(m, where=f"{argument}[{j}]") for j, m in enumerate(names))


def _readonly(x: NDArray[np.float64]) -> NDArray[np.float64]:
    x = np.array(x, dtype=np.float64, copy=True)
    x.setflags(write=False)
    return x


@dataclass(frozen=True, eq=False)
class ItemParameters:
    """Item parameters of a (possibly mixed-model) test in slope/intercept form.

    Parameters
    ----------
    model : tuple of str, length ``J``
        Per-item model name: ``"1pl"``, ``"2pl"``, ``"3pl"``, ``"grm"`` or
        ``"gpcm"`` (``"rasch"`` is normalised to ``"1pl"``). A single string
        is broadcast to all items.
    a : ndarray, shape ``(J,)``
        Slopes (discriminations).
    d : ndarray, shape ``(J, Kmax - 1)``
        Intercepts, NaN-padded beyond each item's last category. Dichotomous
        items use column 0. GRM: cumulative-logit intercepts, strictly
        decreasing. GPCM: step intercepts (see module docstring). A 1-D array
        of length ``J`` is accepted for an all-dichotomous test.
    c : ndarray, shape ``(J,)``, optional
        Lower asymptotes in ``[0, 1)``; must be 0 unless the item is 3PL.
        Defaults to zeros.
    item_names : tuple of str, length ``J``, optional
        Defaults to ``("item1", ..., "itemJ")``.

    Raises
    ------
    ScoringInputError
        If shapes disagree, values are not finite, or the padding of ``d``
        does not match the model.
    """

    model: tuple[str, ...]
    a: NDArray[np.float64]
    d: NDArray[np.float64]
    c: NDArray[np.float64] = None  # type: ignore[assignment]
    item_names: tuple[str, ...] = None  # type: ignore[assignment]

    def __post_init__(self) -> None:
        a = np.asarray(self.a, dtype=np.float64)
        if a.ndim != 1:
            raise ScoringInputError(f"ItemParameters: argument 'a' must be 1-D of shape (J,); found shape {a.shape}")
        J = a.shape[0]
        if J == 0:
            raise ScoringInputError("ItemParameters: argument 'a' must hold at least one item; found 0 items")
        model = normalize_model_names(self.model, J, argument="ItemParameters: argument 'model'")
        d = np.asarray(self.d, dtype=np.float64)
        if d.ndim == 1:
            d = d[:, None]
        if d.ndim != 2 or d.shape[0] != J or d.shape[1] < 1:
            raise ScoringInputError(
                f"ItemParameters: argument 'd' must have shape (J, K-1) with J = len(a) = {J}; "
                f"found shape {np.shape(self.d)}"
            )
        # trim d to the columns some item actually uses (NaN padding only)
        used = np.isfinite(d).sum(axis=1)
        d = d[:, : max(1, int(used.max()))] if d.shape[1] > 1 else d
        if self.c is None:
            c = np.zeros(J)
        else:
            c = np.asarray(self.c, dtype=np.float64)
            if c.shape != (J,):
                raise ScoringInputError(
                    f"ItemParameters: argument 'c' must have shape (J,) = ({J},); found shape {c.shape}"
                )
        if self.item_names is None:
            names = tuple(f"item{j + 1}" for j in range(J))
        else:
            names = tuple(str(n) for n in self.item_names)
            if len(names) != J:
                raise ScoringInputError(
                    f"ItemParameters: argument 'item_names' must have {J} entries (one per item); found {len(names)}"
                )
        if not np.all(np.isfinite(a)):
            bad = int(np.flatnonzero(~np.isfinite(a))[0])
            raise ScoringInputError(f"ItemParameters: argument 'a' must be finite; found {a[bad]} for item {names[bad]!r}")
        if not np.all(np.isfinite(c)) or np.any(c < 0) or np.any(c >= 1):
            bad = int(np.flatnonzero(~(np.isfinite(c) & (c >= 0) & (c < 1)))[0])
            raise ScoringInputError(
                f"ItemParameters: argument 'c' must lie in [0, 1); found {c[bad]} for item {names[bad]!r}"
            )
        for j, m in enumerate(model):
            row = d[j]
            finite = np.isfinite(row)
            if m in DICHOTOMOUS_MODELS:
                if not finite[0] or np.any(~np.isnan(row[1:])):
                    raise ScoringInputError(
                        f"ItemParameters: argument 'd' row {j} (item {names[j]!r}, model {m}) must hold one finite "
                        f"intercept in column 0 and NaN elsewhere; found {row.tolist()}"
                    )
                if m != "3pl" and c[j] != 0:
                    raise ScoringInputError(
                        f"ItemParameters: argument 'c' must be 0 for non-3pl item {names[j]!r} (model {m}); found {c[j]}"
                    )
            else:
                k = int(finite.sum())
                if k < 1 or not np.all(finite[:k]) or np.any(~np.isnan(row[k:])):
                    raise ScoringInputError(
                        f"ItemParameters: argument 'd' row {j} (item {names[j]!r}, model {m}) must hold K-1 >= 1 finite "
                        f"intercepts followed by NaN padding; found {row.tolist()}"
                    )
                if c[j] != 0:
                    raise ScoringInputError(
                        f"ItemParameters: argument 'c' must be 0 for polytomous item {names[j]!r}; found {c[j]}"
                    )
                if m == "grm" and k > 1 and np.any(np.diff(row[:k]) >= 0):
                    raise ScoringInputError(
                        f"ItemParameters: argument 'd' row {j} (GRM item {names[j]!r}) must be strictly decreasing; "
                        f"found {row[:k].tolist()}"
                    )
        object.__setattr__(self, "model", model)
        object.__setattr__(self, "a", _readonly(a))
        object.__setattr__(self, "d", _readonly(d))
        object.__setattr__(self, "c", _readonly(c))
        object.__setattr__(self, "item_names", names)

    @property
    def n_items(self) -> int:
        """Number of items ``J``."""
        return int(self.a.shape[0])

    @property
    def n_categories(self) -> NDArray[np.int64]:
        """Number of response categories per item, shape ``(J,)`` (2 for dichotomous items)."""
        k = 1 + np.isfinite(self.d).sum(axis=1)
        dich = np.array([m in DICHOTOMOUS_MODELS for m in self.model])
        return np.where(dich, 2, k).astype(np.int64)

    @property
    def max_categories(self) -> int:
        """``Kmax``, the largest number of categories of any item."""
        return int(self.n_categories.max())

    @property
    def b(self) -> NDArray[np.float64]:
        """IRT difficulties/thresholds ``-d / a``, shape ``(J, Kmax - 1)`` (NaN-padded)."""
        return -self.d / self.a[:, None]

    def take(self, items: ArrayLike) -> ItemParameters:
        """Return the parameters of a subset of items (indices or boolean mask)."""
        idx = np.arange(self.n_items)[np.asarray(items)]
        idx = np.atleast_1d(idx)
        sub_d = self.d[idx]
        keep = max(1, int(np.isfinite(sub_d).sum(axis=1).max()))
        return ItemParameters(
            model=tuple(self.model[i] for i in idx),
            a=self.a[idx],
            d=sub_d[:, :keep],
            c=self.c[idx],
            item_names=tuple(self.item_names[i] for i in idx),
        )

    def __repr__(self) -> str:
        return f"ItemParameters(n_items={self.n_items}, models={sorted(set(self.model))})"


def _theta_1d(theta: ArrayLike) -> NDArray[np.float64]:
    t = np.asarray(theta, dtype=np.float64)
    if t.ndim > 1:
        raise ScoringInputError(f"theta: expected a scalar or 1-D array of abilities; found shape {t.shape}")
    return np.atleast_1d(t)


def _model_masks(params: ItemParameters) -> tuple[NDArray[np.bool_], NDArray[np.bool_], NDArray[np.bool_]]:
    m = np.array(params.model)
    dich = np.isin(m, ["1pl", "2pl", "3pl"])
    return dich, m == "grm", m == "gpcm"


def _log_probs_arrays(
    t: NDArray[np.float64],
    a: NDArray[np.float64],
    d: NDArray[np.float64],
    c: NDArray[np.float64],
    dich: NDArray[np.bool_],
    grm: NDArray[np.bool_],
    gpcm: NDArray[np.bool_],
    K: int,
) -> NDArray[np.float64]:
    """Unvalidated core of :func:`log_category_probabilities` (used inside EM loops)."""
    n, J = t.shape[0], a.shape[0]
    out = np.full((n, J, K), -np.inf)
    if dich.any():
        z = t[:, None] * a[dich] + d[dich, 0]
        cj = c[dich]
        # log P1 = log(c + (1-c) L); log P0 = log(1-c) + log(1 - L)
        with np.errstate(divide="ignore"):
            log1mc = np.log1p(-cj)
            logc = np.log(cj)
        if np.all(cj == 0):
            out[:, dich, 1] = log_expit(z)
            out[:, dich, 0] = log_expit(-z)
        else:
            out[:, dich, 1] = np.logaddexp(logc, log1mc + log_expit(z))
            out[:, dich, 0] = log1mc + log_expit(-z)
    if grm.any():
        dg = d[grm]
        kk = int(np.isfinite(dg).sum(axis=1).max())
        dg = dg[:, :kk]
        z = t[:, None, None] * a[grm][None, :, None] + dg[None, :, :]
        nan = np.isnan(z)
        zz = np.where(nan, 0.0, z)
        pstar = np.where(nan, 0.0, expit(zz))
        qstar = np.where(nan, 1.0, expit(-zz))
        ones = np.ones((n, dg.shape[0], 1))
        zeros = np.zeros((n, dg.shape[0], 1))
        cum = np.concatenate([ones, pstar, zeros], axis=2)
        cumq = np.concatenate([zeros, qstar, ones], axis=2)
        # P(X=k) = P*(k) - P*(k+1), computed from the upper tail when P* > 1/2 for precision
        p_lo = cum[:, :, :-1] - cum[:, :, 1:]
        p_hi = cumq[:, :, 1:] - cumq[:, :, :-1]
        p = np.where(cum[:, :, :-1] > 0.5, p_hi, p_lo)
        with np.errstate(divide="ignore"):
            lp = np.log(np.clip(p, 0.0, None))
        valid = np.arange(kk + 1)[None, :] < (1 + np.isfinite(dg).sum(axis=1))[:, None]
        out[:, grm, : kk + 1] = np.where(valid[None], lp, -np.inf)
    if gpcm.any():
        dg = d[gpcm]
        kk = int(np.isfinite(dg).sum(axis=1).max())
        dg = dg[:, :kk]
        cs = np.concatenate([np.zeros((dg.shape[0], 1)), np.cumsum(np.nan_to_num(dg), axis=1)], axis=1)
        valid = np.concatenate([np.ones((dg.shape[0], 1), bool), np.isfinite(dg)], axis=1)
        k = np.arange(kk + 1, dtype=np.float64)
        z = t[:, None, None] * (a[gpcm][:, None] * k[None, :])[None] + cs[None]
        z = np.where(valid[None], z, -np.inf)
        zmax = z.max(axis=2, keepdims=True)
        lse = zmax + np.log(np.exp(z - zmax).sum(axis=2, keepdims=True))
        out[:, gpcm, : kk + 1] = z - lse
    return out


def log_category_probabilities(theta: ArrayLike, params: ItemParameters) -> NDArray[np.float64]:
    """Natural log of the category probabilities, computed stably.

    Parameters
    ----------
    theta : array_like, shape ``(n,)``
    params : ItemParameters

    Returns
    -------
    ndarray, shape ``(n, J, Kmax)``
        ``log P(X_j = k | theta_i)``; ``-inf`` for padded categories.
    """
    t = _theta_1d(theta)
    dich, grm, gpcm = _model_masks(params)
    return _log_probs_arrays(t, params.a, params.d, params.c, dich, grm, gpcm, params.max_categories)


def category_probabilities(theta: ArrayLike, params: ItemParameters) -> NDArray[np.float64]:
    """Category response probabilities.

    Parameters
    ----------
    theta : array_like, shape ``(n,)``
        Abilities (a scalar is treated as ``n = 1``).
    params : ItemParameters

    Returns
    -------
    ndarray, shape ``(n, J, Kmax)``
        ``P(X_j = k | theta_i)``. Each item's valid categories sum to 1;
        padded categories (``k >= K_j``) are 0.
    """
    return np.exp(log_category_probabilities(theta, params))


def expected_score(theta: ArrayLike, params: ItemParameters) -> NDArray[np.float64]:
    """Expected item score ``E[X_j | theta] = sum_k k P_jk(theta)``.

    Returns
    -------
    ndarray, shape ``(n, J)``
    """
    p = category_probabilities(theta, params)
    return cast(NDArray[np.float64], p @ np.arange(p.shape[2], dtype=np.float64))


def item_information(theta: ArrayLike, params: ItemParameters) -> NDArray[np.float64]:
    """Fisher item information ``I_j(theta) = sum_k (dP_jk/dtheta)^2 / P_jk``.

    Closed forms: 3PL ``a^2 (1-c) L^2 (1-L) / P`` with ``L`` the logistic part
    (``a^2 P (1-P)`` when ``c = 0``); GRM ``sum_k (w_k - w_{k+1})^2 / P_k``
    with ``w_k = a P*_k (1 - P*_k)``; GPCM ``a^2 Var(X | theta)``.

    Returns
    -------
    ndarray, shape ``(n, J)``
    """
    t = _theta_1d(theta)
    n, J = t.shape[0], params.n_items
    out = np.zeros((n, J))
    dich, grm, gpcm = _model_masks(params)
    a, d, c = params.a, params.d, params.c
    if dich.any():
        z = t[:, None] * a[dich] + d[dich, 0]
        L = expit(z)
        cj = c[dich]
        P = cj + (1 - cj) * L
        out[:, dich] = a[dich] ** 2 * (1 - cj) * L**2 * (1 - L) / P
    if grm.any():
        sub = params.take(grm)
        dg = sub.d
        z = t[:, None, None] * a[grm][None, :, None] + dg[None]
        ps = np.where(np.isnan(z), 0.0, expit(np.nan_to_num(z)))
        w = a[grm][None, :, None] * ps * (1 - ps)
        zeros = np.zeros((n, dg.shape[0], 1))
        w_full = np.concatenate([zeros, w, zeros], axis=2)
        dp = w_full[:, :, :-1] - w_full[:, :, 1:]
        p = category_probabilities(t, sub)
        ratio = np.divide(dp**2, p, out=np.zeros_like(p), where=p > 1e-300)
        out[:, grm] = ratio.sum(axis=2)
    if gpcm.any():
        p = category_probabilities(t, params.take(gpcm))
        k = np.arange(p.shape[2], dtype=np.float64)
        m1 = p @ k
        m2 = p @ (k**2)
        out[:, gpcm] = a[gpcm] ** 2 * np.clip(m2 - m1**2, 0.0, None)
    return out


def test_information(theta: ArrayLike, params: ItemParameters) -> NDArray[np.float64]:
    """Test information ``sum_j I_j(theta)``, shape ``(n,)``."""
    return cast(NDArray[np.float64], item_information(theta, params).sum(axis=1))


test_information.__test__ = False  # type: ignore[attr-defined]  # not a pytest test


def _check_a(a: ArrayLike) -> NDArray[np.float64]:
    arr = np.asarray(a, dtype=np.float64)
    if arr.ndim > 1:
        raise ScoringInputError(f"a: expected a scalar or 1-D array of slopes (J,); found shape {arr.shape}")
    if np.any(arr == 0):
        raise ScoringInputError("a: slopes must be non-zero to convert between intercepts and difficulties; found 0")
    return arr


def _broadcast_pair(a: NDArray[np.float64], x: ArrayLike, name: str) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    arr = np.asarray(x, dtype=np.float64)
    if arr.ndim == 2:
        if a.ndim != 1 or arr.shape[0] != a.shape[0]:
            raise ScoringInputError(
                f"{name}: expected shape (J,) or (J, K-1) with J = len(a) = {a.shape}; found shape {arr.shape}"
            )
        return a[:, None], arr
    if arr.shape != a.shape and arr.ndim != 0 and a.ndim != 0:
        raise ScoringInputError(f"{name}: expected shape {a.shape} matching 'a'; found shape {arr.shape}")
    return a, arr


def to_irt_parameters(
    a: ArrayLike,
    d: ArrayLike,
    c: ArrayLike | None = None,
    model: str | Sequence[str] = "2pl",
) -> tuple[NDArray[np.float64], ...]:
    """Convert slope/intercept parameters to the IRT (a, b[, g]) metric.

    As mirt's ``coef(IRTpars=TRUE)``: ``b = -d / a`` for 1PL/2PL/3PL
    (``g = c`` unchanged); GRM thresholds ``b_k = -d_k / a``; GPCM step
    thresholds ``b_k = -d_k / a`` with ``d_k`` our *step* intercepts.

    Parameters
    ----------
    a : array_like, shape ``(J,)``
    d : array_like, shape ``(J,)`` or ``(J, K-1)``
    c : array_like, shape ``(J,)``, optional
    model : str or sequence of str
        Validated only; the conversion is the same for every model.

    Returns
    -------
    (a, b) or (a, b, c) : tuple of ndarray
        ``b`` has the shape of ``d`` (NaN padding preserved).
    """
    av = _check_a(a)
    normalize_model_names(model, int(av.size) if av.ndim else 1)
    aa, dd = _broadcast_pair(av, d, "d")
    b = -dd / aa
    if c is None:
        return av.copy(), b
    return av.copy(), b, np.asarray(c, dtype=np.float64).copy()


def from_irt_parameters(
    a: ArrayLike,
    b: ArrayLike,
    c: ArrayLike | None = None,
    model: str | Sequence[str] = "2pl",
) -> tuple[NDArray[np.float64], ...]:
    """Inverse of :func:`to_irt_parameters`: ``d = -a * b``.

    Parameters
    ----------
    a : array_like, shape ``(J,)``
    b : array_like, shape ``(J,)`` or ``(J, K-1)``
    c : array_like, shape ``(J,)``, optional
    model : str or sequence of str

    Returns
    -------
    (a, d) or (a, d, c) : tuple of ndarray
    """
    av = _check_a(a)
    normalize_model_names(model, int(av.size) if av.ndim else 1)
    aa, bb = _broadcast_pair(av, b, "b")
    d = -aa * bb
    if c is None:
        return av.copy(), d
    return av.copy(), d, np.asarray(c, dtype=np.float64).copy()
