"""Kind ``manual``: a written answer that a TA grades by hand.

Nothing runs in the sandbox for it: the answer is *read*, on the trusted side, from the submission file
itself (a notebook's markdown cells carrying a tag, or a module's string constant), with ``json`` and
``ast`` only, never by executing anything. So the answer is there even when the student's code crashed or
timed out. The verdict is status ``manual`` with 0 points; a TA's grade (``grader manual set``, stored by
``grader/manual.py``) is merged in when the result is written.
"""

from __future__ import annotations

import ast
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import Field, field_validator

from grader.checks.base import Budget, NoThresholds, Observation, ProbeContext, ScoreContext, Strict, Verdict

Budget = Budget
Thresholds = NoThresholds
SCORED_WITHOUT_RUN = True  # scoring judges it from the submission file, whatever happened to the run
MAX_ANSWER_CHARS = 20_000  # what is kept and shown; the digest covers the whole answer
MAX_FILE_BYTES = {".ipynb": 64 * 2**20, ".py": 2 * 2**20}  # notebooks carry outputs; a module is source only


class Params(Strict):
    cell_tag: str = Field(min_length=1, description="tag of the markdown cell(s) holding the answer in a notebook")
    module_constant: str | None = Field(None, description="module-level string holding the answer in a .py submission")
    rubric: str = Field("", description="shown to the TA (and the student) beside the answer")

    @field_validator("module_constant")
    @classmethod
    def _identifier(cls, value: str | None) -> str | None:
        if value is not None and not value.isidentifier():
            raise ValueError(f"{value!r} is not a Python identifier")
        return value



@dataclass(frozen=True)
class Answer:
    """What was found in the submission: the text (possibly empty), where, and why nothing when nothing."""

    text: str = ""
    source: str = ""  # "cell 12", "cells 3, 5" or the constant's name
    problem: str = ""  # for the student, when no answer was found
    truncated: bool = False
    sha256: str = ""


def probe(ctx: ProbeContext) -> Observation:
    """Nothing to observe in the sandbox: the answer is read from the file by :func:`score`."""
    return Observation()


def score(ctx: ScoreContext) -> Verdict:
    params: Params = ctx.params
    if ctx.submission is None:
        answer = Answer(problem="The grader was given no submission file to read the answer from.")
    else:
        answer = read_answer(ctx.submission, params)
    found = (f"Your answer ({answer.source}, {len(answer.text)} characters) was found; a TA grades it by hand "
             "against the rubric." if answer.text else answer.problem)
    details: dict[str, Any] = {"answer": answer.text, "rubric": params.rubric, "answer_sha256": answer.sha256,
                               "source": answer.source}
    if answer.truncated:
        details["truncated"] = True
        found += f" Only its first {MAX_ANSWER_CHARS:,} characters are shown."
    return Verdict(fraction=0.0, message=f"Awaiting a TA's grade. {found}", details=details, manual=True)


def read_answer(path: Path, params: Params) -> Answer:
    """The answer in a notebook (tagged markdown cells) or a module (a string constant); never raises."""
    if path.is_dir() or path.suffix not in MAX_FILE_BYTES:
        return Answer(problem="No notebook or module was found to read the answer from.")
    try:
        if path.is_symlink() or not path.is_file():
            return Answer(problem=f"{path.name} is not a regular file, so no answer could be read.")
        if path.stat().st_size > MAX_FILE_BYTES[path.suffix]:
            return Answer(problem=f"{path.name} is larger than {MAX_FILE_BYTES[path.suffix] // 2**20} MB; "
                                  "the answer was not read.")
        raw = path.read_bytes().decode("utf-8", errors="replace")
    except OSError as exc:
        return Answer(problem=f"{path.name} could not be read ({type(exc).__name__}).")
    if path.suffix == ".ipynb":
        return _from_notebook(raw, params.cell_tag)
    return _from_module(raw, params.module_constant, params.cell_tag)


def _answer(text: str, source: str) -> Answer:
    text = text.strip()
    if not text:
        return Answer(source=source, problem=f"The answer ({source}) is empty.")
    return Answer(text=text[:MAX_ANSWER_CHARS], source=source, truncated=len(text) > MAX_ANSWER_CHARS,
                  sha256=hashlib.sha256(text.encode("utf-8", errors="replace")).hexdigest())


def _cell_text(source: Any) -> str:
    if isinstance(source, list):
        return "".join(s for s in source if isinstance(s, str))
    return source if isinstance(source, str) else ""


def _from_notebook(raw: str, tag: str) -> Answer:
    """Markdown cells whose ``metadata.tags`` hold ``tag``, joined; cells numbered from 1 as in the report."""
    try:
        notebook = json.loads(raw)
    except (ValueError, RecursionError):
        return Answer(problem="The notebook is not valid JSON, so no answer could be read from it.")
    cells = notebook.get("cells") if isinstance(notebook, dict) else None
    if not isinstance(cells, list):
        return Answer(problem="The notebook has no list of cells (nbformat 4 expected), so no answer could be read.")
    texts, numbers, code_tagged = [], [], []
    for number, cell in enumerate(cells, start=1):
        if not isinstance(cell, dict):
            continue
        metadata = cell.get("metadata")
        tags = metadata.get("tags") if isinstance(metadata, dict) else None
        if not isinstance(tags, list) or tag not in tags:
            continue
        if cell.get("cell_type") == "markdown":
            texts.append(_cell_text(cell.get("source")).strip())
            numbers.append(number)
        else:
            code_tagged.append(number)
    if not numbers:
        where = (f" (cell {', '.join(map(str, code_tagged))} carries the tag but is not a markdown cell: the answer must "
                 "be written in a markdown cell)") if code_tagged else ""
        return Answer(problem=f"No markdown cell tagged `{tag}` was found{where}: add the tag to the markdown cell "
                              "holding your answer (Jupyter Notebook: View > Cell Toolbar > Tags; JupyterLab: the "
                              "property inspector's Cell Tags).")
    source = f"cell {numbers[0]}" if len(numbers) == 1 else f"cells {', '.join(map(str, numbers))}"
    return _answer("\n\n".join(t for t in texts if t), source)


def _from_module(raw: str, constant: str | None, tag: str) -> Answer:
    """The last module-level ``CONSTANT = "..."`` (or annotated) assignment, found with ``ast``, not executed."""
    if constant is None:
        return Answer(problem=f"This answer is read from a notebook only (a markdown cell tagged `{tag}`); "
                              "a module submission cannot hold it.")
    try:
        tree = ast.parse(raw)
    except (SyntaxError, ValueError, RecursionError, MemoryError) as exc:
        line = f" (line {exc.lineno})" if isinstance(exc, SyntaxError) and exc.lineno else ""
        return Answer(problem=f"Your module could not be parsed{line}: {type(exc).__name__}, so `{constant}` "
                              "could not be read.")
    value: ast.expr | None = None
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == constant for t in node.targets):
            value = node.value
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) and node.target.id == constant:
            value = node.value
    if value is None:
        return Answer(problem=f"Your module does not assign `{constant}` at module level: write your answer as "
                              f'{constant} = """...""" (a plain string).')
    if not (isinstance(value, ast.Constant) and isinstance(value.value, str)):
        return Answer(source=constant, problem=f"`{constant}` is not a plain string literal (the grader reads it "
                                               f'without running your code): write {constant} = """...""".')
    return _answer(value.value, constant)
