"""Scale linking of two calibrations through common (anchor) items.

Convention
----------
Two separate calibrations put the same items on two latent scales. ``link``
finds the linear transformation that carries the *from* scale onto the *to*
(base) scale::

    theta_to = A * theta_from + B                      (A > 0)

An item response function is unchanged when its parameters are transformed
with theta. In our slope/intercept form ``a * theta + d`` (mirt's), with
``theta_from = (theta_to - B) / A``::

    a * theta_from + d = (a / A) * theta_to + (d - a * B / A)

so, for every model (1PL/2PL/3PL, GRM cumulative intercepts and GPCM step
intercepts alike)::

    a_to = a_from / A
    d_to = d_from - a_from * B / A       (each intercept column)
    c_to = c_from
    b_to = A * b_from + B                (IRT thresholds b = -d / a)

(Kolen & Brennan, 2014, eqs. 6.2–6.4.) The GPCM step form ``sum_m (a theta
+ d_m)`` makes the same column-wise intercept rule hold for the GPCM.

Methods
-------
``mean-mean`` (Loyd & Hoover, 1980)
    ``A = mean(a_from) / mean(a_to)``, ``B = mean(b_to) - A mean(b_from)``.
``mean-sigma`` (Marco, 1977)
    ``A = sd(b_to) / sd(b_from)``, ``B = mean(b_to) - A mean(b_from)``.
    ``b`` pools every threshold of every common item (polytomous items
    contribute all their thresholds; Kim & Lee, 2006).
``haebara`` (Haebara, 1980)
    Minimises ``sum_q w_q sum_j sum_k [P_jk(theta_q; to) - P_jk(theta_q; from*)]^2``
    where ``from*`` are the from-parameters transformed by (A, B) and the
    inner sum runs over the correct response of a dichotomous item and over
    all categories of a polytomous item (Kim & Lee, 2006).
``stocking-lord`` (Stocking & Lord, 1983)
    Minimises ``sum_q w_q [sum_j E_j(theta_q; to) - sum_j E_j(theta_q; from*)]^2``
    (the test characteristic curves of the common items, polytomous items
    through their expected scores).

The characteristic-curve criteria are evaluated on the *to* scale by default
(``theta_q`` = 61 equally spaced points on [-4, 4] with normal-density weights,
as PyPI mirt; pass ``theta_points``/``theta_weights`` to match another
program). ``symmetric=True`` adds the same criterion on the from scale
(Haebara's original symmetric form). Because
``P(theta; from*) = P((theta - B) / A; from)``, each evaluation needs the
from-curves at shifted points only; the criteria are solved by
Levenberg–Marquardt least squares in ``(log A, B)`` with a closed-form
Jacobian (curve slopes by central differences in theta), started at the
mean-sigma solution (mean-mean when the thresholds have no spread, ``A = 1``
when mean-mean gives no positive ``A``). A solution with ``A`` outside
``[1e-3, 1e3]`` flattens one set of curves rather than linking them and is
reported as an input error.

Standard errors
---------------
``link(..., se=True)`` adds jackknife standard errors of ``A`` and ``B`` over
the common items (Haberman, Lee & Qian, 2009; Michaelides, 2010): the link is
solved again with each common item left out in turn (same method and
quadrature, started at the full solution), and
``se = sqrt((n - 1) / n * sum_i (x_(i) - mean x_(.))^2)``. This is the
linking error due to the choice of anchor items, the part that dominates when
the anchors' own parameter estimates are precise; it needs at least three
common items (NaN otherwise).

References
----------
Haberman, S. J., Lee, Y.-H., & Qian, J. (2009). Jackknifing techniques for
    evaluation of equating accuracy. *ETS Research Report* RR-09-39.
Haebara, T. (1980). Equating logistic ability scales by a weighted least
    squares method. *Japanese Psychological Research*, 22, 144–149.
Kim, S., & Lee, W.-C. (2006). An extension of four IRT linking methods for
    mixed-format tests. *Journal of Educational Measurement*, 43, 53–76.
Kolen, M. J., & Brennan, R. L. (2014). *Test Equating, Scaling, and Linking*
    (3rd ed.), ch. 6. Springer.
Loyd, B. H., & Hoover, H. D. (1980). Vertical equating using the Rasch model.
    *Journal of Educational Measurement*, 17, 179–193.
Michaelides, M. P. (2010). A review of the effects on IRT item parameter
    estimates with a focus on misbehaving common items in test equating.
    *Frontiers in Psychology*, 1, 167.
Marco, G. L. (1977). Item characteristic curve solutions to three intractable
    testing problems. *Journal of Educational Measurement*, 14, 139–160.
Stocking, M. L., & Lord, F. M. (1983). Developing a common metric in item
    response theory. *Applied Psychological Measurement*, 7, 201–210.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import optimize, stats

from .errors import ScoringInputError
from .models import DICHOTOMOUS_MODELS, ItemParameters, category_probabilities

__all__ = [
    "LinkingResult",
    "link",
    "transform_parameters",
    "transform_theta",
]

LinkingMethod = Literal["mean-mean", "mean-sigma", "haebara", "stocking-lord"]
_METHODS = ("mean-mean", "mean-sigma", "haebara", "stocking-lord")
_ALIASES = {
    "mean_mean": "mean-mean",
    "mean_sigma": "mean-sigma",
    "stocking_lord": "stocking-lord",
    "sl": "stocking-lord",
}


def _check_constants(A: float, B: float) -> tuple[float, float]:
    A, B = float(A), float(B)
    if not (np.isfinite(A) and A > 0):
        raise ScoringInputError(f"A: expected a finite positive scale constant; found {A!r}")
    if not np.isfinite(B):
        raise ScoringInputError(f"B: expected a finite location constant; found {B!r}")
    return A, B


def transform_theta(theta: ArrayLike, A: float, B: float) -> NDArray[np.float64]:
    """Put abilities on the *to* scale: ``A * theta + B``.

    Standard errors transform as ``A * se``.

    Parameters
    ----------
    theta : array_like, any shape
    A, B : float
        Linking constants (``A > 0``).

    Returns
    -------
    ndarray, same shape as ``theta``
    """
    A, B = _check_constants(A, B)
    return A * np.asarray(theta, dtype=np.float64) + B


def transform_parameters(params: ItemParameters, A: float, B: float) -> ItemParameters:
    """Put item parameters on the *to* scale (``theta_to = A theta + B``).

    ``a / A``, ``d - a B / A`` (every intercept column, NaN padding kept) and
    ``c`` unchanged; see the module docstring for the derivation.

    Parameters
    ----------
    params : ItemParameters
    A, B : float

    Returns
    -------
    ItemParameters
        Same models and item names.
    """
    A, B = _check_constants(A, B)
    if not isinstance(params, ItemParameters):
        raise ScoringInputError(f"params: expected ItemParameters; found {type(params).__name__}")
    a = params.a / A
    d = params.d - (params.a * B / A)[:, None]
    return ItemParameters(model=params.model, a=a, d=d, c=params.c, item_names=params.item_names)


@dataclass(frozen=True)
class LinkingResult:
    """Linking constants carrying the from scale onto the to scale.

    ``theta_to = A * theta_from + B``.

    Attributes
    ----------
    A, B : float
    method : str
    common_from, common_to : tuple of int
        Indices of the common items in the from and the to parameters.
    common_names : tuple of str
        Names of the common items (from the to parameters).
    criterion : float
        Characteristic-curve criterion at the solution (weighted sum of
        squares); NaN for the moment methods.
    converged : bool
        True for the moment methods; the optimiser's success flag otherwise.
    n_iter : int
        Optimiser function evaluations (0 for the moment methods).
    linked : ItemParameters
        *All* from-parameters transformed onto the to scale.
    se_A, se_B : float
        Jackknife standard errors over the common items (``link(se=True)``
        with at least three common items); NaN otherwise.
    """

    A: float
    B: float
    method: str
    common_from: tuple[int, ...]
    common_to: tuple[int, ...]
    common_names: tuple[str, ...]
    criterion: float
    converged: bool
    n_iter: int
    linked: ItemParameters
    se_A: float = float("nan")
    se_B: float = float("nan")

    def transform_theta(self, theta: ArrayLike) -> NDArray[np.float64]:
        """``A * theta + B`` (from-scale abilities onto the to scale)."""
        return transform_theta(theta, self.A, self.B)

    def transform_parameters(self, params: ItemParameters) -> ItemParameters:
        """Transform any from-scale parameters onto the to scale."""
        return transform_parameters(params, self.A, self.B)


def _resolve_common(
    params_from: ItemParameters,
    params_to: ItemParameters,
    common: Sequence[str] | Sequence[tuple[int, int]] | None,
) -> tuple[NDArray[np.intp], NDArray[np.intp]]:
    from_index = {n: i for i, n in enumerate(params_from.item_names)}
    to_index = {n: i for i, n in enumerate(params_to.item_names)}
    if common is None:
        names = [n for n in params_to.item_names if n in from_index]
        pairs = [(from_index[n], to_index[n]) for n in names]
        if not pairs:
            raise ScoringInputError(
                "common: the two parameter sets share no item names; pass common= as a list of "
                "shared names or of (from_index, to_index) pairs"
            )
    else:
        pairs = []
        for entry in common:
            if isinstance(entry, str):
                if entry not in from_index or entry not in to_index:
                    where = "params_from" if entry not in from_index else "params_to"
                    raise ScoringInputError(f"common: item {entry!r} is not in {where}")
                pairs.append((from_index[entry], to_index[entry]))
            else:
                try:
                    i, k = (int(v) for v in entry)
                except (TypeError, ValueError) as exc:
                    raise ScoringInputError(
                        f"common: expected item names or (from_index, to_index) pairs; found {entry!r}"
                    ) from exc
                if not (0 <= i < params_from.n_items and 0 <= k < params_to.n_items):
                    raise ScoringInputError(
                        f"common: index pair {entry!r} out of range ({params_from.n_items} from items, "
                        f"{params_to.n_items} to items)"
                    )
                pairs.append((i, k))
        if not pairs:
            raise ScoringInputError("common: expected at least one common item; found none")
    fi = np.array([p[0] for p in pairs], dtype=np.intp)
    ti = np.array([p[1] for p in pairs], dtype=np.intp)
    if len(set(fi.tolist())) != len(fi) or len(set(ti.tolist())) != len(ti):
        raise ScoringInputError("common: an item appears in more than one common pair")
    kf, kt = params_from.n_categories[fi], params_to.n_categories[ti]
    for i, k, cf, ct in zip(fi, ti, kf, kt, strict=True):
        mf, mt = params_from.model[i], params_to.model[k]
        same_kind = (mf in DICHOTOMOUS_MODELS) == (mt in DICHOTOMOUS_MODELS) and cf == ct
        if not same_kind or (mf not in DICHOTOMOUS_MODELS and mf != mt):
            raise ScoringInputError(
                f"common: item {params_to.item_names[k]!r} is {mt} with {ct} categories in params_to but "
                f"{mf} with {cf} categories in params_from; common items must have the same model"
            )
    return fi, ti


def _moment_inputs(sub: ItemParameters) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    b = sub.b
    return sub.a, b[np.isfinite(b)]


def _moment_link(
    sub_from: ItemParameters, sub_to: ItemParameters, method: str
) -> tuple[float, float]:
    a_f, b_f = _moment_inputs(sub_from)
    a_t, b_t = _moment_inputs(sub_to)
    if method == "mean-mean":
        ma_f, ma_t = float(np.mean(a_f)), float(np.mean(a_t))
        A = ma_f / ma_t if ma_t != 0 else float("nan")
        if not (np.isfinite(A) and A > 0):
            raise ScoringInputError(
                "common: mean-mean linking needs common-item slopes whose means have the same sign in both "
                f"calibrations; found mean a {ma_f:.3g} in params_from and {ma_t:.3g} in params_to (a reversed "
                "scale or mis-keyed items?); check the keying of the common items and the direction of both scales"
            )
    else:
        sd_f, sd_t = float(np.std(b_f)), float(np.std(b_t))
        if b_f.size < 2 or sd_f <= 1e-12 or sd_t <= 1e-12:
            raise ScoringInputError(
                "common: mean-sigma linking needs common-item difficulties with spread (at least two "
                f"different thresholds); found {b_f.size} threshold(s) with SD {sd_f:.3g}. Use "
                "method='mean-mean' or a characteristic-curve method."
            )
        A = sd_t / sd_f
    B = float(np.mean(b_t) - A * np.mean(b_f))
    return A, B


# characteristic-curve solutions outside this range are degenerate (flattened curves), not links
_A_RANGE = (1e-3, 1e3)


def _curve_start(sub_from: ItemParameters, sub_to: ItemParameters) -> tuple[float, float]:
    """Start of the characteristic-curve search: mean-sigma, else mean-mean, else ``A = 1``.

    The curve criteria are solved in ``log A``, so the start needs ``A > 0``; mean-mean gives
    ``A <= 0`` when the common slopes' means differ in sign, and then the identity scale
    (with the mean difference of the thresholds as shift) is the neutral start.
    """
    for method in ("mean-sigma", "mean-mean"):
        try:
            return _moment_link(sub_from, sub_to, method)
        except ScoringInputError:
            pass
    _, b_f = _moment_inputs(sub_from)
    _, b_t = _moment_inputs(sub_to)
    B = float(np.mean(b_t) - np.mean(b_f)) if b_f.size and b_t.size else 0.0
    return 1.0, B if np.isfinite(B) else 0.0


def _curve_parts(
    params: ItemParameters, theta: NDArray[np.float64], method: str, h: float = 1e-5
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Curves compared by the criterion and their theta-derivatives.

    Returns arrays of shape (Q, M): for Haebara M = number of compared
    category curves, for Stocking–Lord M = 1 (the test characteristic curve).
    """
    pts = np.concatenate([theta, theta + h, theta - h])
    p = category_probabilities(pts, params)  # (3Q, J, K)
    Q = theta.shape[0]
    if method == "haebara":
        dich = np.array([m in DICHOTOMOUS_MODELS for m in params.model])
        k = np.arange(p.shape[2])
        valid = k[None, :] < params.n_categories[:, None]
        valid &= ~(dich[:, None] & (k[None, :] == 0))  # dichotomous: P(X=1) only
        curves = p[:, valid]  # (3Q, M)
    else:
        curves = (p @ np.arange(p.shape[2], dtype=np.float64)).sum(axis=1, keepdims=True)
    value = curves[:Q]
    slope = (curves[Q : 2 * Q] - curves[2 * Q :]) / (2 * h)
    return value, slope


