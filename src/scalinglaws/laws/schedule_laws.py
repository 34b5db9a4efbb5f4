"""Loss-curve laws that read a run's whole learning-rate history: the multi-power law.

Luo et al. (2025, "A Multi-Power Law for Loss Curve Prediction Across Learning Rate
Schedules", arXiv 2503.12811, Eq. 5) predict the loss after ``t`` steps of any schedule
``eta_1 .. eta_T`` from

    L(t) = L0 + A * (S1(t) + S_W)**(-alpha) - LD(t)
    LD(t) = B * sum_{k<=t} (eta_{k-1} - eta_k) * G(eta_k**(-gamma) * S_k(t))
    G(x) = 1 - (C * x + 1)**(-beta),     S_k(t) = sum_{tau=k..t} eta_tau

where ``S1(t) + S_W`` is the area under the whole schedule so far (warmup included) and
the sum runs over the steps after the learning rate first reaches its peak (warmup
rises are not annealing). Each LR drop pays off as a power law in the area trained
since the drop, which is why the law needs the history and not two running sums.

The authors' repository README (github.com/thu-yao-01-luo/MultiPowerLaw, "Best
Parameters") prints fitted constants, e.g. for their 400M model L0 = 2.375, A = 0.654,
alpha = 0.429, B = 523.425, C = 2.025, beta = 0.594, gamma = 0.635 (LR in absolute units);
tests/test_golden_training.py checks this law against the README's formula at all three
printed sets.

How the history reaches the law
-------------------------------
A law sees numeric columns only, so a schedule travels as a number: ``schedule`` is a
content key of its per-step rates (:func:`schedule_key`, a hash of the bytes, exact in
a float64), and :func:`register_schedule` stores the rates under that key in a bounded
cache of this module (the most recently used :data:`MAX_SCHEDULES`, at most
:data:`MAX_SCHEDULE_BYTES`). The law looks each row's
schedule up and evaluates the sum up to the row's ``steps``.
:func:`scalinglaws.dynamics.curves.curve_variables` (and so :func:`scalinglaws.fit_curves`
and every curve prediction) registers the schedules it is given; a key whose schedule
was never registered in this process is a :class:`~scalinglaws.errors.LawError`.
"""

from __future__ import annotations

import hashlib
import math
from collections import OrderedDict
from collections.abc import Mapping
from typing import Any

import numpy as np

from scalinglaws.errors import LawError
from scalinglaws.laws.law import Law, Param
from scalinglaws.laws.variables import Variable

__all__ = ["MAX_SCHEDULES", "MAX_SCHEDULE_BYTES", "multi_power", "multi_power_loss", "register_schedule", "schedule_key"]

#: How many schedules the cache keeps (least recently used ones are dropped). Large: a
#: fit whose runs' schedules were dropped mid-way would fail, so only a process that
#: registers this many distinct schedules ever loses one.
MAX_SCHEDULES = 100_000
#: And how many bytes (about 32 per step of each schedule): a schedule search that tries
#: thousands of 24k-step schedules would otherwise hold gigabytes.
MAX_SCHEDULE_BYTES = 512 * 2**20
#: Elements of one (params x rows x drops) block; larger evaluations are chunked by rows.
_BLOCK = 4_000_000

_CACHE: OrderedDict[float, tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]] = OrderedDict()
_BYTES = 0  # held by _CACHE


def schedule_key(lrs: Any) -> float:
    """A positive float that identifies a schedule's per-step rates (48 bits of a hash)."""
    arr = np.ascontiguousarray(np.asarray(lrs, dtype="<f8"))
    digest = hashlib.blake2b(arr.tobytes(), digest_size=6).digest()
    return float(int.from_bytes(digest, "little") | 1)


