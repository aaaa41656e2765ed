"""Calibration against R mirt's published LSAT7 estimates, input validation and result shape."""

from __future__ import annotations

import numpy as np
import pytest

from scoring import Calibration, ConvergenceWarning, ScoringInputError, calibrate

# R mirt: mirt(expand.table(LSAT7), 1) -- see ../shared/reference/README.md
MIRT_A = np.array([0.988, 1.081, 1.706, 0.765, 0.736])
MIRT_D = np.array([1.856, 0.808, 1.804, 0.486, 1.855])
MIRT_LOGLIK = -2658.805


def test_lsat7_matches_mirt(lsat7: np.ndarray) -> None:
    res = calibrate(lsat7, "2pl")
    assert isinstance(res, Calibration)
    assert res.converged
    np.testing.assert_allclose(res.a, MIRT_A, atol=0.005)
    np.testing.assert_allclose(res.d[:, 0], MIRT_D, atol=0.005)
    assert abs(res.loglik - MIRT_LOGLIK) < 0.005
    assert res.n_parameters == 10
    np.testing.assert_allclose(res.aic, -2 * res.loglik + 20)
    np.testing.assert_allclose(res.bic, -2 * res.loglik + 10 * np.log(1000))


def test_lsat7_quadrature_insensitive(lsat7: np.ndarray) -> None:
    r41 = calibrate(lsat7, "2pl", n_quad=41, se=False)
    r61 = calibrate(lsat7, "2pl", n_quad=61, se=False)
    np.testing.assert_allclose(r41.a, r61.a, atol=1e-3)
    assert abs(r41.loglik - r61.loglik) < 1e-3


def test_lsat7_unaccelerated_em_agrees(lsat7: np.ndarray) -> None:
    fast = calibrate(lsat7, "2pl", se=False)
    slow = calibrate(lsat7, "2pl", se=False, accelerate=False, tol=1e-6)
    np.testing.assert_allclose(fast.a, slow.a, atol=2e-3)
    np.testing.assert_allclose(fast.d, slow.d, atol=2e-3)


def test_lsat7_louis_se_equals_numerical_hessian(lsat7: np.ndarray) -> None:
    """Louis' observed information equals a finite-difference Hessian of the marginal log-likelihood."""
    from scipy.special import logsumexp

    from scoring import ItemParameters
    from scoring.models import log_category_probabilities

    res = calibrate(lsat7, "2pl")
    pat, w = np.unique(lsat7, axis=0, return_counts=True)
    th = res.quadrature
    lw = -0.5 * th**2
    lw -= logsumexp(lw)

    def ll(v: np.ndarray) -> float:
        p = ItemParameters("2pl", a=v[:5], d=v[5:])
        lp = log_category_probabilities(th, p)
        L = pat @ lp[:, :, 1].T + (1 - pat) @ lp[:, :, 0].T + lw
        return float(w @ logsumexp(L, axis=1))

    v0 = np.concatenate([res.a, res.d[:, 0]])
    h, P = 1e-4, 10
    E = np.eye(P) * h
    H = np.array(
        [[(ll(v0 + E[i] + E[j]) - ll(v0 + E[i] - E[j]) - ll(v0 - E[i] + E[j]) + ll(v0 - E[i] - E[j])) / (4 * h * h)
          for j in range(P)] for i in range(P)]
    )
    se_num = np.sqrt(np.diag(np.linalg.inv(-H)))
    np.testing.assert_allclose(np.concatenate([res.se_a, res.se_d[:, 0]]), se_num, rtol=2e-3)
    xpd = calibrate(lsat7, "2pl", se="xpd")
    np.testing.assert_allclose(xpd.se_a, res.se_a, rtol=0.05)  # asymptotically equivalent
    assert res.se_method == "louis" and xpd.se_method == "xpd"


def test_lsat7_se_vs_pypi_mirt(lsat7: np.ndarray) -> None:
    mirt = pytest.importorskip("mirt")
    res = calibrate(lsat7, "2pl")
    try:
        fit = mirt.fit_mirt(lsat7.astype(int), model="2PL", verbose=False)
        se = fit.standard_errors
    except Exception as exc:  # pragma: no cover - depends on the reference package's API
        pytest.skip(f"PyPI mirt API not usable here: {exc}")
    a_se = np.asarray(se["discrimination"]).ravel()
    np.testing.assert_allclose(res.se_a, a_se, rtol=0.03)  # mirt 1.2.0: 0.1775 0.1689 0.3183 0.1343 0.1512


