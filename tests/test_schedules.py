"""Learning-rate schedules as arrays, and the forward and annealing areas of Tissue et al."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scalinglaws import schedules
from scalinglaws.errors import DataError


def _areas_by_loop(lrs: np.ndarray, decay: float, skip: int) -> tuple[np.ndarray, np.ndarray]:
    """The paper's recursion written out step by step."""
    s1, s2, m, total, area = [], [], 0.0, 0.0, 0.0
    for i, eta in enumerate(lrs):
        prev = lrs[i - 1] if i > 0 else eta
        drop = 0.0 if i <= skip else prev - eta
        m = decay * m + drop
        total += eta
        area += m
        s1.append(total)
        s2.append(area)
    return np.array(s1), np.array(s2)


# --------------------------------------------------------------------------- constructors


def test_constant_with_warmup_rises_linearly_to_the_peak() -> None:
    lrs = schedules.constant(2.0, 10, warmup=4)
    assert lrs.tolist() == [0.5, 1.0, 1.5, 2.0, 2.0, 2.0, 2.0, 2.0, 2.0, 2.0]


def test_cosine_runs_from_peak_to_final_after_warmup() -> None:
    lrs = schedules.cosine(3e-4, 1000, warmup=100, final=0.1)
    assert lrs.shape == (1000,)
    assert lrs[99] == pytest.approx(3e-4)
    assert lrs[100] == pytest.approx(3e-4)
    assert lrs[-1] == pytest.approx(3e-5)
    assert np.all(np.diff(lrs[100:]) <= 1e-18)


@pytest.mark.parametrize("shape", ["linear", "cosine", "sqrt", "square"])
def test_wsd_cools_down_over_the_given_fraction(shape: str) -> None:
    lrs = schedules.wsd(1.0, 1000, warmup=50, cooldown=0.2, shape=shape)
    assert np.all(lrs[50:800] == 1.0)
    assert lrs[800] < 1.0
    assert lrs[-1] == pytest.approx(0.0, abs=1e-12)
    assert np.all(np.diff(lrs[800:]) < 0)


def test_wsd_exp_cooldown_ends_at_final_and_needs_it() -> None:
    lrs = schedules.wsd(1.0, 100, cooldown=0.5, shape="exp", final=0.01)
    assert lrs[-1] == pytest.approx(0.01)
    with pytest.raises(DataError, match="final > 0"):
        schedules.wsd(1.0, 100, shape="exp")


def test_wsd_without_cooldown_is_constant() -> None:
    assert np.array_equal(schedules.wsd(1.0, 50, warmup=5, cooldown=0.0), schedules.constant(1.0, 50, warmup=5))


def test_step_schedule_takes_fractions_or_step_numbers() -> None:
    a = schedules.step(1.0, 100, milestones=(0.5, 0.75), gamma=0.1)
    b = schedules.step(1.0, 100, milestones=(50, 75), gamma=0.1)
    assert np.array_equal(a, b)
    assert a[49] == 1.0 and a[50] == pytest.approx(0.1) and a[75] == pytest.approx(0.01)


def test_power_schedule_is_continuous_after_warmup_and_can_cool_down() -> None:
    lrs = schedules.power(1.0, 1000, warmup=100, exponent=0.5, cooldown=0.1)
    assert lrs[99] == pytest.approx(1.0)
    assert lrs[199] == pytest.approx((200 / 100) ** -0.5)
    assert lrs[-1] == pytest.approx(0.0, abs=1e-12)
    assert np.all(np.diff(lrs[100:]) < 0)


# --------------------------------------------------------------------------- areas


def test_forward_area_is_the_running_sum_of_rates() -> None:
    lrs = schedules.cosine(1e-3, 500, warmup=50)
    s1, _ = schedules.areas(lrs)
    assert np.allclose(s1, np.cumsum(lrs))


def test_without_momentum_the_annealing_area_sums_the_drop_so_far() -> None:
    lrs = schedules.wsd(1.0, 100, warmup=10, cooldown=0.3, shape="linear")
    _, s2 = schedules.areas(lrs, decay=0.0)
    after_warmup = np.arange(100) >= 10
    assert np.allclose(s2, np.where(after_warmup, 1.0 - lrs, 0.0))


def test_constant_schedule_has_no_annealing_area() -> None:
    _, s2 = schedules.areas(schedules.constant(3e-4, 300, warmup=30))
    assert np.all(s2 == 0.0)


