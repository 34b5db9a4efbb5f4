"""The result of compute-optimal planning: :class:`Plan`, a planned training run."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any



def report_line(label: str, value: float, interval: tuple[float, float] | None, level: float,
                fmt: str = ".4g") -> str:
    """One line of a plan's plain-text report: the value, and its interval when there is one."""
    text = f"  {label:<18} {value:{fmt}}"
    if interval is not None:
        lo, hi = interval
        text += f"   ({level:.0%} interval {lo:{fmt}} to {hi:{fmt}})"
    return text

@dataclass(frozen=True)
class Plan:
    """A planned training run: its size, data, predicted loss and cost, with intervals.

    Attributes
    ----------
    flops : float
        The budget asked about. For an inference-aware plan it sets the quality target
        (the loss the compute-optimal model reaches with it).
    n_params, n_tokens, loss, tokens_per_param : float
        The planned run and its predicted loss.
    intervals : dict
        ``name -> (lower, upper)`` at ``level`` over the fit's bootstrap draws (empty
        without draws). The loss interval is the band of the prediction at the planned
        ``(n_params, n_tokens)``.
    training_flops : float
        ``f(n_params) * n_tokens`` under the FLOP convention.
    epochs, unique_tokens : float or None
        Passes over the unique data (data-constrained plans).
    inference_tokens, inference_flops, total_flops : float or None
        Inference-aware plans: lifetime inference tokens, their FLOPs, and the sum.
    reference : Plan or None
        The compute-optimal plan at the same budget (inference-aware plans).
    method : str
        ``"closed form"`` or ``"numeric"``.
    """

    flops: float
    n_params: float
    n_tokens: float
    loss: float
    tokens_per_param: float
    training_flops: float
    intervals: Mapping[str, tuple[float, float]] = field(default_factory=dict)
    level: float = 0.95
    law: str = ""
    method: str = "numeric"
    flop_convention: str = "6nd"
    epochs: float | None = None
    unique_tokens: float | None = None
    inference_tokens: float | None = None
    inference_flops: float | None = None
    total_flops: float | None = None
    reference: Plan | None = field(default=None, repr=False)
    n_draws: int = 0
    at_search_bound: bool = False
    warnings: tuple[str, ...] = ()

    @property
    def flops_saving(self) -> float | None:
        """Share of total FLOPs saved against the compute-optimal model (inference plans)."""
        if self.reference is None or self.total_flops is None or self.reference.total_flops is None:
            return None
        return 1.0 - self.total_flops / self.reference.total_flops

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "flops": self.flops,
            "n_params": self.n_params,
            "n_tokens": self.n_tokens,
            "loss": self.loss,
            "tokens_per_param": self.tokens_per_param,
            "training_flops": self.training_flops,
            "intervals": {k: [float(a), float(b)] for k, (a, b) in self.intervals.items()},
            "level": self.level,
            "law": self.law,
            "method": self.method,
            "flop_convention": self.flop_convention,
            "n_draws": self.n_draws,
            "at_search_bound": self.at_search_bound,
            "warnings": list(self.warnings),
        }
        for key in ("epochs", "unique_tokens", "inference_tokens", "inference_flops", "total_flops"):
            if getattr(self, key) is not None:
                out[key] = getattr(self, key)
        if self.reference is not None:
            out["reference"] = self.reference.to_dict()
            out["flops_saving"] = self.flops_saving
        return out

    def report(self) -> str:
        """A plain-text summary (what the ``plan`` command prints)."""
        def line(label: str, key: str, value: float, fmt: str = ".4g") -> str:
            return report_line(label, value, self.intervals.get(key), self.level, fmt)

        kind = "inference-aware plan" if self.inference_tokens is not None else "compute-optimal plan"
        lines = [f"{kind} for {self.flops:.4g} FLOPs ({self.law}; {self.method}; FLOPs per token: {self.flop_convention})"]
        lines.append(line("parameters", "n_params", self.n_params))
        lines.append(line("tokens", "n_tokens", self.n_tokens))
        lines.append(line("tokens/parameter", "tokens_per_param", self.tokens_per_param, ".3g"))
        lines.append(line("predicted loss", "loss", self.loss, ".5g"))
        if self.epochs is not None:
            lines.append(line("epochs", "epochs", self.epochs, ".3g") + f"  of {self.unique_tokens:.4g} unique tokens")
        if self.inference_tokens is not None and self.reference is not None:
            lines.append(f"  training FLOPs     {self.training_flops:.4g}")
            lines.append(f"  inference FLOPs    {self.inference_flops:.4g}  for {self.inference_tokens:.4g} tokens")
            ref = self.reference
            lines.append(
                f"  vs compute-optimal {ref.n_params:.4g} parameters on {ref.n_tokens:.4g} tokens: "
                f"{self.flops_saving:.1%} fewer total FLOPs"
            )
        if self.n_draws:
            lines.append(f"  intervals from {self.n_draws} bootstrap draws")
        for w in self.warnings:
            lines.append(f"  warning: {w}")
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.report()

    def __repr__(self) -> str:
        def ci(key: str) -> str:
            if key not in self.intervals:
                return ""
            lo, hi = self.intervals[key]
            return f" [{lo:.3g}, {hi:.3g}]"

        extra = ""
        if self.epochs is not None:
            extra += f", epochs={self.epochs:.3g}"
        if self.inference_tokens is not None:
            extra += f", inference_tokens={self.inference_tokens:.3g}, total_flops={self.total_flops:.3g}"
        return (
            f"Plan(flops={self.flops:.4g}: n_params={self.n_params:.4g}{ci('n_params')}, "
            f"n_tokens={self.n_tokens:.4g}{ci('n_tokens')}, tokens_per_param={self.tokens_per_param:.3g}"
            f"{ci('tokens_per_param')}, loss={self.loss:.5g}{ci('loss')}{extra}; {self.law}, {self.method})"
        )

    def _repr_html_(self) -> str:
        """The plan as a notebook shows it: a table of the run with units and intervals."""
        import html

        def num(v: float, kind: str) -> str:
            if kind == "count":
                for scale, suffix in ((1e12, "T"), (1e9, "B"), (1e6, "M"), (1e3, "K")):
                    if abs(v) >= scale:
                        return f"{v / scale:.3g}{suffix}"
            return f"{v:.2e}".replace("e+", "e") if kind == "flops" else f"{v:.4g}"

        rows = [("model size N", "parameters", "n_params", self.n_params, "count"),
                ("training data D", "tokens", "n_tokens", self.n_tokens, "count"),
                ("tokens per parameter", "", "tokens_per_param", self.tokens_per_param, "ratio"),
                ("predicted loss", "nats/token", "loss", self.loss, "ratio")]
        if self.epochs is not None:
            rows.append(("epochs", "", "epochs", self.epochs, "ratio"))
        if self.total_flops is not None:
            rows.append(("total compute", "FLOPs", "total_flops", self.total_flops, "flops"))
        if abs(self.training_flops / self.flops - 1) > 0.01:
            rows.append(("training compute", "FLOPs", "training_flops", self.training_flops, "flops"))
        body = "".join(
            f"<tr><td>{label}</td><td>{num(v, kind)}</td><td>{unit}</td><td>"
            + (f"{num(self.intervals[key][0], kind)} – {num(self.intervals[key][1], kind)}" if key in self.intervals else "")
            + "</td></tr>" for label, unit, key, v, kind in rows)
        kind = "Inference-aware plan" if self.inference_tokens is not None else "Compute-optimal plan"
        warn = "".join(f"<li>{html.escape(w)}</li>" for w in self.warnings)
        return (f"<div><b>{kind}</b> for C = {num(self.flops, 'flops')} FLOPs ({html.escape(self.law)}, {self.method})"
                f"<table><thead><tr><th></th><th>value</th><th>unit</th><th>{self.level:.0%} interval</th></tr></thead>"
                f"<tbody>{body}</tbody></table>" + (f"<ul>{warn}</ul>" if warn else "") + "</div>")


__all__ = ["Plan"]
