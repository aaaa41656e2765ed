"""Person ability estimation: EAP, MAP, MLE and WLE, vectorised over persons.

All estimators process every person in one pass (chunks of persons bound the
memory; there is no loop over persons):

``eap``
    Posterior mean and SD on a rectangular quadrature grid with a normal
    prior (Bock & Mislevy, 1982). The ``(nodes x persons)`` log-likelihood
    is one matrix product of a one-hot response design with the log
    category probabilities (the same construction as the calibration E-step).
``map``
    Posterior mode; SE = ``1 / sqrt(I(theta) + 1 / prior_sd^2)``.
``mle``
    Maximum likelihood; SE = ``1 / sqrt(I(theta))``.
    Patterns with every observed response in the lowest (highest) category
    have no finite MLE: they are set to ``bounds[0]`` (``bounds[1]``) with the
    (finite) SE at that bound, and flagged in ``AbilityEstimates.extreme``.
``wle``
    Warm's (1989) weighted likelihood: the root of
    ``dlogL/dtheta + J(theta) / (2 I(theta)) = 0`` with
    ``J = sum_jk P'_jk P''_jk / P_jk``; finite for extreme patterns.
    SE = ``1 / sqrt(I(theta))`` as in mirt.

MAP, MLE and WLE solve their estimating equation ``psi(theta) = 0`` in two
vectorised stages: ``psi`` and its integral (the log-likelihood or
log-posterior; for WLE the integral of Warm's function, which is
``log L + log I / 2`` for 2PL/GPCM items) are computed for all persons on a
common grid of spacing 0.25 by matrix products; the descending sign change
with the largest integral brackets the estimate (a 3PL likelihood, or Warm's
function of a short test with far-apart items, can have several roots; the
global maximum is taken). Safeguarded Newton (secant for WLE) steps inside
the shrinking bracket, with bisection when a step leaves it or fails to
halve ``|psi|``, then converge to ``tol``; a ``ConvergenceWarning`` reports
persons still iterating at ``max_iter``.

Persons without any response get NaN for MLE/WLE and the prior (mean, SD)
for EAP/MAP.

References
----------
Bock, R. D., & Mislevy, R. J. (1982). Adaptive EAP estimation of ability in a
microcomputer environment. *Applied Psychological Measurement*, 6, 431-444.
Warm, T. A. (1989). Weighted likelihood estimation of ability in item response
theory. *Psychometrika*, 54, 427-450.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.special import expit

from ._blas import blas_threads
from ._quadrature import quadrature_grid
from .errors import ConvergenceWarning, ScoringInputError
from .models import (
    DICHOTOMOUS_MODELS,
    ItemParameters,
    log_category_probabilities,
    test_information,
)

__all__ = [
    "AbilityEstimates",
    "conditional_se",
    "empirical_reliability",
    "estimate_ability",
    "marginal_reliability",
]

F64 = NDArray[np.float64]
Method = Literal["eap", "map", "mle", "wle"]
_CHUNK = 65536


@dataclass(frozen=True, eq=False)
class AbilityEstimates:
    """Result of :func:`estimate_ability`.

    Attributes
    ----------
    theta : ndarray, shape ``(N,)``
    se : ndarray, shape ``(N,)``
        Posterior SD (EAP) or ``1/sqrt(information)`` (MAP adds the prior's).
    method : str
    n_responses : ndarray of int, shape ``(N,)``
        Number of observed responses per person.
    extreme : ndarray of bool, shape ``(N,)``
        All observed responses in the lowest or highest category.
    """

    theta: F64
    se: F64
    method: str
    n_responses: NDArray[np.int64]
    extreme: NDArray[np.bool_]

    def __len__(self) -> int:
        return int(self.theta.shape[0])


def _as_codes(X: F64, params: ItemParameters, argument: str, row0: int = 0) -> NDArray[np.int8]:
    """Validate a chunk and convert to int8 category codes (-1 = missing); few passes over the data."""
    obs = ~np.isnan(X)
    Xw = X if obs.all() else np.where(obs, X, -1.0)
    kmax = (params.n_categories - 1).astype(np.float64)
    xmin = np.fmin.reduce(X.ravel()) if X.size else 0.0
    bad: NDArray[np.bool_] | None = None
    if (np.isfinite(xmin) and xmin < 0) or np.isinf(xmin) or (Xw > kmax[None, :]).any():
        bad = ((Xw < 0) & obs) | (Xw > kmax[None, :])
    else:
        codes = Xw.astype(np.int8)
        if (codes != Xw).any():
            bad = codes != Xw
    if bad is not None:
        i, j = np.argwhere(bad)[0]
        raise ScoringInputError(
            f"{argument}: item {params.item_names[j]!r} (column {j}) expects NaN or an integer category "
            f"0..{int(kmax[j])}; found {float(X[i, j]):g} at row {row0 + i}"
        )
    return codes


def _design(params: ItemParameters) -> tuple[NDArray[np.intp], NDArray[np.intp]]:
    K = params.n_categories
    ycol_item = np.concatenate([np.full(int(K[j]) - 1, j) for j in range(params.n_items)]).astype(np.intp)
    ycol_cat = np.concatenate([np.arange(1, int(K[j])) for j in range(params.n_items)]).astype(np.intp)
    return ycol_item, ycol_cat


def _eap_chunk(
    codes: NDArray[np.int8],
    LP: F64,
    grid: F64,
    ycol: tuple[NDArray[np.intp], NDArray[np.intp]],
    mu: F64,
    sd: F64,
) -> tuple[F64, F64, tuple[NDArray[np.int64], NDArray[np.bool_], NDArray[np.bool_]]]:
    """EAP and posterior SD for a chunk, plus (n_responses, all-lowest, all-highest) flags."""
    yi, yk = ycol
    n = codes.shape[0]
    obs = codes >= 0
    missing = not obs.all()
    C1 = yi.shape[0]
    W = LP[:, yi, yk] - LP[:, yi, 0]  # (Q, C1)
    if codes.shape[1] == C1 and np.all(yk == 1):
        Y = codes == 1  # all items dichotomous: the design is the 0/1 matrix itself
    else:
        Y = codes[:, yi] == yk[None, :]
    if missing:
        Z = np.concatenate([Y, obs], axis=1).astype(np.float32)
        W = np.concatenate([W, LP[:, :, 0]], axis=1)
        const = np.zeros(grid.shape[0])
    else:
        Z = Y.astype(np.float32)
        const = LP[:, :, 0].sum(axis=1)
    # response counts from the design by BLAS mat-vecs: observed, non-zero and top-category responses
    top_col = np.zeros(Z.shape[1], dtype=np.float32)
    top_col[:C1] = yk == (np.bincount(yi, minlength=LP.shape[1])[yi])
    ycols = np.zeros(Z.shape[1], dtype=np.float32)
    ycols[:C1] = 1.0
    n_top = Z @ top_col
    n_pos = Z @ ycols
    if missing:
        ocols = np.zeros(Z.shape[1], dtype=np.float32)
        ocols[C1:] = 1.0
        nr = Z @ ocols
    else:
        nr = np.full(n, float(LP.shape[1]), dtype=np.float32)
    counts = (nr.astype(np.int64), (n_pos == 0) & (nr > 0), (n_top == nr) & (nr > 0))
    L = W.astype(np.float32) @ Z.T  # (Q, n)
    if mu.shape[0] == 1:
        L += (const - 0.5 * ((grid - mu[0]) / sd[0]) ** 2).astype(np.float32)[:, None]
    else:
        L += const.astype(np.float32)[:, None]
        L -= (0.5 * ((grid[:, None] - mu[None, :]) / sd[None, :]) ** 2).astype(np.float32)
    L -= L.max(axis=0)
    np.maximum(L, -70.0, out=L)  # avoid float32 denormals (slow) for negligible nodes
    np.exp(L, out=L)
    s = np.ones(grid.shape[0], dtype=np.float32) @ L
    g32 = grid.astype(np.float32)
    m1 = (g32 @ L).astype(np.float64) / s
    m2 = ((g32 * g32) @ L).astype(np.float64) / s
    return m1, np.sqrt(np.clip(m2 - m1 * m1, 0.0, None)), counts


def _derivs(t: F64, params: ItemParameters, want_second: bool) -> tuple[F64, F64, F64 | None]:
    """P, dP/dtheta and d2P/dtheta2 at person-specific theta: each (n, J, Kmax)."""
    m = np.array(params.model)
    a, d, c = params.a, params.d, params.c
    dich = np.isin(m, list(DICHOTOMOUS_MODELS))
    L = expit(t[:, None] * a[dich] + d[dich, 0]) if dich.any() else np.zeros((t.shape[0], 0))
    if dich.all():  # fast path: no logs needed
        P1 = c + (1 - c) * L
        P = np.stack([1 - P1, P1], axis=2)
    else:
        P = np.exp(log_category_probabilities(t, params))
    n, _J, K = P.shape
    dP = np.zeros_like(P)
    d2P = np.zeros_like(P) if want_second else None
    if dich.any():
        s = (1 - c[dich]) * L * (1 - L)
        dP1 = a[dich] * s
        dP[:, dich, 1], dP[:, dich, 0] = dP1, -dP1
        if d2P is not None:
            d2 = a[dich] ** 2 * s * (1 - 2 * L)
            d2P[:, dich, 1], d2P[:, dich, 0] = d2, -d2
    grm = m == "grm"
    if grm.any():
        sub = params.take(grm)
        dg = sub.d
        z = t[:, None, None] * sub.a[None, :, None] + dg[None]
        nan = np.isnan(z)
        ps = np.where(nan, 0.0, expit(np.where(nan, 0.0, z)))
        w = sub.a[None, :, None] * ps * (1 - ps)
        zero = np.zeros((n, dg.shape[0], 1))
        wf = np.concatenate([zero, w, zero], axis=2)
        kk = dg.shape[1] + 1
        dP[:, grm, :kk] = wf[:, :, :-1] - wf[:, :, 1:]
        if d2P is not None:
            w2 = sub.a[None, :, None] * w * (1 - 2 * ps)
            w2f = np.concatenate([zero, w2, zero], axis=2)
            d2P[:, grm, :kk] = w2f[:, :, :-1] - w2f[:, :, 1:]
    gp = m == "gpcm"
    if gp.any():
        Pg = P[:, gp]
        k = np.arange(K, dtype=np.float64)
        Ek = Pg @ k
        dev = a[gp][None, :, None] * (k[None, None, :] - Ek[..., None])  # dlogP/dtheta
        dP[:, gp] = Pg * dev
        if d2P is not None:
            var = a[gp] ** 2 * np.clip(Pg @ (k * k) - Ek**2, 0.0, None)
            d2P[:, gp] = Pg * (dev**2 - var[..., None])
    return P, dP, d2P


# spacing of the common grid on which every person's estimating equation is bracketed
_GRID_STEP = 0.25


def _grid_equation(
    codes: NDArray[np.int8], params: ItemParameters, method: str, grid: F64, mu: F64, sd: F64
) -> tuple[F64, F64]:
    """Estimating function ``psi`` and its integral ``phi`` for every person on a common grid, each ``(n, Q)``.

    ``psi`` is the derivative of the objective (log-likelihood, log-posterior) or Warm's
    function; ``phi`` is that objective (for WLE the trapezoidal integral of ``psi``, which
    for exponential-family items is ``log L + log I / 2``). The grid is shared, so both are
    matrix products of the response design with per-item values, as in the EAP.
    """
    P, dP, d2P = _derivs(grid, params, method == "wle")
    Ps = np.maximum(P, 1e-300)
    G = dP / Ps  # (Q, J, K) d log P / d theta
    yi, yk = _design(params)
    obs = codes >= 0
    Z = np.concatenate([codes[:, yi] == yk[None, :], obs], axis=1).astype(np.float64)
    psi = Z @ np.concatenate([G[:, yi, yk] - G[:, yi, 0], G[:, :, 0]], axis=1).T
    if method == "wle":
        assert d2P is not None
        o = obs.astype(np.float64)
        info = o @ (dP * G).sum(axis=2).T
        jw = o @ (d2P * G).sum(axis=2).T
        psi += jw / (2 * np.maximum(info, 1e-300))
        area = 0.5 * (psi[:, 1:] + psi[:, :-1]) * np.diff(grid)
        phi = np.concatenate([np.zeros((codes.shape[0], 1)), np.cumsum(area, axis=1)], axis=1)
    else:
        LP = np.log(Ps)
        phi = Z @ np.concatenate([LP[:, yi, yk] - LP[:, yi, 0], LP[:, :, 0]], axis=1).T
        if method == "map":
            z = (grid[None, :] - mu[:, None]) / sd[:, None]
            psi -= z / sd[:, None]
            phi -= 0.5 * z * z
    return psi, phi


def _equation_at(
    t: F64, codes: NDArray[np.int8], params: ItemParameters, method: str, mu: F64, sd: F64
) -> tuple[F64, F64, F64 | None]:
    """``psi``, the test information and (MLE/MAP) ``dpsi/dtheta`` at person-specific ``t``, each ``(n,)``."""
    P, dP, d2P = _derivs(t, params, True)
    assert d2P is not None
    Ps = np.maximum(P, 1e-300)
    G = dP / Ps
    o = (codes >= 0).astype(np.float64)
    k = np.maximum(codes, 0).astype(np.intp)[:, :, None]
    psi = (np.take_along_axis(G, k, axis=2)[:, :, 0] * o).sum(axis=1)
    info = ((dP * G).sum(axis=2) * o).sum(axis=1)
    if method == "wle":
        psi += ((d2P * G).sum(axis=2) * o).sum(axis=1) / (2 * np.maximum(info, 1e-300))
        return psi, info, None
    H = d2P / Ps - G * G  # d2 log P / dtheta2
    slope = (np.take_along_axis(H, k, axis=2)[:, :, 0] * o).sum(axis=1)
    if method == "map":
        psi -= (t - mu) / sd**2
        slope -= 1 / sd**2
    return psi, info, slope


def _solve(
    codes: NDArray[np.int8],
    params: ItemParameters,
    method: str,
    mu: F64,
    sd: F64,
    bounds: tuple[float, float],
    max_iter: int,
    tol: float,
) -> tuple[F64, F64, int]:
    """MLE, MAP or WLE of every person by a safeguarded root search; returns (theta, se, n not converged).

    1. ``psi`` is evaluated on a common grid (spacing 0.25) for all persons at once; every
       descending sign change brackets a local maximum of the objective ``phi``, and the
       bracket with the largest ``phi`` is kept (a non-concave 3PL likelihood can have
       several). When ``phi`` is largest at a bound that the estimating function points
       past, the estimate is that bound.
    2. Inside the bracket ``[lo, hi]`` (``psi(lo) > 0 > psi(hi)``, shrunk at every
       evaluation) Newton steps with the exact slope (MLE, MAP) or secant steps (WLE, whose
       slope needs third derivatives) are taken; a step that leaves the bracket, or follows
       a step that did not halve ``|psi|``, is replaced by bisection. Persons stop when the
       step is below ``tol``; all of this is vectorised over the persons still iterating.
    """
    n = codes.shape[0]
    mu_n = np.broadcast_to(mu, (n,))
    sd_n = np.broadcast_to(sd, (n,))
    nq = max(int(np.ceil((bounds[1] - bounds[0]) / _GRID_STEP)), 1) + 1
    grid = np.linspace(bounds[0], bounds[1], nq)
    psi, phi = _grid_equation(codes, params, method, grid, mu_n, sd_n)
    cand = np.full((n, nq + 1), -np.inf)
    cand[:, 0] = np.where(psi[:, 0] <= 0, phi[:, 0], -np.inf)
    cand[:, 1:-1] = np.where((psi[:, :-1] > 0) & (psi[:, 1:] <= 0), np.maximum(phi[:, :-1], phi[:, 1:]), -np.inf)
    cand[:, -1] = np.where(psi[:, -1] >= 0, phi[:, -1], -np.inf)
    best = np.argmax(cand, axis=1)
    t = np.where(best == 0, grid[0], grid[-1])
    act = np.flatnonzero((best > 0) & (best < nq))
    q = best[act] - 1
    lo, hi = grid[q], grid[q + 1]
    flo, fhi = psi[act, q], psi[act, q + 1]
    t[act] = hi  # exact when psi(hi) == 0
    keep = fhi != 0
    act, lo, hi, flo, fhi = act[keep], lo[keep], hi[keep], flo[keep], fhi[keep]
    # first point: the secant of the bracket (regula falsi); "previous point" for the WLE secant: lo
    x = (lo * fhi - hi * flo) / (fhi - flo)
    xp, fp = lo, flo
    f_last = np.full(act.size, np.inf)  # |psi| before the last Newton/secant step
    info = np.full(n, np.nan)  # test information at the last evaluation (within tol of the estimate)
    for _ in range(max_iter):
        if act.size == 0:
            break
        f, info[act], slope = _equation_at(x, codes[act], params, method, mu_n[act], sd_n[act])
        t[act] = x
        pos, neg = f > 0, f < 0
        lo, hi = np.where(pos, x, lo), np.where(neg, x, hi)
        if slope is None:
            with np.errstate(divide="ignore", invalid="ignore"):
                slope = (f - fp) / (x - xp)
        with np.errstate(divide="ignore", invalid="ignore"):
            step = -f / slope
        new = x + step
        small = (slope < 0) & (np.abs(step) < tol)  # converged: take the (tiny) last step
        done = ~(pos | neg) | (hi - lo < tol) | small
        t[act] = np.where(small & (pos | neg), np.clip(new, lo, hi), x)
        stalled = np.abs(f) > 0.5 * f_last
        bisect = ~(np.isfinite(new) & (slope < 0) & (new > lo) & (new < hi)) | stalled
        new = np.where(bisect, 0.5 * (lo + hi), new)
        f_last = np.where(bisect, np.inf, np.abs(f))
        xp, fp = x, f
        go = ~done
        act, lo, hi, x, xp, fp, f_last = act[go], lo[go], hi[go], new[go], xp[go], fp[go], f_last[go]
    rest = np.flatnonzero(np.isnan(info))  # estimates on a bound or on a grid point
    if rest.size:
        info[rest] = _equation_at(t[rest], codes[rest], params, "mle", mu_n[rest], sd_n[rest])[1]
    if method == "map":
        info = info + 1 / sd_n**2
    with np.errstate(divide="ignore"):
        se = 1 / np.sqrt(info)
    return t, se, int(act.size)


def _per_person(x: ArrayLike, n: int, name: str, positive: bool) -> F64:
    arr = np.atleast_1d(np.asarray(x, dtype=np.float64))
    if arr.ndim != 1 or arr.shape[0] not in (1, n):
        raise ScoringInputError(f"{name}: expected a scalar or one value per person ({n},); found shape {arr.shape}")
    if not np.all(np.isfinite(arr)) or (positive and np.any(arr <= 0)):
        raise ScoringInputError(f"{name}: expected finite{' positive' if positive else ''} values; found {arr[:5]}")
    return arr


def estimate_ability(
    responses: ArrayLike,
    params: ItemParameters,
    method: Method = "eap",
    *,
    prior_mean: ArrayLike = 0.0,
    prior_sd: ArrayLike = 1.0,
    n_quad: int = 61,
    bounds: tuple[float, float] = (-6.0, 6.0),
    max_iter: int = 100,
    tol: float = 1e-8,
) -> AbilityEstimates:
    """Estimate every person's ability in one vectorised pass.

    Parameters
    ----------
    responses : array_like, shape ``(N, J)``
        Item scores with NaN for missing; columns in the order of ``params``.
    params : ItemParameters
        ``J`` items.
    method : {"eap", "map", "mle", "wle"}
        As mirt's ``fscores(method="EAP"|"MAP"|"ML"|"WLE")``.
    prior_mean, prior_sd : float or array_like of shape ``(N,)``
        Normal prior for EAP/MAP (e.g. a group's estimated mean and SD).
    n_quad : int
        EAP quadrature nodes on ``bounds``.
    bounds : (float, float)
        EAP grid range, and the range of MLE/WLE/MAP estimates (MLE of
        extreme patterns is set to the bound).
    max_iter, tol : int, float
        Root-search iterations per person and convergence tolerance on theta
        (MAP/MLE/WLE; a ``ConvergenceWarning`` names how many persons hit ``max_iter``).

    Returns
    -------
    AbilityEstimates
    """
    try:
        X = np.asarray(responses, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ScoringInputError(f"responses: expected a numeric (persons x items) array; {exc}") from None
    if not isinstance(params, ItemParameters):
        raise ScoringInputError(f"params: expected ItemParameters; found {type(params).__name__}")
    if X.ndim != 2 or X.shape[1] != params.n_items:
        raise ScoringInputError(
            f"responses: expected shape (n_persons, {params.n_items}) matching params.n_items; found shape {X.shape}"
        )
    meth = str(method).lower()
    meth = {"ml": "mle"}.get(meth, meth)
    if meth not in ("eap", "map", "mle", "wle"):
        raise ScoringInputError(f"method: expected 'eap', 'map', 'mle' or 'wle'; found {method!r}")
    N = X.shape[0]
    mu = _per_person(prior_mean, N, "prior_mean", False)
    sd = _per_person(prior_sd, N, "prior_sd", True)
    grid = quadrature_grid(n_quad, bounds)
    LP = np.maximum(log_category_probabilities(grid, params), -1e300)
    ycol = _design(params)
    theta = np.empty(N)
    se = np.empty(N)
    nresp = np.empty(N, dtype=np.int64)
    extreme = np.zeros(N, dtype=bool)
    not_converged = 0
    with blas_threads():
        for i0 in range(0, N, _CHUNK):
            sl = slice(i0, min(N, i0 + _CHUNK))
            codes = _as_codes(X[sl], params, "responses", i0)
            mu_c = mu if mu.shape[0] == 1 else mu[sl]
            sd_c = sd if sd.shape[0] == 1 else sd[sl]
            t_eap, s_eap, (nr, lo, hi) = _eap_chunk(codes, LP, grid, ycol, mu_c, sd_c)
            nresp[sl] = nr
            extreme[sl] = lo | hi
            if meth == "eap":
                theta[sl] = np.where(nr == 0, mu_c, t_eap)
                se[sl] = np.where(nr == 0, sd_c, s_eap)
                continue
            t, s, n_bad = _solve(codes, params, meth, mu_c, sd_c, bounds, max_iter, tol)
            not_converged += n_bad
            if meth == "mle":
                # extreme patterns: at the bound their likelihood increases towards (already set by _solve)
                t_ext = np.where(lo, bounds[0], np.where(hi, bounds[1], t))
                moved = np.flatnonzero(t_ext != t)
                if moved.size:
                    t = t_ext
                    P, dP, _ = _derivs(t[moved], params, False)
                    o = (codes[moved] >= 0).astype(np.float64)
                    with np.errstate(divide="ignore"):
                        s[moved] = 1 / np.sqrt(((dP * dP / np.maximum(P, 1e-300)).sum(axis=2) * o).sum(axis=1))
            if meth in ("mle", "wle"):
                t = np.where(nr == 0, np.nan, t)
                s = np.where(nr == 0, np.nan, s)
            else:
                t = np.where(nr == 0, mu_c, t)
                s = np.where(nr == 0, sd_c, s)
            theta[sl], se[sl] = t, s
    if not_converged:
        warnings.warn(
            f"estimate_ability: the {meth.upper()} root search stopped at max_iter={max_iter} before the step fell "
            f"below tol={tol:g} for {not_converged} of {N} persons; raise max_iter or tol",
            ConvergenceWarning,
            stacklevel=2,
        )
    return AbilityEstimates(theta=theta, se=se, method=meth, n_responses=nresp, extreme=extreme)


def conditional_se(theta: ArrayLike, params: ItemParameters) -> F64:
    """Conditional standard error of measurement ``1 / sqrt(I(theta))``, shape ``(n,)``."""
    info = test_information(theta, params)
    with np.errstate(divide="ignore"):
        return np.asarray(1.0 / np.sqrt(info))


def marginal_reliability(
    params: ItemParameters,
    *,
    prior_mean: float = 0.0,
    prior_sd: float = 1.0,
    n_quad: int = 121,
    bounds: tuple[float, float] = (-6.0, 6.0),
) -> float:
    """Marginal reliability ``var / (var + E[1 / I(theta)])`` over the normal prior.

    As mirt's ``marginal_rxx``: the expected error variance is the
    prior-weighted mean of ``1 / I(theta)``.
    """
    grid = quadrature_grid(n_quad, bounds)
    w = np.exp(-0.5 * ((grid - prior_mean) / prior_sd) ** 2)
    w /= w.sum()
    info = test_information(grid, params)
    err = float(w @ (1.0 / np.maximum(info, 1e-300)))
    v = prior_sd**2
    return v / (v + err)


def empirical_reliability(estimates: AbilityEstimates) -> float:
    """Empirical reliability ``var(theta_hat) / (var(theta_hat) + mean(se^2))`` (mirt's ``empirical_rxx``)."""
    ok = np.isfinite(estimates.theta) & np.isfinite(estimates.se)
    if ok.sum() < 2:
        raise ScoringInputError("estimates: need at least two persons with finite theta and SE")
    v = float(np.var(estimates.theta[ok]))
    e = float(np.mean(estimates.se[ok] ** 2))
    return v / (v + e)
