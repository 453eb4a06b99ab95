"""Registry of check kinds. Each kind is one module here; adding a kind is adding a module and a line.

Modules are imported lazily, and none imports torch at module level, so validating a spec or scoring
stays fast in the trusted process.
"""

from __future__ import annotations

import importlib
from types import ModuleType
from typing import Any

from pydantic import ValidationError

KINDS: dict[str, str] = {
    "shape": "grader.checks.shape",
    "param_count": "grader.checks.param_count",
    "forward_equivalence": "grader.checks.forward_equivalence",
    "gradient_equivalence": "grader.checks.gradient_equivalence",
    "gradcheck": "grader.checks.gradcheck",
    "architecture": "grader.checks.architecture",
    "training": "grader.checks.training",
    "call_equivalence": "grader.checks.call_equivalence",
    "numeric_answers": "grader.checks.numeric_answers",
    "reconstruction": "grader.checks.reconstruction",
    "transfer": "grader.checks.transfer",
    "modes": "grader.checks.modes",
    "transforms": "grader.checks.transforms",
    "optimizer": "grader.checks.optimizer",
    "student_training": "grader.checks.student_training",
    "overfitting": "grader.checks.overfitting",
    "inception_branches": "grader.checks.inception_branches",
    "subset": "grader.checks.subset",
    "metrics_function": "grader.checks.metrics_function",
    "manual": "grader.checks.manual",
}


def get_kind(kind: str) -> ModuleType:
    """The module implementing check kind ``kind``."""
    if kind not in KINDS:
        raise KeyError(kind)
    return importlib.import_module(KINDS[kind])


def parse_check_models(check: Any, profile: str) -> tuple[Any, Any, Any]:
    """Validated ``(params, budget, thresholds)`` of a spec check for one profile."""
    module = get_kind(check.kind)
    return (
        module.Params.model_validate(check.params),
        module.Budget.model_validate(check.budgets.get(profile, {})),
        module.Thresholds.model_validate(check.thresholds.get(profile, {})),
    )


def validate_check(check: Any, where: str, interface: set[str], datasets: set[str]) -> list[str]:
    """Problems with one check's kind-specific parts, as ``key: problem (fix)`` lines."""
    from grader.spec import validation_problems

    if check.kind not in KINDS:
        return [f"{where}.kind: unknown check kind {check.kind!r} (use one of: {', '.join(sorted(KINDS))})"]
    module = get_kind(check.kind)
    problems: list[str] = []
    try:
        params = module.Params.model_validate(check.params)
    except ValidationError as exc:
        return validation_problems(exc, f"{where}.params", module.Params)
    for section, model in (("budgets", module.Budget), ("thresholds", module.Thresholds)):
        for profile, values in getattr(check, section).items():
            try:
                model.model_validate(values)
            except ValidationError as exc:
                problems += validation_problems(exc, f"{where}.{section}.{profile}", model)
    for name in getattr(params, "targets", lambda: [])():
        if name not in interface:
            problems.append(
                f"{where}.params: names {name!r}, which the spec's interface does not declare "
                f"(add it under 'interface' or fix the name)"
            )
    for key in ("dataset", "source_dataset", "target_dataset"):
        dataset = getattr(params, key, None)
        if dataset is not None and dataset not in datasets:
            problems.append(f"{where}.params.{key}: {dataset!r} is not declared under 'datasets' (declare it)")
    return problems
