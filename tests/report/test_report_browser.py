"""The report in a real browser: headless Chromium loads report.html offline, logs no console error,
makes no network request, and shows every figure at a non-zero size.

Chromium is driven over the Chrome DevTools Protocol on a pipe (``--remote-debugging-pipe``: JSON
messages ending in NUL on fds 3/4), so the test needs no Python package beyond the standard library.
Skipped when no Chromium binary is installed (Debian: ``apt-get install chromium``).
Set RLBOUND_REPORT_SCREENSHOT=/path.png to keep a full-page screenshot.
"""

from __future__ import annotations

import base64
import json
import os
import select
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from rlbound.data.store import RunStore
from rlbound.report.build import build_report
from rlbound.types import Problem, RunManifest, Sample, Verdict

CHROMIUM = next((p for p in (shutil.which(n) for n in ("chromium", "chromium-browser", "google-chrome")) if p), None)
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="no chromium binary on PATH (apt-get install chromium)")

FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-extensions", "--disable-default-apps", "--mute-audio", "--hide-scrollbars"]


class CDP:
    """A minimal Chrome DevTools Protocol client over --remote-debugging-pipe."""

    def __init__(self, user_data_dir: Path) -> None:
        to_chrome_r, self._w = os.pipe()
        self._r, from_chrome_w = os.pipe()
        # Chromium reads commands on fd 3 and writes replies on fd 4: a tiny exec shim puts the pipe
        # ends there (copies first, so the numbers cannot clash) and replaces itself with chromium.
        shim = ("import os, sys; r, w = os.dup(int(sys.argv[1])), os.dup(int(sys.argv[2])); "
                "os.dup2(r, 3); os.dup2(w, 4); os.set_inheritable(3, True); os.set_inheritable(4, True); "
                "os.execv(sys.argv[3], sys.argv[3:])")
        cmd = [sys.executable, "-c", shim, str(to_chrome_r), str(from_chrome_w), CHROMIUM, *FLAGS,
               "--remote-debugging-pipe", f"--user-data-dir={user_data_dir}", "--window-size=1280,1600", "about:blank"]
        self.proc = subprocess.Popen(cmd, pass_fds=(to_chrome_r, from_chrome_w), stdin=subprocess.DEVNULL,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        os.close(to_chrome_r)
        os.close(from_chrome_w)
        self._buf = b""
        self._id = 0
        self.events: list[dict] = []

    def send(self, method: str, params: dict | None = None, session: str | None = None, timeout: float = 60.0) -> dict:
        self._id += 1
        msg = {"id": self._id, "method": method, "params": params or {}}
        if session:
            msg["sessionId"] = session
        os.write(self._w, json.dumps(msg).encode() + b"\0")
        while True:
            reply = self._next(timeout)
            if reply.get("id") == self._id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply.get("result", {})
            self.events.append(reply)

    def wait_event(self, method: str, timeout: float = 60.0) -> dict:
        for ev in self.events:
            if ev.get("method") == method:
                return ev
        while True:
            ev = self._next(timeout)
            self.events.append(ev)
            if ev.get("method") == method:
                return ev

    def _next(self, timeout: float) -> dict:
        deadline = time.monotonic() + timeout
        while b"\0" not in self._buf:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self._r], [], [], left)[0]:
                raise TimeoutError("no message from chromium")
            chunk = os.read(self._r, 1 << 20)
            if not chunk:
                raise RuntimeError("chromium closed the pipe")
            self._buf += chunk
        msg, self._buf = self._buf.split(b"\0", 1)
        return json.loads(msg)

    def close(self) -> None:
        try:
            self.send("Browser.close", timeout=10)
        except Exception:
            pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        os.close(self._w)
        os.close(self._r)


def _make_run(path: Path, model: str, grid: dict[str, list[bool]], extra: dict | None = None) -> None:
    problems = [Problem(id=p, prompt=f"problem {p}") for p in grid]
    mf = RunManifest(model=model, backend="synthetic", sampling={"n": 8, "temperature": 0.6},
                     prompt_template={"name": "zero-shot", "text": "Q: {prompt}"}, dataset_name="syn",
                     dataset_hash="cd" * 32, extra=extra or {})
    st = RunStore.create(path, mf, problems)
    st.add_samples([Sample(p, i) for p, row in grid.items() for i in range(len(row))])
    st.add_verdicts([(p, i, Verdict(correct=ok, status="correct" if ok else "wrong", extracted="A" if ok else "B",
                                    steps_correct=ok and i % 2 == 0))
                     for p, row in grid.items() for i, ok in enumerate(row)])


