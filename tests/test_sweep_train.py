"""The trainer: model size, determinism, learning, corpora, devices (needs torch)."""

from __future__ import annotations

import dataclasses
import math
import sys
from pathlib import Path

import pytest

from scalinglaws.sweep import DataSpec, RunSpec, SweepError, count_params
from scalinglaws.sweep.data import load_corpus

torch = pytest.importorskip("torch")

from scalinglaws.sweep.model import ModelConfig, Transformer
from scalinglaws.sweep.train import resolve_device, train

SMALL_DATA = DataSpec(max_bytes=400_000)


def tiny_spec(**changes: object) -> RunSpec:
    """A run of a few seconds' work at most."""
    base = RunSpec(budget=1e9, n_layer=1, d_model=16, n_head=2, n_tokens=40 * 4 * 32,
                   batch_size=4, lr=1e-2, seq_len=32, n_evals=4, eval_tokens=1024,
                   data=SMALL_DATA)
    return dataclasses.replace(base, **changes)


@pytest.mark.parametrize(("n_layer", "d_model", "n_head", "seq_len"),
                         [(1, 8, 1, 16), (2, 64, 4, 128), (3, 48, 6, 64)])
def test_model_has_the_counted_parameters(n_layer: int, d_model: int, n_head: int,
                                          seq_len: int) -> None:
    model = Transformer(ModelConfig(n_layer, d_model, n_head, seq_len=seq_len))
    assert model.n_params() == count_params(n_layer, d_model, seq_len=seq_len)
    logits = model(torch.zeros(2, seq_len, dtype=torch.long))
    assert logits.shape == (2, seq_len, 256)


def test_same_spec_and_seed_give_the_identical_loss_twice() -> None:
    first = train(tiny_spec(), device="cpu", threads=1)
    second = train(tiny_spec(), device="cpu", threads=1)
    assert first.loss == second.loss
    assert [p.eval_loss for p in first.curve] == [p.eval_loss for p in second.curve]
    other = train(tiny_spec(seed=1), device="cpu", threads=1)
    assert other.loss != first.loss


def test_a_run_learns_and_reports_its_accounting() -> None:
    spec = tiny_spec(n_tokens=150 * 4 * 32, schedule="wsd")
    result = train(spec, device="cpu", threads=1)
    losses = [p.eval_loss for p in result.curve]
    assert len(losses) == spec.n_evals and all(math.isfinite(x) for x in losses)
    assert losses[-1] < losses[0] < math.log(256) + 0.5
    assert result.loss == losses[-1]
    assert [p.step for p in result.curve][-1] == spec.n_steps
    assert result.n_tokens == spec.n_steps * spec.batch_size * spec.seq_len
    assert (result.n_params, result.n_params_nonembedding) == spec.params
    assert result.flops == result.flops_6nd == 6 * result.n_params * result.n_tokens
    assert result.flops_exact == spec.flops_per_token("exact") * result.n_tokens
    row, curve = result.to_row()
    assert row["run_id"] == spec.run_id and len(curve) == spec.n_evals


def test_deterministic_mode_is_restored() -> None:
    before = torch.are_deterministic_algorithms_enabled()
    train(tiny_spec(n_tokens=4 * 32), device="cpu", threads=1)
    assert torch.are_deterministic_algorithms_enabled() == before


def test_a_user_text_file_or_folder_is_a_corpus(tmp_path: Path) -> None:
    text = "".join(f"line {i}: the quick brown fox jumps over the lazy dog\n" for i in range(2000))
    (tmp_path / "a.txt").write_text(text)
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "b.md").write_text(text.upper())
    (tmp_path / ".hidden").write_text("never read")
    for corpus in (tmp_path / "a.txt", tmp_path):
        data = DataSpec(corpus=str(corpus), max_bytes=10_000_000)
        loaded = load_corpus(data)
        assert len(loaded.train) + len(loaded.val) == (len(text) * (1 if corpus.is_file() else 2))
        result = train(tiny_spec(data=data), device="cpu", threads=1)
        assert math.isfinite(result.loss) and result.corpus_sha256 == loaded.sha256


def test_stdlib_corpus_is_python_source() -> None:
    corpus = load_corpus(DataSpec(max_bytes=200_000))
    text = bytes(corpus.train[:20_000]).decode("utf-8", errors="replace")
    assert "def " in text and "import " in text
    assert len(corpus.val) > 0 and len(corpus.train) > 10 * len(corpus.val)


@pytest.mark.parametrize(("corpus", "match"), [
    ("/no/such/corpus", "does not exist"),
    ("hf:wikitext:wikitext-2-raw-v1", "pip install datasets"),
])
def test_corpus_errors(corpus: str, match: str) -> None:
    if corpus.startswith("hf:") and "datasets" in sys.modules:
        pytest.skip("the datasets package is installed here")
    with pytest.raises(SweepError, match=match):
        load_corpus(DataSpec(corpus=corpus))


def test_a_too_small_corpus(tmp_path: Path) -> None:
    (tmp_path / "tiny.txt").write_text("hello world\n")
    with pytest.raises(SweepError, match="too small"):
        load_corpus(DataSpec(corpus=str(tmp_path / "tiny.txt")), 129)


def test_cuda_without_a_gpu_is_a_clear_error() -> None:
    if torch.cuda.is_available():
        pytest.skip("a GPU is present")
    with pytest.raises(SweepError, match="--device cuda"):
        resolve_device("cuda")
    with pytest.raises(SweepError, match="--device cuda"):
        train(tiny_spec(), device="cuda")
    assert resolve_device("auto").type == "cpu"
    with pytest.raises(SweepError, match="unknown device"):
        resolve_device("tpu")


def test_a_diverging_run_raises() -> None:
    with pytest.raises(SweepError, match="diverged"):
        train(tiny_spec(lr=1e6, grad_clip=0.0, n_evals=1), device="cpu", threads=1)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_cuda_run_under_bf16_autocast() -> None:  # pragma: no cover - GPU machines only
    result = train(tiny_spec(), device="cuda")
    assert result.device.startswith("cuda") and math.isfinite(result.loss)
