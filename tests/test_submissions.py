"""Finding submissions: files, folders of submissions, directory submissions with helper modules."""

from __future__ import annotations

from pathlib import Path

import pytest

from grader.errors import UsageError
from grader.submissions import PREFERRED_ENTRIES, as_submission, discover


def touch(path: Path, text: str = "") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


@pytest.mark.parametrize(("name", "kind"), [("alice.ipynb", "notebook"), ("bob.py", "module")])
def test_single_file(tmp_path: Path, name: str, kind: str) -> None:
    path = touch(tmp_path / name)
    (sub,) = discover([path])
    assert sub.student == Path(name).stem
    assert sub.path == path and sub.entry == path
    assert sub.kind == kind


def test_several_files(tmp_path: Path) -> None:
    paths = [touch(tmp_path / "b.py"), touch(tmp_path / "a.ipynb")]
    assert [s.student for s in discover(paths)] == ["b", "a"]  # the order given is kept


def test_student_names_are_made_safe(tmp_path: Path) -> None:
    (sub,) = discover([touch(tmp_path / "Ana María (late)!.ipynb")])
    assert sub.student == "Ana_Mar_a_late"
    (sub,) = discover([touch(tmp_path / "...py")])
    assert sub.student == "submission"


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    """A folder of submissions as a course would collect them."""
    root = tmp_path / "hw3"
    touch(root / "alice.ipynb")
    touch(root / "bob.py")
    touch(root / "carol" / "submission.py", "from helpers import f\n")
    touch(root / "carol" / "helpers.py", "def f(): pass\n")
    touch(root / "dave" / "notebook.ipynb")
    touch(root / "dave" / "data.csv")
    touch(root / "erin" / "submission.ipynb")
    touch(root / "erin" / "submission.py")
    touch(root / "erin" / "utils.py")
    touch(root / "frank" / "a.py")  # two candidates, none preferred: a submission with a problem
    touch(root / "frank" / "b.py")
    touch(root / "gina" / "README.md")  # nothing to run
    touch(root / "README.md")
    touch(root / "grades.csv")
    touch(root / ".hidden.ipynb")
    touch(root / ".ipynb_checkpoints" / "alice-checkpoint.ipynb")
    touch(root / "_template.py")
    touch(root / "__pycache__" / "bob.cpython-312.pyc")
    return root


def test_folder_of_submissions(folder: Path) -> None:
    found = {s.student: s for s in discover([folder])}
    assert sorted(found) == ["alice", "bob", "carol", "dave", "erin", "frank"]
    assert all(found[name].problem == "" for name in ["alice", "bob", "carol", "dave", "erin"])
    assert found["alice"].entry == folder / "alice.ipynb" and found["alice"].kind == "notebook"
    assert found["bob"].kind == "module"
    assert found["carol"].path == folder / "carol"
    assert found["carol"].entry == folder / "carol" / "submission.py"  # not the helper module
    assert found["dave"].entry == folder / "dave" / "notebook.ipynb"  # the only candidate
    assert found["erin"].entry == folder / "erin" / "submission.ipynb"
    assert found["frank"].path == found["frank"].entry == folder / "frank"  # nothing runnable: not dropped
    assert found["frank"].problem


def test_folder_order_is_sorted(folder: Path) -> None:
    assert [s.student for s in discover([folder])] == ["alice", "bob", "carol", "dave", "erin", "frank"]


def test_dot_and_underscore_entries_are_ignored(folder: Path) -> None:
    students = {s.student for s in discover([folder])}
    assert not students & {"hidden", "_template", "template", "ipynb_checkpoints", "pycache", "__pycache__"}


def test_directory_submission_directly(folder: Path) -> None:
    sub = as_submission(folder / "carol")
    assert sub is not None and sub.student == "carol" and sub.entry.name == "submission.py"
    assert as_submission(folder / "gina") is None  # nothing to run at all
    assert as_submission(folder / "README.md") is None


def test_preferred_entry_main(tmp_path: Path) -> None:
    touch(tmp_path / "s" / "main.py")
    touch(tmp_path / "s" / "model.py")
    sub = as_submission(tmp_path / "s")
    assert sub is not None and sub.entry.name == "main.py"


def test_submission_preferred_over_main(tmp_path: Path) -> None:
    touch(tmp_path / "s" / "main.ipynb")
    touch(tmp_path / "s" / "submission.py")
    sub = as_submission(tmp_path / "s")
    assert sub is not None and sub.entry.name == "submission.py"


@pytest.mark.parametrize("present", [PREFERRED_ENTRIES[i:] for i in range(len(PREFERRED_ENTRIES))],
                         ids=lambda names: "+".join(names))
