"""A real Ray cluster on this machine: a head and two worker nodes as separate processes.

The sweep runs on it with ``--backend ray --address``; once both nodes are training and
one run has a checkpoint, that run's node is killed (its whole process tree, SIGKILL).
The sweep must still finish with every run in the store exactly once, and the killed
run must resume from its checkpoint on the other node.

Every address is a loopback one: the head listens on 127.0.0.2 and the workers on
127.0.0.3 and 127.0.0.4 (Ray rewrites 127.0.0.1 to the machine's network address, so a
one-machine cluster uses the other loopback addresses). Each node has its own temporary
folder and ports; every process started here is killed by its id when the test ends.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from scalinglaws.sweep import (
    DataSpec,
    RunSpec,
    SweepDesign,
    read_curves,
    read_runs,
    write_design,
)

pytest.importorskip("torch")
pytest.importorskip("ray", reason="ray is not installed (pip install 'scalinglaws[ray]')")
psutil = pytest.importorskip("psutil")

SRC = Path(__file__).resolve().parents[1] / "src"
HEAD_IP, WORKER_IPS = "127.0.0.2", ("127.0.0.3", "127.0.0.4")
MARKER = "SCALINGLAWS_TEST_RAY_CLUSTER"


def _free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def _ray_cli() -> str:
    beside = Path(sys.executable).parent / "ray"
    found = str(beside) if beside.exists() else shutil.which("ray")
    if found is None:
        pytest.skip("the ray command is not on PATH")
    return found


class Cluster:
    """Handles to the node processes (``ray start --block``, each its own session)."""

    def __init__(self, root: Path, env: dict[str, str]) -> None:
        self.root, self.env, self.port = root, env, _free_port(HEAD_IP)
        self.address = f"{HEAD_IP}:{self.port}"
        self.nodes: dict[str, subprocess.Popen[bytes]] = {}

    def start_node(self, ip: str, *extra: str) -> None:
        name = "head" if ip == HEAD_IP else ip
        command = [_ray_cli(), "start", "--block", f"--node-ip-address={ip}",
                   f"--temp-dir={self.root / name.replace('.', '_')}",
                   "--object-store-memory=80000000", "--disable-usage-stats",
                   f"--dashboard-agent-listen-port={_free_port()}",
                   f"--metrics-export-port={_free_port()}", *extra]
        with (self.root / f"{name}.log").open("wb") as log:
            self.nodes[ip] = subprocess.Popen(command, env=self.env, stdout=log,
                                              stderr=subprocess.STDOUT, start_new_session=True)

    def wait_for_head(self, deadline: float) -> None:
        while time.monotonic() < deadline:
            if self.nodes[HEAD_IP].poll() is not None:
                pytest.fail("the Ray head exited:\n" + self.log("head"))
            try:
                socket.create_connection((HEAD_IP, self.port), timeout=0.5).close()
                return
            except OSError:
                time.sleep(0.2)
        pytest.fail("the Ray head did not start:\n" + self.log("head"))

    def log(self, name: str) -> str:
        path = self.root / f"{name}.log"
        return path.read_text(errors="replace")[-3000:] if path.exists() else ""

    def kill_node(self, ip: str) -> int:
        """SIGKILL a node's whole process tree (raylet, its workers, the rest)."""
        proc = self.nodes[ip]
        victims = _tree(proc.pid)
        for victim in victims:
            with _gone():
                victim.kill()
        with _gone():
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
        return len(victims)

    def stop(self) -> None:
        """Kill every process this cluster started: the trees, then any orphan of ours."""
        for proc in self.nodes.values():
            for victim in _tree(proc.pid):
                with _gone():
                    victim.kill()
            with _gone():
                os.killpg(proc.pid, signal.SIGKILL)
        for proc in self.nodes.values():
            with _gone():
                proc.wait(timeout=30)
        token = self.env[MARKER]
        for other in psutil.process_iter():  # workers orphaned by a killed raylet
            with _gone():
                if other.pid != os.getpid() and other.environ().get(MARKER) == token:
                    other.kill()


class _gone:
    """Ignore a process that has already exited."""

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: object, value: object, tb: object) -> bool:
        return isinstance(value, (ProcessLookupError, psutil.NoSuchProcess,
                                  psutil.AccessDenied, subprocess.TimeoutExpired))


def _tree(pid: int) -> list[object]:
    try:
        parent = psutil.Process(pid)
        return [parent, *parent.children(recursive=True)]
    except psutil.NoSuchProcess:
        return []


@pytest.fixture
def cluster() -> Iterator[Cluster]:
    root = Path(tempfile.mkdtemp(prefix="slray", dir="/tmp"))  # short: Unix socket paths
    env = {**os.environ,
           "PYTHONPATH": f"{SRC}{os.pathsep}{os.environ.get('PYTHONPATH', '')}",
           MARKER: secrets.token_hex(8),
           "RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": secrets.token_hex(32),
           "RAY_USAGE_STATS_ENABLED": "0",
           # Notice a dead node within about 2 s, not the default 15-30 s.
           "RAY_health_check_period_ms": "500", "RAY_health_check_timeout_ms": "1000",
           "RAY_health_check_failure_threshold": "3"}
    handle = Cluster(root, env)
    try:
        yield handle
    finally:
        handle.stop()
        shutil.rmtree(root, ignore_errors=True)


