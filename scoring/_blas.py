"""Limit the BLAS thread pool while the EM loop runs.

The E-step is a sequence of tall-skinny matrix products interleaved with
element-wise ``exp``. On small shared machines OpenBLAS' spinning worker
threads then contend with ``exp`` and with other processes: measured on the
2-core reference machine, a 100,000 x 41 E-step took 21-31 ms with two BLAS
threads when idle but 0.1-1.2 s when another process was busy, against a
steady 35-40 ms with one thread. We therefore run the scoring loops with one
BLAS thread (override with the environment variable
``CTCENSUS_BLAS_THREADS``). Only numpy's bundled OpenBLAS is controlled, via
its exported ``*_set_num_threads*`` symbol; elsewhere this is a no-op.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
from collections.abc import Iterator
from typing import Any

__all__ = ["blas_threads"]

_lib: Any = None
_setter: Any = None
_getter: Any = None
_searched = False


def _find() -> None:
    global _lib, _setter, _getter, _searched
    _searched = True
    try:
        with open("/proc/self/maps") as fh:
            paths = sorted({ln.split()[-1] for ln in fh if "openblas" in ln.lower() and ".so" in ln})
    except OSError:
        return
    for path in paths:
        try:
            lib = ctypes.CDLL(path)
        except OSError:
            continue
        for suffix in ("scipy_openblas_", "openblas_", ""):
            for tail in ("64_", "_64_", ""):
                try:
                    s = getattr(lib, f"{suffix}set_num_threads{tail}")
                    g = getattr(lib, f"{suffix}get_num_threads{tail}")
                except AttributeError:
                    continue
                _lib, _setter, _getter = lib, s, g
                return


@contextlib.contextmanager
def blas_threads(n: int | None = None) -> Iterator[None]:
    """Context manager running numpy's OpenBLAS with ``n`` threads (default 1 or ``$CTCENSUS_BLAS_THREADS``)."""
    if n is None:
        try:
            n = int(os.environ.get("CTCENSUS_BLAS_THREADS", "1"))
        except ValueError:
            n = 1
    if not _searched:
        _find()
    if _setter is None or n <= 0:
        yield
        return
    old = int(_getter())
    _setter(int(n))
    try:
        yield
    finally:
        _setter(old)
