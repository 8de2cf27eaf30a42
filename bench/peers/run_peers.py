#!/usr/bin/env python3
"""Run steepest's problem in other tools on the same .npy file and print ratios.

Every tool reads the identical data file, uses the same learning rate, the same number of
epochs and zero initial parameters, and (for gradient descent) the same objective as
steepest:

    r = X w + b - y,  MSE = (1/n) sum r^2,  grad_w = (2/n) X^T r,  grad_b = (2/n) sum r,
    w -= lr * grad_w,  b -= lr * grad_b

so every full-batch GD implementation computes the same iterates up to rounding and must
end at steepest's final MSE (checked; a WARNING line is printed otherwise).

What is timed: the fit loop only, with the data already in memory in the tool's native
form (contiguous arrays / tensors, on the GPU when the tool runs there).  steepest's
wall_seconds (model.json) likewise excludes reading the file (it memory-maps the .npy); the
whole steepest process, loading included, is reported on its own row.  Each tool runs
--repeats times and the fastest run is reported (all runs are kept in the JSON).

See README.md next to this file.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import math
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
import traceback
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
# JAX would otherwise grab 75% of the GPU memory at import, beside PyTorch's and CuPy's.
os.environ.setdefault("XLA_PYTHON_CLIENT_PREALLOCATE", "false")

try:
    import numpy as np
except ImportError:  # numpy is the one hard requirement: it loads the data
    sys.exit("run_peers.py needs numpy: pip install -r bench/peers/requirements.txt")


# ----------------------------------------------------------------------------- helpers

class Skip(Exception):
    """A peer that cannot run here; the message says why."""


def mse64(X, y, w, b) -> float:
    """Exact MSE in float64 of (w, b) on (X, y), computed in blocks to bound memory."""
    n = X.shape[0]
    w = np.asarray(w, dtype=np.float64).reshape(-1)
    total = 0.0
    step = 1 << 18
    for lo in range(0, n, step):
        hi = min(n, lo + step)
        r = X[lo:hi].astype(np.float64, copy=False) @ w
        r += float(b)
        r -= y[lo:hi]
        total += float(r @ r)
    return total / n


def lib_version(name: str):
    try:
        mod = __import__(name)
        return getattr(mod, "__version__", "unknown")
    except Exception:
        return None


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def mem_total_gib():
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemTotal:"):
                    return round(int(line.split()[1]) / 2**20, 1)
    except OSError:
        pass
    return None


def available_cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


def gpu_names():
    exe = shutil.which("nvidia-smi")
    if not exe:
        return []
    try:
        out = subprocess.run([exe, "--query-gpu=name,memory.total,driver_version",
                              "--format=csv,noheader"], capture_output=True, text=True,
                             timeout=20)
        return [l.strip() for l in out.stdout.splitlines() if l.strip()]
    except Exception:
        return []


def git_commit():
    try:
        head = subprocess.run(["git", "-C", str(REPO_ROOT), "rev-parse", "HEAD"],
                              capture_output=True, text=True, timeout=10)
        if head.returncode != 0:
            return None
        dirty = subprocess.run(["git", "-C", str(REPO_ROOT), "status", "--porcelain",
                                "--untracked-files=no"], capture_output=True, text=True,
                               timeout=20)
        return head.stdout.strip() + ("-dirty" if dirty.stdout.strip() else "")
    except Exception:
        return None


class Timer:
    def __init__(self, sync=None):
        self.sync = sync

    def __enter__(self):
        if self.sync:
            self.sync()
        self.t0 = time.perf_counter()
        return self

    def __exit__(self, *exc):
        if self.sync:
            self.sync()
        self.seconds = time.perf_counter() - self.t0
        return False


def batches(n, batch_size):
    """[lo, hi) slices of one epoch: consecutive, the last one holds the n % B leftovers."""
    if batch_size <= 0 or batch_size >= n:
        return [(0, n)]
    return [(lo, min(n, lo + batch_size)) for lo in range(0, n, batch_size)]


# ----------------------------------------------------------------------------- peers
#
# Each peer returns dict(seconds=..., w=..., b=..., history=[...] or None, extra...).
# history[k] is the full-data MSE after k epochs (full batch only), like steepest's
# loss_history, so that the iterates themselves can be compared.


def gd_array_module(xp, X, y, lr, epochs, batch_size, shuffle, seed, sync=None):
    """Fused full-batch / mini-batch GD for any NumPy-like module (numpy, cupy).

    Full batch: epochs + 1 passes over the data, each computing r, the MSE and the
    gradient in one go (as steepest does); the MSE after every epoch is recorded.
    """
    n, d = X.shape
    dt = X.dtype
    w = xp.zeros(d, dtype=dt)
    b = xp.zeros((), dtype=dt)
    full = batch_size <= 0 or batch_size >= n
    with Timer(sync) as t:
        if full:
            hist = xp.empty(epochs + 1, dtype=dt)
            r = xp.empty(n, dtype=dt)
            for e in range(epochs + 1):
                xp.matmul(X, w, out=r)
                r += b
                r -= y
                hist[e] = xp.dot(r, r) / n
                if e == epochs:
                    break
                w -= (2.0 * lr / n) * (X.T @ r)
                b -= (2.0 * lr / n) * r.sum()
        else:
            hist = None
            rng = np.random.default_rng(seed)
            for e in range(epochs):
                order = rng.permutation(n) if shuffle else None
                if order is not None and xp is not np:
                    order = xp.asarray(order)
                for lo, hi in batches(n, batch_size):
                    if order is None:
                        Xb, yb = X[lo:hi], y[lo:hi]
                    else:
                        idx = order[lo:hi]
                        Xb, yb = X[idx], y[idx]
                    r = Xb @ w
                    r += b
                    r -= yb
                    m = hi - lo
                    w -= (2.0 * lr / m) * (Xb.T @ r)
                    b -= (2.0 * lr / m) * r.sum()
    to_np = (lambda a: a.get()) if xp is not np else (lambda a: a)
    return dict(seconds=t.seconds, w=to_np(w).astype(np.float64), b=float(to_np(b)),
                history=None if hist is None else to_np(hist).astype(np.float64).tolist())


def peer_numpy_gd(ctx):
    X, y = ctx["X64"], ctx["y64"]
    a = ctx["args"]
    res = gd_array_module(np, X, y, a.lr, a.epochs, a.batch_size, ctx["shuffle"], a.seed)
    res["device"] = "cpu"
    res["compute_dtype"] = "float64"
    res["kind"] = "GD"
    res["note"] = ("vectorised full-batch GD (X @ w, X.T @ r through BLAS)" if ctx["full"] else
                   "vectorised mini-batch GD (" + ("fancy-indexed copy of each batch"
                   if ctx["shuffle"] else "batches are slices, no copy") + ")")
    return res


def peer_lstsq(ctx):
    X, y = ctx["X64"], ctx["y64"]
    n = X.shape[0]
    with Timer() as t:
        A = np.empty((n, X.shape[1] + 1))
        A[:, :-1] = X
        A[:, -1] = 1.0
        sol, *_ = np.linalg.lstsq(A, y, rcond=None)
    return dict(seconds=t.seconds, w=sol[:-1], b=float(sol[-1]), history=None, device="cpu",
                compute_dtype="float64", kind="closed form",
                note="np.linalg.lstsq on [X, 1] (SVD): the optimum")


def peer_sklearn_linear(ctx):
    try:
        from sklearn.linear_model import LinearRegression
    except ImportError as e:
        raise Skip(f"scikit-learn not installed ({e})")
    X, y = ctx["X64"], ctx["y64"]
    with Timer() as t:
        m = LinearRegression(fit_intercept=True, copy_X=True).fit(X, y)
    return dict(seconds=t.seconds, w=np.asarray(m.coef_, dtype=np.float64),
                b=float(m.intercept_), history=None, device="cpu", compute_dtype="float64",
                kind="closed form", note="LinearRegression (centering + scipy lstsq)")


def peer_sklearn_sgd(ctx):
    try:
        from sklearn.linear_model import SGDRegressor
    except ImportError as e:
        raise Skip(f"scikit-learn not installed ({e})")
    import warnings
    a = ctx["args"]
    X, y = ctx["X64"], ctx["y64"]
    eta0 = a.sgd_eta0 if a.sgd_eta0 is not None else 2.0 * a.lr
    m = SGDRegressor(loss="squared_error", penalty=None, learning_rate="constant", eta0=eta0,
                     max_iter=a.epochs, tol=None, shuffle=ctx["shuffle"],
                     random_state=a.seed, fit_intercept=True, average=False)
    note = (f"per-sample SGD (batch size 1), eta0={eta0:g}"
            f"{' = 2*lr' if a.sgd_eta0 is None else ''}, shuffle={ctx['shuffle']}: "
            "NOT the same algorithm as GD, only the same loss and step scale")
    diverged = None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with Timer() as t:
            try:
                m.fit(X, y)
            except (ValueError, FloatingPointError, OverflowError) as e:
                diverged = str(e).splitlines()[0]
    if diverged is not None:
        return dict(seconds=t.seconds, w=None, b=None, history=None, device="cpu",
                    compute_dtype="float64", kind="per-sample SGD", diverged=diverged,
                    note=note + f"; diverged ({diverged})")
    w = np.asarray(m.coef_, dtype=np.float64)
    b = float(np.ravel(m.intercept_)[0])
    if not (np.all(np.isfinite(w)) and math.isfinite(b)):
        return dict(seconds=t.seconds, w=None, b=None, history=None, device="cpu",
                    compute_dtype="float64", kind="per-sample SGD",
                    diverged="non-finite parameters",
                    note=note + "; diverged (non-finite parameters)")
    return dict(seconds=t.seconds, w=w, b=b, history=None, device="cpu",
                compute_dtype="float64", kind="per-sample SGD", note=note,
                epochs_run=int(m.n_iter_))


def _torch_setup(ctx):
    try:
        import torch
    except ImportError as e:
        raise Skip(f"torch not installed ({e})")
    dev = "cpu"
    if ctx["peer_device"] == "cuda":
        if not torch.cuda.is_available():
            raise Skip("steepest ran on CUDA but torch.cuda.is_available() is False "
                       "(CPU-only torch build or no usable GPU)")
        dev = "cuda"
    torch.set_num_threads(ctx["threads"])
    key = ("torch", dev)
    if key not in ctx["cache"]:
        tdt = {"float32": torch.float32, "float64": torch.float64}[ctx["native_dtype"]]
        Xs = ctx["X64"] if tdt == torch.float64 else ctx["Xnat"]
        ys = ctx["y64"] if tdt == torch.float64 else ctx["ynat"]
        X = torch.from_numpy(np.ascontiguousarray(Xs)).to(dev)
        y = torch.from_numpy(np.ascontiguousarray(ys)).to(dev)
        ctx["cache"][key] = (X, y)
    X, y = ctx["cache"][key]
    sync = torch.cuda.synchronize if dev == "cuda" else None
    return torch, dev, X, y, sync


def _torch_label(dev, torch):
    if dev == "cuda":
        return f"cuda ({torch.cuda.get_device_name(0)})"
    return f"cpu ({torch.get_num_threads()} threads)"


def peer_torch_nn(ctx):
    torch, dev, X, y, sync = _torch_setup(ctx)
    a = ctx["args"]
    n, d = X.shape
    Y = y.reshape(n, 1)  # nn.Linear gives (n, 1); (n,) would silently broadcast to (n, n)
    full = ctx["full"]

    def run(epochs):
        model = torch.nn.Linear(d, 1, dtype=X.dtype, device=dev)
        with torch.no_grad():
            model.weight.zero_()  # steepest starts from zeros; PyTorch's default is random
            model.bias.zero_()
        crit = torch.nn.MSELoss()  # mean of r^2: exactly steepest's (1/n) sum r^2
        opt = torch.optim.SGD(model.parameters(), lr=a.lr)
        gen = torch.Generator(device="cpu").manual_seed(a.seed)
        losses = []
        with Timer(sync) as t:
            for _ in range(epochs):
                if full:
                    opt.zero_grad(set_to_none=True)
                    loss = crit(model(X), Y)
                    loss.backward()
                    opt.step()
                    losses.append(loss.detach())  # MSE before this step; no host sync
                else:
                    order = (torch.randperm(n, generator=gen).to(dev) if ctx["shuffle"]
                             else None)
                    for lo, hi in batches(n, a.batch_size):
                        if order is None:
                            Xb, Yb = X[lo:hi], Y[lo:hi]
                        else:
                            idx = order[lo:hi]
                            Xb, Yb = X[idx], Y[idx]
                        opt.zero_grad(set_to_none=True)
                        loss = crit(model(Xb), Yb)
                        loss.backward()
                        opt.step()
            if full:
                with torch.no_grad():  # MSE after the last epoch, like loss_history[-1]
                    losses.append(crit(model(X), Y))
                hist = torch.stack(losses)
        w = model.weight.detach().reshape(-1).double().cpu().numpy()
        b = float(model.bias.detach().double().cpu())
        h = hist.double().cpu().numpy().tolist() if full else None
        return t.seconds, w, b, h

    if dev == "cuda":
        run(min(3, a.epochs))  # warm-up: CUDA context, cuBLAS handles, allocator
    s, w, b, h = run(a.epochs)
    return dict(seconds=s, w=w, b=b, history=h, device=_torch_label(dev, torch),
                compute_dtype=str(X.dtype).replace("torch.", ""), kind="GD",
                note="nn.Linear + nn.MSELoss + optim.SGD, autograd" +
                     ("" if full else ", batches sliced from a randperm per epoch"
                      if ctx["shuffle"] else ", batches in file order"))


def peer_torch_fused(ctx):
    torch, dev, X, y, sync = _torch_setup(ctx)
    a = ctx["args"]
    n, d = X.shape
    full = ctx["full"]

    def run(epochs):
        gen = torch.Generator(device="cpu").manual_seed(a.seed)
        with torch.no_grad():
            w = torch.zeros(d, dtype=X.dtype, device=dev)
            b = torch.zeros((), dtype=X.dtype, device=dev)
            hist = torch.empty(epochs + 1, dtype=X.dtype, device=dev) if full else None
            r = torch.empty(n, dtype=X.dtype, device=dev) if full else None
            with Timer(sync) as t:
                if full:
                    for e in range(epochs + 1):
                        torch.mv(X, w, out=r)
                        r.add_(b).sub_(y)
                        hist[e] = torch.dot(r, r) / n
                        if e == epochs:
                            break
                        w.sub_(torch.mv(X.T, r), alpha=2.0 * a.lr / n)
                        b.sub_(r.sum() * (2.0 * a.lr / n))
                else:
                    for _ in range(epochs):
                        order = (torch.randperm(n, generator=gen).to(dev) if ctx["shuffle"]
                                 else None)
                        for lo, hi in batches(n, a.batch_size):
                            if order is None:
                                Xb, yb = X[lo:hi], y[lo:hi]
                            else:
                                idx = order[lo:hi]
                                Xb, yb = X[idx], y[idx]
                            rb = torch.mv(Xb, w).add_(b).sub_(yb)
                            m = hi - lo
                            w.sub_(torch.mv(Xb.T, rb), alpha=2.0 * a.lr / m)
                            b.sub_(rb.sum() * (2.0 * a.lr / m))
        h = hist.double().cpu().numpy().tolist() if full else None
        return t.seconds, w.double().cpu().numpy(), float(b.double().cpu()), h

    if dev == "cuda":
        run(min(3, a.epochs))  # warm-up
    s, w, b, h = run(a.epochs)
    return dict(seconds=s, w=w, b=b, history=h, device=_torch_label(dev, torch),
                compute_dtype=str(X.dtype).replace("torch.", ""), kind="GD",
                note="hand-fused: r = X@w + b - y, X.T@r, in-place updates under no_grad")


def peer_cupy(ctx):
    if ctx["peer_device"] != "cuda":
        raise Skip("CuPy is GPU-only and steepest ran on the CPU (use --device cuda/auto "
                   "on a GPU machine)")
    try:
        import cupy as cp
    except ImportError as e:
        raise Skip(f"cupy not installed ({e})")
    try:
        if cp.cuda.runtime.getDeviceCount() < 1:
            raise Skip("cupy sees no CUDA device")
    except cp.cuda.runtime.CUDARuntimeError as e:
        raise Skip(f"cupy sees no CUDA device ({e})")
    a = ctx["args"]
    if "cupy" not in ctx["cache"]:
        f64 = ctx["native_dtype"] == "float64"
        ctx["cache"]["cupy"] = (cp.asarray(ctx["X64"] if f64 else ctx["Xnat"]),
                                cp.asarray(ctx["y64"] if f64 else ctx["ynat"]))
    X, y = ctx["cache"]["cupy"]
    sync = cp.cuda.Device().synchronize
    gd_array_module(cp, X, y, a.lr, min(3, a.epochs), a.batch_size, ctx["shuffle"], a.seed,
                    sync)  # warm-up: kernel compilation and cuBLAS handle
    res = gd_array_module(cp, X, y, a.lr, a.epochs, a.batch_size, ctx["shuffle"], a.seed, sync)
    props = cp.cuda.runtime.getDeviceProperties(cp.cuda.Device().id)
    name = props["name"].decode() if isinstance(props["name"], bytes) else props["name"]
    res.update(device=f"cuda ({name})", compute_dtype=str(X.dtype), kind="GD",
               note="same fused loop as numpy-gd, on the GPU")
    return res


def peer_jax(ctx):
    if ctx["peer_device"] != "cuda":
        raise Skip("JAX is run only on a GPU here and steepest ran on the CPU")
    if not ctx["full"]:
        raise Skip("JAX version is full-batch only")
    try:
        import jax
    except ImportError as e:
        raise Skip(f"jax not installed ({e})")
    try:
        gpus = jax.devices("gpu")
    except RuntimeError as e:
        raise Skip(f"jax has no GPU backend ({str(e).splitlines()[0]})")
    if not gpus:
        raise Skip("jax has no GPU device")
    if ctx["native_dtype"] == "float64":
        jax.config.update("jax_enable_x64", True)
    import jax.numpy as jnp
    a = ctx["args"]
    src_X = ctx["X64"] if ctx["native_dtype"] == "float64" else ctx["Xnat"]
    src_y = ctx["y64"] if ctx["native_dtype"] == "float64" else ctx["ynat"]
    X = jax.device_put(jnp.asarray(src_X), gpus[0])
    y = jax.device_put(jnp.asarray(src_y), gpus[0])
    n, d = X.shape
    lr = a.lr

    @jax.jit
    def fit(X, y, epochs):  # epochs is traced: one compiled while-loop for every count
        def body(_, wb):
            w, b = wb
            r = X @ w + b - y
            return (w - (2.0 * lr / n) * (X.T @ r), b - (2.0 * lr / n) * jnp.sum(r))
        w0 = jnp.zeros(d, dtype=X.dtype)
        b0 = jnp.zeros((), dtype=X.dtype)
        w, b = jax.lax.fori_loop(0, epochs, body, (w0, b0))
        r = X @ w + b - y
        return w, b, jnp.dot(r, r) / n

    jax.block_until_ready(fit(X, y, 1))  # warm-up: compiles the loop
    with Timer() as t:
        w, b, _ = jax.block_until_ready(fit(X, y, a.epochs))
    return dict(seconds=t.seconds, w=np.asarray(w, dtype=np.float64), b=float(b),
                history=None, device=f"cuda ({gpus[0].device_kind})",
                compute_dtype=str(X.dtype), kind="GD",
                note="jit-compiled lax.fori_loop (compile excluded); no per-epoch history")


def release_device_memory(ctx, name):
    """Free a GPU library's copy of the data once its last peer is done."""
    if name == "torch-fused" and any(k[0] == "torch" for k in ctx["cache"] if
                                     isinstance(k, tuple)):
        for k in [k for k in ctx["cache"] if isinstance(k, tuple) and k[0] == "torch"]:
            del ctx["cache"][k]
        import torch
        if torch.cuda.is_available():
            torch.cuda.empty_cache()
    if name == "cupy-fused" and "cupy" in ctx["cache"]:
        del ctx["cache"]["cupy"]
        import cupy as cp
        cp.get_default_memory_pool().free_all_blocks()