def _design() -> SweepDesign:
    """Four runs on the shipped English text; the two long ones go out first."""
    data = DataSpec(corpus="devils-dictionary")
    return SweepDesign(runs=tuple(
        RunSpec(budget=budget, n_layer=1, d_model=width, n_head=2, batch_size=8, seq_len=32,
                n_tokens=steps * 8 * 32, lr=3e-3, n_evals=4, eval_tokens=1024, data=data)
        for budget, width, steps in ((2e9, 32, 1500), (2e9, 24, 1500), (1e9, 32, 500),
                                     (1e9, 24, 500))))


def _training(root: Path) -> dict[str, tuple[str, int]]:
    """run_id -> (node IP training it, newest checkpoint step) from the checkpoint folders."""
    found: dict[str, tuple[str, int]] = {}
    if not root.is_dir():
        return found
    for folder in root.iterdir():
        try:
            owner = json.loads((folder / "owner.json").read_text())
        except (OSError, ValueError):
            continue
        steps = [int(p.name[5:14]) for p in folder.glob("step-*.pt")]
        found[folder.name] = (str(owner.get("node_ip")), max(steps, default=0))
    return found


@pytest.mark.slow
def test_sweep_survives_a_killed_node_and_resumes_its_run(cluster: Cluster,
                                                          tmp_path: Path) -> None:
    deadline = time.monotonic() + 240
    design = _design()
    steps = {run.run_id: run.n_steps for run in design.runs}
    design_path = write_design(design, tmp_path / "sweep.toml")
    store, checkpoints = tmp_path / "runs.db", tmp_path / "checkpoints"

    cluster.start_node(HEAD_IP, "--head", f"--port={cluster.port}", "--num-cpus=0",
                       "--include-dashboard=false", f"--dashboard-port={_free_port()}")
    cluster.wait_for_head(deadline)
    for ip in WORKER_IPS:
        cluster.start_node(ip, f"--address={cluster.address}", "--num-cpus=1")
    sweep = subprocess.Popen(
        [sys.executable, "-m", "scalinglaws.sweep", "run", str(design_path), "--store",
         str(store), "--backend", "ray", "--address", cluster.address, "--workers", "2",
         "--threads", "1", "--cpus-per-run", "1", "--memory-per-run", "256M",
         "--retries", "3", "--device", "cpu", "--checkpoint-dir", str(checkpoints),
         "--checkpoint-every", "20", "--quiet"],
        env=cluster.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        start_new_session=True)
    try:
        # Wait until both worker nodes train a run and one run has a checkpoint well
        # before its end; then kill that run's node.
        victim = None
        while victim is None:
            if sweep.poll() is not None or time.monotonic() > deadline:
                out, err = sweep.communicate(timeout=30)
                pytest.fail(f"no run to interrupt on two nodes: {_training(checkpoints)}\n"
                            f"{out}\n{err}\n{cluster.log('127.0.0.3')}")
            seen = _training(checkpoints)
            if {ip for ip, _ in seen.values()} >= set(WORKER_IPS):
                victim = next(((run_id, ip, step) for run_id, (ip, step) in seen.items()
                               if 0 < step < steps[run_id] - 200), None)
            time.sleep(0.02)
        run_id, node_ip, step = victim
        killed = cluster.kill_node(node_ip)
        killed_at = time.monotonic()
        out, err = sweep.communicate(timeout=max(30.0, deadline - time.monotonic()))
        recovered = time.monotonic() - killed_at
    finally:
        if sweep.poll() is None:
            os.killpg(sweep.pid, signal.SIGKILL)
            sweep.wait()
    assert sweep.returncode == 0, f"{out}\n{err}"

    runs, curves = read_runs(store), read_curves(store)
    assert sorted(runs["run_id"]) == sorted(steps)  # every run, exactly once
    assert runs["run_id"].is_unique and (curves.groupby("run_id").size() == 4).all()
    resumed = dict(zip(runs["run_id"], runs["resumed_from_step"]))
    assert resumed[run_id] >= step > 0  # from its last checkpoint, not from scratch
    assert f"resumed: {run_id} from its checkpoint at step {resumed[run_id]}" in out
    assert not checkpoints.exists()  # removed once every run was stored
    print(f"\ncluster: head {cluster.address} (0 CPUs), workers {', '.join(WORKER_IPS)} "
          f"(1 CPU each)\nruns: {len(steps)} ({', '.join(f'{k[:8]}:{v} steps' for k, v in steps.items())})"
          f"\nkilled node {node_ip} ({killed} processes) while it trained run {run_id} "
          f"with a checkpoint at step {step}\nthe sweep finished {recovered:.1f} s later; "
          f"runs in the store: {len(runs)}, each once\nresumed_from_step per run: "
          + ", ".join(f"{k[:8]}={int(v)}" for k, v in resumed.items())
          + f"\nsweep output:\n{out}")
