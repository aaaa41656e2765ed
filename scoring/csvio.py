"""CSV input/output for response matrices, item parameters, group estimates and abilities.

File formats
------------
Responses CSV
    Header ``id,<item1>,<item2>,...`` (the first column is the person id,
    whatever its name). One row per person; cells are integer item scores,
    an empty cell (or ``NA``/``NaN``) is missing. An optional group column
    (``group_column=``) and columns that describe persons rather than items
    (``skip_columns=``, e.g. ``school,gender`` of ``ctcensus responses export``)
    are excluded from the items.
Parameters CSV (``PARAMS.csv``)
    ``item,model,a,d1,...,d{K-1},c,se_a,se_d1,...,se_d{K-1},se_c``: one row
    per item in slope/intercept form (see :mod:`scoring.models`); ``d2..``
    are empty for dichotomous items, ``c`` is 0 unless 3PL, SE cells are
    empty when not estimated (fixed anchors). ``b``-metric columns are not
    written: convert with :func:`scoring.to_irt_parameters`.
Groups CSV (``PARAMS.groups.csv``)
    ``group,mean,sd,se_mean,se_sd,n``; the reference group has mean 0, sd 1
    and empty SEs unless its mean and SD were estimated (fixed anchors). A
    single-group calibration has one row labelled ``all``.
Theta CSV
    ``id,theta,se,n_responses``.

Every error names the file, the line (1-based, header = line 1) and the column.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from .ability import AbilityEstimates
from .calibration import Calibration
from .errors import ScoringInputError
from .models import ItemParameters, parse_model_name

__all__ = [
    "ResponseTable",
    "groups_csv_path",
    "read_groups_csv",
    "read_params_csv",
    "read_responses_csv",
    "write_group_rows",
    "write_groups_csv",
    "write_params_csv",
    "write_theta_csv",
]

_MISSING = {"", "na", "nan", "."}


@dataclass(frozen=True, eq=False)
class ResponseTable:
    """A responses CSV: ids ``(N,)``, item names ``(J,)``, responses ``(N, J)``, optional groups ``(N,)``.

    ``lines`` holds each person's file line (1-based, header = line 1; blank lines
    skipped but counted) so that later checks can name the line.
    """

    ids: tuple[str, ...]
    item_names: tuple[str, ...]
    responses: NDArray[np.float64]
    groups: NDArray[Any] | None
    lines: tuple[int, ...] = ()


def _open_rows(path: str | Path) -> tuple[list[str], list[list[str]], list[int]]:
    """Header, non-blank body rows and each body row's 1-based file line (blank lines are skipped, not renumbered)."""
    p = Path(path)
    rows: list[list[str]] = []
    lines: list[int] = []
    try:
        with p.open(newline="", encoding="utf-8-sig") as fh:
            reader = csv.reader(fh)
            for row in reader:
                rows.append(row)
                lines.append(reader.line_num)  # last physical line of the record (quoted newlines span lines)
    except OSError as exc:
        raise ScoringInputError(f"{p}: cannot read file ({exc.strerror})") from None
    except UnicodeDecodeError:
        raise ScoringInputError(f"{p}: not a UTF-8 text CSV file") from None
    except csv.Error as exc:
        raise ScoringInputError(f"{p}: line {len(lines) + 1}: not a valid CSV row ({exc})") from None
    if not rows or not any(cell.strip() for cell in rows[0]):
        raise ScoringInputError(f"{p}: empty file; expected a header row")
    header = [h.strip() for h in rows[0]]
    keep = [i for i in range(1, len(rows)) if any(cell.strip() for cell in rows[i])]
    return header, [rows[i] for i in keep], [lines[i] for i in keep]


def _check_unique_header(p: Path, header: list[str]) -> None:
    if len(set(header)) != len(header):
        dup = next(h for h in header if header.count(h) > 1)
        raise ScoringInputError(f"{p}: line 1: duplicate column name {dup!r} in the header")


