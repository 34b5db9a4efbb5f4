"""Run a sweep's pending runs into a store: local worker processes (default) or Ray.

:func:`run_sweep` lists the design in the store, skips every run already finished there,
and trains the rest. Every run checkpoints into ``<store>.ckpt/<run_id>/`` (see
:mod:`scalinglaws.sweep.checkpoint`) and starts from its newest checkpoint, so a run
killed anywhere loses at most the steps since its last checkpoint.

* **local**: spawned worker processes each train one run at a time, with
  ``cores // workers`` torch threads (GPUs taken round-robin), and write each finished
  run to the store themselves (one transaction per run). They report progress to the parent, which alone
  draws the progress bars. On Ctrl-C the parent stops them at once and closes the bars.
* **ray**: each run is a Ray task with the resources asked for (CPUs, GPUs, memory),
  retried up to ``retries`` times when its worker or node dies; a retried task finds its
  checkpoint (on storage every node sees) and resumes. Tasks return their rows and the
  driver alone writes the store.

Cooldown branches (runs with a ``parent``, see :mod:`scalinglaws.sweep.branches`) are
handed out only once their parent is in the store: the parent keeps its checkpoints at
the branch steps, each branch starts from one, and the parent's folder is deleted when
all its branches are done (unless checkpoints are kept). A branch of a failed parent
fails too, with that reason, and is retried next time.

Torch is imported only inside the workers (and to check ``device="cuda"``).
"""

from __future__ import annotations

import contextlib
import importlib.util
import ipaddress
import json
import multiprocessing as mp
import os
import queue
import signal
import socket
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from scalinglaws.sweep import store as sweep_store
from scalinglaws.sweep.branches import (
    BranchOrder,
    branch_points,
    drop_trunk_checkpoints,
)
from scalinglaws.sweep.errors import SweepError
from scalinglaws.sweep.specs import RunSpec, SweepDesign

BACKENDS: tuple[str, ...] = ("local", "ray")
PLACEMENTS: tuple[str, ...] = ("spread", "pack")
_PROGRESS_EVERY_S = 0.25  # a worker reports progress at most this often


@dataclass(frozen=True)
class SweepReport:
    """What a call to :func:`run_sweep` did.

    Attributes
    ----------
    done : tuple of str
        run_ids finished and written by this call.
    skipped : tuple of str
        run_ids already in the store, not run again.
    failed : dict of str to str
        run_id to error message for runs that raised (not written; retried next time).
    seconds : float
        Wall time of the call.
    resumed : dict of str to int
        run_id to the checkpoint step it resumed from, for the finished runs that did.
    """

    done: tuple[str, ...]
    skipped: tuple[str, ...]
    failed: dict[str, str] = field(default_factory=dict)
    seconds: float = 0.0
    resumed: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class _Options:
    """What every worker or task needs besides the spec (picklable)."""

    device: str
    threads: int
    checkpoint_root: str | None
    checkpoint_every: int | None
    keep_checkpoints: bool
    compile: bool | str
    peak_flops: float | None
    branch_points: dict[str, frozenset[int]] = field(default_factory=dict)

    def run_dir(self, run_id: str) -> Path | None:
        return None if self.checkpoint_root is None else Path(self.checkpoint_root) / run_id

    def train(self, spec: RunSpec, progress: Any = False,
              owner: dict[str, object] | None = None) -> Any:
        from scalinglaws.sweep.checkpoint import branch_point
        from scalinglaws.sweep.train import train

        parent = self.run_dir(spec.parent) if spec.parent else None
        return train(spec, device=self.device, threads=self.threads, progress=progress,
                     checkpoint_dir=self.run_dir(spec.run_id),
                     checkpoint_every=self.checkpoint_every,
                     final_checkpoint=self.keep_checkpoints, compile=self.compile,
                     peak_flops=self.peak_flops, owner=owner,
                     keep_steps=self.branch_points.get(spec.run_id, frozenset()),
                     branch_from=None if parent is None else branch_point(parent,
                                                                          spec.branch_step))

    def finished(self, run_id: str) -> None:
        """The run is in the store: drop its checkpoints unless asked to keep them (a
        trunk's go once its branches are done: :func:`run_sweep` sees to it)."""
        folder = self.run_dir(run_id)
        if folder is not None and not self.keep_checkpoints and run_id not in self.branch_points:
            from scalinglaws.sweep import checkpoint

            checkpoint.remove(folder)


