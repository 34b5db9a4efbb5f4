"""``scalinglaws plan FIT --flops C --shape`` end to end, on the bundled Gemstones slice."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from scalinglaws.cli.app import main
from scalinglaws.engine.result import Fit
from scalinglaws.laws.shape import GEMSTONES_CONSTANTS

GEMMA = ["--head-dim", "128", "--vocab-size", "50304", "--gated", "--untied"]


def test_fit_the_bundled_slice_then_plan_a_shape(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "shape.json"
    assert main(["fit", "gemstones_shapes", "--law", "shape", "-o", str(out)]) == 0
    capsys.readouterr()
    assert main(["plan", str(out), "--flops", "1e21", "--shape", *GEMMA]) == 0
    text = capsys.readouterr().out
    assert "n_layer" in text and "d_model" in text and "aspect_ratio" in text and "n_head" in text
    assert "fit with --bootstrap for intervals" in text and "bootstrap=" not in text  # the flag, not the keyword


def test_json_with_intervals_from_saved_draws(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    names = list(GEMSTONES_CONSTANTS)
    base = np.array([GEMSTONES_CONSTANTS[n] for n in names])
    draws = base * np.exp(np.random.default_rng(1).normal(0, 0.05, (30, len(names))))
    path = tmp_path / "pub.json"
    path.write_text(Fit.from_params("shape", dict(GEMSTONES_CONSTANTS), draws=draws).to_json())
    assert main(["plan", str(path), "--flops", "1e22", "--shape", "--json", *GEMMA]) == 0
    d = json.loads(capsys.readouterr().out)
    assert d["d_model"] % 128 == 0 and d["n_head"] == d["d_model"] // 128
    lo, hi = d["intervals"]["aspect_ratio"]
    assert lo <= hi and d["n_draws"] == 30


def test_errors_are_one_line_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    chin = tmp_path / "chin.json"
    chin.write_text(Fit.from_params("chinchilla", {"E": 1.69, "A": 406.4, "B": 410.7, "alpha": 0.34,
                                                   "beta": 0.28}).to_json())
    assert main(["plan", str(chin), "--flops", "1e21", "--shape"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error:") and "\n" not in err and "shape" in err
    pub = tmp_path / "pub.json"
    pub.write_text(Fit.from_params("shape", dict(GEMSTONES_CONSTANTS)).to_json())
    assert main(["plan", str(pub), "--flops", "1e21,1e22", "--shape"]) == 2
    assert capsys.readouterr().err.startswith("error:")
    assert main(["plan", str(pub), "--flops", "1e21", "--shape", "--head-dim", "12.5"]) == 2
    assert "head-dim" in capsys.readouterr().err
