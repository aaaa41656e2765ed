"""Small-cell suppression with complementary suppression.

Primary: every group with fewer than `min_n` students is hidden. Complementary:
published statistics add up (a parent's mean times its n is the sum over its
children), so one hidden cell in an additive relation could be recovered by
subtraction. For every relation ``parent = child_1 + ... + child_k`` the
number of hidden cells among the parent and its children must therefore be 0
or at least 2: when it is 1, the smallest shown child (or, without one, the
parent) is hidden too. And when the parent is shown, the hidden children
together must not form a group under the minimum either (parent minus the
shown children would give their combined mean and n): while they do, the
smallest shown child is hidden too. This repeats until every relation holds.
"""
from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence

__all__ = ["suppress"]


def suppress(
    sizes: Mapping[Hashable, int],
    relations: Sequence[tuple[Hashable, Sequence[Hashable]]],
    min_n: int,
) -> dict[Hashable, str]:
    """The cells to hide: ``{cell: "small" | "complementary"}``.

    Parameters
    ----------
    sizes
        Every publishable cell and its number of students.
    relations
        ``(parent, children)``: the children partition the parent's students.
    min_n
        Smallest group shown.
    """
    hidden: dict[Hashable, str] = {cell: "small" for cell, n in sizes.items() if n < min_n}
    changed = True
    while changed:
        changed = False
        for parent, children in relations:
            members = [parent, *children]
            n_hidden = sum(1 for c in members if c in hidden)
            hidden_together = sum(sizes[c] for c in children if c in hidden)
            if not (n_hidden == 1 or (parent not in hidden and 0 < hidden_together < min_n)):
                continue
            shown = sorted((c for c in children if c not in hidden), key=lambda c: (sizes[c], str(c)))
            extra = shown[0] if shown else parent
            hidden[extra] = "complementary"
            changed = True
    return hidden
