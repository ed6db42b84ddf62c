"""The models x benchmarks grid (``rlbound study --config``), offline and at toy sizes.

The main grid has four models on two benchmarks: the shipped sandbox checkpoints ``tiny`` (base)
and ``teacher`` (distilled) on sandbox problems written by ``rlbound sandbox data``; a
random-initialised Qwen2 (sandbox tokenizer) on the hf backend, and the same folder behind
``rlbound serve`` on the openai backend, each on the sandbox problems and a GSM8K subset from
../shared; perplexity of the Qwen2 models' GSM8K responses under the hf one. Also: failed cells
(an unreachable server, a model folder that does not exist, a benchmark with a malformed row) are
recorded while the rest of the grid goes on; a grid SIGKILLed twice mid-run resumes to the same
findings.json as one run straight through; the dry run of the paper's grid; config errors.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from rlbound.cli import main
from rlbound.data.store import RunStore
from rlbound.errors import InputError
from rlbound.study.grid import GridProgress
from rlbound.study.grid_config import load_grid, parse_grid

REPO = Path(__file__).resolve().parents[2]
SHARED = REPO.parent / "shared" / "benchmarks"
GSM8K = SHARED / "gsm8k" / "test.jsonl"
EXE = str(Path(sys.executable).parent / "rlbound")
needs_shared = pytest.mark.skipif(not GSM8K.exists(), reason="../shared/benchmarks not present")
VERDICTS = {"widened", "narrowed", "inconclusive"}


def _qwen(path: Path) -> Path:
    """A random-initialised small Qwen2 with the sandbox tokenizer, saved with save_pretrained."""
    import torch
    from transformers import Qwen2Config, Qwen2ForCausalLM

    from rlbound.toy.presets import get_recipe
    from rlbound.toy.tokenizer import build_tokenizer

    tok = build_tokenizer(get_recipe("tiny").task)
    cfg = Qwen2Config(vocab_size=len(tok), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                      num_attention_heads=2, num_key_value_heads=1, max_position_embeddings=1024,
                      bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id, pad_token_id=tok.pad_token_id,
                      tie_word_embeddings=True)
    torch.manual_seed(0)
    Qwen2ForCausalLM(cfg).save_pretrained(path)
    tok.save_pretrained(path)
    return path


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """Sandbox problems, the Qwen2 folder and ``rlbound serve`` serving it as ``served``."""
    pytest.importorskip("torch")
    pytest.importorskip("transformers")
    root = tmp_path_factory.mktemp("grid")
    assert main(["sandbox", "data", "--count", "3", "--seed", "0", "--out", str(root / "sandbox.jsonl")]) == 0
    qwen = _qwen(root / "qwen")
    proc = subprocess.Popen([sys.executable, "-m", "rlbound.backends.serve", str(qwen), "--port", "0", "--name",
                             "served", "--device", "cpu", "--threads", "1"],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        line = proc.stdout.readline()  # printed once the model is loaded and the socket bound
        m = re.search(r"(http://127\.0\.0\.1:\d+/v1)", line)
        assert m, f"server did not start: {line!r}"
        yield {"root": root, "url": m.group(1), "qwen": qwen}
    finally:
        proc.kill()
        proc.wait(timeout=30)


def _config(w: dict, teacher: str = "teacher") -> str:
    return f"""
[[models]]
name = "tiny"
backend = "sandbox"
path = "tiny"
role = "base"
benchmarks = ["sandbox"]
options = {{ threads = 1 }}

[[models]]
name = "teacher"
backend = "sandbox"
path = "{teacher}"
role = "distilled"
benchmarks = ["sandbox"]
options = {{ threads = 1 }}

[[models]]
name = "qwen"
backend = "hf"
path = "qwen"
role = "base"
template = "raw"
options = {{ device = "cpu", threads = 1 }}

[[models]]
name = "served"
backend = "openai"
base_url = "{w['url']}"
role = "rl"
template = "raw"

