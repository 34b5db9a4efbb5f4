"""Runs and loss curves from Weights & Biases: offline run files written by ``wandb``, or CSV exports.

Offline runs
    ``wandb.init(mode="offline")`` writes each run to ``wandb/offline-run-<time>-<id>/``,
    whose ``run-<id>.wandb`` file is the run's transaction log: config, summary, every
    ``wandb.log`` call, and the exit code. wandb 0.31 offers no public way to read it
    without a server (``wandb.Api`` needs one; a local reader is only proposed upstream),
    so the log is read here: its framing is LevelDB's log format with a ``:W&B`` header
    (records of at most 32 KiB blocks, each chunk CRC-checked), and each record is
    decoded with wandb's own protobuf classes, ``wandb.proto.wandb_internal_pb2.Record``,
    an **internal** module. Hence the extra pins ``wandb>=0.31,<0.32``, the versions this
    was tested with: ``pip install 'scalinglaws[wandb]'``.

CSV exports (no ``wandb`` needed)
    Runs-table, panel and history exports: see :mod:`scalinglaws.data.trackers.exports`.

:func:`read_wandb_runs` and :func:`read_wandb_curves` take either: a ``.csv`` file is an
export; a ``.wandb`` file, a run folder, a ``wandb/`` folder or the folder holding
``wandb/`` are offline runs.
"""

from __future__ import annotations

import importlib
import json
import os
import struct
import zlib
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import pandas as pd

from scalinglaws.data.runs import Runs, load_runs
from scalinglaws.data.trackers.common import (
    curves_from_long,
    runs_from_records,
    unique_names,
)
from scalinglaws.data.trackers.exports import wandb_export_frame, wandb_export_long
from scalinglaws.errors import DataError

__all__ = ["read_wandb_curves", "read_wandb_runs", "wandb_run_files"]

_HEADER = struct.Struct("<4sHB")  # ident ":W&B", magic 0xBEE1, version 0
_CHUNK = struct.Struct("<IHB")  # crc32 of type byte + data, length, type
_BLOCK = 32768
_FULL, _FIRST, _MIDDLE, _LAST = 1, 2, 3, 4


@dataclass
class _OfflineRun:
    path: Path
    run_id: str = ""
    name: str = ""
    project: str = ""
    state: str = "running"  # until an exit record says otherwise
    config: dict[str, Any] = field(default_factory=dict)
    summary: dict[str, Any] = field(default_factory=dict)
    history: list[tuple[int, dict[str, float]]] = field(default_factory=list)


def wandb_run_files(path: str | os.PathLike[str]) -> list[Path]:
    """The ``run-*.wandb`` files under ``path`` (a file, a run folder, ``wandb/`` or its parent)."""
    p = Path(path)
    if p.is_file():
        return [p]
    if not p.is_dir():
        raise DataError(f"{p}: no such file or folder")
    for pattern in ("run-*.wandb", "*/run-*.wandb", "wandb/*/run-*.wandb"):
        found = sorted({f.resolve() for f in p.glob(pattern) if f.is_file()})
        if found:
            return found
    raise DataError(f"{p}: no W&B run files (run-<id>.wandb, as written by wandb.init(mode='offline'))")


def _payloads(path: Path) -> Iterator[bytes]:
    """The records of a transaction log, reassembled from their chunks; stops at a torn tail."""
    data = path.read_bytes()
    if len(data) < _HEADER.size or _HEADER.unpack_from(data)[:2] != (b":W&B", 0xBEE1):
        raise DataError(f"{path}: is not a W&B run file (no ':W&B' header)")
    i, pending = _HEADER.size, b""
    while i + _CHUNK.size <= len(data):
        left = _BLOCK - i % _BLOCK
        if left < _CHUNK.size:  # a block's tail too short for a chunk header is zero padding
            i += left
            continue
        crc, length, kind = _CHUNK.unpack_from(data, i)
        chunk = data[i + _CHUNK.size:i + _CHUNK.size + length]
        if crc == length == kind == 0 or len(chunk) < length:
            return  # preallocated zeros or a record still being written
        if zlib.crc32(chunk, zlib.crc32(bytes([kind]))) != crc or kind not in (_FULL, _FIRST, _MIDDLE, _LAST):
            raise DataError(f"{path}: corrupt record at byte {i} (checksum or type does not match)")
        i += _CHUNK.size + length
        pending = chunk if kind in (_FULL, _FIRST) else pending + chunk
        if kind in (_FULL, _LAST):
            yield pending
            pending = b""


def _key(item: Any) -> str:
    return ".".join(item.nested_key) if item.nested_key else item.key


def _flatten(key: str, value: Any, into: dict[str, Any]) -> None:
    if isinstance(value, dict):
        for k, v in value.items():
            _flatten(f"{key}.{k}", v, into)
    else:
        into[key] = value


