"""Calibration speed and accuracy: ctcensus vs girth 0.8 and PyPI mirt on the same simulated matrices.

Usage::

    python benchmarks/calibration.py            # 2PL / 2PL+30% missing / 3PL at N = 100,000 x 40
    python benchmarks/calibration.py --quick    # N = 10,000 sanity run
    python benchmarks/calibration.py --skip-girth --skip-mirt

Prints wall seconds, parameter RMSE against the generating values and the
ratios reference/ours, plus our peak traced memory (tracemalloc) and the
process peak RSS. girth works on items x persons with the -99999 missing
sentinel (``girth.tag_missing_data``): its GRM-based 2PL EM then drops those
cells from the likelihood, so missing data are handled correctly but via a
sentinel rather than NaN. PyPI mirt takes NaN as missing.
"""

from __future__ import annotations

import argparse
import platform
import resource
import sys
import time
import tracemalloc
import warnings
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from scoring import calibrate


def simulate(rng: np.random.Generator, n: int, j: int, model: str, missing: float) -> dict[str, Any]:
    a = rng.lognormal(0.0, 0.3, j)
    b = rng.normal(0.0, 1.0, j)
    c = rng.uniform(0.1, 0.3, j) if model == "3pl" else np.zeros(j)
    if model == "3pl":
        a = a * 1.3
    theta = rng.normal(size=n)
    p = c + (1 - c) / (1 + np.exp(-a * (theta[:, None] - b)))
    X = (rng.random((n, j)) < p).astype(np.float64)
    if missing > 0:
        X[rng.random((n, j)) < missing] = np.nan
    return {"X": X, "a": a, "b": b, "c": c}


def rmse(x: np.ndarray, y: np.ndarray) -> float:
    return float(np.sqrt(np.mean((np.asarray(x) - np.asarray(y)) ** 2)))


def run_ours(X: np.ndarray, model: str, se: bool, trace: bool) -> dict[str, Any]:
    if trace:
        tracemalloc.start()
    t = time.perf_counter()
    res = calibrate(X, model, se=se)
    sec = time.perf_counter() - t
    peak = tracemalloc.get_traced_memory()[1] / 2**20 if trace else float("nan")
    if trace:
        tracemalloc.stop()
    b = -res.d[:, 0] / res.a
    return {"sec": sec, "a": res.a, "b": b, "c": res.c, "peak_mb": peak, "iters": res.n_iter, "conv": res.converged}


def run_girth(X: np.ndarray, model: str) -> dict[str, Any]:
    import girth

    data = np.where(np.isnan(X), girth.INVALID_RESPONSE, X).astype(int).T  # items x persons, sentinel
    t = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out = girth.twopl_mml(data) if model == "2pl" else girth.threepl_mml(data)
    sec = time.perf_counter() - t
    b = np.asarray(out["Difficulty"]).reshape(X.shape[1], -1)[:, 0]
    c = np.asarray(out.get("Guessing", np.zeros(X.shape[1])))
    return {"sec": sec, "a": np.asarray(out["Discrimination"]), "b": b, "c": c}


def run_mirt(X: np.ndarray, model: str) -> dict[str, Any]:
    import mirt

    t = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = mirt.fit_mirt(X, model=model.upper(), verbose=False, compute_standard_errors=True)
    sec = time.perf_counter() - t
    pars = fit.model.parameters
    a = np.asarray(pars["discrimination"]).ravel()
    b = np.asarray(pars["difficulty"]).ravel()
    c = np.asarray(pars.get("guessing", np.zeros_like(a))).ravel()
    return {"sec": sec, "a": a, "b": b, "c": c}


def report(name: str, truth: dict[str, Any], r: dict[str, Any], ours_sec: float | None, model: str) -> None:
    line = f"  {name:<22s} {r['sec']:8.2f} s   RMSE a {rmse(r['a'], truth['a']):.4f}  b {rmse(r['b'], truth['b']):.4f}"
    if model == "3pl":
        line += f"  c {rmse(r['c'], truth['c']):.4f}"
    if ours_sec is not None:
        line += f"   ratio {r['sec'] / ours_sec:6.1f}x"
    if "iters" in r:
        line += f"   ({r['iters']} EM iterations{'' if r['conv'] else ', NOT converged'}"
        line += f", peak traced {r['peak_mb']:.0f} MiB)" if np.isfinite(r["peak_mb"]) else ")"
    print(line, flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="N = 10,000 instead of 100,000")
    ap.add_argument("--n", type=int, default=None)
    ap.add_argument("--items", type=int, default=40)
    ap.add_argument("--skip-girth", action="store_true")
    ap.add_argument("--skip-mirt", action="store_true")
    ap.add_argument("--repeat", type=int, default=3, help="our runs per scenario (best wall time reported)")
    args = ap.parse_args()
    n = args.n or (10_000 if args.quick else 100_000)
    print(f"machine: {platform.machine()} {platform.processor() or ''} cores={__import__('os').cpu_count()} "
          f"python {platform.python_version()} numpy {np.__version__}")
    scenarios = [("2pl", 0.0), ("2pl", 0.3), ("3pl", 0.0)]
    for model, miss in scenarios:
        rng = np.random.default_rng(2024)
        truth = simulate(rng, n, args.items, model, miss)
        X = truth["X"]
        print(f"\n{model.upper()} N={n} J={args.items} missing={miss:.0%}", flush=True)
        ours = min((run_ours(X, model, se=True, trace=False) for _ in range(args.repeat)), key=lambda r: r["sec"])
        report("ours (SE Louis)", truth, ours, None, model)
        nose = min((run_ours(X, model, se=False, trace=False) for _ in range(args.repeat)), key=lambda r: r["sec"])
        report("ours (no SE)", truth, nose, None, model)
        t = time.perf_counter()
        r64 = calibrate(X, model, se=True, precision="float64")
        t64 = time.perf_counter() - t
        r32 = calibrate(X, model, se=True, precision="float32")
        print(f"  float32 vs float64 E-step: max |da| {np.abs(r32.a - r64.a).max():.1e}, max |dd| "
              f"{np.nanmax(np.abs(r32.d - r64.d)):.1e}, max |dse_a| {np.abs(r32.se_a - r64.se_a).max():.1e}, "
              f"|dloglik| {abs(r32.loglik - r64.loglik):.1e} (float64 run {t64:.2f} s)")
        traced = run_ours(X, model, se=True, trace=True)
        print(f"  peak traced memory (tracemalloc, SEs on): {traced['peak_mb']:.0f} MiB")
        if not args.skip_girth:
            try:
                report("girth 0.8 (sentinel)" if miss else "girth 0.8", truth, run_girth(X, model), ours["sec"], model)
            except Exception as exc:
                print(f"  girth 0.8: FAILED ({type(exc).__name__}: {str(exc)[:100]})")
        if not args.skip_mirt:
            try:
                report("PyPI mirt 1.2 (SE on)", truth, run_mirt(X, model), ours["sec"], model)
            except Exception as exc:
                print(f"  PyPI mirt: FAILED ({type(exc).__name__}: {str(exc)[:100]})")
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"\nprocess peak RSS (all runs incl. references): {rss:.0f} MiB")


if __name__ == "__main__":
    main()
