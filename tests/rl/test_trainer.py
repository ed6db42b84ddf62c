"""Tests of the RLVR trainer (rlbound.rl.trainer), its rollout helpers and atomic checkpoints."""

from __future__ import annotations

import dataclasses
import importlib.util
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from rlbound.errors import InputError
from rlbound.rl import checkpoint as ckpt
from rlbound.rl.algos.presets import preset_names
from rlbound.rl.rollout import pack, response_ids, response_logprobs
from rlbound.rl.trainer import TrainConfig, resolve_preset, train

HERE = Path(__file__).resolve().parent
_spec = importlib.util.spec_from_file_location("rl_train_proc", HERE / "train_proc.py")
tp = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(tp)


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory) -> Path:
    return tp.make_model(tmp_path_factory.mktemp("rl") / "base")


def _cfg(model_dir: Path, out: Path, **kw) -> TrainConfig:
    base = dict(model=str(model_dir), out=str(out), steps=2, prompts_per_step=2, rollouts=4, max_new_tokens=6,
                kl=0.0, lr=1e-2, save_every=10, seed=1, threads=1)
    base.update(kw)
    return TrainConfig(**base)


def _params(path: Path) -> dict[str, torch.Tensor]:
    from transformers import AutoModelForCausalLM

    m = AutoModelForCausalLM.from_pretrained(str(path))
    return {k: v.detach().clone() for k, v in m.named_parameters()}


def test_two_grpo_steps_change_every_parameter_and_log(model_dir: Path, tmp_path: Path) -> None:
    before = _params(model_dir)
    final = train(_cfg(model_dir, tmp_path / "out", kl=0.05, save_every=1), progress=False, reward_fn=tp.digit_reward)
    assert final == tmp_path / "out" / "checkpoints" / "step-2"
    after = _params(final)
    assert before.keys() == after.keys() and len(before) > 5
    unchanged = [k for k in before if torch.equal(before[k], after[k])]
    assert unchanged == []
    recs = ckpt.JsonlLog(tmp_path / "out" / "log.jsonl").records()
    assert [r["step"] for r in recs] == [1, 2]
    for r in recs:
        for key in ("reward", "pass_rate", "response_length", "entropy", "kl", "clip_frac", "time_generate",
                    "time_score", "time_update"):
            assert r[key] is not None and r[key] == r[key], key  # present and not NaN
        assert r["groups"] == 2
    man = json.loads((final / "manifest.json").read_text())
    assert man["step"] == 2 and man["base_model"] == str(model_dir) and man["seed"] == 1
    assert man["algo"]["name"] == "grpo" and man["algo"]["kl_coef"] == 0.05 and man["algo"]["rollouts_per_prompt"] == 4
    assert man["config"]["lr"] == 1e-2 and man["rlbound_version"]
    assert man["task_config"]["modulus"] == 5
    assert (final / "tokenizer.json").is_file() and (final / "trainer_state.pt").is_file()
    assert [s for s, _ in ckpt.list_checkpoints(tmp_path / "out" / "checkpoints")] == [1, 2]


@pytest.mark.parametrize("algo", sorted(preset_names()))
def test_every_preset_trains_one_step(algo: str, model_dir: Path, tmp_path: Path) -> None:
    # passk (k = 4) needs more than k responses per prompt for a non-zero pass@k advantage
    kw = {"rollouts": None} if algo in ("ppo", "remax") else {"rollouts": 8 if algo == "passk" else 4}
    cfg = _cfg(model_dir, tmp_path / algo, algo=algo, steps=1, kl=None, prompts_per_step=4, **kw)
    final = train(cfg, progress=False, reward_fn=tp.digit_reward)
    rec = ckpt.JsonlLog(tmp_path / algo / "log.jsonl").records()[-1]
    before, after = _params(model_dir), _params(final)
    if rec["groups"] == 0:  # DAPO may filter every group of a random model: then nothing may change
        assert algo == "dapo" and all(torch.equal(before[k], after[k]) for k in before)
        return
    assert any(not torch.equal(before[k], after[k]) for k in before)
    assert all(v is None or v == v for v in rec.values() if isinstance(v, float))
    state = torch.load(final / "trainer_state.pt", weights_only=True)
    assert (state["critic"] is not None) == (algo == "ppo")
    if algo == "ppo":
        assert "value_loss" in rec


