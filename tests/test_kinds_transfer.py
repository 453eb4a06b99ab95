"""Trusted scoring of the ``transfer`` kind, the shared steps, panels and spec extras, without a sandbox."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from grader.checks.base import Observation, ProbeContext, StepFailed, shared_step
from grader.panels import build_panels
from grader.results import CheckResult
from grader.spec import Panel

from .test_scoring_units import perfect_logits, score

BASE = {"source_dataset": "digits06", "target_dataset": "fashion"}
LABELS = np.array([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 1, 2])
TRUTH = {"fashion": {"eval_y": LABELS}, "digits06": {"eval_y": LABELS % 6}}


def transfer(part: str, data: dict[str, Any], arrays: dict[str, np.ndarray] | None = None, *,
             reference: Observation | None = None, **kwargs: Any) -> Any:
    params = {**BASE, "part": part, **kwargs.pop("params", {})}
    return score("transfer", params, Observation(data=data, arrays=arrays or {}), reference or Observation(),
                 truth=TRUTH, **kwargs)


def param(name: str, before: str = "a", after: str = "a", grad: str = "none", requires_grad: bool = True) -> dict[str, Any]:
    return {"name": name, "part": name.split(".")[0], "before": before, "after": after, "grad": grad,
            "requires_grad": requires_grad, "max_change": 0.0 if before == after else 0.5}


# --- structure ---------------------------------------------------------------------------------------------

def structure_case(classes: int, **changes: Any) -> dict[str, Any]:
    return {"classes": classes, "backbone": "Sequential", "head": "Linear", "head_in": 64, "head_out": classes,
            "output_shape": [4, classes], **changes}


def test_structure_passes_and_names_what_is_wrong() -> None:
    out = {"c6_out": np.ones((4, 6)), "c6_composed": np.ones((4, 6)), "c10_out": np.ones((4, 10)),
           "c10_composed": np.ones((4, 10))}
    assert transfer("structure", {"cases": [structure_case(6), structure_case(10)]}, out).passed
    bad = transfer("structure", {"cases": [structure_case(6, head="Sequential"), structure_case(10)]},
                   {**out, "c10_composed": np.zeros((4, 10))})
    assert bad.fraction == 0
    assert "not an nn.Linear" in bad.message and "is not head(backbone(x))" in bad.message


# --- accuracy (the three variants and the source model) ------------------------------------------------------

@pytest.mark.parametrize("part, extra", [("scratch", {}), ("full_finetune", {"judge": "accuracy"}),
                                          ("head_only", {"judge": "accuracy"})])
def test_accuracy_against_the_reference(part: str, extra: dict[str, Any]) -> None:
    reference = Observation(arrays={"logits": perfect_logits(LABELS)})
    wrong = perfect_logits(LABELS)
    wrong[:3] = perfect_logits((LABELS[:3] + 1) % 10)  # 9 of 12 right: 75%
    data = {"history": [1.0, 0.5], "train_size": 100}
    verdict = transfer(part, data, {"logits": wrong}, reference=reference, params=extra,
                       thresholds={"accuracy_vs_reference": 0.8}, budget={"epochs": 2})
    assert not verdict.passed and "accuracy 75.0%" in verdict.message and "needed 80.0%" in verdict.message
    assert verdict.details["table_row"] == {"accuracy": "75.0%", "reference": "100.0%", "needed": "80.0%"}
    assert verdict.details["history"] == [1.0, 0.5]
    assert np.array(verdict.details["confusion_matrix"]).trace() == 9
    assert transfer(part, data, {"logits": perfect_logits(LABELS)}, reference=reference, params=extra,
                    thresholds={"accuracy_vs_reference": 0.8}).passed


def test_source_accuracy_uses_the_source_labels() -> None:
    reference = Observation(arrays={"logits": perfect_logits(LABELS % 6, classes=6)})
    data = {"losses": [1.2], "train_size": 50}
    verdict = transfer("source", data, {"logits": perfect_logits(LABELS % 6, classes=6)}, reference=reference,
                       thresholds={"accuracy_vs_reference": 0.9})
    assert verdict.passed and "the grader's own loop" in verdict.message


def test_unusable_logits_score_zero() -> None:
    reference = Observation(arrays={"logits": perfect_logits(LABELS)})
    for logits in (np.full((12, 10), np.nan), np.zeros((3, 10)), np.zeros((0,))):
        verdict = transfer("scratch", {}, {"logits": logits}, reference=reference, thresholds={"accuracy_vs_reference": 0.5})
        assert not verdict.passed and verdict.details["accuracy"] == 0.0


# --- load_pretrained, replace_head, freeze, optimizer --------------------------------------------------------

def test_load_pretrained_exact_and_strict_false() -> None:
    checkpoint = {"backbone.0.weight": "w", "backbone.0.bias": "b", "head.weight": "h", "head.bias": "hb"}
    assert transfer("load_pretrained", {"checkpoint": checkpoint, "loaded": dict(checkpoint), "output_shape": [4, 6]}).passed
    fresh = {k: v + "-random" for k, v in checkpoint.items()}
    verdict = transfer("load_pretrained", {"checkpoint": checkpoint, "loaded": fresh, "output_shape": [4, 6]})
    assert verdict.fraction == 0.5 and "strict=False" in verdict.message and "0 of 4 tensors" in verdict.message
    partial = transfer("load_pretrained", {"checkpoint": checkpoint, "loaded": {"head.weight": "h"}, "output_shape": [4, 10]})
    assert partial.fraction == 0 and "absent: backbone.0.weight" in partial.message


def test_replace_head() -> None:
    kept = [param("backbone.0.weight"), param("backbone.0.bias"), param("head.weight", before=None, after="n")]
    good = {"head": "Linear", "head_in": 64, "head_out": 10, "head_in_before": 64, "output_shape": [4, 10], "params": kept}
    assert transfer("replace_head", good).passed
    reinit = {**good, "params": [param("backbone.0.weight", after="z"), param("backbone.0.bias", after="y"), kept[2]]}
    verdict = transfer("replace_head", reinit)
    assert verdict.fraction == pytest.approx(2 / 3) and "2 changed or were replaced" in verdict.message


def test_freeze() -> None:
    frozen = [param("backbone.0.weight", requires_grad=False), param("head.weight")]
    assert transfer("freeze", {"params": frozen}).passed
    hooks = transfer("freeze", {"params": [param("backbone.0.weight"), param("head.weight")]})
    assert hooks.fraction == 0.5 and "still trainable: backbone.0.weight" in hooks.message
    assert transfer("freeze", {"problem": "freeze_backbone returned a NoneType, not the model"}).fraction == 0


def optimizer_record(held: list[str], frozen: bool, decay: float = 0.0, **extra: Any) -> dict[str, Any]:
    params = [{"name": "backbone.w", "part": "backbone", "requires_grad": not frozen},
              {"name": "head.w", "part": "head", "requires_grad": True}]
    return {"is_optimizer": True, "type": "AdamW", "held": held, "foreign": 0,
            "groups": [{"size": len(held), "lr": 0.001, "weight_decay": decay}], "params": params, **extra}


def test_optimizer_holds_trainable_parameters_only() -> None:
    good = {"frozen": optimizer_record(["head.w"], True), "unfrozen": optimizer_record(["backbone.w", "head.w"], False)}
    assert transfer("optimizer", good).passed
    everything = {"frozen": optimizer_record(["backbone.w", "head.w"], True, decay=0.05), "unfrozen": good["unfrozen"]}
    verdict = transfer("optimizer", everything)
    assert verdict.fraction == 0.5 and "with weight decay, which moves them" in verdict.message
    not_optimizer = {"frozen": {"is_optimizer": False, "type": "list"}, "unfrozen": good["unfrozen"]}
    assert "not a torch.optim.Optimizer" in transfer("optimizer", not_optimizer).message


# --- behaviour of the fine-tuning runs -------------------------------------------------------------------------

HISTORY = {"history": [1.0, 0.8]}


def test_head_only_behaviour() -> None:
    params = [param("backbone.w", requires_grad=False), param("head.w", after="b")]
    buffers = [{"name": "backbone.bn.running_mean", "part": "backbone", "before": "x", "after": "y"}]
    verdict = transfer("head_only", {**HISTORY, "params": params, "buffers": buffers}, params={"judge": "behaviour"},
                       budget={"epochs": 2})
    assert verdict.passed and "BatchNorm running statistics" in verdict.message
    decayed = [param("backbone.w", after="moved", grad="zero"), param("head.w", after="b")]
    verdict = transfer("head_only", {**HISTORY, "params": decayed}, params={"judge": "behaviour"}, budget={"epochs": 2})
    assert verdict.fraction == 0.5
    assert "1 changed (by up to 0.5): backbone.w" in verdict.message and "backbone.w (all zeros)" in verdict.message


def test_full_finetune_behaviour() -> None:
    moved = [param("backbone.w", after="b", grad="nonzero"), param("head.w", after="c", grad="nonzero")]
    assert transfer("full_finetune", {**HISTORY, "params": moved}, params={"judge": "behaviour"}, budget={"epochs": 2}).passed
    still = [param("backbone.w"), param("head.w", after="c")]
    verdict = transfer("full_finetune", {**HISTORY, "params": still}, params={"judge": "behaviour"}, budget={"epochs": 2})
    assert verdict.fraction == pytest.approx(2 / 3) and "0 of 1 backbone parameters changed" in verdict.message


def test_behaviour_judge_only_for_training_parts() -> None:
    from pydantic import ValidationError

    from grader.checks.transfer import Params

    with pytest.raises(ValidationError, match="judge: behaviour applies"):
        Params.model_validate({**BASE, "part": "scratch", "judge": "behaviour"})
    assert Params.model_validate({**BASE, "part": "head_only"}).targets() == [
        "build_model", "replace_head", "freeze_backbone", "make_optimizer", "train"]


# --- shared steps ------------------------------------------------------------------------------------------------

def context(check_id: str, shared: dict[str, Any]) -> ProbeContext:
    return ProbeContext(check_id=check_id, namespace={}, interface={}, params=None, budget=None, seed=0, device="cpu",
                        data_dir=Path("."), shared=shared)


def test_shared_step_runs_once_and_remembers_failures() -> None:
    shared: dict[str, Any] = {}
    calls = []
    assert shared_step(context("a", shared), "pretraining", lambda: calls.append(1) or 42) == 42
    assert shared_step(context("b", shared), "pretraining", lambda: calls.append(1) or 0) == 42
    assert calls == [1]

    def broken() -> None:
        raise ValueError("bad shapes")

    with pytest.raises(ValueError):
        shared_step(context("a", shared), "run", broken)
    with pytest.raises(StepFailed, match="run failed in check 'a': ValueError: bad shapes"):
        shared_step(context("b", shared), "run", lambda: 1)


def test_shared_step_remembers_a_timeout() -> None:
    from grader.runner.timer import TimeLimitExceeded

    shared: dict[str, Any] = {}

    def slow() -> None:
        raise TimeLimitExceeded()

    with pytest.raises(TimeLimitExceeded):
        shared_step(context("a", shared), "run", slow)
    with pytest.raises(StepFailed, match="did not finish within the time limit of check 'a'"):
        shared_step(context("b", shared), "run", lambda: 1)


# --- panels --------------------------------------------------------------------------------------------------------

def check(cid: str, status: str = "pass", **details: Any) -> CheckResult:
    return CheckResult(id=cid, title=cid, kind="transfer", visibility="public", status=status, points=1, max_points=1,
                       message="", details=details)


def test_panels_gather_series_and_rows() -> None:
    panels = [Panel(title="curves", kind="line_chart", source="history", checks={"a": "A", "b": "B", "c": "C"}),
              Panel(title="acc", kind="table", source="row", checks={"a": "A", "b": "B"}, columns={"acc": "accuracy"})]
    checks = [check("a", history=[1.0, 0.5], row={"acc": 0.9}), check("b", history="junk", row=[1]),
              check("c", status="skipped", history=[1.0])]
    curves, table = build_panels(panels, checks)
    assert [s["name"] for s in curves["series"]] == ["A"]
    assert table["rows"] == [["A", 0.9]] and table["columns"] == ["", "accuracy"]
    assert build_panels(panels, [check("b")]) == []


def test_spec_panel_must_name_known_checks(tmp_path: Path) -> None:
    import yaml

    from grader.errors import SpecError
    from grader.spec import load_spec

    from .conftest import REPO

    raw = yaml.safe_load((REPO / "assignments" / "fashion_transfer" / "spec.yaml").read_text())
    raw["report"][0]["checks"]["nope"] = "N"
    raw["x-anything"] = {"ignored": True}
    target = tmp_path / "assignments" / "fashion_transfer" / "spec.yaml"
    target.parent.mkdir(parents=True)
    target.write_text(yaml.safe_dump(raw))
    with pytest.raises(SpecError, match=r"report\[0\]\.checks: 'nope' is not a check id"):
        load_spec(target, root=REPO)
