"""steepest.GDRegressor: the library's fit as a scikit-learn estimator."""

from __future__ import annotations

import numbers
import threading
import warnings

import numpy as np
from numpy.typing import ArrayLike
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils import check_random_state
from sklearn.utils.validation import _check_sample_weight, check_is_fitted, validate_data

from . import _core

_FLOATS = (np.float64, np.float32)


class DivergenceError(RuntimeError):
    """The loss or a parameter became non-finite, or the loss grew past 1e8 times its start.

    The message states the optimizer's largest stable step where it is known.  The
    estimator keeps the state it had before the call.
    """


def _viewable(a: np.ndarray) -> bool:
    """Whether the library reads ``a`` in place: native float32/float64, aligned, strides a
    whole number of elements, and (2-D) rows or columns at unit stride."""
    if a.dtype not in _FLOATS or not a.dtype.isnative or not a.flags.aligned:
        return False
    item = a.itemsize
    if any(s % item for s in a.strides):
        return False
    steps = [s // item for s in a.strides]
    if a.ndim == 1:
        return a.shape[0] <= 1 or steps[0] >= 1
    (n, d), (s0, s1) = a.shape, steps
    rows = (s1 == 1 or d == 1) and (n == 1 or s0 >= d)
    cols = (s0 == 1 or n == 1) and (d == 1 or s1 >= n)
    return rows or cols


def _as_view(a: np.ndarray) -> np.ndarray:
    """``a`` itself when the library can read it in place, else a contiguous float copy."""
    if _viewable(a):
        return a
    dtype = np.float32 if a.dtype == np.float32 else np.float64
    return np.ascontiguousarray(a, dtype=dtype)


class GDRegressor(RegressorMixin, BaseEstimator):
    """Linear regression by gradient descent on MSE = (1/n) sum_i (x_i . w + b - y_i)^2.

    The parameters are those of ``steepest fit`` (README.md, "Training options"):

    learning_rate : float or "auto", default="auto"
        Step size; "auto" is 1/L with L the objective's largest curvature (full batch), or
        1/L_B for batches of B rows: gradient descent with it does not diverge.
    max_iter : int, default=1000
        Maximum number of epochs (passes over the data).
    optimizer : {"gd", "momentum", "nesterov", "adam", "auto"}, default="gd"
    momentum : float or "auto", default=0.9
        momentum and nesterov coefficient in [0, 1); "auto" takes rate and momentum from
        the Hessian's extreme eigenvalues.
    schedule : {"constant", "invscaling", "exponential", "step", "adaptive"}, default="constant"
    power_t, decay, step_epochs, n_iter_no_change : schedule and early-stopping parameters
    l2, l1 : float, default=0.0
        Penalties: the objective becomes MSE + l2 |w|^2 + l1 |w|_1 (bias not penalised).
    batch_size : int or None, default=None
        Rows per mini-batch; None is full batch.
    shuffle : bool, default=True
        Mini-batch only: a new row order every epoch.
    shuffle_block : int, default=1
        Mini-batch only: shuffle runs of this many consecutive rows instead of single rows
        (``steepest fit --shuffle-block``).  With batch_size a multiple of it and no
        validation_fraction, every batch is whole runs: the CPU reads them in order, and
        solver "auto" (epochs > features) keeps each run's Gram sums, so an epoch costs
        O(d^2) a batch instead of a pass over its rows (README, "Mini-batch Gram mode").
    random_state : int, RandomState or None, default=None
        Seed of the mini-batch row order: an int is the library's seed itself (as
        ``steepest fit --seed``); None or a RandomState draws one.
    tol : float, default=0.0
        Early stopping: stop when n_iter_no_change epochs in a row fail to lower the best
        loss by more than tol x best; 0 is off.
    validation_fraction : float, default=0.0
        Rows held out (never trained on); their MSE is what tol watches.
    standardize : bool, default=False
        Fit on standardised features and report the model in original units.
    fit_intercept : bool, default=True
    solver : {"auto", "residual", "gram"}, default="auto"
        gram: one pass for the Gram sums, then O(d^2) an epoch; with batch_size, each
        epoch's batch sums and O(d^2) a step (see README, "Gram mode").
    device : {"auto", "cpu", "cuda"}, default="auto"
    threads : int or None, default=None
        CPU threads (None: the OpenMP default); never changes a bit of the result.

    Attributes
    ----------
    coef_ : ndarray of shape (n_features,)
    intercept_ : float
    n_iter_ : int
        Epochs run (summed over partial_fit calls).
    loss_curve_ : ndarray of shape (n_iter_,)
        The training objective after each epoch.
    stop_reason_ : str
        "max_epochs", "converged", "interrupted" (Ctrl-C) or "ill_conditioned".
    learning_rate_ : float
        The initial rate used (the estimate under "auto").
    backend_ : str
        "cpu" or "cuda".
    n_features_in_, feature_names_in_ : as in scikit-learn.

    Ctrl-C during fit (in the main thread) stops the fit after its current step; the
    estimator then holds the parameters reached (stop_reason_ "interrupted", n_iter_ the
    epochs completed) and KeyboardInterrupt is raised.
    """

    def __init__(
        self,
        learning_rate="auto",
        max_iter=1000,
        *,
        optimizer="gd",
        momentum=0.9,
        schedule="constant",
        power_t=0.25,
        decay=0.5,
        step_epochs=10,
        n_iter_no_change=5,
        l2=0.0,
        l1=0.0,
        batch_size=None,
        shuffle=True,
        shuffle_block=1,
        random_state=None,
        tol=0.0,
        validation_fraction=0.0,
        standardize=False,
        fit_intercept=True,
        solver="auto",
        device="auto",
        threads=None,
    ) -> None:
        self.learning_rate = learning_rate
        self.max_iter = max_iter
        self.optimizer = optimizer
        self.momentum = momentum
        self.schedule = schedule
        self.power_t = power_t
        self.decay = decay
        self.step_epochs = step_epochs
        self.n_iter_no_change = n_iter_no_change
        self.l2 = l2
        self.l1 = l1
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.shuffle_block = shuffle_block
        self.random_state = random_state
        self.tol = tol
        self.validation_fraction = validation_fraction
        self.standardize = standardize
        self.fit_intercept = fit_intercept
        self.solver = solver
        self.device = device
        self.threads = threads

    # --- scikit-learn API -------------------------------------------------------------------
    def fit(self, X: ArrayLike, y: ArrayLike, sample_weight: ArrayLike | None = None) -> GDRegressor:
        """Fit from zeros for max_iter epochs (fewer when tol stops it)."""
        X, y, sw = self._validate_fit(X, y, sample_weight, reset=True)
        result = self._run(X, y, sw, self._options(self.max_iter, self._seed(), [], 0.0))
        self._store(result, append=False)
        return self._finish(result)

    def partial_fit(self, X: ArrayLike, y: ArrayLike, sample_weight: ArrayLike | None = None) -> GDRegressor:
        """One epoch on (X, y) from the current parameters (zeros on the first call).

        Full-batch gradient descent: k calls on the same data give the bits of
        fit(max_iter=k).  Call k uses the seed plus the epochs run so far, so mini-batches
        are ordered differently on each call.
        """
        first = not hasattr(self, "coef_")
        X, y, sw = self._validate_fit(X, y, sample_weight, reset=first)
        if first:
            weights, bias, seed = [], 0.0, self._seed()
        else:
            weights, bias = self.coef_.tolist(), self.intercept_
            seed = (self._seed() + self.n_iter_) % 2**64
        result = self._run(X, y, sw, self._options(1, seed, weights, bias))
        self._store(result, append=not first)
        return self._finish(result)

    def predict(self, X: ArrayLike) -> np.ndarray:
        """x . coef_ + intercept_ for every row of X (float64)."""
        check_is_fitted(self)
        X = _as_view(validate_data(self, X, reset=False, dtype=_FLOATS))
        out = np.empty(X.shape[0], dtype=np.float64)
        _core.predict(X, self.coef_.tolist(), float(self.intercept_), out)
        return out

    # --- helpers ----------------------------------------------------------------------------
    def _validate_fit(self, X, y, sample_weight, reset):
        X, y = validate_data(self, X, y, reset=reset, dtype=_FLOATS, y_numeric=True)
        if y.dtype not in _FLOATS or not y.dtype.isnative:
            y = y.astype(np.float64)
        sw = None
        if sample_weight is not None:
            sw = _check_sample_weight(sample_weight, X, dtype=np.float64, ensure_non_negative=True)
            sw = _as_view(sw)
        return _as_view(X), _as_view(y), sw

    def _seed(self) -> int:
        rs = self.random_state
        if isinstance(rs, numbers.Integral) and not isinstance(rs, bool):
            if rs < 0:
                raise ValueError(f"random_state must be >= 0 as a seed, got {rs}")
            return int(rs) % 2**64
        return int(check_random_state(rs).randint(0, 2**63 - 1, dtype=np.int64))

    def _options(self, epochs, seed, weights, bias) -> _core.FitOptions:
        o = _core.FitOptions()
        if isinstance(self.learning_rate, str):
            if self.learning_rate != "auto":
                raise ValueError(f"learning_rate must be a float or 'auto', got {self.learning_rate!r}")
            o.auto_learning_rate = True
        else:
            o.learning_rate = float(self.learning_rate)
        if isinstance(self.momentum, str):
            if self.momentum != "auto":
                raise ValueError(f"momentum must be a float or 'auto', got {self.momentum!r}")
            o.auto_momentum = True
        else:
            o.momentum = float(self.momentum)
        o.optimizer, o.schedule = self.optimizer, self.schedule
        o.solver, o.device = self.solver, self.device
        o.power_t, o.decay = float(self.power_t), float(self.decay)
        o.step_epochs, o.n_iter_no_change = int(self.step_epochs), int(self.n_iter_no_change)
        o.l2, o.l1 = float(self.l2), float(self.l1)
        o.epochs = int(epochs)
        o.batch_size = 0 if self.batch_size is None else int(self.batch_size)
        o.seed, o.shuffle, o.tol = seed, bool(self.shuffle), float(self.tol)
        o.shuffle_block = int(self.shuffle_block)
        o.validation_fraction = float(self.validation_fraction)
        o.standardize, o.fit_intercept = bool(self.standardize), bool(self.fit_intercept)
        o.threads = 0 if self.threads is None else int(self.threads)
        o.init_weights, o.init_bias = weights, float(bias)
        return o

    def _run(self, X, y, sw, options) -> _core.FitResult:
        in_main = threading.current_thread() is threading.main_thread()
        try:
            result = _core.fit(X, y, sw, options, in_main)
        except BaseException:
            _core.deliver_interrupt()  # a Ctrl-C during a fit that failed is not lost
            raise
        if result.stop_reason == "diverged":
            _core.deliver_interrupt()
            raise DivergenceError(result.message)
        return result

    def _store(self, result, append):
        curve = np.asarray(result.loss_history[1:], dtype=np.float64)
        if append:
            self.loss_curve_ = np.concatenate([self.loss_curve_, curve])
            self.n_iter_ += int(result.epochs_run)
        else:
            self.loss_curve_ = curve
            self.n_iter_ = int(result.epochs_run)
        self.coef_ = np.asarray(result.weights, dtype=np.float64)
        self.intercept_ = float(result.bias)
        self.stop_reason_ = result.stop_reason
        self.learning_rate_ = float(result.learning_rate)
        self.backend_ = result.backend

    def _finish(self, result):
        # A SIGINT during the fit (stop_reason "interrupted", or one that came after the
        # fit's last step): Python's SIGINT handler runs now, KeyboardInterrupt by default.
        _core.deliver_interrupt()
        if result.stop_reason == "ill_conditioned":
            warnings.warn(result.message, ConvergenceWarning, stacklevel=3)
        elif result.stop_reason == "max_epochs" and self.tol > 0:
            warnings.warn(
                f"GDRegressor did not converge within {result.epochs_run} epochs (tol={self.tol}); "
                "raise max_iter or learning_rate",
                ConvergenceWarning,
                stacklevel=3,
            )
        return self