def read_responses_csv(
    path: str | Path, *, group_column: str | None = None, skip_columns: Sequence[str] = ()
) -> ResponseTable:
    """Read a responses CSV (see module docstring).

    Raises
    ------
    ScoringInputError
        Non-numeric cell (file, line, column and value), wrong number of
        cells, duplicate id, duplicate or missing group column, a skipped
        column that is not in the header.
    """
    p = Path(path)
    header, body, lines = _open_rows(p)
    if len(header) < 2:
        raise ScoringInputError(f"{p}: expected an id column and at least one item column; found header {header}")
    _check_unique_header(p, header)
    gcol = None
    if group_column is not None:
        if group_column not in header[1:]:
            raise ScoringInputError(f"{p}: group column {group_column!r} not found; columns are {header}")
        gcol = header.index(group_column)
    missing = [c for c in skip_columns if c not in header[1:]]
    if missing:
        raise ScoringInputError(f"{p}: skipped column {missing[0]!r} not found; columns are {header}")
    skipped = {header.index(c) for c in skip_columns}
    item_cols = [k for k in range(1, len(header)) if k != gcol and k not in skipped]
    if not item_cols:
        raise ScoringInputError(f"{p}: no item columns besides the id, group and skipped columns")
    N = len(body)
    X = np.full((N, len(item_cols)), np.nan)
    ids: list[str] = []
    seen: dict[str, int] = {}
    groups: list[str] = []
    for i, (row, line) in enumerate(zip(body, lines, strict=True)):
        if len(row) != len(header):
            raise ScoringInputError(f"{p}: line {line} has {len(row)} cells; expected {len(header)} as in the header")
        pid = row[0].strip()
        if not pid:
            raise ScoringInputError(f"{p}: line {line}, column {header[0]!r}: empty person id")
        if pid in seen:
            raise ScoringInputError(f"{p}: line {line}: duplicate id {pid!r} (first on line {seen[pid]})")
        seen[pid] = line
        ids.append(pid)
        if gcol is not None:
            g = row[gcol].strip()
            if not g:
                raise ScoringInputError(f"{p}: line {line}, column {header[gcol]!r}: empty group label")
            groups.append(g)
        for jj, k in enumerate(item_cols):
            cell = row[k].strip()
            if cell.lower() in _MISSING:
                continue
            try:
                v = float(cell)
            except ValueError:
                raise ScoringInputError(
                    f"{p}: line {line}, column {header[k]!r}: expected a number or an empty cell; found {cell!r}"
                ) from None
            if not math.isfinite(v) or v < 0 or v != int(v):
                raise ScoringInputError(
                    f"{p}: line {line}, column {header[k]!r}: expected a non-negative integer score; found {cell!r}"
                )
            X[i, jj] = v
    garr: NDArray[Any] | None = None
    if gcol is not None:
        try:
            garr = np.array([int(g) for g in groups])
        except ValueError:
            garr = np.array(groups)
    return ResponseTable(
        ids=tuple(ids), item_names=tuple(header[k] for k in item_cols), responses=X, groups=garr, lines=tuple(lines)
    )


def _fmt(x: float) -> str:
    return "" if not np.isfinite(x) else f"{x:.6f}"


