"""Real data sets that ship inside the package, ready to fit.

>>> from scalinglaws.data import datasets
>>> len(datasets.load("chinchilla_epoch"))
240
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from scalinglaws.errors import DataError
from scalinglaws.data.runs import Runs, load_runs


@dataclass(frozen=True)
class Bundled:
    """A data set shipped with the package: its file, how to read it, and its source."""

    name: str
    filename: str
    columns: dict[str, str]
    where: str | None
    description: str


BUNDLED: dict[str, Bundled] = {
    "chinchilla_epoch": Bundled(
        name="chinchilla_epoch",
        filename="chinchilla_epoch.csv",
        columns={"n_params": "N_params", "n_tokens": "D_tokens", "flops": "C_flop", "loss": "loss"},
        where="excluded_by_epoch == 0",
        description="240 Chinchilla runs (Hoffmann et al. 2022, Fig. 4) as extracted and filtered by "
        "Epoch AI (Besiroglu et al. 2024)",
    ),
}


def names() -> list[str]:
    return sorted(BUNDLED)


def path(name: str) -> Path:
    """Where a bundled data set's file lies."""
    if name not in BUNDLED:
        raise DataError(f"no bundled data set {name!r}; bundled: {', '.join(names())}")
    return Path(str(resources.files("scalinglaws.data") / "bundled" / BUNDLED[name].filename))


def source(name: str) -> str:
    """The data set's provenance note (SOURCE)."""
    p = path(name).with_suffix(".md")
    return p.read_text(encoding="utf-8")


def load(name: str) -> Runs:
    """Load a bundled data set as :class:`Runs`, with its canonical columns and filter."""
    b = BUNDLED.get(name)
    if b is None:
        raise DataError(f"no bundled data set {name!r}; bundled: {', '.join(names())}")
    return load_runs(path(name), columns=b.columns, where=b.where)
