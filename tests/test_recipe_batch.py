"""Critical batch size from curves at several batch sizes (McCandlish 2018; Kaplan 2020 §5)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import scalinglaws as sl
from scalinglaws.errors import DataError

B_STAR, ALPHA_B = 2.1e8, 0.21  # Kaplan Table 5


def _curves(noise: float = 0.0, seed: int = 0) -> pd.DataFrame:
    """Loss curves whose steps to each loss obey S = S_min(L) (1 + B_crit(L) / B) exactly."""
    rng = np.random.default_rng(seed)
    L = np.linspace(2.6, 5.0, 50)
    s_min = (2.1e3 / (L - 2.0)) ** (1 / 0.76)  # Kaplan's step term, with a floor of 2
    parts = []
    for b in 2.0 ** np.arange(16, 25, 2):
        steps = s_min * (1 + sl.kaplan_critical_batch(L) / b) * np.exp(rng.normal(0, noise, L.size))
        parts.append(pd.DataFrame({"run": f"b{int(b)}", "batch_size": b, "step": steps, "loss": L}))
    return pd.concat(parts, ignore_index=True)


def test_kaplan_table6_batch_frontier_from_table5_constants() -> None:
    """Golden: Kaplan et al. 2020, Table 6 prints B ~ 2.0e6 tokens * C_min^0.24 (C_min in PF-days) on
    the compute-efficient frontier. It follows from Table 5: B_crit(L) = 2.1e8 / L^(1/0.21) at
    L(C_min) = (3.1e8 / C_min)^0.050."""
    C = np.geomspace(1e-6, 1e4, 11)
    B = sl.kaplan_critical_batch((3.1e8 / C) ** 0.050)
    slope, intercept = np.polyfit(np.log(C), np.log(B), 1)
    assert slope == pytest.approx(0.24, abs=0.005)
    assert np.exp(intercept) == pytest.approx(2.0e6, rel=0.03)


def test_fit_recovers_kaplan_law_and_mccandlish_tradeoff() -> None:
    cb = sl.fit_critical_batch(_curves(), targets=[2.8, 3.2, 3.6, 4.0])
    assert cb.alpha_b == pytest.approx(ALPHA_B, rel=1e-3)
    assert cb.b_star == pytest.approx(B_STAR, rel=1e-2)
    row = cb.targets.iloc[1]
    assert row.b_noise == pytest.approx(sl.kaplan_critical_batch(3.2), rel=1e-3)
    # McCandlish: at B = B_crit a run takes 2 S_min steps and 2 E_min examples
    assert sl.to_minimal_steps(2 * row.s_min, row.b_noise, row.b_noise) == pytest.approx(row.s_min)
    assert cb.to_minimal_tokens(2 * row.e_min, cb.b_crit(3.2), 3.2) == pytest.approx(row.e_min, rel=1e-3)


def test_noisy_curves_and_default_targets() -> None:
    cb = sl.fit_critical_batch(_curves(noise=0.02, seed=3))
    assert len(cb.targets) == 6 and (cb.targets.n_batches >= 3).all()
    assert cb.alpha_b == pytest.approx(ALPHA_B, rel=0.1)
    assert "CriticalBatchFit" in repr(cb) and cb.to_dict()["targets"]


def test_conversions_are_minima() -> None:
    S = sl.to_minimal_steps(np.array([100.0, 200.0]), batch_size=1e6, b_crit=1e6)
    assert S.tolist() == [50.0, 100.0]
    assert sl.to_minimal_tokens(4e9, batch_size=3e6, b_crit=1e6) == pytest.approx(1e9)


def test_bad_input_is_named() -> None:
    df = _curves()
    with pytest.raises(DataError, match="3 or more batch sizes"):
        sl.fit_critical_batch(df[df.batch_size < 2**19])
    with pytest.raises(DataError, match="reach loss"):
        sl.fit_critical_batch(df, targets=[1.0])
    with pytest.raises(DataError, match="changes its batch size"):
        sl.fit_critical_batch(df.assign(run="one"))
    with pytest.raises(DataError, match="positive"):
        sl.kaplan_critical_batch(-1.0)


def test_critical_batch_size_finds_a_column_the_loader_renamed() -> None:
    """`tokens` is renamed to `n_tokens` on load; examples="tokens" must still find it."""
    B = np.geomspace(64, 8192, 6)
    df = pd.DataFrame({"steps": 1000 * (1 + 2048 / B), "tokens": 1000 * (1 + 2048 / B) * B})
    assert sl.critical_batch_size(df, examples="tokens", bootstrap=0).b_crit == pytest.approx(2048, rel=1e-9)
