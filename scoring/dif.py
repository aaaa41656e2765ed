"""Differential item functioning by the Mantel–Haenszel procedure.

Persons of a *focal* and a *reference* group are matched on an observed score
(by default the total test score, studied item included, as Holland & Thayer
1988 require for the MH statistic to be unbiased under the Rasch model) and
each item's performance is compared within every score stratum.

Dichotomous items (scores 0/1) get the MH common odds ratio, the ETS delta
metric MH D-DIF, the continuity-corrected MH chi-square, the
Robins–Breslow–Greenland standard error and the ETS A/B/C category.
Polytomous items (scores 0..m) get Mantel's (1963) ordinal chi-square and the
standardized mean difference (SMD) with the ETS AA/BB/CC category. Every item
also gets the standardization index (STD P-DIF / SMD, Dorans & Kulick 1986).

Everything is computed with ``np.bincount`` over (item, stratum) cells: no
loop over persons, items or strata.

Sign convention: ``mh_d_dif < 0`` and ``smd < 0`` mean the item is harder for
the focal group than for matched reference-group persons (favours the
reference group).

References
----------
Mantel, N., & Haenszel, W. (1959). Statistical aspects of the analysis of data
    from retrospective studies of disease. *JNCI*, 22, 719–748.
Mantel, N. (1963). Chi-square tests with one degree of freedom: extensions of
    the Mantel–Haenszel procedure. *JASA*, 58, 690–700.
Holland, P. W., & Thayer, D. T. (1988). Differential item performance and the
    Mantel–Haenszel procedure. In H. Wainer & H. Braun (Eds.), *Test Validity*
    (pp. 129–145). Erlbaum.
Robins, J., Breslow, N., & Greenland, S. (1986). Estimators of the
    Mantel–Haenszel variance consistent in both sparse data and large-strata
    limiting models. *Biometrics*, 42, 311–323.
Dorans, N. J., & Kulick, E. (1986). Demonstrating the utility of the
    standardization approach to assessing unexpected differential item
    performance. *Journal of Educational Measurement*, 23, 355–368.
Zwick, R., Thayer, D. T., & Mazzeo, J. (1997). Descriptive and inferential
    procedures for assessing differential item functioning in polytomous
    items. *Applied Measurement in Education*, 10, 321–344.
Zwick, R. (2012). *A review of ETS differential item functioning assessment
    procedures: Flagging rules, minimum sample size requirements, and
    criterion refinement* (ETS RR-12-08).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import stats

from .ctt import _as_response_matrix, _item_names
from .errors import ScoringInputError

__all__ = ["MantelHaenszelDIF", "dif_mantel_haenszel"]

#: The ETS delta-metric constant: D = -2.35 ln(alpha_MH) (Holland & Thayer, 1988).
DELTA_SCALE = 2.35


@dataclass(frozen=True)
class MantelHaenszelDIF:
    """Mantel–Haenszel DIF statistics, one entry per item.

    Attributes
    ----------
    item_names : tuple of str, length J
    focal, reference : object
        The group labels compared.
    polytomous : ndarray of bool, shape (J,)
        Items with a score above 1; they get Mantel/SMD statistics and the
        odds-ratio fields are NaN.
    n_focal, n_reference : ndarray of int, shape (J,)
        Persons of each group with a response to the item.
    n_strata : ndarray of int, shape (J,)
        Matching-score strata holding both groups for the item (the
        informative strata).
    alpha_mh : ndarray, shape (J,)
        MH common odds ratio (reference odds of success over focal odds).
    mh_d_dif : ndarray, shape (J,)
        ``-2.35 * ln(alpha_mh)`` (ETS delta metric).
    mh_d_dif_se : ndarray, shape (J,)
        ``2.35 * SE(ln alpha_mh)`` (Robins, Breslow & Greenland, 1986).
    chi_square : ndarray, shape (J,)
        MH chi-square with continuity correction (dichotomous items) or
        Mantel's ordinal chi-square without correction (polytomous), 1 df.
    p_value : ndarray, shape (J,)
        Upper-tail chi-square(1) probability of ``chi_square``.
    smd : ndarray, shape (J,)
        Standardized mean difference: focal-weighted mean over strata of
        (focal mean − reference mean) item score; STD P-DIF for 0/1 items.
    smd_effect_size : ndarray, shape (J,)
        ``smd`` divided by the item-score SD of the focal and reference
        groups combined (the ETS polytomous effect size).
    classification : tuple of str, length J
        ETS category: ``"A"``, ``"B"``, ``"C"`` for dichotomous items and
        ``"AA"``, ``"BB"``, ``"CC"`` for polytomous ones; ``""`` when the item
        could not be analysed (no stratum holding both groups).
    alpha : float
        Significance level used for the classification.
    """

    item_names: tuple[str, ...]
    focal: Any
    reference: Any
    polytomous: NDArray[np.bool_]
    n_focal: NDArray[np.int64]
    n_reference: NDArray[np.int64]
    n_strata: NDArray[np.int64]
    alpha_mh: NDArray[np.float64]
    mh_d_dif: NDArray[np.float64]
    mh_d_dif_se: NDArray[np.float64]
    chi_square: NDArray[np.float64]
    p_value: NDArray[np.float64]
    smd: NDArray[np.float64]
    smd_effect_size: NDArray[np.float64]
    classification: tuple[str, ...]
    alpha: float


def _classify_dichotomous(
    d: NDArray[np.float64], se: NDArray[np.float64], p: NDArray[np.float64], alpha: float
) -> NDArray[np.str_]:
    """ETS A/B/C rule (Zwick, 2012, p. 2).

    A: |D| < 1 or D not significantly different from 0 (MH chi-square p >= alpha).
    C: |D| >= 1.5 and |D| significantly greater than 1 (one-sided z test at
       level alpha: (|D| - 1) / SE > z_{1-alpha}).
    B: otherwise.
    """
    z = stats.norm.ppf(1.0 - alpha)
    absd = np.abs(d)
    with np.errstate(invalid="ignore", divide="ignore"):
        above_one = (absd - 1.0) / se > z
    cls = np.full(d.shape, "B", dtype="<U2")
    cls[(absd < 1.0) | ~(p < alpha)] = "A"
    cls[(absd >= 1.5) & above_one & (p < alpha)] = "C"
    return cls


def _classify_polytomous(
    es: NDArray[np.float64], p: NDArray[np.float64], alpha: float
) -> NDArray[np.str_]:
    """ETS AA/BB/CC rule for polytomous items (Zwick, Thayer & Mazzeo, 1997).

    AA: Mantel p >= alpha or |SMD/SD| <= 0.17; CC: p < alpha and |SMD/SD| > 0.25;
    BB: otherwise.
    """
    a = np.abs(es)
    cls = np.full(es.shape, "BB", dtype="<U2")
    cls[~(p < alpha) | (a <= 0.17)] = "AA"
    cls[(p < alpha) & (a > 0.25)] = "CC"
    return cls


def _strata_codes(
    x: NDArray[np.float64], matching: ArrayLike | None, sample: NDArray[np.bool_]
) -> tuple[NDArray[np.int64], int]:
    """Integer stratum codes, shape (n, J) (same column repeated unless per-item)."""
    n, n_items = x.shape
    if matching is None:
        if np.isnan(x[sample]).any():
            raise ScoringInputError(
                "responses: the default matching score (total score) needs complete "
                "responses, but missing values (NaN) were found; pass matching= (e.g. "
                "ability estimates rounded to 0.25 logits, or a booklet-specific score "
                "band) to match persons who took different booklets"
            )
        m = np.where(np.isnan(x), 0.0, x).sum(axis=1)
    else:
        m = np.asarray(matching, dtype=np.float64)
        if m.shape not in ((n,), (n, n_items)):
            raise ScoringInputError(
                f"matching: expected shape ({n},) or ({n}, {n_items}); found {m.shape}"
            )
        if np.isnan(m[sample]).any():
            raise ScoringInputError(
                "matching: expected a matching score for every focal and reference "
                "person; found NaN"
            )
    _, inv = np.unique(m, return_inverse=True)
    codes = inv.reshape(m.shape).astype(np.int64)
    n_strata = int(codes.max()) + 1 if codes.size else 1
    if codes.ndim == 1:
        codes = np.broadcast_to(codes[:, None], (n, n_items))
    return codes, n_strata


def dif_mantel_haenszel(
    responses: ArrayLike,
    group: ArrayLike,
    focal: Any,
    reference: Any,
    *,
    matching: ArrayLike | None = None,
    purify: bool = False,
    alpha: float = 0.05,
    item_names: Sequence[str] | None = None,
) -> MantelHaenszelDIF:
    """Mantel–Haenszel DIF analysis of every item for two groups.

    Parameters
    ----------
    responses : array_like, shape (n_persons, n_items)
        Item scores (0/1, or 0..m for partial credit); NaN = missing. A person
        missing an item is left out of that item's analysis only.
    group : array_like, shape (n_persons,)
        Group label of every person (e.g. ``"F"``/``"M"``). Persons in neither
        ``focal`` nor ``reference`` are ignored.
    focal, reference : object
        The labels of the focal and the reference group.
    matching : array_like, shape (n_persons,) or (n_persons, n_items), optional
        The matching score; each distinct value is one stratum. Defaults to
        the total score over all items (studied item included), which needs
        complete data. Pass banded ability estimates for rotated booklets,
        or an (n, J) array for an item-specific criterion.
    purify : bool, default False
        Two-stage purification (Holland & Thayer, 1988; Zwick, 2012): after a
        first pass, items classified C/CC are removed from the total score and
        the analysis is repeated; each studied item stays in its own
        criterion. Only with the default (total-score) matching.
    alpha : float, default 0.05
        Significance level of the classification rules.
    item_names : sequence of str, optional

    Returns
    -------
    MantelHaenszelDIF

    Notes
    -----
    For item j and stratum k, with ``A_k``/``B_k`` reference right/wrong,
    ``C_k``/``D_k`` focal right/wrong, ``T_k`` persons::

        alpha_MH = sum(A D / T) / sum(B C / T)
        MH-CHI2  = (|sum A - sum E(A)| - 1/2)^2 / sum Var(A)
        E(A_k)   = n_Rk m_1k / T_k,
        Var(A_k) = n_Rk n_Fk m_1k m_0k / (T_k^2 (T_k - 1))

    Polytomous items use Mantel's statistic with ``F_k`` the focal score sum:
    ``(sum F - sum E(F))^2 / sum Var(F)``, ``E(F_k) = n_Fk S_k / T_k``,
    ``Var(F_k) = n_Rk n_Fk (T_k S2_k - S_k^2) / (T_k^2 (T_k - 1))`` where
    ``S_k`` and ``S2_k`` are the sum and the sum of squares of the item scores
    in stratum k. Strata with fewer than two persons or only one group carry
    no information and drop out of every sum.
    """
    x = _as_response_matrix(responses)
    n, n_items = x.shape
    names = _item_names(item_names, n_items)
    g = np.asarray(group, dtype=object)
    if g.shape != (n,):
        raise ScoringInputError(f"group: expected shape ({n},) (one label per person); found {g.shape}")
    is_focal = np.asarray(g == focal, dtype=bool)
    is_ref = np.asarray(g == reference, dtype=bool)
    if not is_focal.any():
        raise ScoringInputError(f"focal: the label {focal!r} does not occur in group")
    if not is_ref.any():
        raise ScoringInputError(f"reference: the label {reference!r} does not occur in group")
    if focal == reference:
        raise ScoringInputError(f"focal and reference must differ; both are {focal!r}")
    if not 0.0 < alpha < 0.5:
        raise ScoringInputError(f"alpha: expected a significance level in (0, 0.5); found {alpha}")
    sample = is_focal | is_ref
    xs = x[sample]
    if np.nanmin(xs, initial=0.0) < 0 or np.any((xs != np.round(xs)) & ~np.isnan(xs)):
        raise ScoringInputError("responses: expected non-negative integer item scores (0, 1, 2, ...)")
    if purify and matching is not None:
        raise ScoringInputError("purify: only supported with the default total-score matching (matching=None)")

    codes, n_strata = _strata_codes(x, matching, sample)
    result = _mh_core(x, codes, n_strata, is_focal, is_ref, alpha)
    if purify:
        flagged = np.isin(result["classification"], ["C", "CC"])
        if flagged.any():
            x0 = np.where(np.isnan(x), 0.0, x)
            base = x0[:, ~flagged].sum(axis=1)
            per_item = base[:, None] + x0 * flagged[None, :]
            codes, n_strata = _strata_codes(x, per_item, sample)
            result = _mh_core(x, codes, n_strata, is_focal, is_ref, alpha)

    return MantelHaenszelDIF(
        item_names=names,
        focal=focal,
        reference=reference,
        alpha=float(alpha),
        classification=tuple(str(c) for c in result.pop("classification")),
        **result,
    )


def _mh_core(
    x: NDArray[np.float64],
    codes: NDArray[np.int64],
    n_strata: int,
    is_focal: NDArray[np.bool_],
    is_ref: NDArray[np.bool_],
    alpha: float,
) -> dict[str, Any]:
    n_items = x.shape[1]
    observed = ~np.isnan(x)
    cell = np.arange(n_items)[None, :] * n_strata + codes  # (n, J) cell index
    size = n_items * n_strata

    def tally(rows: NDArray[np.bool_]) -> tuple[NDArray[np.float64], ...]:
        ok = observed & rows[:, None]
        idx = cell[ok]
        y = x[ok]
        shape = (n_items, n_strata)
        cnt = np.bincount(idx, minlength=size).reshape(shape).astype(np.float64)
        s1 = np.bincount(idx, weights=y, minlength=size).reshape(shape).astype(np.float64)
        s2 = np.bincount(idx, weights=y * y, minlength=size).reshape(shape).astype(np.float64)
        return cnt, s1, s2

    nF, sF, qF = tally(is_focal)
    nR, sR, qR = tally(is_ref)
    T = nF + nR
    informative = (nF > 0) & (nR > 0)
    usable = informative & (T > 1)
    max_score = np.nanmax(np.where(observed & (is_focal | is_ref)[:, None], x, -np.inf), axis=0)
    poly = max_score > 1

    with np.errstate(invalid="ignore", divide="ignore"):
        # ---- dichotomous: 2x2xK tables
        A, C = sR, sF
        B, D = nR - sR, nF - sF
        Tsafe = np.where(T > 0, T, 1.0)
        R_k = np.where(informative, A * D / Tsafe, 0.0)
        S_k = np.where(informative, B * C / Tsafe, 0.0)
        R, S = R_k.sum(axis=1), S_k.sum(axis=1)
        alpha_mh = R / S
        log_alpha = np.log(alpha_mh)
        P_k = np.where(informative, (A + D) / Tsafe, 0.0)
        Q_k = np.where(informative, (B + C) / Tsafe, 0.0)
        var_log = (
            (P_k * R_k).sum(axis=1) / (2 * R**2)
            + (P_k * S_k + Q_k * R_k).sum(axis=1) / (2 * R * S)
            + (Q_k * S_k).sum(axis=1) / (2 * S**2)
        )
        d_dif = -DELTA_SCALE * log_alpha
        d_se = DELTA_SCALE * np.sqrt(var_log)

        m1 = sF + sR
        m0 = T - m1
        tt = np.where(usable, T * T * (T - 1.0), 1.0)
        EA = np.where(usable, nR * m1 / Tsafe, 0.0)
        VA = np.where(usable, nR * nF * m1 * m0 / tt, 0.0)
        A_u = np.where(usable, A, 0.0)
        chi_mh = (np.maximum(np.abs(A_u.sum(axis=1) - EA.sum(axis=1)) - 0.5, 0.0)) ** 2 / VA.sum(axis=1)

        # ---- polytomous: Mantel (1963) on the focal score sum
        Sk = sF + sR
        S2k = qF + qR
        EF = np.where(usable, nF * Sk / Tsafe, 0.0)
        VF = np.where(usable, nR * nF * (T * S2k - Sk * Sk) / tt, 0.0)
        F_u = np.where(usable, sF, 0.0)
        chi_mantel = (F_u.sum(axis=1) - EF.sum(axis=1)) ** 2 / VF.sum(axis=1)

        # ---- standardization index (focal-weighted), all items
        w = np.where(informative, nF, 0.0)
        diff = np.where(informative, sF / np.where(nF > 0, nF, 1) - sR / np.where(nR > 0, nR, 1), 0.0)
        smd = (w * diff).sum(axis=1) / w.sum(axis=1)
        n_all = (nF + nR).sum(axis=1)
        mean_all = (sF + sR).sum(axis=1) / n_all
        var_all = ((qF + qR).sum(axis=1) - n_all * mean_all**2) / (n_all - 1.0)
        smd_es = smd / np.sqrt(var_all)

    chi = np.where(poly, chi_mantel, chi_mh)
    p = stats.chi2.sf(chi, 1)
    p = np.where(np.isnan(chi), np.nan, p)
    nanv = np.full(n_items, np.nan)
    alpha_mh = np.where(poly, nanv, alpha_mh)
    d_dif = np.where(poly, nanv, d_dif)
    d_se = np.where(poly, nanv, d_se)
    cls = np.where(
        poly,
        _classify_polytomous(smd_es, p, alpha),
        _classify_dichotomous(d_dif, d_se, p, alpha),
    )
    n_inf = informative.sum(axis=1)
    cls = np.where((n_inf == 0) | np.isnan(chi), "", cls)
    return {
        "polytomous": poly,
        "n_focal": nF.sum(axis=1).astype(np.int64),
        "n_reference": nR.sum(axis=1).astype(np.int64),
        "n_strata": n_inf.astype(np.int64),
        "alpha_mh": alpha_mh,
        "mh_d_dif": d_dif,
        "mh_d_dif_se": d_se,
        "chi_square": chi,
        "p_value": p,
        "smd": smd,
        "smd_effect_size": smd_es,
        "classification": cls,
    }
