"""Bock-Aitkin EM: E-step, M-step (Fisher scoring per family, latent moments), SQUAREM, start values."""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy.special import expit, logit

from .._quadrature import normal_log_weights
from ..errors import ScoringInputError
from ..models import _log_probs_arrays
from ._data import _start_c
from ._derivatives import _dich_derivs, _gpcm_derivs, _grm_derivs
from ._problem import _Family, _Problem, _State

F64 = NDArray[np.float64]


def _estep(
    prob: _Problem, st: _State, dtype: Any, *, want_post: bool = False
) -> tuple[float, F64, F64, F64, NDArray[Any] | None]:
    """One E-step.

    Returns
    -------
    loglik : float
    R : ndarray (Ci, Q)
        Expected counts of the item design columns.
    Ng : ndarray (G, Q)
        Expected number of persons per group at each node.
    LP : ndarray (Q, J, Kmax)
        Log category probabilities at the nodes.
    post : ndarray (Q, n) or None
        Posterior weights times pattern counts (nodes x patterns layout:
        reductions over nodes are then cheap, contiguous row operations).
    """
    theta = prob.theta
    LP = _log_probs_arrays(theta, st.a, st.d, st.c, prob.dich, prob.grm, prob.gpcm, prob.Kmax)
    LP = np.maximum(LP, -1e300)  # padded categories are never indexed; avoids -inf - -inf
    C1 = prob.ycol_item.shape[0]
    Ci = prob.Z.shape[1] - prob.G
    Q = theta.shape[0]
    W = np.empty((Q, Ci + prob.G))
    W[:, :C1] = LP[:, prob.ycol_item, prob.ycol_cat] - LP[:, prob.ycol_item, 0]
    if prob.has_missing:
        W[:, C1:Ci] = LP[:, :, 0]
        const = np.zeros(Q)
    else:
        const = LP[:, :, 0].sum(axis=1)
    for g in range(prob.G):
        # group one-hot columns of Z carry the log prior (and the constant of complete items)
        W[:, Ci + g] = const + normal_log_weights(theta, st.mu[g], st.sd[g])
    LT = W.astype(dtype) @ prob.Z.T  # (Q, n)
    m = LT.max(axis=0)
    LT -= m
    # floor at e^-70: float32 denormals (below ~e^-87) make exp and the next matmul ~20x slower,
    # and nodes that far below the mode carry no posterior mass anyway
    np.maximum(LT, -70.0, out=LT)
    np.exp(LT, out=LT)
    s = np.ones(Q, dtype=dtype) @ LT
    loglik = float(prob.w @ (m.astype(np.float64) + np.log(s.astype(np.float64))))
    LT *= (prob.w / s).astype(dtype)
    R = (LT @ prob.Z).T.astype(np.float64)
    return loglik, R[:Ci], R[Ci:], LP, (LT if want_post else None)


def _loglik64(prob: _Problem, st: _State, chunk: int = 16384) -> float:
    """Marginal log-likelihood in float64 (the EM loop may run in float32), chunked over patterns."""
    theta = prob.theta
    LP = _log_probs_arrays(theta, st.a, st.d, st.c, prob.dich, prob.grm, prob.gpcm, prob.Kmax)
    LP = np.maximum(LP, -1e300)
    C1 = prob.ycol_item.shape[0]
    Ci = prob.Z.shape[1] - prob.G
    W = np.empty((theta.shape[0], Ci + prob.G))
    W[:, :C1] = LP[:, prob.ycol_item, prob.ycol_cat] - LP[:, prob.ycol_item, 0]
    const = np.zeros(theta.shape[0])
    if prob.has_missing:
        W[:, C1:Ci] = LP[:, :, 0]
    else:
        const = LP[:, :, 0].sum(axis=1)
    for g in range(prob.G):
        W[:, Ci + g] = const + normal_log_weights(theta, st.mu[g], st.sd[g])
    total = 0.0
    for i0 in range(0, prob.Z.shape[0], chunk):
        L = prob.Z[i0 : i0 + chunk].astype(np.float64) @ W.T
        m = L.max(axis=1)
        total += float(prob.w[i0 : i0 + chunk] @ (m + np.log(np.exp(L - m[:, None]).sum(axis=1))))
    return total


def _category_counts(prob: _Problem, R: F64, Ng: F64) -> tuple[F64, F64]:
    """Expected counts r (J, Kmax, Q) and n (J, Q) from design counts."""
    J, Q = prob.J, prob.theta.shape[0]
    C1 = prob.ycol_item.shape[0]
    n = R[C1:] if prob.has_missing else np.broadcast_to(Ng.sum(axis=0), (J, Q))
    r = np.zeros((J, prob.Kmax, Q))
    r[prob.ycol_item, prob.ycol_cat] = R[:C1]
    r[:, 0] = n - r[:, 1:].sum(axis=1)
    return np.clip(r, 0.0, None), np.asarray(n)




