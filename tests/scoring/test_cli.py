"""The calibrate/score click commands with CliRunner, and the CSV formats."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from scoring import ItemParameters, ScoringInputError, calibrate
from scoring.csvio import read_groups_csv, read_params_csv, read_responses_csv, write_params_csv
from webapp.commands.scoring_cli import calibrate_command, score_command

from .conftest import simulate


def _write_responses(path: Path, X: np.ndarray, names: list[str], groups: np.ndarray | None = None) -> None:
    with path.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["id"] + (["grade"] if groups is not None else []) + names)
        for i, row in enumerate(X):
            cells = ["" if np.isnan(v) else str(int(v)) for v in row]
            w.writerow([f"S{i:05d}"] + ([str(groups[i])] if groups is not None else []) + cells)


@pytest.fixture()
def dataset(tmp_path: Path) -> tuple[Path, np.ndarray, ItemParameters]:
    rng = np.random.default_rng(1)
    p = ItemParameters(["2pl"] * 5 + ["gpcm"] * 2, a=rng.lognormal(0, 0.2, 7),
                       d=np.column_stack([rng.normal(size=7), np.r_[[np.nan] * 5, rng.normal(size=2)]]))
    X = simulate(p, rng.normal(size=800), rng)
    X[rng.random(X.shape) < 0.1] = np.nan
    path = tmp_path / "resp.csv"
    _write_responses(path, X, [f"q{j}" for j in range(7)])
    return path, X, p


def test_calibrate_and_score_roundtrip(tmp_path: Path, dataset: tuple[Path, np.ndarray, ItemParameters]) -> None:
    path, X, _ = dataset
    out = tmp_path / "params.csv"
    r = CliRunner().invoke(calibrate_command, [str(path), "--model", "auto", "--out", str(out)])
    assert r.exit_code == 0, r.output
    params = read_params_csv(out)
    assert params.item_names == tuple(f"q{j}" for j in range(7))
    assert params.model == ("2pl",) * 5 + ("gpcm",) * 2
    direct = calibrate(X, "auto")
    np.testing.assert_allclose(params.a, direct.a, atol=1e-5)
    header = out.read_text().splitlines()[0].split(",")
    assert header == ["item", "model", "a", "d1", "d2", "c", "se_a", "se_d1", "se_d2", "se_c"]
    theta = tmp_path / "theta.csv"
    r = CliRunner().invoke(score_command, [str(path), "--params", str(out), "--method", "wle", "--out", str(theta)])
    assert r.exit_code == 0, r.output
    rows = list(csv.DictReader(theta.read_text().splitlines()))
    assert len(rows) == 800 and rows[0]["id"] == "S00000"
    assert set(rows[0]) == {"id", "theta", "se", "n_responses"}


def test_multigroup_writes_groups_file(tmp_path: Path) -> None:
    rng = np.random.default_rng(2)
    p = ItemParameters("2pl", rng.lognormal(0, 0.2, 10), rng.normal(size=10))
    theta = np.r_[rng.normal(0, 1, 600), rng.normal(0.7, 1.1, 600)]
    X = simulate(p, theta, rng)
    X[:600, 7:] = np.nan
    X[600:, :3] = np.nan
    grade = np.repeat([5, 8], 600)
    path = tmp_path / "r.csv"
    _write_responses(path, X, [f"i{j}" for j in range(10)], grade)
    out = tmp_path / "PARAMS.csv"
    r = CliRunner().invoke(calibrate_command, [str(path), "--group-column", "grade", "--out", str(out), "--quiet"])
    assert r.exit_code == 0, r.output
    rows = list(csv.DictReader((tmp_path / "PARAMS.groups.csv").read_text().splitlines()))
    assert [row["group"] for row in rows] == ["5", "8"]
    assert rows[0]["mean"] == "0.000000" and rows[0]["se_mean"] == ""
    assert abs(float(rows[1]["mean"]) - 0.7) < 0.2 and float(rows[1]["se_sd"]) > 0
    assert rows[1]["n"] == "600"

    # score with the group column: EAP priors are each group's estimated N(mean, sd)
    theta_out = tmp_path / "theta.csv"
    r = CliRunner().invoke(score_command, [str(path), "--params", str(out), "--group-column", "grade",
                                           "--method", "eap", "--out", str(theta_out)])
    assert r.exit_code == 0, r.output
    est = np.array([float(row["theta"]) for row in csv.DictReader(theta_out.read_text().splitlines())])
    gap = est[600:].mean() - est[:600].mean()
    assert abs(gap - float(rows[1]["mean"])) < 0.1  # EAP keeps the group difference
    nogroup = tmp_path / "r_nogroup.csv"
    _write_responses(nogroup, X, [f"i{j}" for j in range(10)])
    r = CliRunner().invoke(score_command, [str(nogroup), "--params", str(out), "--out", str(theta_out)])
    assert r.exit_code == 0, r.output
    assert "prior N(0, 1) of the reference group: PARAMS.groups.csv has groups ['5', '8']" in r.output
    (tmp_path / "PARAMS.groups.csv").unlink()
    r = CliRunner().invoke(score_command, [str(path), "--params", str(out), "--group-column", "grade",
                                           "--out", str(theta_out)])
    assert r.exit_code == 1 and "PARAMS.groups.csv: not found" in r.output


def test_anchors_file(tmp_path: Path, dataset: tuple[Path, np.ndarray, ItemParameters]) -> None:
    path, _, p = dataset
    anchors = tmp_path / "anchors.csv"
    write_params_csv(anchors, ItemParameters(p.model[:3], p.a[:3], p.d[:3, :1], item_names=("q0", "q1", "q2")))
    out = tmp_path / "p.csv"
    r = CliRunner().invoke(calibrate_command, [str(path), "--model", "auto", "--anchors", str(anchors), "--out", str(out)])
    assert r.exit_code == 0, r.output
    got = read_params_csv(out)
    np.testing.assert_allclose(got.a[:3], p.a[:3], atol=1e-6)


@pytest.mark.parametrize(
    "content, match",
    [
        ("id,q1,q2\nA,1,0\nB,x,1\n", "line 3, column 'q1': expected a number or an empty cell; found 'x'"),
        ("id,q1,q2\nA,1,0\nA,0,1\n", "line 3: duplicate id 'A'"),
        ("id,q1,q2\nA,1,0\nB,1,1\n", "item 'q1' .*no variance"),
        ("id,q1,q2\nA,1,0\nB,1\n", "line 3 has 2 cells"),
        ("id,q1,q2\nA,1,0\nB,0.5,1\n", "line 3, column 'q1': expected a non-negative integer"),
    ],
)
def test_calibrate_bad_input_one_line_error(tmp_path: Path, content: str, match: str) -> None:
    path = tmp_path / "bad.csv"
    path.write_text(content)
    r = CliRunner().invoke(calibrate_command, [str(path), "--out", str(tmp_path / "o.csv"), "--quiet"])
    assert r.exit_code == 1
    lines = [ln for ln in r.output.splitlines() if ln.startswith("Error")]
    assert len(lines) == 1
    import re

    assert re.search(match, lines[0]), lines[0]


def test_score_rejects_unknown_params_column(tmp_path: Path, dataset: tuple[Path, np.ndarray, ItemParameters]) -> None:
    path, _, _ = dataset
    bad = tmp_path / "p.csv"
    bad.write_text("item,model,a,d1,foo\nq0,2pl,1,0,3\n")
    r = CliRunner().invoke(score_command, [str(path), "--params", str(bad), "--out", str(tmp_path / "t.csv")])
    assert r.exit_code == 1 and "unknown column 'foo'" in r.output
    bad.write_text("item,model,a,d1\nzz,2pl,1,0\n")
    r = CliRunner().invoke(score_command, [str(path), "--params", str(bad), "--out", str(tmp_path / "t.csv")])
    assert r.exit_code == 1 and "item 'zz' is not a column" in r.output


def test_read_responses_group_column_errors(tmp_path: Path) -> None:
    path = tmp_path / "r.csv"
    path.write_text("id,q1\nA,1\n")
    with pytest.raises(ScoringInputError, match="group column 'grade' not found"):
        read_responses_csv(path, group_column="grade")
    t = read_responses_csv(path)
    assert t.ids == ("A",) and t.groups is None


def test_read_responses_skips_person_columns(tmp_path: Path) -> None:
    path = tmp_path / "r.csv"
    path.write_text("student,grade,school,gender,q1,q2\nS1,5,Sab,female,1,\nS2,8,Scd,,0,2\n")
    t = read_responses_csv(path, group_column="grade", skip_columns=("school", "gender"))
    assert t.item_names == ("q1", "q2") and t.groups.tolist() == [5, 8]
    np.testing.assert_array_equal(t.responses, [[1.0, np.nan], [0.0, 2.0]])
    with pytest.raises(ScoringInputError, match="skipped column 'class' not found"):
        read_responses_csv(path, skip_columns=("class",))
    with pytest.raises(ScoringInputError, match="column 'school': expected a number"):
        read_responses_csv(path, group_column="grade", skip_columns=("gender",))


def _params_file(tmp_path: Path) -> Path:
    out = tmp_path / "params.csv"
    write_params_csv(out, ItemParameters("2pl", [1.0, 1.2], [0.0, 0.5], item_names=("q1", "q2")))
    return out


def test_read_params_rejects_duplicate_column(tmp_path: Path) -> None:
    # regression: a repeated column (here 'a') was accepted and the last one silently won
    good = _params_file(tmp_path)
    lines = good.read_text().splitlines()
    dup = tmp_path / "dup.csv"
    dup.write_text("\n".join([lines[0] + ",a"] + [ln + ",9.0" for ln in lines[1:]]) + "\n")
    with pytest.raises(ScoringInputError, match=r"dup\.csv: line 1: duplicate column name 'a' in the header"):
        read_params_csv(dup)
    resp = tmp_path / "r.csv"
    resp.write_text("id,q1,q2\nA,1,0\nB,0,1\n")
    r = CliRunner().invoke(score_command, [str(resp), "--params", str(dup), "--out", str(tmp_path / "t.csv")])
    assert r.exit_code == 1
    assert r.output.strip() == f"Error: {dup}: line 1: duplicate column name 'a' in the header"


def test_read_params_duplicate_item_names_both_lines(tmp_path: Path) -> None:
    path = tmp_path / "p.csv"
    path.write_text("item,model,a,d1\nq1,2pl,1,0\n\nq1,2pl,1,0\n")
    with pytest.raises(ScoringInputError, match=r"line 4, column 'item': item 'q1' appears more than once \(first on line 2\)"):
        read_params_csv(path)


def test_csv_errors_count_blank_lines(tmp_path: Path) -> None:
    # regression: blank rows were dropped before numbering, so line 6 was reported as line 4
    path = tmp_path / "blank.csv"
    path.write_text("id,q1,q2\nA,1,0\n\n,,\nB,0,1\nC,x,1\n")
    r = CliRunner().invoke(calibrate_command, [str(path), "--out", str(tmp_path / "o.csv"), "--quiet"])
    assert r.exit_code == 1
    assert r.output.strip() == f"Error: {path}: line 6, column 'q1': expected a number or an empty cell; found 'x'"
    path.write_text("id,q1,q2\nA,1,0\n\nB,0,1\n")
    assert read_responses_csv(path).lines == (2, 4)
    # a quoted cell spanning two physical lines: the next record is numbered by its own file line
    path.write_text('id,q1,q2\n"A\nA",1,0\nB,0,z\n')
    with pytest.raises(ScoringInputError, match=r"line 4, column 'q2'"):
        read_responses_csv(path)
    groups = tmp_path / "g.csv"
    groups.write_text("group,mean,sd\nall,0,1\n\nx,0.5,0\n")
    with pytest.raises(ScoringInputError, match=r"g\.csv: line 4, column 'sd'"):
        read_groups_csv(groups)


def test_score_out_of_range_names_file_line_and_column(tmp_path: Path) -> None:
    # regression: reported as "responses: ... found 7 at row 2" (0-based data row, no file name)
    params = _params_file(tmp_path)
    resp = tmp_path / "r.csv"
    resp.write_text("id,q2,q1\nA,1,0\n\nB,0,1\nC,1,7\n")
    r = CliRunner().invoke(score_command, [str(resp), "--params", str(params), "--out", str(tmp_path / "t.csv")])
    assert r.exit_code == 1
    assert r.output.strip() == (
        f"Error: {resp}: line 5, column 'q1': score 7 is out of range; item 'q1' (in {params}) allows scores 0..1"
    )


def test_calibrate_out_of_range_names_file_line_and_column(tmp_path: Path) -> None:
    resp = tmp_path / "r.csv"
    resp.write_text("id,q1,q2,q3\nA,1,0,1\n\nB,0,1,0\nC,1,0,2\n")
    out = tmp_path / "o.csv"
    r = CliRunner().invoke(calibrate_command, [str(resp), "--out", str(out), "--quiet"])
    assert r.exit_code == 1
    assert r.output.strip() == (
        f"Error: {resp}: line 5, column 'q3': score 2 is out of range; item 'q3' (--model 2pl) allows scores 0..1"
    )
    anchors = tmp_path / "anchors.csv"
    write_params_csv(anchors, ItemParameters("2pl", [1.0], [0.0], item_names=("q3",)))
    r = CliRunner().invoke(calibrate_command, [str(resp), "--model", "gpcm", "--anchors", str(anchors),
                                               "--out", str(out), "--quiet"])
    assert r.exit_code == 1
    assert r.output.strip() == (
        f"Error: {resp}: line 5, column 'q3': score 2 is out of range; item 'q3' (anchor 2pl in {anchors}) "
        "allows scores 0..1"
    )
    # item-level errors of the core name the file instead of the argument
    resp.write_text("id,q1,q2\nA,1,0\nB,1,1\n")
    r = CliRunner().invoke(calibrate_command, [str(resp), "--out", str(out), "--quiet"])
    assert r.exit_code == 1 and r.output.startswith(f"Error: {resp}: item 'q1' (column 0) has no variance")


def test_anchor_calibration_prior_is_used_by_score(tmp_path: Path) -> None:
    # regression: calibrate --anchors estimated the cohort's N(mean, sd) but did not write it, so
    # score used N(0, 1) and shrank every EAP towards 0
    from scoring import estimate_ability

    rng = np.random.default_rng(21)
    truth = ItemParameters("2pl", rng.lognormal(0, 0.2, 10), rng.normal(size=10),
                           item_names=tuple(f"q{j}" for j in range(10)))
    X = simulate(truth, rng.normal(0.8, 0.9, 1500), rng)
    path = tmp_path / "cohort.csv"
    _write_responses(path, X, list(truth.item_names))
    anchors = tmp_path / "anchors.csv"
    write_params_csv(anchors, truth.take(np.arange(4)))
    out = tmp_path / "p.csv"
    r = CliRunner().invoke(calibrate_command, [str(path), "--anchors", str(anchors), "--out", str(out), "--quiet"])
    assert r.exit_code == 0, r.output
    direct = calibrate(X, "2pl", fixed=read_params_csv(anchors), item_names=truth.item_names)
    rows = list(csv.DictReader((tmp_path / "p.groups.csv").read_text().splitlines()))
    assert len(rows) == 1 and rows[0]["group"] == "all" and rows[0]["n"] == "1500"
    mean, sd = float(rows[0]["mean"]), float(rows[0]["sd"])
    assert mean == pytest.approx(direct.group_means[0], abs=1e-6)
    assert sd == pytest.approx(direct.group_sds[0], abs=1e-6)
    assert float(rows[0]["se_mean"]) == pytest.approx(direct.se_group_means[0], abs=1e-6)
    assert abs(mean - 0.8) < 0.15 and abs(sd - 0.9) < 0.15
    assert f"latent distribution all: N({mean:.3f}, {sd:.3f}^2)" in r.output

    theta_out = tmp_path / "theta.csv"
    r = CliRunner().invoke(score_command, [str(path), "--params", str(out), "--out", str(theta_out)])
    assert r.exit_code == 0, r.output
    assert f"prior N({mean:.3f}, {sd:.3f}^2) of group 'all' from p.groups.csv" in r.output
    got = np.array([float(row["theta"]) for row in csv.DictReader(theta_out.read_text().splitlines())])
    want = estimate_ability(X, read_params_csv(out), "eap", prior_mean=mean, prior_sd=sd)
    np.testing.assert_allclose(got, want.theta, atol=1e-6)
    assert abs(got.mean() - 0.8) < 0.1  # N(0, 1) would pull the mean down to ~0.7

    # a calibration without anchors writes the N(0, 1) reference, which score then reports
    r = CliRunner().invoke(calibrate_command, [str(path), "--out", str(out), "--quiet"])
    assert r.exit_code == 0, r.output
    assert (tmp_path / "p.groups.csv").read_text().splitlines()[1] == "all,0.000000,1.000000,,,1500"
    r = CliRunner().invoke(score_command, [str(path), "--params", str(out), "--out", str(theta_out)])
    assert "prior N(0.000, 1.000^2) of group 'all'" in r.output
    r = CliRunner().invoke(score_command, [str(path), "--params", str(out), "--method", "wle", "--out", str(theta_out)])
    assert r.exit_code == 0 and "(WLE, no prior)" in r.output
