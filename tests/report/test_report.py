"""rlbound report: analyses of Yue et al. 2025 (arXiv 2504.13837) as figures and one HTML page.

Three kinds of runs:
- ``real``: the 800 graded responses of a real model in eval_rm_maj_example (100 MATH problems x 8),
  imported as is, and a second honest run DERIVED from it: the first 4 of each problem's 8 samples
  (label "first4"), i.e. the same model sampled with n = 4;
- ``syn``: synthetic runs whose counts are written by hand so every number has a known answer.
"""

from __future__ import annotations

import dataclasses
import json
import re
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from rlbound.data.importers import import_to_store
from rlbound.data.store import RunStore
from rlbound.errors import InputError
from rlbound.metrics.compare import accuracy_histogram, compare_runs
from rlbound.metrics.passk import default_ks, pass_at_k_matrix
from rlbound.metrics.stats import bootstrap_ci
from rlbound.metrics.variants import cover_at_tau, g_pass_at_k, maj_at_k, mg_pass_at_k
from rlbound.report.analyses.coverage import coverage_table
from rlbound.report.analyses.curves import N_BOOT, SEED, CurveStats
from rlbound.report.analyses.distributions import percentile_in
from rlbound.report.analyses.efficiency import efficiency_table
from rlbound.report.analyses.extra import COVER_TAUS, MAJ_RESAMPLES
from rlbound.report.analyses.passk import passk_curves
from rlbound.report.build import build_report
from rlbound.report.inputs import read_token_entropy
from rlbound.types import Problem, RunManifest, Sample, Verdict

SHARED = Path(__file__).resolve().parents[2] / ".." / "shared"
MATH_COT = SHARED / "benchmarks" / "eval_rm_maj_example" / "math_cot_100.jsonl"


# ------------------------------------------------------------------------------------------------
# helpers
# ------------------------------------------------------------------------------------------------


