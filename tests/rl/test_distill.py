"""Tests of distillation (rlbound.rl.distill): label alignment, the loss, an end-to-end run."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest
import torch

from rlbound.errors import InputError
from rlbound.rl import checkpoint as ckpt
from rlbound.rl.distill import IGNORE, DistillConfig, distill, next_token_loss, sft_batch, sft_labels, sft_loss

HERE = Path(__file__).resolve().parent
_spec = importlib.util.spec_from_file_location("rl_train_proc_d", HERE / "train_proc.py")
tp = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(tp)


@pytest.fixture(scope="module")
def models(tmp_path_factory) -> tuple[Path, Path]:
    d = tmp_path_factory.mktemp("distill")
    return tp.make_model(d / "teacher", seed=1), tp.make_model(d / "student", seed=0)


@pytest.fixture(scope="module")
def tok():
    from rlbound.toy.tokenizer import build_tokenizer
    return build_tokenizer(tp.TOY_TASK)


def _ids(tok, text: str) -> list[int]:  # noqa: ANN001
    return list(tok(text, add_special_tokens=False)["input_ids"])


def test_labels_are_the_response_tokens_and_eos_only(tok) -> None:  # noqa: ANN001
    eos, pad = tok.eos_token_id, tok.pad_token_id
    p1, r1 = _ids(tok, "a=1,b=2,c=a+b;?c__"), _ids(tok, "c=a+b=3;####3")
    p2, r2 = _ids(tok, "a=4;?a"), _ids(tok, "####4")
    assert len(p1) == 18 and len(r1) == 10 and len(p2) == 6 and len(r2) == 2  # "####" is one token
    batch = sft_batch([p1, p2], [r1, r2], eos, pad)
    labels = sft_labels(batch).tolist()
    assert batch.prompt_width == 18 and batch.input_ids.shape == (2, 18 + 11)
    assert labels[0] == [IGNORE] * 18 + r1 + [eos]
    assert labels[1] == [IGNORE] * 18 + r2 + [eos] + [IGNORE] * 8
    ids = batch.input_ids.tolist()
    assert ids[1] == [pad] * 12 + p2 + r2 + [eos] + [pad] * 8  # prompt left-padded, response right-padded
    assert batch.response_mask.sum(1).tolist() == [11, 3]


def test_the_logit_at_t_predicts_token_t_plus_one(tok) -> None:  # noqa: ANN001
    batch = sft_batch([_ids(tok, "a=1,b=2;?a")], [_ids(tok, "####1")], tok.eos_token_id, tok.pad_token_id)
    ids, labels = batch.input_ids, sft_labels(batch)
    b, length = ids.shape
    v = len(tok)
    nxt = torch.full((b, length, v), -50.0)
    nxt[0, torch.arange(length - 1), ids[0, 1:]] = 50.0  # position t puts its mass on token t+1
    same = torch.full((b, length, v), -50.0)
    same[0, torch.arange(length), ids[0]] = 50.0  # position t puts its mass on token t (off by one)
    assert float(next_token_loss(nxt, labels)) < 1e-6
    assert float(next_token_loss(same, labels)) > 50.0
    # only the positions that predict response tokens (prompt's last .. response's second-to-last) get gradient
    logits = torch.randn(b, length, v, requires_grad=True)
    next_token_loss(logits, labels).backward()
    has_grad = (logits.grad.abs().sum(-1) > 0)[0].tolist()
    p, t = batch.prompt_width, batch.width
    assert has_grad == [False] * (p - 1) + [True] * t + [False]


def test_sft_loss_equals_hugging_face_loss(models, tok) -> None:  # noqa: ANN001
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(str(models[1]))
    batch = sft_batch([_ids(tok, "a=1,b=2,c=a+b;?c__"), _ids(tok, "a=4;?a")],
                      [_ids(tok, "c=a+b=3;####3"), _ids(tok, "####4")], tok.eos_token_id, tok.pad_token_id)
    labels = sft_labels(batch)
    out = model(input_ids=batch.input_ids, attention_mask=batch.attention_mask, position_ids=batch.position_ids,
                labels=labels)
    mine = sft_loss(model, batch)
    torch.testing.assert_close(mine, out.loss, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(next_token_loss(out.logits, labels), out.loss, rtol=1e-5, atol=1e-6)


def test_distill_end_to_end(models, tmp_path: Path) -> None:  # noqa: ANN001
    teacher, student = models
    cfg = DistillConfig(teacher=str(teacher), student=str(student), out=str(tmp_path / "d"), prompts=6,
                        samples_per_prompt=4, max_new_tokens=6, epochs=2, batch_size=4, lr=1e-2, eval_problems=3,
                        eval_samples=2, threads=1)
    final = distill(cfg, progress=False, reward_fn=tp.digit_reward)
    rows = [json.loads(x) for x in (tmp_path / "d" / "traces.jsonl").read_text().splitlines()]
    traces = rows[1:]
    assert traces and all(r["text"][:1].isdigit() for r in traces)
    recs = ckpt.JsonlLog(tmp_path / "d" / "log.jsonl").records()
    assert recs[0]["kind"] == "traces" and recs[0]["accepted"] == len(traces) and recs[0]["samples"] == 24
    train = [r for r in recs if r["kind"] == "train"]
    assert len(train) == 2 * -(-len(traces) // 4)
    assert [r["step"] for r in recs if r["kind"] == "eval"] == [0, len(train)]
    from transformers import AutoModelForCausalLM

    a = dict(AutoModelForCausalLM.from_pretrained(str(student)).named_parameters())
    b = dict(AutoModelForCausalLM.from_pretrained(str(final)).named_parameters())
    assert all(not torch.equal(a[k], b[k]) for k in a)
    man = json.loads((final / "manifest.json").read_text())
    assert man["teacher"] == str(teacher) and man["base_model"] == str(student) and man["traces"]["accepted"]
    assert distill(cfg, progress=False, reward_fn=tp.digit_reward) == final  # finished: returned as is
    with pytest.raises(InputError):
        distill(DistillConfig(teacher=str(teacher), student=str(student), out=str(tmp_path / "d"), prompts=7),
                progress=False, reward_fn=tp.digit_reward)
