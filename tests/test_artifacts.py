"""Reading back a sandboxed run's files: every byte is untrusted, nothing malformed escapes as a crash."""

from __future__ import annotations

import io
import json
import tracemalloc
import zipfile
from pathlib import Path

import numpy as np
import pytest

import grader.artifacts as artifacts
from grader.artifacts import ArtifactError, read_artifacts, read_json, read_npz, sanitize_load
from grader.results import CellResult, LoadResult


def npy_bytes(array: np.ndarray, allow_pickle: bool = False) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=allow_pickle)
    return buffer.getvalue()


def forged_npy(shape: tuple[int, ...], descr: str = "<f4", data: bytes = b"\0" * 64) -> bytes:
    """An .npy member whose header claims ``shape`` but which holds only ``data`` (the writer adds the magic)."""
    buffer = io.BytesIO()
    np.lib.format.write_array_header_1_0(buffer, {"descr": descr, "fortran_order": False, "shape": shape})
    buffer.write(data)
    return buffer.getvalue()


def write_zip(path: Path, members: dict[str, bytes], compression: int = zipfile.ZIP_STORED) -> Path:
    with zipfile.ZipFile(path, "w", compression=compression) as archive:
        for name, payload in members.items():
            archive.writestr(name, payload)
    return path


# --- read_npz -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("compressed", [False, True])
def test_npz_round_trip(tmp_path: Path, compressed: bool) -> None:
    arrays = {
        "y": np.arange(24, dtype=np.float32).reshape(2, 3, 4),
        "counts": np.array([1, 2, 3], dtype=np.int64),
        "mask": np.array([True, False]),
        "small": np.uint8(7) * np.ones((2, 2), dtype=np.uint8),
        "scalar": np.float64(3.5),
    }
    path = tmp_path / "a.npz"
    (np.savez_compressed if compressed else np.savez)(path, **arrays)
    loaded = read_npz(path)
    assert set(loaded) == set(arrays)
    for key, value in arrays.items():
        np.testing.assert_array_equal(loaded[key], value)
        assert loaded[key].dtype == np.asarray(value).dtype


def test_npz_with_nan_loads(tmp_path: Path) -> None:
    """NaN and infinity are data: judging them is the scorer's job."""
    values = np.array([[np.nan, 1.0], [np.inf, -np.inf]])
    np.savez(tmp_path / "a.npz", y=values)
    np.testing.assert_array_equal(read_npz(tmp_path / "a.npz")["y"], values)


def test_empty_npz(tmp_path: Path) -> None:
    assert read_npz(write_zip(tmp_path / "a.npz", {})) == {}


def test_npz_header_claiming_huge_shape_is_refused_without_allocating(tmp_path: Path) -> None:
    path = write_zip(tmp_path / "a.npz", {"y.npy": forged_npy((50_000, 50_000))})  # 10 GB of float32 claimed
    assert path.stat().st_size < 1000
    tracemalloc.start()
    try:
        with pytest.raises(ArtifactError, match="claims shape"):
            read_npz(path)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 16 * 2**20


def test_npz_header_claiming_more_than_stored_is_refused(tmp_path: Path) -> None:
    """Below the per-array cap, but more bytes than the member holds: refused from the header alone."""
    path = write_zip(tmp_path / "a.npz", {"y.npy": forged_npy((1000, 1000), "<f8", b"\0" * 16)})
    with pytest.raises(ArtifactError, match="cannot hold"):
        read_npz(path)


