"""Per-family category probabilities and their derivatives on the quadrature grid."""
from __future__ import annotations

import numpy as np
from numpy.typing import NDArray
from scipy.special import expit

F64 = NDArray[np.float64]


def _dich_derivs(
    a: F64, d: F64, c: F64, theta: F64, three: bool, second: bool
) -> tuple[F64, F64, F64 | None]:
    """P (Jf,2,Q), dP (Jf,2,Q,p), d2P (Jf,2,Q,p,p) for dichotomous items; params (a, d[, c])."""
    z = a[:, None] * theta[None, :] + d[:, None]
    L = expit(z)
    s = L * (1.0 - L)
    cc = c[:, None]
    P1 = cc + (1.0 - cc) * L
    th = np.broadcast_to(theta, z.shape)
    comps = [(1.0 - cc) * s * th, (1.0 - cc) * s]
    if three:
        comps.append(1.0 - L)
    dP1 = np.stack(comps, axis=-1)
    P = np.stack([1.0 - P1, P1], axis=1)
    dP = np.stack([-dP1, dP1], axis=1)
    d2P = None
    if second:
        p = 3 if three else 2
        s2 = (1.0 - cc) * s * (1.0 - 2.0 * L)
        H = np.zeros(z.shape + (p, p))
        H[..., 0, 0] = s2 * th * th
        H[..., 0, 1] = H[..., 1, 0] = s2 * th
        H[..., 1, 1] = s2
        if three:
            H[..., 0, 2] = H[..., 2, 0] = -s * th
            H[..., 1, 2] = H[..., 2, 1] = -s
        d2P = np.stack([-H, H], axis=1)
    return P, dP, d2P


def _grm_derivs(a: F64, d: F64, theta: F64, second: bool) -> tuple[F64, F64, F64 | None]:
    """GRM on the grid; d is (Jf, K-1) fully finite; params (a, d_1..d_{K-1})."""
    Jf, km1 = d.shape
    K, p, Q = km1 + 1, km1 + 1, theta.shape[0]
    z = a[:, None, None] * theta[None, None, :] + d[:, :, None]  # (Jf, K-1, Q)
    ps = expit(z)
    qs = expit(-z)
    w = ps * qs
    one = np.ones((Jf, 1, Q))
    zero = np.zeros((Jf, 1, Q))
    cum = np.concatenate([one, ps, zero], axis=1)
    cumq = np.concatenate([zero, qs, one], axis=1)
    P = np.where(cum[:, :-1] > 0.5, cumq[:, 1:] - cumq[:, :-1], cum[:, :-1] - cum[:, 1:])
    P = np.clip(P, 0.0, None)
    dS = np.zeros((Jf, K + 1, Q, p))
    dS[:, 1:K, :, 0] = w * theta[None, None, :]
    for m in range(km1):
        dS[:, m + 1, :, m + 1] = w[:, m]
    dP = dS[:, :-1] - dS[:, 1:]
    d2P = None
    if second:
        w2 = w * (1.0 - 2.0 * ps)
        d2S = np.zeros((Jf, K + 1, Q, p, p))
        for m in range(km1):
            d2S[:, m + 1, :, 0, 0] = w2[:, m] * theta * theta
            d2S[:, m + 1, :, 0, m + 1] = d2S[:, m + 1, :, m + 1, 0] = w2[:, m] * theta
            d2S[:, m + 1, :, m + 1, m + 1] = w2[:, m]
        d2P = d2S[:, :-1] - d2S[:, 1:]
    return P, dP, d2P


def _gpcm_derivs(a: F64, d: F64, theta: F64, second: bool) -> tuple[F64, F64, F64 | None]:
    """GPCM on the grid; d is (Jf, K-1) step intercepts; params (a, d_1..d_{K-1})."""
    Jf, km1 = d.shape
    K, Q = km1 + 1, theta.shape[0]
    k = np.arange(K, dtype=np.float64)
    D = np.concatenate([np.zeros((Jf, 1)), np.cumsum(d, axis=1)], axis=1)
    z = a[:, None, None] * k[None, :, None] * theta[None, None, :] + D[:, :, None]  # (Jf,K,Q)
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    P = e / e.sum(axis=1, keepdims=True)
    # sufficient statistics T_k = (k*theta, 1[k>=1], ..., 1[k>=K-1])
    T = np.zeros((K, Q, K))
    T[:, :, 0] = k[:, None] * theta[None, :]
    for m in range(1, K):
        T[m:, :, m] = 1.0
    ET = np.einsum("jkq,kqp->jqp", P, T)
    dev = T[None] - ET[:, None]  # (Jf,K,Q,p)
    dP = P[..., None] * dev
    d2P = None
    if second:
        cov = np.einsum("jkq,jkqp,jkqr->jqpr", P, dev, dev)
        d2P = P[..., None, None] * (dev[..., :, None] * dev[..., None, :] - cov[:, None])
    return P, dP, d2P