def test_warmup_rise_is_left_out_by_default_and_counted_with_warmup_zero() -> None:
    lrs = schedules.constant(1.0, 50, warmup=10)
    _, default = schedules.areas(lrs, decay=0.9)
    _, counted = schedules.areas(lrs, decay=0.9, warmup=0)
    assert np.all(default == 0.0)
    assert np.all(counted[1:] < 0)  # a rising LR is negative annealing


@settings(max_examples=50, deadline=None)
@given(
    st.lists(st.floats(0.0, 1.0, allow_nan=False), min_size=1, max_size=60),
    st.sampled_from([0.0, 0.5, 0.9, 0.999]),
    st.integers(0, 5),
)
def test_areas_match_the_paper_recursion_written_as_a_loop(rates: list[float], decay: float, skip: int) -> None:
    lrs = np.array(rates)
    s1, s2 = schedules.areas(lrs, decay=decay, warmup=skip)
    e1, e2 = _areas_by_loop(lrs, decay, skip)
    assert np.allclose(s1, e1, rtol=1e-12, atol=1e-12)
    assert np.allclose(s2, e2, rtol=1e-9, atol=1e-9)


def test_momentum_delays_the_effect_of_a_drop() -> None:
    lrs = np.r_[np.ones(10), np.full(200, 0.5)]
    _, s2 = schedules.areas(lrs, decay=0.99)
    m = np.diff(np.r_[0.0, s2])
    assert m[10] == pytest.approx(0.5)
    assert m[110] == pytest.approx(0.5 * 0.99**100)


# --------------------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    ("lrs", "message"),
    [
        ([1.0, -0.1], "step 2 is -0.1"),
        ([1.0, float("nan")], "step 2"),
        ([[1.0, 2.0]], "1-D"),
        ([], "non-empty"),
        ("fast", "array of learning rates"),
    ],
)
def test_bad_schedules_are_refused(lrs: object, message: str) -> None:
    with pytest.raises(DataError, match=message):
        schedules.areas(lrs)


@pytest.mark.parametrize("decay", [1.0, -0.1, 2, True])
def test_decay_must_lie_in_the_unit_interval(decay: object) -> None:
    with pytest.raises(DataError, match="decay must lie in"):
        schedules.areas([1.0, 0.5], decay=decay)  # type: ignore[arg-type]


def test_constructor_arguments_are_checked() -> None:
    with pytest.raises(DataError, match="warmup .* shorter than the run"):
        schedules.cosine(1.0, 10, warmup=10)
    with pytest.raises(DataError, match="peak must be a positive number"):
        schedules.constant(-1.0, 10)
    with pytest.raises(DataError, match="steps must be an integer >= 1"):
        schedules.constant(1.0, 0)
    with pytest.raises(DataError, match="cooldown must lie in"):
        schedules.wsd(1.0, 10, cooldown=1.5)
    with pytest.raises(DataError, match="unknown cooldown shape"):
        schedules.wsd(1.0, 10, shape="cubic")
    with pytest.raises(DataError, match="milestone .* outside"):
        schedules.step(1.0, 10, milestones=[20])


def test_the_multi_power_schedule_cache_is_bounded_in_bytes(monkeypatch: pytest.MonkeyPatch) -> None:
    """A schedule search registers thousands of long schedules: the cache drops the least
    recently used ones beyond its byte budget, and keeps the one a fit is still reading."""
    from scalinglaws.laws import schedule_laws as sched_laws

    from collections import OrderedDict

    monkeypatch.setattr(sched_laws, "_CACHE", OrderedDict())  # other tests' schedules stay untouched
    monkeypatch.setattr(sched_laws, "_BYTES", 0)
    monkeypatch.setattr(sched_laws, "MAX_SCHEDULE_BYTES", 4 * 2**20)
    kept = sched_laws.register_schedule(np.linspace(1e-3, 1e-5, 10_000))
    for i in range(60):  # ~320 kB each: far more than 4 MiB in all
        sched_laws.register_schedule(np.linspace(1e-3, 1e-6 * (i + 2), 10_000))
        sched_laws._lookup(kept)  # in use: refreshed, never the oldest
    held = sum(a.nbytes for v in sched_laws._CACHE.values() for a in v)
    assert held <= 4 * 2**20 and held == sched_laws._BYTES
    assert kept in sched_laws._CACHE