def _family_derivs(fam: _Family, st: _State, theta: F64, second: bool) -> tuple[F64, F64, F64 | None]:
    it = fam.items
    if fam.kind in ("1pl", "2pl", "3pl"):
        return _dich_derivs(st.a[it], st.d[it, 0], st.c[it], theta, fam.kind == "3pl", second)
    dd = st.d[it, : fam.K - 1]
    if fam.kind == "grm":
        return _grm_derivs(st.a[it], dd, theta, second)
    return _gpcm_derivs(st.a[it], dd, theta, second)


def _get_par(fam: _Family, st: _State) -> F64:
    it = fam.items
    cols = [st.a[it][:, None]]
    if fam.kind in ("1pl", "2pl", "3pl"):
        cols.append(st.d[it, :1])
        if fam.kind == "3pl":
            cols.append(st.c[it][:, None])
    else:
        cols.append(st.d[it, : fam.K - 1])
    return np.concatenate(cols, axis=1)


def _set_par(fam: _Family, st: _State, x: F64) -> None:
    it = fam.items
    st.a[it] = x[:, 0]
    if fam.kind in ("1pl", "2pl", "3pl"):
        st.d[it, 0] = x[:, 1]
        if fam.kind == "3pl":
            st.c[it] = x[:, 2]
    else:
        st.d[it, : fam.K - 1] = x[:, 1:]


def _valid_par(fam: _Family, x: F64) -> NDArray[np.bool_]:
    ok = np.all(np.isfinite(x), axis=1) & (np.abs(x[:, 0]) < 50) & np.all(np.abs(x[:, 1:]) < 100, axis=1)
    if fam.kind == "3pl":
        ok &= (x[:, 2] > 1e-8) & (x[:, 2] < 1 - 1e-8)
    if fam.kind == "grm" and fam.K > 2:
        ok &= np.all(np.diff(x[:, 1:], axis=1) < -1e-8, axis=1)
    return ok


def _grad_info(fam: _Family, st: _State, prob: _Problem, r: F64, n: F64) -> tuple[F64, F64, F64]:
    """Gradient (Jf,p) and expected information (Jf,p,p) of the item M-step objective, and the objective."""
    P, dP, _ = _family_derivs(fam, st, prob.theta, False)
    rf = r[fam.items, : fam.K]
    nf = n[fam.items]
    Ps = np.maximum(P, 1e-300)
    grad = np.einsum("jkq,jkqp->jp", rf / Ps, dP)
    info = np.einsum("jq,jkqp,jkqr->jpr", nf, dP / Ps[..., None], dP)
    obj = np.einsum("jkq,jkq->j", rf, np.log(Ps))
    if fam.kind == "3pl":
        al, be = prob.prior_c
        cc = st.c[fam.items]
        grad[:, 2] += (al - 1) / cc - (be - 1) / (1 - cc)
        info[:, 2, 2] += (al - 1) / cc**2 + (be - 1) / (1 - cc) ** 2
        obj += (al - 1) * np.log(cc) + (be - 1) * np.log1p(-cc)
    return grad, info, obj


def _mstep_items(prob: _Problem, st: _State, r: F64, n: F64, inner: int = 4) -> None:
    for fam in prob.families:
        for _ in range(inner):
            grad, info, _obj = _grad_info(fam, st, prob, r, n)
            p = fam.p
            info = info + 1e-10 * np.eye(p)
            x0 = _get_par(fam, st)
            if fam.kind == "1pl" and prob.common_a:
                # common slope: arrowhead system solved via the Schur complement
                iad, idd = info[:, 0, 1], info[:, 1, 1]
                ga, gd = grad[:, 0], grad[:, 1]
                schur = info[:, 0, 0].sum() - (iad**2 / idd).sum()
                da = (ga.sum() - (iad * gd / idd).sum()) / schur
                step = np.stack([np.full(len(gd), da), (gd - iad * da) / idd], axis=1)
            elif fam.kind == "1pl":
                step = np.stack([np.zeros(len(grad)), grad[:, 1] / info[:, 1, 1]], axis=1)
            else:
                step = np.linalg.solve(info, grad[..., None])[..., 0]
            big = np.abs(step).max(axis=1, keepdims=True)
            step = step * np.minimum(1.0, 1.0 / np.maximum(big, 1e-300))  # cap steps at 1
            if fam.kind == "3pl":
                # keep c inside (0, 1)
                cc = x0[:, 2]
                lim = np.where(step[:, 2] > 0, 0.5 * (1 - cc), 0.5 * cc)
                f = np.minimum(1.0, lim / np.maximum(np.abs(step[:, 2]), 1e-300))
                step = step * f[:, None]
            x = x0 + step
            ok = _valid_par(fam, x)
            for _h in range(20):
                if ok.all():
                    break
                step[~ok] *= 0.5
                x = x0 + step
                ok = _valid_par(fam, x)
            x[~ok] = x0[~ok]
            if fam.kind == "1pl" and prob.common_a:
                x[:, 0] = x[0, 0]
            _set_par(fam, st, x)
            if np.abs(step).max() < 1e-8:
                break


