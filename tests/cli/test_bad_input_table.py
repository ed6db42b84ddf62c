"""Bad input to every command, as one table: each row runs ``rlbound <command> ...`` on a broken input.

Every row asserts what a user is promised (``rlbound.errors``, ``rlbound.cli``):

- a nonzero exit status: 2, the CLI's status for input errors (InputError, an unusable path, a bad
  option);
- exactly one line on stderr as a terminal shows it, ``rlbound: error: ...`` (``rlbound <command>:
  error: ...`` for a bad option), naming the file and, where they apply, the line and the field
  (each row lists the strings its message must contain). A progress bar the failing command
  clears with a carriage return leaves nothing on that terminal; a bar that finished before the
  failure (a model's weight loading) is progress output and not counted; a bar still half drawn
  when the error came would be glued to the error line and fail the row;
- no ``Traceback`` anywhere (the command runs in-process through ``rlbound.cli.main``; an exception
  escaping it fails the row with its traceback);
- nothing already written is damaged: every path on the command line that existed before the run
  (the bad input itself, an existing run directory, an existing output file) is byte-identical
  afterwards, down to the list of files in a directory.

Inputs: malformed JSONL lines, missing fields, wrong types, duplicate problem ids, empty files,
binary garbage, a directory given as a file, n < k and k <= 0 (``passk``), an unwritable output
location and resuming into a run of another configuration. An unwritable output is a folder with
mode 0o500 for an ordinary user; the tests may run as root, whom a mode does not stop, so there
(detected by trying to write into such a folder) it is a path under a regular file, which no user
can create.

Commands: passk, compare, import, export, verify, grade, sample (hf backend, the shipped tiny sandbox
model, 4 new tokens), report, plan, train, distill, perplexity. ``grade`` has no duplicate-id row:
its rows are responses, several per problem is the normal case. ``perplexity`` has no unwritable
row: it writes into the run directory it reads, which as root cannot be made unwritable by a mode
and, under a regular file, would not be a run directory.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re
import shutil
import stat
import traceback
from collections.abc import Callable
from pathlib import Path

import pytest

from rlbound.cli import main

TINY = Path(__file__).resolve().parents[2] / "src" / "rlbound" / "toy" / "checkpoints" / "tiny"
TEACHER = TINY.parent / "teacher"
GARBAGE = bytes(range(256)) * 3 + b"\xff\xfe\x00{\"oops"  # no valid UTF-8, NUL bytes, no JSON
FAST = ["--threads", "1"]  # one torch thread: the machine is shared


# ----------------------------------------------------------------------------------------------
# The world every row starts from: good inputs and finished runs (built once per module)


def _results_rows(ids=("a", "b", "c"), n: int = 4) -> str:
    return "".join(json.dumps({"problem_id": p, "correct": i < j}) + "\n" for j, p in enumerate(ids) for i in range(n))


def _problem_row(i: int, **over) -> dict:
    row = {"id": f"p{i}", "prompt": f"a={i},b=2;?a", "reference": None, "verifier": "math", "metadata": {}}
    row.update(over)
    return row


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> dict[str, Path]:
    """Good inputs and finished runs: results.jsonl and its imported run, a sandbox problem file, an
    unverified sandbox run, a sampled run, a one-step training run and a finished distillation."""
    from rlbound.data.store import RunStore
    from rlbound.rl.trainer import sandbox_task_config
    from rlbound.toy.tasks import generate_split, write_problems_jsonl
    from rlbound.types import RunManifest, Sample

    root = tmp_path_factory.mktemp("world")
    w: dict[str, Path] = {"root": root}
    w["results"] = root / "results.jsonl"
    w["results"].write_text(_results_rows())
    w["other_results"] = root / "other_results.jsonl"
    w["other_results"].write_text(_results_rows(("x", "y")))
    w["run"] = root / "run"
    assert main(["import", str(w["results"]), "--out", str(w["run"])]) == 0
    task = sandbox_task_config(str(TINY))
    problems = generate_split(task, "test", 2, seed=0)
    w["bench"] = root / "bench.jsonl"
    write_problems_jsonl(problems, w["bench"])
    w["unverified"] = root / "unverified"
    store = RunStore.create(w["unverified"], RunManifest(model="m", backend="import"), problems)
    store.add_samples(Sample(problem_id=p.id, sample_index=i, text="####1") for p in problems for i in range(2))
    w["sampled"] = root / "sampled"
    assert main(["sample", "--model", str(TINY), "--benchmark", str(w["bench"]), "--out", str(w["sampled"]),
                 "--n", "2", "--max-new-tokens", "4", "--template", "raw", "--batch-size", "4", *FAST]) == 0
    w["trained"] = root / "trained"
    assert main(["train", "--model", str(TINY), "--out", str(w["trained"]), "--steps", "1", "--prompts-per-step", "2",
                 "--rollouts", "2", "--max-new-tokens", "4", "--save-every", "1", *FAST]) == 0
    w["distilled"] = root / "distilled"
    assert main(["distill", "--teacher", str(TEACHER), "--student", str(TINY), "--out", str(w["distilled"]),
                 *DISTILL_SMALL]) == 0
    return w


DISTILL_SMALL = ["--prompts", "8", "--samples-per-prompt", "4", "--max-new-tokens", "48", "--epochs", "1",
                 "--batch-size", "8", "--seed", "1", *FAST]


def _unwritable(tmp: Path) -> Path:
    """An output path no one can create: under a 0o500 folder, or, where the mode does not stop this
    user (root), under a regular file (see the module docstring)."""
    locked = tmp / "locked"
    locked.mkdir()
    locked.chmod(stat.S_IRUSR | stat.S_IXUSR)
    try:
        (locked / ".probe").write_text("")
    except OSError:
        return locked / "out"
    (locked / ".probe").unlink()
    locked.chmod(0o700)
    plain = tmp / "a-regular-file"
    plain.write_text("not a folder\n")
    return plain / "out"


def _inputs(tmp: Path, w: dict[str, Path], used: str) -> dict[str, str]:
    """Every bad input a row may name, written into ``tmp``; placeholders -> paths (as strings). The
    finished runs are copied only when the row's ``used`` text names them (copies are the slow part)."""
    files: dict[str, str | bytes] = {
        # results files (passk, compare, import)
        "res_malformed.jsonl": '{"problem_id": "a", "correct": true}\n{"problem_id": "a", "correct": tru\n',
        "res_missing.jsonl": '{"problem_id": "a", "correct": true}\n{"problem_id": "b"}\n',
        "res_type.jsonl": '{"problem_id": "a", "correct": true}\n{"problem_id": "b", "correct": "yes"}\n',
        "res_dup.jsonl": '{"problem_id": "a", "sample_index": 0, "correct": true}\n'
                         '{"problem_id": "a", "sample_index": 0, "correct": false}\n',
        "res_dup_idx.jsonl": '{"idx": 1, "score": [true]}\n{"idx": 1, "score": [false]}\n',
        "res_not_object.jsonl": '{"problem_id": "a", "correct": true}\n[1, 2]\n',
        "empty.jsonl": "",
        "blank.jsonl": "\n\n  \n",
        "garbage.jsonl": GARBAGE,
        # grade rows
        "grade_malformed.jsonl": '{"problem_id": 1, "reference": "2", "response": "2"}\n{"problem_id": 2,\n',
        "grade_missing.jsonl": '{"problem_id": 1, "reference": "2", "response": "2"}\n{"problem_id": 2, "reference": "3"}\n',
        "grade_type.jsonl": '{"problem_id": 1, "reference": "2", "response": "2"}\n'
                            '{"problem_id": 2, "reference": "3", "response": 3}\n',
        # problem files (sample --benchmark, train/distill --task)
        "prob_malformed.jsonl": json.dumps(_problem_row(0)) + "\n" + '{"id": "p1", "prompt": \n',
        "prob_missing.jsonl": json.dumps(_problem_row(0)) + "\n" + json.dumps({"id": "p1", "reference": None,
                                                                              "verifier": "math", "metadata": {}}) + "\n",
        "prob_type.jsonl": json.dumps(_problem_row(0)) + "\n" + json.dumps(_problem_row(1, prompt=7)) + "\n",
        "prob_dup.jsonl": json.dumps(_problem_row(0)) + "\n" + json.dumps(_problem_row(0)) + "\n",
        # TOML configs
        "cfg_malformed.toml": 'model = "m"\nout = \n',
        "cfg_unknown.toml": 'modle = "m"\n',
        "cfg_type.toml": 'steps = "many"\n',
        "cfg_prompts.toml": 'prompts = "many"\n',
        "cfg_empty.toml": "",
        "cfg_garbage.toml": GARBAGE,
        # a results file of other problems, for import into an existing run
        "other.jsonl": _results_rows(("q",)),
    }
    out = {}
    for name, content in files.items():
        p = tmp / name
        if isinstance(content, bytes):
            p.write_bytes(content)
        else:
            p.write_text(content)
        out[name.split(".")[0]] = str(p)
    for name in ("adir.jsonl", "adir.toml", "emptydir"):
        (tmp / name).mkdir()
        out[name.replace(".", "_")] = str(tmp / name)
    (tmp / "notes").mkdir()
    (tmp / "notes" / "mine.txt").write_text("keep me\n")
    out["notes"] = str(tmp / "notes")
    out["new"] = str(tmp / "new")  # an output that does not exist yet
    out["unwritable"] = str(_unwritable(tmp))
    out["blocker"] = str(Path(out["unwritable"]).parent)  # the locked folder or the regular file
    (tmp / "keep.jsonl").write_text("precious\n")
    out["keep"] = str(tmp / "keep.jsonl")
    for name in ("run", "unverified", "sampled", "trained", "distilled"):  # own copies: rows may try to write
        out[name] = str(tmp / f"{name}_copy")
        if "{" + name + "}" in used:
            shutil.copytree(w[name], out[name], symlinks=True)
    out["results"], out["other_results"], out["bench"] = str(w["results"]), str(w["other_results"]), str(w["bench"])
    out["tiny"], out["teacher"], out["missing"] = str(TINY), str(TEACHER), str(tmp / "no-such-path")
    # damaged run directories
    for name, damage in (("bad_manifest", "manifest.json"), ("bad_problems", "problems.parquet")):
        shutil.copytree(w["run"], tmp / name)
        (tmp / name / damage).write_bytes(GARBAGE)
        out[name] = str(tmp / name)
    shutil.copytree(w["unverified"], tmp / "bad_part")
    part = next((tmp / "bad_part" / "samples").glob("part-*.parquet"))
    part.write_bytes(GARBAGE)
    out["bad_part"], out["bad_part_file"] = str(tmp / "bad_part"), str(part)
    return out


