"""Trainer speed and FLOP accounting, checked against plain PyTorch.

1. Tokens per second of :func:`scalinglaws.sweep.train.train` against a plain PyTorch
   reference loop (the same model, batch shape, seed and thread count; default AdamW;
   no schedule, clipping or evaluation), alternated over several rounds in one process.
   Target: ratio >= 1.0. Both wall-clock and CPU-time rates are printed: on a machine
   shared with other jobs the wall clock measures the neighbours too, while the process's
   CPU time (one thread) still measures the code.
2. Training FLOPs per step from :mod:`scalinglaws.sweep.accounting` against a counted
   forward and backward pass (``torch.utils.flop_counter.FlopCounterMode``).
   Target: within 10 % for the "exact" convention, over a few shapes.
3. With ``--checkpoint-every K``: the trainer again, checkpointing every K steps, to
   show what checkpoints cost.

On a GPU (``--device cuda``) both loops run under bf16 autocast, and the trainer's MFU
is printed against the device's peak (or ``--peak-flops``); ``--compile`` compiles the
trainer's model.

Usage::

    PYTHONPATH=src python benchmarks/train_speed.py [--n-layer 2 --d-model 64 --head-dim 16
        --seq-len 128 --batch-size 16 --steps 100 --rounds 5 --threads 1
        --device cpu --compile --checkpoint-every 25 --peak-flops 1e12 --skip-flops]
"""

from __future__ import annotations

import argparse
import contextlib
import statistics
import tempfile
import time

import torch
from torch.nn import functional as F
from torch.nn.attention import SDPBackend, sdpa_kernel
from torch.utils.flop_counter import FlopCounterMode

from scalinglaws.sweep.data import load_corpus
from scalinglaws.sweep.design import DataSpec, RunSpec
from scalinglaws.sweep.model import ModelConfig, Transformer
from scalinglaws.sweep.train import train


def reference_loop(spec: RunSpec, steps: int, device: str = "cpu") -> tuple[float, float]:
    """Tokens per wall-clock and per CPU second of a textbook loop on the same model and data."""
    torch.manual_seed(spec.seed)
    model = Transformer(ModelConfig(spec.n_layer, spec.d_model, spec.n_head,
                                    seq_len=spec.seq_len)).to(device)
    optimizer = torch.optim.AdamW(model.parameters(), lr=spec.lr)
    data = torch.from_numpy(load_corpus(spec.data, spec.seq_len + 1).train)
    generator = torch.Generator().manual_seed(spec.seed)
    autocast = (torch.autocast("cuda", dtype=torch.bfloat16) if device == "cuda"
                else contextlib.nullcontext())
    _sync(device)
    start, cpu = time.perf_counter(), time.process_time()
    for _ in range(steps):
        starts = torch.randint(len(data) - spec.seq_len, (spec.batch_size,), generator=generator)
        batch = torch.stack([data[s: s + spec.seq_len + 1] for s in starts.tolist()]).long()
        batch = batch.to(device)
        with autocast:
            logits = model(batch[:, :-1])
        loss = F.cross_entropy(logits.float().reshape(-1, logits.shape[-1]),
                               batch[:, 1:].reshape(-1))
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
    _sync(device)
    tokens = steps * spec.tokens_per_step
    return tokens / (time.perf_counter() - start), tokens / (time.process_time() - cpu)


def _sync(device: str) -> None:
    if device == "cuda":
        torch.cuda.synchronize()


def ours(spec: RunSpec, device: str = "cpu", compile: bool = False,
         checkpoint_every: int | None = None, peak: float | None = None
         ) -> tuple[float, float | None, float]:
    """Tokens per wall-clock second, MFU and tokens per CPU second of the sweep trainer
    (one final evaluation of one window; the CPU time includes building the model)."""
    with tempfile.TemporaryDirectory() as folder:
        cpu = time.process_time()
        result = train(spec, device=device, compile=compile, peak_flops=peak,
                       checkpoint_dir=folder if checkpoint_every else None,
                       checkpoint_every=checkpoint_every)
        cpu = time.process_time() - cpu
    return result.tokens_per_second, result.mfu, result.n_tokens / cpu


def counted_flops_per_step(spec: RunSpec) -> float:
    """FLOPs of one forward + backward pass, as FlopCounterMode counts them.

    Attention runs on the "math" SDPA backend here: the counter knows its matmuls, but
    not the fused CPU flash-attention kernel the trainer uses (same arithmetic).
    """
    model = Transformer(ModelConfig(spec.n_layer, spec.d_model, spec.n_head,
                                    seq_len=spec.seq_len))
    batch = torch.randint(0, 256, (spec.batch_size, spec.seq_len + 1))
    with FlopCounterMode(display=False) as counter, sdpa_kernel(SDPBackend.MATH):
        logits = model(batch[:, :-1])
        F.cross_entropy(logits.flatten(0, 1), batch[:, 1:].flatten()).backward()
    return float(counter.get_total_flops())