@pytest.fixture(scope="module")
def report(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("browser")
    base = {f"q{j}": [(i * 7 + j * 3) % (j % 5 + 2) == 0 for i in range(8)] for j in range(24)}
    rl = {f"q{j}": [j % 3 != 0] * 8 for j in range(24)}
    _make_run(root / "base", "base-model", base)
    _make_run(root / "rl", "rl-model", rl, {"train_run": "t", "train_step": 10})
    _make_run(root / "rl2", "rl-model", {k: [v[0]] * 4 + [False] * 4 for k, v in rl.items()},
              {"train_run": "t", "train_step": 20})
    rng = np.random.default_rng(0)
    for name, mu in (("base", 1.2), ("rl", 0.6)):  # perplexities and token log-probs with a real spread
        pq.write_table(pa.table({"problem_id": ["q0"] * 200, "sample_index": list(range(200)),
                                 "scorer": ["base-model"] * 200, "n_tokens": [50] * 200,
                                 "sum_logprob": (-50 * rng.gamma(4.0, mu / 4.0, 200)).tolist(),
                                 "perplexity": [None] * 200}), root / name / "perplexity.parquet")
        pq.write_table(pa.table({"problem_id": ["q0"] * 50, "sample_index": list(range(50)),
                                 "logprobs": [(-rng.exponential(mu, 30)).tolist() for _ in range(50)]}),
                       root / name / "token_logprobs.parquet")
    res = build_report([root / "base", root / "rl", root / "rl2"], labels="base,grpo@10,grpo@20",
                       out_dir=root / "report", extra_metrics=True, progress=False)
    return res.html_path


def test_report_renders_offline_without_errors(report, tmp_path):
    cdp = CDP(tmp_path / "profile")
    try:
        target = cdp.send("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = cdp.send("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        for domain in ("Page", "Runtime", "Log", "Network"):
            cdp.send(f"{domain}.enable", session=session)
        cdp.events.clear()
        cdp.send("Page.navigate", {"url": report.resolve().as_uri()}, session=session)
        cdp.wait_event("Page.loadEventFired")
        images = cdp.send("Runtime.evaluate", {"returnByValue": True, "expression": (
            "Array.from(document.images).map(i => ({w: i.naturalWidth, h: i.naturalHeight, complete: i.complete,"
            " shown: i.getBoundingClientRect().width}))")}, session=session)["result"]["value"]
        title = cdp.send("Runtime.evaluate", {"expression": "document.title", "returnByValue": True},
                         session=session)["result"]["value"]
        metrics = cdp.send("Page.getLayoutMetrics", session=session)
        height = int(metrics["cssContentSize"]["height"])
        shot = cdp.send("Page.captureScreenshot", {"format": "png", "captureBeyondViewport": True,
                                                   "clip": {"x": 0, "y": 0, "width": 1280, "height": min(height, 6000),
                                                            "scale": 1}}, session=session)
        time.sleep(0.2)
        try:  # drain late events
            while True:
                cdp.events.append(cdp._next(0.2))
        except TimeoutError:
            pass
    finally:
        cdp.close()
    png = base64.b64decode(shot["data"])
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 10_000
    keep = os.environ.get("RLBOUND_REPORT_SCREENSHOT")
    if keep:
        Path(keep).write_bytes(png)
    assert title.startswith("rlbound report: base vs grpo@10 vs grpo@20")
    figures = sorted(p.stem for p in (report.parent / "figures").glob("*.svg"))
    assert len(images) == len(figures) == 7
    for im in images:
        assert im["complete"] and im["w"] > 100 and im["h"] > 100 and im["shown"] > 100, im
    errors = [e["params"] for e in cdp.events if e.get("method") == "Runtime.exceptionThrown"]
    errors += [e["params"] for e in cdp.events if e.get("method") == "Runtime.consoleAPICalled"
               and e["params"].get("type") in ("error", "assert", "warning")]
    errors += [e["params"]["entry"] for e in cdp.events if e.get("method") == "Log.entryAdded"
               and e["params"]["entry"].get("level") in ("error", "warning")]
    assert errors == []
    requests = [e["params"]["request"]["url"] for e in cdp.events if e.get("method") == "Network.requestWillBeSent"]
    assert requests and all(u.startswith(("file:", "data:")) for u in requests), requests
