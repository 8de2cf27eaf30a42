"""Type stubs of the extension module steepest._core (python/src/*.cpp)."""

from typing import Any, Optional

import numpy as np
import numpy.typing as npt

class InvalidArgument(ValueError): ...
class DeviceUnavailable(RuntimeError): ...
class CudaError(RuntimeError): ...

class FitOptions:
    """steepest::FitOptions; the enumerations as the CLI's lower-case names."""

    learning_rate: float
    auto_learning_rate: bool
    standardize: bool
    momentum: float
    auto_momentum: bool
    beta1: float
    beta2: float
    epsilon: float
    l2: float
    l1: float
    power_t: float
    decay: float
    step_epochs: int
    n_iter_no_change: int
    epochs: int
    batch_size: int
    seed: int
    shuffle: bool
    tol: float
    validation_fraction: float
    init_weights: list[float]
    init_bias: float
    fit_intercept: bool
    threads: int
    optimizer: str  # "gd", "momentum", "nesterov", "adam", "auto"
    schedule: str  # "constant", "invscaling", "exponential", "step", "adaptive"
    device: str  # "auto", "cpu", "cuda"
    solver: str  # "auto", "residual", "gram"
    history_mode: str  # "exact", "running"
    def __init__(self) -> None: ...

class FitResult:
    """steepest::FitResult (read-only)."""

    @property
    def weights(self) -> list[float]: ...
    @property
    def bias(self) -> float: ...
    @property
    def epochs_run(self) -> int: ...
    @property
    def steps_into_epoch(self) -> int: ...
    @property
    def stop_reason(self) -> str: ...
    @property
    def loss_history(self) -> list[float]: ...
    @property
    def final_mse(self) -> float: ...
    @property
    def heldout_loss_history(self) -> list[float]: ...
    @property
    def heldout_mse(self) -> float: ...
    @property
    def backend(self) -> str: ...
    @property
    def device_name(self) -> str: ...
    @property
    def solver(self) -> str: ...
    @property
    def wall_seconds(self) -> float: ...
    @property
    def message(self) -> str: ...
    @property
    def learning_rate(self) -> float: ...
    @property
    def final_learning_rate(self) -> float: ...
    @property
    def curvature(self) -> float: ...
    @property
    def optimizer(self) -> str: ...
    @property
    def momentum(self) -> float: ...
    @property
    def condition_number(self) -> float: ...

def fit(
    X: npt.NDArray[np.floating[Any]],
    y: npt.NDArray[np.floating[Any]],
    sample_weight: Optional[npt.NDArray[np.floating[Any]]],
    options: FitOptions,
    handle_sigint: bool,
) -> FitResult:
    """steepest::fit on the arrays as they are (float32/float64, rows or columns at unit
    stride; no copy).  The GIL is released meanwhile; with handle_sigint, SIGINT stops the
    fit after its current step (stop_reason "interrupted")."""

def predict(
    X: npt.NDArray[np.floating[Any]], weights: list[float], bias: float, out: npt.NDArray[np.float64]
) -> None:
    """x_i . w + b for every row of X into out (float64, contiguous, one entry per row)."""

def deliver_interrupt() -> None:
    """When the last fit caught a SIGINT, run Python's SIGINT handler now (raises
    KeyboardInterrupt by default); nothing otherwise."""

def build_info() -> dict[str, Any]:
    """What this build can run on: version, cuda_compiled, cuda_devices, cpu_kernels, ..."""
