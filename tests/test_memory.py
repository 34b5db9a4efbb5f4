"""Memory of the data path at many runs (issue 13: 10^6 runs in under 0.3 GiB), and that
the leaner code paths give the same answers as the plain ones they replace.

Peaks are measured with tracemalloc, which counts numpy's buffers and is deterministic
(unlike the process's resident memory); the bounds are bytes per run at 2 * 10^5 runs.
"""

from __future__ import annotations

import tracemalloc
import warnings

import numpy as np
import pandas as pd
import pytest

import scalinglaws as sl
from scalinglaws.engine import predict as predict_module
from scalinglaws.engine.fit import fit as fit_one
from scalinglaws.engine.predict import predict_runs
from scalinglaws.judge.calibrate import training_top

N = 200_000


def _table(n: int, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    N_ = 10.0 ** rng.uniform(7, 11, n)
    D = 10.0 ** rng.uniform(9, 13, n)
    loss = (1.69 + 406.4 * N_**-0.34 + 410.7 * D**-0.28) * np.exp(rng.normal(0, 0.01, n))
    return pd.DataFrame({"n_params": N_, "n_tokens": D, "loss": loss})


def _peak(call):  # -> (result, traced peak in bytes above the start)
    tracemalloc.start()
    try:
        start = tracemalloc.get_traced_memory()[0]
        out = call()
        return out, tracemalloc.get_traced_memory()[1] - start
    finally:
        tracemalloc.stop()


def test_load_runs_peak_is_under_80_bytes_a_run(tmp_path):
    path = tmp_path / "runs.csv"
    _table(N).to_csv(path, index=False)
    runs, peak = _peak(lambda: sl.load_runs(path))
    assert len(runs) == N
    # the table itself is 32 bytes a run (n_params, n_tokens, flops, loss); pandas'
    # duplicated() on all rows alone made about 70 more
    assert peak / N < 80, peak / N


def test_predict_runs_works_in_chunks():
    runs = sl.load_runs(_table(N))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        f = fit_one(runs.subset(np.arange(2_000)), "chinchilla")
    pred, peak = _peak(lambda: predict_runs(f, runs))
    whole = f.predict(n_params=runs.column("n_params"), n_tokens=runs.column("n_tokens"), check_range=False)
    np.testing.assert_array_equal(pred, whole)
    # the result (8 bytes a run) and one chunk's temporaries (a few MB, whatever the runs);
    # in one go a chinchilla prediction took about 60 bytes a run
    assert peak < 8 * N + 8 * 2**20, peak / N


def test_predict_runs_chunk_edges(monkeypatch):
    runs = sl.load_runs(_table(1_001))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        f = fit_one(runs, "chinchilla")
    whole = predict_runs(f, runs)
    monkeypatch.setattr(predict_module, "PREDICT_CHUNK", 100)
    np.testing.assert_array_equal(predict_runs(f, runs), whole)


def test_values_is_a_read_only_view_and_column_a_free_copy():
    runs = sl.load_runs(_table(100))
    v = runs.values("loss")
    assert not v.flags.writeable
    with pytest.raises(ValueError):
        v[0] = 1.0
    c = runs.column("loss")
    c[0] = -1.0  # the caller's own array
    assert runs.column("loss")[0] != -1.0
    np.testing.assert_array_equal(runs.values("loss"), runs.column("loss"))


def test_values_of_an_integer_column_is_float64():
    runs = sl.load_runs(pd.DataFrame({"n_params": [1e8, 2e8], "n_tokens": [1e9, 2e9], "loss": [3.0, 2.9],
                                      "step": [10, 20]}))
    v = runs.values("step")
    assert v.dtype == np.float64 and v.tolist() == [10.0, 20.0]


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_repeated_runs_are_counted_as_pandas_counts_them(seed):
    rng = np.random.default_rng(seed)
    frame = _table(500, seed).round(2)
    copies = frame.iloc[rng.integers(0, 500, 40)]
    frame = pd.concat([frame, copies], ignore_index=True).sample(frac=1.0, random_state=seed).reset_index(drop=True)
    frame.loc[0, "n_params"] = 0.0
    frame = pd.concat([frame, frame.iloc[[0]].assign(n_params=-0.0)], ignore_index=True)  # -0.0 repeats 0.0
    expected = int(frame.duplicated(keep="first").sum())
    with pytest.warns(sl.ScalingLawsWarning, match=rf"^{expected} run\(s\) repeat an earlier run"):
        sl.load_runs(frame)


def test_no_repeat_warning_without_repeats():
    with warnings.catch_warnings():
        warnings.simplefilter("error", sl.ScalingLawsWarning)
        sl.load_runs(_table(10_000))


def test_training_top_through_a_mask_equals_the_subset():
    runs = sl.load_runs(_table(2_000))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        f = fit_one(runs, "chinchilla")
    mask = runs.column("flops") <= np.quantile(runs.column("flops"), 0.6)
    assert training_top(f, runs, mask) == training_top(f, runs.subset(mask))
    assert training_top(f, runs) == training_top(f, runs, np.ones(len(runs), dtype=bool))
