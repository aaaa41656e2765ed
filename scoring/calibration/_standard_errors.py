"""Standard errors of the free parameters: Louis' observed information or the cross-product of scores.

Notation (shapes in brackets; the names are those of the code below)

    J, K, Q, G   items, categories (Kmax: the most of any item), quadrature nodes, groups
    P_           number of free parameters; ``idx[i] = (kind, row, col)`` names free parameter i
                 (kind "a", "d", "c" of item `row`, or "mu", "sd" of group `row`)
    Z            one-hot design of the collapsed response patterns [n, C1 (+J) + G]: columns
                 Y_jk (item j scored k >= 1), then O_j (item j observed; only with missing data),
                 then the pattern's group; ``Zi`` = the item columns, ``w`` = pattern counts
    postT        posterior weight of each pattern at each node [Q, n] (times its count)
    R, Ng        expected counts: per design column and node [C, Q]; persons per group and node [G, Q]
    r            expected category counts per item, category and node [J, K, Q]
    loc          item's local parameter slot (0 = a, 1.. = d_k, 2 = c for 3pl) -> index in idx [J, pmax]
    gl, hl       d log P_jk / d(local parameters) and its Hessian, per item, category and node
    Gc, Gd       the same derivatives per design column (Y_jk: g_jk - g_j0; O_j: g_j0), in local
                 slots (Gc) and mapped onto the free-parameter vector (Gd) [C1 + J, Q, P_]
    Hg, Hh       derivatives of the group's normal log prior w.r.t. (mu, sd) at each node
    S            observed-data score of each pattern [n, P_]
    A            expected complete-data information, sum of -E[d2 log f]
    B            expected outer product of the complete-data scores, sum over nodes of Gd' M_q Gd
    Cterm        sum over patterns of w * s s' (the outer product of the observed scores)

Louis (1982): ``I_obs = A - (B - Cterm)`` (complete information minus the missing information);
XPD: ``I_obs ~ Cterm``. The 3PL prior's curvature is added to the information of each c.
"""
from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from .._quadrature import normal_log_weights
from ._em import _category_counts, _estep, _family_derivs
from ._problem import _Problem, _State

F64 = NDArray[np.float64]


def _item_local_index(prob: _Problem, idx: list[tuple[str, int, int]]) -> NDArray[np.intp]:
    """(J, pmax) map from each item's local parameter slot to the free-parameter index (-1 if none)."""
    pos = {key: i for i, key in enumerate(idx)}
    pmax = max(3, prob.Kmax)
    loc = -np.ones((prob.J, pmax), dtype=np.intp)
    common = next((i for i, (k, r, _) in enumerate(idx) if k == "a" and prob.model[r] == "1pl"), -1)
    for j in range(prob.J):
        if not prob.free[j]:
            continue
        loc[j, 0] = common if (prob.model[j] == "1pl" and prob.common_a) else pos.get(("a", j, 0), -1)
        for k in range(int(prob.K[j]) - 1):
            loc[j, 1 + k] = pos[("d", j, k)]
        if prob.model[j] == "3pl":
            loc[j, 2] = pos[("c", j, 0)]
    return loc


def _latent_derivs(theta: F64, mu: float, sd: float) -> tuple[F64, F64]:
    """Gradient (Q,2) and Hessian (Q,2,2) of the normalised discrete log prior w.r.t. (mu, sd)."""
    u = theta - mu
    e1 = np.stack([u / sd**2, u**2 / sd**3], axis=1)
    e2 = np.zeros((theta.shape[0], 2, 2))
    e2[:, 0, 0] = -1 / sd**2
    e2[:, 0, 1] = e2[:, 1, 0] = -2 * u / sd**3
    e2[:, 1, 1] = -3 * u**2 / sd**4
    pi = np.exp(normal_log_weights(theta, mu, sd))
    m1 = pi @ e1
    g = e1 - m1
    cov = np.einsum("q,qa,qb->ab", pi, g, g)
    h = e2 - np.einsum("q,qab->ab", pi, e2) - cov
    return g, h