PEERS = [
    ("numpy-gd", peer_numpy_gd),
    ("numpy-lstsq", peer_lstsq),
    ("sklearn-LinearRegression", peer_sklearn_linear),
    ("sklearn-SGDRegressor", peer_sklearn_sgd),
    ("torch-nn", peer_torch_nn),
    ("torch-fused", peer_torch_fused),
    ("cupy-fused", peer_cupy),
    ("jax-fused", peer_jax),
]


# ----------------------------------------------------------------------------- steepest

def steepest_cmd(args):
    exe = Path(args.steepest)
    if not exe.is_absolute():
        exe = (Path.cwd() / exe) if (Path.cwd() / exe).exists() else REPO_ROOT / exe
    if not exe.exists():
        sys.exit(f"steepest binary not found at {exe}; build it (see README.md) or pass "
                 "--steepest PATH")
    return str(exe)


def run_steepest(exe, args, data, workdir, repeat):
    out = Path(workdir) / f"model-{repeat}.json"
    cmd = [exe, "fit", str(data), "--quiet", "-o", str(out), "--epochs", str(args.epochs),
           "--lr", repr(args.lr), "--batch-size", str(args.batch_size), "--seed",
           str(args.seed), "--device", args.device, "--threads", str(args.threads)]
    if args.no_shuffle:
        cmd.append("--no-shuffle")
    if args.batch_size > 0:
        cmd += ["--history-mode", "running"]  # no extra full pass per epoch
    t0 = time.perf_counter()
    p = subprocess.run(cmd, capture_output=True, text=True)
    proc_s = time.perf_counter() - t0
    if p.returncode != 0:
        raise RuntimeError(f"steepest fit exited {p.returncode}: {p.stderr.strip()}\n"
                           f"command: {' '.join(cmd)}")
    with open(out) as f:
        model = json.load(f)
    return dict(seconds=model["wall_seconds"], process_seconds=proc_s,
                setup_seconds=model.get("setup_seconds"),
                w=np.asarray(model["weights"], dtype=np.float64), b=float(model["bias"]),
                final_mse=float(model["final_mse"]), history=model.get("loss_history"),
                backend=model.get("backend"), device_name=model.get("device"),
                epochs_run=model.get("epochs_run"), stop_reason=model.get("stop_reason"),
                command=cmd)


