"""The gradient noise scale: McCandlish et al.'s estimator, and its measurement in training."""

from __future__ import annotations

import dataclasses
import math
import sqlite3
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from scalinglaws.sweep import DataSpec, RunSpec, read_runs
from scalinglaws.sweep.noise import NoiseScale, measured_steps, unbiased_estimates
from scalinglaws.sweep.store import RUN_COLUMNS, write_run

SPEC = RunSpec(budget=1e9, n_layer=1, d_model=16, n_head=2, n_tokens=40 * 8 * 32, batch_size=8,
               lr=1e-2, seq_len=32, n_evals=4, eval_tokens=1024,
               data=DataSpec(max_bytes=400_000))


@given(g2=st.floats(1e-6, 1e3), trace=st.floats(0.0, 1e6),
       b_small=st.integers(1, 512), extra=st.integers(1, 512))
def test_norms_at_their_expectation_give_back_the_exact_terms(
        g2: float, trace: float, b_small: int, extra: int) -> None:
    """E|G_B|^2 = |G|^2 + tr(Sigma) / B, McCandlish et al. 2018, eq. A.1; App. A's
    estimators invert it exactly."""
    b_big = b_small + extra
    est_g2, est_s = unbiased_estimates(g2 + trace / b_small, g2 + trace / b_big, b_small, b_big)
    assert est_g2 == pytest.approx(g2, rel=1e-6, abs=1e-6 * trace)
    assert est_s == pytest.approx(trace, rel=1e-6, abs=1e-6 * g2 * b_big)


def test_the_estimator_recovers_a_known_noise_scale_from_synthetic_gradients() -> None:
    """Per-example gradients G + noise (covariance sigma^2 I in d dimensions): B_simple is
    d sigma^2 / |G|^2 = 160; the small batch is half of the big one, as in training."""
    rng = np.random.default_rng(0)
    d, sigma, big = 40, 2.0, 64
    true_g = rng.normal(size=d)
    true_g *= 1.0 / np.linalg.norm(true_g)  # |G|^2 = 1
    noise = NoiseScale()
    for _ in range(2000):
        examples = true_g + sigma * rng.normal(size=(big, d))
        g_small, g_big = examples[: big // 2].mean(0), examples.mean(0)
        noise.add(float(g_small @ g_small), float(g_big @ g_big), big // 2, big)
    assert noise.count == 2000
    assert noise.b_simple == pytest.approx(d * sigma**2, rel=0.1)
    assert NoiseScale.from_state(noise.state()) == noise
    with pytest.raises(ValueError, match="b_small < b_big"):
        unbiased_estimates(1.0, 1.0, 8, 8)


def test_no_estimate_until_the_signal_is_positive() -> None:
    empty = NoiseScale()
    assert empty.b_simple is None and NoiseScale.from_state(None) == empty
    empty.add(1.0, 1.5, 4, 8)  # the big batch's norm larger: |G|^2 estimate 2, S < 0
    empty.add(3.0, 0.5, 4, 8)  # |G|^2 estimate -2
    assert empty.count == 2 and empty.b_simple is None


def test_the_halves_of_a_batch_give_the_same_pairs_as_explicit_gradients() -> None:
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(1)
    examples = torch.from_numpy(rng.normal(size=(7, 5)))  # an odd batch: halves 3 and 4
    first, second, whole = examples[:3].mean(0), examples[3:].mean(0), examples.mean(0)
    fast, slow = NoiseScale(), NoiseScale()
    fast.add_halves([first], [whole], 3, 7, seq_len=10)
    for part, size in ((first, 3), (second, 4)):
        slow.add(float(part @ part), float(whole @ whole), size * 10, 70)
    assert fast.count == slow.count == 2
    assert fast.g2_sum == pytest.approx(slow.g2_sum) and fast.s_sum == pytest.approx(slow.s_sum)


def test_the_measured_steps_lie_in_the_last_evaluation_interval() -> None:
    assert measured_steps(100, {25, 50, 75, 100}, 8) <= set(range(75, 100))
    assert len(measured_steps(100, {25, 50, 75, 100}, 8)) == 8
    assert measured_steps(10, {5, 10}, 32) == set(range(5, 10))
    assert measured_steps(10, {10}, 3) == {0, 4, 9}
    assert measured_steps(10, {5, 10}, 0) == set()


def test_a_tiny_run_stores_a_finite_positive_noise_scale_without_changing_its_loss(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("torch")
    from scalinglaws.sweep import train as train_module

    result = train_module.train(SPEC, device="cpu", threads=1)
    assert result.b_simple is not None and math.isfinite(result.b_simple)
    assert result.b_simple > 0
    row, curve = result.to_row()
    write_run(tmp_path / "runs.db", row, curve)
    assert read_runs(tmp_path / "runs.db")["b_simple"].tolist() == [result.b_simple]
    monkeypatch.setattr(train_module, "NOISE_SAMPLES", 0)  # no second backward pass
    plain = train_module.train(SPEC, device="cpu", threads=1)
    assert plain.b_simple is None
    assert plain.loss == result.loss  # measuring leaves the update bit-identical
    one = train_module.train(dataclasses.replace(SPEC, batch_size=1, n_tokens=40 * 32),
                             device="cpu", threads=1)
    assert one.b_simple is None


def test_a_store_from_before_the_noise_scale_opens_and_gains_the_column(tmp_path: Path) -> None:
    path = tmp_path / "v2.db"
    v2 = {k: v for k, v in RUN_COLUMNS.items() if k != "b_simple"}
    with sqlite3.connect(path) as conn:  # the schema version 2 wrote
        conn.executescript(
            "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);"
            "CREATE TABLE designed (run_id TEXT PRIMARY KEY, budget REAL NOT NULL, "
            "spec TEXT NOT NULL);"
            f"CREATE TABLE runs ({', '.join(f'{k} {v}' for k, v in v2.items())});"
            "CREATE TABLE curves (run_id TEXT NOT NULL, step INTEGER NOT NULL, tokens INTEGER "
            "NOT NULL, eval_loss REAL NOT NULL, lr REAL NOT NULL, eval_tokens INTEGER, "
            "PRIMARY KEY (run_id, step));"
            "INSERT INTO meta VALUES ('format', 'scalinglaws-sweep'), ('version', '2');")
    row: dict[str, object] = {name: 1 for name in RUN_COLUMNS}
    row.update(run_id="old", flop_convention="6nd", spec="{}")
    del row["b_simple"]
    with sqlite3.connect(path) as conn:
        conn.execute(f"INSERT INTO runs ({', '.join(row)}) VALUES ({', '.join('?' * len(row))})",
                     list(row.values()))
    assert read_runs(path)["b_simple"].isna().all()  # reading changes nothing
    write_run(path, {**row, "run_id": "new", "b_simple": 512.0}, [(1, 100, 3.0, 0.01, 64)])
    runs = read_runs(path).set_index("run_id")["b_simple"]
    assert math.isnan(runs["old"]) and runs["new"] == 512.0