[[benchmarks]]
name = "sandbox"
file = "sandbox.jsonl"
n = 4
temperature = 1.0
top_p = 1.0
max_tokens = 20

[[benchmarks]]
name = "gsm8k"
file = "{GSM8K}"
limit = 2
n = 2
temperature = 1.0
max_tokens = 6

[[comparisons]]
base = "tiny"
other = "teacher"

[[comparisons]]
base = "qwen"
other = "served"

[[perplexity]]
responses = ["qwen", "served"]
under = "qwen"
benchmarks = ["gsm8k"]
"""


def _run(capsys, *argv: str) -> tuple[int, str, str]:
    rc = main(list(argv))
    out, err = capsys.readouterr()
    return rc, out, err


def _summaries(out: Path) -> dict[str, int]:
    """Entries of every run's sampling_summary.json (one per sampling call that finished)."""
    return {str(p.parent.relative_to(out)): len(json.loads(p.read_text()))
            for p in sorted(out.glob("runs/*/*/sampling_summary.json"))}


@pytest.fixture(scope="module")
def grid(world, tmp_path_factory):
    """The main grid, run once through the CLI: (out folder, stdout, stderr)."""
    (world["root"] / "study.toml").write_text(_config(world))
    out = tmp_path_factory.mktemp("grid_out") / "out"
    rc = main(["study", "--config", str(world["root"] / "study.toml"), "--out", str(out)])
    assert rc == 0
    return out


@needs_shared
def test_grid_runs_every_cell_and_writes_findings(grid, world):
    found = json.loads((grid / "findings.json").read_text())
    cells = {(c["model"], c["benchmark"]): c["status"] for c in found["cells"]}
    assert cells == {(m, b): "done" for m, b in [("tiny", "sandbox"), ("teacher", "sandbox"), ("qwen", "sandbox"),
                                                 ("qwen", "gsm8k"), ("served", "sandbox"), ("served", "gsm8k")]}
    rows = found["findings"]
    assert [(r["benchmark"], r["base"], r["other"]) for r in rows] == [
        ("sandbox", "tiny", "teacher"), ("sandbox", "qwen", "served"), ("gsm8k", "qwen", "served")]
    for r in rows:  # rows of rlbound.study.findings.to_json, plus benchmark / base / other
        assert {"key", "claim", "measured", "verdict", "ci95", "tested", "numbers"} <= set(r)
        assert r["verdict"] in VERDICTS
        lo, hi = r["ci95"]
        assert r["verdict"] == ("widened" if lo > 0 else "narrowed" if hi < 0 else "inconclusive")
        assert r["numbers"]["boundary"]["verdict"] == r["verdict"]
        assert sum(r["numbers"]["coverage"].values()) == r["numbers"]["problems"]
    ks = {r["benchmark"]: r["numbers"]["boundary"]["k"] for r in rows}
    assert ks == {"sandbox": 4, "gsm8k": 2}
    for bench, n_problems, n in (("sandbox", 3, 4), ("gsm8k", 2, 2)):
        runs = {m: RunStore.open(grid / "runs" / bench / m) for m in ("qwen", "served")}
        ids, ns, _ = runs["qwen"].counts()
        assert len(ids) == n_problems and (ns == n).all()
        # rlbound serve draws exactly the hf backend's sample for each seed: the two cells agree
        texts = {m: {(s.problem_id, s.sample_index): s.text for s in st.samples()} for m, st in runs.items()}
        assert texts["qwen"] == texts["served"]
        assert runs["served"].manifest.backend == "openai" and runs["qwen"].manifest.backend == "hf"
    row = rows[2]
    assert row["numbers"]["boundary"]["diff"] == 0 and row["verdict"] == "inconclusive"
    gsm = RunStore.open(grid / "runs" / "gsm8k" / "qwen")
    assert gsm.manifest.dataset_name == "gsm8k" and {p.verifier for p in gsm.problems()} == {"math"}


