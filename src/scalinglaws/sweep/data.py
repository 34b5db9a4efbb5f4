"""Training text as byte tokens, with a deterministic held-out split (no torch needed).

The default corpus is real text present offline on every machine: the Python standard
library's own ``*.py`` sources (``sysconfig.get_paths()["stdlib"]``, without
``site-packages``), read in sorted order. Its content depends on the Python version, so
every finished run records the corpus's SHA-256 fingerprint.

Tokens are bytes (vocabulary 256). The split is by chunks: the stream is cut into
equal chunks (64 KiB, smaller for a small corpus) and every ``round(1 / val_fraction)``-th
chunk is held out, so a single file and a folder of files are treated alike.
"""

from __future__ import annotations

import functools
import hashlib
import os
import sysconfig
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from scalinglaws.sweep.design import DataSpec
from scalinglaws.sweep.errors import SweepError

_CHUNK = 65_536


@dataclass(frozen=True)
class Corpus:
    """Byte tokens split for training and evaluation.

    Attributes
    ----------
    train, val : numpy.ndarray
        uint8 arrays of shape (n_train,) and (n_val,).
    sha256 : str
        Fingerprint of the bytes read (16 hex digits), to tell corpora apart.
    source : str
        Where the text came from (a path or a dataset name).
    """

    train: np.ndarray
    val: np.ndarray
    sha256: str
    source: str


@functools.lru_cache(maxsize=4)
def load_corpus(spec: DataSpec, min_window: int = 129) -> Corpus:
    """Read, tokenize and split a corpus (cached per process).

    Parameters
    ----------
    spec : DataSpec
        Which corpus, how many bytes at most, and the held-out fraction.
    min_window : int
        Each split must hold at least this many tokens (``seq_len + 1``).

    Returns
    -------
    Corpus

    Raises
    ------
    SweepError
        If the corpus is missing, empty, too small, or needs a package not installed.

    Examples
    --------
    >>> corpus = load_corpus(DataSpec(max_bytes=1_000_000))
    >>> corpus.train.dtype, len(corpus.train) + len(corpus.val)
    (dtype('uint8'), 1000000)
    """
    if spec.corpus.startswith("hf:"):
        text, source = _read_hf(spec.corpus[3:], spec.max_bytes), spec.corpus
    else:
        if spec.corpus == "stdlib":
            root = Path(sysconfig.get_paths()["stdlib"])
            files = _text_files(root, ".py", skip=("site-packages", "dist-packages"))
        else:
            root = Path(spec.corpus).expanduser()
            if not root.exists():
                raise SweepError(f"corpus {spec.corpus!r} does not exist; give a text file, "
                                 "a folder of text files, 'stdlib' or 'hf:NAME'")
            files = [root] if root.is_file() else _text_files(root)
        text, source = _read_files(files, spec.max_bytes), str(root)
    stream = np.frombuffer(text, dtype=np.uint8)
    every = max(2, round(1.0 / spec.val_fraction))
    chunk = max(1, min(_CHUNK, len(stream) // (2 * every)))
    pieces = [stream[i: i + chunk] for i in range(0, len(stream), chunk)]
    train = np.concatenate([p for k, p in enumerate(pieces) if k % every != every - 1])
    val = np.concatenate([p for k, p in enumerate(pieces) if k % every == every - 1] or [
        stream[:0]])
    if len(train) < min_window or len(val) < min_window:
        raise SweepError(
            f"corpus {spec.corpus!r} is too small: {len(stream)} bytes give {len(train)} "
            f"training and {len(val)} held-out tokens, and each needs >= {min_window}; "
            "give more text or a shorter seq_len"
        )
    sha = hashlib.sha256(text).hexdigest()[:16]
    return Corpus(train=train, val=val, sha256=sha, source=source)


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
