"""What a law's variables are: name, unit, whether they must be positive, what they mean.

A :class:`Variable` is a declaration a law carries (``Law.variable_info``). The engine
reads it to know which columns must be > 0 before a fit, and how to compute a
variable the runs lack from columns they have (``tokens_per_param`` from ``n_tokens``
and ``n_params``). The planner and the loader never keep lists of variable names:
they ask the law.

:data:`VOCABULARY` is the shared vocabulary of standard variables. A formula law takes
its variables from it (a name in the vocabulary is data, every other name a
parameter) unless the formula names its variables itself; a law with a variable of
its own declares it in its own file (``laws/finetune.py`` does).

Examples
--------
>>> VOCABULARY["tokens_per_param"].derive.parts
('n_tokens', 'n_params')
>>> declare(["n_params", "s1"])[1]
Variable(name='s1', unit='', positive=False, meaning='')
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from scalinglaws.errors import LawError

__all__ = ["VOCABULARY", "Derivation", "Variable", "declare", "standard"]


@dataclass(frozen=True)
class Derivation:
    """How to compute a variable from other columns: ``function(*parts)``.

    ``function`` takes one float64 array of shape (n_runs,) per part, in order, and
    returns an array of the same shape; ``text`` says the same in words for messages.
    """

    parts: tuple[str, ...]
    function: Callable[..., Any] = field(repr=False, compare=False)
    text: str = ""

    def __call__(self, *columns: Any) -> np.ndarray:
        with np.errstate(all="ignore"):
            return np.asarray(
                self.function(*(np.asarray(c, dtype=float) for c in columns)),
                dtype=float,
            )


@dataclass(frozen=True)
class Variable:
    """One variable of a law.

    Parameters
    ----------
    name : str
        The variable's name in the law, and the runs column it reads by default.
    unit : str
        What one unit of it counts (``"parameters"``, ``"tokens"``, ``"FLOPs"``); empty
        when unknown.
    positive : bool
        Whether every value must be > 0 for the law to be defined (a fit checks it).
    meaning : str
        What the variable is, in words.
    derive : Derivation, optional
        How to compute it from other columns when the runs lack it.
    per : str, optional
        The variable this one is a ratio to (``tokens_per_param`` is per ``n_params``).
        How far a prediction lies beyond the data is measured, among other ways, by the
        product of the variables (N * D: compute); a ratio counts there times its
        denominator when the law has that variable too (N * M * N = N * D), so that a law
        in N and M knows a run of more compute as one beyond its data.
    """

    name: str
    unit: str = ""
    positive: bool = False
    meaning: str = ""
    derive: Derivation | None = field(default=None, repr=False)
    per: str | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise LawError(
                f"a variable's name is a non-empty string, got {self.name!r}"
            )

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "unit": self.unit,
            "positive": self.positive,
            "meaning": self.meaning,
            "derive": None
            if self.derive is None
            else {"parts": list(self.derive.parts), "text": self.derive.text},
            "per": self.per,
        }


def _v(
    name: str, unit: str, positive: bool, meaning: str, derive: Derivation | None = None, per: str | None = None
) -> Variable:
    return Variable(name, unit, positive, meaning, derive, per)


#: The standard variables: the names a formula may use as data without declaring them.
VOCABULARY: Mapping[str, Variable] = {
    v.name: v
    for v in (
        _v("n_params", "parameters", True, "model size"),
        _v("n_tokens", "tokens", True, "training data"),
        _v("flops", "FLOPs", True, "training compute",
           Derivation(("n_params", "n_tokens"), lambda n, d: 6.0 * n * d, "6 * n_params * n_tokens")),
        _v("x", "", True, "a generic scale (steps, examples, model size, ...)"),
        _v("unique_tokens", "tokens", True, "unique tokens of the training data (repeated for epochs)"),
        _v("n_params_encoder", "parameters", True, "encoder size (non-embedding)"),
        _v("n_params_decoder", "parameters", True, "decoder size (non-embedding)"),
        _v("tokens_per_param", "tokens per parameter", True, "training tokens per model parameter",
           Derivation(("n_tokens", "n_params"), lambda d, n: d / n, "n_tokens / n_params"), per="n_params"),
        _v("steps", "optimizer steps", True, "number of updates"),
        _v("batch_size", "sequences", True, "batch size"),
        _v("lr", "", True, "peak learning rate"),
        _v("loss", "nats per token", False, "a measured loss (as a variable: downstream laws)"),
        _v("loss_x", "nats per token", False, "the loss on another data set, for the same model"),
        _v("n_samples", "samples", True, "samples drawn per problem (repeated sampling)"),
        _v("precision", "bits", True, "numeric precision of weights or activations"),
    )
}  # fmt: skip


def standard(name: str) -> Variable:
    """The vocabulary's declaration of ``name``, or a plain variable of unknown unit."""
    return VOCABULARY.get(name) or Variable(name)


def declare(variables: Iterable[str | Variable]) -> tuple[Variable, ...]:
    """Declarations for names (looked up in the vocabulary) and ready :class:`Variable` s."""
    out = tuple(v if isinstance(v, Variable) else standard(v) for v in variables)
    names = [v.name for v in out]
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise LawError(f"variable {repeated[0]!r} is declared twice")
    return out