def _mstep_latent(prob: _Problem, st: _State, Ng: F64) -> None:
    th = prob.theta
    for g in range(prob.G):
        if not (prob.mu_free[g] or prob.sd_free[g]):
            continue
        tot = Ng[g].sum()
        m = float(Ng[g] @ th / tot) if prob.mu_free[g] else float(st.mu[g])
        if prob.sd_free[g]:
            v = float(Ng[g] @ (th - m) ** 2 / tot)
            st.sd[g] = np.sqrt(max(v, 1e-4))
        st.mu[g] = m




def _free_index(prob: _Problem) -> tuple[list[tuple[str, int, int]], list[str]]:
    """Enumerate free parameters as (kind, row, col) with names; kind in a|d|c|mu|sd."""
    out: list[tuple[str, int, int]] = []
    names: list[str] = []
    first_1pl = True
    for j in range(prob.J):
        if not prob.free[j]:
            continue
        m = prob.model[j]
        if m == "1pl":
            if prob.common_a and first_1pl:
                out.append(("a", j, 0))
                names.append("a(1pl common)")
            first_1pl = False
        else:
            out.append(("a", j, 0))
            names.append(f"a[{j}]")
        for k in range(int(prob.K[j]) - 1):
            out.append(("d", j, k))
            names.append(f"d{k + 1}[{j}]" if prob.K[j] > 2 else f"d[{j}]")
        if m == "3pl":
            out.append(("c", j, 0))
            names.append(f"c[{j}]")
    for g in range(prob.G):
        if prob.mu_free[g]:
            out.append(("mu", g, 0))
            names.append(f"mean[{g}]")
        if prob.sd_free[g]:
            out.append(("sd", g, 0))
            names.append(f"sd[{g}]")
    return out, names


def _pack(idx: list[tuple[str, int, int]], st: _State) -> F64:
    v = np.empty(len(idx))
    for i, (k, r, c) in enumerate(idx):
        v[i] = st.a[r] if k == "a" else st.d[r, c] if k == "d" else st.c[r] if k == "c" else st.mu[r] if k == "mu" else st.sd[r]
    return v


def _make_packers(
    prob: _Problem, idx: list[tuple[str, int, int]]
) -> tuple[Callable[[_State], F64], Callable[[F64, _State], _State]]:
    """Vectorised pack/unpack in the *transformed* space (logit c, log sd) used by SQUAREM."""
    kinds = np.array([k for k, _, _ in idx])
    rows = np.array([r for _, r, _ in idx], dtype=np.intp)
    cols = np.array([c for _, _, c in idx], dtype=np.intp)
    ma, md, mc, mm, ms = (kinds == s for s in ("a", "d", "c", "mu", "sd"))
    one_pl = np.array([m == "1pl" for m in prob.model]) & prob.free
    common_pos = next((i for i, (k, r, _) in enumerate(idx) if k == "a" and one_pl[r]), None) if prob.common_a else None

    def pack(st: _State) -> F64:
        v = np.empty(len(idx))
        v[ma] = st.a[rows[ma]]
        v[md] = st.d[rows[md], cols[md]]
        v[mc] = logit(st.c[rows[mc]])
        v[mm] = st.mu[rows[mm]]
        v[ms] = np.log(st.sd[rows[ms]])
        return v

    def unpack(v: F64, template: _State) -> _State:
        st = template.copy()
        st.a[rows[ma]] = v[ma]
        if common_pos is not None:
            st.a[one_pl] = v[common_pos]
        st.d[rows[md], cols[md]] = v[md]
        st.c[rows[mc]] = expit(v[mc])
        st.mu[rows[mm]] = v[mm]
        st.sd[rows[ms]] = np.exp(v[ms])
        return st

    return pack, unpack


