"""Run by test_interrupt.py in a fresh process: SIGINT to itself during long fits.

Prints one JSON object with what it saw.
"""

import json
import os
import signal
import sys
import threading
import time

import numpy as np

import steepest


def sigint_later(seconds: float) -> threading.Timer:
    timer = threading.Timer(seconds, os.kill, (os.getpid(), signal.SIGINT))
    timer.start()
    return timer


def long_fit(est, X, y):
    """Fits and returns (how it ended, seconds)."""
    start = time.monotonic()
    try:
        est.fit(X, y)
        ended = "returned"
    except KeyboardInterrupt:
        ended = "KeyboardInterrupt"
    return ended, time.monotonic() - start


def main() -> None:
    rng = np.random.default_rng(3)
    X = rng.normal(size=(20_000, 16))
    y = X @ rng.normal(size=16) + 1.0
    report = {}
    # 1. Python's default handler: KeyboardInterrupt, with the estimator holding the
    #    parameters reached.  1e9 epochs would take days.
    est = steepest.GDRegressor(learning_rate=1e-4, max_iter=10**9, solver="residual")
    sigint_later(0.5)
    report["ended"], report["seconds"] = long_fit(est, X, y)
    report["stop_reason"] = est.stop_reason_
    report["n_iter"] = est.n_iter_
    report["curve_len"] = len(est.loss_curve_)
    report["finite"] = bool(np.all(np.isfinite(est.coef_)) and np.isfinite(est.intercept_))
    report["loss_fell"] = bool(est.loss_curve_[-1] < est.loss_curve_[0])
    report["mse"] = float(np.mean((est.predict(X) - y) ** 2))
    report["mse_initial"] = float(np.mean(y**2))
    report["handler_restored"] = signal.getsignal(signal.SIGINT) is signal.default_int_handler
    # 2. A handler of the program's own that does not raise: it runs once, the fit returns.
    calls = []
    signal.signal(signal.SIGINT, lambda signum, frame: calls.append(signum))
    est2 = steepest.GDRegressor(learning_rate=1e-4, max_iter=10**9, solver="residual")
    sigint_later(0.3)
    report["custom_ended"], _ = long_fit(est2, X, y)
    report["custom_calls"] = len(calls)
    report["custom_stop_reason"] = est2.stop_reason_
    # 3. The estimator goes on from where it stopped.
    before = est.n_iter_
    est.partial_fit(X, y)
    report["continued"] = est.n_iter_ == before + 1
    print(json.dumps(report))


if __name__ == "__main__":
    main()
    sys.exit(0)
