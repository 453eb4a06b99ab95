"""A submission that hunts for the hidden evaluation labels finds none, and is still scored correctly.

The hunter is a correct conv1x1 submission (Bob's) with a search appended: it reads every file under its
data root, its working directory, its temp dir and the batch workspace above them, its own and its parent's
``/proc`` entries (environment, command line, working directory, open files) and every visible process's
environment. It looks for the first evaluation labels (embedded by this test, in every plausible
encoding) and for raw test-label files, and prints what it found. As a control it must find the training
labels, which the sandbox is meant to see.
"""

from __future__ import annotations

import json
from pathlib import Path

import nbformat
import numpy as np
import pytest

from grader.data import prepare_all
from grader.pipeline import Batch
from grader.results import SubmissionResult
from grader.spec import load_spec

from .conftest import REPO

pytestmark = pytest.mark.slow

HUNTER = r'''

# ---- everything below hunts for the hidden evaluation labels ----
import json as _json
import os as _os
import zipfile as _zipfile

_EVAL = [bytes.fromhex(h) for h in {eval_patterns!r}]
_TRAIN = [bytes.fromhex(h) for h in {train_patterns!r}]
_RAW_NAMES = ("t10k-labels-idx1-ubyte", "test_batch")
_SECRETS = {secrets!r}  # the host's data root and the grader's own settings
_found = {{"files": 0, "bytes": 0, "eval_hits": [], "train_hits": [], "raw_label_files": [], "roots": []}}


def _scan(where, blob):
    _found["files"] += 1
    _found["bytes"] += len(blob)
    if any(p in blob for p in _EVAL):
        _found["eval_hits"].append(where)
    if any(p in blob for p in _TRAIN):
        _found["train_hits"].append(where)


def _read(path):
    if _os.path.basename(path).startswith(_RAW_NAMES):
        _found["raw_label_files"].append(path)
    try:
        with open(path, "rb") as handle:
            blob = handle.read(512 << 20)
    except OSError:
        return
    _scan(path, blob)
    if blob[:2] == b"PK":  # .npz archives: look inside each member too
        try:
            with _zipfile.ZipFile(path) as archive:
                for member in archive.namelist():
                    _scan(path + "::" + member, archive.read(member))
        except Exception:
            pass


def _walk(top):
    if not top or not _os.path.isdir(top):
        return
    _found["roots"].append(top)
    for folder, _dirs, files in _os.walk(top):
        for name in files:
            _read(_os.path.join(folder, name))


_data_root = _os.environ.get("DATA_ROOT", "")
for _top in (_data_root, _os.getcwd(), _os.environ.get("TMPDIR"), _os.environ.get("HOME"),
             _os.path.dirname(_data_root.rstrip("/"))):  # the batch workspace: other runs, the grader link
    _walk(_top)
_proc_leaks = []
for _pid in sorted({{"self", str(_os.getppid()), "1"}} | {{p for p in _os.listdir("/proc") if p.isdigit()}}):
    for _entry in ("environ", "cmdline"):
        try:
            with open(f"/proc/{{_pid}}/{{_entry}}", "rb") as _h:
                _blob = _h.read()
        except OSError:
            continue
        _scan(f"/proc/{{_pid}}/{{_entry}}", _blob)
        if any(_s.encode() in _blob for _s in _SECRETS):
            _proc_leaks.append(f"{{_pid}}/{{_entry}}")
    for _fd in (_os.listdir(f"/proc/{{_pid}}/fd") if _os.access(f"/proc/{{_pid}}/fd", _os.R_OK) else []):
        _target = _os.path.realpath(f"/proc/{{_pid}}/fd/{{_fd}}")
        if _os.path.isfile(_target):
            _read(_target)
    try:
        _walk(_os.path.realpath(f"/proc/{{_pid}}/cwd"))
    except OSError:
        pass
_found["proc_leaks"] = _proc_leaks
_found["roots"] = sorted(set(_found["roots"]))
_found["train_hits"] = sorted(set(_found["train_hits"]))
print("HUNTER " + _json.dumps(_found))
'''