def _curve_link(
    sub_from: ItemParameters,
    sub_to: ItemParameters,
    method: str,
    theta: NDArray[np.float64],
    weights: NDArray[np.float64],
    symmetric: bool,
    start: tuple[float, float],
) -> tuple[float, float, float, bool, int]:
    root_w = np.sqrt(weights)[:, None]
    target_to, _ = _curve_parts(sub_to, theta, method)  # to-scale curves at to-scale points
    target_from, _ = _curve_parts(sub_from, theta, method)  # from-scale curves at from-scale points

    def residuals_and_jac(x: NDArray[np.float64]) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        A, B = float(np.exp(x[0])), float(x[1])
        u = (theta - B) / A  # to-scale grid expressed on the from scale
        val, slope = _curve_parts(sub_from, u, method)
        r1 = root_w * (target_to - val)
        # d u / d logA = -u ; d u / d B = -1/A ; r = -sqrt(w) val(u)
        j1 = np.stack([(root_w * slope * u[:, None]).ravel(), (root_w * slope / A).ravel()], axis=1)
        if not symmetric:
            return r1.ravel(), j1
        v = A * theta + B  # from-scale grid expressed on the to scale
        val2, slope2 = _curve_parts(sub_to, v, method)
        r2 = root_w * (target_from - val2)
        # d v / d logA = A theta ; d v / d B = 1
        j2 = np.stack(
            [(-root_w * slope2 * (A * theta)[:, None]).ravel(), (-root_w * slope2).ravel()], axis=1
        )
        return np.concatenate([r1.ravel(), r2.ravel()]), np.vstack([j1, j2])

    x0 = np.array([np.log(start[0]), start[1]])
    with np.errstate(over="ignore", invalid="ignore"):
        sol = optimize.least_squares(
            lambda x: residuals_and_jac(x)[0],
            x0,
            jac=lambda x: residuals_and_jac(x)[1],
            method="lm",
            xtol=1e-14,
            ftol=1e-14,
            gtol=1e-14,
        )
    A, B = float(np.exp(sol.x[0])), float(sol.x[1])
    crit = float(np.sum(sol.fun**2))
    return A, B, crit, bool(sol.success and np.all(np.isfinite(sol.x))), int(sol.nfev)