def test_3pl_se_includes_beta_prior_curvature() -> None:
    """3PL SEs = inverse negative Hessian of loglik + log Beta(c) prior, the objective the M-step maximises."""
    from scipy.special import logsumexp

    from scoring import ItemParameters
    from scoring.models import log_category_probabilities

    from .conftest import simulate

    rng = np.random.default_rng(31)
    truth = ItemParameters("3pl", [1.6, 1.2, 2.0, 1.4, 1.0], [0.5, -0.3, -1.0, 0.2, 1.0], c=[0.2, 0.15, 0.25, 0.2, 0.1])
    X = simulate(truth, rng.normal(size=2000), rng)
    res = calibrate(X, "3pl", prior_c=(5.0, 17.0), tol=1e-6)
    assert res.parameter_names[:3] == ("a[item1]", "d[item1]", "c[item1]")
    pat, w = np.unique(X, axis=0, return_counts=True)
    th = res.quadrature
    lw = -0.5 * th**2
    lw -= logsumexp(lw)

    def penalised(v: np.ndarray) -> float:
        a, d, c = v[0::3], v[1::3], v[2::3]
        lp = log_category_probabilities(th, ItemParameters("3pl", a, d, c=c))
        L = pat @ lp[:, :, 1].T + (1 - pat) @ lp[:, :, 0].T + lw
        return float(w @ logsumexp(L, axis=1) + np.sum(4 * np.log(c) + 16 * np.log1p(-c)))

    v0 = np.column_stack([res.a, res.d[:, 0], res.c]).ravel()
    h, P = 1e-4, v0.size
    E = np.eye(P) * h
    H = np.array(
        [[(penalised(v0 + E[i] + E[j]) - penalised(v0 + E[i] - E[j]) - penalised(v0 - E[i] + E[j])
           + penalised(v0 - E[i] - E[j])) / (4 * h * h) for j in range(P)] for i in range(P)]
    )
    se_num = np.sqrt(np.diag(np.linalg.inv(-H)))
    se = np.column_stack([res.se_a, res.se_d[:, 0], res.se_c]).ravel()
    np.testing.assert_allclose(se, se_num, rtol=2e-3)


@pytest.fixture(scope="module")
def guessing_data() -> np.ndarray:
    """15 3PL items with true c = 0.2, 3000 persons."""
    from scoring import ItemParameters

    from .conftest import simulate

    rng = np.random.default_rng(12)
    truth = ItemParameters("3pl", rng.uniform(1.0, 2.0, 15), rng.uniform(-1.5, 1.0, 15), c=np.full(15, 0.2))
    return simulate(truth, rng.normal(size=3000), rng)


def _fit_3pl(X: np.ndarray, prior_c: tuple[float, float]) -> Calibration:
    """calibrate(..., "3pl", prior_c=...); a shape of 1 may leave an item's c at 0 with its own warning."""
    import warnings

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        res = calibrate(X, "3pl", prior_c=prior_c, se=False)
    assert all(issubclass(w.category, ConvergenceWarning) and "lower asymptote at the edge" in str(w.message)
               for w in caught), [str(w.message) for w in caught]
    return res


@pytest.mark.parametrize("prior_c", [(1.0, 1.0), (1.0, 4.0), (4.0, 1.0)])
def test_3pl_prior_c_with_a_shape_of_one(guessing_data: np.ndarray, prior_c: tuple[float, float]) -> None:
    """Issue 12.6: c started at the prior's mode, which is 0, 1 or undefined (flat) when a shape is 1.

    (1, 1) raised ZeroDivisionError, (1, 4) left every c at exactly 0 with converged=True, (4, 1)
    failed with "c must lie in [0, 1)".
    """
    res = _fit_3pl(guessing_data, prior_c)
    al, be = prior_c
    assert res.converged and np.all((res.c > 0) & (res.c < 1))
    assert res.c.max() > 0.1 and np.median(res.c) > 0.05  # true c = 0.2: the guessing is found
    penalised = res.loglik + float(np.sum((al - 1) * np.log(res.c) + (be - 1) * np.log1p(-res.c)))
    if al == 1:
        # the penalised likelihood the M-step maximises beats anything with every c = 0 (the 2PL fit is the
        # best of those; the old start at 0 never left it). With alpha > 1 the prior rules c = 0 out anyway.
        assert penalised >= calibrate(guessing_data, "2pl", se=False).loglik + 10
    if prior_c == (1.0, 4.0):  # as with a prior barely off the edge, which never had the problem
        near = calibrate(guessing_data, "3pl", prior_c=(1.0001, 4.0), se=False)
        assert penalised >= near.loglik + float(np.sum(3 * np.log1p(-near.c))) - 0.5


