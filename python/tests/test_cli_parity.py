"""GDRegressor gives the CLI's bits: `steepest fit data.npy ...` against fit() on the same file.

The CLI is the binary named by STEEPEST_CLI (CI sets it; python/ci.sh takes it as $1).
"""

import json
import os
import subprocess
from pathlib import Path

import numpy as np
import pytest

from steepest import GDRegressor

CLI = os.environ.get("STEEPEST_CLI")
pytestmark = pytest.mark.skipif(
    not CLI, reason="STEEPEST_CLI is not set: point it at a built `steepest` binary to compare with the CLI"
)

# (CLI options, the same as GDRegressor parameters)
CASES = {
    "gd": (["--lr", "0.05", "--epochs", "200"], dict(learning_rate=0.05, max_iter=200)),
    "lr-auto-gram": (["--lr", "auto", "--epochs", "300"], dict(learning_rate="auto", max_iter=300)),
    "minibatch": (
        ["--lr", "0.02", "--epochs", "15", "--batch-size", "64", "--seed", "11"],
        dict(learning_rate=0.02, max_iter=15, batch_size=64, random_state=11),
    ),
    "momentum-l2-invscaling": (
        ["--lr", "0.01", "--optimizer", "momentum", "--momentum", "0.8", "--l2", "0.01", "--schedule",
         "invscaling", "--epochs", "100"],
        dict(learning_rate=0.01, optimizer="momentum", momentum=0.8, l2=0.01, schedule="invscaling", max_iter=100),
    ),
    "adam-l1-standardize": (
        ["--optimizer", "adam", "--lr", "0.05", "--l1", "0.01", "--standardize", "--epochs", "100"],
        dict(optimizer="adam", learning_rate=0.05, l1=0.01, standardize=True, max_iter=100),
    ),
    # Batches of whole runs: automatic takes mini-batch Gram mode with every run's sums kept.
    "shuffle-block-whole-runs": (
        ["--lr", "0.02", "--epochs", "12", "--batch-size", "100", "--shuffle-block", "50", "--seed", "7"],
        dict(learning_rate=0.02, max_iter=12, batch_size=100, shuffle_block=50, random_state=7),
    ),
    "no-intercept-no-shuffle": (
        ["--lr", "0.03", "--epochs", "10", "--batch-size", "100", "--no-shuffle", "--no-intercept"],
        dict(learning_rate=0.03, max_iter=10, batch_size=100, shuffle=False, fit_intercept=False),
    ),
    "tol-validation": (
        ["--lr", "0.05", "--epochs", "2000", "--tol", "1e-4", "--validation-fraction", "0.2", "--seed", "3"],
        dict(learning_rate=0.05, max_iter=2000, tol=1e-4, validation_fraction=0.2, random_state=3),
    ),
}


def table(path: Path, dtype) -> Path:
    rng = np.random.default_rng(5)
    X = rng.normal(size=(1000, 5)) * [1.0, 2.0, 0.5, 3.0, 1.0]
    y = X @ rng.normal(size=5) + 2.0 + 0.1 * rng.normal(size=1000)
    np.save(path, np.column_stack([X, y]).astype(dtype))
    return path


def cli_fit(tmp_path: Path, data: Path, options, weights: Path = None) -> dict:
    model = tmp_path / "model.json"
    args = [CLI, "fit", str(data), *options, "--device", "cpu", "--output", str(model), "--quiet"]
    if weights is not None:
        args += ["--weight-file", str(weights)]
    run = subprocess.run(args, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, f"{args}: exit {run.returncode}\n{run.stderr}"
    return json.loads(model.read_text())


def assert_same_bits(est: GDRegressor, model: dict) -> None:
    # model.json holds the shortest decimal that reads back as each double: json gives
    # back the very bits.
    np.testing.assert_array_equal(est.coef_, np.array(model["weights"], dtype=np.float64))
    assert est.intercept_ == model["bias"]
    assert est.n_iter_ == model["epochs_run"]
    assert est.stop_reason_ == model["stop_reason"]
    np.testing.assert_array_equal(est.loss_curve_, np.array(model["loss_history"][1:], dtype=np.float64))


@pytest.mark.parametrize("name", CASES)
def test_fit_matches_the_cli_bit_for_bit(tmp_path, name):
    options, params = CASES[name]
    data = table(tmp_path / "data.npy", np.float64)
    model = cli_fit(tmp_path, data, options)
    t = np.load(data, mmap_mode="r")
    est = GDRegressor(device="cpu", **params).fit(t[:, :-1], t[:, -1])
    assert_same_bits(est, model)


def test_float32_data_matches_the_cli(tmp_path):
    options, params = CASES["gd"]
    data = table(tmp_path / "data32.npy", np.float32)
    model = cli_fit(tmp_path, data, options)
    t = np.load(data, mmap_mode="r")
    assert t.dtype == np.float32
    est = GDRegressor(device="cpu", **params).fit(t[:, :-1], t[:, -1])
    assert_same_bits(est, model)


def test_sample_weights_match_the_cli(tmp_path):
    options, params = CASES["lr-auto-gram"]
    data = table(tmp_path / "data.npy", np.float64)
    w = np.random.default_rng(9).uniform(0.0, 3.0, size=1000)
    np.save(tmp_path / "w.npy", w)
    model = cli_fit(tmp_path, data, options, weights=tmp_path / "w.npy")
    t = np.load(data, mmap_mode="r")
    est = GDRegressor(device="cpu", **params).fit(t[:, :-1], t[:, -1], sample_weight=w)
    assert_same_bits(est, model)