def run_sweep(
    design: SweepDesign,
    store: str | Path,
    *,
    backend: str = "local",
    workers: int = 1,
    device: str = "auto",
    threads: int | None = None,
    progress: bool | None = None,
    ray_address: str | None = None,
    checkpoint_dir: str | Path | None = None,
    checkpoint_every: int | None = None,
    keep_checkpoints: bool = False,
    compile: bool | str = False,
    peak_flops: float | None = None,
    cpus_per_run: float | None = None,
    gpus_per_run: float | None = None,
    memory_per_run: int | None = None,
    retries: int = 3,
    placement: str = "spread",
) -> SweepReport:
    """Train every run of ``design`` not yet in ``store``.

    Parameters
    ----------
    design : SweepDesign
        The runs (see :func:`~scalinglaws.sweep.designfile.read_design`).
    store : str or Path
        The SQLite store; created if missing.
    backend : {"local", "ray"}
        Local worker processes, or Ray tasks (``pip install "scalinglaws[ray]"``).
    workers : int
        Runs trained at once.
    device : {"auto", "cpu", "cuda"}
        Where each run trains; ``"auto"`` takes a GPU when one is present.
    threads : int, optional
        Torch threads per run; default: the machine's cores divided by ``workers``
        (Ray: the cluster's CPUs divided by ``workers``).
    progress : bool, optional
        Show progress bars; default: when stderr is a terminal.
    ray_address : str, optional
        A running Ray cluster's address (``HOST:PORT`` of its head); default: start a
        local Ray instance (or use the one this process already joined).
    checkpoint_dir : str or Path, optional
        Root of the runs' checkpoint folders; default ``<store>.ckpt``. Under Ray it must
        be on storage every node sees.
    checkpoint_every : int, optional
        Steps between checkpoints; default: at every evaluation; 0: no checkpoints.
    keep_checkpoints : bool
        Keep each finished run's last checkpoint (default: delete the run's folder once
        its result is in the store).
    compile : bool or str
        Run models under ``torch.compile`` (a string names the backend).
    peak_flops : float, optional
        Peak FLOP/s of one device, for MFU; default: NVIDIA's figure for listed GPUs.
    cpus_per_run, gpus_per_run, memory_per_run : optional
        Ray resources of each task: CPUs (default ``threads``), GPUs (default 1 with
        ``device="cuda"``, else 0; fractions share a GPU) and memory in bytes (default:
        none reserved).
    retries : int
        Ray: times a task is retried after its worker process or node dies (a run that
        raises is not retried).
    placement : {"spread", "pack"}
        Ray: spread tasks across nodes (default), or let Ray pack them.

    Returns
    -------
    SweepReport

    Raises
    ------
    SweepError
        For a bad argument, a missing package, or ``device="cuda"`` without a GPU.
    KeyboardInterrupt
        On Ctrl-C, after the workers are stopped (the store stays consistent).
    """
    start = time.perf_counter()
    if backend not in BACKENDS:
        raise SweepError(f"unknown backend {backend!r}; use local or ray")
    _check_count("workers", workers, minimum=1)
    if threads is not None:
        _check_count("threads", threads, minimum=1)
    if device not in ("auto", "cpu", "cuda"):
        raise SweepError(f"unknown device {device!r}; use auto, cpu or cuda")
    if checkpoint_every is not None:
        _check_count("checkpoint_every", checkpoint_every, minimum=0)
    _check_count("retries", retries, minimum=0)
    if placement not in PLACEMENTS:
        raise SweepError(f"unknown placement {placement!r}; use spread or pack")
    for name, value in (("cpus_per_run", cpus_per_run), ("gpus_per_run", gpus_per_run),
                        ("memory_per_run", memory_per_run), ("peak_flops", peak_flops)):
        if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float))
                                  or not value >= (0 if name == "gpus_per_run" else 1e-9)):
            raise SweepError(f"{name} must be a positive number, got {value!r}")
    if backend == "ray":
        import_ray()  # fail before the store is touched
        if ray_address:
            _check_reachable(ray_address)
    elif not torch_available():
        raise SweepError('training needs PyTorch, which is not installed; run '
                         '`pip install "scalinglaws[sweep]"`')
    elif device == "cuda":
        from scalinglaws.sweep.hardware import resolve_device

        resolve_device("cuda")  # fail here, with a clear message, not in every worker
    sweep_store.record_design(
        store, [(r.run_id, r.budget, json.dumps(asdict(r), sort_keys=True)) for r in design.runs])
    finished = sweep_store.done_ids(store)
    # Longest first (biggest budget, then most steps), so no worker idles at the end.
    pending = sorted((r for r in design.runs if r.run_id not in finished),
                     key=lambda r: (-r.budget, -r.n_steps))
    skipped = tuple(r.run_id for r in design.runs if r.run_id in finished)
    points = branch_points(design, pending, finished, checkpoint_every)  # checks parents
    root: str | None = None
    if checkpoint_every != 0:
        from scalinglaws.sweep.checkpoint import root_for_store

        root = str(Path(checkpoint_dir).expanduser().resolve() if checkpoint_dir is not None
                   else root_for_store(store))
    options = _Options(device=device, threads=threads or 0, checkpoint_root=root,
                       checkpoint_every=checkpoint_every, keep_checkpoints=keep_checkpoints,
                       compile=compile, peak_flops=peak_flops, branch_points=points)
    show = sys.stderr.isatty() if progress is None else progress
    bars = _Bars(len(design.runs), len(skipped), show)
    done: list[str] = []
    failed: dict[str, str] = {}
    resumed: dict[str, int] = {}

    def on_result(run_id: str, outcome: dict[str, Any] | None, error: str | None) -> None:
        if error is None:
            done.append(run_id)
            if outcome and outcome.get("resumed_from_step"):
                resumed[run_id] = int(outcome["resumed_from_step"])
        else:
            failed[run_id] = error
            bars.write(f"run {run_id} failed: {error}")
        bars.run_finished(outcome, len(failed))

    try:
        if pending and backend == "local":
            _run_local(pending, Path(store), workers, options, bars, on_result)
        elif pending:
            _run_ray(pending, Path(store), workers, options, ray_address,
                     _RayResources(cpus_per_run, gpus_per_run, memory_per_run, retries,
                                   placement), on_result)
    finally:
        bars.close()
    if not keep_checkpoints and root is not None:
        drop_trunk_checkpoints(design, store, root, points)
    return SweepReport(done=tuple(done), skipped=skipped, failed=failed,
                       seconds=time.perf_counter() - start, resumed=resumed)