def write_params_csv(
    path: str | Path,
    result: Calibration | ItemParameters,
    *,
    se: tuple[ArrayLike, ArrayLike, ArrayLike] | None = None,
) -> None:
    """Write item parameters (and SEs when ``result`` is a :class:`Calibration`).

    ``se = (se_a (J,), se_d (J, K-1), se_c (J,))`` gives the SEs of plain
    ``ItemParameters`` (NaN = not estimated), e.g. a stored parameter set's.
    """
    params = result.params if isinstance(result, Calibration) else result
    km1 = params.d.shape[1]
    J = params.n_items
    se_a = result.se_a if isinstance(result, Calibration) else np.full(J, np.nan)
    se_d = result.se_d if isinstance(result, Calibration) else np.full((J, km1), np.nan)
    se_c = result.se_c if isinstance(result, Calibration) else np.full(J, np.nan)
    if se is not None:
        se_a, se_d, se_c = (np.asarray(x, dtype=np.float64) for x in se)
        if se_a.shape != (J,) or se_d.shape != (J, km1) or se_c.shape != (J,):
            raise ScoringInputError(
                f"se: expected shapes ({J},), ({J}, {km1}), ({J},); found {se_a.shape}, {se_d.shape}, {se_c.shape}"
            )
    header = ["item", "model", "a"] + [f"d{k + 1}" for k in range(km1)] + ["c", "se_a"]
    header += [f"se_d{k + 1}" for k in range(km1)] + ["se_c"]
    with Path(path).open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(header)
        for j in range(J):
            w.writerow(
                [params.item_names[j], params.model[j], _fmt(params.a[j])]
                + [_fmt(v) for v in params.d[j]]
                + [_fmt(params.c[j]), _fmt(se_a[j])]
                + [_fmt(v) for v in se_d[j]]
                + [_fmt(se_c[j])]
            )


def read_params_csv(path: str | Path) -> ItemParameters:
    """Read a parameters CSV written by :func:`write_params_csv` (SE columns are ignored).

    Raises
    ------
    ScoringInputError
        Unknown, missing or duplicated columns, duplicated items, unknown model
        names, non-numeric values (file, line and column named) or invalid parameters.
    """
    p = Path(path)
    header, body, lines = _open_rows(p)
    _check_unique_header(p, header)
    dcols = sorted((h for h in header if h.startswith("d") and h[1:].isdigit()), key=lambda h: int(h[1:]))
    allowed = {"item", "model", "a", "c", "se_a", "se_c"} | set(dcols) | {f"se_{h}" for h in dcols}
    unknown = [h for h in header if h not in allowed]
    if unknown:
        raise ScoringInputError(
            f"{p}: unknown column {unknown[0]!r}; expected item, model, a, d1..dK, c and optional se_* columns"
        )
    for req in ("item", "model", "a", "d1"):
        if req not in header:
            raise ScoringInputError(f"{p}: required column {req!r} is missing; header is {header}")
    if [int(h[1:]) for h in dcols] != list(range(1, len(dcols) + 1)):
        raise ScoringInputError(f"{p}: intercept columns must be d1..dK without gaps; found {dcols}")
    col = {h: k for k, h in enumerate(header)}
    names, models, a, c = [], [], [], []
    d = np.full((len(body), len(dcols)), np.nan)

    def num(row: list[str], h: str, line: int, required: bool) -> float:
        cell = row[col[h]].strip() if col[h] < len(row) else ""
        if not cell:
            if required:
                raise ScoringInputError(f"{p}: line {line}, column {h!r}: value required")
            return float("nan")
        try:
            return float(cell)
        except ValueError:
            raise ScoringInputError(f"{p}: line {line}, column {h!r}: expected a number; found {cell!r}") from None

    for i, (row, line) in enumerate(zip(body, lines, strict=True)):
        if len(row) != len(header):
            raise ScoringInputError(f"{p}: line {line} has {len(row)} cells; expected {len(header)}")
        names.append(row[col["item"]].strip())
        models.append(parse_model_name(row[col["model"]], where=f"{p}: line {line}, column 'model'"))
        a.append(num(row, "a", line, True))
        for k, h in enumerate(dcols):
            d[i, k] = num(row, h, line, k == 0)
        c.append(num(row, "c", line, False) if "c" in col else 0.0)
    first_line: dict[str, int] = {}
    for n, line in zip(names, lines, strict=True):
        if n in first_line:
            raise ScoringInputError(f"{p}: line {line}, column 'item': item {n!r} appears more than once (first on line {first_line[n]})")
        first_line[n] = line
    c_arr = np.nan_to_num(np.array(c))
    try:
        return ItemParameters(model=tuple(models), a=np.array(a), d=d, c=c_arr, item_names=tuple(names))
    except ScoringInputError as exc:
        raise ScoringInputError(f"{p}: {exc}") from None