def test_micro_batches_accumulate_the_full_batch_gradient(model_dir: Path, tmp_path: Path) -> None:
    """12 rows in micro-batches of 5, 5, 2 give the gradient of one batch of 12 (norm before clipping,
    and the AdamW step) for each aggregation mode."""
    for algo in ("grpo", "dapo", "dr_grpo"):  # seq-mean-token-mean, token-mean, seq-mean-token-sum-norm
        finals, norms = [], []
        for micro in (64, 5):
            out = tmp_path / f"{algo}-{micro}"
            cfg = _cfg(model_dir, out, algo=algo, steps=1, micro_batch_size=micro, prompts_per_step=3, rollouts=4,
                       kl=0.0, max_gen_batches=1, grad_clip=1e6)
            finals.append(_params(train(cfg, progress=False, reward_fn=tp.digit_reward)))
            norms.append(ckpt.JsonlLog(out / "log.jsonl").records()[-1]["grad_norm"])
        assert norms[0] > 0
        assert norms[1] == pytest.approx(norms[0], rel=1e-4)
        for k in finals[0]:  # Adam's first step ~ lr * sign(g): float noise in tiny g moves it slightly
            torch.testing.assert_close(finals[0][k], finals[1][k], rtol=0, atol=1e-4)


def test_epochs_and_mini_batches_take_several_clipped_steps(model_dir: Path, tmp_path: Path) -> None:
    cfg = _cfg(model_dir, tmp_path / "ppo-style", steps=1, epochs=2, mini_batches=2, prompts_per_step=4)
    train(cfg, progress=False, reward_fn=tp.digit_reward)
    rec = ckpt.JsonlLog(tmp_path / "ppo-style" / "log.jsonl").records()[-1]
    # after the first of 4 optimizer steps the policy differs from the rollout policy: ratios move off 1
    assert rec["ratio_max"] > 1.0 and rec["approx_kl"] != 0.0


def test_logprobs_align_with_the_sampler(model_dir: Path) -> None:
    """Re-tokenised responses scored by response_logprobs equal the sampler's own log-probs."""
    from rlbound.backends.hf import HFBackend, HFOptions
    from rlbound.backends.protocol import SamplingParams
    from rlbound.rl.rollout import prompt_of, sample_groups
    from rlbound.toy.tasks import generate_split
    backend = HFBackend(str(model_dir), HFOptions(device="cpu", dtype="float32", threads=1))
    probs = generate_split(tp.TOY_TASK, "train", 3, seed=0)
    params = SamplingParams(n=4, temperature=1.0, max_new_tokens=8, logprobs=True)
    groups = sample_groups(backend, probs, 4, params, (0, "t"))
    prompts, resps, want = [], [], []
    for p, g in zip(probs, groups):
        for c in g:
            ids, bad = response_ids(backend.tokenizer, c, backend.tokenizer.eos_token_id)
            if not bad:
                prompts.append(backend.encode_prompt(prompt_of(p)))
                resps.append(ids)
                want.append(c.logprobs)
    assert len(want) >= 4
    batch = pack(prompts, resps, backend.pad_id)
    assert (batch.attention_mask is None) == (len({len(x) for x in prompts}) == 1)  # padded only if needed
    with torch.no_grad():
        lp, ent = response_logprobs(backend.causal_lm, batch, with_entropy=True)
    for i, w in enumerate(want):
        got = lp[i, : len(w)]
        torch.testing.assert_close(got, torch.tensor(w, dtype=torch.float32), rtol=0, atol=1e-4)
    assert bool((ent[batch.response_mask] > 0).all())
    # left padding: a row scored in a batch with a longer prompt gives the same log-probs
    padded = pack([prompts[0][2:], prompts[1]], [resps[0], resps[1]], backend.pad_id)
    alone = pack([prompts[0][2:]], [resps[0]], backend.pad_id)
    with torch.no_grad():
        a = response_logprobs(backend.causal_lm, padded)[0][0, : len(resps[0])]
        b = response_logprobs(backend.causal_lm, alone)[0][0, : len(resps[0])]
    assert padded.attention_mask is not None
    torch.testing.assert_close(a, b, rtol=0, atol=1e-5)


