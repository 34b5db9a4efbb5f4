"""Parameter and FLOP accounting for the sweep's transformer (no torch needed).

The model is the one in :mod:`scalinglaws.sweep.model`: a GPT-2 style decoder with
learned positional embeddings, pre-LayerNorm blocks (weights only, no biases anywhere),
an MLP of width ``ffw_mult * d_model`` and an output head tied to the token embedding.

Parameter counts follow Kaplan et al. 2020 and Pearce & Song 2024
("Reconciling Kaplan and Chinchilla Scaling Laws"):

- embedding parameters: ``(vocab_size + seq_len) * d_model`` (token and position
  tables; the head is tied to the token table, so it adds nothing);
- non-embedding parameters: everything else, ``n_layer * (4 d^2 + 2 d f + 2 d) + d``;
- ``n_params`` (what the store reports): the total, embedding included, as Chinchilla
  counts.

Two FLOP conventions, per training token (forward + backward):

- ``"6nd"``: ``6 * n_params`` with ``n_params`` the total above;
- ``"exact"``: Chinchilla Appendix F, three times the forward pass, whose per-token cost
  is ``2 V d`` (embedding) ``+ n_layer * (6 d^2 + 2 T d + 3 h T + 2 T d + 2 d^2 + 4 d f)``
  (QKV, QK logits, softmax, attention-weighted values, output projection, MLP)
  ``+ 2 d V`` (logits). Attention is counted over the full ``T x T`` matrix, as
  Chinchilla does, although the model is causal.
"""

from __future__ import annotations

from typing import Literal

from scalinglaws.sweep.errors import SweepError

FlopConvention = Literal["6nd", "exact"]
FLOP_CONVENTIONS: tuple[str, ...] = ("6nd", "exact")


def count_params(
    n_layer: int, d_model: int, *, vocab_size: int = 256, seq_len: int = 128, ffw_mult: int = 4
) -> tuple[int, int]:
    """Count the model's parameters.

    Parameters
    ----------
    n_layer, d_model : int
        Depth and width.
    vocab_size, seq_len, ffw_mult : int
        Vocabulary, context length and MLP expansion factor.

    Returns
    -------
    tuple of int
        ``(n_params, n_params_nonembedding)``: the total (embedding included) and the
        non-embedding count.

    Examples
    --------
    >>> count_params(2, 64, vocab_size=256, seq_len=128)
    (123200, 98624)
    """
    d, f = d_model, ffw_mult * d_model
    nonembedding = n_layer * (4 * d * d + 2 * d * f + 2 * d) + d
    embedding = (vocab_size + seq_len) * d
    return nonembedding + embedding, nonembedding


def flops_per_token(
    n_layer: int,
    d_model: int,
    *,
    n_head: int,
    vocab_size: int = 256,
    seq_len: int = 128,
    ffw_mult: int = 4,
    convention: FlopConvention = "6nd",
) -> float:
    """Training FLOPs per token (forward and backward) under a convention.

    Parameters
    ----------
    n_layer, d_model, n_head : int
        The model's shape.
    vocab_size, seq_len, ffw_mult : int
        Vocabulary, context length and MLP expansion factor.
    convention : {"6nd", "exact"}
        ``"6nd"``: six times the total parameter count. ``"exact"``: three times the
        Chinchilla Appendix F forward count, attention and embeddings included.

    Returns
    -------
    float
        FLOPs per training token.

    Raises
    ------
    SweepError
        If the convention is unknown.

    Examples
    --------
    >>> flops_per_token(2, 64, n_head=4, convention="6nd")
    739200.0
    >>> flops_per_token(2, 64, n_head=4, convention="exact")
    992256.0
    """
    if convention == "6nd":
        n_params, _ = count_params(
            n_layer, d_model, vocab_size=vocab_size, seq_len=seq_len, ffw_mult=ffw_mult
        )
        return 6.0 * n_params
    if convention == "exact":
        d, f, t, h, v = d_model, ffw_mult * d_model, seq_len, n_head, vocab_size
        attention = 2 * 3 * d * d + 2 * t * d + 3 * h * t + 2 * t * d + 2 * d * d
        dense = 2 * 2 * d * f
        forward = 2 * v * d + n_layer * (attention + dense) + 2 * d * v
        return 3.0 * forward
    raise SweepError(
        f"unknown FLOP convention {convention!r}; use one of {', '.join(FLOP_CONVENTIONS)}"
    )
