"""The Ray backend: each run is a Ray task with the resources asked for.

Tasks are retried up to ``retries`` times when their worker or node dies; a retried task
finds its checkpoint (on storage every node sees) and resumes. Tasks return their rows
and the driver alone writes the store. Ray is imported only when this backend runs.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from scalinglaws.sweep import store as sweep_store
from scalinglaws.sweep.branches import BranchOrder
from scalinglaws.sweep.errors import SweepError
from scalinglaws.sweep.options import Callback, RunOptions, outcome, replace_threads
from scalinglaws.sweep.specs import RunSpec


@dataclass(frozen=True)
class RayResources:
    cpus: float | None
    gpus: float | None
    memory: int | None
    retries: int
    placement: str


def run_ray(specs: Sequence[RunSpec], store: Path, workers: int, options: RunOptions,
            address: str | None, resources: RayResources, on_result: Callback) -> None:
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
            options = replace_threads(options, max(1, cpus // workers))
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
                on_result(spec.run_id, outcome(row), None)
                order.settle(spec.run_id, True)
                queue_ += order.take()
        except BaseException:
            for ref in in_flight:
                ray.cancel(ref, force=True)
            raise
    finally:
        if started:
            ray.shutdown()


def _ray_train(spec: RunSpec, options: RunOptions) -> tuple[dict[str, object], list[Any]]:
    """A Ray task: train (or resume) one run, return its store rows (plain Python)."""
    import ray

    context = ray.get_runtime_context()
    owner = {"node_ip": ray.util.get_node_ip_address(), "node_id": context.get_node_id(),
             "task_id": context.get_task_id()}
    return options.train(spec, owner=owner).to_row()


def check_reachable(address: str, timeout: float = 10.0) -> None:
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
