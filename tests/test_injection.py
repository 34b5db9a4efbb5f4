"""Injection: formula strings and where= filters cannot run code, hang, or touch the disk.

tests/test_formula.py holds the first list of hostile formulas; this goes further:
Unicode look-alikes (Python folds identifiers to NFKC, so ``ｅｖａｌ`` reads as
``eval``), very long and very deep expressions, huge constant powers, and the same
attacks through ``where=`` and through the command line. Every payload that would
leave a trace names a sentinel file, and every test checks that the sentinel, and any
other new file, never appears.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

import scalinglaws as sl
from scalinglaws.data.where import evaluate_where
from scalinglaws.cli.app import main
from scalinglaws.laws.formula import parse

SRC = Path(sl.__file__).resolve().parents[1]  # the src folder of the package under test
#: Fixed, bounded, reproducible property tests (the budget is set per test).
PROPERTY = settings(deadline=None, derandomize=True, database=None, suppress_health_check=[HealthCheck.too_slow])


@pytest.fixture
def sentinel(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A file no payload may create; the test runs in an empty folder to see any trace."""
    monkeypatch.chdir(tmp_path)
    return tmp_path / "pwned"


def _no_trace(folder: Path) -> None:
    left = sorted(p.name for p in folder.iterdir())
    assert left == [], f"an injection attempt left files behind: {left}"


def _payloads(target: Path) -> list[str]:
    t = str(target)
    return [
        f"__import__('os').system('touch {t}')",
        f"open('{t}', 'w')",
        f"exec(\"open('{t}', 'w')\")",
        f"eval(\"open('{t}', 'w')\")",
        f"(lambda: open('{t}', 'w'))()",
        f"[open('{t}', 'w') for _ in (1,)]",
        "n_params.__class__.__mro__[1].__subclasses__()",
        "().__class__.__bases__[0].__subclasses__()",
        f"getattr(__builtins__, 'open')('{t}', 'w')",
        "breakpoint()",
        "globals()",
        "n_params.real",
        "n_params if n_params else A",
        "(A := n_params)",
        "A * n_params; import os",
        "f'{n_params}'",
        "A * {n_params: 1}",
        "A * {n_params}",
        "A * n_params[0]",
        "A * n_params[::-1]",
        "A * (*n_params,)",
        "A * exp(*n_params)",
        "A * exp(x=n_params)",
        "A * n_params @ A",
        "A * ~n_params",
        "A * n_params << 2",
        "A * n_params and E",
        "A * n_params > E",
        "A * ...",
        "A * None + n_params",
        "A * True + n_params",
        "A * 'text' + n_params",
        "A * b'x' + n_params",
        "A * 1j + n_params",
        "await A",
        "yield A",
        # Unicode look-alikes: NFKC folds these to eval, exec, open, __import__ ...
        "ｅｖａｌ('1') + A * n_params",
        "ｅｘｅｃ('1') + A * n_params",
        f"ｏｐｅｎ('{t}') + A * n_params",
        "ｇｅｔａｔｔｒ(n_params, 'real') + A",
        "__ｉｍｐｏｒｔ__('os') + A * n_params",
        "_\ufe4d\ufe4dclass__ + A * n_params",  # dashed low lines fold to underscores
        "n_params.\u1d43\u1d47\u209b + A",  # modifier letters fold to 'abs'
        "A * n_params\u037e import os",  # Greek question mark looks like ';'
        "A * n_params\uff0ereal",  # full-width full stop looks like '.'
        "A * 𝐧_params.__class__",  # mathematical bold n
        "\u202eA * n_params",  # right-to-left override
        "A * n_params\x00 + 1",
        # size and depth
        "A * n_params" + " + A" * 900,
        "-" * 2000 + "A * n_params",
        "(" * 500 + "A * n_params" + ")" * 500,
        "A * n_params" + "**A" * 100,
        "exp(" * 80 + "A * n_params" + ")" * 80,
        "a" * 5000,
    ]


def test_hostile_formulas_are_refused_without_a_trace(sentinel: Path) -> None:
    payloads = _payloads(sentinel)
    assert len(payloads) >= 50
    for text in payloads:
        with pytest.raises(sl.LawError) as info:
            sl.formula_law(text)
        message = str(info.value)
        assert message and "\n" not in message, text
    _no_trace(sentinel.parent)


def test_hostile_formulas_are_refused_by_fit_and_get_law(sentinel: Path) -> None:
    frame = pd.DataFrame({"n_params": np.geomspace(1e7, 1e9, 6), "loss": np.linspace(3, 2, 6)})
    for text in _payloads(sentinel)[:12]:
        with pytest.raises(sl.LawError):
            sl.get_law(text)
        with pytest.raises(sl.LawError):
            sl.fit(frame, text)
    _no_trace(sentinel.parent)


