"""Training data as token arrays, a held-out split, and batches drawn by step (no torch).

Three kinds of data (:class:`~scalinglaws.sweep.design.DataSpec` says which):

* **Text**, tokenised at byte level (vocabulary 256) or by a tokenizer from an installed
  package (``tiktoken:ENCODING``, ``tokenizers:PATH``). The built-in corpora are
  ``"stdlib"`` (the Python standard library's own ``*.py`` sources, present offline on
  every machine; the default) and ``"devils-dictionary"`` (a public-domain English text
  shipped with the package, see ``corpus/SOURCE.md``). A text file or a folder of text
  files, or ``hf:NAME[:CONFIG]``, can be named instead. The held-out split cuts the token
  stream into equal chunks (64 Ki tokens, fewer for a small corpus) and holds out every
  ``round(1 / val_fraction)``-th one, so a folder's last files are not all held out.
* **Token files** as nanoGPT's ``prepare.py`` writes them: a folder with ``train.bin``
  and, optionally, ``val.bin`` and ``meta.pkl``; or a single ``.bin`` file. They are
  memory-mapped, never read whole. The element type is ``uint16`` unless ``dtype`` or
  ``meta.pkl`` says ``uint32``; the vocabulary is ``meta.pkl``'s ``vocab_size``, else the
  largest token plus one. Without ``val.bin`` the last ``val_fraction`` is held out.

Batches are a pure function of ``(seed, step)`` (:meth:`Corpus.batch`), so a run resumed
from a checkpoint at step ``k`` sees exactly the batches it would have seen.
"""

from __future__ import annotations

import functools
import gzip
import hashlib
import importlib
import importlib.resources
import os
import pickle
import sysconfig
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from scalinglaws.sweep.errors import SweepError

if TYPE_CHECKING:  # the spec's type only: design.py imports this module to size vocabularies
    from scalinglaws.sweep.specs import DataSpec

_CHUNK = 65_536
_FULL_HASH_BYTES = 64 << 20  # token files up to this size are hashed whole
_SAMPLES = 64  # 1 MiB blocks hashed from a larger token file
BUILTIN_CORPORA: tuple[str, ...] = ("stdlib", "devils-dictionary")
_SHIPPED = {"devils-dictionary": "devils_dictionary.txt.gz"}


