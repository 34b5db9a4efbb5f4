"""auto's fallback chain: every curve gets a finite prediction, and the result says how."""

from __future__ import annotations

import numpy as np
import pandas as pd

import scalinglaws as sl
from scalinglaws.judge import auto


def test_when_no_candidate_is_sane_beyond_the_data_auto_falls_back_to_a_pure_power_law(monkeypatch):
    x = np.geomspace(10, 1e4, 16)
    df = pd.DataFrame({"x": x, "loss": 0.3 + 4 * x**-0.4})
    real = auto._sane_beyond
    calls = {"n": 0}

    def insane_candidates(f, runs):  # every candidate "explodes"; the last resort is judged for real
        calls["n"] += 1
        return real(f, runs) if f.fixed.get("E") == 0.0 else False

    monkeypatch.setattr(auto, "_sane_beyond", insane_candidates)
    f = sl.fit(df, "auto", candidates=["power", "m1", "m3"])
    record = f.options["auto"]
    assert "fallback" in record and "pure power law" in record["note"]
    assert f.law.name == "power[E=0]" and f.params["E"] == 0.0 and f.fixed == {"E": 0.0}
    p = f.predict(x=np.array([1e5, 1e7]), check_range=False)
    assert np.all(np.isfinite(p)) and np.all(p > 0)
    lo, hi = f.predict_interval(0.9, x=1e5, check_range=False)
    assert 0 < lo < hi


def test_auto_chooses_by_at_least_two_cuts():
    x = np.geomspace(10, 1e4, 12)
    df = pd.DataFrame({"x": x, "loss": 0.3 + 4 * x**-0.4})
    sel = sl.choose_law(df, ["power", "m4", "bnsl"])
    assert len(sel.to_dict()["cuts"]) >= 2
