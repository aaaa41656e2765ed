"""Item fit statistics: Rasch infit/outfit and Orlando–Thissen S-X2.

Infit / outfit (``statistic="infit_outfit"``)
    Mean squares of standardized residuals given person estimates (Wright &
    Masters, 1982). For person i and item j with expected score ``E``,
    variance ``W = sum_k (k - E)^2 P_k`` and kurtosis term
    ``C = sum_k (k - E)^4 P_k``::

        outfit_j = mean_i (x - E)^2 / W          (unweighted)
        infit_j  = sum_i (x - E)^2 / sum_i W     (information weighted)

    and their Wilson–Hilferty standardizations
    ``t = (MS^(1/3) - 1) (3 / q) + q / 3`` with
    ``q^2 = sum_i C / W^2 / N^2 - 1 / N`` (outfit) or
    ``q^2 = sum_i (C - W^2) / (sum_i W)^2`` (infit). Both are expected to be
    near 1 (t near 0) for fitting items; they are the customary Rasch/1PL
    statistics but are computed for any model. Persons with an extreme
    raw score (all answered items at the minimum or at the maximum) are left
    out by default, as Winsteps does, because their residuals carry no
    information about the item. With person estimates computed from the same
    responses (the default WLE) each person spends about one degree of
    freedom on theta, so on a short test of L items the mean squares sit near
    ``(L - 1) / L`` rather than 1 and the t statistics are biased negative
    (about -3 for 12 items and 3,000 persons): judge items against each other
    or use the 0.7–1.3 band, or pass ``theta`` estimated independently.

S-X2 (``statistic="s_x2"``; Orlando & Thissen, 2000, 2003)
    For every total score ``s`` the observed proportion of persons in each
    category of item j is compared with the model-implied one::

        E_jk(s) = ∫ P_jk(θ) f*_j(s - k | θ) φ(θ) dθ  /  ∫ f(s | θ) φ(θ) dθ

    where ``f`` and ``f*_j`` are the summed-score likelihoods of the whole
    test and of the test without item j, computed by the Lord–Wingersky
    (1984) recursion vectorized over the quadrature nodes (default: 61 equally
    spaced nodes on [-6, 6] with normal weights, R mirt's default grid).
    ``S-X2 = sum_s sum_k N_s (O_jk(s) - E_jk(s))^2 / E_jk(s)`` over total
    scores 1..max-1 (the extremes carry no information). Sparse cells are
    pooled as R mirt's ``itemfit(fit_stats = "S_X2")`` does (``mincell = 1``):
    for items with K > 2 categories the structurally incomplete score rows at
    each end (scores below K-1 or above max-(K-1)) are first pooled into the
    nearest complete row (Kang & Chen, 2008); then empty score rows are
    dropped and, repeatedly, the first score row with an expected count below
    ``min_expected`` is merged into its neighbour (the first row into the
    second, the last into the one before, otherwise into the neighbour with
    fewer observed persons, ties to the lower score). Degrees of freedom are
    ``sum over remaining rows of (categories with E > 0) - 1`` minus the
    number of estimated item parameters. S-X2 needs every person's total
    score, so persons with any missing response are left out (listwise, as
    mirt with ``na.rm = TRUE``).

References
----------
Wright, B. D., & Masters, G. N. (1982). *Rating Scale Analysis*. MESA Press.
Orlando, M., & Thissen, D. (2000). Likelihood-based item-fit indices for
    dichotomous item response theory models. *Applied Psychological
    Measurement*, 24, 50–64.
Orlando, M., & Thissen, D. (2003). Further investigation of the performance
    of S-X2. *Applied Psychological Measurement*, 27, 289–298.
Lord, F. M., & Wingersky, M. S. (1984). Comparison of IRT true-score and
    equipercentile observed-score "equatings". *Applied Psychological
    Measurement*, 8, 453–461.
Kang, T., & Chen, T. T. (2008). Performance of the generalized S-X2 item fit
    index for polytomous IRT models. *Journal of Educational Measurement*,
    45, 391–406.
Chalmers, R. P. (2012). mirt: A multidimensional item response theory package
    for the R environment. *Journal of Statistical Software*, 48(6), 1–29.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import stats

from .errors import ScoringInputError
from .models import ItemParameters, category_probabilities
from .plausible import _check_responses_for

__all__ = ["ItemFit", "item_fit", "summed_score_distribution"]

_CHUNK = 50_000


@dataclass(frozen=True)
class ItemFit:
    """Item fit statistics, one entry per item.

    Attributes not requested are None.

    Attributes
    ----------
    item_names : tuple of str, length J
    infit, outfit : ndarray, shape (J,) or None
        Mean squares (expected value 1).
    infit_t, outfit_t : ndarray, shape (J,) or None
        Wilson–Hilferty standardized mean squares (approximately N(0, 1)).
    n_fit : ndarray of int, shape (J,) or None
        Persons contributing to the mean squares of each item.
    s_x2 : ndarray, shape (J,) or None
        Orlando–Thissen S-X2.
    df : ndarray, shape (J,) or None
        Its degrees of freedom after pooling (0 when nothing is left to test).
    p_value : ndarray, shape (J,) or None
        Upper-tail chi-square probability (NaN when ``df == 0``).
    n_s_x2 : int or None
        Persons with complete responses used for S-X2.
    """

    item_names: tuple[str, ...]
    infit: NDArray[np.float64] | None = None
    outfit: NDArray[np.float64] | None = None
    infit_t: NDArray[np.float64] | None = None
    outfit_t: NDArray[np.float64] | None = None
    n_fit: NDArray[np.int64] | None = None
    s_x2: NDArray[np.float64] | None = None
    df: NDArray[np.float64] | None = None
    p_value: NDArray[np.float64] | None = None
    n_s_x2: int | None = None


def _default_quadrature(
    points: ArrayLike | None, weights: ArrayLike | None
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    if points is None:
        q = np.linspace(-6.0, 6.0, 61)
        w = np.exp(-0.5 * q * q) if weights is None else np.asarray(weights, dtype=np.float64)
    else:
        q = np.asarray(points, dtype=np.float64).reshape(-1)
        if weights is None:
            raise ScoringInputError("quadrature_weights: required when quadrature_points are given")
        w = np.asarray(weights, dtype=np.float64).reshape(-1)
    if q.size < 2 or not np.all(np.isfinite(q)):
        raise ScoringInputError(f"quadrature_points: expected >= 2 finite points; found {q.size}")
    if w.shape != q.shape or np.any(w < 0) or not np.all(np.isfinite(w)) or not w.sum() > 0:
        raise ScoringInputError(
            f"quadrature_weights: expected {q.size} non-negative weights with a positive sum; found shape {w.shape}"
        )
    return q, w / w.sum()


def summed_score_distribution(
    theta: ArrayLike, params: ItemParameters, items: Sequence[int] | NDArray[np.intp] | None = None
) -> NDArray[np.float64]:
    """Summed-score likelihoods ``P(S = s | theta)`` by the Lord–Wingersky recursion.

    Parameters
    ----------
    theta : array_like, shape (Q,)
    params : ItemParameters
    items : sequence of int, optional
        Items to sum (default all).

    Returns
    -------
    ndarray, shape (Q, S + 1)
        ``S`` is the maximum summed score of the items; rows sum to 1.
    """
    t = np.atleast_1d(np.asarray(theta, dtype=np.float64))
    p = category_probabilities(t, params)
    idx = np.arange(params.n_items) if items is None else np.asarray(items, dtype=np.intp)
    return _lord_wingersky(p, params.n_categories, idx)


def _lord_wingersky(
    p: NDArray[np.float64], ncat: NDArray[np.int64], items: NDArray[np.intp]
) -> NDArray[np.float64]:
    dist = np.ones((p.shape[0], 1))
    for j in items:
        k_j = int(ncat[j])
        new = np.zeros((p.shape[0], dist.shape[1] + k_j - 1))
        for k in range(k_j):
            new[:, k : k + dist.shape[1]] += dist * p[:, j, k, None]
        dist = new
    return dist


def _pool_rows(
    obs: NDArray[np.float64], exp: NDArray[np.float64], minimum: float
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """R mirt's collapseCells: merge the first sparse score row into a neighbour."""
    obs, exp = obs.copy(), exp.copy()
    while obs.shape[0] > 1:
        sparse = np.flatnonzero(((exp < minimum) & (exp != 0)).any(axis=1))
        if sparse.size == 0:
            break
        r = int(sparse[0])
        if r == 0:
            nb = 1
        elif r == obs.shape[0] - 1:
            nb = r - 1
        else:
            nb = r - 1 if obs[r - 1].sum() <= obs[r + 1].sum() else r + 1
        obs[nb] += obs[r]
        exp[nb] += exp[r]
        obs = np.delete(obs, r, axis=0)
        exp = np.delete(exp, r, axis=0)
    return obs, exp