@pytest.mark.parametrize("prior_c", [(0.5, 2.0), (2.0, 0.0), (1.0, float("nan")), (1.0, 2.0, 3.0), ("a", 1), 5.0])
def test_3pl_prior_c_shapes_are_validated(prior_c: object) -> None:
    with pytest.raises(ScoringInputError, match=r"prior_c: expected the shapes \(alpha, beta\) of the Beta prior.*"
                                                r"two finite numbers >= 1.*found"):
        calibrate(_THREE, "3pl", prior_c=prior_c)  # type: ignore[arg-type]


def test_persons_without_responses_are_ignored(lsat7: np.ndarray) -> None:
    X = np.vstack([lsat7, np.full((7, 5), np.nan)])
    r1 = calibrate(lsat7, se=False)
    r2 = calibrate(X, se=False)
    np.testing.assert_allclose(r1.a, r2.a, atol=1e-10)
    assert r2.n_persons == 1000


def test_missing_cells_contribute_nothing(lsat7: np.ndarray) -> None:
    """A person answering only items 1-2 contributes exactly the marginal of those items."""
    rng = np.random.default_rng(3)
    X = lsat7.copy()
    X[rng.random(X.shape) < 0.2] = np.nan
    res = calibrate(X, se=False)
    # the log-likelihood equals the sum over persons of the observed-items marginal
    from scipy.special import logsumexp

    from scoring.models import log_category_probabilities

    lp = log_category_probabilities(res.quadrature, res.params)  # (Q, J, 2)
    lw = -0.5 * res.quadrature**2
    lw -= logsumexp(lw)
    obs = ~np.isnan(X)
    x = np.nan_to_num(X)
    L = (x * obs) @ lp[:, :, 1].T + ((1 - x) * obs) @ lp[:, :, 0].T + lw
    assert abs(logsumexp(L, axis=1).sum() - res.loglik) < 1e-6


@pytest.mark.parametrize(
    "X, kwargs, match",
    [
        (np.zeros((5,)), {}, "2-D"),
        (np.array([[0, 1], [1, 2.0]]), {}, r"categories 0..1; found 2 at row 1"),
        (np.array([[0, 1], [1, 0.5]]), {}, r"found 0.5 at row 1, column 1"),
        (np.array([[0, 1], [-1, 0.0]]), {}, r"row 1, column 0"),
        (np.array([[1, 1], [1, 0.0], [1, 1]]), {}, "no variance"),
        (np.array([[0, 1], [1, 0.0]]), {"groups": [1, 2, 3]}, r"groups: expected one label per person, shape \(2,\)"),
        (np.array([[0, 1], [1, 0.0]]), {"model": "4pl"}, "expected one of"),
        (np.array([[0, 1], [1, 0.0]]), {"model": ["2pl"]}, "one model name per item"),
        (np.array([[0, 2], [1, 0.0], [1, 0]]), {"model": "gpcm"}, "never uses category 1"),
        (np.array([[0, 1], [1, 0.0]]), {"item_names": ["x"]}, "item_names"),
        (np.array([[0, 1], [1, 0.0]]), {"fixed": {"zz": {"a": 1, "d": 0}}}, "'zz' is not one of"),
        (np.array([[0, 1], [1, 0.0]]), {"groups": [1, 1], "reference_group": 5}, "reference_group"),
        (np.array([["a", 1], [1, 0]]), {}, "numeric"),
    ],
)
def test_bad_input_raises(X: np.ndarray, kwargs: dict, match: str) -> None:
    with pytest.raises(ScoringInputError, match=match):
        calibrate(X, **kwargs)


_THREE = np.array([[0, 1, 1], [1, 0, 1], [1, 1, 0], [0, 0, 1], [1, 1, 1], [0, 0, 0]], dtype=float)


@pytest.mark.parametrize(
    "spec, match",
    [
        ({"a": float("nan"), "d": 0.0}, r"item 'item1' \(2pl\), parameter 'a': expected a finite slope; found nan"),
        ({"a": 1.0, "d": float("inf")}, r"item 'item1' \(2pl\), parameter 'd': expected finite intercept\(s\); found \[inf\]"),
        ({"a": 1.0, "d": [0.0, 1.0]}, r"parameter 'd': expected one intercept for a dichotomous item"),
        ({"a": 1.0, "d": 0.0, "c": 1.5, "model": "3pl"}, r"item 'item1' \(3pl\), parameter 'c': expected a lower asymptote in \[0, 1\); found 1.5"),
        ({"a": 1.0, "d": 0.0, "c": 0.2}, r"item 'item1' \(2pl\), parameter 'c': expected 0 \(only 3pl"),
        ({"a": 1.0, "d": [-1.0, 1.0], "model": "grm"}, r"item 'item1' \(grm\), parameter 'd': expected strictly decreasing"),
        ({"a": "x", "d": 0.0}, r"item 'item1': expected numbers for 'a', 'd' and 'c'"),
    ],
)
def test_bad_fixed_anchor_values_rejected_before_em(spec: dict, match: str) -> None:
    # regression: invalid anchors ran max_iter EM iterations (with warnings) before failing
    X = _THREE.copy()
    if spec.get("model") == "grm":
        X[:, 0] = [0, 1, 2, 2, 1, 0]
    calls: list[int] = []
    with pytest.raises(ScoringInputError, match=match):
        calibrate(X, "2pl", fixed={0: spec}, progress=lambda i, ll, ch: calls.append(i))
    assert calls == []