@needs_shared
def test_grid_reports_perplexity_and_index(grid, world):
    for bench, base in (("sandbox", "tiny"), ("sandbox", "qwen"), ("gsm8k", "qwen")):
        page = grid / "reports" / bench / base / "report.html"
        metrics = json.loads((page.parent / "metrics.json").read_text())
        assert page.exists() and metrics["base"] == base
        assert len(metrics["findings"]) == 1 and metrics["findings"][0]["verdict"] in VERDICTS  # opened by its row
    for m in ("qwen", "served"):
        assert (grid / "runs" / "gsm8k" / m / "perplexity.parquet").exists()
        assert not (grid / "runs" / "sandbox" / m / "perplexity.parquet").exists()
    html = (grid / "index.html").read_text()
    assert html.index('id="findings"') < html.index('id="passk"') < html.index('id="table2"')
    assert html.count("served vs qwen") >= 2 and "teacher vs tiny" in html
    assert 'id="table-grid_perplexity"' in html and 'id="table-grid_coverage"' in html
    assert (grid / "figures" / "grid_passk_1.svg").exists() and "data:image/svg+xml;base64," in html
    summary = json.loads((grid / "grid.json").read_text())
    assert summary["failed"] == [] and set(summary["reports"]) == {"sandbox/tiny", "sandbox/qwen", "gsm8k/qwen"}


@needs_shared
def test_grid_rerun_reuses_cells_and_a_changed_cell_alone_is_redone(grid, world, capsys):
    config = world["root"] / "study.toml"
    before, summaries = (grid / "findings.json").read_text(), _summaries(grid)
    rc, _, err = _run(capsys, "study", "--config", str(config), "--out", str(grid))
    assert rc == 0 and "6 finished cell(s) reused" in err and "samples to draw" not in err
    assert "the pages are kept" in err  # nothing the reports show changed
    assert (grid / "findings.json").read_text() == before and _summaries(grid) == summaries
    # another teacher folder: only the teacher's cell is invalidated (moved aside) and sampled again
    shutil.copytree(REPO / "src" / "rlbound" / "toy" / "checkpoints" / "teacher", world["root"] / "teacher2")
    changed = world["root"] / "study2.toml"
    changed.write_text(_config(world, teacher="teacher2"))
    rc, _, err = _run(capsys, "study", "--config", str(changed), "--out", str(grid))
    assert rc == 0
    assert re.search(r"cell teacher x sandbox: settings changed: model .*teacher2.*moved to .*stale", err), err
    assert "5 finished cell(s) reused" in err and err.count("samples to draw") == 1
    after = _summaries(grid)
    assert after == summaries  # the new teacher run has one entry, as the old one had; the others are untouched
    assert RunStore.open(grid / "runs" / "sandbox" / "teacher").manifest.model == str((world["root"] / "teacher2").resolve())
    assert len(list((grid / "stale" / "sandbox").glob("teacher-*"))) == 1


