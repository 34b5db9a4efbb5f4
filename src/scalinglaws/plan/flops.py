"""FLOP and parameter accounting: which N and which C a law was fitted with.

A constant fitted under one counting convention is wrong under another (Kaplan et al. 2020,
§2.1; Hoffmann et al. 2022, App. F; Porian et al. 2024),
so planning needs the convention explicitly. This module describes a decoder-only
transformer (:class:`Architecture`), counts its parameters, and gives its training FLOPs
per token under the published conventions:

==================  ========================================================================
``"6nd"``           ``6 N`` with N every parameter (embeddings included): Chinchilla's
                    approximation, the default everywhere in this package
``"6n_nonembed"``   ``6 N_ne``, non-embedding parameters only (Kaplan et al. 2020, C = 6NBS)
``"kaplan"``        ``6 N_ne + 6 n_layer n_ctx d_attn``: Kaplan's count with the context
                    (attention) term (Kaplan §2.1)
``"porian"``        ``6 (N_ne + V d) + 6 n_ctx d_attn n_layer``: the output head and attention
                    counted (Porian et al. 2024, ``flops_per_token_att``)
``"chinchilla"``    three times the exact forward count of Hoffmann et al. 2022, App. F
                    (embeddings, QKV, logits, softmax, values, projection, MLP, head)
``"deepseek"``      ``6 N_ne + 12 n_layer n_ctx d_attn``; for standard shapes this is DeepSeek
                    LLM's ``M = 72 n_layer d^2 + 12 n_layer d l_seq`` (Bi et al. 2024)
==================  ========================================================================

Planning needs FLOPs per token as a function of N alone; :class:`FlopCounter` supplies it
for a family of shapes (:class:`ShapeFamily`: fixed aspect ratio and head size), solving
for the continuous width that has the given parameter count.

>>> arch = Architecture(n_layer=12, d_model=768, n_head=12, vocab_size=50257, seq_len=1024)
>>> round(arch.n_params("non_embedding") / 1e6, 1)
84.9
>>> round(flops_per_token(arch, "kaplan") / flops_per_token(arch, "6n_nonembed"), 3)
1.111
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any, Literal

import numpy as np

from scalinglaws.errors import LawError

ParamCount = Literal["total", "non_embedding", "non_embedding_with_head"]
#: FLOP conventions known to :func:`flops_per_token`.
CONVENTIONS: tuple[str, ...] = ("6nd", "6n_nonembed", "kaplan", "porian", "chinchilla", "deepseek")
PARAM_COUNTS: tuple[str, ...] = ("total", "non_embedding", "non_embedding_with_head")


@dataclass(frozen=True)
class Architecture:
    """A decoder-only transformer, as far as counting goes.

    Sizes may be floats: :class:`ShapeFamily` builds continuous shapes for planning.

    Attributes
    ----------
    n_layer, d_model : float
        Depth and width.
    n_head : float, optional
        Attention heads (default ``d_model / 64``).
    d_head : float, optional
        Size of one head's keys (default ``d_model / n_head``); ``d_attn = n_head * d_head``.
    d_ff : float, optional
        MLP width (default ``4 d_model``).
    gated : bool
        Gated MLP (SwiGLU: three matrices instead of two).
    vocab_size, seq_len : int
        Vocabulary and context length.
    tied_embeddings : bool
        Output head shares the token-embedding matrix (adds no parameters).
    learned_positions : bool
        A learned position table (``seq_len * d_model`` parameters); False for rotary.
    """

    n_layer: float
    d_model: float
    n_head: float | None = None
    d_head: float | None = None
    d_ff: float | None = None
    gated: bool = False
    vocab_size: int = 50257
    seq_len: int = 2048
    tied_embeddings: bool = True
    learned_positions: bool = False

    def __post_init__(self) -> None:
        for name in ("n_layer", "d_model", "vocab_size", "seq_len"):
            v = getattr(self, name)
            if not (np.all(np.isfinite(v)) and np.all(np.asarray(v) > 0)):
                raise LawError(f"Architecture.{name} must be a positive number, got {v!r}")

    @property
    def heads(self) -> Any:
        return self.n_head if self.n_head is not None else self.d_model / 64.0

    @property
    def d_attn(self) -> Any:
        """Total key/query size, ``n_head * d_head`` (``d_model`` by default)."""
        if self.d_head is None:
            return self.d_model
        return self.heads * self.d_head

    @property
    def ffw(self) -> Any:
        return self.d_ff if self.d_ff is not None else 4 * self.d_model

    def n_params(self, count: ParamCount = "total") -> Any:
        """Parameters under a counting convention (weights only; norms and biases ignored).

        ``"total"``: everything, embeddings and (untied) head included, as Chinchilla
        counts. ``"non_embedding"``: the transformer blocks only, as Kaplan counts.
        ``"non_embedding_with_head"``: blocks plus the output head ``V d`` (Porian's
        ``standard`` count).
        """
        d, L = self.d_model, self.n_layer
        blocks = L * (4 * d * self.d_attn + (3 if self.gated else 2) * d * self.ffw)
        embedding = self.vocab_size * d + (self.seq_len * d if self.learned_positions else 0)
        head = 0 if self.tied_embeddings else self.vocab_size * d
        if count == "total":
            return blocks + embedding + head
        if count == "non_embedding":
            return blocks
        if count == "non_embedding_with_head":
            return blocks + self.vocab_size * d
        raise LawError(f"unknown parameter count {count!r}; use one of {', '.join(PARAM_COUNTS)}")

    def to_dict(self) -> dict[str, Any]:
        return {k: (float(v) if isinstance(v, (np.floating, np.ndarray)) else v) for k, v in asdict(self).items()}


def flops_per_token(arch: Architecture, convention: str = "6nd") -> Any:
    """Training FLOPs (forward + backward) per token under a convention.

    Parameters
    ----------
    arch : Architecture
    convention : str
        One of :data:`CONVENTIONS` (see the module docstring).

    Returns
    -------
    float or array
        FLOPs per training token (arrays when the architecture's sizes are arrays).

    Examples
    --------
    >>> a = Architecture(n_layer=30, d_model=4096, n_head=32, seq_len=4096)
    >>> f"{flops_per_token(a, 'deepseek'):.4g}"   # 72 L d^2 + 12 L d l_seq
    '4.228e+10'
    """
    d, L, T, V = arch.d_model, arch.n_layer, arch.seq_len, arch.vocab_size
    kh = arch.d_attn
    if convention == "6nd":
        return 6.0 * arch.n_params("total")
    if convention == "6n_nonembed":
        return 6.0 * arch.n_params("non_embedding")
    if convention == "kaplan":
        return 6.0 * arch.n_params("non_embedding") + 6.0 * L * T * kh
    if convention == "porian":
        return 6.0 * arch.n_params("non_embedding_with_head") + 6.0 * L * T * kh
    if convention == "deepseek":
        return 6.0 * arch.n_params("non_embedding") + 12.0 * L * T * kh
    if convention == "chinchilla":
        attention = 2 * 3 * d * kh + 2 * T * kh + 3 * arch.heads * T + 2 * T * kh + 2 * kh * d
        dense = 2 * (3 if arch.gated else 2) * d * arch.ffw
        forward = 2 * V * d + L * (attention + dense) + 2 * d * V
        return 3.0 * forward
    raise LawError(f"unknown FLOP convention {convention!r}; use one of {', '.join(CONVENTIONS)}")


def inference_flops_per_token(arch: Architecture, convention: str = "6nd") -> Any:
    """Forward-only FLOPs per token: a third of :func:`flops_per_token` (2N under 6ND)."""
    return flops_per_token(arch, convention) / 3.0


@dataclass(frozen=True)
class ShapeFamily:
    """How a model's shape grows with its size: fixed ``d_model / n_layer`` and head size.

    Attributes
    ----------
    aspect_ratio : float
        ``d_model / n_layer`` (Kaplan's models: 40 to 200; GPT-3 ~128).
    head_dim : float
        Size of one attention head; ``n_head = d_model / head_dim``.
    ffw_mult : float
        ``d_ff / d_model``.
    gated, vocab_size, seq_len, tied_embeddings, learned_positions
        As in :class:`Architecture`.
    count : str
        Which parameter count ``n_params`` means for the law being planned with (one of
        :data:`PARAM_COUNTS`): it must match the convention the law was fitted with.
    """

    aspect_ratio: float = 128.0
    head_dim: float = 64.0
    ffw_mult: float = 4.0
    gated: bool = False
    vocab_size: int = 50257
    seq_len: int = 2048
    tied_embeddings: bool = True
    learned_positions: bool = False
    count: ParamCount = "total"

    def __post_init__(self) -> None:
        if self.count not in PARAM_COUNTS:
            raise LawError(f"unknown parameter count {self.count!r}; use one of {', '.join(PARAM_COUNTS)}")
        for name in ("aspect_ratio", "head_dim", "ffw_mult", "vocab_size", "seq_len"):
            v = getattr(self, name)
            if not (np.isfinite(v) and v > 0):
                raise LawError(f"ShapeFamily.{name} must be a positive number, got {v!r}")

    def _arch(self, d_model: Any) -> Architecture:
        return Architecture(
            n_layer=d_model / self.aspect_ratio,
            d_model=d_model,
            n_head=d_model / self.head_dim,
            d_ff=self.ffw_mult * d_model,
            gated=self.gated,
            vocab_size=self.vocab_size,
            seq_len=self.seq_len,
            tied_embeddings=self.tied_embeddings,
            learned_positions=self.learned_positions,
        )

    def architecture(self, n_params: Any) -> Architecture:
        """The (continuous) shape of this family with ``n_params`` parameters.

        The count is ``c3 d^3 + c1 d`` in the width ``d`` (blocks grow as ``d^3`` at a
        fixed aspect ratio, embeddings and head as ``d``), solved by Cardano's formula
        and one Newton step.

        Raises
        ------
        LawError
            If ``n_params`` is not a positive number.
        """
        n = np.asarray(n_params, dtype=float)
        if np.any(~np.isfinite(n)) or np.any(n <= 0):
            raise LawError(f"n_params must be positive numbers, got {n_params!r}")
        c3 = (4.0 + (3.0 if self.gated else 2.0) * self.ffw_mult) / self.aspect_ratio
        c1 = float(self._arch(1.0).n_params(self.count)) - c3
        p, q = c1 / c3, n / c3
        root = np.sqrt(q * q / 4.0 + p**3 / 27.0)
        d = np.cbrt(q / 2.0 + root) + np.cbrt(q / 2.0 - root)
        d = np.where(d > 0, d, np.cbrt(q))
        d = d - (c3 * d**3 + c1 * d - n) / (3.0 * c3 * d**2 + c1)
        return self._arch(d if d.ndim else float(d))

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class FlopCounter:
    """Training FLOPs per token as a function of parameter count, for planning.

    ``FlopCounter("6nd")`` needs no shapes. Other conventions need a
    :class:`ShapeFamily` to turn a parameter count into a shape.

    Examples
    --------
    >>> FlopCounter("6nd")(1e9)
    6000000000.0
    >>> c = FlopCounter("kaplan", ShapeFamily(count="non_embedding", seq_len=1024))
    >>> round(float(c(1e9)) / 6e9, 3)   # the context term adds ~4% at 1B
    1.039
    """

    convention: str = "6nd"
    shape: ShapeFamily | None = None

    def __post_init__(self) -> None:
        if self.convention not in CONVENTIONS:
            raise LawError(f"unknown FLOP convention {self.convention!r}; use one of {', '.join(CONVENTIONS)}")
        if self.convention != "6nd" and self.shape is None:
            raise LawError(
                f"FLOP convention {self.convention!r} depends on the model's shape: pass "
                f"FlopCounter({self.convention!r}, ShapeFamily(aspect_ratio=..., vocab_size=..., seq_len=..., count=...))"
            )

    @property
    def name(self) -> str:
        return self.convention

    def __call__(self, n_params: Any) -> Any:
        """FLOPs per training token of a model with ``n_params`` parameters."""
        if self.convention == "6nd" and (self.shape is None or self.shape.count == "total"):
            return 6.0 * np.asarray(n_params, dtype=float) if np.ndim(n_params) else 6.0 * float(n_params)
        assert self.shape is not None
        out = flops_per_token(self.shape.architecture(n_params), self.convention)
        return out if np.ndim(out) else float(out)

    def to_dict(self) -> dict[str, Any]:
        return {"convention": self.convention, "shape": None if self.shape is None else self.shape.to_dict()}


def as_counter(flops_per_token: str | FlopCounter | Callable[[Any], Any] | None) -> FlopCounter | Callable[[Any], Any]:
    """Accept ``None``/``"6nd"``, a :class:`FlopCounter`, or any callable N -> FLOPs/token."""
    if flops_per_token is None or flops_per_token == "6nd":
        return FlopCounter("6nd")
    if isinstance(flops_per_token, str):
        return FlopCounter(flops_per_token)  # raises: a shape is needed
    if callable(flops_per_token):
        return flops_per_token
    raise LawError(f"flops_per_token must be '6nd', a FlopCounter or a function of n_params, got {flops_per_token!r}")


def counter_name(counter: Any) -> str:
    return str(getattr(counter, "name", None) or getattr(counter, "__name__", "custom"))


__all__ = [
    "CONVENTIONS",
    "PARAM_COUNTS",
    "Architecture",
    "FlopCounter",
    "ShapeFamily",
    "flops_per_token",
    "inference_flops_per_token",
]
