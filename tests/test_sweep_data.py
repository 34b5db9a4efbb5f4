"""The user's data: nanoGPT token files, tokenizers, the shipped corpus, and their errors."""

from __future__ import annotations

import gzip
import importlib.resources
import math
import pickle
import sys
import types
from pathlib import Path

import numpy as np
import pytest

from scalinglaws.cli import main
from scalinglaws.sweep import (
    DataSpec,
    SweepError,
    design_sweep,
    read_curves,
    read_design,
    read_runs,
)
from scalinglaws.sweep.data import Corpus, load_corpus, vocab_size_of

ENGLISH = DataSpec(corpus="devils-dictionary")


def shipped_text() -> str:
    """The shipped corpus's text, read from the package's data."""
    resource = importlib.resources.files("scalinglaws.sweep") / "corpus" / "devils_dictionary.txt.gz"
    return gzip.decompress(resource.read_bytes()).decode("ascii")


def write_char_dataset(folder: Path) -> int:
    """What nanoGPT's shakespeare_char/prepare.py writes, from the shipped text.

    Characters become ids; train.bin and val.bin are uint16 (90 % / 10 %), and meta.pkl
    holds vocab_size, itos and stoi. Returns the vocabulary size.
    """
    text = shipped_text()
    chars = sorted(set(text))
    stoi = {c: i for i, c in enumerate(chars)}
    ids = np.array([stoi[c] for c in text], dtype=np.uint16)
    cut = int(0.9 * len(ids))
    folder.mkdir(parents=True, exist_ok=True)
    ids[:cut].tofile(folder / "train.bin")
    ids[cut:].tofile(folder / "val.bin")
    with (folder / "meta.pkl").open("wb") as handle:
        pickle.dump({"vocab_size": len(chars), "itos": dict(enumerate(chars)), "stoi": stoi},
                    handle)
    return len(chars)