def _read_offline(path: Path) -> _OfflineRun:
    try:
        # the record classes are re-exported by a star import that type checkers cannot follow
        Record = importlib.import_module("wandb.proto.wandb_internal_pb2").Record
    except ImportError:
        raise DataError(f"{path}: reading W&B run files needs wandb: pip install 'scalinglaws[wandb]'") from None
    DecodeError = importlib.import_module("google.protobuf.message").DecodeError

    run = _OfflineRun(path)
    for payload in _payloads(path):
        record = Record()
        try:
            record.ParseFromString(payload)
        except DecodeError:
            raise DataError(f"{path}: a record does not decode with this wandb's protobuf classes") from None
        kind = record.WhichOneof("record_type")
        if kind == "run":
            run.run_id, run.name, run.project = record.run.run_id, record.run.display_name, record.run.project
            updates = list(record.run.config.update)
        elif kind == "config":
            updates = list(record.config.update)
            for item in record.config.remove:
                run.config = {k: v for k, v in run.config.items() if k != _key(item) and not k.startswith(_key(item) + ".")}
        elif kind == "summary":
            for item in record.summary.update:
                if not _key(item).startswith("_"):
                    _flatten(_key(item), json.loads(item.value_json), run.summary)
            for item in record.summary.remove:
                run.summary.pop(_key(item), None)
            continue
        elif kind == "history":
            values = {_key(i): json.loads(i.value_json) for i in record.history.item}
            step = record.history.step.num if record.history.HasField("step") else values.get("_step", 0)
            numbers = {k: float(v) for k, v in values.items()
                       if not k.startswith("_") and isinstance(v, (int, float)) and not isinstance(v, bool)}
            run.history.append((int(step), numbers))
            continue
        elif kind == "exit":
            run.state = "finished" if record.exit.exit_code == 0 else "failed"
            continue
        else:
            continue
        for item in updates:
            if _key(item) != "_wandb":
                _flatten(_key(item), json.loads(item.value_json), run.config)
    run.run_id = run.run_id or path.stem.removeprefix("run-")
    run.name = run.name or run.run_id
    return run


def _offline_runs(path: str | os.PathLike[str]) -> list[_OfflineRun]:
    return [_read_offline(f) for f in wandb_run_files(path)]


def _is_export(path: str | os.PathLike[str]) -> bool:
    return Path(path).suffix.lower() in (".csv", ".tsv", ".txt")


def read_wandb_runs(
    path: str | os.PathLike[str],
    *,
    columns: Mapping[str, str] | None = None,
    where: str | None = None,
    finished_only: bool = False,
) -> Runs:
    """Runs from W&B: offline run files (one row per run) or a runs-table CSV export.

    Offline runs give ``run`` (display name; ``name (id)`` where names repeat),
    ``run_id``, ``project``, ``State`` (``finished``, ``failed``, or ``running`` while
    the run has not exited), every config value and every summary value (nested keys
    joined with ``.``; summary wins over config on a clash). An export's ``Name`` becomes
    ``run``; ``config.``/``summary.`` prefixes are dropped where the plain name is free.
    Map the canonical columns with ``columns=`` as in :func:`scalinglaws.load_runs`
    (e.g. ``{"n_params": "params", "loss": "val/loss"}``).

    Parameters
    ----------
    path : path
        A ``.csv`` export, or a ``.wandb`` file / run folder / ``wandb`` folder / its parent.
    finished_only : bool
        Keep only runs whose ``State`` is ``finished``.
    """
    if _is_export(path):
        runs = load_runs(wandb_export_frame(path, finished_only=finished_only), columns=columns, where=where)
        return replace(runs, source=os.fspath(path))
    offline = _offline_runs(path)
    if finished_only:
        offline = [r for r in offline if r.state == "finished"]
        if not offline:
            raise DataError(f"{path}: no run has State 'finished'")
    records = [{"run": r.name, "run_id": r.run_id, "project": r.project, "State": r.state, **r.config, **r.summary}
               for r in offline]
    return runs_from_records(records, os.fspath(path), columns=columns, where=where)


def read_wandb_curves(
    paths: str | os.PathLike[str] | Sequence[str | os.PathLike[str]],
    *,
    metric: str = "loss",
    lr: str | None = "lr",
    run: str | None = None,
) -> pd.DataFrame:
    """Loss curves from W&B: offline run files, and/or panel and history CSV exports.

    Parameters
    ----------
    paths : path or list of paths
        Offline runs (a ``.wandb`` file, a run folder, a ``wandb`` folder or its parent:
        every ``wandb.log`` call's numbers at its step) and/or CSV files. A panel export
        holds one metric for several runs (give the loss panel and the learning-rate
        panel); a history export holds several metrics of one run (its run id is the
        file's ``run``/``name`` column, or the file name).
    metric : str
        The loss metric's name (``loss``, ``val/loss``, ...).
    lr : str or None
        The learning-rate metric's name; None if not logged.
    run : str, optional
        Run id for history exports without a run column (default: the file's stem).

    Returns
    -------
    pandas.DataFrame
        Columns ``run``, ``step``, ``loss``, ``lr`` (NaN where not logged), sorted.
    """
    files = [paths] if isinstance(paths, (str, os.PathLike)) else list(paths)
    if not files:
        raise DataError("read_wandb_curves needs at least one file or folder")
    long = []
    for path in files:
        if _is_export(path):
            long.append(wandb_export_long(path, run))
            continue
        offline = _offline_runs(path)
        names = unique_names([r.name for r in offline], [r.run_id for r in offline])
        for r, name in zip(offline, names):
            rows = [(step, k, v) for step, values in r.history for k, v in values.items()]
            long.append(pd.DataFrame({"run": name, "step": [t[0] for t in rows],
                                      "metric": [t[1] for t in rows], "value": [t[2] for t in rows]}))
    table = pd.concat(long, ignore_index=True)
    return curves_from_long(table, metric, lr, "the W&B runs")