def _prepare(lrs: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Cumulative area (with a leading 0), and the index, size and LR of each drop after the peak."""
    area = np.concatenate([[0.0], np.cumsum(lrs)])
    peak = int(np.argmax(lrs >= lrs.max()))
    drop = np.zeros_like(lrs)
    drop[1:] = lrs[:-1] - lrs[1:]
    drop[: peak + 1] = 0.0
    at = np.flatnonzero(drop)
    floor = 1e-12 * max(float(lrs.max()), 1e-300)
    return area, at, drop[at], np.maximum(lrs[at], floor)


def register_schedule(lrs: Any) -> float:
    """Keep a schedule (array of per-step LRs) for the multi-power law; returns its key."""
    arr = np.asarray(lrs, dtype=float)
    if arr.ndim != 1 or arr.size == 0 or not np.all(np.isfinite(arr)) or (arr < 0).any():
        raise LawError("a schedule is a non-empty 1-D array of finite learning rates >= 0")
    global _BYTES
    key = schedule_key(arr)
    if key in _CACHE:
        _CACHE.move_to_end(key)
    else:
        _CACHE[key] = prepared = _prepare(arr)
        _BYTES += sum(a.nbytes for a in prepared)
        while len(_CACHE) > 1 and (len(_CACHE) > MAX_SCHEDULES or _BYTES > MAX_SCHEDULE_BYTES):
            _, dropped = _CACHE.popitem(last=False)
            _BYTES -= sum(a.nbytes for a in dropped)
    return key


def _lookup(key: float) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    try:
        found = _CACHE[key]
        _CACHE.move_to_end(key)  # least recently *used* goes first, not least recently registered
        return found
    except KeyError:
        raise LawError(
            f"schedule {key:.0f} is not known to the multi-power law in this process: compute the curve "
            "variables with scalinglaws.dynamics.curves.curve_variables(lrs) (fit_curves and CurveFit do)"
        ) from None


_NAMES = ("L0", "A", "alpha", "B", "C", "beta", "gamma")


def _loss_drop(prepared: tuple[np.ndarray, ...], steps: np.ndarray, C: np.ndarray, beta: np.ndarray,
               gamma: np.ndarray, grad: bool) -> list[np.ndarray]:
    """``LD(t) / B`` for one schedule, shape (n_sets, len(steps)), and with ``grad`` its
    derivatives in C, beta and gamma.

    A drop after step t has no area since it (clipped to 0), where G(0) = 0 and so do
    G's derivatives: the sum over every drop is the sum over the drops up to t.
    """
    area, at, size, eta = prepared
    n = 4 if grad else 1
    out = [np.zeros((C.shape[0], steps.size)) for _ in range(n)]
    if at.size == 0:
        return out
    log_eta = np.log(eta)
    scale = np.exp(-gamma[:, None, None] * log_eta[None, None, :])  # eta_k^-gamma, (S, 1, K)
    c_scale = C[:, None, None] * scale
    bb = beta[:, None, None]
    chunk = max(1, _BLOCK // max(1, C.shape[0] * at.size))
    for lo in range(0, steps.size, chunk):
        t = steps[lo : lo + chunk]
        since = np.maximum(area[t][:, None] - area[at][None, :], 0.0)[None]  # (1, m, K): area of steps k..t
        y = c_scale * since  # C x
        lu = np.log1p(y)
        p = np.exp(-bb * lu)  # (Cx + 1)^-beta
        sl = slice(lo, lo + chunk)
        out[0][:, sl] = (1.0 - p) @ size
        if grad:
            q = bb * p / (1.0 + y) * (scale * since)  # dG/dC
            out[1][:, sl] = q @ size
            out[2][:, sl] = (p * lu) @ size  # dG/dbeta
            out[3][:, sl] = -(q * C[:, None, None]) @ (size * log_eta)  # dG/dgamma
    return out


def _evaluate(X: Mapping[str, Any], P: Mapping[str, Any], grad: bool) -> tuple[np.ndarray, list[np.ndarray]]:
    pshape = np.broadcast_shapes(*(np.shape(P[k]) for k in _NAMES))
    if pshape and pshape[-1] != 1:
        raise LawError("multi_power takes scalar parameters or a column of parameter sets, shape (n_sets, 1)")
    flat = {k: np.broadcast_to(np.asarray(P[k], dtype=float), pshape).reshape(-1) for k in _NAMES}
    keys = np.asarray(X["schedule"], dtype=float)
    raw_steps = np.asarray(X["steps"], dtype=float)
    xshape = np.broadcast_shapes(keys.shape, raw_steps.shape)
    keys = np.broadcast_to(keys, xshape).reshape(-1)
    steps = np.broadcast_to(raw_steps, xshape).reshape(-1)
    n_sets = flat["L0"].size
    value = np.full((n_sets, keys.size), np.nan)
    grads = [np.full((n_sets, keys.size), np.nan) for _ in range(len(_NAMES) if grad else 0)]
    for key in np.unique(keys):
        rows = np.flatnonzero(keys == key)
        prepared = _lookup(float(key))
        area = prepared[0]
        t = steps[rows]
        ok = (t >= 1) & (t <= area.size - 1) & (t == np.round(t))
        if not ok.all():
            bad = t[~ok][0]
            raise LawError(f"steps must be whole numbers within the schedule's {area.size - 1} steps, got {bad:g}")
        ti = t.astype(int)
        power = area[ti][None, :] ** (-flat["alpha"][:, None])
        drop = _loss_drop(prepared, ti, flat["C"], flat["beta"], flat["gamma"], grad)
        B = flat["B"][:, None]
        value[:, rows] = flat["L0"][:, None] + flat["A"][:, None] * power - B * drop[0]
        if grad:
            grads[0][:, rows] = 1.0
            grads[1][:, rows] = power
            grads[2][:, rows] = -flat["A"][:, None] * power * np.log(area[ti])[None, :]
            grads[3][:, rows] = -drop[0]
            for j in range(3):
                grads[4 + j][:, rows] = -B * drop[1 + j]
    n = max(1, int(np.prod(xshape)))

    def shaped(a: np.ndarray) -> np.ndarray:
        return a[0].reshape(xshape) if not pshape else a.reshape(pshape[:-1] + ((n,) if xshape else (1,)))

    return shaped(value), [shaped(g) for g in grads]


def multi_power_loss(X: Mapping[str, Any], P: Mapping[str, Any]) -> np.ndarray:
    """The law's function: ``X`` has ``schedule`` (keys) and ``steps``; ``P`` the seven parameters.

    Parameters are scalars or columns of shape (n_sets, 1); the result is (n,) or (n_sets, n).
    """
    return _evaluate(X, P, grad=False)[0]


def _value_and_grad(X: Mapping[str, Any], P: Mapping[str, Any]) -> tuple[np.ndarray, list[np.ndarray]]:
    """The value and its exact derivatives in the seven parameters, in their order."""
    return _evaluate(X, P, grad=True)


def _grid(variables: Mapping[str, Any], y: Any) -> dict[str, tuple[float, ...]]:
    """Starts scaled to the data's learning-rate units (the parameters A, B and C carry them)."""
    y = np.asarray(y, dtype=float)
    keys = np.unique(np.asarray(variables["schedule"], dtype=float))
    peaks, areas = [], []
    for k in keys:
        area = _lookup(float(k))[0]
        peaks.append(float(np.max(np.diff(area))))
        areas.append(float(area[-1]))
    peak = max(float(np.median(peaks)), 1e-300)
    ref = float(np.median(areas)) / 2
    lo = float(np.nanmin(y)) if y.size else 1.0
    span = max(float(np.nanmedian(y)) - 0.9 * lo, 1e-3 * max(lo, 1e-12))
    b0 = 0.1 * max(lo, 1e-3) / peak  # a full drop of the LR lowers the loss by ~10% of it
    c0 = 1.0 / (20.0 * peak**0.4)  # G(x) is half-way ~20 steps after a drop at the peak LR
    return {
        "L0": (0.7 * lo, 0.9 * lo),
        "A": (span * ref**0.5,),
        "alpha": (0.3, 0.6),
        "B": (b0 / 3, b0),
        "C": (c0 / 10, c0),
        "beta": (0.6,),
        "gamma": (0.6,),
    }


def multi_power() -> Law:
    """Luo et al. (2025): the multi-power law of the loss after each step of any LR schedule.

    Variables: ``schedule`` (a registered schedule's key) and ``steps`` (updates done);
    :func:`scalinglaws.fit_curves` provides both. See the module docstring for the form.
    """
    return Law(
        name="multi_power",
        variables=("schedule", "steps"),
        params=(
            Param("L0", 0.0, math.inf, grid=(1.0,), doc="loss floor at infinite area"),
            Param("A", 0.0, math.inf, log=True, grid=(1.0,), doc="scale of the forward-area power law"),
            Param("alpha", 1e-4, 5.0, grid=(0.5,), doc="exponent of the forward area (warmup included)"),
            Param("B", 0.0, math.inf, log=True, grid=(300.0,), doc="loss drop per unit of LR dropped, at saturation"),
            Param("C", 0.0, math.inf, log=True, grid=(2.0,), doc="rate at which a drop's benefit saturates"),
            Param("beta", 0.05, 5.0, grid=(0.6,), doc="power of the saturation G(x) = 1 - (Cx + 1)^-beta"),
            Param("gamma", 0.0, 2.0, grid=(0.6,), doc="how the LR after a drop rescales the area since it"),
        ),
        function=multi_power_loss,
        value_and_grad=_value_and_grad,
        formula="L0 + A*(S1 + S_W)**(-alpha) - B*sum_k (eta_{k-1} - eta_k)*(1 - (C*eta_k**(-gamma)*S_k(t) + 1)**(-beta))",
        source="Luo et al. 2025, A Multi-Power Law for Loss Curve Prediction Across Learning Rate Schedules "
        "(arXiv 2503.12811), Eq. 5; ICLR 2025",
        description="validation loss after `steps` updates of the registered LR schedule `schedule`",
        grid_fn=_grid,
        variable_info=(
            Variable("schedule", "", True, "content key of the run's per-step LR schedule (register_schedule)"),
            Variable("steps", "optimizer steps", True, "number of updates done"),
        ),
    )
