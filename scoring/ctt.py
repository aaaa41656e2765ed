"""Classical test theory item analysis.

Item difficulty (p-value), corrected item–rest point-biserial correlations,
Cronbach's alpha and alpha-if-item-deleted for dichotomous and partial-credit
items, and distractor (option) counts for choice items.

Missing responses (NaN: not presented or omitted) are handled in one of two
documented ways, chosen with ``missing=``:

``"pairwise"`` (default)
    Every item mean uses the persons who answered that item. Every covariance
    between two items uses the persons who answered both (as R's
    ``cov(use = "pairwise.complete.obs")`` and ``psych::alpha``). Alpha,
    alpha-if-deleted and the item–rest correlations are then computed from
    that covariance matrix, so a rotated-booklet design (items never answered
    together by everyone) still gets usable statistics. With no missing data
    the results equal the classical listwise formulas exactly. If some pair
    of items is never answered together by two or more persons, their
    covariance is undefined and so are alpha and the item–rest
    correlations involving them (NaN). A pairwise covariance matrix need not
    be positive semi-definite, so on sparse incomplete data alpha (or
    alpha-if-deleted) can exceed 1; listwise results never do.
``"listwise"``
    Persons with any missing response are dropped first; every statistic
    then uses the same complete-case sample.

References
----------
Cronbach, L. J. (1951). Coefficient alpha and the internal structure of tests.
    *Psychometrika*, 16, 297–334.
Henrysson, S. (1963). Correction of item-total correlations in item analysis.
    *Psychometrika*, 28, 211–218.
Kelley, T. L. (1939). The selection of upper and lower groups for the
    validation of test items. *Journal of Educational Psychology*, 30, 17–24.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray

from ._blas import blas_threads
from .errors import ScoringInputError

__all__ = [
    "CTTItemStats",
    "DistractorTable",
    "ctt_item_stats",
    "distractor_counts",
]


@dataclass(frozen=True)
class CTTItemStats:
    """Classical item statistics for a test.

    Attributes
    ----------
    item_names : tuple of str, length J
    n_answered : ndarray of int, shape (J,)
        Persons with a non-missing response to each item (in the sample used,
        i.e. complete cases when ``missing == "listwise"``).
    mean : ndarray, shape (J,)
        Mean item score over those persons.
    max_score : ndarray, shape (J,)
        Maximum possible score of each item.
    p_value : ndarray, shape (J,)
        Item difficulty: ``mean / max_score`` (proportion correct for 0/1 items).
    sd : ndarray, shape (J,)
        Item score standard deviation (``ddof=1``).
    item_rest_r : ndarray, shape (J,)
        Corrected point-biserial (Pearson) correlation between the item and the
        sum of the *other* items. NaN for an item with no variance.
    item_total_r : ndarray, shape (J,)
        Uncorrected item–total correlation (the item included in the total).
    alpha : float
        Cronbach's alpha of the whole test.
    alpha_if_deleted : ndarray, shape (J,)
        Alpha of the test with each item removed (NaN when fewer than two
        items would remain).
    n_persons : int
        Persons in the sample the statistics were computed from.
    missing : {"pairwise", "listwise"}
        How missing responses were handled (see the module docstring).
    """

    item_names: tuple[str, ...]
    n_answered: NDArray[np.int64]
    mean: NDArray[np.float64]
    max_score: NDArray[np.float64]
    p_value: NDArray[np.float64]
    sd: NDArray[np.float64]
    item_rest_r: NDArray[np.float64]
    item_total_r: NDArray[np.float64]
    alpha: float
    alpha_if_deleted: NDArray[np.float64]
    n_persons: int
    missing: str


@dataclass(frozen=True)
class DistractorTable:
    """Option counts for choice items.

    Attributes
    ----------
    item_names : tuple of str, length J
    options : tuple of str, length O
        Every option label seen in any item (sorted); an item's unused options
        have count zero.
    counts : ndarray of int, shape (J, O)
        Persons choosing each option of each item (missing responses excluded).
    proportions : ndarray, shape (J, O)
        ``counts / n_answered``.
    n_answered : ndarray of int, shape (J,)
    n_missing : ndarray of int, shape (J,)
    key_index : ndarray of int, shape (J,)
        Column of ``options`` holding each item's key (-1 if the key was never
        chosen and is not among the options; it is always added, so normally
        >= 0).
    upper_proportions, lower_proportions : ndarray, shape (J, O) or None
        Option proportions in the upper and lower score groups (Kelley's 27 %
        by default) when upper/lower groups were requested; None otherwise.
    discrimination : ndarray, shape (J, O) or None
        ``upper_proportions - lower_proportions``: positive for the key and
        negative for a working distractor.
    """

    item_names: tuple[str, ...]
    options: tuple[str, ...]
    counts: NDArray[np.int64]
    proportions: NDArray[np.float64]
    n_answered: NDArray[np.int64]
    n_missing: NDArray[np.int64]
    key_index: NDArray[np.int64]
    upper_proportions: NDArray[np.float64] | None
    lower_proportions: NDArray[np.float64] | None
    discrimination: NDArray[np.float64] | None


def _as_response_matrix(responses: ArrayLike, name: str = "responses") -> NDArray[np.float64]:
    """Validate a (persons x items) numeric matrix with NaN for missing."""
    try:
        x = np.asarray(responses, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ScoringInputError(
            f"{name}: expected a numeric (n_persons, n_items) array with NaN for "
            f"missing; found values that are not numbers ({exc})"
        ) from exc
    if x.ndim != 2:
        raise ScoringInputError(
            f"{name}: expected a 2-D (n_persons, n_items) array; found shape {x.shape}"
        )
    if x.shape[0] == 0 or x.shape[1] == 0:
        raise ScoringInputError(
            f"{name}: expected at least one person and one item; found shape {x.shape}"
        )
    if np.isinf(x).any():
        raise ScoringInputError(
            f"{name}: expected finite scores or NaN for missing; found +/-inf"
        )
    return x


def _item_names(item_names: Sequence[str] | None, n_items: int) -> tuple[str, ...]:
    if item_names is None:
        return tuple(f"item{j + 1}" for j in range(n_items))
    names = tuple(str(n) for n in item_names)
    if len(names) != n_items:
        raise ScoringInputError(
            f"item_names: expected {n_items} names (one per column); found {len(names)}"
        )
    return names


def _pairwise_moments(
    x: NDArray[np.float64],
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Pairwise-complete covariance matrix and pairwise counts of ``x``.

    Returns ``(cov, n)`` with ``cov[j, k]`` the ``ddof=1`` covariance of items
    j and k over the persons who answered both and ``n[j, k]`` that count.
    Computed with three matrix products, no loop over items or persons.
    """
    observed = ~np.isnan(x)
    m = observed.astype(np.float64)
    x0 = np.where(observed, x, 0.0)
    with blas_threads():  # tall-skinny products: one thread is faster on small shared machines
        n = m.T @ m
        sx = x0.T @ m  # sx[j, k] = sum of item j over persons who answered j and k
        sxy = x0.T @ x0
    with np.errstate(divide="ignore", invalid="ignore"):
        cov = (sxy - sx * sx.T / n) / (n - 1.0)
    cov[n < 2] = np.nan
    return cov, n


