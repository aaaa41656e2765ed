"""Limit the BLAS thread pool while the scoring loops run.

The E-step is a sequence of tall-skinny matrix products interleaved with
element-wise ``exp``. On small shared machines OpenBLAS' spinning worker
threads then contend with ``exp`` and with other processes: measured on the
2-core reference machine, a 100,000 x 41 E-step took 21-31 ms with two BLAS
threads when idle but 0.1-1.2 s when another process was busy, against a
steady 35-40 ms with one thread. The element-wise loops therefore run with one
BLAS thread, while pure matrix-product stages (the Louis information's Gram
matrices) use every core. ``CTCENSUS_BLAS_THREADS`` overrides both.
The limits are set through threadpoolctl, which knows OpenBLAS, MKL and BLIS.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator

from threadpoolctl import threadpool_limits

__all__ = ["blas_threads", "gemm_threads"]


def _env_threads() -> int | None:
    try:
        n = int(os.environ.get("CTCENSUS_BLAS_THREADS", ""))
    except ValueError:
        return None
    return n if n > 0 else None


@contextlib.contextmanager
def blas_threads(n: int | None = None) -> Iterator[None]:
    """Run the block with ``n`` BLAS threads (default: ``$CTCENSUS_BLAS_THREADS`` or 1)."""
    with threadpool_limits(limits=n or _env_threads() or 1, user_api="blas"):
        yield


def gemm_threads() -> int:
    """Threads for stages made only of large matrix products: every core, up to 4."""
    return _env_threads() or max(1, min(4, os.cpu_count() or 1))