class _Page(HTMLParser):
    """Collects tags, attributes and text of the report page."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data):
        self.text.append(data)


def parse_page(path: Path) -> _Page:
    p = _Page()
    p.feed(path.read_text(encoding="utf-8"))
    p.close()
    return p


def check_self_contained(out: Path) -> _Page:
    """The page parses, embeds one <img> per figure file pair, references nothing external."""
    page = parse_page(out / "report.html")
    imgs = [a for t, a in page.tags if t == "img"]
    pngs = sorted(p.stem for p in (out / "figures").glob("*.png"))
    svgs = sorted(p.stem for p in (out / "figures").glob("*.svg"))
    assert pngs == svgs
    assert len(imgs) == len(pngs) > 0
    for a in imgs:
        assert a["src"].startswith("data:image/svg+xml;base64,")
    for tag, attrs in page.tags:
        assert tag not in ("script", "link", "iframe", "object", "embed"), tag
        for name in ("src", "href", "srcset", "action", "data"):
            v = attrs.get(name) or ""
            assert not re.match(r"\s*(https?:|//|ftp:)", v, re.I), (tag, name, v[:80])
    raw = (out / "report.html").read_text(encoding="utf-8")
    assert "@import" not in raw and "url(" not in raw
    # every figure key in metrics.json has an embedded figure with that id
    m = json.loads((out / "metrics.json").read_text())
    fig_ids = sorted(a["id"][4:] for t, a in page.tags if t == "figure")
    assert fig_ids == sorted(m["figures"]) == pngs
    return page


def make_run(path: Path, model: str, grid: dict[str, list[bool]], *, steps: dict[str, list[bool]] | None = None,
             extra: dict | None = None) -> RunStore:
    """A run whose verdicts are written by hand (extracted answer 'A' when correct, else 'B')."""
    n = len(next(iter(grid.values())))
    problems = [Problem(id=pid, prompt=f"synthetic problem {pid}", reference="A") for pid in grid]
    manifest = RunManifest(model=model, backend="synthetic", sampling={"n": n, "temperature": 0.6, "top_p": 0.95},
                           prompt_template={"name": "zero-shot", "text": "Q: {prompt}\nA:"},
                           dataset_name="synthetic-4", dataset_hash="ab" * 32, extra=extra or {})
    store = RunStore.create(path, manifest, problems)
    store.add_samples([Sample(pid, i, seed=i, text=f"answer {i}") for pid, row in grid.items() for i in range(len(row))])
    rows = []
    for pid, row in grid.items():
        for i, ok in enumerate(row):
            st = None if steps is None else steps.get(pid, [False] * len(row))[i]
            rows.append((pid, i, Verdict(correct=ok, status="correct" if ok else "wrong", extracted="A" if ok else "B",
                                         steps_correct=st)))
    store.add_verdicts(rows)
    return store


def write_parquet(path: Path, cols: dict) -> None:
    pq.write_table(pa.table(cols), path)


T, F = True, False
SYN_BASE = {"p0": [F, F, F, F], "p1": [T, F, F, F], "p2": [T, T, T, T], "p3": [T, T, F, F]}
SYN_RL100 = {"p0": [T, F, F, F], "p1": [T, F, F, F], "p2": [T, T, T, T], "p3": [T, F, F, F]}
SYN_RL200 = {"p0": [T, T, T, T], "p1": [F, F, F, F], "p2": [T, T, T, T], "p3": [F, F, F, F]}
SYN_RL200_STEPS = {"p0": [T, T, F, F], "p2": [T, F, F, F]}


# ------------------------------------------------------------------------------------------------
# fixtures: each report is built once per module
# ------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def real(tmp_path_factory):
    if not MATH_COT.is_file():
        pytest.skip(f"shared benchmark data not found at {MATH_COT}")
    root = tmp_path_factory.mktemp("real")
    base = import_to_store(MATH_COT, root / "base")
    # An honest second run: the first 4 of each problem's 8 real samples (n = 4), kept as its own run.
    m = dataclasses.replace(base.manifest, sampling={"n": 4}, extra={**base.manifest.extra, "derived": "first 4 of 8"})
    first4 = RunStore.create(root / "first4", m, base.problems())
    first4.add_samples([s for s in base.samples() if s.sample_index < 4])
    first4.add_verdicts([(pid, i, v) for (pid, i), v in base.verdicts().items() if i < 4])
    res = build_report([root / "base", root / "first4"], labels="base,first4", out_dir=root / "report", progress=False)
    return root, res


@pytest.fixture(scope="module")
def syn(tmp_path_factory):
    root = tmp_path_factory.mktemp("syn")
    make_run(root / "base", "syn-base", SYN_BASE)
    make_run(root / "rl100", "syn-rl", SYN_RL100, extra={"train_run": "grpo-syn", "train_step": 100})
    make_run(root / "rl200", "syn-rl", SYN_RL200, steps=SYN_RL200_STEPS,
             extra={"train_run": "grpo-syn", "train_step": 200})
    # perplexity of responses under the base model: base's own are 1..16, rl200's all 2.0;
    # rows scored by another model must be ignored; rl100's file is malformed (no scorer column).
    write_parquet(root / "base" / "perplexity.parquet", {
        "problem_id": ["p0"] * 18, "sample_index": list(range(18)),
        "scorer": ["syn-base"] * 16 + ["someone-else"] * 2, "n_tokens": [10] * 18,
        "sum_logprob": [-10 * np.log(v) for v in list(range(1, 17)) + [100, 100]],
        "perplexity": [float(v) for v in range(1, 17)] + [100.0, 100.0]})
    write_parquet(root / "rl200" / "perplexity.parquet", {
        "problem_id": ["p0"] * 16, "sample_index": list(range(16)), "scorer": ["syn-base"] * 16,
        "n_tokens": [5] * 16, "sum_logprob": [-5 * np.log(2.0)] * 16, "perplexity": [None] * 16})
    write_parquet(root / "rl100" / "perplexity.parquet", {"problem_id": ["p0"], "sample_index": [0],
                                                          "perplexity": [3.0]})
    # token log-probabilities: base responses [-1,-1] and [-2]*4; rl200 [-0.25,-0.75]
    write_parquet(root / "base" / "token_logprobs.parquet", {
        "problem_id": ["p0", "p1"], "sample_index": [0, 0], "logprobs": [[-1.0, -1.0], [-2.0] * 4]})
    write_parquet(root / "rl200" / "token_logprobs.parquet", {
        "problem_id": ["p0"], "sample_index": [0], "logprobs": [[-0.25, -0.75]]})
    res = build_report([root / "rl100", root / "base", root / "rl200"], labels=["rl100", "base", "rl200"], base="base",
                       out_dir=root / "report", extra_metrics=True, progress=False)
    return root, res


# ------------------------------------------------------------------------------------------------
# real runs
# ------------------------------------------------------------------------------------------------


def test_real_first4_is_the_first_four_samples(real):
    root, _ = real
    rows = [json.loads(line) for line in MATH_COT.read_text(encoding="utf-8").splitlines() if line.strip()]
    ids, n, c = RunStore.open(root / "first4").counts()
    want = {str(r["idx"]): sum(bool(s) for s in r["score"][:4]) for r in rows}
    assert (n == 4).all()
    assert dict(zip(ids, c.tolist())) == want


def test_real_page_is_self_contained(real):
    root, res = real
    assert res.html_path == root / "report" / "report.html"
    page = check_self_contained(root / "report")
    text = " ".join(page.text)
    m = json.loads(res.metrics_path.read_text())
    # configuration of every run is in the page
    for lab in ("base", "first4"):
        mf = m["runs"][lab]["manifest"]
        assert mf["dataset_hash"] in text and mf["model"] in text and mf["rlbound_version"] in text
    assert "n=4" in text  # first4's sampling params
    # runs without side files get a one-line note, not a crash
    assert "no perplexity.parquet" in text and "no token log-probabilities" in text and "steps_correct" in text
    assert m["perplexity"] is None and m["entropy"] is None and m["training"] is None and m["cot_passk"] is None


def test_real_metrics_equal_the_metric_functions(real):
    root, res = real
    m = json.loads(res.metrics_path.read_text())
    assert m["labels"] == ["base", "first4"] and m["K"] == 4
    for lab in ("base", "first4"):
        ids, n, c = RunStore.open(root / lab).counts()
        ks = sorted(set(default_ks(int(n.min()))) | {1, 4})
        mean, low, high = bootstrap_ci(pass_at_k_matrix(n, c, ks, ids), n_boot=N_BOOT, seed=SEED)
        got = m["passk"][lab]
        assert got["ks"] == ks
        np.testing.assert_allclose(got["mean"], mean, rtol=0, atol=1e-15)
        np.testing.assert_allclose(got["ci95_low"], low, rtol=0, atol=1e-15)
        np.testing.assert_allclose(got["ci95_high"], high, rtol=0, atol=1e-15)
        labels, counts = accuracy_histogram(n, c)
        assert m["histograms"][lab] == {"labels": list(labels), "counts": counts.tolist()}
    ib, nb, cb = RunStore.open(root / "base").counts()
    io, no, co = RunStore.open(root / "first4").counts()
    direct = json.loads(json.dumps(compare_runs(ib, nb, cb, io, no, co, ks=[1, 2, 4], n_boot=N_BOOT, seed=SEED)
                                   .to_json_dict()))
    got = {k: v for k, v in m["comparisons"]["first4"].items() if k not in ("gap_K", "gap_at_K")}
    assert got == direct
    # Table 2 numbers: pass@1 / pass@4 per run and the gap pass@4(base) - pass@1(first4)
    rows = {r["run"]: r for r in m["table2"]["rows"]}
    assert rows["first4"]["pass_at_1"] == pytest.approx(float((co / no).mean()), abs=1e-15)
    assert rows["first4"]["efficiency_gap"] == pytest.approx(direct["efficiency_gap"], abs=1e-15)
    assert rows["base"]["pass_at_K"] == pytest.approx(float(pass_at_k_matrix(nb, cb, [4]).mean()), abs=1e-15)


def test_real_table2_cells_match_metrics(real):
    root, res = real
    m = json.loads(res.metrics_path.read_text())
    html = res.html_path.read_text(encoding="utf-8")
    table = html[html.index('id="table-table2"'):]
    table = table[: table.index("</table>")]
    cells = re.findall(r"<td[^>]*>(.*?)</td>", table)
    row = next(r for r in m["table2"]["rows"] if r["run"] == "first4")
    i = next(j for j, cell in enumerate(cells) if cell.endswith("first4"))
    assert cells[i + 1] == f"{100 * row['pass_at_1']:.1f}"
    assert cells[i + 3] == f"{100 * row['pass_at_K']:.1f}"
    assert cells[i + 5] == f"{100 * row['efficiency_gap']:.1f}"


# ------------------------------------------------------------------------------------------------
# synthetic runs: numbers known by hand
# ------------------------------------------------------------------------------------------------


def test_syn_known_numbers(syn):
    root, res = syn
    m = json.loads(res.metrics_path.read_text())
    assert m["labels"] == ["base", "rl100", "rl200"]  # base first whatever the order given
    assert m["K"] == 4
    pk = {lab: dict(zip(v["ks"], v["mean"])) for lab, v in m["passk"].items()}
    # base: c = 0, 1, 4, 2 of n = 4
    assert pk["base"][1] == pytest.approx(0.4375)
    assert pk["base"][2] == pytest.approx((0 + 0.5 + 1 + (1 - 1 / 6)) / 4)
    assert pk["base"][4] == pytest.approx(0.75)
    assert pk["rl200"][1] == pytest.approx(0.5) and pk["rl200"][4] == pytest.approx(0.5)
    assert pk["rl100"][1] == pytest.approx(0.4375) and pk["rl100"][4] == pytest.approx(1.0)
    cmp = m["comparisons"]["rl200"]
    assert cmp["crossing_k"] == 2  # rl200 leads at k=1 (0.5 > 0.4375), base catches up at k=2
    assert cmp["gap_at_K"] == pytest.approx(0.25)  # 0.75 - 0.5
    assert cmp["coverage"] == {"both": ["p2"], "only_base": ["p1", "p3"], "only_other": ["p0"], "neither": []}
    assert m["comparisons"]["rl100"]["crossing_k"] is None  # rl100 never leads
    rows = {r["run"]: r for r in m["table2"]["rows"]}
    assert rows["rl200"]["efficiency_gap"] == pytest.approx(0.25)
    assert rows["rl100"]["efficiency_gap"] == pytest.approx(0.3125)
    assert rows["base"]["efficiency_gap"] == pytest.approx(0.75 - 0.4375)
    hist = dict(zip(m["histograms"]["base"]["labels"], m["histograms"]["base"]["counts"]))
    assert hist["0"] == 1 and hist["(0.2,0.3]"] == 1 and hist["(0.4,0.5]"] == 1 and hist["1"] == 1
    assert sum(hist.values()) == 4


def test_syn_perplexity_entropy_training_cot(syn):
    root, res = syn
    m = json.loads(res.metrics_path.read_text())
    p = m["perplexity"]
    assert p["scorer"] == "syn-base"
    assert p["runs"]["base"]["n_responses"] == 16 and p["runs"]["base"]["median"] == pytest.approx(8.5)
    assert p["runs"]["base"]["median_percentile_in_base"] == pytest.approx(50.0)
    # rl200: exp(-sum_logprob/n_tokens) = 2.0 for all 16; in base's 1..16: 1 below, 1 equal -> 1.5/16
    assert p["runs"]["rl200"]["median"] == pytest.approx(2.0)
    assert p["runs"]["rl200"]["median_percentile_in_base"] == pytest.approx(100 * 1.5 / 16)
    assert "rl100" not in p["runs"]
    assert any("rl100" in t and "perplexity.parquet skipped" in t and "scorer" in t for t in res.notes)
    e = m["entropy"]["runs"]
    assert e["base"]["mean_per_response"] == pytest.approx(1.5) and e["base"]["mean_over_tokens"] == pytest.approx(10 / 6)
    assert e["rl200"]["mean_over_tokens"] == pytest.approx(0.5)
    assert set(e) == {"base", "rl200"}
    tr = m["training"]["groups"]["grpo-syn"]
    assert [(x["label"], x["step"]) for x in tr] == [("rl100", 100), ("rl200", 200)]
    assert tr[0]["pass_at_K"] == pytest.approx(1.0) and tr[1]["pass_at_1"] == pytest.approx(0.5)
    cot = m["cot_passk"]
    assert set(cot) == {"rl200"}
    assert dict(zip(cot["rl200"]["ks"], cot["rl200"]["mean"]))[1] == pytest.approx((0.5 + 0 + 0.25 + 0) / 4)
    c_steps = np.array([2, 0, 1, 0])
    mean, low, high = bootstrap_ci(pass_at_k_matrix([4] * 4, c_steps, cot["rl200"]["ks"]), n_boot=N_BOOT, seed=SEED)
    np.testing.assert_allclose(cot["rl200"]["mean"], mean, atol=1e-15)
    np.testing.assert_allclose(cot["rl200"]["ci95_low"], low, atol=1e-15)
    assert sorted(m["figures"]) == sorted(["passk", "accuracy_hist", "perplexity", "training", "cot_passk",
                                           "extra_metrics", "entropy"])
    check_self_contained(root / "report")


def test_syn_extra_metrics_equal_the_metric_functions(syn):
    root, res = syn
    x = json.loads(res.metrics_path.read_text())["extra_metrics"]
    assert x["g_pass_k"] == 4
    for lab, grid in (("base", SYN_BASE), ("rl200", SYN_RL200)):
        n = np.array([len(v) for v in grid.values()])
        c = np.array([sum(v) for v in grid.values()])
        taus = x["g_pass_at_k"][lab]["taus"]
        assert taus == [0.25, 0.5, 0.75, 1.0]
        want = [float(g_pass_at_k(n, c, 4, t).mean()) for t in taus]
        np.testing.assert_allclose(x["g_pass_at_k"][lab]["mean"], want, atol=1e-15)
        assert x["mg_pass_at_k"][lab] == pytest.approx(float(mg_pass_at_k(n, c, 4).mean()), abs=1e-15)
        np.testing.assert_allclose(x["cover_at_tau"][lab]["values"], cover_at_tau(n, c, COVER_TAUS), atol=0)
        answers = [["A" if ok else "B" for ok in v] for v in grid.values()]
        ks = x["maj_at_k"][lab]["ks"]
        want = [float(maj_at_k(answers, list(grid.values()), k, n_resamples=MAJ_RESAMPLES, seed=SEED).mean())
                for k in ks]
        np.testing.assert_allclose(x["maj_at_k"][lab]["mean"], want, atol=1e-15)
    # hand check: base G-Pass@4 at tau = 1 needs all 4 correct: only p2 -> 0.25
    assert x["g_pass_at_k"]["base"]["mean"][-1] == pytest.approx(0.25)


# ------------------------------------------------------------------------------------------------
# input errors, notes, reruns
# ------------------------------------------------------------------------------------------------


def test_single_run_gets_notes_not_errors(tmp_path):
    make_run(tmp_path / "only", "syn-base", SYN_BASE)
    res = build_report([tmp_path / "only"], out_dir=tmp_path / "rep", progress=False)
    m = json.loads(res.metrics_path.read_text())
    assert m["labels"] == ["only"] and m["comparisons"] == {}
    assert any("only one run" in t for t in res.notes)
    text = " ".join(check_self_contained(tmp_path / "rep").text)
    assert "Coverage needs a second run" in text


@pytest.mark.parametrize("kwargs, match", [
    ({"labels": "a"}, "1 labels given for 2 runs"),
    ({"labels": "a,a"}, "unique"),
    ({"base": "nope"}, "base 'nope'"),
    ({"ks": [1, 8]}, "k=8 exceeds n=4"),
])
def test_bad_input_raises_input_error(tmp_path, kwargs, match):
    make_run(tmp_path / "a", "syn-base", SYN_BASE)
    make_run(tmp_path / "b", "syn-rl", SYN_RL200)
    with pytest.raises(InputError, match=match):
        build_report([tmp_path / "a", tmp_path / "b"], out_dir=tmp_path / "rep", progress=False, **kwargs)
    assert not (tmp_path / "rep").exists()  # nothing written on bad input


def test_missing_run_dir_and_out_is_a_file(tmp_path):
    with pytest.raises(InputError, match="no such run directory"):
        build_report([tmp_path / "nope"], out_dir=tmp_path / "rep", progress=False)
    make_run(tmp_path / "a", "syn-base", SYN_BASE)
    (tmp_path / "file").write_text("keep me")
    with pytest.raises(InputError, match="not a directory"):
        build_report([tmp_path / "a"], out_dir=tmp_path / "file", progress=False)
    assert (tmp_path / "file").read_text() == "keep me"


def test_rebuild_drops_stale_figures_and_keeps_other_files(tmp_path):
    make_run(tmp_path / "a", "syn-base", SYN_BASE)
    make_run(tmp_path / "b", "syn-rl", SYN_RL200)
    write_parquet(tmp_path / "a" / "token_logprobs.parquet", {"problem_id": ["p0"], "sample_index": [0],
                                                             "logprobs": [[-1.0, -0.5]]})
    out = tmp_path / "rep"
    build_report([tmp_path / "a", tmp_path / "b"], out_dir=out, progress=False)
    assert (out / "figures" / "entropy.svg").is_file()
    (out / "notes.txt").write_text("mine")
    (tmp_path / "a" / "token_logprobs.parquet").unlink()
    build_report([tmp_path / "a", tmp_path / "b"], out_dir=out, progress=False)
    assert not (out / "figures" / "entropy.svg").exists() and not (out / "figures" / "entropy.png").exists()
    assert (out / "notes.txt").read_text() == "mine"
    check_self_contained(out)
    assert not [p for p in out.rglob(".tmp-*")]


def test_token_entropy_reader_rejects_positive_logprobs(tmp_path):
    make_run(tmp_path / "a", "syn-base", SYN_BASE)
    write_parquet(tmp_path / "a" / "token_logprobs.parquet", {"problem_id": ["p0"], "sample_index": [0],
                                                             "logprobs": [[-1.0, 0.7]]})
    with pytest.raises(InputError, match="<= 0"):
        read_token_entropy(tmp_path / "a")
    assert read_token_entropy(tmp_path / "missing") is None


# ------------------------------------------------------------------------------------------------
# analyses (pure)
# ------------------------------------------------------------------------------------------------


def test_percentile_in_and_coverage_table():
    assert percentile_in([1, 2, 3, 4], 2) == pytest.approx(37.5)
    assert percentile_in([1, 2, 3, 4], 0) == 0.0 and percentile_in([1, 2, 3, 4], 9) == 100.0
    t = coverage_table({"both": ["a", "b"], "only_base": ["c"], "only_other": [], "neither": ["d"]}, "base", "rl")
    assert [r[:2] for r in t.rows] == [("both solve", 2), ("base only", 1), ("rl only", 0), ("neither", 1)]
    assert [r[2] for r in t.rows] == [0.5, 0.25, 0.0, 0.25]
    assert ("both solve (2): problem ids", ("a", "b")) in t.details


def test_passk_curves_marks_crossing_on_log2_axis():
    s = {"b": CurveStats.of([1, 2, 4], [0.2, 0.5, 0.9]), "r": CurveStats.of([1, 2, 4], [0.4, 0.5, 0.6])}
    fig = passk_curves(s, {"r": {"crossing_k": 2, "crossing_k_ci": [2, 4]}}, "b")
    (panel,) = fig.panels
    assert [c.label for c in panel.curves] == ["b", "r"] and panel.log2_x and panel.x_range == (1.0, 4.0)
    (mk,) = panel.markers
    assert (mk.label, mk.x, mk.y, mk.x_low, mk.x_high) == ("r", 2.0, 0.5, 2.0, 4.0)
    t = efficiency_table(s, 4, "b")
    assert [r[0] for r in t.rows] == ["b", "r"] and t.rows[1][5] == pytest.approx(0.9 - 0.4)


# ------------------------------------------------------------------------------------------------
# the answer first: findings table, configuration last
# ------------------------------------------------------------------------------------------------


def test_report_opens_with_the_findings_and_ends_with_the_configuration(real, syn):
    for _root, res in (real, syn):
        html = res.html_path.read_text(encoding="utf-8")
        m = json.loads(res.metrics_path.read_text())
        first_section = re.search(r'<section id="([^"]+)"', html).group(1)
        assert first_section == "findings"
        assert html.index('id="findings"') < html.index("<figure") < html.index('id="config"')
        sections = re.findall(r'<section id="([^"]+)"', html)
        assert sections[-1] == "config"
        # without study findings: every comparison's boundary verdict with its interval, from compare_runs
        bounds = [f for f in m["findings"] if "boundary at pass@" in f["finding"]]
        assert len(bounds) == len(m["comparisons"])
        for f in bounds:
            label = f["finding"].split(" vs ")[0]
            b = m["comparisons"][label]["boundary"]
            assert f["verdict"] == b["verdict"] and f["ci95"] == b["ci95"]
    # the first four of each problem's eight samples against all eight: not a widening
    real_m = json.loads(real[1].metrics_path.read_text())
    assert real_m["comparisons"]["first4"]["boundary"]["verdict"] != "widened"


def test_report_takes_study_findings_verbatim(tmp_path, syn):
    root, _ = syn
    rows = [{"key": "crossing", "claim": "RL above base at k=1", "measured": "pass@1 +0.1", "verdict": "held",
             "ci95": [0.05, 0.15], "tested": "pass@K diff", "numbers": {}}]
    res = build_report([root / "base", root / "rl200"], labels=["base", "rl200"], out_dir=tmp_path / "r",
                       progress=False, findings=rows)
    m = json.loads(res.metrics_path.read_text())
    assert m["findings"] == [{"finding": "RL above base at k=1", "measured": "pass@1 +0.1", "tested": "pass@K diff",
                              "ci95": [0.05, 0.15], "verdict": "held"}]
    html = res.html_path.read_text(encoding="utf-8")
    assert "[0.05, 0.15]" in html and html.index("RL above base at k=1") < html.index("<figure")
    # step-checked runs: the CoT-pass@k figure is the headline, in section 1 before answer pass@k
    assert html.index('id="fig-cot_passk"') < html.index('id="fig-passk"')
