"""fit_each: many independent fits as one batched solve, equal to the fits one by one."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pandas as pd
import pytest

import scalinglaws as sl
from scalinglaws.engine.batch import FitTable, fit_each
from scalinglaws.engine.fit import fit


def _curves(n_curves: int = 6, lengths: tuple[int, ...] = (20,), seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    frames = []
    for c in range(n_curves):
        n = lengths[c % len(lengths)]
        x = np.geomspace(1e6, 1e9, n)
        E, A, alpha = rng.uniform(1, 2), 10 ** rng.uniform(1, 3), rng.uniform(0.1, 0.5)
        loss = (E + A * x**-alpha) * np.exp(rng.normal(0, 0.01, n))
        frames.append(pd.DataFrame({"curve": f"c{c}", "x": x, "loss": loss}))
    return pd.concat(frames, ignore_index=True)


def _alone(df: pd.DataFrame, label: str, law: str, **options) -> sl.Fit:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", sl.ScalingLawsWarning)
        return fit(df[df.curve == label].reset_index(drop=True), law, **options)


def _each(df: pd.DataFrame, law: str, **options) -> FitTable:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", sl.ScalingLawsWarning)
        return fit_each(df, law, by="curve", **options)


def test_equal_length_curves_match_the_fits_one_by_one_exactly() -> None:
    df = _curves(8)
    table = _each(df, "power")
    assert len(table) == 8 and table.labels == tuple(f"c{i}" for i in range(8))
    for label, batched in table.items():
        alone = _alone(df, label, "power")
        assert batched.params == alone.params, label
        assert batched.objective == alone.objective, label
        assert batched.diagnostics == alone.diagnostics, label
        assert batched.options == alone.options, label
        assert {k: v for k, v in batched.provenance.items() if k != "group"} == alone.provenance, label


def test_curves_of_different_lengths_match_the_fits_one_by_one() -> None:
    df = _curves(6, lengths=(20, 7, 13))
    table = _each(df, "power", loss="squared")
    for label, batched in table.items():
        alone = _alone(df, label, "power", loss="squared")
        assert batched.n_runs == alone.n_runs
        assert batched.objective == pytest.approx(alone.objective, rel=1e-9, abs=1e-15)
        for name, value in alone.params.items():
            assert batched.params[name] == pytest.approx(value, rel=1e-6), (label, name)


def test_bootstrap_draws_match_a_fit_alone() -> None:
    df = _curves(3, lengths=(15,))
    table = _each(df, "power", bootstrap=40, seed=3)
    for label, batched in table.items():
        alone = _alone(df, label, "power", bootstrap=40, seed=3)
        np.testing.assert_array_equal(batched.draws, alone.draws)


def test_raced_grids_race_within_each_group() -> None:
    # two Chinchilla-style groups with the paper's 4,500-start grid: the race (successive
    # halving) runs per group inside one batch and ends where each group's fit alone ends
    df = sl.datasets.load("chinchilla_epoch").to_frame()
    df["curve"] = np.where(df["n_params"] < np.median(df["n_params"]), "small", "large")
    table = _each(df, "chinchilla")
    for label, batched in table.items():
        alone = _alone(df, label, "chinchilla")
        assert batched.diagnostics.n_refined < batched.diagnostics.n_starts == 4500
        assert batched.params == alone.params
        assert batched.objective == alone.objective


def test_an_explicit_race_counts_the_starts_left_after_projection() -> None:
    # m3's 36 starts become 9 by variable projection (beta is linear): under race_above=16
    # they all run to convergence as they do by default; m4's 144 (no projection) race to <= 8
    df = _curves(2, lengths=(16,))
    race = {"race_above": 16, "screen_iter": 24}
    for law, raced in (("m3", False), ("m4", True)):
        default, fast = _each(df, law), _each(df, law, race=race)
        for label in default.labels:
            d, f = default[label].diagnostics, fast[label].diagnostics
            assert f.n_starts == d.n_starts
            if raced:
                assert f.n_refined <= 8 < d.n_refined  # distinct finalists only
                # the race keeps a start that gets (about) as low as converging all of them
                assert fast[label].objective <= default[label].objective * (1 + 1e-2) + 1e-12
            else:
                assert f.n_refined == d.n_refined and fast[label].params == default[label].params


def test_an_unknown_race_option_is_a_one_line_error() -> None:
    with pytest.raises(sl.FitError, match="race takes race_above and screen_iter, not keep"):
        fit_each(_curves(2), "power", by="curve", race={"keep": 4})


def test_the_table_reads_like_a_table() -> None:
    table = _each(_curves(3), "power")
    frame = table.to_frame()
    assert list(frame["curve"]) == ["c0", "c1", "c2"]
    assert {"E", "A", "alpha", "objective", "n_runs", "converged"} <= set(frame.columns)
    assert table["c1"] is table[1]
    assert [f.params for f in table] == [table[i].params for i in range(3)]
    assert "3 groups" in repr(table) and "<table" in table._repr_html_()
    json.dumps(table.to_dict())
    with pytest.raises(KeyError, match="no group 'zz'"):
        table["zz"]


def test_bad_input_is_one_line_errors() -> None:
    df = _curves(2)
    with pytest.raises(sl.DataError, match="by='group' is not a column"):
        fit_each(df, "power", by="group")
    short = pd.concat([df, pd.DataFrame({"curve": ["tiny"] * 2, "x": [1e6, 1e7], "loss": [3.0, 2.5]})])
    with pytest.raises(sl.DataError, match="group curve='tiny': .*needs at least 3 runs, got 2"):
        fit_each(short, "power", by="curve")
    with pytest.raises(sl.FitError, match="loss must be"):
        fit_each(df, "power", by="curve", loss="l1")
