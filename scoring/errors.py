"""Errors and warnings raised by the scoring core.

Every error names the offending argument (or file / row / column), what was
expected and what was found, so the caller can fix the input without reading
the source.
"""

from __future__ import annotations

__all__ = ["ConditioningWarning", "ConvergenceWarning", "ScoringInputError"]


class ScoringInputError(ValueError):
    """Invalid input to a scoring function (wrong shape, values or labels)."""


class ConvergenceWarning(UserWarning):
    """An iterative estimation stopped before meeting its convergence criterion."""


class ConditioningWarning(UserWarning):
    """Plausible values drawn without conditioning on the groups that will be compared.

    Under one common prior every person's draws shrink towards the common
    mean, so group means and gaps computed from them are biased towards it and
    their intervals under-cover (Mislevy, 1991).
    """