@dataclass(frozen=True)
class Corpus:
    """Tokens split for training and evaluation.

    Attributes
    ----------
    train, val : numpy.ndarray
        1-D unsigned integer arrays (``uint8`` for byte text; memory maps for token files).
    vocab_size : int
        The vocabulary: every token is below it (256 for bytes).
    sha256 : str
        Fingerprint of the data (16 hex digits), to tell corpora apart. Token files
        larger than 64 MiB are fingerprinted by their size and 64 evenly spaced 1 MiB
        blocks.
    source : str
        Where the data came from (a path or a dataset name).
    kind : {"text", "tokens"}
        Tokenised here, or read from token files.
    """

    train: np.ndarray
    val: np.ndarray
    vocab_size: int
    sha256: str
    source: str
    kind: str = "text"

    def batch(self, step: int, *, seed: int, batch_size: int, seq_len: int) -> np.ndarray:
        """The training windows of optimizer step ``step``: int64, shape (batch, seq_len + 1).

        A pure function of ``(seed, step)``: window starts are drawn uniformly (with
        replacement) by SplitMix64, a counter-based generator keyed by both, so no
        iterator state needs saving to resume, and drawing costs microseconds.
        """
        key = _splitmix64(_splitmix64(np.array([seed], dtype=np.uint64)) ^ np.uint64(step))
        counters = key + np.arange(batch_size, dtype=np.uint64) * _GOLDEN
        starts = (_splitmix64(counters) % np.uint64(len(self.train) - seq_len)).astype(np.int64)
        return self.train[starts[:, None] + np.arange(seq_len + 1)].astype(np.int64)

    def eval_windows(self, seq_len: int, eval_tokens: int) -> np.ndarray:
        """Evenly spaced held-out windows: int64, shape (max(1, eval_tokens // seq_len), seq_len + 1).

        The loss is measured on ``n * seq_len`` predicted tokens, where ``n`` is the first
        dimension.
        """
        count = max(1, eval_tokens // seq_len)
        starts = np.linspace(0, len(self.val) - seq_len - 1, count).astype(np.int64)
        return self.val[starts[:, None] + np.arange(seq_len + 1)].astype(np.int64)


@functools.lru_cache(maxsize=4)
def load_corpus(spec: DataSpec, min_window: int = 129) -> Corpus:
    """Read, tokenise and split the data (cached per process).

    Parameters
    ----------
    spec : DataSpec
        Which data, how it is tokenised, and the held-out share.
    min_window : int
        Each split must hold at least this many tokens (``seq_len + 1``).

    Returns
    -------
    Corpus

    Raises
    ------
    SweepError
        If the data is missing, empty, malformed or too small, or needs a package that is
        not installed.

    Examples
    --------
    >>> from scalinglaws.sweep.design import DataSpec
    >>> corpus = load_corpus(DataSpec(max_bytes=1_000_000))
    >>> corpus.train.dtype, len(corpus.train) + len(corpus.val), corpus.vocab_size
    (dtype('uint8'), 1000000, 256)
    """
    files = _token_files(spec)
    if files is not None:
        corpus = _load_tokens(spec, *files)
    else:
        corpus = _load_text(spec)
    if len(corpus.train) < min_window or len(corpus.val) < min_window:
        raise SweepError(
            f"corpus {spec.corpus!r} is too small: it gives {len(corpus.train)} training "
            f"and {len(corpus.val)} held-out tokens, and each needs >= {min_window}; "
            "give more data or a shorter seq_len"
        )
    return corpus


def vocab_size_of(spec: DataSpec) -> int:
    """The vocabulary a model needs for this data, read without tokenising any text.

    256 for byte-level text, the tokenizer's size for other text, and for token files
    ``meta.pkl``'s ``vocab_size`` or the largest token plus one.

    Examples
    --------
    >>> from scalinglaws.sweep.design import DataSpec
    >>> vocab_size_of(DataSpec())
    256
    """
    if _token_files(spec) is not None:
        return load_corpus(spec, 1).vocab_size
    if spec.tokenizer == "bytes":
        return 256
    return _tokenizer(spec.tokenizer)[1]


_GOLDEN = np.uint64(0x9E3779B97F4A7C15)


def _splitmix64(x: np.ndarray) -> np.ndarray:
    """SplitMix64's output function on a uint64 array (wrapping arithmetic)."""
    x = x + _GOLDEN
    x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return x ^ (x >> np.uint64(31))


def is_token_files(spec: DataSpec) -> bool:
    """Whether the data names nanoGPT token files (else it is text to tokenise)."""
    return _token_files(spec) is not None


# -- token files ---------------------------------------------------------------------------

def _token_files(spec: DataSpec) -> tuple[Path, Path | None, Path | None] | None:
    """``(train, val or None, meta or None)`` if the corpus names token files, else None."""
    if spec.corpus in BUILTIN_CORPORA or spec.corpus.startswith("hf:"):
        return None
    path = Path(spec.corpus).expanduser()
    if path.is_dir() and (path / "train.bin").is_file():
        val, meta = path / "val.bin", path / "meta.pkl"
        return path / "train.bin", val if val.is_file() else None, meta if meta.is_file() else None
    if path.is_file() and path.suffix == ".bin":
        return path, None, None
    return None


def _load_tokens(spec: DataSpec, train_path: Path, val_path: Path | None,
                 meta_path: Path | None) -> Corpus:
    meta = _read_meta(meta_path) if meta_path is not None else {}
    dtype_name = spec.dtype if spec.dtype != "auto" else str(meta.get("dtype", "uint16"))
    if dtype_name not in ("uint16", "uint32"):
        raise SweepError(f"{meta_path}: dtype {dtype_name!r} is not uint16 or uint32; "
                         "set data.dtype (--dtype) to the type the token files were written in")
    dtype = np.dtype(dtype_name)
    train = _memmap(train_path, dtype)
    if val_path is not None:
        val = _memmap(val_path, dtype)
    else:  # hold out the tail
        n_val = max(1, round(spec.val_fraction * len(train)))
        train, val = train[: len(train) - n_val], train[len(train) - n_val:]
    largest = max(int(train.max()) if len(train) else 0, int(val.max()) if len(val) else 0)
    vocab = meta.get("vocab_size")
    if vocab is None:
        vocab = largest + 1
    elif not isinstance(vocab, int) or vocab <= largest:
        raise SweepError(f"{meta_path}: vocab_size {vocab!r} does not cover token {largest} "
                         "found in the token files; fix meta.pkl or remove it")
    digest = hashlib.sha256()
    for path in (train_path, val_path):
        if path is not None:
            digest.update(_file_fingerprint(path))
    return Corpus(train=train, val=val, vocab_size=int(vocab), sha256=digest.hexdigest()[:16],
                  source=str(train_path.parent if val_path or meta_path else train_path),
                  kind="tokens")


def _memmap(path: Path, dtype: np.dtype) -> np.ndarray:
    size = path.stat().st_size
    if size == 0 or size % dtype.itemsize:
        raise SweepError(f"token file {str(path)!r} has {size} bytes, not a whole number of "
                         f"{dtype.name} tokens; check data.dtype (--dtype uint16 or uint32)")
    return np.memmap(path, dtype=dtype, mode="r")


class _PlainUnpickler(pickle.Unpickler):
    """Unpickles plain data only (dicts, lists, strings, numbers): never runs code."""

    def find_class(self, module: str, name: str) -> object:
        raise pickle.UnpicklingError(f"it refers to {module}.{name}")


def _read_meta(path: Path) -> dict[str, object]:
    """nanoGPT's ``meta.pkl`` (``vocab_size``, ``itos``, ``stoi``), read safely."""
    try:
        with path.open("rb") as handle:
            meta = _PlainUnpickler(handle).load()
    except Exception as exc:  # noqa: BLE001 - any unreadable file gets one message
        raise SweepError(f"cannot read {str(path)!r} as nanoGPT's meta.pkl (a pickled dict "
                         f"of plain values): {exc}") from None
    if not isinstance(meta, dict):
        raise SweepError(f"{str(path)!r} holds a {type(meta).__name__}, not a dict")
    return meta


def _file_fingerprint(path: Path) -> bytes:
    """SHA-256 of a file, or of its size and 64 evenly spaced 1 MiB blocks if it is large."""
    size = path.stat().st_size
    digest = hashlib.sha256(str(size).encode())
    with path.open("rb") as handle:
        if size <= _FULL_HASH_BYTES:
            digest.update(handle.read())
        else:
            block = 1 << 20
            for offset in np.linspace(0, size - block, _SAMPLES).astype(np.int64):
                handle.seek(int(offset))
                digest.update(handle.read(block))
    return digest.digest()


# -- text ----------------------------------------------------------------------------------

def _load_text(spec: DataSpec) -> Corpus:
    if spec.corpus.startswith("hf:"):
        text, source = _read_hf(spec.corpus[3:], spec.max_bytes), spec.corpus
    elif spec.corpus in _SHIPPED:
        resource = importlib.resources.files("scalinglaws.sweep").joinpath(
            "corpus", _SHIPPED[spec.corpus])
        text, source = gzip.decompress(resource.read_bytes())[: spec.max_bytes], spec.corpus
    else:
        if spec.corpus == "stdlib":
            root = Path(sysconfig.get_paths()["stdlib"])
            files = _text_files(root, ".py", skip=("site-packages", "dist-packages"))
        else:
            root = Path(spec.corpus).expanduser()
            if not root.exists():
                raise SweepError(
                    f"corpus {spec.corpus!r} does not exist; give a text file or folder, a "
                    "folder of nanoGPT token files (train.bin), a .bin token file, "
                    f"{', '.join(repr(c) for c in BUILTIN_CORPORA)} or 'hf:NAME'")
            files = [root] if root.is_file() else _text_files(root)
        text, source = _read_files(files, spec.max_bytes), str(root)
    if spec.tokenizer == "bytes":
        stream = np.frombuffer(text, dtype=np.uint8)
        vocab, sha = 256, hashlib.sha256(text).hexdigest()[:16]
    else:
        encode, vocab = _tokenizer(spec.tokenizer)
        ids = encode(text.decode("utf-8", errors="replace"))
        stream = np.asarray(ids, dtype=np.uint16 if vocab <= 1 << 16 else np.uint32)
        sha = hashlib.sha256(text + b"\0" + spec.tokenizer.encode()).hexdigest()[:16]
    every = max(2, round(1.0 / spec.val_fraction))
    chunk = max(1, min(_CHUNK, len(stream) // (2 * every)))
    pieces = [stream[i: i + chunk] for i in range(0, len(stream), chunk)]
    train = np.concatenate([p for k, p in enumerate(pieces) if k % every != every - 1]
                           or [stream[:0]])
    val = np.concatenate([p for k, p in enumerate(pieces) if k % every == every - 1]
                         or [stream[:0]])
    return Corpus(train=train, val=val, vocab_size=vocab, sha256=sha, source=source)


@functools.lru_cache(maxsize=4)
def _tokenizer(name: str) -> tuple[Callable[[str], list[int]], int]:
    """``(encode, vocabulary size)`` of ``tiktoken:ENCODING`` or ``tokenizers:PATH``."""
    kind, _, arg = name.partition(":")
    package = {"tiktoken": "tiktoken", "tokenizers": "tokenizers"}.get(kind)
    if package is None or not arg:
        raise SweepError(f"unknown tokenizer {name!r}; use bytes, tiktoken:ENCODING "
                         "(e.g. tiktoken:gpt2) or tokenizers:PATH/TO/tokenizer.json")
    try:
        module = importlib.import_module(package)
    except ImportError:
        raise SweepError(f"tokenizer {name!r} needs the {package!r} package, which is not "
                         f"installed; run `pip install {package}`, or use --tokenizer bytes"
                         ) from None
    try:
        if kind == "tiktoken":
            encoding = module.get_encoding(arg)
            return encoding.encode_ordinary, int(encoding.n_vocab)
        tokenizer = module.Tokenizer.from_file(str(Path(arg).expanduser()))
        return (lambda text: tokenizer.encode(text).ids), int(tokenizer.get_vocab_size())
    except Exception as exc:  # noqa: BLE001 - the package's own error, in one line
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise SweepError(f"tokenizer {name!r} could not be loaded ({first}); tiktoken "
                         "encodings need network access or a TIKTOKEN_CACHE_DIR on first "
                         "use, tokenizers needs a tokenizer.json path") from None


def _text_files(root: Path, suffix: str = "", skip: tuple[str, ...] = ()) -> list[Path]:
    """Files under ``root`` ending in ``suffix``, sorted by relative path.

    Hidden files and folders, ``__pycache__`` and folders named in ``skip`` are left out.
    """
    found: list[Path] = []
    for folder, dirnames, filenames in os.walk(root):
        dirnames[:] = [d for d in dirnames if not d.startswith(".") and d != "__pycache__"
                       and d not in skip]
        found += [Path(folder, name) for name in filenames
                  if name.endswith(suffix) and not name.startswith(".")]
    return sorted((p for p in found if p.is_file()),
                  key=lambda p: p.relative_to(root).as_posix())


def _read_files(files: list[Path], max_bytes: int) -> bytes:
    """Concatenate files in order until ``max_bytes`` are read."""
    parts: list[bytes] = []
    total = 0
    for path in files:
        data = path.read_bytes()[: max_bytes - total]
        parts.append(data)
        total += len(data)
        if total >= max_bytes:
            break
    if total == 0:
        raise SweepError(f"no text found in {len(files)} file(s); the corpus is empty")
    return b"".join(parts)


def _read_hf(name: str, max_bytes: int) -> bytes:
    """The ``text`` column of a Hugging Face dataset ``NAME[:CONFIG]``, UTF-8 encoded."""
    try:
        import datasets  # type: ignore[import-not-found]
    except ImportError:
        raise SweepError(
            f"corpus 'hf:{name}' needs the Hugging Face 'datasets' package, which is not "
            "installed; run `pip install datasets` (and have network access or a local "
            "cache), or use a local text file or folder, or 'stdlib'"
        ) from None
    dataset_name, _, config = name.partition(":")
    rows = datasets.load_dataset(dataset_name, config or None, split="train", streaming=True)
    parts: list[bytes] = []
    total = 0
    for row in rows:
        data = str(row["text"]).encode("utf-8")[: max_bytes - total]
        parts.append(data)
        total += len(data)
        if total >= max_bytes:
            break
    return b"".join(parts)
