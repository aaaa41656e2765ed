"""Plausible values and group statistics combined by Rubin's rules.

Plausible values (PVs) are random draws from each person's posterior
distribution of theta given their responses *and* a population model
(Mislevy, 1991; Mislevy, Beaton, Kaplan & Sheehan, 1992). Unlike EAP
estimates, which shrink toward the mean and so under-state the population
SD and the tails, PVs reproduce the population distribution; group
statistics are computed once per PV and combined by Rubin's (1987) rules so
that their standard errors include the measurement (imputation) uncertainty.

Population model
----------------
``theta | group g ~ N(mu_g, sigma_g^2)`` (a latent regression on group
dummies). Means/SDs given in ``group_means``/``group_sds`` are used as they
are; otherwise they are estimated by marginal maximum likelihood (EM on a
61-point grid, Bock & Aitkin 1981; Mislevy 1984) with the item parameters
fixed. Conditioning on the groups that will be compared keeps group
differences unbiased; PVs drawn under one common prior would shrink them, so
``groups`` must be given and ``groups=None`` issues a ConditioningWarning
(many groups, schools or covariates: :mod:`scoring.conditioning`).

Sampling
--------
Each posterior is evaluated on a fine equally spaced grid (default step
0.05 over ``mu ± 6 sigma`` of all groups, widened to cover ±4.5), treated as
a histogram density (mass of cell q = posterior at node q times the step) and
sampled by inverse CDF: one uniform number per draw picks the cell *and* the
position inside it (linear interpolation of the CDF inside the cell), which is
exact for the histogram density and removes the grid's discreteness.
Everything is vectorized over persons (in chunks, to bound memory).

Variance of group statistics
----------------------------
Per PV, the sampling variance of a mean, SD or percentage is taken under
simple random sampling of persons (``s^2 / n``; ``(m4 - s^4) / (4 n s^2)``
for the SD; ``p (1 - p) / n``) or, with ``sampling="none"``, set to zero:
in a census the reported population is observed in full and only the
measurement (imputation) variance remains. Clustered samples need replicate
(jackknife/BRR) weights, which are not implemented yet. The M per-PV
estimates are then combined by Rubin's rules (:func:`combine_rubin`).

References
----------
Bock, R. D., & Aitkin, M. (1981). Marginal maximum likelihood estimation of
    item parameters: Application of an EM algorithm. *Psychometrika*, 46,
    443–459.
Mislevy, R. J. (1984). Estimating latent distributions. *Psychometrika*, 49,
    359–381.
Mislevy, R. J. (1991). Randomization-based inference about latent variables
    from complex samples. *Psychometrika*, 56, 177–196.
Mislevy, R. J., Beaton, A. E., Kaplan, B., & Sheehan, K. M. (1992).
    Estimating population characteristics from sparse matrix samples of item
    responses. *Journal of Educational Measurement*, 29, 133–161.
Rubin, D. B. (1987). *Multiple Imputation for Nonresponse in Surveys*. Wiley.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray

from ._blas import blas_threads
from .ctt import _as_response_matrix
from .errors import ConditioningWarning, ConvergenceWarning, ScoringInputError
from .models import ItemParameters, log_category_probabilities
from .scale import proficiency_levels

__all__ = [
    "GroupStatistics",
    "PlausibleValues",
    "RubinCombination",
    "combine_rubin",
    "group_statistics",
    "plausible_values",
]

_CHUNK = 20_000  # persons per block: keeps (chunk x grid) arrays at a few MB


# --------------------------------------------------------------------------
# Rubin's rules


@dataclass(frozen=True)
class RubinCombination:
    """Estimates combined over M imputations (plausible values).

    All attributes have the shape of one imputation's estimate.

    Attributes
    ----------
    estimate : ndarray
        Mean of the M estimates, ``Q_bar``.
    within_variance : ndarray
        Mean of the M sampling variances, ``U_bar``.
    between_variance : ndarray
        Variance of the M estimates (``ddof=1``), ``B``.
    total_variance : ndarray
        ``T = U_bar + (1 + 1/M) B``.
    se : ndarray
        ``sqrt(T)``.
    df : ndarray
        Rubin's (1987) degrees of freedom
        ``(M - 1) (1 + U_bar / ((1 + 1/M) B))^2`` (inf when ``B = 0``).
    fraction_missing : ndarray
        ``(1 + 1/M) B / T``, the share of the variance due to imputation
        (NaN when ``T = 0``).
    n_imputations : int
    """

    estimate: NDArray[np.float64]
    within_variance: NDArray[np.float64]
    between_variance: NDArray[np.float64]
    total_variance: NDArray[np.float64]
    se: NDArray[np.float64]
    df: NDArray[np.float64]
    fraction_missing: NDArray[np.float64]
    n_imputations: int

    def confidence_interval(self, level: float = 0.95) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """Lower and upper limits ``estimate ± t_{df} se``."""
        from scipy import stats

        if not 0 < level < 1:
            raise ScoringInputError(f"level: expected a confidence level in (0, 1); found {level}")
        q = stats.t.ppf(0.5 + level / 2, self.df)
        q = np.where(np.isinf(self.df), stats.norm.ppf(0.5 + level / 2), q)
        return self.estimate - q * self.se, self.estimate + q * self.se


def combine_rubin(estimates: ArrayLike, variances: ArrayLike) -> RubinCombination:
    """Combine per-imputation estimates and sampling variances (Rubin, 1987).

    Parameters
    ----------
    estimates : array_like, shape (M, ...)
        The statistic computed from each of M plausible values.
    variances : array_like, shape (M, ...)
        Its sampling variance (squared SE) for each plausible value.

    Returns
    -------
    RubinCombination
        Arrays of shape ``(...)``.
    """
    q = np.asarray(estimates, dtype=np.float64)
    u = np.asarray(variances, dtype=np.float64)
    if q.ndim == 0 or q.shape[0] < 2:
        raise ScoringInputError(
            f"estimates: expected shape (M, ...) with M >= 2 imputations; found shape {q.shape}"
        )
    if u.shape != q.shape:
        raise ScoringInputError(f"variances: expected shape {q.shape} like estimates; found {u.shape}")
    if np.any(u < 0):
        raise ScoringInputError("variances: expected non-negative sampling variances; found a negative value")
    m = q.shape[0]
    qbar = q.mean(axis=0)
    ubar = u.mean(axis=0)
    b = q.var(axis=0, ddof=1)
    t = ubar + (1.0 + 1.0 / m) * b
    with np.errstate(divide="ignore", invalid="ignore", over="ignore", under="ignore"):
        # lambda = (1 + 1/m) B / T in [0, 1]; df = (m - 1)(1 + 1/r)^2 = (m - 1) / lambda^2,
        # written in lambda so that tiny B or tiny U cannot overflow an intermediate.
        lam = np.where(t > 0, (1.0 + 1.0 / m) * b / np.where(t > 0, t, 1.0), 0.0)
        df = np.where(lam > 0, (m - 1) / np.where(lam > 0, lam, 1.0) ** 2, np.inf)
        fmi = np.where(t > 0, lam, np.nan)
    return RubinCombination(
        estimate=qbar,
        within_variance=ubar,
        between_variance=b,
        total_variance=t,
        se=np.sqrt(t),
        df=np.asarray(df, dtype=np.float64),
        fraction_missing=np.asarray(fmi, dtype=np.float64),
        n_imputations=m,
    )


# --------------------------------------------------------------------------
# plausible values


@dataclass(frozen=True)
class PlausibleValues:
    """Plausible values of every person.

    Attributes
    ----------
    values : ndarray, shape (n_persons, n_draws)
        The draws, on the theta scale of the item parameters.
    posterior_mean, posterior_sd : ndarray, shape (n_persons,)
        EAP and posterior SD under the same population model (grid-based).
    group_labels : tuple
        Distinct group labels (sorted); ``("all",)`` without groups.
    group_index : ndarray of int, shape (n_persons,)
        Index into ``group_labels`` of each person.
    group_means, group_sds : ndarray, shape (G,)
        Population model used for each group.
    estimated : bool
        True when the group means/SDs were estimated (EM), False when given.
    n_iter : int
        EM iterations (0 when not estimated).
    """

    values: NDArray[np.float64]
    posterior_mean: NDArray[np.float64]
    posterior_sd: NDArray[np.float64]
    group_labels: tuple[Any, ...]
    group_index: NDArray[np.int64]
    group_means: NDArray[np.float64]
    group_sds: NDArray[np.float64]
    estimated: bool
    n_iter: int


def _check_responses_for(params: ItemParameters, responses: ArrayLike) -> NDArray[np.float64]:
    x = _as_response_matrix(responses)
    if not isinstance(params, ItemParameters):
        raise ScoringInputError(f"params: expected ItemParameters; found {type(params).__name__}")
    if x.shape[1] != params.n_items:
        raise ScoringInputError(
            f"responses: expected {params.n_items} columns (one per item in params); found {x.shape[1]}"
        )
    obs = ~np.isnan(x)
    kmax = params.n_categories[None, :]
    bad = obs & ((x < 0) | (x != np.round(x)) | (x >= kmax))
    if bad.any():
        i, j = np.argwhere(bad)[0]
        raise ScoringInputError(
            f"responses: cell (row {i}, column {j}, item {params.item_names[j]!r}) must be a category "
            f"0..{int(params.n_categories[j]) - 1} or NaN; found {x[i, j]!r}"
        )
    return x


def _log_likelihood_grid(
    x: NDArray[np.float64], params: ItemParameters, grid: NDArray[np.float64]
) -> NDArray[np.float64]:
    """log L_i(theta_q), shape (n, Q), by one matrix product per chunk of persons.

    ``log L_i = sum_j [obs_ij log P_j0 + sum_{k>=1} 1(x_ij = k) (log P_jk - log P_j0)]``:
    a 0/1 design matrix with ``J + sum_j (K_j - 1)`` columns (2J for a
    dichotomous test) times a (columns x Q) coefficient matrix.
    """
    n, J = x.shape
    logp = np.maximum(log_category_probabilities(grid, params), -700.0)  # (Q, J, K), finite
    ncat = params.n_categories
    base = logp[:, :, 0].T  # (J, Q)
    jj = np.concatenate([np.repeat(np.arange(J), ncat - 1)])
    kk = np.concatenate([np.arange(1, k) for k in ncat])
    contrast = (logp[:, jj, kk] - logp[:, jj, 0]).T  # (sum(K_j - 1), Q)
    coef = np.vstack([base, contrast])
    # column of (item j, category k >= 1) in the design matrix
    col_of = np.full((J, int(ncat.max())), -1, dtype=np.intp)
    col_of[jj, kk] = J + np.arange(jj.size)
    out = np.empty((n, grid.shape[0]))
    with blas_threads():
        for s in range(0, n, _CHUNK):
            blk = x[s : s + _CHUNK]
            obs = ~np.isnan(blk)
            design = np.zeros((blk.shape[0], coef.shape[0]))
            design[:, :J] = obs
            r, c = np.nonzero(obs & (np.nan_to_num(blk) > 0))
            design[r, col_of[c, blk[r, c].astype(np.intp)]] = 1.0
            out[s : s + _CHUNK] = design @ coef
    return out


def _group_codes(groups: ArrayLike | None, n: int) -> tuple[tuple[Any, ...], NDArray[np.int64]]:
    if groups is None:
        return ("all",), np.zeros(n, dtype=np.int64)
    g = np.asarray(groups)
    if g.shape != (n,):
        raise ScoringInputError(f"groups: expected shape ({n},) (one label per person); found {g.shape}")
    try:
        labels, inv = np.unique(g, return_inverse=True)
    except TypeError as exc:
        raise ScoringInputError(f"groups: labels must be mutually comparable (all str or all numbers); {exc}") from exc
    return tuple(labels.tolist()), inv.astype(np.int64).reshape(n)


def _per_group(
    values: Mapping[Any, float] | Sequence[float] | ArrayLike | None,
    labels: tuple[Any, ...],
    name: str,
) -> NDArray[np.float64] | None:
    if values is None:
        return None
    if isinstance(values, Mapping):
        missing = [lab for lab in labels if lab not in values]
        if missing:
            raise ScoringInputError(f"{name}: no value for group(s) {missing!r}")
        arr = np.array([float(values[lab]) for lab in labels])
    else:
        arr = np.atleast_1d(np.asarray(values, dtype=np.float64))
        if arr.shape != (len(labels),):
            raise ScoringInputError(
                f"{name}: expected {len(labels)} values (groups {list(labels)!r} in sorted order) or a mapping; "
                f"found shape {arr.shape}"
            )
    if not np.all(np.isfinite(arr)):
        raise ScoringInputError(f"{name}: expected finite values; found {arr.tolist()!r}")
    return arr


def _log_prior(grid: NDArray[np.float64], mu: NDArray[np.float64], sd: NDArray[np.float64]) -> NDArray[np.float64]:
    """(G, Q) log normal density on the grid (up to a constant common to all q)."""
    z = (grid[None, :] - mu[:, None]) / sd[:, None]
    return -0.5 * z * z - np.log(sd)[:, None]


def _estimate_population(
    loglik: NDArray[np.float64],
    grid: NDArray[np.float64],
    gidx: NDArray[np.int64],
    n_groups: int,
    max_iter: int,
    tol: float,
) -> tuple[NDArray[np.float64], NDArray[np.float64], int, bool]:
    """EM for each group's normal mean and SD with item parameters fixed.

    With ``L`` the (person x node) likelihood, each iteration needs two
    matrix-vector products per group (Mislevy, 1984).
    """
    with blas_threads():
        return _em_population(loglik, grid, gidx, n_groups, max_iter, tol)


def _em_population(
    loglik: NDArray[np.float64],
    grid: NDArray[np.float64],
    gidx: NDArray[np.int64],
    n_groups: int,
    max_iter: int,
    tol: float,
) -> tuple[NDArray[np.float64], NDArray[np.float64], int, bool]:
    lik = np.exp(loglik - loglik.max(axis=1, keepdims=True))
    mu = np.zeros(n_groups)
    sd = np.ones(n_groups)
    converged = False
    it = 0
    members = [lik[gidx == g] for g in range(n_groups)]  # one copy, reused every iteration
    for it in range(1, max_iter + 1):
        prior = np.exp(_log_prior(grid, mu, sd))
        prior /= prior.sum(axis=1, keepdims=True)
        new_mu = np.empty(n_groups)
        new_sd = np.empty(n_groups)
        for g, lg in enumerate(members):
            marg = lg @ prior[g]  # (n_g,)
            counts = prior[g] * (lg.T @ (1.0 / marg))  # expected persons at each node
            tot = counts.sum()
            new_mu[g] = counts @ grid / tot
            new_sd[g] = np.sqrt(counts @ (grid - new_mu[g]) ** 2 / tot)
        change = max(np.max(np.abs(new_mu - mu)), np.max(np.abs(new_sd - sd)))
        mu, sd = new_mu, np.maximum(new_sd, 1e-3)
        if change < tol:
            converged = True
            break
    return mu, sd, it, converged


def plausible_values(
    responses: ArrayLike,
    params: ItemParameters,
    n_draws: int = 5,
    *,
    groups: ArrayLike | None,
    group_means: Mapping[Any, float] | Sequence[float] | ArrayLike | None = None,
    group_sds: Mapping[Any, float] | Sequence[float] | ArrayLike | None = None,
    rng: np.random.Generator | int | None = None,
    grid_step: float = 0.05,
    max_iter: int = 500,
    tol: float = 1e-5,
) -> PlausibleValues:
    """Draw plausible values from every person's posterior.

    Parameters
    ----------
    responses : array_like, shape (n_persons, n_items)
        Category scores (0..K_j-1); NaN = not presented / missing.
    params : ItemParameters
        Item parameters (held fixed).
    n_draws : int, default 5
        Plausible values per person (5 or 10 is customary).
    groups : array_like, shape (n_persons,), or None
        Group of every person (e.g. grade, school type, gender): the
        conditioning variable of the population model. Required: give the
        groups whose statistics will be compared (for schools, covariates
        or many cells use
        :func:`scoring.conditioning.conditioned_plausible_values`).
        ``None`` draws everyone under one common prior, which is right only
        for statistics of the whole population; it issues a
        :class:`ConditioningWarning`, because group means and gaps computed
        from such values are biased towards the common mean.
    group_means, group_sds : mapping or sequence, optional
        Each group's theta mean and SD (a mapping label -> value, or values
        in sorted-label order; a scalar without groups), e.g. from a
        multigroup calibration. Both or neither; when neither is given, they
        are estimated by EM (see the module docstring).
    rng : numpy.random.Generator or int, optional
        Random generator or seed.
    grid_step : float, default 0.05
        Spacing of the sampling grid.
    max_iter, tol : int, float
        EM limits for the population estimation; a ConvergenceWarning is
        issued if ``max_iter`` is reached.

    Returns
    -------
    PlausibleValues

    Warns
    -----
    ConditioningWarning
        With ``groups=None``.
    """
    x = _check_responses_for(params, responses)
    n = x.shape[0]
    if not isinstance(n_draws, (int, np.integer)) or n_draws < 1:
        raise ScoringInputError(f"n_draws: expected a positive integer (e.g. 5 or 10); found {n_draws!r}")
    if not (np.isfinite(grid_step) and 0 < grid_step <= 0.2):
        raise ScoringInputError(f"grid_step: expected a spacing in (0, 0.2]; found {grid_step!r}")
    gen = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
    labels, gidx = _group_codes(groups, n)
    G = len(labels)
    if groups is None:
        # without groups a scalar (or one-element sequence) is the single group's value; a mapping
        # is keyed by the documented label "all" and goes through _per_group like any other mapping
        if group_means is not None and not isinstance(group_means, Mapping):
            group_means = [float(np.asarray(group_means).reshape(-1)[0])]
        if group_sds is not None and not isinstance(group_sds, Mapping):
            group_sds = [float(np.asarray(group_sds).reshape(-1)[0])]
    mu_in = _per_group(group_means, labels, "group_means")
    sd_in = _per_group(group_sds, labels, "group_sds")
    if (mu_in is None) != (sd_in is None):
        raise ScoringInputError("group_means and group_sds: give both or neither")
    if groups is None:
        warnings.warn(
            "plausible_values: groups=None draws every person under one common prior, so group statistics "
            "computed from these values (school, class, grade or gender means, gaps, level percentages) are "
            "biased towards the common mean and their intervals are too narrow (a 0.5 gap comes out near 0.44). "
            "Pass groups= with the groups you will compare, or use "
            "scoring.conditioning.conditioned_plausible_values(cells=..., covariates=...); keep groups=None "
            "only for statistics of the whole population.",
            ConditioningWarning,
            stacklevel=2,
        )

    n_iter = 0
    if mu_in is None or sd_in is None:
        coarse = np.linspace(-6.0, 6.0, 61)
        mu, sd, n_iter, ok = _estimate_population(
            _log_likelihood_grid(x, params, coarse), coarse, gidx, G, max_iter, tol
        )
        if not ok:
            warnings.warn(
                f"plausible_values: the group mean/SD estimation did not converge in {max_iter} EM "
                "iterations; raise max_iter or pass group_means/group_sds",
                ConvergenceWarning,
                stacklevel=2,
            )
        estimated = True
    else:
        mu, sd = mu_in, sd_in
        if np.any(sd <= 0):
            raise ScoringInputError(f"group_sds: expected positive SDs; found {sd.tolist()!r}")
        estimated = False

    lo = min(-4.5, float(np.min(mu - 6.0 * sd)))
    hi = max(4.5, float(np.max(mu + 6.0 * sd)))
    n_nodes = int(np.ceil((hi - lo) / grid_step)) + 1
    grid = (lo + grid_step * np.arange(n_nodes)).astype(np.float64)
    log_prior = _log_prior(grid, mu, sd)  # (G, Q)

    values, post_mean, post_sd = _posterior_draws(x, params, grid, grid_step, lambda blk: log_prior[gidx[blk]],
                                                  n_draws, gen)
    return PlausibleValues(
        values=values,
        posterior_mean=post_mean,
        posterior_sd=post_sd,
        group_labels=labels,
        group_index=gidx,
        group_means=np.asarray(mu, dtype=np.float64),
        group_sds=np.asarray(sd, dtype=np.float64),
        estimated=estimated,
        n_iter=n_iter,
    )



def _posterior_draws(
    x: NDArray[np.float64],
    params: ItemParameters,
    grid: NDArray[np.float64],
    step: float,
    log_prior: Callable[[slice], NDArray[np.float64]],
    n_draws: int,
    gen: np.random.Generator,
) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
    """Draws, posterior mean and SD of every person on `grid`, in chunks of persons.

    ``log_prior(rows)`` gives the (chunk, Q) log prior of a slice of persons, so
    one common, per-group or per-person prior all use the same loop.
    """
    n = x.shape[0]
    values = np.empty((n, n_draws))
    post_mean = np.empty(n)
    post_sd = np.empty(n)
    for s in range(0, n, _CHUNK):
        blk = slice(s, min(s + _CHUNK, n))
        lp = _log_likelihood_grid(x[blk], params, grid) + log_prior(blk)
        lp -= lp.max(axis=1, keepdims=True)
        post = np.exp(lp)
        post /= post.sum(axis=1, keepdims=True)
        m1 = post @ grid
        post_mean[blk] = m1
        post_sd[blk] = np.sqrt(np.maximum(post @ grid**2 - m1**2, 0.0))
        values[blk] = _sample_histogram(post, grid, step, gen.random((post.shape[0], n_draws)))
    return values, post_mean, post_sd


def _sample_histogram(
    post: NDArray[np.float64], grid: NDArray[np.float64], step: float, u: NDArray[np.float64]
) -> NDArray[np.float64]:
    """Inverse-CDF draws from per-row histogram densities.

    Node q's mass ``post[i, q]`` is spread uniformly over
    ``[grid[q] - step/2, grid[q] + step/2]``. One row-offset ``searchsorted``
    over the flattened CDFs finds every draw's cell at once.
    """
    n, Q = post.shape
    cdf = np.cumsum(post, axis=1)
    cdf[:, -1] = 1.0  # guard against round-off
    offset = np.arange(n, dtype=np.float64)[:, None]
    flat = (cdf + 2.0 * offset).reshape(-1)  # rows live in disjoint intervals [2i, 2i + 1]
    pos = np.searchsorted(flat, (u + 2.0 * offset).reshape(-1), side="right").reshape(u.shape)
    cell = np.minimum(pos - np.arange(n)[:, None] * Q, Q - 1)
    upper = np.take_along_axis(cdf, cell, axis=1)
    mass = np.take_along_axis(post, cell, axis=1)
    frac = np.where(mass > 0, 1.0 - (upper - u) / np.where(mass > 0, mass, 1.0), 0.5)
    frac = np.clip(frac, 0.0, 1.0)
    return grid[cell] - step / 2.0 + frac * step


# --------------------------------------------------------------------------
# group statistics


@dataclass(frozen=True)
class GroupStatistics:
    """Group means, SDs and level percentages from plausible values.

    Every statistic is computed per plausible value and combined by Rubin's
    rules; ``*_se`` include sampling (per ``sampling``) and imputation
    variance.

    Attributes
    ----------
    groups : tuple, length G
    n : ndarray of int, shape (G,)
    mean, mean_se : ndarray, shape (G,)
    sd, sd_se : ndarray, shape (G,)
    percent, percent_se : ndarray, shape (G, L)
        Percentage of persons at each level (0–100); only with cuts.
    level_labels : tuple of str, length L
    mean_rubin, sd_rubin : RubinCombination
        Full combinations (df, fraction of missing information, CIs).
    percent_rubin : RubinCombination or None
    sampling : str
        ``"srs"`` or ``"none"``.
    suppressed : ndarray of bool, shape (G,)
        Groups with fewer than ``min_n`` persons; their statistics are NaN
        (the reporting layer pools them upward).
    """

    groups: tuple[Any, ...]
    n: NDArray[np.int64]
    mean: NDArray[np.float64]
    mean_se: NDArray[np.float64]
    sd: NDArray[np.float64]
    sd_se: NDArray[np.float64]
    percent: NDArray[np.float64] | None
    percent_se: NDArray[np.float64] | None
    level_labels: tuple[str, ...]
    mean_rubin: RubinCombination
    sd_rubin: RubinCombination
    percent_rubin: RubinCombination | None
    sampling: str
    suppressed: NDArray[np.bool_]


def group_statistics(
    pvs: ArrayLike,
    groups: ArrayLike | None = None,
    cuts: Sequence[float] | ArrayLike | None = None,
    labels: Sequence[str] | None = None,
    *,
    sampling: Literal["srs", "none"] = "srs",
    min_n: int = 0,
) -> GroupStatistics:
    """Mean, SD and percent per level of each group, from plausible values.

    Parameters
    ----------
    pvs : array_like, shape (n_persons, M)
        Plausible values (theta or scale scores; the cuts must be on the
        same scale), M >= 2. NaN rows (persons without PVs) are left out.
    groups : array_like, shape (n_persons,), optional
        Reporting group of every person (school, district, ...); one group
        ``"all"`` when omitted.
    cuts, labels : optional
        Cut scores and level labels (see :func:`scoring.scale.proficiency_levels`).
    sampling : {"srs", "none"}, default "srs"
        Sampling-variance model; see the module docstring.
    min_n : int, default 0
        Minimum reporting cell: groups with fewer persons are flagged in
        ``suppressed`` and all their statistics are NaN (e.g. 10, from the
        reporting configuration).

    Returns
    -------
    GroupStatistics
    """
    v = np.asarray(pvs, dtype=np.float64)
    if v.ndim != 2 or v.shape[1] < 2:
        raise ScoringInputError(f"pvs: expected shape (n_persons, M) with M >= 2 plausible values; found {v.shape}")
    if sampling not in ("srs", "none"):
        raise ScoringInputError(f"sampling: expected 'srs' or 'none'; found {sampling!r}")
    n_all, M = v.shape
    glabels, gidx = _group_codes(groups, n_all)
    keep = ~np.isnan(v).any(axis=1)
    v, gidx = v[keep], gidx[keep]
    G = len(glabels)
    n = np.bincount(gidx, minlength=G).astype(np.float64)
    if not isinstance(min_n, (int, np.integer)) or min_n < 0:
        raise ScoringInputError(f"min_n: expected a non-negative integer (minimum reporting cell); found {min_n!r}")
    suppressed = n < min_n

    # per-PV moments via bincount over groups: shape (M, G)
    def gsum(w: NDArray[np.float64]) -> NDArray[np.float64]:
        return np.stack([np.bincount(gidx, weights=w[:, m], minlength=G) for m in range(M)])

    with np.errstate(invalid="ignore", divide="ignore"):
        mean = gsum(v) / n
        dev = v - mean.T[gidx]
        m2 = gsum(dev**2) / n
        m4 = gsum(dev**4) / n
        var = m2 * n / (n - 1.0)
        sd = np.sqrt(var)
        if sampling == "srs":
            var_mean = var / n
            var_sd = np.maximum(m4 - m2**2, 0.0) / (4.0 * n * m2)
        else:
            var_mean = np.zeros_like(mean)
            var_sd = np.zeros_like(sd)
    mean_r = combine_rubin(mean, np.nan_to_num(var_mean, nan=0.0))
    sd_r = combine_rubin(sd, np.nan_to_num(var_sd, nan=0.0))

    pct = pct_se = None
    pct_r = None
    lvl_labels: tuple[str, ...] = ()
    if cuts is not None:
        lv = proficiency_levels(v, cuts, labels)
        lvl_labels = lv.level_labels
        L = len(lvl_labels)
        # counts (M, G, L) from one bincount over (pv, group, level)
        code = (np.arange(M)[None, :] * G + gidx[:, None]) * L + lv.index
        counts = np.bincount(code.reshape(-1), minlength=M * G * L).reshape(M, G, L)
        with np.errstate(invalid="ignore", divide="ignore"):
            p = counts / n[None, :, None]
            pv_var = p * (1 - p) / n[None, :, None] if sampling == "srs" else np.zeros_like(p)
        pct_r = combine_rubin(100.0 * p, np.nan_to_num(1e4 * pv_var, nan=0.0))
        pct, pct_se = pct_r.estimate, pct_r.se
    elif labels is not None:
        raise ScoringInputError("labels: level labels were given without cuts")

    if suppressed.any():
        mean_r, sd_r = _suppress(mean_r, suppressed), _suppress(sd_r, suppressed)
        if pct_r is not None:
            pct_r = _suppress(pct_r, suppressed)
            pct, pct_se = pct_r.estimate, pct_r.se
    return GroupStatistics(
        groups=glabels,
        n=n.astype(np.int64),
        mean=mean_r.estimate,
        mean_se=mean_r.se,
        sd=sd_r.estimate,
        sd_se=sd_r.se,
        percent=pct,
        percent_se=pct_se,
        level_labels=lvl_labels,
        mean_rubin=mean_r,
        sd_rubin=sd_r,
        percent_rubin=pct_r,
        sampling=sampling,
        suppressed=suppressed,
    )


def _suppress(r: RubinCombination, rows: NDArray[np.bool_]) -> RubinCombination:
    """Copy of ``r`` with the groups in ``rows`` (first axis) set to NaN."""

    def blank(a: NDArray[np.float64]) -> NDArray[np.float64]:
        out = np.array(a, dtype=np.float64, copy=True)
        out[rows] = np.nan
        return out

    return RubinCombination(
        estimate=blank(r.estimate),
        within_variance=blank(r.within_variance),
        between_variance=blank(r.between_variance),
        total_variance=blank(r.total_variance),
        se=blank(r.se),
        df=blank(r.df),
        fraction_missing=blank(r.fraction_missing),
        n_imputations=r.n_imputations,
    )
