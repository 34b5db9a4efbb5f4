"""A small decoder-only transformer (GPT-2 style), readable top to bottom.

Token and learned position embeddings, ``n_layer`` pre-LayerNorm blocks (causal
self-attention, then a GELU MLP), a final LayerNorm and an output head tied to the
token embedding. No biases anywhere, so the parameter count is exactly
:func:`scalinglaws.sweep.accounting.count_params`.

With ``parametrization="mup"`` the same parameters are initialised and used as the
maximal update parametrization asks (hidden matrices' init std times
``sqrt(base / width)``, attention scores over ``d_head`` rather than ``sqrt(d_head)``,
logits times ``base / width``); the per-group learning rates are in
:mod:`scalinglaws.sweep.mup`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn
from torch.nn import functional as F


@dataclass(frozen=True)
class ModelConfig:
    """The model's shape.

    Attributes
    ----------
    n_layer, d_model, n_head : int
        Depth, width and attention heads (``d_model % n_head == 0``).
    vocab_size : int
        Token vocabulary (256 for bytes).
    seq_len : int
        Context length (the size of the position table).
    ffw_mult : int
        MLP hidden width as a multiple of ``d_model``.
    parametrization : {"standard", "mup"}
        How weights are initialised and scaled (see the module docstring).
    mup_base_width : int
        The muP base width (ignored under ``"standard"``).
    """

    n_layer: int
    d_model: int
    n_head: int
    vocab_size: int = 256
    seq_len: int = 128
    ffw_mult: int = 4
    parametrization: str = "standard"
    mup_base_width: int = 64

    @property
    def width_mult(self) -> float:
        """``d_model / mup_base_width`` under muP; 1 under the standard parametrization."""
        return self.d_model / self.mup_base_width if self.parametrization == "mup" else 1.0


class CausalSelfAttention(nn.Module):
    """Multi-head causal self-attention with fused QKV and output projections."""

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        self.n_head = config.n_head
        # muP: scores over d_head (query-key coordinates become correlated in training).
        self.scale = (config.n_head / config.d_model if config.parametrization == "mup"
                      else None)  # None: scaled_dot_product_attention's 1 / sqrt(d_head)
        self.qkv = nn.Linear(config.d_model, 3 * config.d_model, bias=False)
        self.proj = nn.Linear(config.d_model, config.d_model, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        batch, seq, width = x.shape
        q, k, v = self.qkv(x).split(width, dim=2)
        q, k, v = (t.view(batch, seq, self.n_head, width // self.n_head).transpose(1, 2)
                   for t in (q, k, v))
        y = F.scaled_dot_product_attention(q, k, v, is_causal=True, scale=self.scale)
        return self.proj(y.transpose(1, 2).reshape(batch, seq, width))


class MLP(nn.Module):
    """Two linear layers with a GELU between."""

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        hidden = config.ffw_mult * config.d_model
        self.fc = nn.Linear(config.d_model, hidden, bias=False)
        self.proj = nn.Linear(hidden, config.d_model, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.proj(F.gelu(self.fc(x)))


class Block(nn.Module):
    """One pre-LayerNorm transformer block: ``x + attn(ln(x))``, then ``x + mlp(ln(x))``."""

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        self.ln_attn = nn.LayerNorm(config.d_model, bias=False)
        self.attn = CausalSelfAttention(config)
        self.ln_mlp = nn.LayerNorm(config.d_model, bias=False)
        self.mlp = MLP(config)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(self.ln_attn(x))
        return x + self.mlp(self.ln_mlp(x))


class Transformer(nn.Module):
    """The language model: token ids of shape (batch, seq) to logits (batch, seq, vocab)."""

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        self.config = config
        self.tok_emb = nn.Embedding(config.vocab_size, config.d_model)
        self.pos_emb = nn.Embedding(config.seq_len, config.d_model)
        self.blocks = nn.ModuleList(Block(config) for _ in range(config.n_layer))
        self.ln_out = nn.LayerNorm(config.d_model, bias=False)
        self.head = nn.Linear(config.d_model, config.vocab_size, bias=False)
        self.head.weight = self.tok_emb.weight  # tied: the head adds no parameters
        self.apply(self._init_weights)
        for name, param in self.named_parameters():  # GPT-2: scale residual projections
            if name.endswith("proj.weight"):
                nn.init.normal_(param, std=0.02 / math.sqrt(2 * config.n_layer))
        # muP: logits times base / width; hidden matrices' std as 1 / sqrt(fan_in), equal
        # to the above at the base width. The tied embedding keeps its width-free init.
        self.output_mult = 1.0 / config.width_mult
        if config.parametrization == "mup":
            with torch.no_grad():
                for param in self.blocks.parameters():
                    if param.dim() >= 2:
                        param.mul_(1.0 / math.sqrt(config.width_mult))

    @staticmethod
    def _init_weights(module: nn.Module) -> None:
        if isinstance(module, (nn.Linear, nn.Embedding)):
            nn.init.normal_(module.weight, std=0.02)

    def forward(self, idx: torch.Tensor) -> torch.Tensor:
        positions = torch.arange(idx.shape[1], device=idx.device)
        x = self.tok_emb(idx) + self.pos_emb(positions)
        for block in self.blocks:
            x = block(x)
        logits = self.head(self.ln_out(x))
        return logits if self.config.parametrization != "mup" else logits * self.output_mult

    def n_params(self) -> tuple[int, int]:
        """``(total, non-embedding)`` parameters; the tied head is counted once."""
        total = sum(p.numel() for p in self.parameters())
        embedding = self.tok_emb.weight.numel() + self.pos_emb.weight.numel()
        return total, total - embedding
