"""steepest from Python: fit a linear model by gradient descent, as a scikit-learn estimator.

    pip install ./python && python examples/python_example.py
"""

import numpy as np

from steepest import GDRegressor

rng = np.random.default_rng(0)
X = rng.normal(size=(100_000, 4))  # float64, C order: passed to the library without a copy
y = X @ np.array([1.5, -2.0, 0.5, 3.0]) + 4.0 + 0.1 * rng.normal(size=len(X))

model = GDRegressor(learning_rate="auto", max_iter=200).fit(X, y)
print("weights  ", np.round(model.coef_, 3))
print("intercept", round(model.intercept_, 3))
print(f"R^2 {model.score(X, y):.4f} after {model.n_iter_} epochs on {model.backend_}; "
      f"MSE {model.loss_curve_[0]:.4g} after the first epoch, {model.loss_curve_[-1]:.4g} after the last")