def _s_x2_item(
    obs: NDArray[np.float64], exp: NDArray[np.float64], n_par: float, minimum: float
) -> tuple[float, float, float]:
    n_scores, K = obs.shape
    obs, exp = obs[1:-1].copy(), exp[1:-1].copy()  # drop the extreme total scores
    if K > 2 and obs.shape[0]:
        # rows (0-based after the drop) of s = K-1 and s = max-(K-1): the first and
        # last totals at which every category of the item is possible
        low, high = K - 2, n_scores - K - 1
        if high < low:
            return np.nan, 0.0, np.nan
        if high == low:
            obs, exp = obs.sum(axis=0, keepdims=True), exp.sum(axis=0, keepdims=True)
        else:
            obs[low] += obs[:low].sum(axis=0)
            exp[low] += exp[:low].sum(axis=0)
            obs[high] += obs[high + 1 :].sum(axis=0)
            exp[high] += exp[high + 1 :].sum(axis=0)
            obs, exp = obs[low : high + 1], exp[low : high + 1]
    keep = obs.sum(axis=1) > 0
    obs, exp = obs[keep], exp[keep]
    if obs.shape[0] == 0:
        return np.nan, 0.0, np.nan
    if minimum > 0:
        obs, exp = _pool_rows(obs, exp, minimum * (1.0 - 1e-9))
    pos = exp > 0
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(pos, (obs - exp) ** 2 / np.where(pos, exp, 1.0), 0.0)
    stat = float(terms.sum())
    if np.any(~pos & (obs > 0)):
        stat = np.inf
    df = float(max(np.sum(np.maximum(pos.sum(axis=1) - 1, 0)) - n_par, 0.0))
    p = float(stats.chi2.sf(stat, df)) if df > 0 else np.nan
    return stat, df, p


