"""The model side of ``rlbound serve``: micro-batched decoding that keeps token ids, per-token
log-probabilities and their top alternatives, and can hand each token out as it is drawn.

A worker thread gathers queued jobs for a few milliseconds and decodes them together. The decode
loop is the ``hf`` backend's (``rlbound.backends.hf``): the same decoder per batch
(``select_decoder``), the same sampling rule (``choose_tokens`` over counter-based Gumbel noise
keyed by each row's seed), the same EOS and stop-string checks and the same compaction of finished
rows, so a choice with seed s is the sample ``HFBackend.generate`` draws for seed s (Yue et al.
2025, arXiv 2504.13837, need independent, reproducible samples; tests compare the two token by
token). On top of the backend it records the sampled ids, ``log softmax(logits)`` of each sampled
token (temperature 1, before top-p, as vLLM returns by default) and the ``top_n`` most likely
tokens of each step, takes token-id prompts as they are, gives each row its own token limit (its
prompt's room in the context), and pushes every drawn token to a streaming job's event queue.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

Top = tuple[tuple[int, float], ...]  # (token id, log-probability), most likely first


@dataclass(frozen=True)
class Choice:
    """One sampled continuation: token ids (an EOS or stop-completing token included), why it
    ended ("stop": EOS or a stop string; "length": its token limit), and, when asked for, the
    log-probability and the top alternatives of each token."""

    ids: tuple[int, ...]
    finish_reason: str
    logprobs: tuple[float, ...] | None = None
    top: tuple[Top, ...] | None = None


@dataclass
class Job:
    """One prompt of a request and its ``len(seeds)`` choices.

    ``events`` (streaming only, may be shared by the jobs of one request) receives
    ``(tag, j, token_id, logprob, top, finish_reason)`` for every token of choice ``j`` as it is
    drawn (``finish_reason`` None until the choice's last token), then ``(tag, None, ...)`` once the
    job is complete, or ``(tag, "error", exc)``. ``cancelled`` (a client gone) drops its rows.
    """

    prompt: tuple[int, ...]
    params: Any  # SamplingParams; max_new_tokens is ignored in favour of ``limit``
    seeds: list[int]
    limit: int
    top_n: int = 0
    tag: Any = None
    events: queue.Queue | None = None
    cancelled: bool = False
    done: threading.Event = field(default_factory=threading.Event)
    result: list[Choice | None] = field(default_factory=list)
    error: BaseException | None = None

    def __post_init__(self) -> None:
        self.result = [None] * len(self.seeds)


class Engine:
    """Owns the hf backend; a worker thread decodes queued jobs in micro-batches."""

    def __init__(self, backend: Any, *, batch_wait_s: float = 0.005, max_batch: int = 256) -> None:
        self.backend = backend
        self.tokenizer = backend.tokenizer
        self.batch_wait_s = batch_wait_s
        self.max_batch = max_batch
        self.lock = threading.Lock()  # the model is used by one thread at a time
        self.tok_lock = threading.Lock()  # encoding may touch the tokenizer's settings
        lm = backend.lm
        self.vocab_size = int(lm.get_input_embeddings().weight.shape[0])
        self.max_positions = backend.max_positions
        self._stop_cache: dict[tuple[str, ...], Any] = {}
        self.jobs: queue.Queue[Job] = queue.Queue()
        self.worker = threading.Thread(target=self._loop, name="rlbound-serve-engine", daemon=True)
        self.worker.start()

    # -- tokenizer --

    def encode(self, text: str) -> list[int]:
        """Token ids of a text prompt as the hf backend feeds it (BOS added unless present)."""
        with self.tok_lock:
            return self.backend.encode_prompt(text)

    def encode_with_offsets(self, text: str, *, add_special: bool | None = None) -> tuple[list[int], list[int]]:
        """Token ids of ``text`` and each token's character offset in it."""
        tok = self.tokenizer
        if add_special is None:
            bos = tok.bos_token
            add_special = not (bos and text.startswith(bos))
        with self.tok_lock:
            enc = tok(text, add_special_tokens=add_special, return_offsets_mapping=True)
        return list(enc["input_ids"]), [int(a) for a, _ in enc["offset_mapping"]]

    # -- jobs --

    def start(self, job: Job) -> Job:
        """Queue ``job``; returns it at once (wait on ``job.done`` or read ``job.events``)."""
        self.jobs.put(job)
        return job

    def submit(self, job: Job) -> list[Choice]:
        """Queue ``job`` and wait for its choices."""
        self.start(job).done.wait()
        if job.error is not None:
            raise job.error
        return list(job.result)  # type: ignore[arg-type]

    def _loop(self) -> None:
        while True:
            first = self.jobs.get()
            batch = [first]
            size = len(first.seeds)
            deadline = time.monotonic() + self.batch_wait_s
            while size < self.max_batch:
                try:
                    job = self.jobs.get(timeout=max(0.0, deadline - time.monotonic()))
                except queue.Empty:
                    break
                batch.append(job)
                size += len(job.seeds)
            groups: dict[Any, list[Job]] = {}
            for job in batch:  # jobs that sample alike share a decode; token limits are per row
                groups.setdefault(replace(job.params, n=1, max_new_tokens=1), []).append(job)
            for jobs in groups.values():
                self._run_group(jobs)

    def _run_group(self, jobs: list[Job]) -> None:
        live = [j for j in jobs if not j.cancelled]
        rows = [(job, j) for job in live for j in range(len(job.seeds))]
        try:
            for start in range(0, len(rows), self.max_batch):
                with self.lock:
                    self._decode(rows[start:start + self.max_batch], live[0].params)
        except BaseException as e:  # noqa: BLE001 - reported to the waiting requests
            for job in jobs:
                job.error = e
                if job.events is not None:
                    job.events.put((job.tag, "error", e, None, None, None))
        else:
            for job in jobs:
                if job.events is not None:
                    job.events.put((job.tag, None, None, None, None, None))
        for job in jobs:
            job.done.set()

    # -- the decode loop --

    def _stop_candidates(self, stop: tuple[str, ...]) -> Any:
        """Bool ``[V]``: tokens whose text may complete a stop string (the hf backend's rule)."""
        import torch

        if stop not in self._stop_cache:
            last = {s[-1] for s in stop}
            vocab = self.backend.lm.get_output_embeddings().weight.shape[0]
            pieces = self.tokenizer.batch_decode([[i] for i in range(vocab)], skip_special_tokens=False)
            flags = [p == "" or "\ufffd" in p or any(c in p for c in last) for p in pieces]
            self._stop_cache[stop] = torch.tensor(flags, dtype=torch.bool, device=self.backend.device)
        return self._stop_cache[stop]

    def _decode(self, rows: list[tuple[Job, int]], params: Any) -> None:
        """Sample every (job, choice) row; fills ``job.result`` and streams to ``job.events``."""
        import torch

        from rlbound.backends.hf.backend import pad_rows
        from rlbound.backends.hf.decoders import select_decoder
        from rlbound.backends.hf.sampler import choose_tokens, gumbel_noise, row_keys

        b, dev = self.backend, self.backend.device
        prompts = list(dict.fromkeys(job.prompt for job, _ in rows))
        where = {p: u for u, p in enumerate(prompts)}
        length = max(len(p) for p in prompts)
        limits = torch.tensor([job.limit for job, _ in rows], dtype=torch.long, device=dev)
        max_new = int(limits.max())
        ids, valid = pad_rows(prompts, b.pad_id, left=True)
        row_src = torch.tensor([where[job.prompt] for job, _ in rows], dtype=torch.long, device=dev)
        n_rows = len(rows)
        top_n = max(job.top_n for job, _ in rows) if params.logprobs else 0
        streaming = any(job.events is not None for job, _ in rows)

        with torch.inference_mode():
            dec = select_decoder(b.lm, b.fast, n_rows / len(prompts), length)
            logits = dec.prefill(ids.to(dev), (~valid).sum(1).to(dev), row_src, max_new)
            keys = row_keys([job.seeds[j] for job, j in rows], dev)
            live = torch.arange(n_rows, device=dev)  # decoder row -> output row
            alive = torch.ones(n_rows, dtype=torch.bool, device=dev)
            rec = _Record(n_rows, max_new, b.pad_id, params.logprobs, top_n, dev)
            n_gen = limits.clone()
            stopped = torch.zeros(n_rows, dtype=torch.bool, device=dev)
            eos = torch.tensor(b.eos_ids, dtype=torch.long, device=dev)
            stop_cand = self._stop_candidates(params.stop) if params.stop else None
            window = 4 * max((len(s) for s in params.stop), default=0) + 2
            vocab = logits.shape[-1]
            block = max(1, min(16, (1 << 22) // max(1, n_rows * vocab)))  # steps of noise drawn at once
            noise = None
            for step in range(max_new):
                if params.temperature > 0 and step % block == 0:
                    noise = gumbel_noise(keys, step, vocab, steps=min(block, max_new - step))
                    if noise.dim() == 2:
                        noise = noise[:, None]
                g = noise[:, step % block] if noise is not None else None
                tok = choose_tokens(logits, params.temperature, params.top_p, keys, step, gumbel=g)
                rec.put(live, step, tok, logits)
                done = torch.isin(tok, eos) & alive
                if stop_cand is not None:
                    for r in torch.nonzero(stop_cand[tok] & alive & ~done).flatten().tolist():
                        tail = rec.tok[int(live[r]), max(0, step + 1 - window): step + 1].tolist()
                        if any(s in self.tokenizer.decode(tail, skip_special_tokens=True) for s in params.stop):
                            done[r] = True
                full = (limits[live] <= step + 1) & alive & ~done
                if any(job.cancelled for job, _ in rows):
                    gone = torch.tensor([rows[o][0].cancelled for o in live.tolist()], device=dev)
                    full |= gone & alive & ~done
                if streaming:
                    _emit(rows, live, alive, step, tok, rec, done, full)
                ended = done | full
                if bool(ended.any()):
                    n_gen[live[ended]] = step + 1
                    stopped[live[done]] = True
                    alive &= ~ended
                n_alive = int(alive.sum())
                if n_alive == 0 or step == max_new - 1:
                    break
                if n_alive <= 0.75 * alive.shape[0]:
                    idx = torch.nonzero(alive).flatten()
                    dec.keep(idx)
                    live, keys, tok, alive = live[idx], keys[idx], tok[idx], alive[idx]
                    if noise is not None:
                        noise = noise[idx]
                logits = dec.step(tok)
        rec.finish(rows, n_gen, stopped)


class _Record:
    """Per-row buffers of one decode: sampled ids, their log-probabilities, top alternatives."""

    def __init__(self, n_rows: int, max_new: int, pad_id: int, logprobs: bool, top_n: int, dev: Any) -> None:
        import torch

        self.tok = torch.full((n_rows, max_new), pad_id, dtype=torch.long, device=dev)
        self.lp = torch.zeros((n_rows, max_new), dtype=torch.float32, device=dev) if logprobs else None
        self.top_n = top_n
        if top_n:
            self.top_v = torch.zeros((n_rows, max_new, top_n), dtype=torch.float32, device=dev)
            self.top_i = torch.zeros((n_rows, max_new, top_n), dtype=torch.long, device=dev)

    def put(self, live: Any, step: int, tok: Any, logits: Any) -> None:
        """Record this step's tokens of the decoder rows ``live`` (float32 log-probabilities)."""
        import torch

        self.tok[live, step] = tok
        if self.lp is None:
            return
        lf = logits.float()
        lse = torch.logsumexp(lf, -1)
        self.lp[live, step] = lf.gather(1, tok[:, None])[:, 0] - lse
        if self.top_n:
            v, i = lf.topk(min(self.top_n, lf.shape[-1]), dim=-1)
            self.top_v[live, step, : v.shape[1]] = v - lse[:, None]
            self.top_i[live, step, : i.shape[1]] = i

    def step_rows(self, live: Any, step: int) -> tuple[list[float] | None, list[Top] | None]:
        """This step's log-probabilities and top alternatives of the rows ``live``, as lists."""
        if self.lp is None:
            return None, None
        lps = self.lp[live, step].tolist()
        if not self.top_n:
            return lps, None
        vs, is_ = self.top_v[live, step].tolist(), self.top_i[live, step].tolist()
        return lps, [tuple(zip(i, v)) for i, v in zip(is_, vs)]

    def finish(self, rows: Sequence[tuple[Job, int]], n_gen: Any, stopped: Any) -> None:
        """Cut every row at its length and store its Choice in its job."""
        toks, ns, stops = self.tok.cpu().tolist(), n_gen.cpu().tolist(), stopped.cpu().tolist()
        lps = self.lp.cpu().tolist() if self.lp is not None else None
        tv = self.top_v.cpu().tolist() if self.top_n else None
        ti = self.top_i.cpu().tolist() if self.top_n else None
        for r, (job, j) in enumerate(rows):
            n = ns[r]
            top = tuple(tuple(zip(ti[r][t], tv[r][t])) for t in range(n)) if ti is not None else None
            job.result[j] = Choice(tuple(toks[r][:n]), "stop" if stops[r] else "length",
                                   tuple(lps[r][:n]) if lps is not None else None, top)


def _emit(rows: Sequence[tuple[Job, int]], live: Any, alive: Any, step: int, tok: Any, rec: _Record,
          done: Any, full: Any) -> None:
    """Push this step's token of every alive streaming row to its job's events."""
    live_l, alive_l, tok_l = live.tolist(), alive.tolist(), tok.tolist()
    done_l, full_l = done.tolist(), full.tolist()
    lps, tops = rec.step_rows(live, step)
    for r, o in enumerate(live_l):
        job, j = rows[o]
        if not alive_l[r] or job.events is None or job.cancelled:
            continue
        finish = "stop" if done_l[r] else "length" if full_l[r] else None
        job.events.put((job.tag, j, tok_l[r], lps[r] if lps is not None else None,
                        tops[r] if tops is not None else None, finish))


def prompt_logprobs(engine: Engine, ids: Sequence[int], top_n: int) -> tuple[list[float | None], list[Top | None]]:
    """Log-probability of each prompt token given the ones before it (first: None) and the
    ``top_n`` most likely tokens at each position (first: None), from one forward pass."""
    import torch

    b = engine.backend
    with engine.lock, torch.inference_mode():
        logits = b.lm(input_ids=torch.tensor([list(ids)], device=b.device)).logits[0]
        logp = torch.log_softmax(logits.float(), dim=-1)[:-1]
        vals = logp.gather(1, torch.tensor(list(ids[1:]), device=logp.device)[:, None])[:, 0].tolist()
        tops: list[Top | None] = [None]
        if top_n and len(ids) > 1:
            v, i = logp.topk(min(top_n, logp.shape[-1]), dim=-1)
            tops += [tuple(zip(ii, vv)) for ii, vv in zip(i.tolist(), v.tolist())]
        else:
            tops += [() for _ in vals]
    return [None, *vals], tops
