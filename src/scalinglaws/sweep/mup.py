"""Maximal update parametrization (muP) for the sweep's transformer, and its coordinate check.

muP (Yang et al. 2022, "Tensor Programs V", arXiv 2203.03466, Table 8 for Adam) makes
the best learning rate of a model independent of its width, so an LR tuned on a narrow
model transfers to a wide one. Relative to a base width ``b`` and the model's width
``w`` (``RunSpec.parametrization = "mup"``, ``RunSpec.mup_base_width = b``):

* **Hidden matrices** (attention QKV and output, both MLP layers): init std times
  ``sqrt(b / w)`` (so it falls as ``1 / sqrt(fan_in)``), Adam LR times ``b / w``.
* **Readout**: the logits are multiplied by ``b / w`` (the multiplier form of the
  paper's Table 8, rather than a zero-initialised readout). The head is tied to the
  token embedding, which as an input weight keeps its width-free init and LR; the
  multiplier gives the readout its muP scale.
* **Attention** scores are scaled by ``1 / d_head`` instead of ``1 / sqrt(d_head)``.
* **Embeddings and vectors** (token and position tables, LayerNorm gains): base LR.

At the base width muP is the standard parametrization except for the attention scale.
Weight decay stays coupled to the LR as in PyTorch's AdamW (``p -= lr * wd * p``), so
the hidden matrices' decay shrinks with their LR. Gradient clipping (on the global norm)
is unchanged. This is done with optimizer parameter groups (:func:`param_groups`, each
with an ``lr_scale`` the training loop multiplies the schedule's LR by) and multipliers
in :mod:`scalinglaws.sweep.model`, without the ``mup`` package, which is no longer
maintained.

:func:`coord_check` is the paper's check that the parametrization is right: train a
few steps at several widths and watch the size (RMS) of each layer's activations; under
muP it stays flat with width, under the standard parametrization it grows.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from scalinglaws.sweep.errors import SweepError
from scalinglaws.sweep.specs import PARAMETRIZATIONS, DataSpec

#: The layer types :func:`coord_check` measures, in the order of the forward pass.
LAYERS: tuple[str, ...] = ("embedding", "attn", "mlp", "residual", "logits")


def param_groups(model: Any, weight_decay: float) -> list[dict[str, Any]]:
    """AdamW parameter groups for a muP model: hidden matrices, embeddings, vectors.

    Each group has an ``lr_scale``: ``base / width`` for the hidden matrices, 1 for the
    embeddings (tied to the readout) and the LayerNorm gains. Weight decay applies to
    matrices only, as in the standard parametrization.
    """
    embeddings = {id(model.tok_emb.weight), id(model.pos_emb.weight)}
    hidden: list[Any] = []
    embed: list[Any] = []
    vectors: list[Any] = []
    for param in model.parameters():
        if not param.requires_grad:
            continue
        (vectors if param.dim() < 2 else embed if id(param) in embeddings else hidden
         ).append(param)
    return [
        {"params": hidden, "weight_decay": weight_decay,
         "lr_scale": 1.0 / model.config.width_mult},
        {"params": embed, "weight_decay": weight_decay, "lr_scale": 1.0},
        {"params": vectors, "weight_decay": 0.0, "lr_scale": 1.0},
    ]


def coord_check(
    widths: Sequence[int] = (64, 128, 256, 512),
    *,
    parametrizations: Sequence[str] = PARAMETRIZATIONS,
    n_steps: int = 5,
    lr: float = 1e-2,
    n_layer: int = 2,
    n_head: int = 4,
    seq_len: int = 64,
    batch_size: int = 8,
    base_width: int | None = None,
    seeds: Sequence[int] = (0,),
    data: DataSpec | None = None,
    threads: int | None = None,
) -> pd.DataFrame:
    """Activation size per layer type, width and step, under each parametrization.

    Each model is trained with Adam (constant LR, no weight decay, no clipping) for
    ``n_steps`` steps; the activations are measured on every step's training batch, from
    step 0 (at initialisation) to ``n_steps`` (after the last update).

    Parameters
    ----------
    widths : sequence of int
        ``d_model`` values, each a multiple of ``n_head`` (at least two).
    parametrizations : sequence of {"standard", "mup"}
        Which to check.
    n_steps, lr : int, float
        Adam steps and the (base) learning rate.
    n_layer, n_head, seq_len, batch_size : int
        The model and batch (the head count is fixed, so ``d_head`` grows with width).
    base_width : int, optional
        muP base width; default: the smallest width.
    seeds : sequence of int
        Initialisation and batch seeds; the RMS is averaged over them.
    data : DataSpec, optional
        Training text; default: the shipped ``devils-dictionary``.
    threads : int, optional
        torch CPU threads (default: leave torch's setting).

    Returns
    -------
    pandas.DataFrame
        Columns ``parametrization``, ``width``, ``step``, ``layer`` (one of
        :data:`LAYERS`: the embedding output, the attention and MLP outputs averaged over
        blocks, the last block's residual stream, the logits) and ``rms``.

    Raises
    ------
    SweepError
        For a width that is not a positive multiple of ``n_head``, fewer than two
        widths, or an unknown parametrization.
    """
    import torch

    widths = sorted({int(w) for w in widths})
    if len(widths) < 2 or any(w < n_head or w % n_head for w in widths):
        raise SweepError(f"coord_check needs two or more widths, each a multiple of "
                         f"n_head ({n_head}); got {list(widths)}")
    for name in parametrizations:
        if name not in PARAMETRIZATIONS:
            raise SweepError(f"parametrization must be one of {', '.join(PARAMETRIZATIONS)}; "
                             f"got {name!r}")
    if not (isinstance(n_steps, int) and n_steps >= 1 and math.isfinite(lr) and lr > 0):
        raise SweepError(f"coord_check needs n_steps >= 1 and lr > 0, got {n_steps!r}, {lr!r}")
    from scalinglaws.sweep.data import load_corpus

    corpus = load_corpus(data or DataSpec(corpus="devils-dictionary"), seq_len + 1)
    if threads is not None:
        torch.set_num_threads(threads)
    rows = []
    for parametrization in parametrizations:
        for width in widths:
            for seed in seeds:
                sizes = _one_model(torch, corpus, parametrization, width, seed, n_steps, lr,
                                   n_layer, n_head, seq_len, batch_size,
                                   base_width or widths[0])
                rows += [(parametrization, width, step, layer, value)
                         for (step, layer), value in sizes.items()]
    table = pd.DataFrame(rows, columns=["parametrization", "width", "step", "layer", "rms"])
    return (table.groupby(["parametrization", "width", "step", "layer"], sort=False,
                          as_index=False)["rms"].mean())


def coord_slopes(table: pd.DataFrame, step: int | None = None) -> pd.DataFrame:
    """Slope of ``log(rms)`` against ``log(width)`` per layer and parametrization.

    About 0 means the layer's activations keep their size as the model widens (muP's
    aim); a positive slope means they grow. ``step`` defaults to the last one measured.

    Returns
    -------
    pandas.DataFrame
        Indexed by layer (in :data:`LAYERS` order), one column per parametrization.
    """
    step = int(table["step"].max()) if step is None else step
    at = table[table["step"] == step]
    slopes = {
        key: float(np.polyfit(np.log(group["width"]), np.log(group["rms"]), 1)[0])
        for key, group in at.groupby(["layer", "parametrization"])
    }
    out = pd.Series(slopes).unstack()
    out.index.name, out.columns.name = "layer", "parametrization"
    return out.reindex([layer for layer in LAYERS if layer in out.index])


def _one_model(torch: Any, corpus: Any, parametrization: str, width: int, seed: int,
               n_steps: int, lr: float, n_layer: int, n_head: int, seq_len: int,
               batch_size: int, base_width: int) -> dict[tuple[int, str], float]:
    """Train one model ``n_steps`` Adam steps; RMS per (step, layer type)."""
    from torch.nn import functional as F

    from scalinglaws.sweep.model import ModelConfig, Transformer

    torch.manual_seed(seed)
    config = ModelConfig(n_layer=n_layer, d_model=width, n_head=n_head, seq_len=seq_len,
                         vocab_size=max(256, corpus.vocab_size),
                         parametrization=parametrization, mup_base_width=base_width)
    model: Any = Transformer(config)
    groups: list[dict[str, Any]] = (
        param_groups(model, 0.0) if parametrization == "mup"
        else [{"params": list(model.parameters()), "lr_scale": 1.0}])
    for group in groups:
        group["lr"] = lr * float(group.pop("lr_scale"))
    optimizer = torch.optim.AdamW(groups, lr=lr, betas=(0.9, 0.95), eps=1e-8,
                                  weight_decay=0.0)
    found: dict[str, list[float]] = {}

    def record(layer: str, tensor: Any) -> None:
        found.setdefault(layer, []).append(float(tensor.detach().pow(2).mean().sqrt()))

    hooks = [model.blocks[0].register_forward_pre_hook(
        lambda module, args: record("embedding", args[0]))]
    for block in model.blocks:
        hooks.append(block.attn.register_forward_hook(
            lambda module, args, out: record("attn", out)))
        hooks.append(block.mlp.register_forward_hook(
            lambda module, args, out: record("mlp", out)))
    hooks.append(model.blocks[-1].register_forward_hook(
        lambda module, args, out: record("residual", out)))
    sizes: dict[tuple[int, str], float] = {}
    try:
        for step in range(n_steps + 1):
            found.clear()
            batch = torch.from_numpy(corpus.batch(step, seed=seed, batch_size=batch_size,
                                                  seq_len=seq_len))
            logits = model(batch[:, :-1])
            record("logits", logits)
            sizes.update({(step, layer): float(np.mean(values))
                          for layer, values in found.items()})
            if step < n_steps:
                F.cross_entropy(logits.flatten(0, 1), batch[:, 1:].flatten()).backward()
                optimizer.step()
                optimizer.zero_grad(set_to_none=True)
    finally:
        for hook in hooks:
            hook.remove()
    return sizes
