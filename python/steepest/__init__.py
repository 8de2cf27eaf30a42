"""steepest: linear regression by gradient descent on the mean squared error.

``GDRegressor`` is a scikit-learn estimator over steepest's C++ library (CPU, and CUDA when
the extension was built with it).  NumPy arrays of float32 or float64 reach the library
without a copy, in C or Fortran order or as strided views.
"""

from ._core import CudaError, DeviceUnavailable, FitOptions, FitResult, InvalidArgument, build_info
from ._estimator import DivergenceError, GDRegressor

__version__ = "0.1.0"

__all__ = [
    "GDRegressor",
    "DivergenceError",
    "InvalidArgument",
    "DeviceUnavailable",
    "CudaError",
    "FitOptions",
    "FitResult",
    "build_info",
    "__version__",
]