def ctt_item_stats(
    responses: ArrayLike,
    max_scores: ArrayLike | None = None,
    *,
    item_names: Sequence[str] | None = None,
    missing: Literal["pairwise", "listwise"] = "pairwise",
    keys: Sequence[Any] | None = None,
) -> CTTItemStats:
    """Classical item analysis: p-values, point-biserials, alpha.

    Parameters
    ----------
    responses : array_like, shape (n_persons, n_items)
        Item scores (0/1 for dichotomous items, 0..m for partial credit);
        NaN marks a missing / not-presented response.
    max_scores : array_like, shape (n_items,), optional
        Maximum possible score of each item. Defaults to the observed maximum
        (at least 1), which under-states it when nobody got full credit.
    item_names : sequence of str, optional
        Defaults to ``item1 .. itemJ``.
    missing : {"pairwise", "listwise"}, default "pairwise"
        Missing-data handling; see the module docstring.
    keys : sequence, length n_items, optional
        Answer keys. When given, ``responses`` holds the chosen option labels
        (as for :func:`distractor_counts`; None, NaN or "" = missing) and is
        scored 1 for the key and 0 otherwise before the analysis.

    Returns
    -------
    CTTItemStats

    Notes
    -----
    With ``C`` the (pairwise) item covariance matrix, ``S = sum(C)`` the total
    score variance and ``r_j = sum_k C[j, k]``::

        alpha          = J/(J-1) * (1 - trace(C) / S)
        var(rest_j)    = S - 2 r_j + C[j, j]
        r(item, rest)  = (r_j - C[j, j]) / sqrt(C[j, j] var(rest_j))
        alpha_(-j)     = (J-1)/(J-2) * (1 - (trace(C) - C[j, j]) / var(rest_j))

    (Cronbach, 1951; Henrysson, 1963.) Items with zero variance give NaN
    correlations; alpha is NaN when the total variance is zero.
    """
    if keys is not None:
        responses = _score_choices(responses, keys)
    x = _as_response_matrix(responses)
    n_items = x.shape[1]
    names = _item_names(item_names, n_items)
    if missing not in ("pairwise", "listwise"):
        raise ScoringInputError(
            f"missing: expected 'pairwise' or 'listwise'; found {missing!r}"
        )
    if np.nanmin(x, initial=0.0) < 0:
        raise ScoringInputError(
            "responses: expected non-negative item scores (0, 1, 2, ...); found a "
            f"negative value {np.nanmin(x)}"
        )
    if missing == "listwise":
        keep = ~np.isnan(x).any(axis=1)
        if keep.sum() < 2:
            raise ScoringInputError(
                "responses: listwise deletion needs at least 2 persons with no missing "
                f"response; found {int(keep.sum())}. Use missing='pairwise' for "
                "rotated-booklet data."
            )
        x = x[keep]
    n_used = x.shape[0]

    if max_scores is None:
        obs_max = np.nanmax(np.where(np.isnan(x), -np.inf, x), axis=0)
        max_score = np.maximum(obs_max, 1.0)
    else:
        max_score = np.asarray(max_scores, dtype=np.float64).reshape(-1)
        if max_score.shape != (n_items,) or not np.all(max_score > 0):
            raise ScoringInputError(
                f"max_scores: expected {n_items} positive numbers (one per item); "
                f"found {np.asarray(max_scores).tolist()!r}"
            )
        too_high = np.nanmax(np.where(np.isnan(x), -np.inf, x), axis=0) > max_score
        if too_high.any():
            j = int(np.flatnonzero(too_high)[0])
            raise ScoringInputError(
                f"responses: item {names[j]!r} has a score above its max_scores value "
                f"{max_score[j]}"
            )

    observed = ~np.isnan(x)
    n_answered = observed.sum(axis=0).astype(np.int64)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(observed, x, 0.0).sum(axis=0) / n_answered
    p_value = mean / max_score

    cov, _ = _pairwise_moments(x)
    var = np.diag(cov).copy()
    sd = np.sqrt(var)
    total_var = float(np.sum(cov))
    trace = float(np.sum(var))
    row = cov.sum(axis=1)
    rest_var = total_var - 2.0 * row + var
    # Variances computed by differences carry rounding error of order eps * trace:
    # treat anything below that as zero so results do not depend on item or person order.
    tol = 1e-10 * max(trace, float(np.finfo(np.float64).tiny))
    with np.errstate(invalid="ignore", divide="ignore"):
        item_rest_r = (row - var) / np.sqrt(var * rest_var)
        item_total_r = row / np.sqrt(var * total_var)
        alpha = (
            n_items / (n_items - 1.0) * (1.0 - trace / total_var)
            if n_items > 1 and total_var > tol
            else np.nan
        )
        if n_items > 2:
            alpha_del = (n_items - 1.0) / (n_items - 2.0) * (1.0 - (trace - var) / rest_var)
        else:
            alpha_del = np.full(n_items, np.nan)
    bad = ~(var > tol)
    item_rest_r = np.where(bad | ~(rest_var > tol), np.nan, item_rest_r)
    item_total_r = np.where(bad | (total_var <= tol), np.nan, item_total_r)
    alpha_del = np.where(rest_var > tol, alpha_del, np.nan)

    return CTTItemStats(
        item_names=names,
        n_answered=n_answered,
        mean=mean,
        max_score=max_score,
        p_value=p_value,
        sd=sd,
        item_rest_r=item_rest_r,
        item_total_r=item_total_r,
        alpha=float(alpha),
        alpha_if_deleted=np.asarray(alpha_del, dtype=np.float64),
        n_persons=int(n_used),
        missing=missing,
    )