def groups_csv_path(params_path: str | Path) -> Path:
    """``PARAMS.csv`` -> ``PARAMS.groups.csv`` beside it."""
    pp = Path(params_path)
    return pp.with_name(pp.stem + ".groups" + (pp.suffix or ".csv"))


def write_groups_csv(path: str | Path, result: Calibration, *, labels: Sequence[str] | None = None) -> None:
    """Write ``group,mean,sd,se_mean,se_sd,n`` for every group of a calibration.

    ``labels`` replaces ``result.group_labels`` in the file (e.g. ``["all"]`` for a
    single-group calibration, whose internal label is 0).
    """
    names = tuple(result.group_labels) if labels is None else tuple(labels)
    if len(names) != len(result.group_labels):
        raise ScoringInputError(f"labels: expected {len(result.group_labels)} group labels; found {len(names)}")
    write_group_rows(path, names, result.group_means, result.group_sds, result.se_group_means,
                     result.se_group_sds, result.group_n)


def write_group_rows(
    path: str | Path,
    labels: Sequence[str],
    means: ArrayLike,
    sds: ArrayLike,
    se_means: ArrayLike,
    se_sds: ArrayLike,
    n: ArrayLike,
) -> None:
    """Write ``group,mean,sd,se_mean,se_sd,n`` from arrays of shape ``(G,)`` (NaN SE = not estimated)."""
    cols = [np.asarray(x, dtype=np.float64).reshape(-1) for x in (means, sds, se_means, se_sds, n)]
    if any(c.shape != (len(labels),) for c in cols):
        raise ScoringInputError(f"means, sds, se_means, se_sds, n: expected {len(labels)} values each")
    with Path(path).open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["group", "mean", "sd", "se_mean", "se_sd", "n"])
        for g, lab in enumerate(labels):
            w.writerow([lab, _fmt(cols[0][g]), _fmt(cols[1][g]), _fmt(cols[2][g]), _fmt(cols[3][g]), int(cols[4][g])])


def read_groups_csv(path: str | Path) -> dict[str, tuple[float, float]]:
    """Read ``PARAMS.groups.csv``: group label -> (mean, sd) of its latent distribution."""
    p = Path(path)
    header, body, lines = _open_rows(p)
    _check_unique_header(p, header)
    for col in ("group", "mean", "sd"):
        if col not in header:
            raise ScoringInputError(f"{p}: missing column {col!r}; columns are {header}")
    gi, mi, si = header.index("group"), header.index("mean"), header.index("sd")
    out: dict[str, tuple[float, float]] = {}
    for line, row in zip(lines, body, strict=True):
        try:
            mean, sd = float(row[mi]), float(row[si])
        except (ValueError, IndexError):
            raise ScoringInputError(f"{p}: line {line}: mean and sd must be numbers") from None
        if not sd > 0:
            raise ScoringInputError(f"{p}: line {line}, column 'sd': expected a positive number; found {row[si]!r}")
        out[row[gi].strip()] = (mean, sd)
    return out


def write_theta_csv(path: str | Path, ids: Sequence[str], estimates: AbilityEstimates) -> None:
    """Write ``id,theta,se,n_responses`` (empty theta/se where undefined)."""
    if len(ids) != len(estimates):
        raise ScoringInputError(f"ids: expected {len(estimates)} ids (one per estimate); found {len(ids)}")
    with Path(path).open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["id", "theta", "se", "n_responses"])
        for i, pid in enumerate(ids):
            w.writerow([pid, _fmt(estimates.theta[i]), _fmt(estimates.se[i]), int(estimates.n_responses[i])])
