"""Run a sweep's pending runs into a store: local worker processes (default) or Ray.

:func:`run_sweep` lists the design in the store, skips every run already finished there,
and trains the rest. Every run checkpoints into ``<store>.ckpt/<run_id>/`` (see
:mod:`scalinglaws.sweep.checkpoint`) and starts from its newest checkpoint, so a run
killed anywhere loses at most the steps since its last checkpoint.

* **local** (:mod:`scalinglaws.sweep.local`): spawned worker processes each train one run at a time, with
  ``cores // workers`` torch threads (GPUs taken round-robin), and write each finished
  run to the store themselves (one transaction per run). They report progress to the
  parent, which alone draws the progress bars (:mod:`scalinglaws.sweep.progress`). On Ctrl-C the parent stops them at once and closes the bars.
* **ray** (:mod:`scalinglaws.sweep.ray_backend`): each run is a Ray task with the resources asked for (CPUs, GPUs, memory),
  retried up to ``retries`` times when its worker or node dies; a retried task finds its
  checkpoint (on storage every node sees) and resumes. Tasks return their rows and the
  driver alone writes the store.

Cooldown branches (runs with a ``parent``, see :mod:`scalinglaws.sweep.branches`) are
handed out only once their parent is in the store: the parent keeps its checkpoints at
the branch steps, each branch starts from one, and the parent's folder is deleted when
all its branches are done (unless checkpoints are kept). A branch of a failed parent
fails too, with that reason, and is retried next time.

Torch is imported only inside the workers (and to check ``device="cuda"``). What a worker
or task is handed besides the spec is :class:`~scalinglaws.sweep.options.RunOptions`.
"""

from __future__ import annotations

import importlib.util
import json
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from scalinglaws.sweep import store as sweep_store
from scalinglaws.sweep.branches import branch_points, drop_trunk_checkpoints
from scalinglaws.sweep.checks import check_int
from scalinglaws.sweep.errors import SweepError
from scalinglaws.sweep.local import run_local
from scalinglaws.sweep.options import Callback, RunOptions
from scalinglaws.sweep.progress import Bars
from scalinglaws.sweep.ray_backend import (
    RayResources,
    check_reachable,
    import_ray,
    run_ray,
)
from scalinglaws.sweep.specs import SweepDesign

__all__ = [
    "BACKENDS",
    "PLACEMENTS",
    "Callback",
    "SweepReport",
    "import_ray",
    "run_sweep",
    "torch_available",
]

BACKENDS: tuple[str, ...] = ("local", "ray")
PLACEMENTS: tuple[str, ...] = ("spread", "pack")


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
    check_int("workers", workers, minimum=1)
    if threads is not None:
        check_int("threads", threads, minimum=1)
    if device not in ("auto", "cpu", "cuda"):
        raise SweepError(f"unknown device {device!r}; use auto, cpu or cuda")
    if checkpoint_every is not None:
        check_int("checkpoint_every", checkpoint_every, minimum=0)
    check_int("retries", retries, minimum=0)
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
            check_reachable(ray_address)
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
    options = RunOptions(device=device, threads=threads or 0, checkpoint_root=root,
                         checkpoint_every=checkpoint_every, keep_checkpoints=keep_checkpoints,
                         compile=compile, peak_flops=peak_flops, branch_points=points)
    show = sys.stderr.isatty() if progress is None else progress
    bars = Bars(len(design.runs), len(skipped), show)
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
            run_local(pending, Path(store), workers, options, bars, on_result)
        elif pending:
            run_ray(pending, Path(store), workers, options, ray_address,
                    RayResources(cpus_per_run, gpus_per_run, memory_per_run, retries,
                                 placement), on_result)
    finally:
        bars.close()
    if not keep_checkpoints and root is not None:
        drop_trunk_checkpoints(design, store, root, points)
    return SweepReport(done=tuple(done), skipped=skipped, failed=failed,
                       seconds=time.perf_counter() - start, resumed=resumed)


def torch_available() -> bool:
    """Whether PyTorch can be imported here (checked without importing it)."""
    return importlib.util.find_spec("torch") is not None
