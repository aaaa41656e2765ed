"""Plausible values: draws from each person's posterior under a population model.

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

Group statistics
----------------
Means, SDs and level percentages per group are computed once per PV and
combined by Rubin's rules in :mod:`scoring.rubin` (re-exported here).

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
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from ._blas import blas_threads
from .ctt import _as_response_matrix
from .errors import ConditioningWarning, ConvergenceWarning, ScoringInputError
from .models import ItemParameters, log_category_probabilities
from .rubin import GroupStatistics, RubinCombination, _group_codes, combine_rubin, group_statistics

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

