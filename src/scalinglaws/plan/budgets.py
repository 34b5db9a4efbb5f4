"""Which runs share a compute budget: the one budget grouping of the package.

An IsoFLOP design trains several model sizes at each of a few exact budgets; such runs
are grouped by their exact budget. Runs that are not such a design (budgets measured
rather than designed, or a scatter of runs like the bundled Chinchilla table) are
grouped by :func:`cluster_budgets`: sorted log10 budgets split at gaps wider than a
tolerance, and any cluster wider than four tolerances split at its widest gap. With
``bins=k`` the budgets are binned into fixed bins of ``1/k`` decade instead.
:func:`group_budgets` chooses between the three and says which in words.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from scalinglaws.errors import DataError

#: Gap (decades of compute) that separates two clusters of budgets.
CLUSTER_TOLERANCE = 0.02
#: Fewest distinct sizes an automatically found cluster needs to be kept as a budget.
AUTO_MIN_SIZES = 5


def cluster_budgets(c: np.ndarray, tolerance: float = CLUSTER_TOLERANCE) -> tuple[list[np.ndarray], list[float]]:
    """Cluster compute values into budgets.

    Split the sorted log10 values at gaps wider than ``tolerance`` decades, then split
    any cluster wider than ``4 * tolerance`` at its widest gap until none is.

    Returns
    -------
    members : list of boolean arrays of shape (n,)
    budgets : list of float
        Geometric mean of each cluster, in increasing order.
    """
    logc = np.log10(np.asarray(c, dtype=float))
    order = np.argsort(logc, kind="stable")
    parts = np.split(order, np.flatnonzero(np.diff(logc[order]) > tolerance) + 1)
    done: list[np.ndarray] = []
    while parts:
        part = parts.pop()
        values = logc[part]
        if values.size > 1 and values[-1] - values[0] > 4 * tolerance:
            cut = int(np.argmax(np.diff(values))) + 1
            parts += [part[:cut], part[cut:]]
        else:
            done.append(part)
    done.sort(key=lambda p: logc[p[0]])
    members, budgets = [], []
    for part in done:
        m = np.zeros(logc.size, bool)
        m[part] = True
        members.append(m)
        budgets.append(float(10 ** np.mean(logc[part])))
    return members, budgets


@dataclass(frozen=True)
class Grouping:
    """Budgets found in the runs.

    Attributes
    ----------
    members : tuple of int arrays
        Row indices of each kept budget, in increasing budget order.
    budgets : tuple of float
        Each budget (exact, or the geometric mean of its runs).
    how : str
        ``"exact"``, ``"bins"`` or ``"clusters"``.
    description : str
        One sentence saying how the runs were grouped and what was dropped (empty for
        an exact design with nothing dropped).
    dropped : int
        Runs in groups too small to keep (automatic grouping only).
    """

    members: tuple[np.ndarray, ...]
    budgets: tuple[float, ...]
    how: str
    description: str = ""
    dropped: int = 0


def _sizes(n: np.ndarray, idx: np.ndarray) -> int:
    return int(np.unique(n[idx]).size)


def is_design(c: np.ndarray, n: np.ndarray, need: int) -> bool:
    """Whether the runs are an IsoFLOP design: at least half of them share their exact
    budget with runs of ``need - 1`` other sizes (``group_budgets`` asks for 3)."""
    key = np.round(np.log(c) * 1e6).astype(np.int64)
    inside = 0
    for k in np.unique(key):
        idx = np.flatnonzero(key == k)
        if _sizes(n, idx) >= need:
            inside += idx.size
    return inside >= 0.5 * c.size


def group_budgets(c: np.ndarray, n: np.ndarray, *, bins: int | str | None = "auto", need: int = 3) -> Grouping:
    """Group runs with compute ``c`` and sizes ``n`` into budgets.

    Parameters
    ----------
    bins : "auto", None or int
        ``None``: exact budgets. An integer ``k``: bins of ``1/k`` decade. ``"auto"``:
        exact budgets for an IsoFLOP design (:func:`is_design`), else clusters
        (:func:`cluster_budgets`) of at least :data:`AUTO_MIN_SIZES` distinct sizes,
        the smaller ones dropped.
    need : int
        Sizes a budget's curve needs (reported when a cluster is too small).
    """
    c = np.asarray(c, dtype=float)
    n = np.asarray(n, dtype=float)
    if bins == "auto":
        bins = None if is_design(c, n, 3) else "clusters"
    if bins is None:
        key = np.round(np.log(c) * 1e6).astype(np.int64)
        members = [np.flatnonzero(key == k) for k in np.unique(key)]
        return Grouping(tuple(members), tuple(_centre(c[m]) for m in members), "exact")
    if bins == "clusters":
        masks, centres = cluster_budgets(c)
        keep = [(np.flatnonzero(m), b) for m, b in zip(masks, centres) if _sizes(n, np.flatnonzero(m)) >= max(need, AUTO_MIN_SIZES)]
        dropped = int(c.size - sum(m.size for m, _ in keep))
        text = (
            f"the runs are not an IsoFLOP design (few share an exact budget), so budgets within "
            f"{CLUSTER_TOLERANCE} decade of each other were grouped: {len(masks)} groups, the {len(keep)} with at "
            f"least {max(need, AUTO_MIN_SIZES)} model sizes kept ({c.size - dropped} runs; {dropped} runs in smaller "
            "groups left out); pass bins=K for fixed bins of 1/K decade"
        )
        return Grouping(tuple(m for m, _ in keep), tuple(b for _, b in keep), "clusters", text, dropped)
    if not (isinstance(bins, int) and not isinstance(bins, bool) and bins > 0):
        raise DataError(f"bins must be a positive integer (bins per decade of FLOPs), 'auto' or None, got {bins!r}")
    key = np.floor(np.log10(c) * bins + 0.5).astype(np.int64)
    members = [np.flatnonzero(key == k) for k in np.unique(key)]
    text = f"budgets grouped into bins of 1/{bins} decade of compute ({len(members)} bins)"
    return Grouping(tuple(members), tuple(_centre(c[m]) for m in members), "bins", text)


def _centre(values: np.ndarray) -> float:
    return float(values[0]) if np.all(values == values[0]) else float(np.exp(np.mean(np.log(values))))


__all__ = ["AUTO_MIN_SIZES", "CLUSTER_TOLERANCE", "Grouping", "cluster_budgets", "group_budgets", "is_design"]