def test_failed_cells_are_recorded_and_the_rest_goes_on(world, tmp_path, capsys):
    (tmp_path / "bad.jsonl").write_text('{"question": "1+1?", "answer": "#### 2"}\n{"question": "2+2?"}\n')
    config = tmp_path / "broken.toml"
    config.write_text(f"""
[[models]]
name = "tiny"
backend = "sandbox"
path = "tiny"
role = "base"
options = {{ threads = 1 }}

[[models]]
name = "gone"
backend = "openai"
base_url = "http://127.0.0.1:9/v1"
options = {{ max_retries = 0, request_timeout = 2.0 }}

[[models]]
name = "nowhere"
backend = "hf"
path = "{tmp_path / 'no-such-model'}"

[[benchmarks]]
name = "sandbox"
file = "{world['root'] / 'sandbox.jsonl'}"
n = 2
max_tokens = 12

[[benchmarks]]
name = "broken"
file = "bad.jsonl"
field_map = {{ prompt = "question", reference = "answer" }}
n = 2
""")
    out = tmp_path / "out"
    rc, stdout, err = _run(capsys, "study", "--config", str(config), "--out", str(out))
    assert rc == 1  # some cells failed
    found = json.loads((out / "findings.json").read_text())
    status = {(c["model"], c["benchmark"]): c for c in found["cells"]}
    assert status[("tiny", "sandbox")]["status"] == "done"
    assert "cannot reach" in status[("gone", "sandbox")]["error"] and "127.0.0.1:9" in status[("gone", "sandbox")]["error"]
    assert "not found" in status[("nowhere", "sandbox")]["error"]
    for m in ("tiny", "gone", "nowhere"):  # the malformed row fails the benchmark's cells, naming file and line
        assert status[(m, "broken")]["status"] == "failed" and "bad.jsonl:2" in status[(m, "broken")]["error"]
    assert len(found["findings"]) == 4 and all(r["verdict"] == "inconclusive" and r["error"] for r in found["findings"])
    assert "5 failed" in stdout and "gone x sandbox" in stdout and "nowhere x broken" in stdout
    assert (out / "reports" / "sandbox" / "tiny" / "report.html").exists()  # the finished cell's report is whole
    html = (out / "index.html").read_text()
    assert "FAILED gone x sandbox" in html and 'id="table-grid_cells"' in html
    assert RunStore.open(out / "runs" / "sandbox" / "tiny").counts()[1].sum() == 6


def _sandbox_grid(tmp_path: Path) -> Path:
    config = tmp_path / "kill.toml"
    config.write_text("""
[[models]]
name = "tiny"
backend = "sandbox"
path = "tiny"
role = "base"
options = { threads = 1, batch_size = 2 }

[[models]]
name = "teacher"
backend = "sandbox"
path = "teacher"
role = "distilled"
options = { threads = 1, batch_size = 2 }

[[benchmarks]]
name = "easy"
sandbox = { preset = "tiny", count = 3, seed = 0, difficulty = "2:1" }
n = 4
temperature = 1.0
top_p = 1.0
max_tokens = 20

[[benchmarks]]
name = "hard"
sandbox = { preset = "tiny", count = 3, seed = 1, difficulty = "4:1" }
n = 4
temperature = 1.0
top_p = 1.0
max_tokens = 20
""")
    return config


def _kill_when(proc: subprocess.Popen, ready, timeout: float = 300.0) -> None:
    end = time.time() + timeout
    while not ready():
        assert proc.poll() is None, "the grid ended before it could be killed"
        assert time.time() < end, "timed out waiting for the grid"
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)


def _parts(out: Path) -> dict[str, int]:
    return {str(p.relative_to(out)): len(list(p.glob("part-*.parquet"))) for p in out.glob("runs/*/*/samples")}


def test_grid_killed_twice_resumes_to_the_same_findings(tmp_path, capsys):
    pytest.importorskip("torch")
    config = _sandbox_grid(tmp_path)
    straight = tmp_path / "straight"
    assert main(["study", "--config", str(config), "--out", str(straight)]) == 0
    capsys.readouterr()
    out = tmp_path / "killed"
    env = {**os.environ, "RLBOUND_CACHE": str(tmp_path / "cache")}
    cmd = [EXE, "study", "--config", str(config), "--out", str(out)]
    # first kill: inside the first cell, once it has written a batch
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    _kill_when(proc, lambda: sum(_parts(out).values()) >= 1)
    # second kill: once a later cell has started writing
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    first = dict(_parts(out))
    _kill_when(proc, lambda: any(v and k not in first for k, v in _parts(out).items())
               or any(v > first.get(k, 0) + 1 for k, v in _parts(out).items()))
    assert not (out / "findings.json").exists()
    rc, _, err = _run(capsys, *cmd[1:])
    assert rc == 0, err
    assert (out / "findings.json").read_text() == (straight / "findings.json").read_text()
    for run in out.glob("runs/*/*"):  # nothing sampled twice: each cell holds exactly P x n samples
        store = RunStore.open(run)
        assert store.sample_table().num_rows == 3 * 4 and not store.missing_cells(4) and not store.unverified()
        ref = RunStore.open(straight / run.relative_to(out))
        assert {(s.problem_id, s.sample_index): s.text for s in store.samples()} == \
            {(s.problem_id, s.sample_index): s.text for s in ref.samples()}


