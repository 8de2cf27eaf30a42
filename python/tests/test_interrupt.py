"""Ctrl-C (SIGINT) during fit stops it cleanly: KeyboardInterrupt, a usable estimator."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).parent


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
def test_sigint_stops_the_fit_and_leaves_a_usable_estimator():
    child = subprocess.run([sys.executable, str(HERE / "_interrupt_child.py")], capture_output=True, text=True,
                           timeout=120)
    assert child.returncode == 0, child.stdout + child.stderr
    r = json.loads(child.stdout.strip().splitlines()[-1])
    # Python's default handler: the fit stopped soon after the signal, then
    # KeyboardInterrupt was raised.
    assert r["ended"] == "KeyboardInterrupt"
    assert r["seconds"] < 30, r
    assert r["stop_reason"] == "interrupted"
    # The parameters reached are kept: finite, better than the start, epochs counted.
    assert 0 < r["n_iter"] < 10**9 and r["curve_len"] == r["n_iter"]
    assert r["finite"] and r["loss_fell"] and r["mse"] < r["mse_initial"]
    # Python's handler is back in place after the fit.
    assert r["handler_restored"]
    # A handler of the program's own ran once, did not raise, and the fit returned.
    assert r["custom_ended"] == "returned" and r["custom_calls"] == 1
    assert r["custom_stop_reason"] == "interrupted"
    assert r["continued"]
