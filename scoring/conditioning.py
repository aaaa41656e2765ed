"""Plausible values conditioned on a latent regression (cell effects plus covariates).

Census group statistics must not be shrunk: a school's mean computed from
EAP estimates is pulled towards the prior's mean, and plausible values drawn
under one common prior pull every group towards the overall mean. Large-scale
assessments (NAEP, PISA, TIMSS) therefore draw plausible values from a
*conditioning model* that contains the reporting variables (Mislevy, 1991;
von Davier, Gonzalez & Mislevy, 2009). Here::

    theta_i ~ N(mu_{c(i)} + z_i' gamma, sigma^2_{v(i)})

with one fixed effect ``mu_c`` per *cell* (e.g. grade x school, so every
school, district and school attribute is nested in the model), covariates
``z`` common to all cells (e.g. gender dummies) and a residual variance per
*variance group* (e.g. grade). Cells must be nested in variance groups.

Estimation is EM with the item parameters fixed (Mislevy, 1984): the E-step
takes every person's posterior mean ``e_i`` and variance ``v_i`` on a grid,
the M-step is least squares of ``e`` on the cell dummies and ``z`` (by
within-cell demeaning, so its cost does not grow with the number of cells)
and the residual variance uses the unbiased complete-data estimator
``[sum (e_i - m_i)^2 + sum v_i (1 - 1/n_c)] / (n_v - C_v)`` (fixed effects
of small cells would otherwise shrink it, the Neyman-Scott problem).
Cell means are kept in ``[-5, 5]`` so a tiny cell of perfect scores cannot
drift away; such cells are reported in ``bounded_cells``.

References
----------
Mislevy, R. J. (1984). Estimating latent distributions. *Psychometrika*, 49, 359-381.
Mislevy, R. J. (1991). Randomization-based inference about latent variables
    from complex samples. *Psychometrika*, 56, 177-196.
von Davier, M., Gonzalez, E., & Mislevy, R. J. (2009). What are plausible
    values and why are they useful? *IERI Monograph Series*, 2, 9-36.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from ._blas import blas_threads
from .errors import ConvergenceWarning, ScoringInputError
from .models import ItemParameters
from .plausible import _CHUNK, _check_responses_for, _group_codes, _log_likelihood_grid, _posterior_draws

__all__ = ["ConditionedPlausibleValues", "PopulationModel", "conditioned_plausible_values", "fit_population_model"]

F64 = NDArray[np.float64]
_CELL_BOUND = 5.0
_EM_GRID = np.linspace(-6.0, 6.0, 61)


@dataclass(frozen=True)
class PopulationModel:
    """A fitted latent regression ``theta ~ N(mu_cell + z'gamma, sd_vgroup^2)``.

    Attributes
    ----------
    cell_labels : tuple, length C
    cell_means : ndarray, shape (C,)
        ``mu_c`` (at ``z = 0``).
    cell_sizes : ndarray of int, shape (C,)
    coef : ndarray, shape (P,)
        ``gamma``, one per covariate column.
    variance_labels : tuple, length V
    residual_sd : ndarray, shape (V,)
    prior_mean, prior_sd : ndarray, shape (n_persons,)
        Every person's conditional prior ``N(prior_mean, prior_sd^2)``.
    n_iter : int
    converged : bool
    bounded_cells : tuple
        Labels of cells whose mean sits at the +-5 bound.
    """

    cell_labels: tuple[Any, ...]
    cell_means: F64
    cell_sizes: NDArray[np.int64]
    coef: F64
    variance_labels: tuple[Any, ...]
    residual_sd: F64
    prior_mean: F64
    prior_sd: F64
    n_iter: int
    converged: bool
    bounded_cells: tuple[Any, ...]

    def marginal(self, members: NDArray[np.bool_]) -> tuple[float, float]:
        """Mean and SD of theta implied for a subset of persons (a mixture of their priors)."""
        m = self.prior_mean[members]
        s = self.prior_sd[members]
        if m.size == 0:
            raise ScoringInputError("members: the subset holds no person")
        mean = float(m.mean())
        return mean, float(np.sqrt(np.mean(s**2) + np.mean((m - mean) ** 2)))


@dataclass(frozen=True)
class ConditionedPlausibleValues:
    """Plausible values drawn under a :class:`PopulationModel`.

    Attributes
    ----------
    values : ndarray, shape (n_persons, n_draws)
    posterior_mean, posterior_sd : ndarray, shape (n_persons,)
        Moments of the same (conditioned) posteriors; not for individual reports.
    model : PopulationModel
    """

    values: F64
    posterior_mean: F64
    posterior_sd: F64
    model: PopulationModel


def _design(
    n: int, cells: ArrayLike, covariates: ArrayLike | None, variance_groups: ArrayLike | None
) -> tuple[tuple[Any, ...], NDArray[np.int64], F64, tuple[Any, ...], NDArray[np.int64], NDArray[np.int64]]:
    cell_labels, cidx = _group_codes(cells, n)
    if variance_groups is None:
        var_labels: tuple[Any, ...] = ("all",)
        vidx = np.zeros(n, dtype=np.int64)
    else:
        var_labels, vidx = _group_codes(variance_groups, n)
    # every cell must sit inside one variance group
    cell_v = np.full(len(cell_labels), -1, dtype=np.int64)
    cell_v[cidx] = vidx
    if np.any(cell_v[cidx] != vidx):
        bad = int(np.flatnonzero(cell_v[cidx] != vidx)[0])
        raise ScoringInputError(
            f"cells: every cell must lie in one variance group; cell {cell_labels[cidx[bad]]!r} "
            f"holds persons of several groups (e.g. row {bad}); make the cell label include the group"
        )
    if covariates is None:
        z = np.zeros((n, 0))
    else:
        z = np.asarray(covariates, dtype=np.float64)
        if z.ndim == 1:
            z = z[:, None]
        if z.ndim != 2 or z.shape[0] != n:
            raise ScoringInputError(f"covariates: expected shape ({n}, P); found {np.shape(covariates)}")
        if not np.all(np.isfinite(z)):
            raise ScoringInputError("covariates: expected finite values (code missing values as a dummy column)")
    return cell_labels, cidx, z, var_labels, vidx, cell_v


def _cell_mean(values: F64, cidx: NDArray[np.int64], sizes: F64) -> F64:
    if values.ndim == 1:
        return np.bincount(cidx, weights=values, minlength=sizes.size) / sizes
    return np.stack([np.bincount(cidx, weights=values[:, p], minlength=sizes.size) for p in range(values.shape[1])],
                    axis=1) / sizes[:, None]


def fit_population_model(
    responses: ArrayLike,
    params: ItemParameters,
    *,
    cells: ArrayLike,
    covariates: ArrayLike | None = None,
    variance_groups: ArrayLike | None = None,
    max_iter: int = 500,
    tol: float = 1e-4,
) -> PopulationModel:
    """Estimate the latent regression by EM with the item parameters fixed.

    Parameters
    ----------
    responses : array_like, shape (n_persons, n_items)
        Category scores; NaN = missing. Persons need not answer every item.
    params : ItemParameters
    cells : array_like, shape (n_persons,)
        Cell of every person (e.g. ``"8|jh-003"``); one fixed effect each.
    covariates : array_like, shape (n_persons, P), optional
        Extra regressors common to all cells (e.g. gender dummies, leaving one
        category out). They are centred within cells by the estimator.
    variance_groups : array_like, shape (n_persons,), optional
        Groups with their own residual SD (e.g. grade); cells nest in them.
    max_iter, tol : int, float
        EM stops when no cell mean, coefficient or SD moves by ``tol``.

    Returns
    -------
    PopulationModel
    """
    x = _check_responses_for(params, responses)
    n = x.shape[0]
    cell_labels, cidx, z, var_labels, vidx, cell_v = _design(n, cells, covariates, variance_groups)
    with blas_threads():
        loglik = _log_likelihood_grid(x, params, _EM_GRID)
        lik = np.exp(loglik - loglik.max(axis=1, keepdims=True))
        del loglik
        return _em(lik, cell_labels, cidx, z, var_labels, vidx, cell_v, max_iter, tol)


def _em(
    lik: F64,
    cell_labels: tuple[Any, ...],
    cidx: NDArray[np.int64],
    z: F64,
    var_labels: tuple[Any, ...],
    vidx: NDArray[np.int64],
    cell_v: NDArray[np.int64],
    max_iter: int,
    tol: float,
) -> PopulationModel:
    n = lik.shape[0]
    C, V, P = len(cell_labels), len(var_labels), z.shape[1]
    sizes = np.bincount(cidx, minlength=C).astype(np.float64)
    z_within = z - _cell_mean(z, cidx, sizes)[cidx] if P else z
    zz = z_within.T @ z_within
    n_v = np.bincount(vidx, minlength=V).astype(np.float64)
    df_v = np.maximum(n_v - np.bincount(cell_v, minlength=V), 1.0)
    shrink = 1.0 - 1.0 / sizes[cidx]  # posterior-variance weight of the unbiased estimator
    mu: F64 = np.zeros(C)
    gamma: F64 = np.zeros(P)
    sd: F64 = np.ones(V)
    grid = _EM_GRID
    converged = False
    it = 0
    for it in range(1, max_iter + 1):
        m = mu[cidx] + z @ gamma
        s = sd[vidx]
        e = np.empty(n)
        v = np.empty(n)
        for a in range(0, n, _CHUNK):
            b = slice(a, min(a + _CHUNK, n))
            zq = (grid[None, :] - m[b, None]) / s[b, None]
            post = lik[b] * np.exp(-0.5 * zq * zq)
            tot = post.sum(axis=1)
            e[b] = post @ grid / tot
            v[b] = np.maximum(post @ grid**2 / tot - e[b] ** 2, 0.0)
        if P:
            r_within = e - _cell_mean(e, cidx, sizes)[cidx]
            new_gamma = np.asarray(np.linalg.lstsq(zz, z_within.T @ r_within, rcond=None)[0], dtype=np.float64)
        else:
            new_gamma = gamma
        new_mu = np.clip(_cell_mean(e - z @ new_gamma, cidx, sizes), -_CELL_BOUND, _CELL_BOUND).astype(np.float64)
        resid = e - new_mu[cidx] - z @ new_gamma
        ss = np.bincount(vidx, weights=resid**2 + v * shrink, minlength=V)
        new_sd = np.maximum(np.sqrt(ss / df_v), 0.05).astype(np.float64)
        free = np.abs(new_mu) < _CELL_BOUND
        change = max(
            float(np.max(np.abs(new_mu - mu)[free], initial=0.0)),
            float(np.max(np.abs(new_gamma - gamma), initial=0.0)),
            float(np.max(np.abs(new_sd - sd))),
        )
        mu, gamma, sd = new_mu, new_gamma, new_sd
        if change < tol:
            converged = True
            break
    if not converged:
        warnings.warn(
            f"fit_population_model: EM did not converge in {max_iter} iterations; raise max_iter",
            ConvergenceWarning,
            stacklevel=3,
        )
    bounded = tuple(cell_labels[c] for c in np.flatnonzero(np.abs(mu) >= _CELL_BOUND))
    return PopulationModel(
        cell_labels=cell_labels,
        cell_means=mu,
        cell_sizes=sizes.astype(np.int64),
        coef=np.asarray(gamma, dtype=np.float64),
        variance_labels=var_labels,
        residual_sd=sd,
        prior_mean=mu[cidx] + z @ gamma,
        prior_sd=sd[vidx],
        n_iter=it,
        converged=converged,
        bounded_cells=bounded,
    )


def conditioned_plausible_values(
    responses: ArrayLike,
    params: ItemParameters,
    n_draws: int = 5,
    *,
    cells: ArrayLike,
    covariates: ArrayLike | None = None,
    variance_groups: ArrayLike | None = None,
    rng: np.random.Generator | int | None = None,
    grid_step: float = 0.05,
    max_iter: int = 500,
    tol: float = 1e-4,
) -> ConditionedPlausibleValues:
    """Fit the latent regression, then draw ``n_draws`` plausible values per person.

    Draws come from each person's posterior on a fine grid (inverse CDF of
    the histogram density, as :func:`scoring.plausible_values`). Group means,
    SDs and level percentages computed from them and combined by Rubin's
    rules are unbiased for every group nested in the cells (schools,
    districts, school attributes) and for covariate groups.

    Parameters
    ----------
    responses, params, cells, covariates, variance_groups, max_iter, tol
        As :func:`fit_population_model`.
    n_draws : int, default 5
    rng : numpy.random.Generator or int, optional
    grid_step : float, default 0.05

    Returns
    -------
    ConditionedPlausibleValues
    """
    if not isinstance(n_draws, (int, np.integer)) or isinstance(n_draws, bool) or n_draws < 1:
        raise ScoringInputError(f"n_draws: expected a positive integer (e.g. 5 or 10); found {n_draws!r}")
    if not (np.isfinite(grid_step) and 0 < grid_step <= 0.2):
        raise ScoringInputError(f"grid_step: expected a spacing in (0, 0.2]; found {grid_step!r}")
    x = _check_responses_for(params, responses)
    model = fit_population_model(x, params, cells=cells, covariates=covariates, variance_groups=variance_groups,
                                 max_iter=max_iter, tol=tol)
    gen = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
    m, s = model.prior_mean, model.prior_sd
    lo = min(-4.5, float(np.min(m - 6.0 * s)))
    hi = max(4.5, float(np.max(m + 6.0 * s)))
    grid: F64 = (lo + grid_step * np.arange(int(np.ceil((hi - lo) / grid_step)) + 1)).astype(np.float64)

    def log_prior(rows: slice) -> F64:
        zq = (grid[None, :] - m[rows, None]) / s[rows, None]
        return -0.5 * zq * zq

    with blas_threads():
        values, post_mean, post_sd = _posterior_draws(x, params, grid, grid_step, log_prior, n_draws, gen)
    return ConditionedPlausibleValues(values=values, posterior_mean=post_mean, posterior_sd=post_sd, model=model)