Callback = Callable[[str, "dict[str, Any] | None", "str | None"], None]


def _outcome(row: dict[str, object]) -> dict[str, Any]:
    """What the sweep bar and the report need from a finished run's row."""
    return {key: row.get(key) for key in ("loss", "mfu", "tokens_per_second",
                                          "resumed_from_step")}


# -- local worker processes ----------------------------------------------------------------

def _run_local(specs: Sequence[RunSpec], store: Path, workers: int, options: _Options,
               bars: _Bars, on_result: Callback) -> None:
    """Train ``specs`` in ``workers`` spawned processes; report each run to ``on_result``."""
    context = mp.get_context("spawn")
    if not options.threads:
        options = _replace_threads(options, max(1, _cores() // workers))
    workers = min(workers, len(specs))
    by_id = {spec.run_id: spec for spec in specs}
    tasks: Any = context.Queue()
    results: Any = context.Queue()
    order = BranchOrder(specs)
    remaining = len(specs)

    def hand_out() -> None:
        for spec in order.take():
            tasks.put(spec)
        if order.left == 0 and not stopped:
            stopped.append(True)
            for _ in range(workers):
                tasks.put(None)  # one stop sign per worker

    def settle(run_id: str, ok: bool) -> None:
        nonlocal remaining
        for child in order.settle(run_id, ok):
            remaining -= 1
            on_result(child, None, f"its parent run {by_id[child].parent} failed")
        hand_out()

    stopped: list[bool] = []
    hand_out()
    procs = [context.Process(target=_local_worker, daemon=True, name=f"sweep-worker-{i}",
                             args=(i, tasks, results, str(store), options, bars.enabled))
             for i in range(workers)]
    running: dict[int, str] = {}  # worker -> run_id it is training
    try:
        with _sigint_ignored():  # inherited: workers ignore Ctrl-C from their first moment
            for proc in procs:
                proc.start()
        while remaining:
            try:
                kind, worker, run_id, payload = results.get(timeout=0.5)
            except queue.Empty:
                for i, proc in enumerate(procs):  # a worker killed from outside (OOM...)
                    if not proc.is_alive() and proc.exitcode not in (0, None) and i in running:
                        remaining -= 1
                        bars.worker_idle(i)
                        run_id = running.pop(i)
                        on_result(run_id, None, f"worker died (exit code "
                                  f"{proc.exitcode}); its checkpoint is kept, and running "
                                  "the sweep again resumes it")
                        settle(run_id, False)
                if not any(proc.is_alive() for proc in procs) and results.empty():
                    codes = sorted({proc.exitcode for proc in procs}, key=str)
                    raise SweepError(
                        f"every worker process exited (exit codes {codes}) with {remaining} "
                        "run(s) not done; finished runs are in the store, and running the "
                        "same command again resumes")
                continue
            if kind == "start":
                running[worker] = run_id
                bars.worker_started(worker, by_id[run_id])
            elif kind == "progress":
                bars.worker_progress(worker, *payload)
            else:
                running.pop(worker, None)
                remaining -= 1
                bars.worker_idle(worker)
                if kind == "done":
                    on_result(run_id, payload, None)
                else:
                    on_result(run_id, None, payload)
                settle(run_id, kind == "done")
    finally:
        tasks.cancel_join_thread()  # runs never handed out must not block our exit
        for proc in procs:
            if proc.is_alive():
                proc.terminate()  # SIGTERM: a half-written transaction is rolled back
        for proc in procs:
            if proc.pid is not None:  # started
                proc.join()
        results.cancel_join_thread()
        for q in (tasks, results):  # release the queues' pipes and semaphores now
            q.close()


def _replace_threads(options: _Options, threads: int) -> _Options:
    from dataclasses import replace

    return replace(options, threads=threads)


@contextlib.contextmanager
def _sigint_ignored() -> Iterator[None]:
    """Ignore SIGINT in this block (main thread only), then restore the handler."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def _local_worker(index: int, tasks: Any, results: Any, store: str, options: _Options,
                  progress: bool) -> None:
    """A worker process: train runs from ``tasks`` until a stop sign, write each one.

    It draws nothing itself: progress goes to the parent, which owns the terminal.
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent handles Ctrl-C
    import torch

    torch.set_num_threads(options.threads)
    if options.device != "cpu" and torch.cuda.is_available():  # GPUs round-robin
        torch.cuda.set_device(index % torch.cuda.device_count())
    parent = os.getppid()
    while (spec := tasks.get()) is not None:
        if os.getppid() != parent:  # the parent was killed: take no new run, just leave
            results.cancel_join_thread()
            return
        results.put(("start", index, spec.run_id, None))
        try:
            result = options.train(spec, progress=_progress_sender(results, index, spec.run_id)
                                   if progress else False)
            row, curve = result.to_row()
            sweep_store.write_run(store, row, curve)
        except Exception as exc:  # noqa: BLE001 - reported, the sweep goes on
            results.put(("failed", index, spec.run_id, f"{type(exc).__name__}: {exc}"))
        else:
            options.finished(spec.run_id)
            results.put(("done", index, spec.run_id, _outcome(row)))


def _progress_sender(results: Any, index: int, run_id: str) -> Callable[..., None]:
    """A ``train`` progress hook that sends ``(steps, total, loss, mfu)`` a few times a second."""
    last = [0.0]

    def send(done: int, total: int, loss: float | None, mfu: float | None) -> None:
        now = time.monotonic()
        if now - last[0] >= _PROGRESS_EVERY_S or done == total:
            last[0] = now
            results.put(("progress", index, run_id, (done, total, loss, mfu)))
    return send


# -- Ray ------------------------------------------------------------------------------------

@dataclass(frozen=True)
class _RayResources:
    cpus: float | None
    gpus: float | None
    memory: int | None
    retries: int
    placement: str


def _run_ray(specs: Sequence[RunSpec], store: Path, workers: int, options: _Options,
             address: str | None, resources: _RayResources, on_result: Callback) -> None:
    """Train ``specs`` as Ray tasks, at most ``workers`` at once; the driver writes rows."""
    ray = import_ray()
    started = not ray.is_initialized()
    if started:
        try:
            ray.init(address=address, include_dashboard=False, log_to_driver=False,
                     **_loopback_node(address))
        except Exception as exc:  # noqa: BLE001 - Ray's many connection errors, in one line
            where = f"the Ray cluster at {address}" if address else "a new local Ray instance"
            raise SweepError(f"could not join {where}: {_first_line(exc)}") from None
    try:
        if not options.threads:
            cpus = int(ray.cluster_resources().get("CPU", 1))
            options = _replace_threads(options, max(1, cpus // workers))
        request: dict[str, Any] = {
            "num_cpus": resources.cpus if resources.cpus is not None else options.threads,
            "num_gpus": (resources.gpus if resources.gpus is not None
                         else 1 if options.device == "cuda" else 0),
            "max_retries": resources.retries, "retry_exceptions": False,
            "scheduling_strategy": "SPREAD" if resources.placement == "spread" else "DEFAULT",
        }
        if resources.memory is not None:
            request["memory"] = int(resources.memory)
        task = ray.remote(_ray_train).options(**request)
        order = BranchOrder(specs)
        queue_ = order.take()
        in_flight: dict[Any, RunSpec] = {}
        try:
            while queue_ or in_flight:
                while queue_ and len(in_flight) < workers:
                    spec = queue_.pop(0)
                    in_flight[task.remote(spec, options)] = spec
                ready, _ = ray.wait(list(in_flight), num_returns=1)
                spec = in_flight.pop(ready[0])
                try:
                    row, curve = ray.get(ready[0])
                except Exception as exc:  # noqa: BLE001 - the task raised or ran out of retries
                    on_result(spec.run_id, None, _first_line(exc))
                    for child in order.settle(spec.run_id, False):
                        on_result(child, None, f"its parent run {spec.run_id} failed")
                    continue
                sweep_store.write_run(store, row, curve)
                options.finished(spec.run_id)
                on_result(spec.run_id, _outcome(row), None)
                order.settle(spec.run_id, True)
                queue_ += order.take()
        except BaseException:
            for ref in in_flight:
                ray.cancel(ref, force=True)
            raise
    finally:
        if started:
            ray.shutdown()


def _ray_train(spec: RunSpec, options: _Options) -> tuple[dict[str, object], list[Any]]:
    """A Ray task: train (or resume) one run, return its store rows (plain Python)."""
    import ray

    context = ray.get_runtime_context()
    owner = {"node_ip": ray.util.get_node_ip_address(), "node_id": context.get_node_id(),
             "task_id": context.get_task_id()}
    return options.train(spec, owner=owner).to_row()


def _check_reachable(address: str, timeout: float = 10.0) -> None:
    """Fail at once if nothing listens at a ``HOST:PORT`` address (Ray would retry for
    minutes). Other forms (``auto``, ``ray://...``) are left to Ray."""
    host, _, port = address.rpartition(":")
    if not host or not port.isdigit() or "/" in host:
        return
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=timeout).close()
    except OSError as exc:
        raise SweepError(f"no Ray cluster answers at {address} ({exc.strerror or exc}); start "
                         "one with `ray start --head --port=PORT`, or check --address") from None


def _loopback_node(address: str | None) -> dict[str, str]:
    """For a head at a loopback address other than 127.0.0.1 (a cluster on one machine),
    join as that node: Ray would otherwise look for a raylet at 127.0.0.1."""
    if not address or address.count(":") != 1:
        return {}
    host = address.split(":")[0]
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        return {}
    return {"_node_ip_address": host} if ip.is_loopback and host != "127.0.0.1" else {}


def _first_line(exc: BaseException) -> str:
    """A Ray error in one line: its type and the most telling line of its message."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    telling = next((line for line in lines if "Error" in line or "error" in line), None)
    return f"{type(exc).__name__}: {telling or (lines[0] if lines else '')}"


def import_ray() -> Any:
    """Import Ray, or explain how to install it.

    Raises
    ------
    SweepError
        If Ray is not installed.
    """
    try:
        import ray
    except ImportError:
        raise SweepError('the ray backend needs Ray, which is not installed; run '
                         '`pip install "scalinglaws[ray]"`, or use --backend local') from None
    return ray


def torch_available() -> bool:
    """Whether PyTorch can be imported here (checked without importing it)."""
    return importlib.util.find_spec("torch") is not None


def _cores() -> int:
    """CPU cores this process may use."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def _check_count(name: str, value: object, *, minimum: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise SweepError(f"{name} must be an integer >= {minimum}, got {value!r}")


# -- progress bars ---------------------------------------------------------------------------

class _Bars:
    """The sweep's bar (runs done, ETA, last loss and MFU) and one bar per local worker.

    Only the parent process draws, so bars never interleave, and :meth:`close` leaves the
    terminal clean whatever stopped the sweep.
    """

    def __init__(self, total: int, initial: int, enabled: bool) -> None:
        self.enabled = enabled
        self._workers: dict[int, Any] = {}
        self._sweep: Any = None
        if enabled:
            from tqdm.auto import tqdm

            self._tqdm = tqdm
            self._sweep = tqdm(total=total, initial=initial, unit="run", desc="sweep",
                               position=0, dynamic_ncols=True)

    def write(self, message: str) -> None:
        if self._sweep is not None:
            self._sweep.write(message, file=sys.stderr)

    def run_finished(self, outcome: dict[str, Any] | None, n_failed: int) -> None:
        if self._sweep is None:
            return
        postfix = {"last_loss": "failed" if not outcome else f"{outcome['loss']:.3f}",
                   "failed": n_failed}
        if outcome and outcome.get("mfu") is not None:
            postfix["mfu"] = f"{100 * outcome['mfu']:.1f}%"
        if outcome and outcome.get("tokens_per_second"):
            postfix["tok/s"] = f"{outcome['tokens_per_second']:,.0f}"
        self._sweep.update(1)
        self._sweep.set_postfix(postfix)

    def worker_started(self, worker: int, spec: RunSpec) -> None:
        if not self.enabled:
            return
        self.worker_idle(worker)
        self._workers[worker] = self._tqdm(
            total=spec.n_steps * spec.tokens_per_step, unit="tok", unit_scale=True,
            desc=f"run {spec.run_id[:8]}", position=worker + 1, leave=False,
            dynamic_ncols=True)
        self._workers[worker].tokens_per_step = spec.tokens_per_step

    def worker_progress(self, worker: int, done: int, total: int, loss: float | None,
                        mfu: float | None) -> None:
        bar = self._workers.get(worker)
        if bar is None:
            return
        from scalinglaws.sweep.hardware import progress_postfix

        bar.update(done * bar.tokens_per_step - bar.n)
        bar.set_postfix(progress_postfix(loss, mfu), refresh=False)

    def worker_idle(self, worker: int) -> None:
        bar = self._workers.pop(worker, None)
        if bar is not None:
            bar.close()

    def close(self) -> None:
        for worker in list(self._workers):
            self.worker_idle(worker)
        if self._sweep is not None:
            self._sweep.close()
            self._sweep = None
