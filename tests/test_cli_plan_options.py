"""``scalinglaws plan``: one question per command, its options grouped, nonsense refused.

End to end through the CLI's ``main``: every combination that makes no sense prints one
line ``error: ...`` and exits 2 (nothing on standard output); ``--samples`` answers the
test-time-compute question from coverage fits with the library's own numbers.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import scalinglaws as sl
from scalinglaws.cli.app import build_parser, main
from scalinglaws.laws.shape import GEMSTONES_CONSTANTS

COVERAGE_SMALL = {"a": -2.0, "b": -0.4}
COVERAGE_LARGE = {"a": -1.2, "b": -0.45}


@pytest.fixture(scope="module")
def fits(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    d = tmp_path_factory.mktemp("fits")
    made = {
        "chin": sl.Fit.from_params("chinchilla", {"E": 1.69, "A": 406.4, "B": 410.7, "alpha": 0.34, "beta": 0.28}),
        "shape": sl.Fit.from_params("shape", dict(GEMSTONES_CONSTANTS)),
        "prec": sl.Fit.from_params("kumar_precision", {"E": 1.5, "A": 400.0, "alpha": 0.34, "B": 400.0, "beta": 0.28,
                                                       "gamma_w": 2.6, "gamma_a": 2.6, "gamma_kv": 2.6}),
        "mix": sl.Fit.from_params(sl.get_law("data_mixing", domains=("web", "code")),
                                  {"c": 1.0, "t_web": -2.0, "t_code": 0.5}),
        "cov": sl.Fit.from_params("coverage", COVERAGE_SMALL),
        "cov2": sl.Fit.from_params("coverage", COVERAGE_LARGE),
    }
    out = {}
    for name, fit in made.items():
        path = d / f"{name}.json"
        path.write_text(fit.to_json(), encoding="utf-8")
        out[name] = str(path)
    return out


def test_help_groups_the_options_by_question(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        build_parser().parse_args(["plan", "--help"])
    text = capsys.readouterr().out
    text = text[text.index("\noptions:"):]  # past the usage line, which names every option
    for group in ("budget:", "shape:", "precision:", "data mixture:", "samples:", "output:"):
        assert f"\n{group}\n" in text, group
    assert text.index("\n  --gated") > text.index("\nshape:") > text.index("\n  --inference-tokens")
    assert text.index("\n  --size-fit") > text.index("\nsamples:") > text.index("\n  --pool-size")
    # the precision group says how to fix the model size and give fp_quant's block size
    precision = " ".join(text[text.index("\nprecision:"):text.index("\ndata mixture:")].split())
    assert "--at n_params=N fixes the model size" in precision and "--at block_size=128" in precision


BAD = [
    # (fit, extra arguments, words the message must contain)
    ("chin", ["--flops", "1e21", "--shape"], "shape"),                       # --shape on a chinchilla fit
    ("prec", ["--precision"], "--flops"),                                     # --precision with no budget
    ("shape", ["--mixture"], "data_mixing"),                                  # --mixture on a shape fit
    ("shape", ["--flops", "1e21"], "--shape"),                                # a shape fit asked the plain question
    ("prec", ["--flops", "1e21"], "--precision"),                             # a precision fit asked the plain question
    ("cov", ["--flops", "1e21"], "--samples"),                                # a coverage fit asked the plain question
    ("chin", ["--flops", "1e21", "--gated"], "--gated goes with --shape"),    # shape option without --shape
    ("chin", ["--flops", "1e21", "--precisions", "4,8"], "--precisions"),     # precision option without --precision
    ("chin", ["--flops", "1e21", "--pool-size", "1e7"], "--pool-size"),       # mixture option without --mixture
    ("chin", ["--flops", "1e21", "--size-fit", "1e9=x.json"], "--size-fit"),  # samples option without --samples
    ("shape", ["--flops", "1e21", "--shape", "--inference-tokens", "1e12"], "--inference-tokens"),
    ("shape", ["--flops", "1e21,1e22", "--shape"], "single"),                 # --shape plans one budget
    ("chin", ["--flops", "1e21", "--shape", "--precision"], "one per command"),
    ("mix", ["--mixture", "--samples", "0.9", "--samples-seen", "1e8"], "once"),
    ("mix", ["--flops", "1e21", "--mixture"], "--flops"),                     # a budget the mixture ignores
    ("cov", ["--samples", "0.9", "--flops", "1e21"], "--flops"),
    ("chin", ["--samples", "0.9"], "coverage fit"),                           # --samples on a chinchilla fit
    ("cov", ["--samples", "1.5"], "between 0 and 1"),
    ("cov", ["--samples", "lots"], "not a number"),
    ("cov", ["--samples", "0.9", "--tokens-per-sample", "500"], "--size-fit"),  # pricing needs other sizes
    ("cov", ["--samples", "0.9", "--size-fit", "1e10=COV2"], "--at n_params"),  # the first fit's size is missing
    ("cov", ["--samples", "0.9", "--size-fit", "1e10=COV2", "--at", "n_params=1e9"], "--tokens-per-sample"),
    ("cov", ["--samples", "0.9", "--size-fit", "1e9=COV2", "--at", "n_params=1e9", "--tokens-per-sample", "5"], "one fit per"),
    ("cov", ["--samples", "0.9", "--size-fit", "1e10=CHIN", "--at", "n_params=1e9", "--tokens-per-sample", "5"], "coverage fit"),
]


@pytest.mark.parametrize(("fit", "extra", "words"), BAD, ids=[" ".join([f, *e]) for f, e, _ in BAD])
def test_nonsense_is_one_line_and_exit_2(fit: str, extra: list[str], words: str, fits: dict[str, str],
                                         capsys: pytest.CaptureFixture[str]) -> None:
    extra = [a.replace("COV2", fits["cov2"]).replace("CHIN", fits["chin"]) for a in extra]
    assert main(["plan", fits[fit], *extra]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    assert words in lines[0], lines[0]


def test_samples_from_one_coverage_fit_mirrors_downstream_samples(fits: dict[str, str],
                                                                  capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["plan", fits["cov"], "--samples", "0.9", "--json"]) == 0
    planned = json.loads(capsys.readouterr().out)
    assert main(["downstream", "samples", fits["cov"], "--target", "0.9", "--json"]) == 0
    assert planned == json.loads(capsys.readouterr().out)
    # exp(a k^b) = 0.9  <=>  k = (ln 0.9 / a)^(1/b)
    a, b = COVERAGE_SMALL["a"], COVERAGE_SMALL["b"]
    assert planned["n_samples"] == pytest.approx((-0.10536051565782628 / a) ** (1 / b), rel=1e-6)


def test_samples_with_sizes_is_the_cheapest_split(fits: dict[str, str], capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["plan", fits["cov"], "--samples", "0.9", "--at", "n_params=1e9", "--size-fit", f"1e10={fits['cov2']}",
            "--tokens-per-sample", "500", "--problems", "100"]
    assert main([*argv, "--json"]) == 0
    got = json.loads(capsys.readouterr().out)
    want = sl.plan_samples({1e9: sl.Fit.from_params("coverage", COVERAGE_SMALL),
                            1e10: sl.Fit.from_params("coverage", COVERAGE_LARGE)},
                           0.9, tokens_per_sample=500, n_problems=100, level=0.9)
    assert got["n_params"] == pytest.approx(want.n_params) and got["n_samples"] == pytest.approx(want.n_samples)
    assert 1e9 <= got["n_params"] <= 1e10
    # charging training (20 tokens per parameter) makes the large model dearer: the choice cannot grow
    assert main([*argv, "--train-tokens-per-param", "20", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["n_params"] <= got["n_params"]
    assert main(argv) == 0
    assert "SamplePlan(target=0.9" in capsys.readouterr().out


def test_the_plain_plan_and_critical_data_still_work(fits: dict[str, str], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["plan", fits["chin"], "--flops", "1e21", "--json"]) == 0
    plan = json.loads(capsys.readouterr().out)
    want = sl.compute_optimal(sl.Fit.from_params("chinchilla", {"E": 1.69, "A": 406.4, "B": 410.7, "alpha": 0.34,
                                                                 "beta": 0.28}), 1e21)
    assert plan["n_params"] == pytest.approx(want.n_params)
    # --critical-data needs no budget: illustrative kumar_ptq constants, the CLI against the library
    ptq = sl.Fit.from_params("kumar_ptq", {"E": 1.5, "A": 400.0, "alpha": 0.34, "B": 400.0, "beta": 0.28,
                                           "C_T": 0.1, "gamma_post": 1.0, "gamma_D": 0.5, "gamma_N": 0.4})
    path = Path(fits["chin"]).with_name("ptq.json")
    path.write_text(ptq.to_json(), encoding="utf-8")
    assert main(["plan", str(path), "--critical-data", "1e9", "--at", "post_precision=4", "--json"]) == 0
    got = json.loads(capsys.readouterr().out)["critical_data"]
    want = sl.critical_data_size(ptq, 1e9, at={"post_precision": 4}, level=0.9).to_dict()
    assert got["n_tokens"] == pytest.approx(want["n_tokens"]) and got["law"] == "kumar_ptq"


def test_hparams_edge_warning_is_printed_once(capsys: pytest.CaptureFixture[str]) -> None:
    """An optimum at the edge of the sweep is a `warning:` line on stderr, once; the text report
    on stdout does not repeat it (the JSON keeps it in its warnings field)."""
    argv = ["hparams", "misfitting_lr_sweep", "--points", "3", "-b", "10", "--n-params", "1e9", "--n-tokens", "2e10"]
    assert main(argv) == 0
    out, err = capsys.readouterr()
    assert "lr = " in out and "learning rate" in out
    assert err.count("at the end of the sampled values") == 1 and err.startswith("warning: ")
    assert "at the end of the sampled values" not in out
    assert main([*argv, "--json"]) == 0
    out, err = capsys.readouterr()
    assert any("at the end of the sampled" in w for w in json.loads(out)["warnings"])
    assert err.count("at the end of the sampled values") == 1


def test_isoflop_grouping_warning_is_printed_once_with_flags(capsys: pytest.CaptureFixture[str]) -> None:
    """Runs not on an IsoFLOP design are grouped by budget: a warning on stderr, once, and the
    report's grouping line (it printed a warning line with the same text under it too), both naming
    --bins, not the Python keyword bins=."""
    assert main(["isoflop", "chinchilla_epoch", "-b", "5"]) == 0
    out, err = capsys.readouterr()
    assert "n_opt(C)" in out and out.count("not an IsoFLOP design") == 1 and "warning" not in out
    assert "--bins K" in out and "bins=" not in out
    assert err.count("not an IsoFLOP design") == 1 and "--bins K" in err and "bins=" not in err
