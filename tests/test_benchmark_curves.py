"""The shipped extrapolation benchmark (benchmarks/data/curves.csv.gz): its schema and
sources, and ``auto`` giving a finite, positive prediction of the held-out tail of a
deterministic sample of its curves (the protocol of benchmarks/extrapolation.py)."""

from __future__ import annotations

import importlib.util
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import scalinglaws as sl

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "benchmarks" / "data" / "curves.csv.gz"


def _bench():
    spec = importlib.util.spec_from_file_location("bench_extrapolation", ROOT / "benchmarks" / "extrapolation.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


bench = _bench()
CURVES = bench.load_curves(DATA)

# Curves per source in the sample, spread evenly over the file's order.
SAMPLE_QUOTA = {"lcdb": 4, "pythia": 3, "misfitting": 2, "chinchilla": 2, "bnsl_4digit": 1}

def _sample() -> list[str]:
    out = []
    for source, k in SAMPLE_QUOTA.items():
        ids = [cid for cid, c in CURVES.items() if c.source.iloc[0] == source]
        out += [ids[int(j)] for j in np.unique(np.linspace(0, len(ids) - 1, k).round())]
    return out


def _param(cid: str):
    return pytest.param(cid, id=cid)


def test_schema_and_sources():
    d = pd.read_csv(DATA)
    assert list(d.columns[:5]) == ["source", "domain", "curve_id", "x", "y"]
    assert {"x_name", "y_name"} <= set(d.columns)
    assert d.notna().all().all()
    assert np.isfinite(d.x).all() and np.isfinite(d.y).all()
    assert (d.x > 0).all() and (d.y > 0).all()
    per_source = d.groupby("source").curve_id.nunique()
    assert d.curve_id.nunique() >= 150
    assert len(per_source) >= 4
    assert d.groupby("curve_id").source.nunique().eq(1).all()  # an id belongs to one source
    for cid, c in d.groupby("curve_id"):
        assert 8 <= len(c) <= 60, cid
        assert c.x.is_unique, cid
        xs = c.sort_values("x")
        assert xs.y.iloc[-1] < xs.y.iloc[0], cid  # decreasing in trend
    assert DATA.stat().st_size < 3_000_000


def test_split_rule():
    assert [bench.n_heldout(n) for n in (8, 9, 12, 16, 17, 20)] == [2, 3, 3, 4, 5, 5]
    cid = next(iter(CURVES))
    train, xt, _yt = bench.split(CURVES[cid])
    assert len(train) + len(xt) == len(CURVES[cid])
    assert train.x.max() < xt.min()


def test_sample_spreads_over_sources():
    ids = _sample()
    assert len(ids) == sum(SAMPLE_QUOTA.values())
    assert {CURVES[i].source.iloc[0] for i in ids} == set(SAMPLE_QUOTA)


@pytest.mark.parametrize("cid", [_param(c) for c in _sample()])
def test_auto_predicts_held_out_tail(cid):
    """Every sampled real curve gets a finite positive prediction and a finite predictive interval."""
    train, xt, _yt = bench.split(CURVES[cid])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = sl.fit(train, "auto")
    pred = np.asarray(fit.predict(x=xt, check_range=False), dtype=float)
    assert pred.shape == xt.shape
    assert np.all(np.isfinite(pred)) and np.all(pred > 0), (fit.law.name, pred)
    lo, hi = fit.predict_interval(0.9, x=xt, check_range=False)
    assert np.all(np.isfinite(lo)) and np.all(np.isfinite(hi)) and np.all((0 < lo) & (lo <= pred) & (pred <= hi))


# Shipped curves where auto keeps a single law and the interval of the old calibration (by
# the chosen law's own nested errors, the errors it was chosen for being smallest on)
# missed every held-out point: regression examples found on a 103-curve sample of the
# benchmark, not an estimate of coverage (that is benchmarks/extrapolation.py's job).
MISSED_BY_OWN_ERRORS = [
    "misfitting/200m/lr0.002/T6000/2024_11_26-18_23_25",
    "lcdb/917-fri_c1_1000_25/DecisionTreeClassifier",
]


@pytest.mark.parametrize("cid", [_param(c) for c in MISSED_BY_OWN_ERRORS])
def test_single_winner_interval_covers_a_tail_its_own_errors_missed(cid):
    """Calibrated by the choice cross-validated over the nested cuts, the 90 % interval
    of a single winner covers the held-out tail of these curves (the old rule covered none
    of their 7 points)."""
    train, xt, yt = bench.split(CURVES[cid])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = sl.fit(train, "auto")
    assert "stack" not in fit.options["auto"] and fit.options["auto"]["pool"]["candidates"]
    lo, hi = fit.predict_interval(0.9, x=xt, check_range=False)
    assert np.all((lo <= yt) & (yt <= hi)), (fit.law.name, lo, yt, hi)