def link(
    params_from: ItemParameters,
    params_to: ItemParameters,
    common: Sequence[str] | Sequence[tuple[int, int]] | None = None,
    method: LinkingMethod | str = "stocking-lord",
    *,
    theta_points: ArrayLike | None = None,
    theta_weights: ArrayLike | None = None,
    symmetric: bool = False,
    se: bool = False,
) -> LinkingResult:
    """Link the *from* calibration onto the *to* scale through common items.

    Parameters
    ----------
    params_from : ItemParameters
        Parameters of the calibration to be transformed (e.g. grade 8).
    params_to : ItemParameters
        Parameters defining the target scale (e.g. base-year grade 5).
    common : sequence, optional
        The common items: names present in both parameter sets, or
        ``(from_index, to_index)`` pairs. Defaults to every item name the two
        sets share. Common items must have the same model in both.
    method : {"stocking-lord", "haebara", "mean-sigma", "mean-mean"}
        See the module docstring.
    theta_points, theta_weights : array_like, shape (Q,), optional
        Quadrature of the characteristic-curve criteria on the to scale
        (default 61 points on [-4, 4], normal-density weights). Weights are
        normalised to sum to one.
    symmetric : bool, default False
        Also match the curves on the from scale (same points and weights).
    se : bool, default False
        Add jackknife standard errors of ``A`` and ``B`` over the common
        items (see the module docstring); needs at least three.

    Returns
    -------
    LinkingResult
        ``theta_to = A * theta_from + B``; ``result.linked`` holds every
        from-item on the to scale.
    """
    for name, p in (("params_from", params_from), ("params_to", params_to)):
        if not isinstance(p, ItemParameters):
            raise ScoringInputError(f"{name}: expected ItemParameters; found {type(p).__name__}")
    m = _ALIASES.get(str(method).lower(), str(method).lower())
    if m not in _METHODS:
        raise ScoringInputError(f"method: expected one of {', '.join(_METHODS)}; found {method!r}")
    fi, ti = _resolve_common(params_from, params_to, common)
    sub_from, sub_to = params_from.take(fi), params_to.take(ti)

    if theta_points is None:
        theta = np.linspace(-4.0, 4.0, 61)
    else:
        theta = np.asarray(theta_points, dtype=np.float64).reshape(-1)
    if theta_weights is None:
        w = stats.norm.pdf(theta) if theta_points is None else np.full(theta.shape, 1.0)
    else:
        w = np.asarray(theta_weights, dtype=np.float64).reshape(-1)
    if theta.size < 2 or not np.all(np.isfinite(theta)):
        raise ScoringInputError(f"theta_points: expected at least 2 finite points; found {theta.size}")
    if w.shape != theta.shape or not np.all(np.isfinite(w)) or np.any(w < 0) or not w.sum() > 0:
        raise ScoringInputError(
            f"theta_weights: expected {theta.size} non-negative weights with a positive sum; found shape {w.shape}"
        )
    w = w / w.sum()

    A, B, crit, ok, nit = _solve(sub_from, sub_to, m, theta, w, symmetric, None)
    A, B = _check_constants(A, B)
    se_A = se_B = float("nan")
    if se and fi.size >= 3:
        se_A, se_B = _jackknife(sub_from, sub_to, m, theta, w, symmetric, (A, B))
    return LinkingResult(
        A=A,
        B=B,
        method=m,
        common_from=tuple(int(i) for i in fi),
        common_to=tuple(int(i) for i in ti),
        common_names=tuple(params_to.item_names[i] for i in ti),
        criterion=crit,
        converged=ok,
        n_iter=nit,
        linked=transform_parameters(params_from, A, B),
        se_A=se_A,
        se_B=se_B,
    )


