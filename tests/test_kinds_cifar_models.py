"""The model-level kinds of the CIFAR-10 assignments, in-process: a probe calls plain models, the trusted side judges.

Covers ``modes`` (dropout / batch norm in train and eval mode), ``transforms``, ``optimizer``,
``inception_branches`` and the structural predicates of ``architecture`` (grader/checks/structure.py).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import torch
import torch.nn.functional as F
import torchvision
from torch import nn
from torchvision import transforms

from grader.checks import get_kind
from grader.checks.base import Observation, ProbeContext, Verdict

from .test_scoring_units import context


def judge(kind: str, params: dict[str, Any], namespace: dict[str, Any], tmp_path: Path, reference: Observation | None = None,
          hint: str = "the hint") -> Verdict:
    """Probe like a run does, round-trip the observation through JSON (as it crosses the boundary), score."""
    module = get_kind(kind)
    ctx = ProbeContext(check_id="c", namespace=namespace, interface={}, params=module.Params.model_validate(params),
                       budget=module.Budget(), seed=0, device="cpu", data_dir=tmp_path)
    seen = module.probe(ctx)
    student = Observation(data=json.loads(json.dumps(seen.data)), arrays=dict(seen.arrays))
    return module.score(context(kind, params, student, reference or Observation(), hint=hint))


# --- modes ----------------------------------------------------------------------------------------------------

class Net(nn.Module):
    """A small CNN with optional dropout before the classifier and optional batch norm."""

    def __init__(self, dropout: float = 0.0, batchnorm: bool = False, functional_dropout: bool = False) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3, padding=1)
        self.norm = nn.BatchNorm2d(8) if batchnorm else nn.Identity()
        self.drop = nn.Dropout(dropout) if dropout and not functional_dropout else nn.Identity()
        self.p, self.functional = dropout, functional_dropout
        self.fc = nn.Linear(8 * 8 * 8, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = F.max_pool2d(F.relu(self.norm(self.conv(x))), 4).flatten(1)
        h = F.dropout(h, self.p) if self.functional else self.drop(h)  # F.dropout's training=True by default
        return self.fc(h)


def modes(behaviour: str, factory: Any, tmp_path: Path, **extra: Any) -> Verdict:
    params = {"target": "build", "input": [6, 3, 32, 32], "behaviour": behaviour, **extra}
    return judge("modes", params, {"build": factory}, tmp_path)


def test_dropout_before_the_last_linear_layer_passes(tmp_path: Path) -> None:
    verdict = modes("dropout", lambda: Net(0.5), tmp_path, dropout_p=0.5, before_last_linear=True)
    assert verdict.passed, verdict.message


def test_dropout_with_another_p_or_elsewhere_fails_those_bars(tmp_path: Path) -> None:
    verdict = modes("dropout", lambda: Net(0.2), tmp_path, dropout_p=0.5, before_last_linear=True)
    assert verdict.fraction == pytest.approx(0.5) and "p=0.2" in verdict.message

    class Early(Net):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.fc(F.max_pool2d(F.relu(self.conv(self.drop(x))), 4).flatten(1))

    verdict = modes("dropout", lambda: Early(0.5), tmp_path, dropout_p=0.5, before_last_linear=True)
    assert verdict.fraction == pytest.approx(0.75) and "right before the last linear layer ran conv" in verdict.message


def test_functional_dropout_stays_on_in_eval_mode(tmp_path: Path) -> None:
    verdict = modes("dropout", lambda: Net(0.5, functional_dropout=True), tmp_path, dropout_p=0.5)
    assert not verdict.passed
    assert "NOT met: eval mode: two passes differ" in verdict.message
    assert "NOT met: dropout layers that ran: none" in verdict.message


def test_deterministic_without_dropout(tmp_path: Path) -> None:
    assert modes("deterministic", lambda: Net(0.0, batchnorm=True), tmp_path).passed
    verdict = modes("deterministic", lambda: Net(0.3), tmp_path)
    assert not verdict.passed and "active dropout layers: drop (p=0.3)" in verdict.message


def test_batchnorm_train_and_eval_behaviour(tmp_path: Path) -> None:
    assert modes("batchnorm", lambda: Net(0.5, batchnorm=True), tmp_path).passed  # dropout cannot pass for BN
    verdict = modes("batchnorm", lambda: Net(0.5, functional_dropout=True), tmp_path)
    assert verdict.fraction == pytest.approx(1 / 3), verdict.message  # no BN: nothing depends on the batch

    class AlwaysBatchStats(Net):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            h = F.batch_norm(self.conv(x), None, None, training=True)  # batch statistics even in eval mode
            return self.fc(F.max_pool2d(F.relu(self.norm(h)), 4).flatten(1))

    verdict = modes("batchnorm", lambda: AlwaysBatchStats(batchnorm=True), tmp_path)
    assert "NOT met: eval mode: an example's output depends" in verdict.message


# --- transforms -----------------------------------------------------------------------------------------------

NORMALIZE = transforms.Normalize((0.5, 0.5, 0.5), (0.25, 0.25, 0.25))
AUGMENT = transforms.Compose([transforms.RandomCrop(32, padding=4), transforms.RandomHorizontalFlip(),
                              transforms.ToTensor(), NORMALIZE])
PLAIN = transforms.Compose([transforms.ToTensor(), NORMALIZE])


@pytest.mark.parametrize(("expect", "transform", "passes"), [
    ("random", AUGMENT, True), ("random", PLAIN, False), ("deterministic", PLAIN, True), ("deterministic", AUGMENT, False),
])
def test_transform_behaviour(tmp_path: Path, expect: str, transform: Any, passes: bool) -> None:
    verdict = judge("transforms", {"target": "make", "expect": expect}, {"make": lambda: transform}, tmp_path)
    assert verdict.passed is passes, verdict.message
    if not passes:
        assert verdict.fraction == pytest.approx(0.5)  # the outputs themselves are right


@pytest.mark.parametrize(("transform", "words"), [
    (transforms.Compose([transforms.RandomHorizontalFlip()]), "not a tensor"),
    (transforms.PILToTensor(), "uint8 tensor"),
    (transforms.Compose([transforms.Resize(16), transforms.ToTensor()]), "shape (3, 16, 16)"),
])
def test_transform_output_problems(tmp_path: Path, transform: Any, words: str) -> None:
    verdict = judge("transforms", {"target": "make", "expect": "deterministic"}, {"make": lambda: transform}, tmp_path)
    assert not verdict.passed and words in verdict.message


def test_transform_that_raises_is_an_error(tmp_path: Path) -> None:
    def broken(image: Any) -> Any:
        raise ValueError("no")

    verdict = judge("transforms", {"target": "make", "expect": "random"}, {"make": lambda: broken}, tmp_path)
    assert verdict.errored and "ValueError" in verdict.message


# --- optimizer ------------------------------------------------------------------------------------------------

def optimizer_verdict(make: Any, tmp_path: Path) -> Verdict:
    params = {"target": "make_optimizer", "models": {"regularized": "reg", "baseline": "base"}}
    return judge("optimizer", params, {"make_optimizer": make, "reg": lambda: Net(0.5, batchnorm=True),
                                       "base": lambda: Net()}, tmp_path)


def test_weight_decay_only_when_regularized(tmp_path: Path) -> None:
    good = optimizer_verdict(lambda m, regularized: torch.optim.SGD(m.parameters(), lr=0.1,
                                                                   weight_decay=5e-4 if regularized else 0.0), tmp_path)
    assert good.passed, good.message
    never = optimizer_verdict(lambda m, regularized: torch.optim.Adam(m.parameters()), tmp_path)
    assert never.fraction == pytest.approx(0.75) and "weights without it" in never.message
    adamw = optimizer_verdict(lambda m, regularized: torch.optim.AdamW(m.parameters()), tmp_path)
    assert adamw.fraction == pytest.approx(0.75) and "AdamW's default" in adamw.message


def test_optimizer_missing_parameters_and_exempt_biases(tmp_path: Path) -> None:
    def split_groups(m: nn.Module, regularized: bool) -> torch.optim.Optimizer:
        weights = [p for p in m.parameters() if p.dim() > 1]
        others = [p for p in m.parameters() if p.dim() <= 1]
        return torch.optim.SGD([{"params": weights, "weight_decay": 1e-4 if regularized else 0.0},
                                {"params": others, "weight_decay": 0.0}], lr=0.1)

    assert optimizer_verdict(split_groups, tmp_path).passed
    partial = optimizer_verdict(lambda m, regularized: torch.optim.SGD(m.fc.parameters(), lr=0.1), tmp_path)
    assert not partial.passed and "missing: conv.weight" in partial.message
    wrong = optimizer_verdict(lambda m, regularized: "sgd", tmp_path)
    assert wrong.errored and "not a torch.optim.Optimizer" in wrong.message


# --- inception_branches ---------------------------------------------------------------------------------------

class Inception(nn.Module):
    def __init__(self, in_channels: int, ch1x1: int, ch3x3_reduce: int, ch3x3: int, ch5x5_reduce: int, ch5x5: int,
                 pool_proj: int, drop_pool: bool = False) -> None:
        super().__init__()
        self.b1 = nn.Conv2d(in_channels, ch1x1, 1)
        self.b3 = nn.Sequential(nn.Conv2d(in_channels, ch3x3_reduce, 1), nn.ReLU(), nn.Conv2d(ch3x3_reduce, ch3x3, 3, padding=1))
        self.b5 = nn.Sequential(nn.Conv2d(in_channels, ch5x5_reduce, 1), nn.ReLU(), nn.Conv2d(ch5x5_reduce, ch5x5, 5, padding=2))
        self.bp = nn.Sequential(nn.MaxPool2d(3, 1, 1), nn.Conv2d(in_channels, pool_proj, 1))
        self.drop_pool = drop_pool

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        outs = [self.b1(x), self.b3(x), self.b5(x)] + ([] if self.drop_pool else [self.bp(x)])
        return torch.cat(outs, 1)


def test_every_branch_contributes(tmp_path: Path) -> None:
    verdict = judge("inception_branches", {"target": "M"}, {"M": Inception}, tmp_path)
    assert verdict.passed, verdict.message


def test_a_branch_left_out_of_the_concatenation(tmp_path: Path) -> None:
    verdict = judge("inception_branches", {"target": "M"}, {"M": lambda *a, **k: Inception(*a, **k, drop_pool=True)},
                    tmp_path)
    assert verdict.fraction == pytest.approx(0.75)
    assert "the pool branch (bp.1) does not reach the output" in verdict.message


def test_a_module_that_raises_is_an_error(tmp_path: Path) -> None:
    def broken(*args: Any, **kwargs: Any) -> nn.Module:
        raise RuntimeError("Sizes of tensors must match")

    verdict = judge("inception_branches", {"target": "M"}, {"M": broken}, tmp_path)
    assert verdict.errored and verdict.fraction == 0


# --- architecture: structural predicates ----------------------------------------------------------------------

def resnet(stem: str = "imagenet", dropout: float = 0.0, blocks: tuple[int, ...] = (3, 4, 6, 3)) -> nn.Module:
    model = torchvision.models.resnet.ResNet(torchvision.models.resnet.Bottleneck, list(blocks), num_classes=10)
    if stem == "cifar":
        model.conv1, model.maxpool = nn.Conv2d(3, 64, 3, 1, 1, bias=False), nn.Identity()
    if dropout:
        model.fc = nn.Sequential(nn.Dropout(dropout), nn.Linear(2048, 10))
    return model


def architecture(predicate: str, factory: Any, tmp_path: Path, **extra: Any) -> Verdict:
    params = {"target": "build", "input": [2, 3, 32, 32], "predicate": predicate, **extra}
    return judge("architecture", params, {"build": factory}, tmp_path)


@pytest.mark.parametrize("stem", ["imagenet", "cifar"])
def test_resnet50_structure_and_count_with_either_stem(tmp_path: Path, stem: str) -> None:
    stages = architecture("bottleneck_stages", lambda: resnet(stem), tmp_path, expected_stages=[3, 4, 6, 3])
    assert stages.passed, stages.message
    assert ("ImageNet stem" if stem == "imagenet" else "CIFAR stem") in stages.message
    count = architecture("resnet50_parameter_count", lambda: resnet(stem, dropout=0.5), tmp_path)
    assert count.passed, count.message
    assert count.details["parameters"] == (23_528_522 if stem == "imagenet" else 23_520_842)


def test_resnet_with_other_depth_fails_structure_and_count(tmp_path: Path) -> None:
    stages = architecture("bottleneck_stages", lambda: resnet(blocks=(3, 4, 23, 3)), tmp_path, expected_stages=[3, 4, 6, 3])
    assert not stages.passed and "3 x 256 + 4 x 512 + 23 x 1024 + 3 x 2048" in stages.message
    count = architecture("resnet50_parameter_count", lambda: resnet(blocks=(3, 4, 23, 3)), tmp_path)
    assert not count.passed and "difference" in count.message
    basic = architecture("bottleneck_stages", lambda: torchvision.models.resnet18(num_classes=10), tmp_path,
                         expected_stages=[3, 4, 6, 3])
    assert not basic.passed and "Found 0 bottleneck blocks" in basic.message


def test_first_conv_gradient(tmp_path: Path) -> None:
    assert architecture("first_conv_gradient", lambda: resnet(), tmp_path).passed

    class Detached(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.conv1, self.conv2, self.fc = nn.Conv2d(3, 4, 3), nn.Conv2d(4, 4, 3), nn.Linear(4, 10)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            h = self.conv1(x).detach()  # the gradient never reaches conv1
            return self.fc(self.conv2(h).mean((2, 3)))

    verdict = architecture("first_conv_gradient", Detached, tmp_path)
    assert not verdict.passed and "The first convolution (conv1)" in verdict.message


def test_layer_types_and_uses_class(tmp_path: Path) -> None:
    required = [["Dropout", "Dropout2d"], ["BatchNorm2d"]]
    assert architecture("layer_types", lambda: Net(0.5, batchnorm=True), tmp_path, required_layers=required,
                        expected_output=[2, 10]).passed
    missing = architecture("layer_types", lambda: Net(0.5, functional_dropout=True), tmp_path, required_layers=required)
    assert "no Dropout / Dropout2d layer ran" in missing.message and "no BatchNorm2d layer ran" in missing.message
    forbidden = architecture("layer_types", lambda: Net(0.5, batchnorm=True), tmp_path, forbidden_layers=["Dropout"])
    assert not forbidden.passed and "drop is a Dropout layer" in forbidden.message

    class Wrapper(nn.Module):
        def __init__(self, use: bool) -> None:
            super().__init__()
            self.block, self.use = Inception(3, 4, 4, 4, 4, 4, 4), use
            self.fc = nn.Linear(3, 10)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.fc(x.mean((2, 3)) if not self.use else self.block(x).mean((2, 3))[:, :3])

    ns = {"build": lambda: Wrapper(True), "Inception": Inception}
    params = {"target": "build", "input": [2, 3, 8, 8], "predicate": "uses_class", "classes": ["Inception"]}
    assert judge("architecture", params, ns, tmp_path).passed
    unused = judge("architecture", params, {**ns, "build": lambda: Wrapper(False)}, tmp_path)
    assert not unused.passed and "block exist but never ran" in unused.message