def _state_valid(prob: _Problem, st: _State) -> bool:
    for fam in prob.families:
        if not _valid_par(fam, _get_par(fam, st)).all():
            return False
    return bool(np.all(np.isfinite(st.mu)) and np.all((st.sd > 0.05) & (st.sd < 20)))


def _start_values(prob: _Problem, counts: NDArray[np.int64], fixed_spec: dict[int, dict[str, Any]]) -> _State:
    J, Kmax = prob.J, prob.Kmax
    c_start = _start_c(prob.prior_c)
    a = np.ones(J)
    d = np.full((J, max(Kmax - 1, 1)), np.nan)
    c = np.zeros(J)
    shrink = 1.16  # the marginal logit of a unit-slope item under N(0, 1) is about logit / 1.16
    for j in range(J):
        K = int(prob.K[j])
        if j in fixed_spec:
            spec = fixed_spec[j]
            dd = np.asarray(spec["d"], dtype=np.float64)
            if dd.shape[0] != K - 1:
                raise ScoringInputError(f"fixed: item {j} needs {K - 1} intercept(s) 'd'; found {dd.shape[0]}")
            a[j], d[j, : K - 1] = spec["a"], dd
            c[j] = spec["c"] if prob.model[j] == "3pl" else 0.0
            continue
        cnt = np.zeros(K)
        kk = min(K, counts.shape[1])
        cnt[:kk] = counts[j, :kk]
        cnt += 0.5
        m = prob.model[j]
        if m in ("1pl", "2pl", "3pl"):
            p = cnt[1] / cnt.sum()
            if m == "3pl":
                c[j] = c_start
                p = min(max((p - c[j]) / (1 - c[j]), 0.05), 0.95)
            d[j, 0] = float(logit(p)) * shrink
        elif m == "grm":
            ge = np.cumsum(cnt[::-1])[::-1][1:] / cnt.sum()
            d[j, : K - 1] = logit(ge) * shrink
        else:
            d[j, : K - 1] = np.log(cnt[1:] / cnt[:-1])
    return _State(a=a, d=d, c=c, mu=np.zeros(prob.G), sd=np.ones(prob.G))


def _em_map(prob: _Problem, st: _State, dtype: Any) -> tuple[_State, float]:
    loglik, R, Ng, _, _ = _estep(prob, st, dtype)
    r, n = _category_counts(prob, R, Ng)
    new = st.copy()
    _mstep_items(prob, new, r, n)
    _mstep_latent(prob, new, Ng)
    return new, loglik


def _run_em(
    prob: _Problem,
    st: _State,
    idx: list[tuple[str, int, int]],
    dtype: Any,
    max_iter: int,
    tol: float,
    accelerate: bool,
    progress: Callable[[int, float, float], None] | None,
) -> tuple[_State, float, int, bool]:
    pack, unpack = _make_packers(prob, idx)
    it = 0
    loglik = -np.inf
    converged = False

    def step(s: _State) -> tuple[_State, float, float]:
        nonlocal it
        new, ll = _em_map(prob, s, dtype)
        it += 1
        change = float(np.abs(_pack(idx, new) - _pack(idx, s)).max()) if idx else 0.0
        if progress is not None:
            progress(it, ll, change)
        return new, ll, change

    if not idx:
        return st, _estep(prob, st, dtype)[0], 0, True
    # float32 E-steps make the log-likelihood noisy at ~1e-7 relative: tolerate that in the monotonicity check
    ll_slack = 1e-6 * prob.w.sum() if dtype == np.float32 else 1e-8 * prob.w.sum()
    while it < max_iter:
        s1, ll0, ch1 = step(st)
        if ch1 < tol:
            st, loglik, converged = s1, ll0, True
            break
        if not accelerate or it + 2 > max_iter:
            st, loglik = s1, ll0
            continue
        s2, ll1, ch2 = step(s1)
        if ch2 < tol:
            st, loglik, converged = s2, ll1, True
            break
        x0, x1, x2 = pack(st), pack(s1), pack(s2)
        r_ = x1 - x0
        v_ = (x2 - x1) - r_
        alpha = -float(np.sqrt(float(r_ @ r_) / max(float(v_ @ v_), 1e-300)))
        alpha = min(-1.0, max(alpha, -50.0))
        x_new = x0 - 2 * alpha * r_ + alpha**2 * v_
        cand = unpack(x_new, s2)
        if _state_valid(prob, cand):
            s3, ll3, ch3 = step(cand)
            if ll3 >= ll1 - ll_slack and _state_valid(prob, s3):
                st, loglik = s3, ll3
                if ch3 < tol and np.abs(pack(s3) - x2).max() < 10 * tol:
                    converged = True
                    break
                continue
        st, loglik = s2, ll1
    return st, loglik, it, converged
