"""GDRegressor's behaviour beyond scikit-learn's generic checks."""

import pickle
import threading
import time

import numpy as np
import pytest

from steepest import DivergenceError, GDRegressor


def problem(n=500, d=6, seed=0, noise=0.1):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d))
    w = rng.normal(size=d)
    return X, X @ w + 1.5 + noise * rng.normal(size=n)


def test_default_fit_reaches_the_least_squares_solution():
    X, y = problem()
    est = GDRegressor().fit(X, y)
    A = np.hstack([X, np.ones((len(X), 1))])
    exact, *_ = np.linalg.lstsq(A, y, rcond=None)
    # Full-batch gd at lr = 1/L on data of condition number ~2 contracts by a factor ~2 per
    # epoch: 1000 epochs reach float64 rounding of the solution.
    np.testing.assert_allclose(est.coef_, exact[:-1], rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(est.intercept_, exact[-1], rtol=1e-12)
    assert est.n_iter_ == 1000 and len(est.loss_curve_) == 1000
    assert est.stop_reason_ == "max_epochs" and est.backend_ in ("cpu", "cuda")


def test_pickle_round_trip_predicts_the_same_bits():
    X, y = problem()
    est = GDRegressor(max_iter=50).fit(X, y)
    back = pickle.loads(pickle.dumps(est))
    np.testing.assert_array_equal(back.predict(X), est.predict(X))
    np.testing.assert_array_equal(back.coef_, est.coef_)
    np.testing.assert_array_equal(back.loss_curve_, est.loss_curve_)
    assert back.intercept_ == est.intercept_ and back.get_params() == est.get_params()


@pytest.mark.parametrize("learning_rate", ["auto", 0.05])
def test_partial_fit_calls_continue_bit_for_bit(learning_rate):
    X, y = problem()
    params = dict(learning_rate=learning_rate, solver="residual")
    whole = GDRegressor(max_iter=7, **params).fit(X, y)
    steps = GDRegressor(**params)
    for _ in range(7):
        steps.partial_fit(X, y)
    np.testing.assert_array_equal(steps.coef_, whole.coef_)
    assert steps.intercept_ == whole.intercept_ and steps.n_iter_ == 7
    np.testing.assert_array_equal(steps.loss_curve_, whole.loss_curve_)
    # fit then partial_fit goes on from fit's parameters
    later = GDRegressor(max_iter=4, **params).fit(X, y)
    for _ in range(3):
        later.partial_fit(X, y)
    np.testing.assert_array_equal(later.coef_, whole.coef_)


def test_partial_fit_refuses_another_number_of_features():
    X, y = problem()
    est = GDRegressor().partial_fit(X, y)
    with pytest.raises(ValueError, match="features"):
        est.partial_fit(X[:, :-1], y)


def test_divergence_raises_and_keeps_the_previous_state():
    X, y = problem()
    est = GDRegressor(max_iter=20).fit(X, y)
    coef = est.coef_.copy()
    est.set_params(learning_rate=50.0, max_iter=200)
    with pytest.raises(DivergenceError, match="stable"):
        est.fit(X, y)
    np.testing.assert_array_equal(est.coef_, coef)


def test_integer_sample_weights_match_repeated_rows():
    X, y = problem(n=60)
    counts = np.random.default_rng(1).integers(0, 4, size=len(X))
    counts[0] = 1
    weighted = GDRegressor(max_iter=300).fit(X, y, sample_weight=counts)
    repeated = GDRegressor(max_iter=300).fit(np.repeat(X, counts, axis=0), np.repeat(y, counts))
    # The same iterates up to the rounding of the sums (different row sets, one weighted).
    np.testing.assert_allclose(weighted.coef_, repeated.coef_, rtol=1e-12, atol=1e-13)
    unweighted = GDRegressor(max_iter=300).fit(X, y)
    assert not np.allclose(weighted.coef_, unweighted.coef_, rtol=1e-6)


def test_fortran_order_and_float32_give_the_same_model():
    X, y = problem()
    c = GDRegressor(max_iter=40).fit(X, y)
    f = GDRegressor(max_iter=40).fit(np.asfortranarray(X), y)
    # Column-major data is summed in another order: equal up to float64 rounding.
    np.testing.assert_allclose(f.coef_, c.coef_, rtol=1e-13, atol=1e-15)
    s = GDRegressor(max_iter=40).fit(X.astype(np.float32), y)
    exact32 = GDRegressor(max_iter=40).fit(X.astype(np.float32).astype(np.float64), y)
    # float32 storage, float64 arithmetic: the fit of the float32 values themselves.
    np.testing.assert_allclose(s.coef_, exact32.coef_, rtol=1e-13, atol=1e-15)


def test_the_gil_is_released_during_the_fit():
    X, y = problem(n=20_000, d=16)
    est = GDRegressor(learning_rate=1e-4, max_iter=6000, solver="residual", threads=1)
    worker = threading.Thread(target=est.fit, args=(X, y))
    stamps = [time.monotonic()]
    worker.start()
    while worker.is_alive():
        stamps.append(time.monotonic())
    duration = stamps[-1] - stamps[0]
    largest_gap = float(np.max(np.diff(stamps)))
    # Holding the GIL would stop this loop for the whole fit: one gap of about `duration`.
    assert duration > 0.3, f"the fit took {duration:.3f} s, too short to tell"
    assert largest_gap < duration / 4, (largest_gap, duration)
    assert est.n_iter_ == 6000


def test_device_cuda_runs_on_a_gpu_or_says_why_not():
    import steepest

    X, y = problem()
    est = GDRegressor(max_iter=20, device="cuda")
    if steepest.build_info()["cuda_devices"] == 0:
        with pytest.raises(steepest.DeviceUnavailable):
            est.fit(X, y)
        assert not hasattr(est, "coef_")
    else:
        assert est.fit(X, y).backend_ == "cuda"


@pytest.mark.parametrize(
    "params, message",
    [
        (dict(optimizer="sgd"), "optimizer: 'sgd' is not one of gd, momentum"),
        (dict(schedule="cosine"), "schedule: 'cosine' is not one of constant"),
        (dict(learning_rate="fast"), "learning_rate must be a float or 'auto'"),
        (dict(learning_rate=-1.0), "learning rate must be a finite number > 0, got -1"),
        (dict(momentum=1.5, optimizer="momentum"), "momentum"),
        (dict(random_state=-3), "random_state must be >= 0"),
        (dict(shuffle_block=0, batch_size=10), "shuffle_block"),
    ],
)
def test_bad_parameters_are_refused_at_fit_naming_them(params, message):
    X, y = problem()
    with pytest.raises(ValueError, match=message):
        GDRegressor(**params).fit(X, y)