def _default_n_parameters(params: ItemParameters) -> NDArray[np.float64]:
    ncat = params.n_categories
    out = np.empty(params.n_items)
    for j, m in enumerate(params.model):
        out[j] = {"1pl": 1, "2pl": 2, "3pl": 3}.get(m, int(ncat[j]))  # GRM/GPCM: a + (K-1) intercepts
    return out


def _s_x2(
    x: NDArray[np.float64],
    params: ItemParameters,
    points: NDArray[np.float64],
    weights: NDArray[np.float64],
    n_par: NDArray[np.float64],
    minimum: float,
) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64], int]:
    complete = ~np.isnan(x).any(axis=1)
    xc = x[complete].astype(np.int64)
    n_used = int(xc.shape[0])
    if n_used == 0:
        raise ScoringInputError(
            "responses: S-X2 needs persons with complete responses (it conditions on the total score); "
            "found none. For rotated booklets, compute it per booklet."
        )
    J = params.n_items
    ncat = params.n_categories
    K = int(ncat.max())
    S = int((ncat - 1).sum())
    total = xc.sum(axis=1)
    n_s = np.bincount(total, minlength=S + 1).astype(np.float64)
    code = (np.arange(J)[None, :] * (S + 1) + total[:, None]) * K + xc
    observed = np.bincount(code.reshape(-1), minlength=J * (S + 1) * K).reshape(J, S + 1, K).astype(np.float64)

    p = category_probabilities(points, params)  # (Q, J, K)
    full = _lord_wingersky(p, ncat, np.arange(J))
    marginal = weights @ full  # (S+1,)
    stat = np.empty(J)
    df = np.empty(J)
    pval = np.empty(J)
    for j in range(J):
        rest = _lord_wingersky(p, ncat, np.delete(np.arange(J), j))  # (Q, S - K_j + 2)
        joint = np.zeros((S + 1, K))
        for k in range(int(ncat[j])):
            joint[k : k + rest.shape[1], k] = (weights * p[:, j, k]) @ rest
        with np.errstate(invalid="ignore", divide="ignore"):
            expected = np.where(marginal[:, None] > 0, joint / marginal[:, None], 0.0) * n_s[:, None]
        stat[j], df[j], pval[j] = _s_x2_item(
            observed[j, :, : int(ncat[j])], expected[:, : int(ncat[j])], float(n_par[j]), minimum
        )
    return stat, df, pval, n_used


