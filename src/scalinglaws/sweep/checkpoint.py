"""Within-run checkpoints: atomic files a killed run resumes from (needs torch).

A run's checkpoints live in their own folder, ``<root>/<run_id>/``, where ``root`` is
``<store>.ckpt`` unless chosen otherwise. Each checkpoint is one file,
``step-000000123.pt``, written to a temporary file in the same folder and moved into
place with :func:`os.replace`, so a reader sees a whole checkpoint or none, whatever
kills the writer. After a new one is in place the older ones are deleted.

A checkpoint holds everything the loop needs to go on as if it had never stopped: the
model and optimizer states, the number of steps done (the data position: batches are a
function of seed and step), the torch, CUDA, NumPy and Python RNG states, the evaluation
curve so far and the training seconds spent. :func:`latest` returns the newest readable
one. Files are read with ``torch.load(weights_only=True)``, which never runs code.

The folder also holds ``owner.json``: the host, process and (under Ray) node that last
started the run, for operators, and to tell which node to look at.

Branches: a run started from another run's checkpoint at step ``k`` (a cooldown branch,
see :mod:`scalinglaws.sweep.branches`) reads :func:`branch_point` of the parent's folder
and goes on with its own spec. The parent keeps those steps' files (``keep`` in
:func:`save`) until its branches are done.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import time
from pathlib import Path
from typing import Any

import torch

from scalinglaws.io import sync_folder
from scalinglaws.sweep.errors import SweepError

FORMAT = "scalinglaws-sweep-checkpoint"
VERSION = 1
_NAME = re.compile(r"^step-(\d{9})\.pt$")


def root_for_store(store: str | Path) -> Path:
    """The default checkpoint root of a store: ``runs.db`` -> ``runs.db.ckpt``."""
    store = Path(store).expanduser().resolve()
    return store.with_name(store.name + ".ckpt")


def run_dir(root: str | Path, run_id: str) -> Path:
    """The folder of one run's checkpoints."""
    return Path(root) / run_id


def save(folder: str | Path, step: int, state: dict[str, Any],
         keep: frozenset[int] | set[int] = frozenset()) -> Path:
    """Write ``state`` as the checkpoint of ``step`` atomically; delete older ones
    except those of the steps in ``keep`` (branch points).

    Returns
    -------
    Path
        The new checkpoint file.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    final = branch_point(folder, step)
    temporary = folder / f".{final.name}.{os.getpid()}.tmp"
    try:
        with temporary.open("wb") as handle:
            torch.save({"format": FORMAT, "version": VERSION, **state}, handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, final)
    finally:
        temporary.unlink(missing_ok=True)
    sync_folder(folder)
    for older in _steps(folder):
        if older[0] < step and older[0] not in keep:
            older[1].unlink(missing_ok=True)
    return final


def load(path: str | Path, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """Read one checkpoint file (tensors only: no code is run).

    Raises
    ------
    ValueError
        If the file is not a sweep checkpoint.
    """
    state = torch.load(path, map_location=map_location, weights_only=True)
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        raise ValueError(f"{path} is not a scalinglaws sweep checkpoint")
    return state


def latest(folder: str | Path, map_location: str | torch.device = "cpu"
           ) -> tuple[Path, dict[str, Any]] | None:
    """The newest readable checkpoint in ``folder`` as ``(path, state)``, or None.

    A file that cannot be read (it should not happen: files are moved into place whole)
    is skipped in favour of an older one.
    """
    for _, path in sorted(_steps(Path(folder)), reverse=True):
        try:
            return path, load(path, map_location)
        except Exception:  # noqa: BLE001, S112 - unreadable: fall back to an older one
            continue
    return None


def branch_point(folder: str | Path, step: int) -> Path:
    """The file of the checkpoint at ``step`` in a run's folder (it may not exist)."""
    return Path(folder) / f"step-{step:09d}.pt"


def load_branch_point(path: Path | None, *, run_id: str, parent: str, step: int,
                      data_sha256: str, map_location: str | torch.device = "cpu"
                      ) -> dict[str, Any]:
    """The parent's checkpoint a branch starts from, checked: it must exist, be the
    parent's at ``step`` and be written for the same data.

    Raises
    ------
    SweepError
        Naming the branch, the parent and what is wrong, in one line.
    """
    where = f"run {run_id} branches from run {parent} at step {step}"
    if path is None or not path.is_file():
        raise SweepError(f"{where}, but that checkpoint ({path}) does not exist; train the "
                         "parent in the same sweep (it keeps its branch points), with "
                         "checkpoints on")
    try:
        state = load(path, map_location)
    except Exception as exc:  # noqa: BLE001 - any unreadable file, in one line
        raise SweepError(f"{where}, but {path} cannot be read ({exc})") from None
    if state.get("run_id") != parent or int(state.get("step", -1)) != step:
        raise SweepError(f"{where}, but {path} holds run {state.get('run_id')} at step "
                         f"{state.get('step')}")
    if state.get("data_sha256") != data_sha256:
        raise SweepError(f"{where}, but the parent was trained on other data")
    return state


def write_owner(folder: str | Path, **extra: object) -> None:
    """Record which host and process (and Ray node, if given) is training the run."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    info = {"host": socket.gethostname(), "pid": os.getpid(),
            "started_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"), **extra}
    temporary = folder / f".owner.json.{os.getpid()}.tmp"
    temporary.write_text(json.dumps(info, sort_keys=True) + "\n")
    os.replace(temporary, folder / "owner.json")


def remove(folder: str | Path) -> None:
    """Delete a run's checkpoint folder (after its result is in the store)."""
    shutil.rmtree(folder, ignore_errors=True)
    parent = Path(folder).parent
    try:
        parent.rmdir()  # the root, once no run has checkpoints left
    except OSError:
        pass


def _steps(folder: Path) -> list[tuple[int, Path]]:
    if not folder.is_dir():
        return []
    found = []
    for path in folder.iterdir():
        match = _NAME.match(path.name)
        if match:
            found.append((int(match.group(1)), path))
    return found