def test_shared_prompt_forward_equals_the_plain_forward(model_dir: Path) -> None:
    """Encoding each distinct prompt once gives the same log-probs and gradients as B full rows."""
    from transformers import AutoModelForCausalLM

    from rlbound.rl.rollout import _can_share_prompts

    model = AutoModelForCausalLM.from_pretrained(str(model_dir))
    g = torch.Generator().manual_seed(0)
    for lengths in ((8, 8, 8), (8, 5, 3)):  # equal prompts, then left-padded ones
        prompts = [[5 + i] * (lengths[i] - 1) + [i] for i in range(3) for _ in range(4)]
        resps = [torch.randint(4, 40, (1 + (j * 3) % 6,), generator=g).tolist() for j in range(12)]
        shared = pack(prompts, resps, 0)
        plain = dataclasses.replace(shared, prompt_index=None)
        assert shared.prompt_index.tolist() == [0] * 4 + [1] * 4 + [2] * 4
        assert (shared.attention_mask is None) == (lengths == (8, 8, 8))
        assert _can_share_prompts(model, shared) and not _can_share_prompts(model, plain)
        grads, lps = [], []
        for batch in (shared, plain):
            model.zero_grad()
            lp = response_logprobs(model, batch)[0]
            (lp * batch.response_mask).sum().backward()
            lps.append(lp[batch.response_mask])
            grads.append({k: v.grad.clone() for k, v in model.named_parameters()})
        torch.testing.assert_close(lps[0], lps[1], rtol=0, atol=1e-5)
        for k in grads[0]:
            torch.testing.assert_close(grads[0][k], grads[1][k], rtol=1e-4, atol=1e-5)


def test_dapo_drops_groups_whose_rewards_all_agree(model_dir: Path, tmp_path: Path) -> None:
    def reward(problem, text):  # noqa: ANN001 - every second problem: constant reward
        return 1.0 if int(problem.id.rsplit("-", 1)[1]) % 2 == 0 else float(text[:1].isdigit())

    cfg = _cfg(model_dir, tmp_path / "dapo", algo="dapo", steps=1, prompts_per_step=4, rollouts=4,
               max_gen_batches=3)
    train(cfg, progress=False, reward_fn=reward)
    rec = ckpt.JsonlLog(tmp_path / "dapo" / "log.jsonl").records()[-1]
    assert rec["groups"] <= 4
    assert rec["groups_sampled"] > rec["groups"]  # constant groups were dropped and more prompts drawn


def test_jsonl_task_and_held_out_evaluation(model_dir: Path, tmp_path: Path, capsys) -> None:  # noqa: ANN001
    from rlbound.toy.tasks import generate_split, write_problems_jsonl

    write_problems_jsonl(generate_split(tp.TOY_TASK, "train", 3, seed=0), tmp_path / "train.jsonl")
    write_problems_jsonl(generate_split(tp.TOY_TASK, "test", 2, seed=0), tmp_path / "test.jsonl")
    cfg = _cfg(model_dir, tmp_path / "out", task=str(tmp_path / "train.jsonl"), steps=2, prompts_per_step=2,
               eval_problems=2, eval_samples=3, eval_task=str(tmp_path / "test.jsonl"))
    lines: list[str] = []
    train(cfg, progress=False, reward_fn=tp.digit_reward, on_message=lines.append)
    assert capsys.readouterr().out == ""  # the library prints nothing; the summary lines go to on_message
    assert [x.split(":")[0] for x in lines] == ["step 0", "step 2"] and "held-out pass@1" in lines[0]
    recs = ckpt.JsonlLog(tmp_path / "out" / "log.jsonl").records()
    assert [(r["kind"], r["step"]) for r in recs] == [("eval", 0), ("train", 1), ("train", 2), ("eval", 2)]
    assert recs[0]["problems"] == 2 and recs[0]["n"] == 3 and 0.0 <= recs[0]["pass1"] <= recs[0]["passn"] <= 1.0
    with pytest.raises(InputError):  # a JSONL task has no built-in held-out split
        train(_cfg(model_dir, tmp_path / "o2", task=str(tmp_path / "train.jsonl"), eval_problems=2),
              progress=False, reward_fn=tp.digit_reward)