def run_cli(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(args)
    out, err = capsys.readouterr()
    return code, out, err


def test_the_shipped_corpus_is_english_prose() -> None:
    corpus = load_corpus(ENGLISH)
    assert corpus.kind == "text" and corpus.vocab_size == 256 and corpus.source == ENGLISH.corpus
    assert len(corpus.train) + len(corpus.val) == 383_157
    text = shipped_text()
    assert "A Public Domain Text, Copyright Expired" in text and "ZOOLOGY, n." in text
    assert len(corpus.val) > 0.04 * len(text)


def test_batches_are_a_function_of_seed_and_step() -> None:
    corpus = load_corpus(ENGLISH)
    later = corpus.batch(7, seed=0, batch_size=4, seq_len=16)
    first = corpus.batch(0, seed=0, batch_size=4, seq_len=16)
    assert first.shape == (4, 17) and first.dtype == np.int64
    assert np.array_equal(corpus.batch(7, seed=0, batch_size=4, seq_len=16), later)
    assert not np.array_equal(first, later)
    assert not np.array_equal(corpus.batch(7, seed=1, batch_size=4, seq_len=16), later)
    windows = corpus.eval_windows(16, 1024)
    assert windows.shape == (64, 17)


def test_nanogpt_token_files(tmp_path: Path) -> None:
    vocab = write_char_dataset(tmp_path / "chars")
    data = DataSpec(corpus=str(tmp_path / "chars"))
    corpus = load_corpus(data)
    assert corpus.kind == "tokens" and corpus.vocab_size == vocab == vocab_size_of(data)
    assert isinstance(corpus.train, np.memmap) and corpus.train.dtype == np.uint16
    assert len(corpus.val) == len(shipped_text()) - int(0.9 * len(shipped_text()))  # val.bin
    design = design_sweep([1e9], 1, data=data, seq_len=32, head_dim=4, batch_size=8)
    assert design.runs[0].vocab_size == vocab  # the vocabulary comes from meta.pkl


def test_uint32_tokens_without_meta_and_a_single_file(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    tokens = rng.integers(0, 100_000, size=40_000).astype(np.uint32)
    folder = tmp_path / "big_vocab"
    folder.mkdir()
    tokens.tofile(folder / "train.bin")
    corpus = load_corpus(DataSpec(corpus=str(folder), dtype="uint32", val_fraction=0.1))
    assert corpus.vocab_size == int(tokens.max()) + 1  # no meta.pkl: largest token + 1
    assert len(corpus.val) == 4_000 and np.array_equal(corpus.val, tokens[-4_000:])  # the tail
    single = load_corpus(DataSpec(corpus=str(folder / "train.bin"), dtype="uint32"))
    assert len(single.train) == 38_000 and np.array_equal(single.train[:36_000], corpus.train)


@pytest.mark.parametrize(("make", "options", "match"), [
    (lambda p: (p / "train.bin").write_bytes(b"\x01\x02\x03"), {}, "whole number of uint16"),
    (lambda p: (p / "train.bin").write_bytes(b"\x01\x00" * 1001), {"dtype": "uint32"},
     "whole number of uint32"),
    (lambda p: ((p / "train.bin").write_bytes(b"\x01\x00" * 1000),
                (p / "meta.pkl").write_bytes(pickle.dumps({"vocab_size": 1, "x": print}))), {},
     "refers to builtins.print"),
    (lambda p: ((p / "train.bin").write_bytes(b"\x05\x00" * 1000),
                (p / "meta.pkl").write_bytes(pickle.dumps({"vocab_size": 3}))), {},
     "does not cover token 5"),
])
def test_bad_token_files_are_one_line_errors(tmp_path: Path, make: object, options: dict,
                                             match: str, capsys: pytest.CaptureFixture[str]
                                             ) -> None:
    folder = tmp_path / "data"
    folder.mkdir()
    make(folder)  # type: ignore[operator]
    with pytest.raises(SweepError, match=match):
        load_corpus(DataSpec(corpus=str(folder), **options))
    load_corpus.cache_clear()
    args = [f"--dtype={options['dtype']}"] if options else []
    code, _, err = run_cli(["sweep", "design", "--budgets", "1e9", "--data", str(folder),
                              "-o", str(tmp_path / "d.toml"), *args], capsys)
    assert code == 2 and err.startswith("error:") and err.count("\n") == 1 and match in err


def test_a_missing_tokenizer_package_is_a_one_line_error(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setitem(sys.modules, "tiktoken", None)  # `import tiktoken` fails
    code, _, err = run_cli(["sweep", "design", "--budgets", "1e9", "--data", "devils-dictionary",
                            "--tokenizer", "tiktoken:gpt2", "-o", str(tmp_path / "d.toml")],
                           capsys)
    assert code == 2 and err.count("\n") == 1 and "pip install tiktoken" in err
    code, _, err = run_cli(["sweep", "design", "--budgets", "1e9", "--tokenizer", "sentencepiece",
                            "-o", str(tmp_path / "d.toml")], capsys)
    assert code == 2 and "data.tokenizer must be" in err


def test_text_through_an_installed_tokenizer_package(monkeypatch: pytest.MonkeyPatch) -> None:
    torch = pytest.importorskip("torch")
    from scalinglaws.sweep.train import train

    class WordEncoding:
        """A stand-in for a tiktoken encoding: one id per word (plus separators)."""

        n_vocab = 2000

        @staticmethod
        def encode_ordinary(text: str) -> list[int]:
            return [sum(map(ord, word)) % 1999 + 1 for word in text.split()]

    fake = types.SimpleNamespace(get_encoding=lambda name: WordEncoding)
    monkeypatch.setitem(sys.modules, "tiktoken", fake)
    data = DataSpec(corpus="devils-dictionary", tokenizer="tiktoken:words")
    load_corpus.cache_clear()
    corpus = load_corpus(data, 33)
    assert corpus.vocab_size == 2000 == vocab_size_of(data) and corpus.train.dtype == np.uint16
    assert len(corpus.train) + len(corpus.val) == len(shipped_text().split())
    assert corpus.sha256 != load_corpus(ENGLISH).sha256
    spec = design_sweep([1e9], 1, data=data, seq_len=32, head_dim=4, batch_size=8,
                        n_evals=2, eval_tokens=512).runs[0]
    assert spec.vocab_size == 2000 and spec.run_id != design_sweep(
        [1e9], 1, data=ENGLISH, seq_len=32, head_dim=4, batch_size=8, n_evals=2,
        eval_tokens=512).runs[0].run_id
    torch.manual_seed(0)
    result = train(spec, device="cpu", threads=1)
    assert math.isfinite(result.loss) and result.curve[-1].eval_tokens == 512
    load_corpus.cache_clear()


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["shipped English text", "nanoGPT token files"])
def test_a_sweep_on_real_data_through_the_command_line(
        kind: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("torch")
    if kind == "nanoGPT token files":
        vocab, data = write_char_dataset(tmp_path / "chars"), str(tmp_path / "chars")
    else:
        vocab, data = 256, "devils-dictionary"
    design, store = tmp_path / "sweep.toml", tmp_path / "runs.db"
    code, out, _ = run_cli(["sweep", "design", "--budgets", "1e9,2e9", "--sizes-per-budget",
                            "2", "--data", data, "--seq-len", "32", "--head-dim", "4",
                            "--batch-size", "16", "--n-evals", "3", "--eval-tokens", "2048",
                            "-o", str(design)], capsys)
    assert code == 0 and f"vocabulary {vocab}" in out
    assert {r.vocab_size for r in read_design(design).runs} == {vocab}
    code, out, err = run_cli(["sweep", "run", str(design), "--store", str(store), "--workers",
                              "2", "--threads", "1", "--device", "cpu", "--quiet"], capsys)
    assert code == 0, err
    assert "trained 4 run(s), 0 already in the store, 0 failed" in out
    runs, curves = read_runs(store), read_curves(store)
    assert len(runs) == 4 and (runs["vocab_size"] == vocab).all()
    assert (runs["loss"] < math.log(vocab)).all()  # every run learned something
    assert runs["eval_sha256"].nunique() == 1  # all measured on the same held-out tokens
    assert (curves["eval_tokens"] == 2048).all() and len(curves) == 4 * 3
    assert not (tmp_path / "runs.db.ckpt").exists()
    print(f"\n{kind}: " + ", ".join(f"{r.n_params} params -> loss {r.loss:.3f}"
                                   for r in runs.itertuples()))


def test_corpus_dataclass_is_plain() -> None:
    corpus = Corpus(train=np.arange(300, dtype=np.uint16), val=np.arange(300, dtype=np.uint16),
                    vocab_size=300, sha256="0" * 16, source="memory")
    assert corpus.kind == "text" and corpus.batch(0, seed=0, batch_size=2, seq_len=8).max() < 300