def test_preferred_entries_follow_their_order(tmp_path: Path, present: tuple[str, ...]) -> None:
    for name in reversed(present):
        touch(tmp_path / "s" / name)
    touch(tmp_path / "s" / "a_helper.py")
    sub = as_submission(tmp_path / "s")
    assert sub is not None and sub.entry.name == present[0] and sub.problem == ""


def test_several_candidates_without_preferred_name_is_a_problem(tmp_path: Path) -> None:
    touch(tmp_path / "s" / "b.ipynb")
    touch(tmp_path / "s" / "a.py")
    touch(tmp_path / "s" / "notes.txt")
    sub = as_submission(tmp_path / "s")
    assert sub is not None
    assert sub.student == "s" and sub.path == sub.entry == tmp_path / "s"
    assert "a.py, b.ipynb" in sub.problem  # the candidates, named for the student
    assert "submission.ipynb or submission.py" in sub.problem


def test_dot_entries_inside_a_directory_are_ignored(tmp_path: Path) -> None:
    touch(tmp_path / "s" / "work.ipynb")
    touch(tmp_path / "s" / ".work-checkpoint.ipynb")
    touch(tmp_path / "s" / "._work.ipynb")  # macOS resource fork
    touch(tmp_path / "s" / ".submission.py")  # hidden: not a preferred entry either
    sub = as_submission(tmp_path / "s")
    assert sub is not None and sub.entry == tmp_path / "s" / "work.ipynb" and sub.problem == ""


def test_directory_with_only_dot_entries_is_not_a_submission(tmp_path: Path) -> None:
    touch(tmp_path / "s" / ".hidden.ipynb")
    touch(tmp_path / "s" / ".hidden.py")
    assert as_submission(tmp_path / "s") is None


def test_duplicate_student_names_are_disambiguated(tmp_path: Path) -> None:
    touch(tmp_path / "batch1" / "alice.ipynb")
    touch(tmp_path / "batch1" / "alice.py")
    touch(tmp_path / "batch2" / "alice" / "submission.py")
    found = discover([tmp_path / "batch1", tmp_path / "batch2"])
    assert [s.student for s in found] == ["alice", "alice-2", "alice-3"]
    assert [s.entry.suffix for s in found] == [".ipynb", ".py", ".py"]
    assert found[2].path == tmp_path / "batch2" / "alice"


def test_same_file_twice(tmp_path: Path) -> None:
    path = touch(tmp_path / "x.py")
    assert [s.student for s in discover([path, path])] == ["x", "x-2"]


def test_disambiguated_names_never_collide(tmp_path: Path) -> None:
    touch(tmp_path / "alice.ipynb")
    touch(tmp_path / "alice.py")
    touch(tmp_path / "alice-2.py")
    found = discover([tmp_path])
    assert len({s.student for s in found}) == 3
    by_entry = {s.entry.name: s.student for s in found}
    assert by_entry == {"alice-2.py": "alice-2", "alice.ipynb": "alice", "alice.py": "alice-3"}


def test_disambiguated_names_skip_every_taken_name(tmp_path: Path) -> None:
    for name in ["alice.ipynb", "alice.py", "alice-2.py", "alice-3.py"]:
        touch(tmp_path / "a" / name)
    touch(tmp_path / "b" / "alice.py")
    names = [s.student for s in discover([tmp_path / "a", tmp_path / "b"])]
    assert len(names) == len(set(names)) == 5
    assert sorted(names) == ["alice", "alice-2", "alice-3", "alice-4", "alice-5"]


def test_renamed_submission_keeps_its_problem(tmp_path: Path) -> None:
    touch(tmp_path / "a" / "bob.py")
    touch(tmp_path / "b" / "bob" / "x.py")
    touch(tmp_path / "b" / "bob" / "y.py")
    first, second = discover([tmp_path / "a", tmp_path / "b"])
    assert (first.student, first.problem) == ("bob", "")
    assert second.student == "bob-2" and second.problem and second.entry == tmp_path / "b" / "bob"


def test_missing_path(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="no such file or directory"):
        discover([tmp_path / "nope"])


@pytest.mark.parametrize("name", ["notes.txt", "alice.ipynb.zip", "model.pt"])
def test_non_submission_file(tmp_path: Path, name: str) -> None:
    with pytest.raises(UsageError, match="not a submission"):
        discover([touch(tmp_path / name)])


def test_usage_error_exit_code(tmp_path: Path) -> None:
    with pytest.raises(UsageError) as info:
        discover([tmp_path / "nope"])
    assert info.value.exit_code == 2


def test_empty_folder(tmp_path: Path) -> None:
    assert discover([tmp_path]) == []
