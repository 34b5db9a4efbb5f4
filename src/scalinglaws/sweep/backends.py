"""Run a sweep's pending runs into a store: local worker processes (default) or Ray.

:func:`run_sweep` lists the design in the store, skips every run already finished there
(resume), and trains the rest. Local workers are spawned processes that each train one
run at a time, with ``cores // workers`` torch threads, and write each finished run to
the store themselves (one transaction per run). Ray tasks return their rows and the
driver writes them. On Ctrl-C the workers are stopped at once: finished runs stay, the
interrupted ones are simply absent, and the next ``run_sweep`` resumes from there.

Torch is imported only inside the workers (and to check ``device="cuda"``).
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import multiprocessing as mp
import os
import queue
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from scalinglaws.sweep import store as sweep_store
from scalinglaws.sweep.design import RunSpec, SweepDesign
from scalinglaws.sweep.errors import SweepError

BACKENDS: tuple[str, ...] = ("local", "ray")


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
    """

    done: tuple[str, ...]
    skipped: tuple[str, ...]
    failed: dict[str, str] = field(default_factory=dict)
    seconds: float = 0.0


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
        (Ray: the cluster's CPUs divided by ``workers``). One thread is often fastest for
        the tiniest models.
    progress : bool, optional
        Show progress bars; default: when stderr is a terminal.
    ray_address : str, optional
        A running Ray cluster's address; default: start a local Ray instance.

    Returns
    -------
    SweepReport

    Raises
    ------
    SweepError
        For an unknown backend, a bad worker count, or ``device="cuda"`` without a GPU.
    KeyboardInterrupt
        On Ctrl-C, after the workers are stopped (the store stays consistent).
    """
    start = time.perf_counter()
    if backend not in BACKENDS:
        raise SweepError(f"unknown backend {backend!r}; use local or ray")
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise SweepError(f"workers must be a positive integer, got {workers!r}")
    if threads is not None and (isinstance(threads, bool) or not isinstance(threads, int)
                                or threads < 1):
        raise SweepError(f"threads must be a positive integer, got {threads!r}")
    if device not in ("auto", "cpu", "cuda"):
        raise SweepError(f"unknown device {device!r}; use auto, cpu or cuda")
    if backend == "ray":
        import_ray()  # fail before the store is touched
    elif not torch_available():
        raise SweepError('training needs PyTorch, which is not installed; run '
                         '`pip install "scalinglaws[sweep]"`')
    elif device == "cuda":
        from scalinglaws.sweep.train import resolve_device

        resolve_device("cuda")  # fail here, with a clear message, not in every worker
    sweep_store.record_design(
        store, [(r.run_id, r.budget, json.dumps(asdict(r), sort_keys=True)) for r in design.runs])
    finished = sweep_store.done_ids(store)
    # Longest first (biggest budget, then most steps), so no worker idles at the end.
    pending = sorted((r for r in design.runs if r.run_id not in finished),
                     key=lambda r: (-r.budget, -r.n_steps))
    skipped = tuple(r.run_id for r in design.runs if r.run_id in finished)
    show = sys.stderr.isatty() if progress is None else progress
    bar = _sweep_bar(len(design.runs), len(skipped), show)
    done: list[str] = []
    failed: dict[str, str] = {}

    def on_result(run_id: str, loss: float | None, error: str | None) -> None:
        if error is None:
            done.append(run_id)
        else:
            failed[run_id] = error
            if bar is not None:  # say it now; the report (and the CLI) says it at the end
                bar.write(f"run {run_id} failed: {error}", file=sys.stderr)
        if bar is not None:
            bar.update(1)
            bar.set_postfix(last_loss="failed" if loss is None else f"{loss:.3f}",
                            failed=len(failed))

    try:
        if pending and backend == "local":
            _run_local(pending, Path(store), workers, device, threads, show, on_result)
        elif pending:
            _run_ray(pending, Path(store), workers, device, threads, ray_address, on_result)
    finally:
        if bar is not None:
            bar.close()
    return SweepReport(done=tuple(done), skipped=skipped, failed=failed,
                       seconds=time.perf_counter() - start)


Callback = Callable[[str, "float | None", "str | None"], None]


def _run_local(specs: Sequence[RunSpec], store: Path, workers: int, device: str,
               threads: int | None, progress: bool, on_result: Callback) -> None:
    """Train ``specs`` in ``workers`` spawned processes; report each run to ``on_result``."""
    context = mp.get_context("spawn")
    threads = threads or max(1, _cores() // workers)
    workers = min(workers, len(specs))
    tasks: Any = context.Queue()
    results: Any = context.Queue()
    for spec in specs:
        tasks.put(spec)
    for _ in range(workers):
        tasks.put(None)  # one stop sign per worker
    procs = [context.Process(target=_local_worker, daemon=True, name=f"sweep-worker-{i}",
                             args=(i, tasks, results, str(store), device, threads, progress))
             for i in range(workers)]
    running: dict[int, str] = {}  # worker -> run_id it is training
    remaining = len(specs)
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
                        on_result(running.pop(i), None, f"worker died (exit code {proc.exitcode})")
                if not any(proc.is_alive() for proc in procs) and results.empty():
                    codes = sorted({proc.exitcode for proc in procs}, key=str)
                    raise SweepError(
                        f"every worker process exited (exit codes {codes}) with {remaining} "
                        "run(s) not done; finished runs are in the store, and running the "
                        "same command again resumes")
                continue
            if kind == "start":
                running[worker] = run_id
                continue
            running.pop(worker, None)
            remaining -= 1
            if kind == "done":
                on_result(run_id, payload, None)
            else:
                on_result(run_id, None, payload)
    finally:
        tasks.cancel_join_thread()  # runs never handed out must not block our exit
        for proc in procs:
            if proc.is_alive():
                proc.terminate()  # SIGTERM: a half-written transaction is rolled back
        for proc in procs:
            if proc.pid is not None:  # started
                proc.join()


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


def _local_worker(index: int, tasks: Any, results: Any, store: str, device: str,
                  threads: int, progress: bool) -> None:
    """A worker process: train runs from ``tasks`` until a stop sign, write each one."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent handles Ctrl-C
    import torch

    from scalinglaws.sweep.train import train

    torch.set_num_threads(threads)
    parent = os.getppid()
    while (spec := tasks.get()) is not None:
        if os.getppid() != parent:  # the parent was killed: take no new run, just leave
            results.cancel_join_thread()
            return
        results.put(("start", index, spec.run_id, None))
        try:
            result = train(spec, device=device, progress=progress, position=index + 1)
            sweep_store.write_run(store, *result.to_row())
        except Exception as exc:  # noqa: BLE001 - reported, the sweep goes on
            results.put(("failed", index, spec.run_id, f"{type(exc).__name__}: {exc}"))
        else:
            results.put(("done", index, spec.run_id, result.loss))


def _run_ray(specs: Sequence[RunSpec], store: Path, workers: int, device: str,
             threads: int | None, address: str | None, on_result: Callback) -> None:
    """Train ``specs`` as Ray tasks, at most ``workers`` at once; the driver writes rows."""
    ray = import_ray()
    started = not ray.is_initialized()
    if started:
        ray.init(address=address, include_dashboard=False, log_to_driver=False)
    try:
        threads = threads or max(1, int(ray.cluster_resources().get("CPU", 1)) // workers)
        task = ray.remote(num_cpus=threads, num_gpus=1 if device == "cuda" else 0,
                          max_retries=0)(_ray_train)
        queue_ = list(specs)
        in_flight: dict[Any, RunSpec] = {}
        try:
            while queue_ or in_flight:
                while queue_ and len(in_flight) < workers:
                    spec = queue_.pop(0)
                    in_flight[task.remote(spec, device, threads)] = spec
                ready, _ = ray.wait(list(in_flight), num_returns=1)
                spec = in_flight.pop(ready[0])
                try:
                    row, curve = ray.get(ready[0])
                except Exception as exc:  # noqa: BLE001 - the task raised; reported
                    on_result(spec.run_id, None, f"{type(exc).__name__}: {exc}".splitlines()[0])
                    continue
                sweep_store.write_run(store, row, curve)
                on_result(spec.run_id, float(row["loss"]), None)  # type: ignore[arg-type]
        except BaseException:
            for ref in in_flight:
                ray.cancel(ref, force=True)
            raise
    finally:
        if started:
            ray.shutdown()


def _ray_train(spec: RunSpec, device: str, threads: int) -> tuple[dict[str, object], list[Any]]:
    """A Ray task: train one run, return its store rows (plain Python, no torch objects)."""
    from scalinglaws.sweep.train import train

    return train(spec, device=device, threads=threads).to_row()


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


def _sweep_bar(total: int, initial: int, enabled: bool) -> Any:
    """The sweep-level tqdm bar (runs done, ETA), or None."""
    if not enabled:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=total, initial=initial, unit="run", desc="sweep", position=0,
                dynamic_ncols=True)