def _infit_outfit(
    x: NDArray[np.float64], params: ItemParameters, theta: NDArray[np.float64], exclude_extreme: bool
) -> tuple[NDArray[np.float64], ...]:
    n, J = x.shape
    ncat = params.n_categories
    use = np.isfinite(theta)
    if exclude_extreme:
        obs = ~np.isnan(x)
        lo = np.where(obs, x, np.inf).min(axis=1)
        hi = np.where(obs, x, -np.inf).max(axis=1)
        top = np.where(obs, x == (ncat - 1)[None, :], True).all(axis=1)
        bottom = np.where(obs, x == 0, True).all(axis=1)
        use &= ~(top | bottom) & (lo <= hi)
    sums = np.zeros((6, J))  # z2, r2, W, C/W^2, C - W^2, count
    k = np.arange(params.max_categories, dtype=np.float64)
    for s in range(0, n, _CHUNK):
        rows = np.flatnonzero(use[s : s + _CHUNK]) + s
        if rows.size == 0:
            continue
        xb = x[rows]
        pb = category_probabilities(theta[rows], params)  # (b, J, K)
        e = pb @ k
        dev = k[None, None, :] - e[:, :, None]
        w = np.einsum("bjk,bjk->bj", pb, dev**2)
        c = np.einsum("bjk,bjk->bj", pb, dev**4)
        ob = ~np.isnan(xb)
        r2 = np.where(ob, (np.nan_to_num(xb) - e) ** 2, 0.0)
        w = np.where(ob, w, 0.0)
        c = np.where(ob, c, 0.0)
        with np.errstate(divide="ignore", invalid="ignore"):
            safe_w = np.where(w > 0, w, 1.0)
            sums[0] += np.where(ob & (w > 0), r2 / safe_w, 0.0).sum(axis=0)
            sums[3] += np.where(ob & (w > 0), c / safe_w**2, 0.0).sum(axis=0)
        sums[1] += r2.sum(axis=0)
        sums[2] += w.sum(axis=0)
        sums[4] += (c - w**2).sum(axis=0)
        sums[5] += ob.sum(axis=0)
    z2, r2s, ws, cw, cmw, cnt = sums
    with np.errstate(divide="ignore", invalid="ignore"):
        outfit = z2 / cnt
        infit = r2s / ws
        q_out = np.sqrt(np.maximum(cw / cnt**2 - 1.0 / cnt, 0.0))
        q_in = np.sqrt(np.maximum(cmw / ws**2, 0.0))
        outfit_t = (np.cbrt(outfit) - 1.0) * (3.0 / q_out) + q_out / 3.0
        infit_t = (np.cbrt(infit) - 1.0) * (3.0 / q_in) + q_in / 3.0
    return infit, outfit, infit_t, outfit_t, cnt.astype(np.int64)


