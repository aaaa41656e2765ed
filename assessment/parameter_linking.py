"""Link a parameter set onto a base scale through the anchor items both hold (issue 11.4).

`link_set` solves ``theta_base = A * theta_set + B`` with `scoring.link`
(Stocking–Lord or Haebara over the common anchor items, `ItemRecord.anchor`),
with jackknife SEs of A and B over those anchors, and stores a new draft set:
every item's parameters transformed (`a / A`, `d - a B / A`), the groups' means
and SDs transformed (`A mean + B`, `A sd`), and in `origin` the method, the
constants with their SEs, the anchors used and the base set. Audited.
"""
from __future__ import annotations

import math
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from scoring import ScoringInputError
from scoring.linking import link

from . import audit
from .errors import Conflict, InvalidInput
from .models import ItemParameterRecord, ParameterSet
from .parameter_sets import get_set, set_arrays

__all__ = ["LINK_METHODS", "link_set"]

LINK_METHODS = ("stocking-lord", "haebara")
_SE_METHOD = "jackknife over the anchor items (Haberman, Lee & Qian, 2009)"


def _none(x: float) -> float | None:
    return None if not math.isfinite(x) else float(x)


def _groups(groups: list[Any] | None, A: float, B: float) -> list[dict[str, Any]] | None:
    """The latent distributions on the base scale (their SEs scaled by A; the linking error is in origin)."""
    if not groups:
        return None
    out = []
    for g in groups:
        out.append(dict(g) | {"mean": A * float(g["mean"]) + B, "sd": A * float(g["sd"]),
                              "se_mean": None if g.get("se_mean") is None else A * float(g["se_mean"]),
                              "se_sd": None if g.get("se_sd") is None else A * float(g["se_sd"])})
    return out


def link_set(session: Session, name: str, base: str, method: str, actor: str, *, new_name: str | None = None,
             ip: str = "") -> ParameterSet:
    """Store set `name` carried onto `base`'s scale as a new draft set (`new_name`, default NAME-on-BASE)."""
    if method not in LINK_METHODS:
        raise InvalidInput(f"--method: expected one of {', '.join(LINK_METHODS)}; got {method!r}")
    target = (new_name or f"{name}-on-{base}").strip()
    if not target or len(target) > 64:
        raise InvalidInput(f"--name: expected a parameter set name of 1 to 64 characters; got {target!r}"
                           + ("" if new_name else " (give --name)"))
    source, base_set = get_set(session, name), get_set(session, base)
    if source.id == base_set.id:
        raise InvalidInput(f"--to: link {name!r} onto another set, not onto itself")
    if session.scalar(select(ParameterSet.id).where(ParameterSet.name == target)) is not None:
        raise Conflict(f"a parameter set named {target!r} exists already; choose another --name")
    frm, to = set_arrays(session, source), set_arrays(session, base_set)
    to_index = {pk: k for k, pk in enumerate(to.item_pks)}
    pairs = [(j, to_index[pk]) for j, pk in enumerate(frm.item_pks) if frm.anchors[j] and pk in to_index]
    if len(pairs) < 2:
        raise InvalidInput(f"--to: sets {name!r} and {base!r} share {len(pairs)} anchor item(s); linking needs at "
                           "least 2 (3 for the SEs of the constants)")
    try:
        res = link(frm.params, to.params, common=pairs, method=method, se=True)
    except ScoringInputError as exc:
        raise InvalidInput(str(exc)) from None
    A, B = res.A, res.B
    anchors = [frm.params.item_names[j] for j, _ in pairs]
    origin = {"kind": "link", "from": source.name, "base": base_set.name, "method": method, "A": A, "B": B,
              "se_A": _none(res.se_A), "se_B": _none(res.se_B), "se_method": _SE_METHOD,
              "anchors": anchors, "criterion": _none(res.criterion), "converged": res.converged,
              "from_origin": source.origin}
    pset = ParameterSet(name=target, provisional=True, published=False, origin=origin,
                        groups=_groups(source.groups, A, B),
                        description=f"{source.name} linked onto {base_set.name} ({method}, {len(anchors)} anchors): "
                                    f"A = {A:.4f}, B = {B:.4f} (draft)")
    session.add(pset)
    session.flush()
    linked = res.linked
    rows = []
    for j, pk in enumerate(frm.item_pks):
        km1 = int(frm.params.n_categories[j]) - 1
        se_a = frm.se_a[j] / A
        rows.append(ItemParameterRecord(
            parameter_set_id=pset.id, item_pk=pk, model=linked.model[j], a=float(linked.a[j]),
            d=[float(v) for v in linked.d[j, :km1]], c=float(linked.c[j]),
            # se(a / A) = se(a) / A with A taken as known; the intercepts' SEs would need cov(a, d), not stored
            se={"a": _none(float(se_a)), "d": [None] * km1, "c": _none(float(frm.se_c[j])),
                "fixed": False, "linked": True}))
    session.add_all(rows)
    session.flush()
    audit.record(session, actor, "params.link", target, ip=ip, source=source.name, base=base_set.name,
                 method=method, A=A, B=B, se_A=origin["se_A"], se_B=origin["se_B"], anchors=anchors)
    return pset