def _solve(
    sub_from: ItemParameters,
    sub_to: ItemParameters,
    m: str,
    theta: NDArray[np.float64],
    w: NDArray[np.float64],
    symmetric: bool,
    start: tuple[float, float] | None,
) -> tuple[float, float, float, bool, int]:
    """``(A, B, criterion, converged, n_iter)`` of one method on the common items' parameters."""
    if m in ("mean-mean", "mean-sigma"):
        A, B = _moment_link(sub_from, sub_to, m)
        return A, B, float("nan"), True, 0
    A, B, crit, ok, nit = _curve_link(sub_from, sub_to, m, theta, w, symmetric,
                                      start or _curve_start(sub_from, sub_to))
    if not (np.isfinite(A) and _A_RANGE[0] < A < _A_RANGE[1]):
        # the criterion is then minimised by flattening one set of curves: no usable link
        a_f, a_t = float(np.mean(sub_from.a)), float(np.mean(sub_to.a))
        raise ScoringInputError(
            f"common: {m} linking degenerated to A = {A:.3g} (the curves of the common items cannot be "
            f"matched by theta_to = A * theta_from + B with A > 0); mean common slope {a_f:.3g} in "
            f"params_from and {a_t:.3g} in params_to. Check the keying of the common items and the "
            "direction of both scales."
        )
    return A, B, crit, ok, nit


def _jackknife(
    sub_from: ItemParameters,
    sub_to: ItemParameters,
    m: str,
    theta: NDArray[np.float64],
    w: NDArray[np.float64],
    symmetric: bool,
    full: tuple[float, float],
) -> tuple[float, float]:
    """Delete-one jackknife SEs of ``(A, B)`` over the common items (NaN when a replicate has no solution)."""
    n = sub_from.n_items
    reps = np.full((n, 2), np.nan)
    for i in range(n):  # one re-solve per common item (a handful), not per person
        keep = np.delete(np.arange(n), i)
        try:
            reps[i, :2] = _solve(sub_from.take(keep), sub_to.take(keep), m, theta, w, symmetric, full)[:2]
        except ScoringInputError:
            return float("nan"), float("nan")
    dev = reps - reps.mean(axis=0)
    se = np.sqrt((n - 1) / n * np.sum(dev**2, axis=0))
    return float(se[0]), float(se[1])