def encodings(labels: np.ndarray) -> list[str]:
    """The labels as raw bytes of every common dtype and as text, hex-encoded for embedding."""
    raw = [labels.astype(dtype).tobytes() for dtype in ("u1", "<i2", "<i4", "<i8", ">i4", "<f4", "<f8")]
    text = [sep.join(map(str, labels.tolist())).encode() for sep in (", ", ",", " ", "\n")]
    return [blob.hex() for blob in raw + text]


def hunter_source(eval_labels: list[np.ndarray], train_labels: np.ndarray, secrets: list[str]) -> str:
    body = (REPO / "submissions" / "conv1x1" / "bob_einsum.py").read_text()
    patterns = [p for labels in eval_labels for p in encodings(labels)]
    return body + HUNTER.format(eval_patterns=patterns, train_patterns=encodings(train_labels), secrets=secrets)


def report_of(result: SubmissionResult) -> dict:
    """The hunter's findings, from a module's output or from the notebook cell that printed them."""
    stdout = result.logs.get("stdout", "") + "".join(c.stdout for c in (result.load.cells if result.load else []))
    lines = [line for line in stdout.splitlines() if line.startswith("HUNTER ")]
    assert lines, f"the hunter printed nothing: {stdout[-2000:]}"
    return json.loads(lines[-1][len("HUNTER "):])


@pytest.fixture(scope="module")
def hunted(tmp_path_factory: pytest.TempPathFactory, fast_conv1x1: Path, fixture_data_root: Path) -> dict:
    loaded = load_spec(fast_conv1x1 / "conv1x1" / "spec.yaml", root=REPO)
    # What the batch will prepare: same spec, same data, same seed, hence the same split and labels.
    prepared = prepare_all(loaded.spec.datasets, tmp_path_factory.mktemp("peek"), fixture_data_root)["cifar"]
    eval_y = prepared.truth["eval_y"]
    in_source_order = eval_y[np.argsort(prepared.splits.eval)]  # as the raw test-label file holds them
    source = hunter_source([eval_y[:32], in_source_order[:32]], np.load(prepared.folder / "train_y.npy")[:32],
                           [str(fixture_data_root), "DLGRADER_DATA", "DLGRADER_CACHE"])
    folder = tmp_path_factory.mktemp("hunters")
    (folder / "hunter_module.py").write_text(source)
    head, _, tail = source.partition("# ---- everything below hunts")
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(head),
                                               nbformat.v4.new_code_cell("# ---- everything below hunts" + tail)])
    nbformat.write(notebook, folder / "hunter_notebook.ipynb")
    from grader.submissions import discover

    with Batch(loaded, "check") as batch:
        results = batch.grade(discover([folder]), tmp_path_factory.mktemp("hunt-reports"))
    return {"results": {r.student: r for r in results}, "root": fixture_data_root}


@pytest.mark.parametrize("student", ["hunter_module", "hunter_notebook"])
def test_hunter_finds_no_evaluation_labels(hunted: dict, student: str) -> None:
    result = hunted["results"][student]
    found = report_of(result)
    assert found["files"] > 5 and found["roots"], found["roots"]
    assert any("train_y.npy" in hit for hit in found["train_hits"]), "control: the training labels must be visible"
    assert found["eval_hits"] == [], f"evaluation labels readable at {found['eval_hits']}"
    assert found["raw_label_files"] == []
    assert found["proc_leaks"] == [], "the data root or the grader's settings are visible in /proc/" + ", ".join(
        found["proc_leaks"])


@pytest.mark.parametrize("student", ["hunter_module", "hunter_notebook"])
def test_hunter_is_still_scored_from_its_predictions(hunted: dict, student: str) -> None:
    result = hunted["results"][student]
    learns = next(c for c in result.checks if c.id == "model_learns")
    assert learns.status == "pass", learns.message
    assert result.score == result.max_score, [(c.id, c.status, c.message) for c in result.checks if c.status != "pass"]
    assert result.datasets["cifar"]["split"]["indices_sha256"]
