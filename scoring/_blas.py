"""Limit the BLAS thread pool while the scoring loops run.

The E-step is a sequence of tall-skinny matrix products interleaved with
element-wise ``exp``. On small shared machines OpenBLAS' spinning worker
threads then contend with ``exp`` and with other processes: measured on the
2-core reference machine, a 100,000 x 41 E-step took 21-31 ms with two BLAS
threads when idle but 0.1-1.2 s when another process was busy, against a
steady 35-40 ms with one thread. The scoring loops therefore run with one
BLAS thread (``CTCENSUS_BLAS_THREADS`` overrides it). Two threads for the
pure-GEMM stage of the Louis standard errors were tried: 1.24 s instead of
1.47 s for 2PL 100k x 40 with 30 % missing on an idle machine, but 5.2 s
instead of 1.3 s for 3PL while another process was busy, so one thread stays.
The limits are set through threadpoolctl, which knows OpenBLAS, MKL and BLIS.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator

from threadpoolctl import threadpool_limits

__all__ = ["blas_threads"]


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
