"""What a fit minimises: the robust objective (:class:`Objective`) and the problem
(:class:`Problem`: a law, its data, and the map between natural and internal parameter
units, with residuals and their Jacobian for a batch of starts). The solver that
minimises it is :mod:`scalinglaws.engine.solver`.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from scalinglaws.laws.law import Law

#: Status codes of a start.
RUNNING, CONVERGED, MAX_ITER, FAILED = 0, 1, 2, 3
CURVATURE_SHARE = 0.1


@dataclass(frozen=True)
class Objective:
    """The per-run penalty on residuals, summed over runs.

    Parameters
    ----------
    kind : {"huber", "squared"}
        Huber (quadratic within ``delta``, linear beyond) or squared error.
    delta : float
        Huber threshold, in the units of the residual (log loss by default).
    space : {"log", "linear"}
        Residuals ``log(y) - log(f)`` (relative errors; the default of Hoffmann et al.)
        or ``y - f``.
    asymmetry : float
        Factor on the penalty of runs the law over-predicts (``f > y``). Above 1 it
        fits the lower envelope of the runs: under-tuned runs above the frontier pull
        the fit up less than good runs pull it down.
    """

    kind: str = "huber"
    delta: float = 1e-3
    space: str = "log"
    asymmetry: float = 1.0

    def rho(self, r: np.ndarray) -> np.ndarray:
        if self.kind == "huber":
            a = np.abs(r)
            d = self.delta
            out = np.where(a <= d, 0.5 * r * r, d * a - 0.5 * d * d)
        else:
            out = 0.5 * r * r
        return out * self.side(r)

    def irls_weight(self, r: np.ndarray) -> np.ndarray:
        """``psi(r) / r``: the weights of Huber's iteratively reweighted least squares."""
        if self.kind == "huber":
            with np.errstate(divide="ignore"):
                w = np.minimum(1.0, self.delta / np.abs(r))
        else:
            w = np.ones_like(r)
        return w * self.side(r)

    def weights(self, r: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """IRLS weights (for the gradient) and Gauss-Newton curvature weights.

        The curvature is rho'' where it is positive and a small share of the IRLS
        weight on Huber's linear part, which keeps the system well posed far from the
        optimum and close to Newton's near it.
        """
        side = self.side(r)
        if self.kind != "huber":
            w = np.ones_like(r) * side
            return w, w
        with np.errstate(divide="ignore"):
            w = np.minimum(1.0, self.delta / np.abs(r))
        curv = np.where(w >= 1.0, 1.0, CURVATURE_SHARE * w)
        return w * side, curv * side

    def evaluate(self, r: np.ndarray, W: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """:meth:`total`, and the weights of :meth:`weights` times ``W``, in one pass
        over the residuals (the solver's every iteration needs all three)."""
        with np.errstate(invalid="ignore", over="ignore", divide="ignore"):
            if self.kind != "huber":
                Ws = W * self.side(r)
                total = np.sum(Ws * (0.5 * r * r), axis=-1)
                return np.where(np.isfinite(total), total, np.inf), Ws, Ws
            d = self.delta
            a = np.abs(r)
            inside = a <= d
            rho = np.where(inside, 0.5 * r * r, d * a - 0.5 * d * d)
            w = np.minimum(1.0, d / a)
            curv = np.where(w >= 1.0, 1.0, CURVATURE_SHARE * w)
            side = self.side(r)
            if self.asymmetry != 1.0:
                rho, w, curv = rho * side, w * side, curv * side
            total = np.sum(W * rho, axis=-1)
            return np.where(np.isfinite(total), total, np.inf), w * W, curv * W

    def side(self, r: np.ndarray) -> Any:
        if self.asymmetry == 1.0:
            return 1.0
        return np.where(r < 0, self.asymmetry, 1.0)

    def total(self, r: np.ndarray, weights: np.ndarray) -> np.ndarray:
        """Objective per start, ``inf`` where any residual is not finite."""
        with np.errstate(invalid="ignore", over="ignore"):
            out = np.sum(weights * self.rho(r), axis=-1)
        return np.where(np.isfinite(out), out, np.inf)


@dataclass(frozen=True)
class Problem:
    """A law, the data it is fitted to, and the map between natural and internal units.

    Internal coordinates are ``log(p)`` for parameters declared ``log=True`` and ``p``
    otherwise; bounds apply in internal coordinates.
    """

    law: Law
    variables: Mapping[str, np.ndarray]
    y: np.ndarray
    objective: Objective

    @property
    def n_params(self) -> int:
        return len(self.law.params)

    @functools.cached_property
    def log_mask(self) -> np.ndarray:
        return np.array([p.log for p in self.law.params], dtype=bool)

    @functools.cached_property
    def _log_index(self) -> np.ndarray:
        return np.flatnonzero(self.log_mask)

    @functools.cached_property
    def bounds(self) -> tuple[np.ndarray, np.ndarray]:
        b = np.array([p.internal_bounds for p in self.law.params], dtype=float).reshape(-1, 2)
        return b[:, 0], b[:, 1]

    def to_internal(self, natural: np.ndarray) -> np.ndarray:
        out = np.array(natural, dtype=float, copy=True)
        m = self._log_index
        with np.errstate(divide="ignore"):
            out[..., m] = np.log(out[..., m])
        return out

    def to_natural(self, internal: np.ndarray) -> np.ndarray:
        out = np.array(internal, dtype=float, copy=True)
        m = self._log_index
        with np.errstate(over="ignore"):
            out[..., m] = np.exp(out[..., m])
        return out

    def on(self, variables: Mapping[str, np.ndarray], y: np.ndarray) -> Problem:
        """The same law and objective on other data, with the caches that do not depend
        on the data (bounds, which parameters are fitted in logs)."""
        out = Problem(law=self.law, variables=variables, y=y, objective=self.objective)
        for name in ("log_mask", "_log_index", "bounds"):
            out.__dict__[name] = getattr(self, name)
        return out

    def _carry(self, out: Problem, rows: Any = None, cols: Any = None) -> Problem:
        """Give a derived problem this one's caches (sliced), instead of recomputing them."""
        d = out.__dict__
        for name in ("log_mask", "_log_index", "bounds"):
            if name in self.__dict__:
                d[name] = self.__dict__[name]
        if rows is not None:
            d["_target"] = self._target[rows]
            d["_inputs"] = {k: v[rows] if np.ndim(v) == 2 else v for k, v in self._inputs.items()}
        else:
            d["_target"] = self._target[..., cols]
            d["_inputs"] = {k: v[..., cols] for k, v in self._inputs.items()}
        return out

    @property
    def per_row(self) -> bool:
        """Whether every start (row) carries its own data: ``y`` of shape (n_starts, n_runs).

        :func:`scalinglaws.engine.batch.fit_each` stacks many groups' fits this way, the
        groups padded to one length with zero weights.
        """
        return self.y.ndim == 2

    def take(self, rows: Any) -> Problem:
        """The problem restricted to some rows: itself unless the data are per row."""
        if not self.per_row:
            return self
        out = Problem(
            law=self.law,
            variables={k: v[rows] if np.ndim(v) == 2 else v for k, v in self.variables.items()},
            y=self.y[rows],
            objective=self.objective,
        )
        # carry the per-row caches along instead of recomputing their logs
        return self._carry(out, rows=rows)

    def runs(self, cols: slice) -> Problem:
        """The problem on a contiguous chunk of its runs (the solver's memory bound)."""
        out = Problem(
            law=self.law,
            variables={k: v[..., cols] for k, v in self.variables.items()},
            y=self.y[..., cols],
            objective=self.objective,
        )
        return self._carry(out, cols=cols)

    def _params(self, natural: np.ndarray) -> dict[str, np.ndarray]:
        return {p.name: natural[:, i : i + 1] for i, p in enumerate(self.law.params)}

    @functools.cached_property
    def _target(self) -> np.ndarray:
        """The transformed observations, computed once per problem (not per iteration)."""
        return self._transform(self.y)

    @functools.cached_property
    def _inputs(self) -> Mapping[str, np.ndarray]:
        """The variables as the law receives them; a formula law also gets their logs
        (``"log:<name>"``), computed once here rather than at every evaluation."""
        if not self.law.formula:
            return self.variables
        with np.errstate(divide="ignore", invalid="ignore"):
            logs = {"log:" + k: np.log(v) for k, v in self.variables.items() if np.ndim(v) and v.dtype.kind == "f"}
        return {**self.variables, **logs}

    def _transform(self, f: Any) -> np.ndarray:
        # non-positive predictions give NaN or -inf: the objective treats them as infeasible
        return np.log(f) if self.objective.space == "log" else f

    def residuals(self, theta: np.ndarray, jacobian: bool = True) -> tuple[np.ndarray, np.ndarray | None]:
        """Residuals ``(n_starts, n_runs)`` and a Jacobian ``(n_starts, n_params, n_runs)``.

        The Jacobian is of the *prediction* (log prediction in log space) with respect
        to the internal coordinates; the residual's is its negative.
        """
        S, n = theta.shape[0], self.y.shape[-1]
        natural = self.to_natural(theta)
        P = self._params(natural)
        target = self._target
        with np.errstate(all="ignore"):
            if jacobian and self.law.value_and_grad is not None:
                f, grads = self.law.value_and_grad(self._inputs, P)
                f = np.broadcast_to(np.asarray(f, dtype=float), (S, n))
                r = target - self._transform(f)
                J = np.empty((S, self.n_params, n))
                log_mask = self.log_mask
                for k, g in enumerate(grads):
                    # chain rule: internal coordinate log(p) scales by p
                    if log_mask[k]:
                        np.multiply(g, natural[:, k : k + 1], out=J[:, k, :])
                    else:
                        J[:, k, :] = g
                if self.objective.space == "log":
                    J /= f[:, None, :]  # log space: d log f = df / f
            else:
                f = np.broadcast_to(np.asarray(self.law.function(self._inputs, P), dtype=float), (S, n))
                g0 = self._transform(f)
                r = target - g0
                J = None
                if jacobian:
                    J = np.empty((S, self.n_params, n))
                    for k in range(self.n_params):
                        h = 1e-7 * np.maximum(1.0, np.abs(theta[:, k]))
                        t2 = theta.copy()
                        t2[:, k] += h
                        f2 = np.broadcast_to(
                            np.asarray(self.law.function(self._inputs, self._params(self.to_natural(t2))), dtype=float),
                            (S, n),
                        )
                        J[:, k, :] = (self._transform(f2) - g0) / h[:, None]
        return r, J