# ----------------------------------------------------------------------------------------------
# The table


@dataclasses.dataclass(frozen=True)
class Row:
    """One bad input: ``argv`` and the strings the one error line must contain ({placeholders} are
    paths from ``_inputs``). ``xfail``: the exact fix still needed, where it lies in a module this
    file's fixes may not touch."""

    id: str
    argv: tuple[str, ...]
    says: tuple[str, ...]
    xfail: str | None = None


def R(id: str, argv: str, *says: str, xfail: str | None = None) -> Row:  # noqa: A002, N802
    return Row(id, tuple(argv.split()), says, xfail)


SAMPLE = "sample --model {tiny} --n 2 --max-new-tokens 4 --template raw --batch-size 4 --threads 1"
TRAIN = "train --model {tiny} --template raw --steps 1 --prompts-per-step 2 --rollouts 2 --max-new-tokens 4 --threads 1"
DISTILL = "distill --teacher {teacher} --student {tiny} --template raw " + " ".join(DISTILL_SMALL)

ROWS = [
    # -- passk
    R("passk-malformed", "passk {res_malformed}", "{res_malformed}:2:", "malformed JSON"),
    R("passk-missing-field", "passk {res_missing}", "{res_missing}:2:", "'correct'"),
    R("passk-wrong-type", "passk {res_type}", "{res_type}:2:", "'correct'"),
    R("passk-not-an-object", "passk {res_not_object}", "{res_not_object}:2:", "object"),
    R("passk-duplicate-cell", "passk {res_dup}", "{res_dup}:2:", "duplicate"),
    R("passk-duplicate-problem-id", "passk {res_dup_idx}", "{res_dup_idx}:2:", "duplicate", "'idx'"),
    R("passk-empty", "passk {empty}", "{empty}", "empty"),
    R("passk-blank-lines-only", "passk {blank}", "{blank}", "empty"),
    R("passk-binary", "passk {garbage}", "{garbage}"),
    R("passk-directory", "passk {emptydir}", "{emptydir}", "not a run directory"),
    R("passk-missing-file", "passk {missing}", "{missing}", "no such"),
    R("passk-k-above-n", "passk {results} --k 1,8", "{results}", "k=8", "n=4", "'k'"),
    R("passk-negative-k", "passk {results} --k -2", "--k", ">= 1"),
    R("passk-zero-k", "passk {results} --k 0,2", "--k", ">= 1"),
    R("passk-k-not-a-number", "passk {results} --k 1,two", "--k", "integers"),
    R("passk-damaged-manifest", "passk {bad_manifest}", "{bad_manifest}/manifest.json", "manifest"),
    R("passk-damaged-problems", "passk {bad_problems}", "{bad_problems}/problems.parquet", "problems"),
    R("passk-unverified-run", "passk {unverified}", "{unverified}", "verify"),
    # -- compare
    R("compare-base-malformed", "compare {res_malformed} {results}", "{res_malformed}:2:"),
    R("compare-other-missing-field", "compare {results} {res_missing}", "{res_missing}:2:", "'correct'"),
    R("compare-other-binary", "compare {results} {garbage}", "{garbage}"),
    R("compare-other-empty", "compare {results} {empty}", "{empty}", "empty"),
    R("compare-no-shared-problems", "compare {results} {other_results}", "share no problem"),
    R("compare-k-above-n", "compare {results} {results} --k 16", "k", "16"),
    R("compare-negative-k", "compare {results} {results} --k -1", "--k", ">= 1"),
    # -- import
    R("import-malformed", "import {res_malformed} --out {new}", "{res_malformed}:2:"),
    R("import-missing-field", "import {res_missing} --out {new}", "{res_missing}:2:", "'correct'"),
    R("import-wrong-type", "import {res_type} --out {new}", "{res_type}:2:", "'correct'"),
    R("import-duplicate-cell", "import {res_dup} --out {new}", "{res_dup}:2:", "duplicate"),
    R("import-empty", "import {empty} --out {new}", "{empty}", "empty"),
    R("import-binary", "import {garbage} --out {new}", "{garbage}"),
    R("import-directory", "import {emptydir} --out {new}", "{emptydir}", "directory"),
    R("import-unwritable-out", "import {results} --out {unwritable}", "{blocker}"),
    R("import-into-another-run", "import {other} --out {run}", "{run}", "different"),
    R("import-into-foreign-folder", "import {results} --out {notes}", "{notes}", "not a run directory"),
    # -- export
    R("export-not-a-run", "export {emptydir} --out {new}.jsonl", "{emptydir}", "not a run directory"),
    R("export-unwritable-out", "export {run} --out {unwritable}.jsonl", "{blocker}"),
    R("export-existing-out", "export {run} --out {keep}", "{keep}", "exists"),
    # -- verify
    R("verify-a-file", "verify {results}", "{results}", "not a run directory"),
    R("verify-missing", "verify {missing}", "{missing}", "no such"),
    R("verify-empty-dir", "verify {emptydir}", "{emptydir}", "not a run directory"),
    R("verify-damaged-manifest", "verify {bad_manifest}", "{bad_manifest}/manifest.json"),
    R("verify-damaged-problems", "verify {bad_problems}", "{bad_problems}/problems.parquet"),
    R("verify-binary-sample-part", "verify {bad_part} --workers 1", "{bad_part_file}"),
    R("verify-unknown-verifier", "verify {unverified} --verifier nope", "unknown verifier", "'verifier'"),
    R("verify-negative-workers", "verify {unverified} --workers -1", "workers"),
    R("verify-zero-timeout", "verify {unverified} --timeout 0", "timeout"),
    R("verify-zero-chunk-rows", "verify {unverified} --chunk-rows 0", "chunk"),
    # -- grade
    R("grade-malformed", "grade {grade_malformed} --verifier math --out {new}.jsonl", "{grade_malformed}:2:"),
    R("grade-missing-field", "grade {grade_missing} --verifier math --out {keep}", "{grade_missing}:2:",
      "'response'"),
    R("grade-wrong-type", "grade {grade_type} --verifier math --out {keep}", "{grade_type}:2:", "'response'"),
    R("grade-empty", "grade {empty} --verifier math --out {keep}", "{empty}", "empty"),
    R("grade-binary", "grade {garbage} --verifier math --out {keep}", "{garbage}"),
    R("grade-directory", "grade {adir_jsonl} --verifier math --out {keep}", "{adir_jsonl}", "directory"),
    R("grade-missing-file", "grade {missing} --verifier math --out {keep}", "{missing}", "no such"),
    R("grade-unknown-verifier", "grade {results} --verifier nope --out {keep}", "unknown verifier"),
    R("grade-out-is-a-directory", "grade {grade_ok} --verifier math --out {emptydir}", "{emptydir}", "directory"),
    R("grade-unwritable-out", "grade {grade_ok} --verifier math --workers 1 --out {unwritable}.jsonl",
      "{blocker}"),
    # -- sample
    R("sample-malformed", SAMPLE + " --benchmark {prob_malformed} --out {new}", "{prob_malformed}:2:"),
    R("sample-missing-field", SAMPLE + " --benchmark {prob_missing} --out {new}", "{prob_missing}:2:", "'prompt'"),
    R("sample-wrong-type", SAMPLE + " --benchmark {prob_type} --out {new}", "{prob_type}:2:", "'prompt'"),
    R("sample-duplicate-id", SAMPLE + " --benchmark {prob_dup} --out {new}", "{prob_dup}:2:", "duplicate", "'id'"),
    R("sample-empty", SAMPLE + " --benchmark {empty} --out {new}", "{empty}", "no problems"),
    R("sample-binary", SAMPLE + " --benchmark {garbage} --out {new}", "{garbage}"),
    R("sample-directory", SAMPLE + " --benchmark {emptydir} --out {new}", "{emptydir}"),
    R("sample-missing-model", "sample --model {missing} --benchmark {bench} --out {new}", "{missing}"),
    R("sample-zero-n", SAMPLE + " --benchmark {bench} --out {new} --n 0", "'n'"),
    R("sample-negative-n", SAMPLE + " --benchmark {bench} --out {new} --n -3", "'n'"),
    R("sample-unwritable-out", SAMPLE + " --benchmark {bench} --out {unwritable}", "{blocker}"),
    R("sample-out-is-a-file", SAMPLE + " --benchmark {bench} --out {keep}", "{keep}"),
    R("sample-out-foreign-folder", SAMPLE + " --benchmark {bench} --out {notes}", "{notes}"),
    R("sample-resume-other-config", SAMPLE + " --benchmark {bench} --out {sampled} --temperature 0.3", "{sampled}",
      "different sampling"),
    R("sample-config-malformed", "sample --config {cfg_malformed}", "{cfg_malformed}", "TOML"),
    R("sample-config-unknown-key", "sample --config {cfg_unknown}", "{cfg_unknown}", "'modle'"),
    R("sample-config-empty", "sample --config {cfg_empty}", "{cfg_empty}", "'model'"),
    R("sample-config-binary", "sample --config {cfg_garbage}", "{cfg_garbage}"),
    R("sample-config-directory", "sample --config {adir_toml}", "{adir_toml}"),
    R("sample-config-missing", "sample --config {missing}", "{missing}"),
    # -- report
    R("report-not-a-run", "report {emptydir} --out {new}", "{emptydir}", "not a run directory"),
    R("report-a-file", "report {results} --out {new}", "{results}"),
    R("report-damaged-manifest", "report {bad_manifest} --out {new}", "{bad_manifest}/manifest.json"),
    R("report-unverified", "report {unverified} --out {new}", "{unverified}"),
    R("report-labels-count", "report {run} {run} --labels one --out {new}", "labels"),
    R("report-unknown-base", "report {run} --base nope --out {new}", "nope"),
    R("report-negative-k", "report {run} --k -4 --out {new}", "--k", ">= 1"),
    R("report-unwritable-out", "report {run} --out {unwritable}", "{blocker}"),
    R("report-out-is-a-file", "report {run} --out {keep}", "{keep}"),
    # -- plan
    R("plan-a-file", "plan {results} --k 4 --ci 0.1", "{results}", "not a run directory"),
    R("plan-empty-dir", "plan {emptydir} --k 4 --ci 0.1", "{emptydir}", "not a run directory"),
    R("plan-damaged-manifest", "plan {bad_manifest} --k 4 --ci 0.1", "{bad_manifest}/manifest.json"),
    R("plan-unverified", "plan {unverified} --k 4 --ci 0.1", "{unverified}"),
    R("plan-ci-out-of-range", "plan {run} --k 4 --ci 2", "--ci", "'ci'"),
    R("plan-negative-k", "plan {run} --k -4 --ci 0.1", "--k", ">= 1"),
    R("plan-max-n-below-k", "plan {run} --k 64 --ci 0.1 --max-n 8", "--max-n"),
    R("plan-against-missing", "plan {run} --k 4 --ci 0.1 --against {missing}", "{missing}"),
    # -- train
    R("train-task-malformed", TRAIN + " --task {prob_malformed} --out {new}", "{prob_malformed}:2:"),
    R("train-task-missing-field", TRAIN + " --task {prob_missing} --out {new}", "{prob_missing}:2:", "'prompt'"),
    R("train-task-wrong-type", TRAIN + " --task {prob_type} --out {new}", "{prob_type}:2:", "'prompt'"),
    R("train-task-duplicate-id", TRAIN + " --task {prob_dup} --out {new}", "{prob_dup}:2:", "duplicate", "'id'"),
    R("train-task-empty", TRAIN + " --task {empty} --out {new}", "{empty}", "empty"),
    R("train-task-binary", TRAIN + " --task {garbage} --out {new}", "{garbage}"),
    R("train-task-directory", TRAIN + " --task {adir_jsonl} --out {new}", "{adir_jsonl}", "directory"),
    R("train-missing-model", "train --model {missing} --out {new} --steps 1", "{missing}"),
    R("train-zero-steps", TRAIN + " --out {new} --steps 0", "steps"),
    R("train-negative-lr", TRAIN + " --out {new} --lr -1", "lr"),
    R("train-unwritable-out", TRAIN + " --out {unwritable}", "{blocker}"),
    R("train-out-is-a-file", TRAIN + " --out {keep}", "{keep}"),
    R("train-out-foreign-folder", TRAIN + " --out {notes}", "{notes}", "not a training run"),
    R("train-resume-other-config", TRAIN + " --out {trained} --lr 0.5", "{trained}", "different settings", "lr"),
    R("train-config-malformed", "train --config {cfg_malformed}", "{cfg_malformed}", "TOML"),
    R("train-config-unknown-key", "train --config {cfg_unknown}", "{cfg_unknown}", "'modle'"),
    R("train-config-wrong-type", "train --config {cfg_type} --model {tiny} --out {new}", "{cfg_type}", "'steps'"),
    R("train-config-empty", "train --config {cfg_empty}", "{cfg_empty}", "'model'"),
    R("train-config-binary", "train --config {cfg_garbage}", "{cfg_garbage}"),
    R("train-config-directory", "train --config {adir_toml}", "{adir_toml}"),
    # -- distill
    R("distill-task-malformed", DISTILL + " --task {prob_malformed} --out {new}", "{prob_malformed}:2:"),
    R("distill-task-missing-field", DISTILL + " --task {prob_missing} --out {new}", "{prob_missing}:2:",
      "'prompt'"),
    R("distill-task-wrong-type", DISTILL + " --task {prob_type} --out {new}", "{prob_type}:2:", "'prompt'"),
    R("distill-task-duplicate-id", DISTILL + " --task {prob_dup} --out {new}", "{prob_dup}:2:", "duplicate"),
    R("distill-task-empty", DISTILL + " --task {empty} --out {new}", "{empty}", "empty"),
    R("distill-task-binary", DISTILL + " --task {garbage} --out {new}", "{garbage}"),
    R("distill-missing-teacher", "distill --teacher {missing} --student {tiny} --out {new}", "{missing}"),
    R("distill-zero-prompts", DISTILL + " --out {new} --prompts 0", "prompts"),
    R("distill-unwritable-out", DISTILL + " --out {unwritable}", "{blocker}"),
    R("distill-out-is-a-file", DISTILL + " --out {keep}", "{keep}"),
    R("distill-out-foreign-folder", DISTILL + " --out {notes}", "{notes}", "not a distillation run"),
    R("distill-resume-other-config", DISTILL + " --out {distilled} --lr 0.5", "{distilled}", "other settings"),
    R("distill-config-wrong-type", "distill --config {cfg_prompts}", "{cfg_prompts}", "'prompts'"),
    R("distill-config-directory", "distill --config {adir_toml}", "{adir_toml}"),
    # -- perplexity
    R("perplexity-not-a-run", "perplexity {emptydir} --model {tiny}", "{emptydir}", "not a run directory"),
    R("perplexity-a-file", "perplexity {results} --model {tiny}", "{results}"),
    R("perplexity-damaged-problems", "perplexity {bad_problems} --model {tiny}", "{bad_problems}/problems.parquet"),
    R("perplexity-no-texts", "perplexity {run} --model {tiny}", "{run}"),
    R("perplexity-missing-model", "perplexity {sampled} --model {missing}", "{missing}"),
    R("perplexity-zero-batch", "perplexity {sampled} --model {tiny} --batch-size 0", "batch"),
    R("perplexity-unknown-backend", "perplexity {sampled} --model {tiny} --backend nope", "nope"),
]