def item_fit(
    responses: ArrayLike,
    params: ItemParameters,
    theta: ArrayLike | None = None,
    statistic: str | Sequence[str] = "s_x2",
    *,
    quadrature_points: ArrayLike | None = None,
    quadrature_weights: ArrayLike | None = None,
    n_parameters: ArrayLike | None = None,
    min_expected: float = 1.0,
    exclude_extreme: bool = True,
) -> ItemFit:
    """Item fit statistics for a calibrated test.

    Parameters
    ----------
    responses : array_like, shape (n_persons, n_items)
        Category scores; NaN = missing.
    params : ItemParameters
    theta : array_like, shape (n_persons,), optional
        Person estimates for infit/outfit (WLE is customary for Rasch
        analyses; NaN rows are skipped). When omitted, WLE estimates from
        :func:`scoring.ability.estimate_ability` are used.
    statistic : str or sequence of str, default "s_x2"
        ``"s_x2"``, ``"infit_outfit"`` or both.
    quadrature_points, quadrature_weights : array_like, shape (Q,), optional
        Latent distribution for S-X2 (default 61 nodes on [-6, 6], N(0, 1)
        weights). Pass the calibrated group's distribution when it is not
        N(0, 1).
    n_parameters : array_like, shape (n_items,), optional
        Estimated parameters per item subtracted from the S-X2 df. Defaults:
        1PL 1, 2PL 2, 3PL 3, GRM/GPCM ``K`` (slope plus K-1 intercepts). Pass
        zeros for parameters known in advance, fractional counts for shared
        ones (e.g. ``1 + 1/J`` for a 1PL with a common estimated slope).
    min_expected : float, default 1.0
        Pooling threshold for S-X2 expected counts (mirt's ``mincell``).
    exclude_extreme : bool, default True
        Leave persons with extreme raw scores out of infit/outfit.

    Returns
    -------
    ItemFit
    """
    x = _check_responses_for(params, responses)
    wanted = (statistic,) if isinstance(statistic, str) else tuple(statistic)
    unknown = set(wanted) - {"s_x2", "infit_outfit"}
    if unknown or not wanted:
        raise ScoringInputError(
            f"statistic: expected 's_x2', 'infit_outfit' or both; found {sorted(unknown) or wanted!r}"
        )
    if not (np.isfinite(min_expected) and min_expected >= 0):
        raise ScoringInputError(f"min_expected: expected a non-negative number; found {min_expected!r}")
    out: dict[str, object] = {}
    if "infit_outfit" in wanted:
        if theta is None:
            from .ability import estimate_ability

            th = np.asarray(estimate_ability(x, params, method="wle").theta, dtype=np.float64)
        else:
            th = np.asarray(theta, dtype=np.float64)
            if th.shape != (x.shape[0],):
                raise ScoringInputError(f"theta: expected shape ({x.shape[0]},) (one per person); found {th.shape}")
        infit, outfit, infit_t, outfit_t, cnt = _infit_outfit(x, params, th, exclude_extreme)
        out.update(infit=infit, outfit=outfit, infit_t=infit_t, outfit_t=outfit_t, n_fit=cnt)
    if "s_x2" in wanted:
        pts, wts = _default_quadrature(quadrature_points, quadrature_weights)
        if n_parameters is None:
            n_par = _default_n_parameters(params)
        else:
            n_par = np.asarray(n_parameters, dtype=np.float64).reshape(-1)
            if n_par.shape != (params.n_items,) or np.any(n_par < 0):
                raise ScoringInputError(
                    f"n_parameters: expected {params.n_items} non-negative counts; found {np.shape(n_parameters)}"
                )
        stat, df, pval, n_used = _s_x2(x, params, pts, wts, n_par, float(min_expected))
        out.update(s_x2=stat, df=df, p_value=pval, n_s_x2=n_used)
    return ItemFit(item_names=params.item_names, **out)  # type: ignore[arg-type]