def test_paper_grid_dry_run_is_fast_and_loads_nothing(tmp_path, capsys):
    out = tmp_path / "paper"
    argv = ("study", "--config", str(REPO / "examples" / "paper-grid.toml"), "--out", str(out), "--dry-run",
            "--data-dir", str(SHARED))
    t0 = time.perf_counter()
    rc, stdout, _ = _run(capsys, *argv)
    seconds = time.perf_counter() - t0
    assert rc == 0 and seconds < 5.0, f"dry run took {seconds:.1f} s"
    assert not out.exists()  # nothing written
    assert "4 models x 6 benchmarks: 24 cells; 12 comparison x benchmark findings" in stdout
    cells = [ln for ln in stdout.splitlines() if re.match(r"^\S+ x \S+\s+vllm\s", ln)]
    assert len(cells) == 24
    if GSM8K.exists():
        math500 = next(ln for ln in cells if ln.startswith("qwen2.5-7b x math500 "))
        assert re.search(r"\s500\s+256\s+128k\s+128k\s", math500), math500
        assert "cannot be read" not in stdout
    assert "total:" in stdout and "disk" in stdout
    # the plan itself imports no model library (the CLI's parser may: other commands register there)
    code = ("import sys; from rlbound.study.grid_config import load_grid, with_overrides; "
            "from rlbound.study.grid_plan import plan_grid, plan_lines; "
            f"spec = with_overrides(load_grid({str(REPO / 'examples' / 'paper-grid.toml')!r}), data_dir={str(SHARED)!r}); "
            f"lines = plan_lines(spec, plan_grid(spec, {str(out)!r}), 'x'); "
            "print(len(lines), sorted(m for m in ('torch', 'transformers', 'vllm') if m in sys.modules))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0 and proc.stdout.strip().endswith("[]"), proc.stdout + proc.stderr


def test_sandbox_grid_example_plans(tmp_path, capsys):
    spec = load_grid(REPO / "examples" / "sandbox-grid.toml")
    assert len(spec.benchmarks) >= 2 and {m.backend for m in spec.models} == {"sandbox"}
    rc, stdout, _ = _run(capsys, "study", "--config", str(REPO / "examples" / "sandbox-grid.toml"), "--out",
                         str(tmp_path / "o"), "--dry-run")
    assert rc == 0 and "cells" in stdout and not (tmp_path / "o").exists()


def test_cli_overrides_narrow_and_change_the_grid(tmp_path, capsys):
    config = _sandbox_grid(tmp_path)
    rc, stdout, _ = _run(capsys, "study", "--config", str(config), "--out", str(tmp_path / "o"), "--dry-run",
                         "--benchmarks", "easy", "--models", "tiny", "--n", "8", "--limit", "2")
    assert rc == 0 and "1 models x 1 benchmarks: 1 cells; 0 comparison" in stdout
    assert re.search(r"tiny x easy\s+sandbox\s+2\s+8\s+16\s", stdout), stdout
    rc, _, err = _run(capsys, "study", "--config", str(config), "--out", str(tmp_path / "o"), "--models", "nobody")
    assert rc == 2 and "no model named 'nobody'" in err
    rc, _, err = _run(capsys, "study", "--config", str(config), "--preset", "smoke", "--out", str(tmp_path / "o"))
    assert rc == 2 and "--preset" in err


@pytest.mark.parametrize("toml, message", [
    ('[[models]]\nname="a"\nbackend="hf"\npath="x"\ncolour="red"\n[[benchmarks]]\nname="b"\nfile="f"\n',
     "field 'models[0].colour': unknown key"),
    ('[[models]]\nname="a"\nbackend="tpu"\npath="x"\n[[benchmarks]]\nname="b"\nfile="f"\n',
     "field 'models[0].backend': unknown backend 'tpu'"),
    ('[[models]]\nname="a"\nbackend="hf"\npath="x"\nrole="base"\n[[models]]\nname="a"\nbackend="hf"\npath="y"\n'
     '[[benchmarks]]\nname="b"\nfile="f"\n', "duplicate model name 'a'"),
    ('[[models]]\nname="a"\nbackend="hf"\npath="x"\n[[benchmarks]]\nname="b"\nfile="f"\nn=0\n',
     "field 'benchmarks[0].n': n must be >= 1"),
    ('[[models]]\nname="a"\nbackend="hf"\npath="x"\n[[benchmarks]]\nname="b"\nfile="f"\n'
     '[[comparisons]]\nbase="a"\nother="z"\n', "field 'comparisons[0].other': no model named 'z'"),
    ('[[models]]\nname="a"\nbackend="hf"\npath="x"\nrole="base"\n[[models]]\nname="c"\nbackend="hf"\npath="y"\n'
     '[[benchmarks]]\nname="b"\nfile="f"\n[[perplexity]]\nresponses=["c"]\nunder="a"\n'
     '[[perplexity]]\nresponses=["c"]\nunder="c"\n', "scored under 2 models"),
    ('[[models]]\nname="a"\nbackend="openai"\n[[benchmarks]]\nname="b"\nfile="f"\n', "needs base_url"),
    ('[[models]]\nname="a"\nbackend="hf"\npath="x"\n[[benchmarks]]\nname="b"\n', "give a file"),
    ('[[models]]\nname="a/b"\nbackend="hf"\npath="x"\n[[benchmarks]]\nname="b"\nfile="f"\n', "names are letters"),
])
def test_config_errors_name_the_file_and_key(tmp_path, toml, message):
    import tomllib

    with pytest.raises(InputError) as e:
        parse_grid(tomllib.loads(toml), "grid.toml", tmp_path)
    assert message in str(e.value) and str(e.value).startswith("grid.toml: ")


def test_config_error_is_one_cli_line(tmp_path, capsys):
    bad = tmp_path / "bad.toml"
    bad.write_text('[[models]]\nname = "a"\nbackend = "hf"\npath = "x"\nrole = "base"\ntemplate = "nonsense{"\n'
                   '[[benchmarks]]\nname = "b"\nfile = "f.jsonl"\n')
    rc, _, err = _run(capsys, "study", "--config", str(bad), "--out", str(tmp_path / "o"))
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert rc == 2 and len(lines) == 1 and lines[0].startswith("rlbound: error: ") and "cell a x b" in lines[0]
    assert not (tmp_path / "o" / "runs").exists()


def test_progress_line_has_rates_and_eta():
    lines: list[str] = []

    class C:
        label = "m x b"
        status = "done"
        error = None

    prog = GridProgress(cells_total=3, cells_done=1, cells_settled=1, samples_left=30, log=lines.append, every=0.0)
    prog.start(C(), 10)
    time.sleep(0.05)
    prog.add(5)
    prog.end(C())
    assert lines[0] == "cell 2/3 m x b: 10 samples to draw"
    assert re.match(r"cells done 1/3 \| m x b: 5/10 samples, [\d.]+ samples/s, ETA \d+s \| grid: 5 sampled, 25 left, "
                    r"[\d.]+ samples/s, ETA \d+s$", lines[1]), lines[1]
    assert lines[2].startswith("cell m x b done (5 samples in ") and lines[2].endswith("cells done 2/3")
