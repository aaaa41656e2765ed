"""`calibrate()`: the public entry point, as a sequence of named steps."""
from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray

from .._blas import blas_threads
from .._quadrature import quadrature_grid
from ..errors import ConvergenceWarning, ScoringInputError
from ..models import ItemParameters, parse_model_name
from ._data import _check_prior_c, _collapse, _parse_fixed, _response_codes
from ._em import _free_index, _loglik64, _run_em, _start_values
from ._problem import _Family, _Problem, _State
from ._result import Calibration
from ._standard_errors import _standard_errors

F64 = NDArray[np.float64]
SEMethod = Literal["louis", "xpd"]


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
    names = _item_names(item_names, J)
    _check_em_options(max_iter, tol)
    prior_c = _check_prior_c(prior_c)
    theta = quadrature_grid(n_quad, bounds)
    se_method = _se_method(se)
    maxcat = _highest_categories(counts_obs)
    models, rasch = _resolve_models(model, maxcat, names)
    fixed_spec = _parse_fixed(fixed, names, models)
    for j, spec in fixed_spec.items():
        models[j] = parse_model_name(spec["model"], where=f"fixed: item {names[j]!r}")
    K = _n_categories(models, maxcat, fixed_spec)
    _check_item_data(X, codes_all, counts_obs, maxcat, K, models, names, fixed_spec)
    glabels, gidx_full, ref = _group_index(groups, reference_group, N)
    free = np.array([j not in fixed_spec for j in range(J)])
    mu_free, sd_free = _free_latent(len(glabels), ref, glabels, estimate_latent, bool(fixed_spec), rasch)
    if not free.any() and not (mu_free.any() or sd_free.any()):
        raise ScoringInputError("fixed: every item is fixed and no latent parameter is free; nothing to estimate")
    _check_identified(models, K, free, rasch, mu_free, sd_free)
    prob, dtype, n_persons, group_n = _build_problem(codes_all, gidx_full, glabels, models, K, free, rasch, theta,
                                                     mu_free, sd_free, prior_c, precision)

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
    return _result(prob, st, idx, pnames, cov, names, glabels, ref, float(loglik), n_iter, converged, n_persons,
                   group_n, se_method)


# --- the steps of calibrate(), in order ----------------------------------------------------------------


def _item_names(item_names: Sequence[str] | None, J: int) -> tuple[str, ...]:
    """One name per response column: the given ones, else item1..itemJ."""
    names = tuple(str(s) for s in item_names) if item_names is not None else tuple(f"item{j + 1}" for j in range(J))
    if len(names) != J:
        raise ScoringInputError(f"item_names: expected {J} names (one per column of responses); found {len(names)}")
    return names


def _check_em_options(max_iter: Any, tol: Any) -> None:
    if not isinstance(max_iter, (int, np.integer)) or max_iter < 1:
        raise ScoringInputError(f"max_iter: expected a positive integer; found {max_iter!r}")
    if not tol > 0:
        raise ScoringInputError(f"tol: expected a positive number; found {tol!r}")


def _se_method(se: bool | str) -> str | None:
    """"louis", "xpd" or None (no standard errors) from calibrate's `se` argument."""
    method: str | None = "louis" if se is True else None if se is False else str(se)
    if method not in (None, "louis", "xpd"):
        raise ScoringInputError(f"se: expected True, False, 'louis' or 'xpd'; found {se!r}")
    return method


def _highest_categories(counts_obs: NDArray[np.int64]) -> NDArray[np.int64]:
    """The highest observed score of each item (-1 for an item nobody answered)."""
    kobs = counts_obs.shape[1]
    return np.where(counts_obs > 0, np.arange(kobs)[None, :], -1).max(axis=1)


def _resolve_models(model: str | Sequence[str], maxcat: NDArray[np.int64],
                    names: tuple[str, ...]) -> tuple[list[str], bool]:
    """One canonical model per item ("auto": 2pl for 0/1 items, gpcm otherwise), and whether it is a Rasch fit.

    "rasch" and "1pl" are both the one-parameter model but identify it differently (slopes 1 and
    the latent SD free, against a common slope and N(0, 1)), so the raw names are checked first.
    """
    J = len(names)
    raw = [model] * J if isinstance(model, str) else list(model)
    if len(raw) != J:
        raise ScoringInputError(f"model: expected one model name per item ({J} items); found {len(raw)} names")
    rasch = any(isinstance(m, str) and m.strip().lower() == "rasch" for m in raw)
    if rasch and any(isinstance(m, str) and m.strip().lower() == "1pl" for m in raw):
        raise ScoringInputError("model: 'rasch' (slopes 1, latent SD free) and '1pl' (common slope) cannot be mixed")
    models: list[str] = []
    for j, m in enumerate(raw):
        if isinstance(m, str) and m.strip().lower() == "auto":
            models.append("2pl" if maxcat[j] <= 1 else "gpcm")
        else:
            models.append(parse_model_name(m, where=f"model[{j}] (item {names[j]!r})"))
    return models, rasch