def _snapshot(path: Path) -> dict[str, str | None]:
    """Relative path -> sha256 (None for a folder) of everything at ``path``."""
    if path.is_file():
        return {".": hashlib.sha256(path.read_bytes()).hexdigest()}
    out: dict[str, str | None] = {".": None}
    for p in sorted(path.rglob("*")):
        out[str(p.relative_to(path))] = None if p.is_dir() else hashlib.sha256(p.read_bytes()).hexdigest()
    return out


_BAR = re.compile(r"^[^|]*\d+%\|[^|]*\| *\d+/\d+ \[")  # a tqdm bar: "label:  100%|#####| 29/29 [00:00<..."


def _visible_lines(err: str) -> list[str]:
    """stderr as a terminal shows it: a carriage return goes back to the line start and the text after
    it overwrites the text before (a cleared progress bar leaves nothing); blank lines dropped."""
    out = []
    for raw in err.split("\n"):
        shown = ""
        for part in raw.split("\r"):
            shown = part + shown[len(part):]
        if shown.strip():
            out.append(shown.rstrip())
    return out


def _error_line(rc: int, err: str) -> str:
    """The one error line; finished progress bars printed before the failure (e.g. the model's weight
    loading) are progress output, not part of the error, and are left out."""
    assert rc == 2, f"exit status {rc}, want 2; stderr:\n{err}"
    assert "Traceback" not in err, err
    lines = [ln for ln in _visible_lines(err) if not _BAR.match(ln)]
    assert len(lines) == 1, f"want one error line, got {len(lines)}:\n{err}"
    assert lines[0].startswith("rlbound") and ": error: " in lines[0], lines[0]
    return lines[0]