def steepest_text(exe, *argv):
    try:
        p = subprocess.run([exe, *argv], capture_output=True, text=True, timeout=60)
        return (p.stdout + p.stderr).strip()
    except Exception as e:
        return f"unavailable ({e})"


# ----------------------------------------------------------------------------- main

def parse_args(argv=None):
    p = argparse.ArgumentParser(
        description="Fit the same linear regression in steepest and in peer tools, on the "
                    "same .npy file, and print times and MSEs with ratios against steepest.")
    p.add_argument("--steepest", default="build/steepest",
                   help="steepest binary (default: build/steepest relative to the repo root)")
    p.add_argument("--rows", type=int, default=1_000_000)
    p.add_argument("--features", type=int, default=16)
    p.add_argument("--epochs", type=int, default=50)
    p.add_argument("--lr", type=float, default=0.5)
    p.add_argument("--batch-size", type=int, default=0, help="rows per mini-batch; 0 = full batch")
    p.add_argument("--no-shuffle", action="store_true",
                   help="mini-batches in file order in every tool (then mini-batch iterates "
                        "match too and are checked)")
    p.add_argument("--seed", type=int, default=0, help="row-order seed (each tool its own RNG)")
    p.add_argument("--dtype", choices=["float32", "float64"], default="float64",
                   help="storage type of the generated file (a --data file keeps its own)")
    p.add_argument("--device", choices=["auto", "cpu", "cuda"], default="auto",
                   help="steepest's --device; torch/CuPy/JAX run where steepest actually ran")
    p.add_argument("--threads", type=int, default=0,
                   help="CPU threads for steepest, torch and BLAS (0 = all available)")
    p.add_argument("--noise", type=float, default=0.1, help="noise of generated data")
    p.add_argument("--data", help="an existing .npy (n x (d+1), target last) instead of "
                                  "generating one with `steepest gen`")
    p.add_argument("--repeats", type=int, default=3, help="runs per tool; the fastest is shown")
    p.add_argument("--sgd-eta0", type=float, default=None,
                   help="SGDRegressor eta0 (default 2*lr, the same step scale as ours)")
    p.add_argument("--only", default="",
                   help="comma-separated peer names to run (default: all)")
    p.add_argument("--check-rtol", type=float, default=1e-6,
                   help="relative tolerance of final MSE vs steepest for float64 GD peers")
    p.add_argument("--json", help="write all results to this JSON file")
    p.add_argument("--keep-data", action="store_true", help="keep the generated temp dir")
    a = p.parse_args(argv)
    if a.epochs < 1 or a.lr <= 0 or a.batch_size < 0 or a.repeats < 1:
        p.error("need --epochs >= 1, --lr > 0, --batch-size >= 0, --repeats >= 1")
    if a.threads <= 0:
        a.threads = available_cpus()
    return a