def _n_categories(models: list[str], maxcat: NDArray[np.int64],
                  fixed_spec: dict[int, dict[str, Any]]) -> NDArray[np.int64]:
    """Categories per item: 2 for dichotomous models, else the anchors' or the data's."""
    K = np.zeros(len(models), dtype=np.int64)
    for j, m in enumerate(models):
        if m in ("1pl", "2pl", "3pl"):
            K[j] = 2
        elif j in fixed_spec:
            K[j] = len(fixed_spec[j]["d"]) + 1
        else:
            K[j] = max(int(maxcat[j]) + 1, 2)
    return K


def _check_item_data(X: F64, codes_all: NDArray[np.int8], counts_obs: NDArray[np.int64], maxcat: NDArray[np.int64],
                     K: NDArray[np.int64], models: list[str], names: tuple[str, ...],
                     fixed_spec: dict[int, dict[str, Any]]) -> None:
    """Refuse items the model cannot fit: no responses, scores above the model's range, no variance, gaps."""
    for j in range(len(names)):
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


def _group_index(groups: ArrayLike | None, reference_group: Any,
                 N: int) -> tuple[tuple[Any, ...], NDArray[np.intp], int]:
    """Group labels (sorted), each person's group index, and the reference group's index."""
    if groups is None:
        return (0,), np.zeros(N, dtype=np.intp), 0
    garr = np.asarray(groups)
    if garr.ndim != 1 or garr.shape[0] != N:
        raise ScoringInputError(f"groups: expected one label per person, shape ({N},); found shape {garr.shape}")
    try:
        uniq, gidx = np.unique(garr, return_inverse=True)
    except TypeError:
        raise ScoringInputError("groups: labels must be mutually comparable (all numbers or all strings)") from None
    if garr.dtype.kind == "f" and np.isnan(garr.astype(float)).any():
        raise ScoringInputError("groups: found a missing (NaN) group label; every person needs a group")
    glabels = tuple(u.item() if hasattr(u, "item") else u for u in uniq)
    if reference_group is None:
        return glabels, gidx.astype(np.intp).ravel(), 0
    matches = [g for g, lab in enumerate(glabels) if lab == reference_group or str(lab) == str(reference_group)]
    if not matches:
        raise ScoringInputError(f"reference_group: {reference_group!r} is not one of the group labels {list(glabels)}")
    return glabels, gidx.astype(np.intp).ravel(), matches[0]


def _free_latent(G: int, ref: int, glabels: tuple[Any, ...], estimate_latent: bool | None, anchored: bool,
                 rasch: bool) -> tuple[NDArray[np.bool_], NDArray[np.bool_]]:
    """Which group means and SDs are estimated: every group's but the reference's, unless anchors set the scale."""
    if estimate_latent and not anchored:
        raise ScoringInputError(
            "estimate_latent: True needs fixed anchor items (fixed=) to set the scale; without anchors the "
            f"mean and SD of the reference group {glabels[ref]!r} are not identified (any value fits equally well). "
            "Pass fixed= or leave estimate_latent unset (the reference group is then N(0, 1))."
        )
    if estimate_latent is None:
        estimate_latent = anchored
    mu_free = np.ones(G, dtype=bool)
    sd_free = np.ones(G, dtype=bool)
    mu_free[ref] = estimate_latent
    sd_free[ref] = estimate_latent or rasch
    return mu_free, sd_free