def test_unidentified_calibrations_are_refused() -> None:
    # regression: these returned converged=True with arbitrary values (start a = 1, SE 73; latent SD SE 8.4)
    rng = np.random.default_rng(5)
    from scoring import ItemParameters

    from .conftest import simulate

    truth = ItemParameters("2pl", [1.2, 0.8, 1.5, 1.0, 1.3, 0.9], [0.3, -0.5, 0.0, 0.8, -0.2, 0.4])
    X = simulate(truth, rng.normal(0.3, 1.2, size=1500), rng)
    with pytest.raises(ScoringInputError, match=r"estimate_latent: True needs fixed anchor items"):
        calibrate(X, "2pl", estimate_latent=True)
    with pytest.raises(ScoringInputError, match=r"estimate_latent: True needs fixed anchor items"):
        calibrate(X, "rasch", estimate_latent=True)
    with pytest.raises(ScoringInputError, match=r"not identified: 2 free parameters .* only 1 degrees of freedom"):
        calibrate(X[:, :1], "2pl")
    with pytest.raises(ScoringInputError, match=r"not identified: 4 free parameters .* only 3 degrees of freedom"):
        calibrate(X[:, :2], "2pl")
    with pytest.raises(ScoringInputError, match=r"not identified: 4 free parameters"):
        calibrate(X[:, :2], "3pl")  # c is identified by its prior, a and d are not
    # one free item with an anchor: the anchor frees the latent mean and SD -> 4 parameters, 3 df
    with pytest.raises(ScoringInputError, match=r"not identified: 4 free parameters"):
        calibrate(X[:, :2], "2pl", fixed={0: {"a": 1.2, "d": 0.3}})
    # identified: three 2PL items; two 1PL/Rasch items (just identified); anchors with estimate_latent
    assert calibrate(X[:, :3], "2pl", se=False).n_parameters == 6
    assert calibrate(X[:, :2], "1pl", se=False).n_parameters == 3
    assert calibrate(X[:, :2], "rasch", se=False).n_parameters == 3
    res = calibrate(X, "2pl", fixed={0: {"a": 1.2, "d": 0.3}}, estimate_latent=True, se=False)
    assert res.n_parameters == 12
    assert abs(res.group_means[0] - 0.3) < 0.2 and abs(res.group_sds[0] - 1.2) < 0.2


def test_estimate_at_parameter_bound_warns_naming_item() -> None:
    # regression: a perfectly separating item ended at a = 49.99999 (the internal cap) with no warning
    from scoring import ItemParameters

    from .conftest import simulate

    rng = np.random.default_rng(6)
    theta = rng.normal(size=1500)
    X = simulate(ItemParameters("2pl", [1.2, 0.8, 1.5, 1.0, 1.3], [0.3, -0.5, 0.0, 0.8, -0.2]), theta, rng)
    X[:, 2] = theta > 0.1  # Guttman item
    with pytest.warns(ConvergenceWarning, match=r"bound of the parameter space for item 'item3' a = 50 \(") as rec:
        res = calibrate(X, "2pl", se=False)
    assert len(rec) == 1 and "item1" not in str(rec[0].message)
    assert res.a[2] > 49.5


def test_non_convergence_warns(lsat7: np.ndarray) -> None:
    with pytest.warns(ConvergenceWarning, match="did not converge"):
        res = calibrate(lsat7, max_iter=2, se=False)
    assert not res.converged
    assert res.n_iter == 2


def test_progress_callback(lsat7: np.ndarray) -> None:
    calls: list[tuple[int, float, float]] = []
    res = calibrate(lsat7, se=False, progress=lambda i, ll, ch: calls.append((i, ll, ch)))
    assert len(calls) == res.n_iter
    assert [c[0] for c in calls] == list(range(1, res.n_iter + 1))


def test_result_is_frozen(lsat7: np.ndarray) -> None:
    res = calibrate(lsat7, se=False)
    with pytest.raises(AttributeError):
        res.loglik = 0.0  # type: ignore[misc]
    assert res.item_names == ("item1", "item2", "item3", "item4", "item5")
    assert np.all(np.isnan(res.se_a))