def _is_missing_label(value: Any) -> bool:
    """True for an option label meaning "no response": None, NaN or ""."""
    return value is None or (isinstance(value, float) and np.isnan(value)) or value == ""


def _score_choices(choices: ArrayLike, keys: Sequence[Any]) -> NDArray[np.float64]:
    """0/1 scores of option labels against keys (NaN where missing)."""
    c = np.asarray(choices, dtype=object)
    if c.ndim != 2:
        raise ScoringInputError(f"responses: expected a 2-D (n_persons, n_items) array of option labels; found shape {c.shape}")
    k = list(keys)
    if len(k) != c.shape[1]:
        raise ScoringInputError(f"keys: expected {c.shape[1]} keys (one per item); found {len(k)}")
    miss = np.frompyfunc(_is_missing_label, 1, 1)(c).astype(bool)
    key_row = np.empty((1, len(k)), dtype=object)
    key_row[0, :] = k
    hit = np.asarray(c == key_row, dtype=bool)
    return np.where(miss, np.nan, hit.astype(np.float64))


def distractor_counts(
    choices: ArrayLike,
    key: Sequence[Any],
    *,
    item_names: Sequence[str] | None = None,
    scores: ArrayLike | None = None,
    group_fraction: float | None = 0.27,
) -> DistractorTable:
    """Count how often each option of each choice item was chosen.

    Parameters
    ----------
    choices : array_like, shape (n_persons, n_items)
        The option label each person chose (e.g. ``"A".."D"``, or integers).
        ``None``, ``""`` or NaN mark a missing response.
    key : sequence, length n_items
        The correct option of each item (same label type as ``choices``).
    item_names : sequence of str, optional
    scores : array_like, shape (n_persons,), optional
        Scores used to form the upper and lower groups. Defaults to the number
        of keyed responses on these items.
    group_fraction : float or None, default 0.27
        Fraction of persons in each of the upper and lower groups (Kelley,
        1939). ``None`` skips the upper/lower analysis. Ties at the group
        boundary are broken by person order (a stable sort), so groups have
        exactly ``round(fraction * n)`` persons.

    Returns
    -------
    DistractorTable
    """
    c = np.asarray(choices, dtype=object)
    if c.ndim != 2 or c.shape[0] == 0 or c.shape[1] == 0:
        raise ScoringInputError(
            f"choices: expected a 2-D (n_persons, n_items) array of option labels; "
            f"found shape {c.shape}"
        )
    n_persons, n_items = c.shape
    names = _item_names(item_names, n_items)
    keys = list(key)
    if len(keys) != n_items:
        raise ScoringInputError(
            f"key: expected {n_items} keys (one per item); found {len(keys)}"
        )
    # Map labels to option codes with one dict lookup per cell (the labels
    # may be of mixed Python types, so no vectorised sort is assumed).
    seen = {v for v in set(c.reshape(-1).tolist()) if not _is_missing_label(v)}
    for k in keys:
        if _is_missing_label(k):
            raise ScoringInputError(f"key: expected an option label for every item; found {k!r}")
        seen.add(k)
    ordered = sorted(seen, key=lambda v: (str(v), str(type(v))))
    lookup = {v: i for i, v in enumerate(ordered)}
    options = tuple(str(v) for v in ordered)
    n_opt = len(options)
    codes = np.frompyfunc(lambda v: lookup.get(v, -1), 1, 1)(c).astype(np.int64)
    miss = codes < 0
    key_index = np.array([lookup[k] for k in keys], dtype=np.int64)

    item_idx = np.broadcast_to(np.arange(n_items), (n_persons, n_items))

    def _count(rows: NDArray[np.bool_]) -> NDArray[np.int64]:
        ok = (~miss) & rows[:, None]
        flat = item_idx[ok] * n_opt + codes[ok]
        return np.bincount(flat, minlength=n_items * n_opt).reshape(n_items, n_opt).astype(
            np.int64
        )

    every = np.ones(n_persons, dtype=bool)
    counts = _count(every)
    n_answered = counts.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        proportions = counts / n_answered[:, None]

    upper_p = lower_p = disc = None
    if group_fraction is not None:
        if not 0.0 < group_fraction <= 0.5:
            raise ScoringInputError(
                f"group_fraction: expected a number in (0, 0.5]; found {group_fraction}"
            )
        if scores is None:
            s = ((codes == key_index[None, :]) & ~miss).sum(axis=1).astype(np.float64)
        else:
            s = np.asarray(scores, dtype=np.float64).reshape(-1)
            if s.shape != (n_persons,):
                raise ScoringInputError(
                    f"scores: expected shape ({n_persons},); found {np.shape(scores)}"
                )
        k = max(1, round(group_fraction * n_persons))
        order = np.argsort(s, kind="stable")
        lower = np.zeros(n_persons, dtype=bool)
        upper = np.zeros(n_persons, dtype=bool)
        lower[order[:k]] = True
        upper[order[n_persons - k :]] = True
        cu, cl = _count(upper), _count(lower)
        with np.errstate(invalid="ignore", divide="ignore"):
            upper_p = cu / cu.sum(axis=1, keepdims=True)
            lower_p = cl / cl.sum(axis=1, keepdims=True)
        disc = upper_p - lower_p

    return DistractorTable(
        item_names=names,
        options=options,
        counts=counts,
        proportions=proportions,
        n_answered=n_answered.astype(np.int64),
        n_missing=miss.sum(axis=0).astype(np.int64),
        key_index=key_index,
        upper_proportions=upper_p,
        lower_proportions=lower_p,
        discrimination=disc,
    )