def test_lookalike_names_cannot_reach_forbidden_names() -> None:
    # NFKC folding happens before our checks see the name, so a look-alike of a
    # function or dunder is judged as the name it folds to: refused when that is.
    for text in ("ｅｘｐ.__class__", "＿＿import＿＿", "ｌａｍｂｄａ: 1", "_\ufe4dx * n_params"):
        with pytest.raises(sl.LawError):
            parse(text)
    # and a look-alike of an allowed function is that function, nothing more
    law = sl.formula_law("A * ｅｘｐ(-k * x)")
    assert law.param_names == ("A", "k")
    assert float(law({"A": 2.0, "k": 1.0}, x=0.0)) == 2.0


def test_formula_refusal_is_fast() -> None:
    import time

    start = time.perf_counter()
    for text in ("A * n_params" + " + A" * 900, "-" * 2000 + "x", "x" + "**x" * 1300):
        with pytest.raises(sl.LawError, match="nested too deeply|too long"):
            parse(text)
    assert time.perf_counter() - start < 5.0


@pytest.mark.parametrize("text", ["-" * 3000 + "x", "~" * 3500 + "x", "(" * 150 + "-" * 2200 + "x" + ")" * 150])
def test_parser_overflow_is_a_law_error(text: str) -> None:
    assert len(text) <= 4000  # within MAX_FORMULA_LENGTH: only the depth is hostile
    with pytest.raises(sl.LawError):
        parse(text)


_HUGE_POWERS = [
    "x**9**9**9",
    "E + A * x**9**9**9",
    "A * x + 9**9**9",
    "A * x + 10**10**10",
    "A * x + sqrt(2)**(10**10)",
    "A * x + (1/3)**(10**8)",
    "A * (2 * x)**(9**9)",
]


def test_huge_constant_powers_do_not_hang() -> None:
    # in a subprocess: the bug makes the parser spin in C for minutes, out of reach of
    # any signal; a correct parser refuses or evaluates each of these in well under 1 s
    code = textwrap.dedent(
        f"""
        import sys, time
        sys.path.insert(0, {str(SRC)!r})
        import scalinglaws as sl
        from scalinglaws.laws.formula import parse
        parse("x + 1")  # import SymPy before timing
        for text in {_HUGE_POWERS!r}:
            start = time.perf_counter()
            try:
                sl.formula_law(text)
            except sl.LawError:
                pass
            print(text, round(time.perf_counter() - start, 2), flush=True)
        """
    )
    try:
        proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    except subprocess.TimeoutExpired as err:
        pytest.fail(f"parsing a huge constant power hung; finished: {err.stdout!r}")
    assert proc.returncode == 0, proc.stderr
    times = [float(line.rsplit(" ", 1)[1]) for line in proc.stdout.strip().splitlines()]
    assert len(times) == len(_HUGE_POWERS) and max(times) < 2.0, proc.stdout


def test_huge_powers_with_a_variable_exponent_stay_numeric() -> None:
    # 10**100 is a small exact integer; raising x to it must give inf, not an error
    law = sl.formula_law("A * x**(10**100)")
    assert np.isinf(law({"A": 1.0}, x=2.0))
    law = sl.formula_law("A * x + 2**64")
    assert float(law({"A": 1.0}, x=1.0)) == pytest.approx(2.0**64 + 1)


@pytest.mark.parametrize("text", ["E + A * x**-alpha + 1/0", "E + A * x**-alpha + log(0)", "A * x / (x - x)"])
def test_formulas_folding_to_infinity_are_refused(text: str) -> None:
    frame = pd.DataFrame({"x": np.geomspace(1e6, 1e9, 8), "loss": np.linspace(3, 2, 8)})
    with pytest.raises(sl.LawError):
        sl.fit(frame, text)


_FORMULA_ATOMS = ["x", "x", "n_params", "A", "B", "alpha", "E", "1", "0.5", "2.0", "3.0", "1e3", "1e-3",
                  "__x", "x.real", "f(x)", "ｘ", "exp", "1e999", "'s'", "x[0]", "k"]  # fmt: skip
# exact integer literals other than 1 are left out on purpose: nested powers of them
# hang the parser (test_huge_constant_powers_do_not_hang covers that bug)
_SAFE_ATOMS = _FORMULA_ATOMS[:13]