FLOP_SHAPES: tuple[tuple[int, int, int], ...] = ((1, 32, 8), (2, 64, 16), (4, 128, 32),
                                                  (6, 256, 64))


def check_flops(seq_len: int, batch_size: int) -> None:
    """Print our per-step FLOPs against the counted ones, for a few shapes."""
    print(f"FLOPs per step (seq_len={seq_len}, batch={batch_size}) relative to "
          "FlopCounterMode's forward + backward count:")
    print(f"{'n_layer':>7} {'d_model':>7} {'counted':>10} {'exact':>7} {'exact-lookup':>12} {'6nd':>7}")
    for n_layer, d_model, head_dim in FLOP_SHAPES:
        spec = RunSpec(budget=1.0, n_layer=n_layer, d_model=d_model,
                       n_head=d_model // head_dim, seq_len=seq_len, batch_size=batch_size,
                       n_tokens=batch_size * seq_len, lr=1e-3)
        counted = counted_flops_per_step(spec)
        exact = spec.flops_per_token("exact") * spec.tokens_per_step
        # Chinchilla counts the embedding as a one-hot matmul (2 V d per token, forward);
        # in practice it is a table lookup, which no counter sees.
        lookup = 3 * 2 * spec.vocab_size * spec.d_model * spec.tokens_per_step
        six_nd = spec.flops_per_token("6nd") * spec.tokens_per_step
        print(f"{n_layer:>7} {d_model:>7} {counted:>10.4g} {exact / counted:>7.3f} "
              f"{(exact - lookup) / counted:>12.3f} {six_nd / counted:>7.3f}")
    print("target: 'exact' within 10% of counted (1.00 +- 0.10); 'exact-lookup' is what "
          "runs as matmuls")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-layer", type=int, default=2)
    parser.add_argument("--d-model", type=int, default=64)
    parser.add_argument("--head-dim", type=int, default=16)
    parser.add_argument("--seq-len", type=int, default=128)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    parser.add_argument("--compile", action="store_true", help="torch.compile our model")
    parser.add_argument("--checkpoint-every", type=int, default=0,
                        help="also time ours checkpointing every K steps")
    parser.add_argument("--peak-flops", type=float, help="peak FLOP/s for MFU")
    parser.add_argument("--skip-flops", action="store_true", help="skip the FLOP-count check")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    spec = RunSpec(budget=1.0, n_layer=args.n_layer, d_model=args.d_model,
                   n_head=args.d_model // args.head_dim, seq_len=args.seq_len,
                   batch_size=args.batch_size, n_tokens=args.steps * args.batch_size * args.seq_len,
                   lr=1e-3, n_evals=1, eval_tokens=args.seq_len,
                   data=DataSpec(max_bytes=4_000_000))
    n_params, n_nonemb = spec.params
    print(f"speed model: n_layer={spec.n_layer} d_model={spec.d_model} n_head={spec.n_head} "
          f"seq_len={spec.seq_len} batch={spec.batch_size}; n_params={n_params} "
          f"(non-embedding {n_nonemb}); {args.steps} steps x {args.rounds} rounds, "
          f"{args.threads} thread(s), torch {torch.__version__}, device {args.device}"
          f"{', compiled' if args.compile else ''}")
    warm = RunSpec(**{**spec.__dict__, "n_tokens": 10 * spec.tokens_per_step})
    ours(warm, args.device, args.compile)  # warm up (and compile)
    reference_loop(spec, 10, args.device)
    mine, ref, saving, mfus = [], [], [], []
    for _ in range(args.rounds):  # alternate, so drifts in machine speed hit both alike
        wall, mfu, cpu = ours(spec, args.device, args.compile, peak=args.peak_flops)
        mine.append((wall, cpu))
        mfus.append(mfu)
        ref.append(reference_loop(spec, args.steps, args.device))
        if args.checkpoint_every:
            wall, _, cpu = ours(spec, args.device, args.compile, args.checkpoint_every)
            saving.append((wall, cpu))
    for k, clock in enumerate(("wall-clock", "CPU-time")):
        ours_tps = statistics.median(m[k] for m in mine)
        ref_tps = statistics.median(r[k] for r in ref)
        print(f"tokens/s by {clock} (median of {args.rounds}): ours {ours_tps:,.0f}  "
              f"reference {ref_tps:,.0f}  ratio {ours_tps / ref_tps:.2f}x (target >= 1.0)")
        if saving:
            with_ckpt = statistics.median(c[k] for c in saving)
            print(f"  ours with a checkpoint every {args.checkpoint_every} steps: "
                  f"{with_ckpt:,.0f} tokens/s ({with_ckpt / ref_tps:.2f}x the reference)")
    if mfus[0] is not None:
        print(f"MFU of ours (median): {100 * statistics.median(mfus):.1f}% "  # type: ignore[type-var]
              "of the device's peak")
    if not args.skip_flops:
        check_flops(args.seq_len, args.batch_size)


if __name__ == "__main__":
    main()