def _params() -> list:
    marks: Callable[[Row], list] = lambda r: [pytest.mark.xfail(strict=True, reason=r.xfail)] if r.xfail else []  # noqa: E731
    return [pytest.param(r, id=r.id, marks=marks(r)) for r in ROWS]


@pytest.mark.parametrize("row", _params())
def test_bad_input_is_one_line_exit_2_and_damages_nothing(row: Row, world, tmp_path, capsys) -> None:
    inputs = _inputs(tmp_path, world, " ".join(row.argv + row.says))
    inputs["grade_ok"] = str(tmp_path / "grade_ok.jsonl")
    Path(inputs["grade_ok"]).write_text(json.dumps({"problem_id": 1, "reference": "2", "response": "\\boxed{2}"}) + "\n")
    argv = [a.format(**inputs) for a in row.argv]
    existing = {a: _snapshot(Path(a)) for a in argv if a.startswith("/") and Path(a).exists()}
    capsys.readouterr()
    try:
        try:
            rc = main(argv)
        except SystemExit as e:  # argparse
            rc = e.code if isinstance(e.code, int) else 1
    except BaseException:  # noqa: BLE001 - an escaped exception is the failure this table looks for
        pytest.fail(f"rlbound {' '.join(argv)} raised:\n{traceback.format_exc()}")
    _, err = capsys.readouterr()
    line = _error_line(rc, err)
    for want in row.says:
        assert want.format(**inputs) in line, f"{want.format(**inputs)!r} not in {line!r}"
    for path, before in existing.items():
        assert _snapshot(Path(path)) == before, f"{path} changed"


def test_table_covers_every_command() -> None:
    commands = {r.argv[0] for r in ROWS}
    assert commands >= {"passk", "compare", "import", "export", "verify", "grade", "sample", "report", "plan", "train",
                        "distill", "perplexity"}
    assert len({r.id for r in ROWS}) == len(ROWS)
