"""EAP scoring speed: 1,000,000 persons x 40 items, against a float64 brute-force reference on a subsample.

Usage::

    python benchmarks/scoring_eap.py            # N = 1,000,000
    python benchmarks/scoring_eap.py --quick    # N = 100,000

Prints wall seconds (best of --repeat), persons per second, the largest
deviation from a float64 dense-quadrature EAP on 2,000 persons, and peak
traced memory. PyPI mirt's fscores on the same data is timed on a
100,000-person subset for reference (--skip-mirt to skip).
"""

from __future__ import annotations

import argparse
import sys
import time
import tracemalloc
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from scoring import ItemParameters, estimate_ability
from scoring.models import log_category_probabilities


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--n", type=int, default=None)
    ap.add_argument("--items", type=int, default=40)
    ap.add_argument("--n-quad", type=int, default=61)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--missing", type=float, default=0.0)
    ap.add_argument("--skip-mirt", action="store_true")
    args = ap.parse_args()
    n = args.n or (100_000 if args.quick else 1_000_000)
    rng = np.random.default_rng(7)
    J = args.items
    a, d = rng.lognormal(0, 0.3, J), rng.normal(size=J)
    params = ItemParameters("2pl", a, d)
    theta = rng.normal(size=n)
    X = (rng.random((n, J)) < 1 / (1 + np.exp(-(theta[:, None] * a + d)))).astype(np.float64)
    if args.missing:
        X[rng.random((n, J)) < args.missing] = np.nan
    print(f"EAP N={n:,} J={J} nodes={args.n_quad} missing={args.missing:.0%}")
    best = np.inf
    for _ in range(args.repeat):
        t = time.perf_counter()
        est = estimate_ability(X, params, "eap", n_quad=args.n_quad)
        best = min(best, time.perf_counter() - t)
    print(f"  ours: {best:.3f} s  ({n / best / 1e6:.2f} M persons/s)")
    # accuracy vs a float64 dense-grid EAP on a subsample
    sub = np.arange(0, n, max(1, n // 2000))
    g = np.linspace(-6, 6, 2401)
    lp = log_category_probabilities(g, params)
    Xs = X[sub]
    obs = ~np.isnan(Xs)
    x = np.nan_to_num(Xs)
    LL = (x * obs) @ lp[:, :, 1].T + ((1 - x) * obs) @ lp[:, :, 0].T - 0.5 * g**2
    w = np.exp(LL - LL.max(axis=1, keepdims=True))
    w /= w.sum(axis=1, keepdims=True)
    ref = w @ g
    print(f"  max |ours - float64 dense reference| on {sub.size} persons: {np.abs(est.theta[sub] - ref).max():.2e}")
    print(f"  corr(EAP, true theta) = {np.corrcoef(est.theta, theta)[0, 1]:.4f}")
    tracemalloc.start()
    estimate_ability(X, params, "eap", n_quad=args.n_quad)
    peak = tracemalloc.get_traced_memory()[1] / 2**20
    tracemalloc.stop()
    print(f"  peak traced memory beyond the {X.nbytes / 2**20:.0f} MiB input: {peak:.0f} MiB")
    if not args.skip_mirt:
        try:
            import mirt

            m = min(n, 100_000)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                fit = mirt.fit_mirt(X[:2000], model="2PL", verbose=False, compute_standard_errors=False)
                fit.model.set_parameters(discrimination=a, difficulty=-d / a)
                t = time.perf_counter()
                mirt.fscores(fit, X[:m], method="EAP")
                sec = time.perf_counter() - t
            print(f"  PyPI mirt fscores EAP on {m:,} persons: {sec:.3f} s -> {sec * n / m:.2f} s per {n:,} (extrapolated);"
                  f" ratio {sec * n / m / best:.1f}x")
        except Exception as exc:
            print(f"  PyPI mirt fscores: FAILED ({type(exc).__name__}: {str(exc)[:120]})")


if __name__ == "__main__":
    main()