def _build_problem(codes_all: NDArray[np.int8], gidx_full: NDArray[np.intp], glabels: tuple[Any, ...],
                   models: list[str], K: NDArray[np.int64], free: NDArray[np.bool_], rasch: bool, theta: F64,
                   mu_free: NDArray[np.bool_], sd_free: NDArray[np.bool_], prior_c: tuple[float, float],
                   precision: str) -> tuple[_Problem, Any, int, NDArray[np.int64]]:
    """Drop persons without responses, collapse identical patterns, build the one-hot design `Z` and the families.

    Returns the problem, the E-step dtype, the number of persons and the persons per group.
    """
    G, J = len(glabels), len(models)
    keep = (codes_all >= 0).any(axis=1)
    codes, gk = (codes_all, gidx_full) if keep.all() else (codes_all[keep], gidx_full[keep])
    group_n = np.bincount(gk, minlength=G).astype(np.int64)
    if np.any(group_n == 0):
        g0 = int(np.flatnonzero(group_n == 0)[0])
        raise ScoringInputError(f"groups: group {glabels[g0]!r} has no person with a response")
    first, _inv, cnt = _collapse(codes, gk)
    codes_u, g_u = codes[first], gk[first]
    has_missing = bool((codes_u < 0).any())
    ycol_item = np.concatenate([np.full(int(K[j]) - 1, j) for j in range(J)]).astype(np.intp)
    ycol_cat = np.concatenate([np.arange(1, int(K[j])) for j in range(J)]).astype(np.intp)
    if precision == "auto":
        dtype: Any = np.float32 if codes_u.shape[0] * theta.shape[0] > 2_000_000 else np.float64
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
    marr = np.array(models)
    families: list[_Family] = []
    for kind in ("1pl", "2pl", "3pl", "grm", "gpcm"):
        sel = np.flatnonzero((marr == kind) & free)
        for k in sorted(set(K[sel].tolist())):
            families.append(_Family(kind, sel[K[sel] == k], int(k)))
    prob = _Problem(
        J=J, K=K, Kmax=int(K.max()), model=tuple(models), free=free, families=families,
        common_a=bool(((marr == "1pl") & free).any()) and not rasch,
        theta=theta, G=G, mu_free=mu_free, sd_free=sd_free, prior_c=prior_c,
        Z=Z, w=cnt, gidx=g_u.astype(np.intp), ycol_item=ycol_item, ycol_cat=ycol_cat,
        has_missing=has_missing, dich=np.isin(marr, ["1pl", "2pl", "3pl"]), grm=marr == "grm", gpcm=marr == "gpcm",
    )
    return prob, dtype, int(keep.sum()), group_n


def _result(prob: _Problem, st: _State, idx: list[tuple[str, int, int]], pnames: list[str], cov: F64 | None,
            names: tuple[str, ...], glabels: tuple[Any, ...], ref: int, loglik: float, n_iter: int, converged: bool,
            n_persons: int, group_n: NDArray[np.int64], se_method: str | None) -> Calibration:
    """The Calibration: estimates in slope/intercept form, SEs mapped back to their parameters, AIC/BIC."""
    J, G = prob.J, prob.G
    marr = np.array(prob.model)
    d_out = np.full((J, max(prob.Kmax - 1, 1)), np.nan)
    for j in range(J):
        d_out[j, : int(prob.K[j]) - 1] = st.d[j, : int(prob.K[j]) - 1]
    c_out = np.where(marr == "3pl", st.c, 0.0)
    params = ItemParameters(model=prob.model, a=st.a.copy(), d=d_out, c=c_out, item_names=names)
    se_a, se_d, se_c = np.full(J, np.nan), np.full_like(d_out, np.nan), np.full(J, np.nan)
    se_mu, se_sd = np.full(G, np.nan), np.full(G, np.nan)
    if cov is not None:
        sev = np.sqrt(np.diag(cov))
        for i, (k, r, cc) in enumerate(idx):
            if k == "a":
                if prob.model[r] == "1pl" and prob.common_a:
                    se_a[(marr == "1pl") & prob.free] = sev[i]
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
        params=params, se_a=se_a, se_d=se_d, se_c=se_c, loglik=loglik,
        aic=float(-2 * loglik + 2 * n_par), bic=float(-2 * loglik + n_par * np.log(n_persons)),
        n_iter=n_iter, converged=converged, group_labels=glabels, group_means=st.mu.copy(),
        group_sds=st.sd.copy(), se_group_means=se_mu, se_group_sds=se_sd, group_n=group_n,
        reference_group=glabels[ref], n_persons=n_persons, n_parameters=n_par, se_method=se_method,
        covariance=cov, parameter_names=tuple(_pretty(pnames, names, glabels)), quadrature=prob.theta,
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
