"""The result of a calibration run: estimates, SEs, fit statistics, and how the run went."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ..models import ItemParameters

F64 = NDArray[np.float64]


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