def _standard_errors(prob: _Problem, st: _State, idx: list[tuple[str, int, int]], method: str) -> F64 | None:
    """Covariance matrix of the free parameters (natural scale: a, d, c, mean, sd), or None if singular.

    Louis (1982): ``I_obs = sum_i E[-d2 log f(x_i, theta)] - sum_i Cov_post(u_i)``
    where ``u`` is the complete-data score; assembled from expected counts
    and, for the cross-item second moments, ``M_q = Z' diag(post_q) Z`` per node.
    XPD: ``sum_i s_i s_i'`` with ``s_i`` the observed-data score of pattern ``i``.
    """
    P_ = len(idx)
    if P_ == 0:
        return np.zeros((0, 0))
    theta = prob.theta
    Q, J, G = theta.shape[0], prob.J, prob.G
    dt = prob.Z.dtype.type
    _, R, Ng, _, postT = _estep(prob, st, dt, want_post=True)
    assert postT is not None
    r, _n = _category_counts(prob, R, Ng)
    loc = _item_local_index(prob, idx)
    pmax = loc.shape[1]
    # per-item category log-derivatives g (J,K,Q,pmax) and Hessians h (J,K,Q,pmax,pmax), local slots
    gl = np.zeros((J, prob.Kmax, Q, pmax))
    hl = np.zeros((J, prob.Kmax, Q, pmax, pmax))
    for fam in prob.families:
        Pf, dP, d2P = _family_derivs(fam, st, theta, True)
        assert d2P is not None
        Ps = np.maximum(Pf, 1e-300)
        gg = dP / Ps[..., None]
        h = d2P / Ps[..., None, None] - gg[..., :, None] * gg[..., None, :]
        ii, kk = fam.items[:, None], np.arange(fam.K)[None, :]
        for s_i in range(fam.p):
            gl[ii, kk, :, s_i] = gg[..., s_i]
            for t_i in range(fam.p):
                hl[ii, kk, :, s_i, t_i] = h[..., s_i, t_i]
    # columns of the full design: Y (j, k>=1) -> g_jk - g_j0 ; O_j (observed, ones if complete) -> g_j0
    C1 = prob.ycol_item.shape[0]
    Ci = prob.Z.shape[1] - G
    Gc = np.concatenate([gl[prob.ycol_item, prob.ycol_cat] - gl[prob.ycol_item, 0], gl[:, 0]], axis=0)
    col_item = np.concatenate([prob.ycol_item, np.arange(J)])
    Cf = C1 + J
    Gd = np.zeros((Cf, Q, P_))
    for s in range(pmax):
        tgt = loc[col_item, s]
        ok = np.flatnonzero(tgt >= 0)
        Gd[ok, :, tgt[ok]] += Gc[ok, :, s]
    # latent-distribution parameters
    Hg = np.zeros((G, Q, P_))
    Hh = np.zeros((G, Q, P_, P_))
    pos = {key: i for i, key in enumerate(idx)}
    lat = [g for g in range(G) if prob.mu_free[g] or prob.sd_free[g]]
    for g in lat:
        lg, lh = _latent_derivs(theta, float(st.mu[g]), float(st.sd[g]))
        sel = [(0, pos.get(("mu", g, 0))), (1, pos.get(("sd", g, 0)))]
        for a_, ia in sel:
            if ia is None:
                continue
            Hg[g, :, ia] = lg[:, a_]
            for b_, ib in sel:
                if ib is not None:
                    Hh[g, :, ia, ib] = lh[:, a_, b_]
    n_pat = prob.Z.shape[0]
    Zi = prob.Z[:, :Ci]
    wpost = postT.T  # (n, Q), weighted by pattern counts
    postn = wpost if np.all(prob.w == 1) else (wpost / prob.w[:, None].astype(dt))
    # observed-data scores per pattern: s_i = sum_c Zf_ic (post_i @ G_c) + post_i @ H_{g(i)}
    S = np.zeros((n_pat, P_), dtype=dt)
    for s in range(pmax):
        tgt = loc[col_item, s]
        ok = np.flatnonzero(tgt >= 0)
        if ok.size == 0:
            continue
        contrib = postn @ Gc[ok, :, s].T.astype(dt)
        if ok.size == Cf:  # every column: contiguous slices, no fancy-index copies
            if prob.has_missing:
                contrib *= Zi
            else:
                contrib[:, :C1] *= Zi[:, :C1]  # complete data: O columns are all ones
        else:
            real = ok < Ci
            contrib[:, real] *= Zi[:, ok[real]]
        Mmap = np.zeros((ok.size, P_), dtype=dt)
        Mmap[np.arange(ok.size), tgt[ok]] = 1.0
        S += contrib @ Mmap
    for g in lat:
        sel = prob.gidx == g
        S[sel] += postn[sel] @ Hg[g].astype(dt)
    Cterm = (S.T @ (S * prob.w[:, None].astype(dt))).astype(np.float64)
    if method == "xpd":
        info = Cterm
    else:
        Aloc = -np.einsum("jkq,jkqab->jab", r, hl)
        A = np.zeros((P_, P_))
        for s in range(pmax):
            for t in range(pmax):
                ok = np.flatnonzero((loc[:, s] >= 0) & (loc[:, t] >= 0))
                np.add.at(A, (loc[ok, s], loc[ok, t]), Aloc[ok, s, t])
        A -= np.einsum("gq,gqab->ab", Ng, Hh)
        # B = sum_q Gd_q' M_q Gd_q, M_q = Zf' diag(post_q) Zf (float32 is ample for these sums)
        Rf = R if prob.has_missing else np.concatenate([R, np.broadcast_to(Ng.sum(axis=0), (J, Q))], axis=0)
        sq = np.sqrt(postT)
        # patterns whose posterior weight at node q is below 1e-8 of their count change no SE by
        # more than ~1e-5 of itself (measured at 100k x 40); skipping them cuts this loop ~2-3x
        # (posteriors cover ~15 of 41 nodes); 1e-8 instead of 1e-12 saves another ~10 %
        thr = (1e-8 * prob.w).astype(dt)
        B = np.zeros((P_, P_))
        Mq = np.empty((Cf, Cf))
        for q in range(Q):
            rows = np.flatnonzero(postT[q] > thr)
            Zs = Zi[rows] * sq[q, rows][:, None]
            Mi = (Zs.T @ Zs).astype(np.float64)  # A'A form: numpy uses syrk
            if prob.has_missing:
                Mq = Mi
            else:
                Mq[:C1, :C1] = Mi
                Mq[:C1, C1:] = Rf[:C1, q : q + 1]
                Mq[C1:, :C1] = Rf[:C1, q][None, :]
                Mq[C1:, C1:] = Rf[C1, q]
            B += Gd[:, q, :].T @ Mq @ Gd[:, q, :]
        for g in lat:
            if G == 1:
                Rg = Rf
            else:
                sel = prob.gidx == g
                Rgi = (postT[:, sel] @ Zi[sel]).T.astype(np.float64)
                Rg = Rgi if prob.has_missing else np.concatenate([Rgi, np.broadcast_to(Ng[g], (J, Q))], axis=0)
            cross = np.einsum("cq,cqa,qb->ab", Rg, Gd, Hg[g])
            B += cross + cross.T + np.einsum("q,qa,qb->ab", Ng[g], Hg[g], Hg[g])
        info = A - B + Cterm
    # the M-step maximises loglik + log Beta(c; alpha, beta) (MAP), so the information of c carries the
    # prior's curvature -d2/dc2 log Beta = (alpha-1)/c^2 + (beta-1)/(1-c)^2 (natural c scale, as the SEs)
    al, be = prob.prior_c
    for i, (kind, j, _) in enumerate(idx):
        if kind == "c":
            cj = float(st.c[j])
            info[i, i] += (al - 1) / cj**2 + (be - 1) / (1 - cj) ** 2
    info = 0.5 * (info + info.T)
    try:
        np.linalg.cholesky(info)
        return np.asarray(np.linalg.inv(info))
    except np.linalg.LinAlgError:
        return None
