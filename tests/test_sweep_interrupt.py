"""Ctrl-C in a sweep with progress bars on a terminal: exit 130, bars closed, no warnings.

The sweep runs on a pseudo-terminal (so it draws its bars) in its own process group,
and gets SIGINT in the whole group, as a terminal sends it on Ctrl-C, while its workers
train. Before the fix each worker drew its own bar, so the bars interleaved and one
survived the interrupt, and stopping the workers leaked semaphores (a resource_tracker
warning at exit).
"""

from __future__ import annotations

import fcntl
import os
import pty
import re
import select
import signal
import struct
import subprocess
import sys
import termios
import time
from pathlib import Path

import pytest

from scalinglaws.sweep import DataSpec, design_sweep, read_runs, write_design

pytest.importorskip("torch")

SRC = Path(__file__).resolve().parents[1] / "src"
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


def _default_sigint() -> None:
    """Ctrl-C must reach the sweep even when the tests run from a background job (a
    shell starts those with SIGINT ignored, and an ignored signal is inherited)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _read_all(fd: int, proc: subprocess.Popen[bytes], until: float) -> bytes:
    """Everything the terminal shows until the process exits and closes it."""
    chunks = []
    while time.monotonic() < until:
        ready, _, _ = select.select([fd], [], [], 0.2)
        if ready:
            try:
                data = os.read(fd, 65536)
            except OSError:  # EIO: every writer closed the terminal
                break
            if not data:
                break
            chunks.append(data)
        elif proc.poll() is not None:
            break
    return b"".join(chunks)


@pytest.mark.slow
def test_ctrl_c_exits_130_with_bars_closed_and_no_leaked_semaphores(tmp_path: Path) -> None:
    design = design_sweep([4e9, 8e9], 2, seq_len=32, head_dim=4, batch_size=16, n_evals=4,
                          eval_tokens=1024, data=DataSpec(corpus="devils-dictionary"))
    store = tmp_path / "runs.db"
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 120, 0, 0))
    env = {**os.environ, "PYTHONPATH": f"{SRC}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "scalinglaws.sweep", "run",
         str(write_design(design, tmp_path / "sweep.toml")), "--store", str(store),
         "--workers", "2", "--threads", "1", "--device", "cpu", "--checkpoint-every", "10"],
        stdin=slave, stdout=slave, stderr=slave, env=env, start_new_session=True,
        preexec_fn=_default_sigint)
    os.close(slave)
    shown = b""
    try:
        deadline = time.monotonic() + 120
        while not list(Path(f"{store}.ckpt").glob("*/step-*.pt")):  # the workers train
            assert proc.poll() is None, _read_all(master, proc, time.monotonic() + 5)
            assert time.monotonic() < deadline, "no worker trained within 120 s"
            shown += _read_all(master, proc, time.monotonic() + 0.05)
        shown += _read_all(master, proc, time.monotonic() + 0.5)  # let the bars draw
        os.killpg(proc.pid, signal.SIGINT)  # Ctrl-C: the whole foreground group
        shown += _read_all(master, proc, time.monotonic() + 60)
        proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        os.close(master)
    text = shown.decode(errors="replace")
    assert proc.returncode == 130, text
    assert "run " in text and "tok/s" in text  # the workers' bars were drawn
    for bad in ("resource_tracker", "leaked", "Traceback", "Warning"):
        assert bad not in text, text
    # After the sweep bar's last drawing: only "interrupted", on a line of its own.
    tail = ANSI.sub("", text[text.rindex("sweep:"):])
    lines = [line.strip() for line in re.split(r"[\r\n]+", tail) if line.strip()]
    assert lines[-1] == "interrupted" and lines[0].startswith("sweep:"), lines
    assert not any(line.startswith("run ") for line in lines), lines
    assert len(read_runs(store)) < len(design.runs)  # it really was interrupted