def test_resolve_preset_overrides(tmp_path: Path) -> None:
    p = resolve_preset(TrainConfig(model="m", out="o", algo="grpo", kl=0.0, rollouts=8))
    assert p.kl_coef == 0 and not p.kl_in_loss and p.rollouts_per_prompt == 8
    p = resolve_preset(TrainConfig(model="m", out="o", algo="dapo", kl=0.1, max_new_tokens=100))
    assert p.kl_in_loss and p.kl_estimator == "k3" and p.kl_coef == 0.1
    assert p.overlong.max_len == 100 and p.overlong.cache_len == 20
    p = resolve_preset(TrainConfig(model="m", out="o", algo="ppo", kl=0.01))
    assert p.kl_in_reward and p.kl_coef == 0.01 and p.needs_critic
    with pytest.raises(InputError) as e:
        resolve_preset(TrainConfig(model="m", out="o", algo="passk", rollouts=2))
    assert e.value.field == "k"


@pytest.mark.parametrize("field,value", [("steps", 0), ("lr", -1.0), ("temperature", 0.0), ("top_p", 1.5),
                                         ("algo", "nope"), ("rollouts", 0), ("kl", -0.1), ("model", "")])
def test_bad_config_raises_input_error(field: str, value, tmp_path: Path) -> None:  # noqa: ANN001
    with pytest.raises(InputError) as e:
        TrainConfig(**{"model": "m", "out": "o", field: value})
    assert e.value.field in (field, "algorithm")