def _formulas(atoms: list[str]) -> st.SearchStrategy[str]:
    return st.recursive(
        st.sampled_from(atoms),
        lambda inner: st.one_of(
            st.tuples(inner, st.sampled_from([" + ", " - ", " * ", " / ", "**", " % ", " @ "]), inner).map("".join),
            st.tuples(st.sampled_from(["exp", "log", "sqrt", "abs", "tanh", "log1p", "-", "", "lambda: "]),
                      inner).map(lambda t: f"{t[0]}({t[1]})"),  # fmt: skip
            st.tuples(st.sampled_from(["min", "max"]), inner, inner).map(lambda t: f"{t[0]}({t[1]}, {t[2]})"),
        ),
        max_leaves=6,
    )


formula_text = st.one_of(_formulas(_FORMULA_ATOMS), _formulas(_SAFE_ATOMS))


@settings(PROPERTY, max_examples=80)
@given(text=formula_text)
def test_random_formulas_build_and_evaluate_or_fail_clearly(text: str) -> None:
    try:
        law = sl.formula_law(text)
    except sl.LawError as err:
        assert str(err) and "\n" not in str(err)
        return
    import sympy

    expr = parse(text)
    # complex infinity (1/0) is the known bug of test_formulas_folding_to_infinity_are_refused
    assume(not expr.has(sympy.zoo, sympy.nan))
    X = {v: np.array([0.5, 2.0]) for v in law.variables}
    P = {p: np.array([[1.0], [2.0]]) for p in law.param_names}
    try:
        value = law.function(X, P)
        _, grads = law.value_and_grad(X, P)
    except sl.LawError as err:
        assert str(err) and "\n" not in str(err)
        return
    assert np.asarray(value, dtype=float).shape in ((2, 2), (2, 1), (1, 2), (2,), ())
    assert len(grads) == len(law.param_names)


# --------------------------------------------------------------------------- where=


@pytest.fixture
def frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "n_params": [1e8, 2e8, 4e8, 8e8],
            "n_tokens": [2e9, 4e9, 8e9, 1.6e10],
            "loss": [3.2, 3.0, 2.8, 2.6],
            "tag": ["a", "b", "a", "b"],
            "ｌｏｓｓ": [10.0, 20.0, 30.0, 40.0],
        }
    )


def _where_payloads(target: Path) -> list[str]:
    t = str(target)
    return [
        f"__import__('os').system('touch {t}') == 0",
        f"open('{t}', 'w') == 0",
        "loss.__class__ == 0",
        "loss.real < 3",
        "__builtins__ < 3",
        "__import__ < 3",
        "__class__ < 3",
        "[c for c in loss] == 0",
        "(lambda: 1)() == 1",
        "loss if tag else loss",
        "{1: 2} == loss",
        "{loss} == 1",
        "loss[0] < 3",
        "f'{loss}' == '3'",
        "(x := loss) < 3",
        "loss < 3; import os",
        "@loss < 3",
        "loss @ loss",
        "loss < None",
        "loss == ...",
        "loss < 3j",
        "loss < b'3'",
        "*loss < 3",
        "ｅｖａｌ('1') == 1",
        "ｌｏｓｓ.__class__ == 0",
        "loss\uff0ereal < 3",
        "not " * 480 + "loss < 3",
        "-" * 1900 + "loss < 3",
        "(" * 250 + "loss < 3" + ")" * 250,
        "loss < 3" + " " * 3000,
    ]


def test_hostile_where_expressions_are_refused_without_a_trace(frame, sentinel: Path) -> None:
    payloads = _where_payloads(sentinel)
    for text in payloads:
        with pytest.raises(sl.DataError) as info:
            sl.load_runs(frame, where=text)
        assert "\n" not in str(info.value), text
    _no_trace(sentinel.parent)


def test_long_but_legal_where_expressions_work(frame) -> None:
    # parentheses add no depth, and an 'and' chain is one flat node: both are fine
    assert len(sl.load_runs(frame, where="(" * 150 + "loss < 3" + ")" * 150)) == 2
    assert len(sl.load_runs(frame, where="loss < 3 and " * 150 + "tag == 'b'")) == 1
    assert len(sl.load_runs(frame, where="- " * 40 + "loss > 0")) == 4  # an even count: +loss


def test_lookalike_column_names_are_not_folded(frame) -> None:
    # 'ｌｏｓｓ' (full-width) is another column than 'loss'; filtering on one must not
    # silently filter on the other
    assert len(sl.load_runs(frame, where="ｌｏｓｓ > 25")) == 2
    assert len(sl.load_runs(frame, where="`ｌｏｓｓ` > 25")) == 2
    with pytest.raises(sl.DataError, match="selects none"):
        sl.load_runs(frame, where="loss > 25")
    with pytest.raises(sl.DataError, match="did you mean 'loss'"):
        sl.load_runs(frame.drop(columns="ｌｏｓｓ"), where="ｌｏｓｓ > 2")


