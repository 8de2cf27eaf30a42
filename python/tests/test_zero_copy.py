"""NumPy arrays reach the library without a copy."""

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from steepest._estimator import _as_view

HERE = Path(__file__).parent


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="RLIMIT_DATA and /proc/self/status are Linux's")
def test_memory_mapped_input_larger_than_the_data_limit_fits(tmp_path):
    """fit() of memory-mapped arrays succeeds under an RLIMIT_DATA that a copy of X would
    exceed (the child checks that a copy does fail): nothing on the way, NumPy, scikit-learn's
    validation, the binding or the C++ library, copies X."""
    rng = np.random.default_rng(7)
    n, d = 2_000_000, 8
    table = np.lib.format.open_memmap(tmp_path / "table.npy", mode="w+", dtype=np.float64, shape=(n, d + 1))
    w = rng.normal(size=d)
    for start in range(0, n, 250_000):
        block = rng.normal(size=(min(250_000, n - start), d))
        table[start : start + len(block), :d] = block
        table[start : start + len(block), d] = block @ w + 0.5
    xf32 = np.lib.format.open_memmap(tmp_path / "xf32.npy", mode="w+", dtype=np.float32, shape=(n, d),
                                     fortran_order=True)
    xf32[:] = table[:, :d]
    table.flush()
    xf32.flush()
    del table, xf32
    child = subprocess.run([sys.executable, str(HERE / "_zero_copy_child.py"), str(tmp_path / "table.npy"),
                            str(tmp_path / "xf32.npy")], capture_output=True, text=True, timeout=300)
    print(child.stdout, child.stderr)
    assert child.returncode == 0, child.stdout + child.stderr
    assert child.stdout.count("ok ") == 2


@pytest.mark.parametrize(
    "make",
    [
        lambda a: a,
        lambda a: np.asfortranarray(a),
        lambda a: a.astype(np.float32),
        lambda a: a[:, :-1],
        lambda a: a[::3],
        lambda a: np.asfortranarray(a)[3:, 1:],
        lambda a: a[:1],
        lambda a: a[:, :1],
    ],
    ids=["C", "F", "float32", "column-slice", "row-step", "F-slice", "one-row", "one-column"],
)
def test_views_the_library_can_read_are_passed_as_they_are(make):
    X = make(np.random.default_rng(0).normal(size=(40, 6)))
    assert _as_view(X) is X


@pytest.mark.parametrize(
    "make",
    [
        lambda a: a[::2, ::2],  # neither axis at unit stride
        lambda a: a[::-1],  # negative stride
        lambda a: a.astype(">f8"),  # byte-swapped
        lambda a: np.broadcast_to(a[:1], a.shape),  # zero stride
    ],
    ids=["2d-step", "reversed", "big-endian", "broadcast"],
)
def test_other_arrays_become_contiguous_copies(make):
    X = make(np.random.default_rng(0).normal(size=(40, 6)))
    V = _as_view(X)
    assert V is not X and V.flags.c_contiguous and V.dtype.isnative
    np.testing.assert_array_equal(V, X)