def test_out_folder_with_another_run_or_foreign_files_is_refused(model_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    train(_cfg(model_dir, out, steps=1), progress=False, reward_fn=tp.digit_reward)
    with pytest.raises(InputError) as e:
        train(_cfg(model_dir, out, steps=2, lr=1e-3), progress=False, reward_fn=tp.digit_reward)
    assert e.value.field == "lr"
    other = tmp_path / "other"
    other.mkdir()
    (other / "notes.txt").write_text("mine")
    with pytest.raises(InputError):
        train(_cfg(model_dir, other), progress=False, reward_fn=tp.digit_reward)
    assert (other / "notes.txt").read_text() == "mine"


def test_checkpoint_is_atomic_and_stale_temp_folders_are_removed(tmp_path: Path) -> None:
    class Boom:
        def save_pretrained(self, d: str) -> None:
            (Path(d) / "config.json").write_text("{}")
            raise RuntimeError("disk full")

    root = tmp_path / "checkpoints"
    with pytest.raises(RuntimeError):
        ckpt.save_checkpoint(root, 3, Boom(), None, {"step": 3})
    assert ckpt.latest_checkpoint(root) is None and list(root.iterdir()) == []
    dead = root / ".tmp-step-4-999999999-abcdef12"  # pid above pid_max: its writer is gone
    dead.mkdir()
    (root / "step-5").mkdir()  # no manifest: not a checkpoint
    assert ckpt.latest_checkpoint(root) is None
    assert ckpt.remove_stale_tmp(root) == 1 and not dead.exists()


@pytest.mark.slow
def test_resume_after_sigkill_matches_an_uninterrupted_run(model_dir: Path, tmp_path: Path) -> None:
    script = str(HERE / "train_proc.py")
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    steps = 6
    full, killed = tmp_path / "full", tmp_path / "killed"
    subprocess.run([sys.executable, script, str(model_dir), str(full), "--steps", str(steps)], check=True, env=env,
                   timeout=300, capture_output=True)
    proc = subprocess.Popen([sys.executable, script, str(model_dir), str(killed), "--steps", str(steps),
                             "--delay", "0.05"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 240
    root = killed / "checkpoints"
    while time.time() < deadline and proc.poll() is None:
        done = ckpt.list_checkpoints(root)
        if done and done[-1][0] >= 2:
            break
        time.sleep(0.02)
    assert proc.poll() is None, "the run finished before it could be killed"
    time.sleep(0.15)  # land somewhere inside a later step
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    killed_at = ckpt.list_checkpoints(root)[-1][0]
    assert 2 <= killed_at < steps
    subprocess.run([sys.executable, script, str(model_dir), str(killed), "--steps", str(steps)], check=True, env=env,
                   timeout=300, capture_output=True)
    a, b = _params(full / "checkpoints" / f"step-{steps}"), _params(root / f"step-{steps}")
    for k in a:
        assert torch.equal(a[k], b[k]), k
    strip = lambda r: {k: v for k, v in r.items() if not k.startswith("time") and k != "elapsed"}  # noqa: E731
    log_a = [strip(r) for r in ckpt.JsonlLog(full / "log.jsonl").records()]
    log_b = [strip(r) for r in ckpt.JsonlLog(killed / "log.jsonl").records()]
    assert [r["step"] for r in log_b] == list(range(1, steps + 1))  # no step logged twice, none missing
    assert log_a == log_b
    assert not [p for p in root.iterdir() if p.name.startswith(".tmp")]


BENCH_DIR = Path(__file__).resolve().parents[2] / ".." / "shared" / "benchmarks"


@pytest.mark.skipif(not (BENCH_DIR / "gsm8k").is_dir(), reason=f"shared benchmarks not found at {BENCH_DIR}")
def test_benchmark_file_task_with_a_generic_hf_model(tmp_path: Path) -> None:
    """A real benchmark file (GSM8K) as the task, the paper's boxed template, the math verifier as
    reward, and a non-sandbox model (random Qwen2 with a character tokenizer): the path a user takes
    with a small real model."""
    from rlbound.backends.templates import INSTRUCTION
    from rlbound.rl.trainer import _verifier_reward, load_problems

    spec = importlib.util.spec_from_file_location("rlbound_test_sampling_proc", HERE.parent / "sampling_proc.py")
    sp = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(sp)
    model = sp.make_tiny_model(tmp_path / "qwen2", arch="qwen2", max_positions=2048)
    gsm8k = BENCH_DIR / "gsm8k" / "test.jsonl"

    problems = load_problems(str(gsm8k), "boxed")
    p = problems[0]
    assert p.verifier == "math" and p.reference == "18" and INSTRUCTION in p.prompt
    assert p.prompt.startswith("<|im_start|>system") and "Janet" in p.prompt
    assert load_problems(str(gsm8k), "raw")[0].prompt.startswith("Janet")
    reward = _verifier_reward()
    assert reward(p, "so she makes 9 * 2 = 18 dollars. \\boxed{18}") == 1.0
    assert reward(p, "\\boxed{17}") == 0.0

    out = tmp_path / "out"
    cfg = _cfg(model, out, task=str(gsm8k), template="raw", steps=2, prompts_per_step=2, rollouts=4,
               max_new_tokens=6, eval_problems=2, eval_samples=2, eval_task=str(gsm8k))
    before = _params(model)
    final = train(cfg, progress=False, reward_fn=tp.digit_reward)
    after = _params(final)
    assert all(not torch.equal(before[k], after[k]) for k in before)
    recs = ckpt.JsonlLog(out / "log.jsonl").records()
    assert [(r["kind"], r["step"]) for r in recs] == [("eval", 0), ("train", 1), ("train", 2), ("eval", 2)]
    # the default reward is the math verifier: a random model earns nothing, and training still runs
    train(_cfg(model, tmp_path / "out2", task=str(gsm8k), steps=1, prompts_per_step=2, rollouts=2,
               max_new_tokens=4), progress=False)
    assert ckpt.JsonlLog(tmp_path / "out2" / "log.jsonl").records()[0]["reward"] == 0.0


def test_unknown_template_and_odd_task_file_are_input_errors(tmp_path: Path) -> None:
    from rlbound.rl.trainer import load_problems

    with pytest.raises(InputError, match="template"):
        TrainConfig(model="m", out="o", template="nope")
    bad = tmp_path / "t.jsonl"
    bad.write_text('{"id": 1, "prompt": "2+2="}\n{"id": 2, "prompt": "3+3=", "answer": 6}\n')
    with pytest.raises(InputError) as e:
        load_problems(str(bad))
    assert e.value.line == 2 and e.value.field == "answer"


def test_parquet_task_goes_to_the_benchmark_loader(tmp_path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    from rlbound.rl.trainer import load_problems

    path = tmp_path / "gsm8k.parquet"
    pq.write_table(pa.table({"idx": [0], "question": ["2+2?"], "answer": ["2+2=4\n#### 4"]}), path)
    (p,) = load_problems(str(path), "raw")
    assert (p.prompt, p.reference, p.verifier) == ("2+2?", "4", "math")