def fmt(x, spec):
    return "-" if x is None or (isinstance(x, float) and math.isnan(x)) else format(x, spec)


def main(argv=None):
    args = parse_args(argv)
    exe = steepest_cmd(args)
    tmp = tempfile.mkdtemp(prefix="steepest-peers-")
    try:
        return _main(args, exe, tmp)
    finally:
        if args.keep_data:
            print(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)


def _main(args, exe, tmp):
    load_at_start = list(os.getloadavg())
    only = {s.strip() for s in args.only.split(",") if s.strip()}
    unknown = only - {nm for nm, _ in PEERS}
    if unknown:
        sys.exit(f"--only: unknown peer(s) {', '.join(sorted(unknown))}; known: "
                 + ", ".join(nm for nm, _ in PEERS))
    # ---- data: one file that every tool reads
    if args.data:
        data = Path(args.data).resolve()
        generated = None
    else:
        data = Path(tmp) / "data.npy"
        gen_cmd = [exe, "gen", "-o", str(data), "--rows", str(args.rows), "--features",
                   str(args.features), "--noise", repr(args.noise), "--seed", str(args.seed),
                   "--dtype", args.dtype, "--quiet"]
        p = subprocess.run(gen_cmd, capture_output=True, text=True)
        if p.returncode != 0:
            sys.exit(f"steepest gen failed ({p.returncode}): {p.stderr.strip()}")
        generated = gen_cmd
    A = np.load(data, mmap_mode="r")
    if A.ndim != 2 or A.shape[1] < 2:
        sys.exit(f"{data}: need an n x (d+1) matrix with the target last, got shape {A.shape}")
    n, d = A.shape[0], A.shape[1] - 1
    native = str(A.dtype) if A.dtype in (np.float32, np.float64) else "float64"
    if args.data and native != args.dtype:
        print(f"note: {data} is {native}; --dtype {args.dtype} ignored (the file's type is used)")
    # Native in-memory forms, built outside every timer.
    Xnat = np.ascontiguousarray(A[:, :d])
    ynat = np.ascontiguousarray(A[:, d])
    X64 = Xnat.astype(np.float64, copy=False)
    y64 = ynat.astype(np.float64, copy=False)
    full = args.batch_size == 0 or args.batch_size >= n
    shuffle = not args.no_shuffle

    try:
        from threadpoolctl import threadpool_limits, threadpool_info
        blas_limit = threadpool_limits(limits=args.threads)
        blas_info = [{k: i.get(k) for k in ("internal_api", "version", "num_threads",
                                            "threading_layer", "architecture")}
                     for i in threadpool_info()]
    except ImportError:
        blas_limit, blas_info = None, "threadpoolctl not installed (BLAS threads not pinned)"

    # ---- optimum (float64 normal equations via SVD); used for "MSE / optimum - 1"
    Aopt = np.empty((n, d + 1))
    Aopt[:, :-1] = X64
    Aopt[:, -1] = 1.0
    sol = np.linalg.lstsq(Aopt, y64, rcond=None)[0]
    del Aopt
    opt_mse = mse64(X64, y64, sol[:-1], sol[-1])
    start_mse = float(y64 @ y64) / n  # MSE at the common starting point w = 0, b = 0

    # ---- steepest (repeats; fastest wall_seconds shown)
    print(f"steepest: {exe}")
    try:
        s_runs = [run_steepest(exe, args, data, tmp, i) for i in range(args.repeats)]
    except RuntimeError as e:
        sys.exit(str(e))
    best = min(s_runs, key=lambda r: r["seconds"])
    steepest_s = best["seconds"]
    peer_device = "cuda" if (best["backend"] or "").lower().startswith("cuda") else "cpu"
    steepest_mse = best["final_mse"]

    sdev = best["device_name"] or best["backend"] or "?"
    if peer_device == "cuda" and not sdev.lower().startswith("cuda"):
        sdev = f"cuda ({sdev})"
    rows = [dict(name="steepest", device=sdev,
                 compute_dtype=f"{native} storage, float64 sums", kind="GD",
                 seconds=steepest_s, all_seconds=[r["seconds"] for r in s_runs],
                 final_mse=steepest_mse, history=best["history"],
                 note="model.json wall_seconds: fit() only, data memory-mapped (first-touch "
                      "page faults included" + (", H2D upload included" if peer_device ==
                                                "cuda" else "") + ")",
                 epochs_run=best["epochs_run"], stop_reason=best["stop_reason"],
                 command=best["command"])]
    if best.get("setup_seconds") is not None:
        # The epochs alone: what the peers' times measure (their data is already in place).
        loops = [r["seconds"] - r["setup_seconds"] for r in s_runs]
        rows.append(dict(name="steepest (epochs only)", device=rows[0]["device"],
                         compute_dtype=rows[0]["compute_dtype"], kind="GD", seconds=min(loops),
                         all_seconds=loops, final_mse=steepest_mse, history=None,
                         note="wall_seconds - setup_seconds: the epoch loop, without choosing the "
                              "backend, moving the data and the initial pass"))
    proc = min(r["process_seconds"] for r in s_runs)
    rows.append(dict(name="steepest (process)", device=rows[0]["device"],
                     compute_dtype=rows[0]["compute_dtype"], kind="GD", seconds=proc,
                     all_seconds=[r["process_seconds"] for r in s_runs],
                     final_mse=steepest_mse, history=None,
                     note="whole `steepest fit` process: start, open/mmap, fit, write model.json"))

    for r in rows:
        if not r["final_mse"] <= start_mse:
            r["diverged"] = (f"final MSE {r['final_mse']:.4g} above the MSE at w = 0, b = 0 "
                             f"({start_mse:.4g}): --lr is too large for this data")
            r["note"] += f"; diverged ({r['diverged']})"

    ctx = dict(args=args, X64=X64, y64=y64, Xnat=Xnat, ynat=ynat, native_dtype=native,
               full=full, shuffle=shuffle, peer_device=peer_device, threads=args.threads,
               cache={})
    skipped = []
    for name, fn in PEERS:
        if only and name not in only:
            continue
        runs = []
        try:
            for _ in range(args.repeats):
                runs.append(fn(ctx))
        except Skip as e:
            skipped.append((name, str(e)))
            release_device_memory(ctx, name)
            continue
        except Exception as e:  # a broken peer must not hide the others
            skipped.append((name, f"error: {type(e).__name__}: {e}"))
            traceback.print_exc()
            release_device_memory(ctx, name)
            continue
        release_device_memory(ctx, name)
        r = min(runs, key=lambda x: x["seconds"])
        r["all_seconds"] = [x["seconds"] for x in runs]
        r["name"] = name
        r["final_mse"] = (None if r.get("w") is None else mse64(X64, y64, r["w"], r["b"]))
        if r["final_mse"] is not None and r.get("diverged") is None and not (
                r["final_mse"] <= start_mse):
            r["diverged"] = (f"final MSE {r['final_mse']:.4g} above the MSE at w = 0, b = 0 "
                             f"({start_mse:.4g})")
            r["note"] += f"; diverged ({r['diverged']})"
        rows.append(r)
    ctx["cache"].clear()

    # ---- derived columns and the correctness check
    warnings_out = []
    for r in rows:
        r["ms_per_epoch"] = (1e3 * r["seconds"] / args.epochs
                             if r["kind"] != "closed form" else None)
        r["excess_over_optimum"] = (None if r["final_mse"] is None
                                    else r["final_mse"] / opt_mse - 1.0)
        r["time_over_steepest"] = r["seconds"] / steepest_s
        r["mse_rel_diff_vs_steepest"] = (None if r["final_mse"] is None
                                         else abs(r["final_mse"] - steepest_mse) / steepest_mse)
        h, hs = r.get("history"), best["history"]
        if h is not None and hs is not None and len(h) == len(hs) and r["name"] != "steepest":
            r["history_max_rel_diff"] = max(abs(a - b) / abs(b) if b else abs(a - b)
                                            for a, b in zip(h, hs))
        if r["kind"] != "GD" or r["name"].startswith("steepest"):
            continue
        if not full and shuffle:
            r["check"] = "not checked: each tool shuffles with its own RNG (use --no-shuffle)"
            continue
        f64 = r["compute_dtype"] == "float64"
        tol = args.check_rtol if f64 else 1e-3
        diff = r["mse_rel_diff_vs_steepest"]
        if diff is None or not diff <= tol:
            r["check"] = f"FAILED (rel diff {fmt(diff, '.2e')} > {tol:g})"
            warnings_out.append(
                f"WARNING: {r['name']} final MSE {fmt(r['final_mse'], '.10g')} differs from "
                f"steepest's {steepest_mse:.10g} by {fmt(diff, '.2e')} (relative) > {tol:g}"
                + ("" if f64 else f" (it computes in {r['compute_dtype']})"))
        else:
            r["check"] = f"ok (rel diff {diff:.1e} <= {tol:g})"

    # ---- table
    mode = ("full-batch GD" if full else
            f"mini-batch GD, batch {args.batch_size}, {'shuffled' if shuffle else 'file order'}")
    print()
    print(f"problem: {n} rows x {d} features, {native} {data.name}, {args.epochs} epochs, "
          f"lr {args.lr:g}, {mode}; threads {args.threads}; fastest of {args.repeats}")
    print(f"optimum MSE (lstsq, float64): {opt_mse:.10g}    steepest final MSE: "
          f"{steepest_mse:.10g}")
    print("time: fit loop only, data already in memory in each tool's native form; "
          "'t / steepest' = tool time / steepest wall_seconds (> 1: slower than steepest)")
    hdr = (f"{'tool':<26} {'device':<22} {'compute':<8} {'time (s)':>10} {'ms/epoch':>9} "
           f"{'final MSE':>16} {'MSE/opt - 1':>12} {'t / steepest':>12}")
    print(hdr)
    print("-" * len(hdr))
    for r in rows:
        dev = r["device"] if len(r["device"]) <= 22 else r["device"][:21] + "~"
        dt = "float64" if r["compute_dtype"].endswith("float64 sums") else r["compute_dtype"]
        mse_s = fmt(r["final_mse"], ".10g") if r.get("diverged") is None else "diverged"
        print(f"{r['name']:<26} {dev:<22} {dt:<8} {r['seconds']:>10.4f} "
              f"{fmt(r['ms_per_epoch'], '9.3f'):>9} {mse_s:>16} "
              f"{fmt(r['excess_over_optimum'], '.3e'):>12} {r['time_over_steepest']:>12.2f}")
    print()
    for r in rows:
        line = f"  {r['name']}: {r['note']}"
        if r.get("check"):
            line += f"  [check vs steepest: {r['check']}]"
        if "history_max_rel_diff" in r:
            line += f"  [loss history max rel diff {r['history_max_rel_diff']:.1e}]"
        print(line)
    for name, why in skipped:
        print(f"  {name}: skipped: {why}")
    if any(r["name"] == "sklearn-SGDRegressor" for r in rows):
        print("  note: sklearn-SGDRegressor is per-sample SGD (one update per row), not "
              "full-batch GD: its time and MSE are not those of the same algorithm.")
    for wline in warnings_out:
        print(wline)
    if not warnings_out and (full or not shuffle):
        print("check: every GD peer ended at steepest's final MSE within tolerance")

    # ---- JSON
    if args.json:
        def clean(r):
            out = {k: v for k, v in r.items() if k not in ("w", "b", "history")}
            if r.get("w") is not None:
                out["weights"] = [float(v) for v in r["w"]]
                out["bias"] = float(r["b"])
            if r["name"] == "steepest":
                out["weights"] = [float(v) for v in best["w"]]
                out["bias"] = best["b"]
            return out

        versions = {k: lib_version(k) for k in ("numpy", "scipy", "sklearn", "torch", "cupy",
                                               "jax", "threadpoolctl")}
        try:
            import torch
            versions["torch_cuda"] = torch.version.cuda
            versions["torch_cuda_available"] = torch.cuda.is_available()
        except Exception:
            pass
        doc = dict(
            date=_dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
            machine=dict(platform=platform.platform(), cpu=cpu_model(),
                         cpus_available=available_cpus(), cpu_count=os.cpu_count(),
                         mem_gib=mem_total_gib(), gpus=gpu_names(),
                         loadavg_1_5_15_at_start=load_at_start,
                         loadavg_1_5_15_at_end=list(os.getloadavg()),
                         hostname=platform.node()),
            python=sys.version.split()[0], versions=versions, blas=blas_info,
            steepest=dict(binary=exe, version=steepest_text(exe, "--version"),
                          binary_mtime=_dt.datetime.fromtimestamp(
                              os.path.getmtime(exe), _dt.timezone.utc).isoformat(
                                  timespec="seconds"),
                          info=steepest_text(exe, "info"),
                          repo_commit=git_commit(),
                          repo_commit_note="the repository's HEAD when the script ran; "
                                           "the binary may have been built from another "
                                           "tree (see binary_mtime)"),
            options={k: v for k, v in vars(args).items()},
            problem=dict(rows=n, features=d, storage_dtype=native, data=str(data),
                         generated_with=generated, mode=mode, optimum_mse=opt_mse,
                         optimum_weights=[float(v) for v in sol[:-1]],
                         optimum_bias=float(sol[-1])),
            timing=("fit loop only, data in memory in each tool's native form; fastest of "
                    "--repeats; steepest: model.json wall_seconds; time_over_steepest = "
                    "tool seconds / steepest seconds"),
            results=[clean(r) for r in rows],
            skipped=[dict(name=nm, reason=why) for nm, why in skipped],
            warnings=warnings_out,
        )
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        with open(args.json, "w") as f:
            json.dump(doc, f, indent=2)
            f.write("\n")
        print(f"wrote {args.json}")
    if blas_limit is not None:
        blas_limit.restore_original_limits()
    return 1 if warnings_out else 0


if __name__ == "__main__":
    sys.exit(main())
