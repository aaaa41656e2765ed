"""Shared fixtures for the scoring tests: reference data and seeded simulators."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from scoring import ItemParameters, category_probabilities

DATA_DIR = Path(__file__).resolve().parent / "data"


def load_lsat7() -> np.ndarray:
    """LSAT7 expanded to the 1000 x 5 response matrix (Bock & Lieberman, 1970; tests/scoring/data)."""
    tab = np.loadtxt(DATA_DIR / "lsat7_patterns.csv", delimiter=",", skiprows=1)
    return np.repeat(tab[:, :5], tab[:, 5].astype(int), axis=0)


@pytest.fixture(scope="session")
def lsat7() -> np.ndarray:
    """LSAT7 as a 1000 x 5 matrix."""
    return load_lsat7()


def simulate(params: ItemParameters, theta: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Draw item scores (N, J) from the model at the given abilities."""
    p = category_probabilities(theta, params)  # (N, J, K)
    cum = np.cumsum(p, axis=2)
    u = rng.random(p.shape[:2])[..., None]
    return (u > cum[..., :-1]).sum(axis=2).astype(np.float64)


def rmse(x: np.ndarray, y: np.ndarray) -> float:
    m = np.isfinite(x) & np.isfinite(y)
    return float(np.sqrt(np.mean((np.asarray(x)[m] - np.asarray(y)[m]) ** 2)))
