"""muP in the sweep runner: the spec option, the model and optimizer, the coordinate check."""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import pytest

from scalinglaws.cli.app import main
from scalinglaws.sweep import DataSpec, RunSpec, SweepError, design_sweep
from scalinglaws.sweep.designfile import from_toml, read_design, to_toml

torch = pytest.importorskip("torch")

from scalinglaws.sweep.model import ModelConfig, Transformer
from scalinglaws.sweep.mup import LAYERS, coord_check, coord_slopes, param_groups
from scalinglaws.sweep.train import train

SPEC = RunSpec(budget=1e9, n_layer=2, d_model=32, n_head=4, n_tokens=60 * 4 * 32, batch_size=4,
               lr=1e-2, seq_len=32, n_evals=4, eval_tokens=1024,
               data=DataSpec(max_bytes=400_000))


def test_the_standard_default_keeps_the_run_id_of_runs_designed_before_mup() -> None:
    # 0c297b66ca38686a is the id this spec had before the muP fields existed (commit
    # fdb7ad0): stores written then must still match their runs.
    assert SPEC.parametrization == "standard" and SPEC.run_id == "0c297b66ca38686a"
    mup = dataclasses.replace(SPEC, parametrization="mup")
    assert mup.run_id != SPEC.run_id
    assert dataclasses.replace(mup, mup_base_width=16).run_id != mup.run_id


def test_bad_parametrization_options_are_one_line_errors() -> None:
    with pytest.raises(SweepError, match="parametrization must be one of standard, mup"):
        dataclasses.replace(SPEC, parametrization="ntk")
    with pytest.raises(SweepError, match="mup_base_width must be an integer >= 1"):
        dataclasses.replace(SPEC, mup_base_width=0)


def test_design_sweep_and_the_design_file_carry_the_parametrization() -> None:
    design = design_sweep([1e11], 2, parametrization="mup", mup_base_width=32)
    assert {(r.parametrization, r.mup_base_width) for r in design.runs} == {("mup", 32)}
    assert from_toml(to_toml(design)) == design
    old_file = to_toml(design_sweep([1e11], 2)).replace('parametrization = "standard"\n', "")
    assert all(r.parametrization == "standard" for r in from_toml(old_file).runs)


def test_the_cli_designs_a_mup_sweep(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "mup.toml"
    assert main(["sweep", "design", "--budgets", "1e11", "--sizes-per-budget", "2",
                 "--parametrization", "mup", "--mup-base-width", "48", "-o", str(out)]) == 0
    assert {(r.parametrization, r.mup_base_width) for r in read_design(out).runs} == {("mup", 48)}
    with pytest.raises(SystemExit) as exit_:
        main(["sweep", "design", "--budgets", "1e11", "--parametrization", "ntk",
              "-o", str(tmp_path / "x.toml")])
    assert exit_.value.code == 2
    assert "invalid choice: 'ntk'" in capsys.readouterr().err


def test_at_the_base_width_mup_initialises_exactly_like_standard() -> None:
    def model(parametrization: str, width: int) -> Transformer:
        torch.manual_seed(0)
        return Transformer(ModelConfig(2, width, 4, parametrization=parametrization,
                                       mup_base_width=32))

    standard, mup = model("standard", 32), model("mup", 32)
    for (name, a), b in zip(standard.named_parameters(), mup.parameters()):
        assert torch.equal(a, b), name
    wide_sp, wide_mup = model("standard", 128), model("mup", 128)
    ratio = wide_mup.blocks[0].mlp.fc.weight.std() / wide_sp.blocks[0].mlp.fc.weight.std()
    assert ratio.item() == pytest.approx(0.5, rel=1e-5)  # sqrt(32 / 128)
    assert torch.equal(wide_mup.tok_emb.weight, wide_sp.tok_emb.weight)
    assert wide_mup.output_mult == 0.25 and wide_mup.blocks[0].attn.scale == 1 / 32


def test_param_groups_cover_every_parameter_once_with_the_mup_lr_scales() -> None:
    model = Transformer(ModelConfig(2, 128, 4, parametrization="mup", mup_base_width=32))
    groups = param_groups(model, 0.1)
    seen = [id(p) for group in groups for p in group["params"]]
    assert sorted(seen) == sorted(id(p) for p in model.parameters())
    hidden, embed, vectors = groups
    assert hidden["lr_scale"] == 0.25 and len(hidden["params"]) == 2 * 4
    assert embed["lr_scale"] == 1.0 and {id(p) for p in embed["params"]} == {
        id(model.tok_emb.weight), id(model.pos_emb.weight)}
    assert vectors["lr_scale"] == 1.0 and vectors["weight_decay"] == 0.0
    assert all(p.dim() == 1 for p in vectors["params"])


def test_a_mup_run_trains_deterministically_and_differs_from_standard() -> None:
    spec = dataclasses.replace(SPEC, parametrization="mup", mup_base_width=16)
    first, second = train(spec, device="cpu", threads=1), train(spec, device="cpu", threads=1)
    assert first.loss == second.loss and math.isfinite(first.loss)
    assert first.loss < first.curve[0].eval_loss + 0.05 < math.log(256)
    assert first.loss != train(SPEC, device="cpu", threads=1).loss
    assert '"parametrization": "mup"' in first.to_row()[0]["spec"]  # type: ignore[operator]


def test_coordinate_check_is_flat_with_width_under_mup_and_grows_under_standard() -> None:
    table = coord_check((32, 64, 128), n_steps=3, lr=1e-2, batch_size=4, seq_len=32,
                        threads=1)
    assert set(table["layer"]) == set(LAYERS) and set(table["step"]) == {0, 1, 2, 3}
    assert len(table) == 2 * 3 * 4 * len(LAYERS) and (table["rms"] > 0).all()
    slopes = coord_slopes(table)  # after the last step
    assert list(slopes.index) == list(LAYERS)
    logits = slopes.loc["logits"]
    assert logits["standard"] > 0.4  # the logits grow about as width^0.7 here
    assert abs(logits["mup"]) < 0.2
    assert logits["mup"] < logits["standard"] - 0.3
    inner = slopes.drop(index="embedding")  # the embedding is width-free in both
    assert (inner["mup"].abs() < 0.5 * inner["standard"]).all()


def test_coord_check_rejects_widths_it_cannot_build() -> None:
    with pytest.raises(SweepError, match="two or more widths"):
        coord_check((64,))
    with pytest.raises(SweepError, match="multiple of n_head"):
        coord_check((30, 64), n_head=4)
    with pytest.raises(SweepError, match="parametrization must be one of"):
        coord_check((32, 64), parametrizations=("ntk",))
