"""``scalinglaws plan FIT --precision`` end to end, on the bundled (simulated) precision_sim runs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from scalinglaws.cli.app import main


@pytest.fixture(scope="module")
def fp_fit(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("prec") / "fp.json"
    code = main(["fit", "precision_sim", "--where", "law == 'fp_quant'", "--law", "fp_quant", "-b", "20", "-o", str(out)])
    assert code == 0 and out.is_file()
    return out


def test_plan_precision_prints_the_plan_with_intervals(fp_fit: Path, capsys: pytest.CaptureFixture[str]) -> None:
    capsys.readouterr()
    assert main(["plan", str(fp_fit), "--flops", "1e21", "--precision", "--at", "block_size=128"]) == 0
    text = capsys.readouterr().out
    assert "precision-optimal plan for 1e+21 FLOPs (fp_quant" in text
    assert "90% interval" in text and "format             E" in text


def test_plan_precision_json_and_critical_data(fp_fit: Path, capsys: pytest.CaptureFixture[str]) -> None:
    capsys.readouterr()
    args = ["plan", str(fp_fit), "--flops", "1e19,1e23", "--precision", "--precisions", "4,6,8", "--critical-data", "1e9",
            "--at", "block_size=32", "--at", "exponent_bits=2", "--at", "mantissa_bits=1", "--json"]
    assert main(args) == 0
    out = json.loads(capsys.readouterr().out)
    assert [p["flops"] for p in out["plans"]] == [1e19, 1e23]
    assert {o["precision"] for o in out["plans"][0]["options"]} == {4.0, 6.0, 8.0}
    cd = out["critical_data"]
    assert cd["n_tokens"] == pytest.approx(cd["closed_form"], rel=1e-5)
    assert cd["interval"][0] < cd["n_tokens"] < cd["interval"][1]


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ([], "error: law 'fp_quant' also needs 'block_size'"),
        (["--at", "block_size=128", "--precisions", "4,x"], "error: --precisions: 'x' is not a number"),
        (["--at", "block_size=128", "--at", "bits=3"], "error: law 'fp_quant' has no variable 'bits'"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(fp_fit: Path, extra: list[str], message: str,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    capsys.readouterr()
    assert main(["plan", str(fp_fit), "--flops", "1e21", "--precision", *extra]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(message) and "\n" not in err


def test_a_fit_without_precision_says_so(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "ch.json"
    assert main(["fit", "chinchilla_epoch", "-o", str(out)]) == 0
    capsys.readouterr()
    assert main(["plan", str(out), "--flops", "1e21", "--precision"]) == 2
    assert "has no training-precision variable" in capsys.readouterr().err


def test_a_fit_of_kumars_constants_plans_at_7_bits_and_at_a_fixed_size(tmp_path: Path,
                                                                        capsys: pytest.CaptureFixture[str]) -> None:
    """The fit file keeps law_options={'offsets': True}; `plan` rebuilds the same law from it."""
    import scalinglaws as sl
    from scalinglaws.laws.precision import KUMAR_2024

    path = tmp_path / "kumar.json"
    path.write_text(sl.Fit.from_params("kumar_precision", KUMAR_2024, law_options={"offsets": True}).to_json())
    capsys.readouterr()
    assert main(["plan", str(path), "--flops", "1e22", "--precision", "--precisions", "3,4,7,8,16", "--json"]) == 0
    plan = json.loads(capsys.readouterr().out)["plans"][0]
    assert plan["precision"] == 7.0 and not plan["fixed_size"]
    assert plan["options"][0]["precision"] == 3.0 and plan["options"][0]["loss"] is None  # N_eff <= 0 at 3 bits
    assert main(["plan", str(path), "--flops", "1e22,1e25", "--precision", "--at", "n_params=8e9"]) == 0
    text = capsys.readouterr().out
    assert "at a fixed n_params=8e+09" in text and "parameters         8e+09" in text
    assert main(["plan", str(path), "--critical-data", "1e9", "--at", "n_params=8e9", "--at", "precision_w=8",
                 "--at", "precision_a=8", "--at", "precision_kv=8"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: --critical-data takes the model size itself") and "\n" not in err


def test_fit_takes_law_options_from_the_command_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """--law-option NAME=VALUE reaches the law (kumar_precision's offsets, a variant with three more
    parameters); a bare name or an option the law does not take is one error line, exit 2."""
    out = tmp_path / "k.json"
    base = ["fit", "precision_sim", "--where", "law == 'kumar_precision'", "--law", "kumar_precision"]
    assert main([*base, "--law-option", "offsets=true", "-o", str(out)]) == 0
    params = json.loads(out.read_text())["params"]
    assert {"n_w", "n_a", "n_kv"} <= set(params)
    capsys.readouterr()
    for extra, message in ((["--law-option", "offsets"], "NAME=VALUE"), (["--law-option", "nosuch=1"], "nosuch")):
        assert main([*base, *extra]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and err[0].startswith("error:") and message in err[0]
