"""Marginal maximum-likelihood item calibration by EM (Bock & Aitkin, 1981).

The E-step is vectorised over the whole response matrix: with a one-hot
design ``Z`` (one column per item category ``k >= 1`` plus, when data are
missing, one "observed" column per item) the log-likelihood of every
response pattern at every quadrature node is a single matrix product
``Z @ W.T`` where ``W`` holds log category probabilities at the nodes, and the
expected counts of the M-step are ``Z.T @ posterior``. Missing responses
(NaN) have all-zero rows in ``Z`` and therefore contribute exactly nothing.
Identical response patterns are collapsed when that pays. The M-step takes
Fisher-scoring steps on the expected counts, vectorised across items of the
same model; the EM map is accelerated with SQUAREM (Varadhan & Roland, 2008).

Identification
--------------
* Single group: theta ~ N(0, 1) (``1pl``: common slope estimated;
  ``rasch``: slopes fixed at 1 and the latent SD estimated, as mirt's Rasch).
* Multigroup (``groups=``): the reference group (lowest label by default) is
  N(0, 1); the other groups' means and SDs are estimated (the standard
  moment update of the latent distribution in the M-step, Mislevy 1984).
* Fixed-parameter calibration (``fixed=``): the given items are held at their
  values; by default (``estimate_latent=None``) the latent mean and SD of a
  single group are then *estimated* because the anchors identify the scale.
* Refused as not identified (``ScoringInputError``): ``estimate_latent=True``
  without anchors, and models with more free slopes/intercepts/latent
  parameters than degrees of freedom of the response patterns (a 2PL needs
  three items). Estimates that end on an internal bound (``|a| < 50``,
  ``|d| < 100``, ``0 < c < 1``; e.g. a perfectly separating item) raise a
  ``ConvergenceWarning`` naming the item.

Standard errors
---------------
``se=True`` (or ``"louis"``) inverts the full observed-data information matrix
computed with Louis' (1982) formula, including cross-item and item/group
blocks. ``se="xpd"`` uses the cross-product of per-person observed scores
(cheaper, asymptotically equivalent). 3PL items are estimated by MAP with a
Beta prior on ``c``; both methods add the prior's curvature
``(alpha - 1) / c^2 + (beta - 1) / (1 - c)^2`` to the information of ``c``
(as mirt does when priors are used), so the covariance is the inverse
negative Hessian of the penalised log-likelihood the M-step maximises.

References
----------
Bock, R. D., & Aitkin, M. (1981). Marginal maximum likelihood estimation of
item parameters: Application of an EM algorithm. *Psychometrika*, 46, 443-459.
Louis, T. A. (1982). Finding the observed information matrix when using the
EM algorithm. *JRSS B*, 44, 226-233.
Mislevy, R. J. (1984). Estimating latent distributions. *Psychometrika*, 49.
Varadhan, R., & Roland, C. (2008). Simple and globally convergent methods for
accelerating the convergence of any EM algorithm. *Scand. J. Statist.*, 35.
Chalmers, R. P. (2012). mirt. *Journal of Statistical Software*, 48(6).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.special import expit, logit

from ._blas import blas_threads
from ._quadrature import normal_log_weights, quadrature_grid
from .errors import ConvergenceWarning, ScoringInputError
from .models import MODEL_NAMES, ItemParameters, _log_probs_arrays

__all__ = ["Calibration", "calibrate", "validate_responses"]

F64 = NDArray[np.float64]
SEMethod = Literal["louis", "xpd"]

# ---------------------------------------------------------------------------
# result


@dataclass(frozen=True, eq=False)
class Calibration:
    """Result of :func:`calibrate`.

    Attributes
    ----------
    params : ItemParameters
        Estimated (and fixed) item parameters, slope/intercept form.
    se_a : ndarray, shape ``(J,)``
        Standard errors of the slopes (NaN for fixed items or ``se=False``;
        for ``1pl`` the common slope's SE is repeated).
    se_d : ndarray, shape ``(J, Kmax - 1)``
    se_c : ndarray, shape ``(J,)``
        NaN unless the item is 3PL.
    loglik : float
        Marginal log-likelihood at the estimate (quadrature approximation,
        float64; excludes the log prior on ``c``).
    aic, bic : float
        ``-2 loglik + 2 p`` and ``-2 loglik + p log(N)`` with ``p`` free parameters.
    n_iter : int
        EM iterations (each SQUAREM cycle counts its EM maps).
    converged : bool
    group_labels : tuple
        Sorted group labels (``(0,)`` for a single group).
    group_means, group_sds : ndarray, shape ``(G,)``
        Latent means and SDs (reference group 0 and 1 unless estimated).
    se_group_means, se_group_sds : ndarray, shape ``(G,)``
        NaN where the value was fixed.
    group_n : ndarray, shape ``(G,)``
        Persons with at least one response per group.
    n_persons : int
    n_parameters : int
    se_method : str or None
    covariance : ndarray or None, shape ``(p, p)``
        Covariance of the free parameters, ordered as ``parameter_names``.
    parameter_names : tuple of str
    quadrature : ndarray, shape ``(Q,)``
    """

    params: ItemParameters
    se_a: F64
    se_d: F64
    se_c: F64
    loglik: float
    aic: float
    bic: float
    n_iter: int
    converged: bool
    group_labels: tuple[Any, ...]
    group_means: F64
    group_sds: F64
    se_group_means: F64
    se_group_sds: F64
    group_n: NDArray[np.int64]
    reference_group: Any
    n_persons: int
    n_parameters: int
    se_method: str | None
    covariance: F64 | None
    parameter_names: tuple[str, ...]
    quadrature: F64

    @property
    def a(self) -> F64:
        """Slopes, shape ``(J,)``."""
        return self.params.a

    @property
    def d(self) -> F64:
        """Intercepts, shape ``(J, Kmax - 1)`` (NaN-padded)."""
        return self.params.d

    @property
    def c(self) -> F64:
        """Lower asymptotes, shape ``(J,)``."""
        return self.params.c

    @property
    def item_names(self) -> tuple[str, ...]:
        return self.params.item_names

    @property
    def model(self) -> tuple[str, ...]:
        return self.params.model

    # sklearn-style aliases
    @property
    def group_means_(self) -> F64:
        return self.group_means

    @property
    def group_sds_(self) -> F64:
        return self.group_sds

    @property
    def n_iter_(self) -> int:
        return self.n_iter

    def __repr__(self) -> str:
        return (
            f"Calibration(n_items={self.params.n_items}, n_persons={self.n_persons}, loglik={self.loglik:.3f}, "
            f"n_iter={self.n_iter}, converged={self.converged})"
        )


# ---------------------------------------------------------------------------
# input validation


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


# ---------------------------------------------------------------------------
# per-family probabilities and derivatives on the quadrature grid


def _dich_derivs(
    a: F64, d: F64, c: F64, theta: F64, three: bool, second: bool
) -> tuple[F64, F64, F64 | None]:
    """P (Jf,2,Q), dP (Jf,2,Q,p), d2P (Jf,2,Q,p,p) for dichotomous items; params (a, d[, c])."""
    z = a[:, None] * theta[None, :] + d[:, None]
    L = expit(z)
    s = L * (1.0 - L)
    cc = c[:, None]
    P1 = cc + (1.0 - cc) * L
    th = np.broadcast_to(theta, z.shape)
    comps = [(1.0 - cc) * s * th, (1.0 - cc) * s]
    if three:
        comps.append(1.0 - L)
    dP1 = np.stack(comps, axis=-1)
    P = np.stack([1.0 - P1, P1], axis=1)
    dP = np.stack([-dP1, dP1], axis=1)
    d2P = None
    if second:
        p = 3 if three else 2
        s2 = (1.0 - cc) * s * (1.0 - 2.0 * L)
        H = np.zeros(z.shape + (p, p))
        H[..., 0, 0] = s2 * th * th
        H[..., 0, 1] = H[..., 1, 0] = s2 * th
        H[..., 1, 1] = s2
        if three:
            H[..., 0, 2] = H[..., 2, 0] = -s * th
            H[..., 1, 2] = H[..., 2, 1] = -s
        d2P = np.stack([-H, H], axis=1)
    return P, dP, d2P


def _grm_derivs(a: F64, d: F64, theta: F64, second: bool) -> tuple[F64, F64, F64 | None]:
    """GRM on the grid; d is (Jf, K-1) fully finite; params (a, d_1..d_{K-1})."""
    Jf, km1 = d.shape
    K, p, Q = km1 + 1, km1 + 1, theta.shape[0]
    z = a[:, None, None] * theta[None, None, :] + d[:, :, None]  # (Jf, K-1, Q)
    ps = expit(z)
    qs = expit(-z)
    w = ps * qs
    one = np.ones((Jf, 1, Q))
    zero = np.zeros((Jf, 1, Q))
    cum = np.concatenate([one, ps, zero], axis=1)
    cumq = np.concatenate([zero, qs, one], axis=1)
    P = np.where(cum[:, :-1] > 0.5, cumq[:, 1:] - cumq[:, :-1], cum[:, :-1] - cum[:, 1:])
    P = np.clip(P, 0.0, None)
    dS = np.zeros((Jf, K + 1, Q, p))
    dS[:, 1:K, :, 0] = w * theta[None, None, :]
    for m in range(km1):
        dS[:, m + 1, :, m + 1] = w[:, m]
    dP = dS[:, :-1] - dS[:, 1:]
    d2P = None
    if second:
        w2 = w * (1.0 - 2.0 * ps)
        d2S = np.zeros((Jf, K + 1, Q, p, p))
        for m in range(km1):
            d2S[:, m + 1, :, 0, 0] = w2[:, m] * theta * theta
            d2S[:, m + 1, :, 0, m + 1] = d2S[:, m + 1, :, m + 1, 0] = w2[:, m] * theta
            d2S[:, m + 1, :, m + 1, m + 1] = w2[:, m]
        d2P = d2S[:, :-1] - d2S[:, 1:]
    return P, dP, d2P


def _gpcm_derivs(a: F64, d: F64, theta: F64, second: bool) -> tuple[F64, F64, F64 | None]:
    """GPCM on the grid; d is (Jf, K-1) step intercepts; params (a, d_1..d_{K-1})."""
    Jf, km1 = d.shape
    K, Q = km1 + 1, theta.shape[0]
    k = np.arange(K, dtype=np.float64)
    D = np.concatenate([np.zeros((Jf, 1)), np.cumsum(d, axis=1)], axis=1)
    z = a[:, None, None] * k[None, :, None] * theta[None, None, :] + D[:, :, None]  # (Jf,K,Q)
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    P = e / e.sum(axis=1, keepdims=True)
    # sufficient statistics T_k = (k*theta, 1[k>=1], ..., 1[k>=K-1])
    T = np.zeros((K, Q, K))
    T[:, :, 0] = k[:, None] * theta[None, :]
    for m in range(1, K):
        T[m:, :, m] = 1.0
    ET = np.einsum("jkq,kqp->jqp", P, T)
    dev = T[None] - ET[:, None]  # (Jf,K,Q,p)
    dP = P[..., None] * dev
    d2P = None
    if second:
        cov = np.einsum("jkq,jkqp,jkqr->jqpr", P, dev, dev)
        d2P = P[..., None, None] * (dev[..., :, None] * dev[..., None, :] - cov[:, None])
    return P, dP, d2P


# ---------------------------------------------------------------------------
# problem set-up


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
    m = _parse_model(spec["model"], name)
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


# ---------------------------------------------------------------------------
# E-step


def _estep(
    prob: _Problem, st: _State, dtype: Any, *, want_post: bool = False
) -> tuple[float, F64, F64, F64, NDArray[Any] | None]:
    """One E-step.

    Returns
    -------
    loglik : float
    R : ndarray (Ci, Q)
        Expected counts of the item design columns.
    Ng : ndarray (G, Q)
        Expected number of persons per group at each node.
    LP : ndarray (Q, J, Kmax)
        Log category probabilities at the nodes.
    post : ndarray (Q, n) or None
        Posterior weights times pattern counts (nodes x patterns layout:
        reductions over nodes are then cheap, contiguous row operations).
    """
    theta = prob.theta
    LP = _log_probs_arrays(theta, st.a, st.d, st.c, prob.dich, prob.grm, prob.gpcm, prob.Kmax)
    LP = np.maximum(LP, -1e300)  # padded categories are never indexed; avoids -inf - -inf
    C1 = prob.ycol_item.shape[0]
    Ci = prob.Z.shape[1] - prob.G
    Q = theta.shape[0]
    W = np.empty((Q, Ci + prob.G))
    W[:, :C1] = LP[:, prob.ycol_item, prob.ycol_cat] - LP[:, prob.ycol_item, 0]
    if prob.has_missing:
        W[:, C1:Ci] = LP[:, :, 0]
        const = np.zeros(Q)
    else:
        const = LP[:, :, 0].sum(axis=1)
    for g in range(prob.G):
        # group one-hot columns of Z carry the log prior (and the constant of complete items)
        W[:, Ci + g] = const + normal_log_weights(theta, st.mu[g], st.sd[g])
    LT = W.astype(dtype) @ prob.Z.T  # (Q, n)
    m = LT.max(axis=0)
    LT -= m
    # floor at e^-70: float32 denormals (below ~e^-87) make exp and the next matmul ~20x slower,
    # and nodes that far below the mode carry no posterior mass anyway
    np.maximum(LT, -70.0, out=LT)
    np.exp(LT, out=LT)
    s = np.ones(Q, dtype=dtype) @ LT
    loglik = float(prob.w @ (m.astype(np.float64) + np.log(s.astype(np.float64))))
    LT *= (prob.w / s).astype(dtype)
    R = (LT @ prob.Z).T.astype(np.float64)
    return loglik, R[:Ci], R[Ci:], LP, (LT if want_post else None)


def _loglik64(prob: _Problem, st: _State, chunk: int = 16384) -> float:
    """Marginal log-likelihood in float64 (the EM loop may run in float32), chunked over patterns."""
    theta = prob.theta
    LP = _log_probs_arrays(theta, st.a, st.d, st.c, prob.dich, prob.grm, prob.gpcm, prob.Kmax)
    LP = np.maximum(LP, -1e300)
    C1 = prob.ycol_item.shape[0]
    Ci = prob.Z.shape[1] - prob.G
    W = np.empty((theta.shape[0], Ci + prob.G))
    W[:, :C1] = LP[:, prob.ycol_item, prob.ycol_cat] - LP[:, prob.ycol_item, 0]
    const = np.zeros(theta.shape[0])
    if prob.has_missing:
        W[:, C1:Ci] = LP[:, :, 0]
    else:
        const = LP[:, :, 0].sum(axis=1)
    for g in range(prob.G):
        W[:, Ci + g] = const + normal_log_weights(theta, st.mu[g], st.sd[g])
    total = 0.0
    for i0 in range(0, prob.Z.shape[0], chunk):
        L = prob.Z[i0 : i0 + chunk].astype(np.float64) @ W.T
        m = L.max(axis=1)
        total += float(prob.w[i0 : i0 + chunk] @ (m + np.log(np.exp(L - m[:, None]).sum(axis=1))))
    return total


def _category_counts(prob: _Problem, R: F64, Ng: F64) -> tuple[F64, F64]:
    """Expected counts r (J, Kmax, Q) and n (J, Q) from design counts."""
    J, Q = prob.J, prob.theta.shape[0]
    C1 = prob.ycol_item.shape[0]
    n = R[C1:] if prob.has_missing else np.broadcast_to(Ng.sum(axis=0), (J, Q))
    r = np.zeros((J, prob.Kmax, Q))
    r[prob.ycol_item, prob.ycol_cat] = R[:C1]
    r[:, 0] = n - r[:, 1:].sum(axis=1)
    return np.clip(r, 0.0, None), np.asarray(n)


# ---------------------------------------------------------------------------
# M-step


def _family_derivs(fam: _Family, st: _State, theta: F64, second: bool) -> tuple[F64, F64, F64 | None]:
    it = fam.items
    if fam.kind in ("1pl", "2pl", "3pl"):
        return _dich_derivs(st.a[it], st.d[it, 0], st.c[it], theta, fam.kind == "3pl", second)
    dd = st.d[it, : fam.K - 1]
    if fam.kind == "grm":
        return _grm_derivs(st.a[it], dd, theta, second)
    return _gpcm_derivs(st.a[it], dd, theta, second)


def _get_par(fam: _Family, st: _State) -> F64:
    it = fam.items
    cols = [st.a[it][:, None]]
    if fam.kind in ("1pl", "2pl", "3pl"):
        cols.append(st.d[it, :1])
        if fam.kind == "3pl":
            cols.append(st.c[it][:, None])
    else:
        cols.append(st.d[it, : fam.K - 1])
    return np.concatenate(cols, axis=1)


def _set_par(fam: _Family, st: _State, x: F64) -> None:
    it = fam.items
    st.a[it] = x[:, 0]
    if fam.kind in ("1pl", "2pl", "3pl"):
        st.d[it, 0] = x[:, 1]
        if fam.kind == "3pl":
            st.c[it] = x[:, 2]
    else:
        st.d[it, : fam.K - 1] = x[:, 1:]


def _valid_par(fam: _Family, x: F64) -> NDArray[np.bool_]:
    ok = np.all(np.isfinite(x), axis=1) & (np.abs(x[:, 0]) < 50) & np.all(np.abs(x[:, 1:]) < 100, axis=1)
    if fam.kind == "3pl":
        ok &= (x[:, 2] > 1e-8) & (x[:, 2] < 1 - 1e-8)
    if fam.kind == "grm" and fam.K > 2:
        ok &= np.all(np.diff(x[:, 1:], axis=1) < -1e-8, axis=1)
    return ok


def _grad_info(fam: _Family, st: _State, prob: _Problem, r: F64, n: F64) -> tuple[F64, F64, F64]:
    """Gradient (Jf,p) and expected information (Jf,p,p) of the item M-step objective, and the objective."""
    P, dP, _ = _family_derivs(fam, st, prob.theta, False)
    rf = r[fam.items, : fam.K]
    nf = n[fam.items]
    Ps = np.maximum(P, 1e-300)
    grad = np.einsum("jkq,jkqp->jp", rf / Ps, dP)
    info = np.einsum("jq,jkqp,jkqr->jpr", nf, dP / Ps[..., None], dP)
    obj = np.einsum("jkq,jkq->j", rf, np.log(Ps))
    if fam.kind == "3pl":
        al, be = prob.prior_c
        cc = st.c[fam.items]
        grad[:, 2] += (al - 1) / cc - (be - 1) / (1 - cc)
        info[:, 2, 2] += (al - 1) / cc**2 + (be - 1) / (1 - cc) ** 2
        obj += (al - 1) * np.log(cc) + (be - 1) * np.log1p(-cc)
    return grad, info, obj


def _mstep_items(prob: _Problem, st: _State, r: F64, n: F64, inner: int = 4) -> None:
    for fam in prob.families:
        for _ in range(inner):
            grad, info, _obj = _grad_info(fam, st, prob, r, n)
            p = fam.p
            info = info + 1e-10 * np.eye(p)
            x0 = _get_par(fam, st)
            if fam.kind == "1pl" and prob.common_a:
                # common slope: arrowhead system solved via the Schur complement
                iad, idd = info[:, 0, 1], info[:, 1, 1]
                ga, gd = grad[:, 0], grad[:, 1]
                schur = info[:, 0, 0].sum() - (iad**2 / idd).sum()
                da = (ga.sum() - (iad * gd / idd).sum()) / schur
                step = np.stack([np.full(len(gd), da), (gd - iad * da) / idd], axis=1)
            elif fam.kind == "1pl":
                step = np.stack([np.zeros(len(grad)), grad[:, 1] / info[:, 1, 1]], axis=1)
            else:
                step = np.linalg.solve(info, grad[..., None])[..., 0]
            big = np.abs(step).max(axis=1, keepdims=True)
            step = step * np.minimum(1.0, 1.0 / np.maximum(big, 1e-300))  # cap steps at 1
            if fam.kind == "3pl":
                # keep c inside (0, 1)
                cc = x0[:, 2]
                lim = np.where(step[:, 2] > 0, 0.5 * (1 - cc), 0.5 * cc)
                f = np.minimum(1.0, lim / np.maximum(np.abs(step[:, 2]), 1e-300))
                step = step * f[:, None]
            x = x0 + step
            ok = _valid_par(fam, x)
            for _h in range(20):
                if ok.all():
                    break
                step[~ok] *= 0.5
                x = x0 + step
                ok = _valid_par(fam, x)
            x[~ok] = x0[~ok]
            if fam.kind == "1pl" and prob.common_a:
                x[:, 0] = x[0, 0]
            _set_par(fam, st, x)
            if np.abs(step).max() < 1e-8:
                break


def _mstep_latent(prob: _Problem, st: _State, Ng: F64) -> None:
    th = prob.theta
    for g in range(prob.G):
        if not (prob.mu_free[g] or prob.sd_free[g]):
            continue
        tot = Ng[g].sum()
        m = float(Ng[g] @ th / tot) if prob.mu_free[g] else float(st.mu[g])
        if prob.sd_free[g]:
            v = float(Ng[g] @ (th - m) ** 2 / tot)
            st.sd[g] = np.sqrt(max(v, 1e-4))
        st.mu[g] = m


# ---------------------------------------------------------------------------
# parameter vector (for convergence tests, SQUAREM and SEs)


def _free_index(prob: _Problem) -> tuple[list[tuple[str, int, int]], list[str]]:
    """Enumerate free parameters as (kind, row, col) with names; kind in a|d|c|mu|sd."""
    out: list[tuple[str, int, int]] = []
    names: list[str] = []
    first_1pl = True
    for j in range(prob.J):
        if not prob.free[j]:
            continue
        m = prob.model[j]
        if m == "1pl":
            if prob.common_a and first_1pl:
                out.append(("a", j, 0))
                names.append("a(1pl common)")
            first_1pl = False
        else:
            out.append(("a", j, 0))
            names.append(f"a[{j}]")
        for k in range(int(prob.K[j]) - 1):
            out.append(("d", j, k))
            names.append(f"d{k + 1}[{j}]" if prob.K[j] > 2 else f"d[{j}]")
        if m == "3pl":
            out.append(("c", j, 0))
            names.append(f"c[{j}]")
    for g in range(prob.G):
        if prob.mu_free[g]:
            out.append(("mu", g, 0))
            names.append(f"mean[{g}]")
        if prob.sd_free[g]:
            out.append(("sd", g, 0))
            names.append(f"sd[{g}]")
    return out, names


def _pack(idx: list[tuple[str, int, int]], st: _State) -> F64:
    v = np.empty(len(idx))
    for i, (k, r, c) in enumerate(idx):
        v[i] = st.a[r] if k == "a" else st.d[r, c] if k == "d" else st.c[r] if k == "c" else st.mu[r] if k == "mu" else st.sd[r]
    return v


def _make_packers(
    prob: _Problem, idx: list[tuple[str, int, int]]
) -> tuple[Callable[[_State], F64], Callable[[F64, _State], _State]]:
    """Vectorised pack/unpack in the *transformed* space (logit c, log sd) used by SQUAREM."""
    kinds = np.array([k for k, _, _ in idx])
    rows = np.array([r for _, r, _ in idx], dtype=np.intp)
    cols = np.array([c for _, _, c in idx], dtype=np.intp)
    ma, md, mc, mm, ms = (kinds == s for s in ("a", "d", "c", "mu", "sd"))
    one_pl = np.array([m == "1pl" for m in prob.model]) & prob.free
    common_pos = next((i for i, (k, r, _) in enumerate(idx) if k == "a" and one_pl[r]), None) if prob.common_a else None

    def pack(st: _State) -> F64:
        v = np.empty(len(idx))
        v[ma] = st.a[rows[ma]]
        v[md] = st.d[rows[md], cols[md]]
        v[mc] = logit(st.c[rows[mc]])
        v[mm] = st.mu[rows[mm]]
        v[ms] = np.log(st.sd[rows[ms]])
        return v

    def unpack(v: F64, template: _State) -> _State:
        st = template.copy()
        st.a[rows[ma]] = v[ma]
        if common_pos is not None:
            st.a[one_pl] = v[common_pos]
        st.d[rows[md], cols[md]] = v[md]
        st.c[rows[mc]] = expit(v[mc])
        st.mu[rows[mm]] = v[mm]
        st.sd[rows[ms]] = np.exp(v[ms])
        return st

    return pack, unpack


def _state_valid(prob: _Problem, st: _State) -> bool:
    for fam in prob.families:
        if not _valid_par(fam, _get_par(fam, st)).all():
            return False
    return bool(np.all(np.isfinite(st.mu)) and np.all((st.sd > 0.05) & (st.sd < 20)))


# ---------------------------------------------------------------------------
# standard errors


def _item_local_index(prob: _Problem, idx: list[tuple[str, int, int]]) -> NDArray[np.intp]:
    """(J, pmax) map from each item's local parameter slot to the free-parameter index (-1 if none)."""
    pos = {key: i for i, key in enumerate(idx)}
    pmax = max(3, prob.Kmax)
    loc = -np.ones((prob.J, pmax), dtype=np.intp)
    common = next((i for i, (k, r, _) in enumerate(idx) if k == "a" and prob.model[r] == "1pl"), -1)
    for j in range(prob.J):
        if not prob.free[j]:
            continue
        loc[j, 0] = common if (prob.model[j] == "1pl" and prob.common_a) else pos.get(("a", j, 0), -1)
        for k in range(int(prob.K[j]) - 1):
            loc[j, 1 + k] = pos[("d", j, k)]
        if prob.model[j] == "3pl":
            loc[j, 2] = pos[("c", j, 0)]
    return loc


def _latent_derivs(theta: F64, mu: float, sd: float) -> tuple[F64, F64]:
    """Gradient (Q,2) and Hessian (Q,2,2) of the normalised discrete log prior w.r.t. (mu, sd)."""
    u = theta - mu
    e1 = np.stack([u / sd**2, u**2 / sd**3], axis=1)
    e2 = np.zeros((theta.shape[0], 2, 2))
    e2[:, 0, 0] = -1 / sd**2
    e2[:, 0, 1] = e2[:, 1, 0] = -2 * u / sd**3
    e2[:, 1, 1] = -3 * u**2 / sd**4
    pi = np.exp(normal_log_weights(theta, mu, sd))
    m1 = pi @ e1
    g = e1 - m1
    cov = np.einsum("q,qa,qb->ab", pi, g, g)
    h = e2 - np.einsum("q,qab->ab", pi, e2) - cov
    return g, h


def _standard_errors(prob: _Problem, st: _State, idx: list[tuple[str, int, int]], method: str) -> F64 | None:
    """Covariance matrix of the free parameters (natural scale: a, d, c, mean, sd), or None if singular.

    Louis (1982): ``I_obs = sum_i E[-d2 log f(x_i, theta)] - sum_i Cov_post(u_i)``
    where ``u`` is the complete-data score; assembled from expected counts
    and, for the cross-item second moments, ``M_q = Z' diag(post_q) Z`` per node.
    XPD: ``sum_i s_i s_i'`` with ``s_i`` the observed-data score of pattern ``i``.
    """
    P_ = len(idx)
    if P_ == 0:
        return np.zeros((0, 0))
    theta = prob.theta
    Q, J, G = theta.shape[0], prob.J, prob.G
    dt = prob.Z.dtype.type
    _, R, Ng, _, postT = _estep(prob, st, dt, want_post=True)
    assert postT is not None
    r, _n = _category_counts(prob, R, Ng)
    loc = _item_local_index(prob, idx)
    pmax = loc.shape[1]
    # per-item category log-derivatives g (J,K,Q,pmax) and Hessians h (J,K,Q,pmax,pmax), local slots
    gl = np.zeros((J, prob.Kmax, Q, pmax))
    hl = np.zeros((J, prob.Kmax, Q, pmax, pmax))
    for fam in prob.families:
        Pf, dP, d2P = _family_derivs(fam, st, theta, True)
        assert d2P is not None
        Ps = np.maximum(Pf, 1e-300)
        gg = dP / Ps[..., None]
        h = d2P / Ps[..., None, None] - gg[..., :, None] * gg[..., None, :]
        ii, kk = fam.items[:, None], np.arange(fam.K)[None, :]
        for s_i in range(fam.p):
            gl[ii, kk, :, s_i] = gg[..., s_i]
            for t_i in range(fam.p):
                hl[ii, kk, :, s_i, t_i] = h[..., s_i, t_i]
    # columns of the full design: Y (j, k>=1) -> g_jk - g_j0 ; O_j (observed, ones if complete) -> g_j0
    C1 = prob.ycol_item.shape[0]
    Ci = prob.Z.shape[1] - G
    Gc = np.concatenate([gl[prob.ycol_item, prob.ycol_cat] - gl[prob.ycol_item, 0], gl[:, 0]], axis=0)
    col_item = np.concatenate([prob.ycol_item, np.arange(J)])
    Cf = C1 + J
    Gd = np.zeros((Cf, Q, P_))
    for s in range(pmax):
        tgt = loc[col_item, s]
        ok = np.flatnonzero(tgt >= 0)
        Gd[ok, :, tgt[ok]] += Gc[ok, :, s]
    # latent-distribution parameters
    Hg = np.zeros((G, Q, P_))
    Hh = np.zeros((G, Q, P_, P_))
    pos = {key: i for i, key in enumerate(idx)}
    lat = [g for g in range(G) if prob.mu_free[g] or prob.sd_free[g]]
    for g in lat:
        lg, lh = _latent_derivs(theta, float(st.mu[g]), float(st.sd[g]))
        sel = [(0, pos.get(("mu", g, 0))), (1, pos.get(("sd", g, 0)))]
        for a_, ia in sel:
            if ia is None:
                continue
            Hg[g, :, ia] = lg[:, a_]
            for b_, ib in sel:
                if ib is not None:
                    Hh[g, :, ia, ib] = lh[:, a_, b_]
    n_pat = prob.Z.shape[0]
    Zi = prob.Z[:, :Ci]
    wpost = postT.T  # (n, Q), weighted by pattern counts
    postn = wpost if np.all(prob.w == 1) else (wpost / prob.w[:, None].astype(dt))
    # observed-data scores per pattern: s_i = sum_c Zf_ic (post_i @ G_c) + post_i @ H_{g(i)}
    S = np.zeros((n_pat, P_), dtype=dt)
    for s in range(pmax):
        tgt = loc[col_item, s]
        ok = np.flatnonzero(tgt >= 0)
        if ok.size == 0:
            continue
        contrib = postn @ Gc[ok, :, s].T.astype(dt)
        if ok.size == Cf:  # every column: contiguous slices, no fancy-index copies
            if prob.has_missing:
                contrib *= Zi
            else:
                contrib[:, :C1] *= Zi[:, :C1]  # complete data: O columns are all ones
        else:
            real = ok < Ci
            contrib[:, real] *= Zi[:, ok[real]]
        Mmap = np.zeros((ok.size, P_), dtype=dt)
        Mmap[np.arange(ok.size), tgt[ok]] = 1.0
        S += contrib @ Mmap
    for g in lat:
        sel = prob.gidx == g
        S[sel] += postn[sel] @ Hg[g].astype(dt)
    Cterm = (S.T @ (S * prob.w[:, None].astype(dt))).astype(np.float64)
    if method == "xpd":
        info = Cterm
    else:
        Aloc = -np.einsum("jkq,jkqab->jab", r, hl)
        A = np.zeros((P_, P_))
        for s in range(pmax):
            for t in range(pmax):
                ok = np.flatnonzero((loc[:, s] >= 0) & (loc[:, t] >= 0))
                np.add.at(A, (loc[ok, s], loc[ok, t]), Aloc[ok, s, t])
        A -= np.einsum("gq,gqab->ab", Ng, Hh)
        # B = sum_q Gd_q' M_q Gd_q, M_q = Zf' diag(post_q) Zf (float32 is ample for these sums)
        Rf = R if prob.has_missing else np.concatenate([R, np.broadcast_to(Ng.sum(axis=0), (J, Q))], axis=0)
        sq = np.sqrt(postT)
        # patterns whose posterior weight at node q is below 1e-8 of their count change no SE by
        # more than ~1e-5 of itself (measured at 100k x 40); skipping them cuts this loop ~2-3x
        # (posteriors cover ~15 of 41 nodes); 1e-8 instead of 1e-12 saves another ~10 %
        thr = (1e-8 * prob.w).astype(dt)
        B = np.zeros((P_, P_))
        Mq = np.empty((Cf, Cf))
        for q in range(Q):
            rows = np.flatnonzero(postT[q] > thr)
            Zs = Zi[rows] * sq[q, rows][:, None]
            Mi = (Zs.T @ Zs).astype(np.float64)  # A'A form: numpy uses syrk
            if prob.has_missing:
                Mq = Mi
            else:
                Mq[:C1, :C1] = Mi
                Mq[:C1, C1:] = Rf[:C1, q : q + 1]
                Mq[C1:, :C1] = Rf[:C1, q][None, :]
                Mq[C1:, C1:] = Rf[C1, q]
            B += Gd[:, q, :].T @ Mq @ Gd[:, q, :]
        for g in lat:
            if G == 1:
                Rg = Rf
            else:
                sel = prob.gidx == g
                Rgi = (postT[:, sel] @ Zi[sel]).T.astype(np.float64)
                Rg = Rgi if prob.has_missing else np.concatenate([Rgi, np.broadcast_to(Ng[g], (J, Q))], axis=0)
            cross = np.einsum("cq,cqa,qb->ab", Rg, Gd, Hg[g])
            B += cross + cross.T + np.einsum("q,qa,qb->ab", Ng[g], Hg[g], Hg[g])
        info = A - B + Cterm
    # the M-step maximises loglik + log Beta(c; alpha, beta) (MAP), so the information of c carries the
    # prior's curvature -d2/dc2 log Beta = (alpha-1)/c^2 + (beta-1)/(1-c)^2 (natural c scale, as the SEs)
    al, be = prob.prior_c
    for i, (kind, j, _) in enumerate(idx):
        if kind == "c":
            cj = float(st.c[j])
            info[i, i] += (al - 1) / cj**2 + (be - 1) / (1 - cj) ** 2
    info = 0.5 * (info + info.T)
    try:
        np.linalg.cholesky(info)
        return np.asarray(np.linalg.inv(info))
    except np.linalg.LinAlgError:
        return None


# ---------------------------------------------------------------------------
# main entry point


def calibrate(
    responses: ArrayLike,
    model: str | Sequence[str] = "2pl",
    *,
    groups: ArrayLike | None = None,
    reference_group: Any = None,
    fixed: Mapping[Any, Any] | ItemParameters | None = None,
    item_names: Sequence[str] | None = None,
    estimate_latent: bool | None = None,
    max_iter: int = 500,
    tol: float = 1e-4,
    n_quad: int = 41,
    bounds: tuple[float, float] = (-6.0, 6.0),
    prior_c: tuple[float, float] = (5.0, 17.0),
    se: bool | SEMethod = True,
    accelerate: bool = True,
    precision: Literal["auto", "float32", "float64"] = "auto",
    progress: Callable[[int, float, float], None] | None = None,
) -> Calibration:
    """Calibrate items by marginal maximum likelihood (Bock-Aitkin EM).

    Parameters
    ----------
    responses : array_like, shape ``(N, J)``
        Item scores; NaN = missing / not presented. Dichotomous items 0/1,
        polytomous items ``0..K-1``.
    model : str or sequence of str
        ``"1pl"``, ``"rasch"``, ``"2pl"``, ``"3pl"``, ``"grm"``, ``"gpcm"``,
        ``"auto"`` (``2pl`` for 0/1 items, ``gpcm`` for items with more
        categories) or one name per item (mixed tests).
    groups : array_like, shape ``(N,)``, optional
        Group label per person for multigroup concurrent calibration.
    reference_group : optional
        Label of the group fixed at N(0, 1); the lowest label by default.
    fixed : mapping or ItemParameters, optional
        Items held at known values: ``{item index or name: {"a":, "d":, "c":, "model":}}``
        or an :class:`ItemParameters` matched by item name.
    item_names : sequence of str, optional
        Length ``J``; defaults to ``item1..itemJ``.
    estimate_latent : bool, optional
        Estimate the mean and SD of the reference group. Defaults to True
        when ``fixed`` is given (the anchors set the scale), else False.
    max_iter : int
        Maximum EM iterations (EM maps).
    tol : float
        Convergence when the largest absolute parameter change between
        successive EM cycles is below ``tol`` (as mirt's ``TOL``).
    n_quad : int
        Number of equally spaced quadrature nodes on ``bounds``.
    bounds : (float, float)
    prior_c : (float, float)
        Beta(alpha, beta) prior on 3PL lower asymptotes (MAP in the M-step);
        the default Beta(5, 17) has mode 0.2 and mean 0.23. Both shapes must
        be >= 1; (1, 1) is flat, and with a shape of 1 an estimate may end at
        that edge (a ConvergenceWarning names the item). Free c start at the
        prior's mode (its mean when a shape is 1) kept inside [0.05, 0.35].
    se : bool or {"louis", "xpd"}
        Standard errors: True = "louis" (full observed information), "xpd"
        (cross-product of scores), False = none.
    accelerate : bool
        SQUAREM acceleration of the EM map.
    precision : {"auto", "float32", "float64"}
        Dtype of the ``(patterns x nodes)`` E-step arrays. "auto" uses
        float32 for large problems (see BENCHMARKS.md for the accuracy check);
        the reported log-likelihood and SEs are always computed in float64.
    progress : callable, optional
        Called after each EM map as ``progress(iteration, loglik, max_change)``.

    Returns
    -------
    Calibration

    Raises
    ------
    ScoringInputError
        Bad shapes, values, labels, items without variance, invalid anchor
        values, or a model that is not identified (see Identification above).

    Warns
    -----
    ConvergenceWarning
        If ``max_iter`` is reached before ``tol``, the information matrix is
        singular, or a free parameter ends on its internal bound.
    """
    X, codes_all, counts_obs = _response_codes(responses)
    N, J = X.shape
    names = tuple(str(s) for s in item_names) if item_names is not None else tuple(f"item{j + 1}" for j in range(J))
    if len(names) != J:
        raise ScoringInputError(f"item_names: expected {J} names (one per column of responses); found {len(names)}")
    if not isinstance(max_iter, (int, np.integer)) or max_iter < 1:
        raise ScoringInputError(f"max_iter: expected a positive integer; found {max_iter!r}")
    if not tol > 0:
        raise ScoringInputError(f"tol: expected a positive number; found {tol!r}")
    prior_c = _check_prior_c(prior_c)
    theta = quadrature_grid(n_quad, bounds)
    se_method: str | None = ("louis" if se is True else None if se is False else str(se))
    if se_method not in (None, "louis", "xpd"):
        raise ScoringInputError(f"se: expected True, False, 'louis' or 'xpd'; found {se!r}")

    kobs = counts_obs.shape[1]
    maxcat = np.where(counts_obs > 0, np.arange(kobs)[None, :], -1).max(axis=1)
    # ---- models
    raw = [model] * J if isinstance(model, str) else list(model)
    if len(raw) != J:
        raise ScoringInputError(f"model: expected one model name per item ({J} items); found {len(raw)} names")
    rasch = any(isinstance(m, str) and m.lower() == "rasch" for m in raw)
    if rasch and any(isinstance(m, str) and m.lower() == "1pl" for m in raw):
        raise ScoringInputError("model: 'rasch' (slopes 1, latent SD free) and '1pl' (common slope) cannot be mixed")
    models: list[str] = []
    for j, m in enumerate(raw):
        if not isinstance(m, str):
            raise ScoringInputError(f"model[{j}]: expected a model name; found {m!r}")
        ml = m.lower()
        if ml == "auto":
            ml = "2pl" if maxcat[j] <= 1 else "gpcm"
        elif ml == "rasch":
            ml = "1pl"
        elif ml == "graded":
            ml = "grm"
        if ml not in MODEL_NAMES:
            raise ScoringInputError(f"model[{j}] (item {names[j]!r}): expected one of {', '.join(MODEL_NAMES)}, 'rasch' or 'auto'; found {m!r}")
        models.append(ml)
    fixed_spec = _parse_fixed(fixed, names, models)
    for j, spec in fixed_spec.items():
        models[j] = _parse_model(spec["model"], names[j])
    # ---- categories and data checks
    K = np.zeros(J, dtype=np.int64)
    for j in range(J):
        if models[j] in ("1pl", "2pl", "3pl"):
            K[j] = 2
        elif j in fixed_spec:
            K[j] = len(fixed_spec[j]["d"]) + 1
        else:
            K[j] = max(int(maxcat[j]) + 1, 2)
    for j in range(J):
        cnt_j = counts_obs[j]
        if cnt_j.sum() == 0:
            raise ScoringInputError(f"responses: item {names[j]!r} (column {j}) has no observed responses")
        if maxcat[j] > K[j] - 1:
            i = int(np.flatnonzero(codes_all[:, j] > K[j] - 1)[0])
            raise ScoringInputError(
                f"responses: item {names[j]!r} (column {j}, model {models[j]}) expects categories 0..{K[j] - 1}; "
                f"found {X[i, j]:g} at row {i}"
            )
        if j in fixed_spec:
            continue
        if (cnt_j > 0).sum() < 2:
            raise ScoringInputError(
                f"responses: item {names[j]!r} (column {j}) has no variance (every observed response is {maxcat[j]}); "
                f"drop it or fix its parameters"
            )
        if np.any(cnt_j[: K[j]] == 0):
            raise ScoringInputError(
                f"responses: item {names[j]!r} (column {j}) never uses category {int(np.flatnonzero(cnt_j[: K[j]] == 0)[0])} "
                f"of 0..{K[j] - 1}; recode its categories consecutively"
            )
    # ---- groups
    if groups is None:
        glabels: tuple[Any, ...] = (0,)
        gidx_full = np.zeros(N, dtype=np.intp)
        ref: int | None = 0
    else:
        garr = np.asarray(groups)
        if garr.ndim != 1 or garr.shape[0] != N:
            raise ScoringInputError(f"groups: expected one label per person, shape ({N},); found shape {garr.shape}")
        try:
            uniq, gidx_full = np.unique(garr, return_inverse=True)
        except TypeError:
            raise ScoringInputError("groups: labels must be mutually comparable (all numbers or all strings)") from None
        if garr.dtype.kind == "f" and np.isnan(garr.astype(float)).any():
            raise ScoringInputError("groups: found a missing (NaN) group label; every person needs a group")
        glabels = tuple(u.item() if hasattr(u, "item") else u for u in uniq)
        gidx_full = gidx_full.astype(np.intp).ravel()
        ref = 0 if reference_group is None else None
        if reference_group is not None:
            matches = [g for g, lab in enumerate(glabels) if lab == reference_group or str(lab) == str(reference_group)]
            if not matches:
                raise ScoringInputError(f"reference_group: {reference_group!r} is not one of the group labels {list(glabels)}")
            ref = matches[0]
    G = len(glabels)
    assert ref is not None
    free = np.array([j not in fixed_spec for j in range(J)])
    if estimate_latent and not fixed_spec:
        raise ScoringInputError(
            "estimate_latent: True needs fixed anchor items (fixed=) to set the scale; without anchors the "
            f"mean and SD of the reference group {glabels[ref]!r} are not identified (any value fits equally well). "
            "Pass fixed= or leave estimate_latent unset (the reference group is then N(0, 1))."
        )
    if estimate_latent is None:
        estimate_latent = bool(fixed_spec)
    mu_free = np.ones(G, dtype=bool)
    sd_free = np.ones(G, dtype=bool)
    mu_free[ref] = estimate_latent
    sd_free[ref] = estimate_latent or rasch
    if not free.any() and not (mu_free.any() or sd_free.any()):
        raise ScoringInputError("fixed: every item is fixed and no latent parameter is free; nothing to estimate")
    _check_identified(models, K, free, rasch, mu_free, sd_free)
    # ---- drop persons without responses, collapse patterns
    keep = (codes_all >= 0).any(axis=1)
    if keep.all():
        codes, gk = codes_all, gidx_full
    else:
        codes, gk = codes_all[keep], gidx_full[keep]
    n_persons = int(keep.sum())
    group_n = np.bincount(gk, minlength=G).astype(np.int64)
    if np.any(group_n == 0):
        g0 = int(np.flatnonzero(group_n == 0)[0])
        raise ScoringInputError(f"groups: group {glabels[g0]!r} has no person with a response")
    first, _inv, cnt = _collapse(codes, gk)
    codes_u, g_u = codes[first], gk[first]
    has_missing = bool((codes_u < 0).any())
    ycol_item = np.concatenate([np.full(int(K[j]) - 1, j) for j in range(J)]).astype(np.intp)
    ycol_cat = np.concatenate([np.arange(1, int(K[j])) for j in range(J)]).astype(np.intp)
    Q = theta.shape[0]
    if precision == "auto":
        dtype: Any = np.float32 if codes_u.shape[0] * Q > 2_000_000 else np.float64
    elif precision in ("float32", "float64"):
        dtype = np.dtype(precision).type
    else:
        raise ScoringInputError(f"precision: expected 'auto', 'float32' or 'float64'; found {precision!r}")
    C1 = ycol_item.shape[0]
    Ci = C1 + (J if has_missing else 0)
    Z = np.zeros((codes_u.shape[0], Ci + G), dtype=dtype)
    Z[:, :C1] = codes_u[:, ycol_item] == ycol_cat[None, :]
    if has_missing:
        Z[:, C1:Ci] = codes_u >= 0
    Z[np.arange(codes_u.shape[0]), Ci + g_u] = 1.0
    Kmax = int(K.max())
    marr = np.array(models)
    dich = np.isin(marr, ["1pl", "2pl", "3pl"])
    # ---- families of free items
    families: list[_Family] = []
    for kind in ("1pl", "2pl", "3pl", "grm", "gpcm"):
        sel = np.flatnonzero((marr == kind) & free)
        for k in sorted(set(K[sel].tolist())):
            families.append(_Family(kind, sel[K[sel] == k], int(k)))
    common_a = bool(((marr == "1pl") & free).any()) and not rasch
    prob = _Problem(
        J=J, K=K, Kmax=Kmax, model=tuple(models), free=free, families=families, common_a=common_a,
        theta=theta, G=G, mu_free=mu_free, sd_free=sd_free, prior_c=prior_c,
        Z=Z, w=cnt, gidx=g_u.astype(np.intp), ycol_item=ycol_item, ycol_cat=ycol_cat,
        has_missing=has_missing, dich=dich, grm=marr == "grm", gpcm=marr == "gpcm",
    )
    st = _start_values(prob, counts_obs, fixed_spec)
    idx, pnames = _free_index(prob)
    with blas_threads():
        st, loglik, n_iter, converged = _run_em(prob, st, idx, dtype, max_iter, tol, accelerate, progress)
        loglik = _loglik64(prob, st)
        cov = _standard_errors(prob, st, idx, se_method) if se_method is not None else None
    _warn_at_bounds(prob, st, names)
    if not converged:
        warnings.warn(
            f"calibrate: EM did not converge in {max_iter} iterations (tol={tol}); estimates may be inaccurate. "
            f"Increase max_iter, check for items with extreme parameters, or simplify the model.",
            ConvergenceWarning,
            stacklevel=2,
        )
    if se_method is not None and (cov is None or np.any(np.diag(cov) <= 0)):
        warnings.warn(
            "calibrate: the information matrix is not positive definite; standard errors are NaN "
            "(the model may be weakly identified: check items with extreme parameters)",
            ConvergenceWarning,
            stacklevel=2,
        )
        cov = None
    # ---- assemble result
    d_out = np.full((J, max(Kmax - 1, 1)), np.nan)
    for j in range(J):
        d_out[j, : int(K[j]) - 1] = st.d[j, : int(K[j]) - 1]
    c_out = np.where(marr == "3pl", st.c, 0.0)
    params = ItemParameters(model=tuple(models), a=st.a.copy(), d=d_out, c=c_out, item_names=names)
    se_a, se_d, se_c = np.full(J, np.nan), np.full_like(d_out, np.nan), np.full(J, np.nan)
    se_mu, se_sd = np.full(G, np.nan), np.full(G, np.nan)
    if cov is not None:
        sev = np.sqrt(np.diag(cov))
        for i, (k, r, cc) in enumerate(idx):
            if k == "a":
                if prob.model[r] == "1pl" and prob.common_a:
                    se_a[(marr == "1pl") & free] = sev[i]
                else:
                    se_a[r] = sev[i]
            elif k == "d":
                se_d[r, cc] = sev[i]
            elif k == "c":
                se_c[r] = sev[i]
            elif k == "mu":
                se_mu[r] = sev[i]
            else:
                se_sd[r] = sev[i]
    n_par = len(idx)
    return Calibration(
        params=params, se_a=se_a, se_d=se_d, se_c=se_c, loglik=float(loglik),
        aic=float(-2 * loglik + 2 * n_par), bic=float(-2 * loglik + n_par * np.log(n_persons)),
        n_iter=n_iter, converged=converged, group_labels=glabels, group_means=st.mu.copy(),
        group_sds=st.sd.copy(), se_group_means=se_mu, se_group_sds=se_sd, group_n=group_n,
        reference_group=glabels[ref], n_persons=n_persons, n_parameters=n_par, se_method=se_method,
        covariance=cov, parameter_names=tuple(_pretty(pnames, names, glabels)), quadrature=theta,
    )


def _check_identified(
    models: list[str],
    K: NDArray[np.int64],
    free: NDArray[np.bool_],
    rasch: bool,
    mu_free: NDArray[np.bool_],
    sd_free: NDArray[np.bool_],
) -> None:
    """Refuse calibrations with more free parameters than distinct response patterns.

    Each group's pattern frequencies carry ``prod(K_j) - 1`` degrees of freedom; a model
    with more free slopes, intercepts and latent means/SDs cannot be identified (one free
    2PL item has a slope and an intercept for one proportion; 2PL needs three items). 3PL
    lower asymptotes are not counted: their Beta prior identifies them. Necessary, not
    sufficient (missing data reduce the degrees of freedom further).
    """
    J = len(models)
    if J > 30:  # 2**31 patterns: never binding
        return
    n_par = int(mu_free.sum() + sd_free.sum())
    one_pl = False
    for j, m in enumerate(models):
        if not free[j]:
            continue
        n_par += int(K[j]) - 1  # intercepts
        if m == "1pl":
            one_pl = True
        else:
            n_par += 1  # own slope
    n_par += int(one_pl and not rasch)  # common 1pl slope
    G = mu_free.shape[0]
    df = G * (math.prod(int(k) for k in K) - 1)
    if n_par > df:
        raise ScoringInputError(
            f"model: not identified: {n_par} free parameters (slopes, intercepts, latent means/SDs) but the "
            f"response patterns of {J} item(s) give only {df} degrees of freedom; calibrate at least 3 items "
            "together (2 for 1pl/rasch) or hold some at known values with fixed="
        )


# free estimates this close to the M-step's caps (|a| < 50, |d| < 100, 0 < c < 1) sit on the boundary
_A_CAP, _D_CAP, _C_EDGE = 49.5, 99.0, 1e-6


def _warn_at_bounds(prob: _Problem, st: _State, names: tuple[str, ...]) -> None:
    """ConvergenceWarning naming every free item whose estimate ran into an internal bound."""
    hits: list[str] = []
    allowed: list[str] = []  # c at an edge where the prior's density is finite (a shape of 1)
    al, be = prob.prior_c
    for j in np.flatnonzero(prob.free):
        k = int(prob.K[j])
        if abs(st.a[j]) >= _A_CAP:
            hits.append(f"{names[j]!r} a = {st.a[j]:.6g}")
        dd = st.d[j, : k - 1]
        if np.any(np.abs(dd) >= _D_CAP):
            hits.append(f"{names[j]!r} d = {dd[np.argmax(np.abs(dd))]:.6g}")
        if prob.model[j] == "3pl" and not (_C_EDGE < st.c[j] < 1 - _C_EDGE):
            edge_allowed = al == 1 if st.c[j] <= _C_EDGE else be == 1
            (allowed if edge_allowed else hits).append(f"{names[j]!r} c = {st.c[j]:.3g}")
    if allowed:
        warnings.warn(
            f"calibrate: lower asymptote at the edge of (0, 1) for item {'; item '.join(allowed)}: prior_c = "
            f"({al:g}, {be:g}) has a shape of 1, so its density allows that edge and the data put c there (at 0: "
            "the item shows no guessing). The estimate is usable but its SE is not (a bound, not an interior "
            "maximum): fit such an item as 2pl, or use shapes > 1 to keep c inside (0, 1).",
            ConvergenceWarning,
            stacklevel=3,
        )
    if hits:
        warnings.warn(
            f"calibrate: estimate at the bound of the parameter space for item {'; item '.join(hits)} "
            "(|a| < 50, |d| < 100, 0 < c < 1): such an item separates the persons perfectly or never "
            "discriminates, so its estimate and SE are meaningless. Check its scoring key, drop it, or fix it.",
            ConvergenceWarning,
            stacklevel=3,
        )


def _pretty(pnames: list[str], names: tuple[str, ...], glabels: tuple[Any, ...]) -> list[str]:
    out = []
    for p in pnames:
        if "[" in p:
            head, rest = p.split("[", 1)
            i = int(rest.rstrip("]"))
            out.append(f"{head}[{glabels[i]}]" if head in ("mean", "sd") else f"{head}[{names[i]}]")
        else:
            out.append(p)
    return out


def _parse_model(m: str, name: str) -> str:
    ml = {"rasch": "1pl", "graded": "grm"}.get(str(m).lower(), str(m).lower())
    if ml not in MODEL_NAMES:
        raise ScoringInputError(f"fixed: item {name!r} has unknown model {m!r}; expected one of {MODEL_NAMES}")
    return ml


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


def _start_values(prob: _Problem, counts: NDArray[np.int64], fixed_spec: dict[int, dict[str, Any]]) -> _State:
    J, Kmax = prob.J, prob.Kmax
    c_start = _start_c(prob.prior_c)
    a = np.ones(J)
    d = np.full((J, max(Kmax - 1, 1)), np.nan)
    c = np.zeros(J)
    shrink = 1.16  # the marginal logit of a unit-slope item under N(0, 1) is about logit / 1.16
    for j in range(J):
        K = int(prob.K[j])
        if j in fixed_spec:
            spec = fixed_spec[j]
            dd = np.asarray(spec["d"], dtype=np.float64)
            if dd.shape[0] != K - 1:
                raise ScoringInputError(f"fixed: item {j} needs {K - 1} intercept(s) 'd'; found {dd.shape[0]}")
            a[j], d[j, : K - 1] = spec["a"], dd
            c[j] = spec["c"] if prob.model[j] == "3pl" else 0.0
            continue
        cnt = np.zeros(K)
        kk = min(K, counts.shape[1])
        cnt[:kk] = counts[j, :kk]
        cnt += 0.5
        m = prob.model[j]
        if m in ("1pl", "2pl", "3pl"):
            p = cnt[1] / cnt.sum()
            if m == "3pl":
                c[j] = c_start
                p = min(max((p - c[j]) / (1 - c[j]), 0.05), 0.95)
            d[j, 0] = float(logit(p)) * shrink
        elif m == "grm":
            ge = np.cumsum(cnt[::-1])[::-1][1:] / cnt.sum()
            d[j, : K - 1] = logit(ge) * shrink
        else:
            d[j, : K - 1] = np.log(cnt[1:] / cnt[:-1])
    return _State(a=a, d=d, c=c, mu=np.zeros(prob.G), sd=np.ones(prob.G))


def _em_map(prob: _Problem, st: _State, dtype: Any) -> tuple[_State, float]:
    loglik, R, Ng, _, _ = _estep(prob, st, dtype)
    r, n = _category_counts(prob, R, Ng)
    new = st.copy()
    _mstep_items(prob, new, r, n)
    _mstep_latent(prob, new, Ng)
    return new, loglik


def _run_em(
    prob: _Problem,
    st: _State,
    idx: list[tuple[str, int, int]],
    dtype: Any,
    max_iter: int,
    tol: float,
    accelerate: bool,
    progress: Callable[[int, float, float], None] | None,
) -> tuple[_State, float, int, bool]:
    pack, unpack = _make_packers(prob, idx)
    it = 0
    loglik = -np.inf
    converged = False

    def step(s: _State) -> tuple[_State, float, float]:
        nonlocal it
        new, ll = _em_map(prob, s, dtype)
        it += 1
        change = float(np.abs(_pack(idx, new) - _pack(idx, s)).max()) if idx else 0.0
        if progress is not None:
            progress(it, ll, change)
        return new, ll, change

    if not idx:
        return st, _estep(prob, st, dtype)[0], 0, True
    # float32 E-steps make the log-likelihood noisy at ~1e-7 relative: tolerate that in the monotonicity check
    ll_slack = 1e-6 * prob.w.sum() if dtype == np.float32 else 1e-8 * prob.w.sum()
    while it < max_iter:
        s1, ll0, ch1 = step(st)
        if ch1 < tol:
            st, loglik, converged = s1, ll0, True
            break
        if not accelerate or it + 2 > max_iter:
            st, loglik = s1, ll0
            continue
        s2, ll1, ch2 = step(s1)
        if ch2 < tol:
            st, loglik, converged = s2, ll1, True
            break
        x0, x1, x2 = pack(st), pack(s1), pack(s2)
        r_ = x1 - x0
        v_ = (x2 - x1) - r_
        alpha = -float(np.sqrt(float(r_ @ r_) / max(float(v_ @ v_), 1e-300)))
        alpha = min(-1.0, max(alpha, -50.0))
        x_new = x0 - 2 * alpha * r_ + alpha**2 * v_
        cand = unpack(x_new, s2)
        if _state_valid(prob, cand):
            s3, ll3, ch3 = step(cand)
            if ll3 >= ll1 - ll_slack and _state_valid(prob, s3):
                st, loglik = s3, ll3
                if ch3 < tol and np.abs(pack(s3) - x2).max() < 10 * tol:
                    converged = True
                    break
                continue
        st, loglik = s2, ll1
    return st, loglik, it, converged