def test_huge_numbers_in_where_are_compared_not_crashed(frame) -> None:
    big = "1" + "0" * 600
    assert len(sl.load_runs(frame, where=f"loss < {big}")) == 4
    assert len(sl.load_runs(frame, where=f"loss > -{big}")) == 4
    assert len(sl.load_runs(frame, where="loss < 9**9**9")) == 4  # evaluated as float: inf
    with pytest.raises(sl.DataError, match="selects none"):
        sl.load_runs(frame, where=f"loss in [{big}]")


_WHERE_ATOMS = ["loss", "loss", "n_params", "tag", "`ｌｏｓｓ`", "ｌｏｓｓ", "3", "1e9", "'a'", "True",
                "9**9**9", "1" + "0" * 40, "nope", "__x__", "loss.real", "f(loss)", "[1, 2]"]  # fmt: skip
_ARITH = [" + ", " - ", " * ", " / ", " ** ", " % "]
_COMPARE = [" < ", " <= ", " == ", " != ", " > ", " >= ", " in ", " not in "]
_LISTS = ["['a', 'b']", "[3.2, 1e9]", "[]", "(1,)", "[loss]", "['a', None]"]

arith_text = st.recursive(
    st.sampled_from(_WHERE_ATOMS),
    lambda inner: st.one_of(
        st.tuples(inner, st.sampled_from(_ARITH), inner).map("".join),
        st.tuples(st.sampled_from(["-", "+", "("]), inner, st.sampled_from(["", ")"])).map(
            lambda t: t[0] + t[1] + (")" if t[0] == "(" else t[2])
        ),
    ),
    max_leaves=4,
)
comparison_text = st.one_of(
    st.tuples(arith_text, st.sampled_from(_COMPARE[:6]), arith_text).map("".join),
    st.tuples(st.sampled_from(["tag", "loss", "n_params"]), st.sampled_from(_COMPARE[6:]),
              st.sampled_from(_LISTS)).map("".join),  # fmt: skip
)
where_text = st.recursive(
    comparison_text,
    lambda inner: st.one_of(
        st.tuples(inner, st.sampled_from([" and ", " or "]), inner).map("".join),
        inner.map(lambda t: f"not ({t})"),
    ),
    max_leaves=4,
)


@settings(PROPERTY, max_examples=150)
@given(text=st.one_of(where_text, where_text, arith_text, st.text(max_size=40)))
def test_random_where_expressions_give_a_mask_or_a_data_error(text: str) -> None:
    table = pd.DataFrame({"loss": [3.2, 2.5, np.nan], "n_params": [1e8, 1e9, 1e10],
                          "tag": ["a", "b", None], "ｌｏｓｓ": [1.0, 2.0, 3.0]})  # fmt: skip
    try:
        mask = evaluate_where(text, table)
    except sl.DataError as err:
        assert str(err) and "\n" not in str(err)
        return
    assert mask.dtype == bool and mask.index.equals(table.index)


# --------------------------------------------------------------------------- CLI


def _cli(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    code = main(args)
    _, err = capsys.readouterr()
    return code, err


@pytest.mark.parametrize("index", range(0, 30, 3))
def test_hostile_formulas_through_the_cli(index: int, sentinel: Path, capsys) -> None:
    text = _payloads(sentinel)[index]
    code, err = _cli(["fit", "chinchilla_epoch", "--law", text], capsys)
    assert code == 2 and err.startswith("error: ") and len(err.strip().splitlines()) == 1
    assert "Traceback" not in err
    _no_trace(sentinel.parent)


@pytest.mark.parametrize("index", range(0, 30, 3))
def test_hostile_where_through_the_cli(index: int, sentinel: Path, capsys) -> None:
    text = _where_payloads(sentinel)[index]
    code, err = _cli(["fit", "chinchilla_epoch", "--law", "chinchilla", "--where", text], capsys)
    assert code == 2 and err.startswith("error: ") and len(err.strip().splitlines()) == 1
    _no_trace(sentinel.parent)


def test_where_injection_through_a_real_subprocess(sentinel: Path) -> None:
    payload = f"__import__('os').system('touch {sentinel}') == 0"
    env = {**os.environ, "PYTHONPATH": str(SRC)}
    proc = subprocess.run(
        [sys.executable, "-m", "scalinglaws.cli", "fit", "chinchilla_epoch", "--where", payload],
        capture_output=True, text=True, timeout=120, env=env, cwd=sentinel.parent,
    )  # fmt: skip
    assert proc.returncode == 2
    assert proc.stderr.startswith("error: where expression") and "not allowed" in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1 and "Traceback" not in proc.stderr
    _no_trace(sentinel.parent)