def test_npz_member_over_array_cap(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(artifacts, "MAX_ARRAY_BYTES", 1000)
    np.savez(tmp_path / "a.npz", y=np.zeros(1000))
    with pytest.raises(ArtifactError, match="too large|claims shape"):
        read_npz(tmp_path / "a.npz")


def test_npz_file_over_cap(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(artifacts, "MAX_NPZ_BYTES", 100)
    np.savez(tmp_path / "a.npz", y=np.zeros(100))
    with pytest.raises(ArtifactError, match="larger than"):
        read_npz(tmp_path / "a.npz")


def test_npz_total_decompressed_size_is_bounded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(artifacts, "MAX_ARRAY_BYTES", 10_000)
    monkeypatch.setattr(artifacts, "MAX_NPZ_BYTES", 20_000)
    members = {f"m{i}.npy": npy_bytes(np.zeros(1000)) for i in range(20)}  # 20 x 8 kB of zeros, deflated
    path = write_zip(tmp_path / "a.npz", members, zipfile.ZIP_DEFLATED)
    assert path.stat().st_size < 20_000
    with pytest.raises(ArtifactError, match="unpacks to more than"):
        read_npz(path)  # 160 kB would be allocated from a file under the 20 kB cap


def test_npz_total_at_the_cap_loads(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The total bound counts claimed array bytes: members that together fit are all loaded."""
    monkeypatch.setattr(artifacts, "MAX_ARRAY_BYTES", 10_000)
    monkeypatch.setattr(artifacts, "MAX_NPZ_BYTES", 20_000)
    members = {f"m{i}.npy": npy_bytes(np.zeros(1000)) for i in range(2)}  # 2 x 8000 bytes of data
    loaded = read_npz(write_zip(tmp_path / "a.npz", members, zipfile.ZIP_DEFLATED))
    assert sorted(loaded) == ["m0", "m1"]


@pytest.mark.parametrize("name", ["../../evil.npy", "/abs.npy", "sub/dir.npy", "y.txt", "y", "a b.npy", "é.npy"])
def test_npz_member_names_are_vetted(tmp_path: Path, name: str) -> None:
    path = write_zip(tmp_path / "a.npz", {name: npy_bytes(np.zeros(3))})
    with pytest.raises(ArtifactError, match="member name"):
        read_npz(path)
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["a.npz"]  # nothing was extracted anywhere


def test_npz_object_dtype_is_refused(tmp_path: Path) -> None:
    payload = npy_bytes(np.array([{"a": 1}, "text"], dtype=object), allow_pickle=True)
    path = write_zip(tmp_path / "a.npz", {"obj.npy": payload})
    with pytest.raises(ArtifactError, match="not a plain number type"):
        read_npz(path)


@pytest.mark.parametrize(
    "array",
    [np.array(["abc"]), np.array([1 + 2j]), np.zeros(2, dtype=[("a", "<f4"), ("b", "<i4")]),
     np.array(["2020-01-01"], dtype="datetime64[D]")],
    ids=["str", "complex", "structured", "datetime"],
)
def test_npz_non_numeric_dtypes_are_refused(tmp_path: Path, array: np.ndarray) -> None:
    path = write_zip(tmp_path / "a.npz", {"x.npy": npy_bytes(array)})
    with pytest.raises(ArtifactError, match="not a plain number type"):
        read_npz(path)


@pytest.mark.parametrize(
    "payload",
    [b"this is not a zip file", b"PK\x03\x04 truncated", b""],
    ids=["text", "truncated-zip", "empty"],
)
def test_non_zip_is_refused(tmp_path: Path, payload: bytes) -> None:
    path = tmp_path / "a.npz"
    path.write_bytes(payload)
    with pytest.raises(ArtifactError, match="not a valid .npz"):
        read_npz(path)


def test_member_that_is_not_npy(tmp_path: Path) -> None:
    path = write_zip(tmp_path / "a.npz", {"y.npy": b"definitely not an npy header"})
    with pytest.raises(ArtifactError, match="not a valid .npz"):
        read_npz(path)


def test_npz_symlink_is_refused(tmp_path: Path) -> None:
    np.savez(tmp_path / "real.npz", y=np.zeros(2))
    (tmp_path / "link.npz").symlink_to(tmp_path / "real.npz")
    with pytest.raises(ArtifactError, match="not a regular file"):
        read_npz(tmp_path / "link.npz")


def test_npz_missing(tmp_path: Path) -> None:
    with pytest.raises(ArtifactError, match="missing"):
        read_npz(tmp_path / "absent.npz")


# --- read_json ------------------------------------------------------------------------------------------


def test_read_json(tmp_path: Path) -> None:
    path = tmp_path / "a.json"
    path.write_text(json.dumps({"status": "ok", "data": [1, 2.5, None]}))
    assert read_json(path) == {"status": "ok", "data": [1, 2.5, None]}


def test_oversized_json(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(artifacts, "MAX_JSON_BYTES", 64)
    path = tmp_path / "a.json"
    path.write_text(json.dumps({"padding": "x" * 100}))
    with pytest.raises(ArtifactError, match="larger than"):
        read_json(path)


def test_json_symlink_is_refused(tmp_path: Path) -> None:
    target = tmp_path / "secret.json"
    target.write_text('{"status": "ok"}')
    (tmp_path / "a.json").symlink_to(target)
    with pytest.raises(ArtifactError, match="not a regular file"):
        read_json(tmp_path / "a.json")


def test_json_directory_is_refused(tmp_path: Path) -> None:
    (tmp_path / "a.json").mkdir()
    with pytest.raises(ArtifactError, match="not a regular file"):
        read_json(tmp_path / "a.json")


@pytest.mark.parametrize("payload", [b"{not json", b"\xff\xfe\x00garbage", b""], ids=["syntax", "not-utf8", "empty"])
def test_invalid_json(tmp_path: Path, payload: bytes) -> None:
    path = tmp_path / "a.json"
    path.write_bytes(payload)
    with pytest.raises(ArtifactError, match="not valid JSON"):
        read_json(path)


def test_deeply_nested_json_is_an_artifact_error(tmp_path: Path) -> None:
    path = tmp_path / "a.json"
    path.write_text("[" * 200_000)
    with pytest.raises(ArtifactError, match="not valid JSON") as info:
        read_json(path)
    assert len(str(info.value)) < 300


# --- read_artifacts -------------------------------------------------------------------------------------


def write_json(path: Path, value: object) -> None:
    path.write_text(json.dumps(value))


@pytest.fixture
def run_out(tmp_path: Path) -> Path:
    """An ``out`` folder as a run leaves it: some good records, some malformed, one check never reached."""
    out = tmp_path / "out"
    out.mkdir()
    write_json(out / "runner.json", {"finished": True, "load": {"status": "ok"}})
    write_json(out / "environment.json", ["not", "a", "dict"])
    write_json(out / "good.json", {"status": "ok", "message": "", "data": {"cases": [{"shape": [1, 2]}]},
                                   "duration_s": 0.5, "extra_field": "ignored"})
    np.savez(out / "good.npz", y=np.ones((2, 2)))
    write_json(out / "no_arrays.json", {"status": "missing", "message": "`f` is not defined"})
    write_json(out / "bad_status.json", {"status": "passed", "data": {}})
    write_json(out / "not_dict.json", ["status", "ok"])
    write_json(out / "bad_data.json", {"status": "ok", "data": "garbage"})
    (out / "bad_json.json").write_text("{oops")
    write_json(out / "bad_npz.json", {"status": "ok"})
    write_zip(out / "bad_npz.npz", {"../../evil.npy": npy_bytes(np.zeros(1))})
    (out / "progress.jsonl").write_bytes(
        b'{"event": "start", "check": "good"}\n'
        b'{"event": "end", "check": "good"}\n'
        b"not json at all\n"
        b"\xff\xfe binary garbage\n"
        b'["a", "list"]\n'
        b'"a string"\n'
        b"\n"
        b'{"event": "start", "check": "missing_check"}\n'
        b'{"event": "start", "check": "truncated'
    )
    return out


CHECK_IDS = ["good", "no_arrays", "bad_status", "not_dict", "bad_data", "bad_json", "bad_npz", "missing_check"]


def test_read_artifacts_good_records(run_out: Path) -> None:
    result = read_artifacts(run_out, CHECK_IDS)
    assert list(result.checks) == CHECK_IDS
    assert result.finished is True
    assert result.load == LoadResult(status="ok")
    assert result.environment == {}  # not a dict: dropped, not an error
    good = result.checks["good"]
    assert good.problem == ""
    assert good.record is not None and good.record.status == "ok" and good.record.duration_s == 0.5
    assert good.observation is not None
    assert good.observation.data == {"cases": [{"shape": [1, 2]}]}
    np.testing.assert_array_equal(good.observation.arrays["y"], np.ones((2, 2)))
    no_arrays = result.checks["no_arrays"]
    assert no_arrays.record is not None and no_arrays.record.status == "missing"
    assert no_arrays.observation is not None and no_arrays.observation.arrays == {}


@pytest.mark.parametrize("check_id", ["bad_status", "not_dict", "bad_data", "bad_json", "bad_npz"])
def test_read_artifacts_malformed_records_become_problems(run_out: Path, check_id: str) -> None:
    artifact = read_artifacts(run_out, CHECK_IDS).checks[check_id]
    assert artifact.record is None
    assert artifact.observation is None
    assert artifact.problem
    assert "\n" not in artifact.problem and len(artifact.problem) <= 500


def test_read_artifacts_missing_check(run_out: Path) -> None:
    artifact = read_artifacts(run_out, CHECK_IDS).checks["missing_check"]
    assert artifact.record is None and artifact.observation is None and artifact.problem == ""


def test_read_artifacts_progress(run_out: Path) -> None:
    assert read_artifacts(run_out, CHECK_IDS).started == ["good", "missing_check"]


def test_read_artifacts_empty_folder(tmp_path: Path) -> None:
    result = read_artifacts(tmp_path, ["a"])
    assert result.finished is False and result.load is None
    assert result.environment == {} and result.started == []
    assert result.checks["a"].record is None and result.checks["a"].problem == ""


def test_read_artifacts_oversized_record(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(artifacts, "MAX_JSON_BYTES", 100)
    write_json(tmp_path / "a.json", {"status": "ok", "message": "x" * 200})
    artifact = read_artifacts(tmp_path, ["a"]).checks["a"]
    assert artifact.record is None and "larger than" in artifact.problem


def test_read_artifacts_symlinked_record(tmp_path: Path) -> None:
    write_json(tmp_path / "elsewhere.json", {"status": "ok"})
    (tmp_path / "a.json").symlink_to(tmp_path / "elsewhere.json")
    artifact = read_artifacts(tmp_path, ["a"]).checks["a"]
    assert artifact.record is None and "not a regular file" in artifact.problem


def test_read_artifacts_overlong_message(tmp_path: Path) -> None:
    write_json(tmp_path / "a.json", {"status": "error", "message": "x" * 20001})
    assert read_artifacts(tmp_path, ["a"]).checks["a"].problem


def test_read_artifacts_problem_says_what_was_wrong(tmp_path: Path) -> None:
    write_json(tmp_path / "a.json", {"status": "passed"})
    problem = read_artifacts(tmp_path, ["a"]).checks["a"].problem
    assert problem.startswith("a.json: status: ")
    assert "(got 'passed')" in problem
    assert "validation error" not in problem


def test_read_artifacts_problem_lists_every_field(tmp_path: Path) -> None:
    write_json(tmp_path / "a.json", {"status": "passed", "data": "garbage", "duration_s": "slow"})
    problem = read_artifacts(tmp_path, ["a"]).checks["a"].problem
    assert problem.startswith("a.json: ")
    fields = [part.split(":", 1)[0] for part in problem.removeprefix("a.json: ").split("; ")]
    assert fields == ["status", "data", "duration_s"]


def test_read_artifacts_problem_shortens_long_input(tmp_path: Path) -> None:
    write_json(tmp_path / "a.json", {"status": "x" * 10_000})
    problem = read_artifacts(tmp_path, ["a"]).checks["a"].problem
    assert problem.startswith("a.json: status: ") and "..." in problem
    assert len(problem) < 300


def test_read_artifacts_survives_deeply_nested_progress_line(tmp_path: Path) -> None:
    (tmp_path / "progress.jsonl").write_text('{"event": "start", "check": "a"}\n' + "[" * 200_000 + "\n")
    assert read_artifacts(tmp_path, ["a"]).started == ["a"]


def test_read_artifacts_deeply_nested_runner_json(tmp_path: Path) -> None:
    (tmp_path / "runner.json").write_text('{"finished": true, "load": ' + "[" * 200_000)
    result = read_artifacts(tmp_path, [])
    assert result.finished is False and result.load is None


@pytest.mark.parametrize(
    ("runner", "finished"),
    [({"finished": True}, True), ({"finished": False}, False), ({"finished": 1}, False), ({"finished": "yes"}, False),
     ({}, False), (["finished", True], False)],
    ids=["true", "false", "one", "string", "absent", "not-a-dict"],
)
def test_read_artifacts_finished_only_when_literally_true(tmp_path: Path, runner: object, finished: bool) -> None:
    write_json(tmp_path / "runner.json", runner)
    assert read_artifacts(tmp_path, []).finished is finished


def test_read_artifacts_sanitises_load(tmp_path: Path) -> None:
    write_json(tmp_path / "runner.json", {"finished": True, "load": {
        "status": "error", "message": "1 cell raised", "duration_s": 2.5, "extra": "ignored",
        "cells": [{"cell": 1, "type": "code", "first_line": "1 / 0", "status": "error", "duration_s": 0.1,
                   "error": {"ename": "ZeroDivisionError", "evalue": "division by zero", "traceback": "tb"}}]}})
    load = read_artifacts(tmp_path, []).load
    assert load == LoadResult(status="error", message="1 cell raised", duration_s=2.5, cells=[
        CellResult(cell=1, type="code", first_line="1 / 0", status="error", duration_s=0.1,
                   error={"ename": "ZeroDivisionError", "evalue": "division by zero", "traceback": "tb"})])


def test_read_artifacts_environment_values_become_bounded_strings(tmp_path: Path) -> None:
    write_json(tmp_path / "environment.json", {"python": "3.12", "cuda": None, "gpus": 2, "nested": {"a": [1]},
                                               "long": "x" * 1000, "k" * 500: "v"})
    env = read_artifacts(tmp_path, []).environment
    assert env["python"] == "3.12" and env["cuda"] == "None" and env["gpus"] == "2"
    assert env["nested"] == "{'a': [1]}"
    assert env["long"] == "x" * 300
    assert env["k" * 100] == "v"
    assert all(isinstance(k, str) and isinstance(v, str) and len(k) <= 100 and len(v) <= 300 for k, v in env.items())


# --- sanitize_load ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("raw", [None, "garbage", 5, ["status", "ok"], True], ids=["none", "str", "int", "list", "bool"])
def test_sanitize_load_not_a_dict(raw: object) -> None:
    assert sanitize_load(raw) is None


def test_sanitize_load_defaults() -> None:
    assert sanitize_load({}) == LoadResult(status="unknown", message="", duration_s=None, cells=[])


@pytest.mark.parametrize("cells", [5, "garbage", {"cell": 1}, None, True], ids=["int", "str", "dict", "none", "bool"])
def test_sanitize_load_cells_not_a_list(cells: object) -> None:
    load = sanitize_load({"status": "ok", "cells": cells})
    assert load is not None and load.cells == []


def test_sanitize_load_drops_cells_that_are_not_dicts() -> None:
    load = sanitize_load({"status": "ok", "cells": ["x", 3, None, [1], {"cell": 2, "status": "ok"}]})
    assert load is not None and [c.cell for c in load.cells] == [2]


def test_sanitize_load_coerces_cell_fields() -> None:
    load = sanitize_load({"status": 7, "message": ["a"], "cells": [
        {"cell": "3", "type": None, "first_line": 42, "status": ["error"], "stdout": {"a": 1},
         "error": {"ename": 1, "evalue": 5, "traceback": None, "extra": "dropped"}},
    ]})
    assert load is not None
    assert load.status == "7" and load.message == "['a']"
    (cell,) = load.cells
    assert cell == CellResult(cell=0, type="", first_line="42", status="['error']", stdout="{'a': 1}",
                              error={"ename": "1", "evalue": "5", "traceback": ""})


@pytest.mark.parametrize("error", [{}, {"ename": "X"}, {"evalue": None}], ids=["empty", "partial", "none-value"])
def test_sanitize_load_error_dict_always_has_all_string_fields(error: dict[str, object]) -> None:
    load = sanitize_load({"cells": [{"cell": 1, "status": "error", "error": error}]})
    assert load is not None
    (cell,) = load.cells
    assert cell.error is not None and set(cell.error) == {"ename", "evalue", "traceback"}
    assert all(isinstance(v, str) for v in cell.error.values())


@pytest.mark.parametrize("error", ["boom", ["ename", "X"], 5, None], ids=["str", "list", "int", "none"])
def test_sanitize_load_error_not_a_dict_is_dropped(error: object) -> None:
    load = sanitize_load({"cells": [{"cell": 1, "status": "error", "error": error}]})
    assert load is not None and load.cells[0].error is None


@pytest.mark.parametrize(
    ("value", "kept"),
    [(1.5, 1.5), (2, 2.0), (0, 0.0), ("1.5", None), (None, None), (True, None), (False, None), ([1], None), ({}, None)],
    ids=["float", "int", "zero", "str", "none", "true", "false", "list", "dict"],
)
def test_sanitize_load_duration_only_when_numeric(value: object, kept: float | None) -> None:
    load = sanitize_load({"status": "ok", "duration_s": value, "cells": [{"cell": 1, "duration_s": value}]})
    assert load is not None
    assert load.duration_s == kept and load.cells[0].duration_s == kept
    assert kept is None or isinstance(load.duration_s, float)


def test_sanitize_load_bounds_every_text() -> None:
    big = "x" * 100_000
    load = sanitize_load({"status": big, "message": big, "cells": [
        {"cell": 1, "type": big, "first_line": big, "status": big, "stdout": big,
         "error": {"ename": big, "evalue": big, "traceback": big}}]})
    assert load is not None
    assert (len(load.status), len(load.message)) == (50, 5000)
    (cell,) = load.cells
    assert (len(cell.type), len(cell.first_line), len(cell.status), len(cell.stdout)) == (20, 200, 20, 4000)
    assert cell.error is not None
    assert (len(cell.error["ename"]), len(cell.error["evalue"]), len(cell.error["traceback"])) == (200, 2000, 5000)


def test_sanitize_load_bounds_the_number_of_cells() -> None:
    load = sanitize_load({"cells": [{"cell": i} for i in range(6000)]})
    assert load is not None and len(load.cells) == 5000 and load.cells[-1].cell == 4999


# --- known open grader bugs ---------------------------------------------------------------------------------

HUGE_INT = "1" + "0" * 5000  # json.loads raises a plain ValueError: over Python's int-string digit limit


def test_json_with_overlong_integer_is_an_artifact_error(tmp_path: Path) -> None:
    (tmp_path / "a.json").write_text('{"status": "ok", "data": {"x": ' + HUGE_INT + "}}")
    assert read_artifacts(tmp_path, ["a"]).checks["a"].problem


@pytest.mark.parametrize("name", ["runner.json", "environment.json"])
def test_runner_files_with_overlong_integer_are_ignored(tmp_path: Path, name: str) -> None:
    (tmp_path / name).write_text('{"finished": true, "x": ' + HUGE_INT + "}")
    read_artifacts(tmp_path, [])


def test_progress_line_with_overlong_integer_is_skipped(tmp_path: Path) -> None:
    (tmp_path / "progress.jsonl").write_text('{"event": "start", "check": "a"}\n[' + HUGE_INT + "]\n")
    assert read_artifacts(tmp_path, ["a"]).started == ["a"]


def test_sanitize_load_integer_beyond_float_range() -> None:
    load = sanitize_load({"status": "ok", "duration_s": 10**400, "cells": [{"cell": 1, "duration_s": 10**400}]})
    assert load is not None and load.duration_s is None


@pytest.mark.parametrize("value", [float("nan"), float("inf")], ids=["nan", "inf"])
def test_sanitize_load_drops_non_finite_durations(value: float) -> None:
    load = sanitize_load({"status": "ok", "duration_s": value})
    assert load is not None and load.duration_s is None


@pytest.mark.filterwarnings("ignore:overflow encountered:RuntimeWarning")
def test_npz_header_with_astronomical_shape_is_refused(tmp_path: Path) -> None:
    path = write_zip(tmp_path / "a.npz", {"y.npy": forged_npy((10**200, 10**200))})
    with pytest.raises(ArtifactError):
        read_npz(path)
