"""Run by test_zero_copy.py in a fresh process: fits memory-mapped arrays under an
RLIMIT_DATA that leaves less room than one copy of them.

argv: the .npy of an n x (d+1) float64 table (features, then the target), and the .npy of
an n x d float32 matrix in Fortran order.  Prints one line per case, "ok NAME ..." or
"FAIL NAME ...".
"""

import resource
import sys

import numpy as np

import steepest


def vm_data_bytes() -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmData:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError("no VmData in /proc/self/status")


def main() -> int:
    table = np.load(sys.argv[1], mmap_mode="r")
    xf32 = np.load(sys.argv[2], mmap_mode="r")
    y = table[:, -1]
    cases = {
        "float64 strided view (C order, a column left out)": table[:, :-1],
        "float32 Fortran order": xf32,
    }
    # Warm up what a fit sets up once (OpenMP threads, their allocator arenas, lazy imports).
    for X in cases.values():
        steepest.GDRegressor(max_iter=2).fit(X[:64], y[:64]).predict(X[:64])
    headroom = min(X.nbytes for X in cases.values()) // 2
    limit = vm_data_bytes() + headroom
    hard = resource.getrlimit(resource.RLIMIT_DATA)[1]
    if hard != resource.RLIM_INFINITY:
        limit = min(limit, hard)
    resource.setrlimit(resource.RLIMIT_DATA, (limit, hard))
    failures = 0
    for name, X in cases.items():
        try:  # the control: a copy of X does not fit under the limit
            np.ascontiguousarray(X, dtype=np.float64)
            print(f"FAIL {name}: a copy of X fits under the limit, the test proves nothing")
            failures += 1
            continue
        except MemoryError:
            pass
        est = steepest.GDRegressor(max_iter=3, solver="residual").fit(X, y)
        ok = est.n_iter_ == 3 and np.all(np.isfinite(est.coef_)) and est.loss_curve_[-1] < est.loss_curve_[0]
        print(f"{'ok' if ok else 'FAIL'} {name}: X {X.nbytes >> 20} MiB, headroom {headroom >> 20} MiB, "
              f"loss {est.loss_curve_[0]:.6g} -> {est.loss_curve_[-1]:.6g}")
        failures += not ok
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
