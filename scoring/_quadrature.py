"""Fixed rectangular quadrature for the unidimensional latent trait.

Following R mirt (``quadpts``, ``theta_lim = c(-6, 6)``), the latent density
is represented on an equally spaced grid with weights proportional to the
normal density and normalised to sum to one on the grid (Bock & Aitkin, 1981).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from .errors import ScoringInputError

__all__ = ["normal_log_weights", "quadrature_grid"]


def quadrature_grid(n_quad: int, bounds: tuple[float, float] = (-6.0, 6.0)) -> NDArray[np.float64]:
    """Equally spaced quadrature nodes.

    Parameters
    ----------
    n_quad : int
        Number of nodes ``Q`` (>= 5).
    bounds : (float, float)
        Lowest and highest node.

    Returns
    -------
    ndarray, shape ``(Q,)``
    """
    if not isinstance(n_quad, (int, np.integer)) or n_quad < 5:
        raise ScoringInputError(f"n_quad: expected an integer >= 5; found {n_quad!r}")
    lo, hi = float(bounds[0]), float(bounds[1])
    if not (np.isfinite(lo) and np.isfinite(hi) and lo < hi):
        raise ScoringInputError(f"bounds: expected finite (low, high) with low < high; found {bounds!r}")
    return np.linspace(lo, hi, int(n_quad))


def normal_log_weights(theta: NDArray[np.float64], mean: float, sd: float) -> NDArray[np.float64]:
    """Log of normal-density weights on the grid, normalised to sum to one.

    Parameters
    ----------
    theta : ndarray, shape ``(Q,)``
    mean, sd : float

    Returns
    -------
    ndarray, shape ``(Q,)``
    """
    e = -0.5 * ((theta - mean) / sd) ** 2
    m = e.max()
    return e - (m + np.log(np.exp(e - m).sum()))
