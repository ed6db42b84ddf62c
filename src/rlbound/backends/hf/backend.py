"""``HFBackend``: batched sampling and scoring with a transformers causal LM.

``generate`` runs the decode loop: one decoder per batch (``rlbound.backends.hf.decoders``), one
token per live row and step by the sampling rule of ``rlbound.backends.hf.sampler``, rows that hit
EOS or a stop string leave the batch once a quarter of the rows are done (the caches are
compacted). With ``params.logprobs`` each completion also carries ``log softmax(logits)[token]`` of
its sampled tokens: the model's raw distribution (temperature 1, before top-p), as vLLM returns by
default. ``score`` gives per-token log-probabilities of continuations (perplexity, Yue et al. 2025,
arXiv 2504.13837, Sec. 4.1), sharing each prompt's cache across its continuations.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from rlbound.backends.hf.decoders import HFCacheDecoder, fast_path_supported, select_decoder
from rlbound.backends.hf.loading import load_model_and_tokenizer, resolve_device, resolve_dtype
from rlbound.backends.hf.options import HFOptions
from rlbound.backends.hf.sampler import choose_tokens, gumbel_noise, row_keys
from rlbound.backends.protocol import Backend, Completion, SamplingParams, check_seeds, encode_prompt
from rlbound.errors import InputError


def pad_rows(seqs: Sequence[Sequence[int]], pad_id: int, *, left: bool) -> tuple[torch.Tensor, torch.Tensor]:
    """Token ids ``[N, longest]`` filled with ``pad_id`` on the left (prompts) or the right, and the
    bool mask ``[N, longest]`` of real tokens."""
    width = max((len(x) for x in seqs), default=0)
    ids = torch.full((len(seqs), width), pad_id, dtype=torch.long)
    valid = torch.zeros((len(seqs), width), dtype=torch.bool)
    for r, x in enumerate(seqs):
        if len(x):
            cols = slice(width - len(x), width) if left else slice(0, len(x))
            ids[r, cols] = torch.tensor(list(x), dtype=torch.long)
            valid[r, cols] = True
    return ids, valid


class HFBackend(Backend):
    """Batched sampling and scoring with a transformers causal LM (see the ``rlbound.backends.hf`` docstring)."""

    name = "hf"

    def __init__(self, model: str, options: HFOptions | None = None) -> None:
        self.options = options or HFOptions()
        if self.options.batch_size <= 0:
            raise InputError(f"batch_size must be positive, got {self.options.batch_size}", field="batch_size")
        if self.options.threads:
            torch.set_num_threads(self.options.threads)
        self.device = resolve_device(self.options.device)
        self.dtype = resolve_dtype(self.options.dtype, self.device)
        self.model = model
        self.lm, self.tokenizer = load_model_and_tokenizer(
            model, device=self.device, dtype=self.dtype, trust_remote_code=self.options.trust_remote_code)
        self.fast = self.options.fast_path and fast_path_supported(self.lm)
        self.eos_ids = self._eos_ids()
        self.pad_id = self._pad_id()
        self.max_positions = getattr(self.lm.config, "max_position_embeddings", None)
        self._stop_cache: dict[tuple[str, ...], torch.Tensor] = {}

    # -- helpers --

    def _eos_ids(self) -> list[int]:
        ids: set[int] = set()
        for src in (getattr(self.lm.generation_config, "eos_token_id", None), self.tokenizer.eos_token_id,
                    getattr(self.lm.config, "eos_token_id", None)):
            if isinstance(src, int):
                ids.add(src)
            elif isinstance(src, (list, tuple)):
                ids.update(int(i) for i in src)
        return sorted(ids)

    def _pad_id(self) -> int:
        for cand in (self.tokenizer.pad_token_id, self.tokenizer.eos_token_id, *self.eos_ids):
            if cand is not None:
                return int(cand)
        return 0

    def encode_prompt(self, prompt: str) -> list[int]:
        """Token ids of a prompt: special tokens added (BOS) unless the text already starts with BOS."""
        return encode_prompt(self.tokenizer, prompt)

    @property
    def causal_lm(self) -> Any:
        """The transformers model this backend samples from, for callers that train it in place
        (``rlbound.rl``): every ``generate`` builds its decoder from the model's current weights,
        so the next call samples the updated model."""
        return self.lm

    def _stop_candidates(self, stop: tuple[str, ...]) -> torch.Tensor:
        """Bool ``[V]``: tokens whose text may complete a stop string (contain a stop string's last
        character, decode to nothing, or decode to a partial character)."""
        if stop not in self._stop_cache:
            last = {s[-1] for s in stop}
            vocab = self.lm.get_output_embeddings().weight.shape[0]
            pieces = self.tokenizer.batch_decode([[i] for i in range(vocab)], skip_special_tokens=False)
            flags = [p == "" or "\ufffd" in p or any(c in p for c in last) for p in pieces]
            self._stop_cache[stop] = torch.tensor(flags, dtype=torch.bool, device=self.device)
        return self._stop_cache[stop]

    # -- public API --

    def generate(self, prompts: Sequence[str], params: SamplingParams,
                 seeds: Sequence[Sequence[int]]) -> list[list[Completion]]:
        """For each prompt, one Completion per seed; the sampling rule is ``rlbound.backends.hf.sampler``'s."""
        check_seeds(prompts, seeds)
        cache: dict[str, list[int]] = {}
        encoded = [cache[p] if p in cache else cache.setdefault(p, self.encode_prompt(p)) for p in prompts]
        rows = [(i, int(s)) for i, ss in enumerate(seeds) for s in ss]
        results: list[Completion] = []
        bs = self.options.batch_size
        with torch.inference_mode():
            for start in range(0, len(rows), bs):
                results.extend(self._sample_rows(encoded, rows[start:start + bs], params))
        out: list[list[Completion]] = [[] for _ in prompts]
        for (i, _), c in zip(rows, results):
            out[i].append(c)
        return out

    def _sample_rows(self, encoded: list[list[int]], rows: list[tuple[int, int]],
                     params: SamplingParams) -> list[Completion]:
        dev = self.device
        uniq = sorted({i for i, _ in rows})
        where = {p: u for u, p in enumerate(uniq)}
        lens = [len(encoded[p]) for p in uniq]
        if min(lens) == 0:
            raise InputError("a prompt encodes to zero tokens and the tokenizer adds no BOS token", field="prompt")
        length = max(lens)
        max_new = params.max_new_tokens
        if self.max_positions:
            max_new = min(max_new, self.max_positions - length)
            if max_new <= 0:
                raise InputError(f"prompt of {length} tokens leaves no room in the model's "
                                 f"{self.max_positions}-token context", field="max_new_tokens")
        ids, valid = pad_rows([encoded[p] for p in uniq], self.pad_id, left=True)
        pad = (~valid).sum(1).to(dev)
        row_src = torch.tensor([where[i] for i, _ in rows], dtype=torch.long, device=dev)
        n_rows = len(rows)

        dec = select_decoder(self.lm, self.fast, n_rows / len(uniq), length)
        logits = dec.prefill(ids.to(dev), pad, row_src, max_new)
        keys = row_keys([s for _, s in rows], dev)
        live = torch.arange(n_rows, device=dev)  # decoder row -> output row
        alive = torch.ones(n_rows, dtype=torch.bool, device=dev)  # per decoder row
        out_tok = torch.full((n_rows, max_new), self.pad_id, dtype=torch.long, device=dev)
        out_lp = torch.zeros((n_rows, max_new), dtype=torch.float32, device=dev) if params.logprobs else None
        n_gen = torch.full((n_rows,), max_new, dtype=torch.long, device=dev)
        stopped = torch.zeros(n_rows, dtype=torch.bool, device=dev)
        eos = torch.tensor(self.eos_ids, dtype=torch.long, device=dev)
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
            out_tok[live, step] = tok
            if out_lp is not None:  # log p(token) under the raw logits (temperature 1, no top-p), in float32
                lf = logits.float()
                out_lp[live, step] = lf.gather(1, tok[:, None])[:, 0] - torch.logsumexp(lf, -1)
            done = torch.isin(tok, eos) & alive
            if stop_cand is not None:
                for r in torch.nonzero(stop_cand[tok] & alive & ~done).flatten().tolist():
                    o = int(live[r])
                    tail = out_tok[o, max(0, step + 1 - window): step + 1].tolist()
                    text = self.tokenizer.decode(tail, skip_special_tokens=True)
                    if any(s in text for s in params.stop):
                        done[r] = True
            if bool(done.any()):
                finished = live[done]
                n_gen[finished] = step + 1
                stopped[finished] = True
                alive &= ~done
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

        return self._finish(rows, encoded, out_tok, out_lp, n_gen, stopped, params)

    def _finish(self, rows, encoded, out_tok, out_lp, n_gen, stopped, params) -> list[Completion]:
        toks = out_tok.cpu().tolist()
        ns = n_gen.cpu().tolist()
        stop_flags = stopped.cpu().tolist()
        texts = self.tokenizer.batch_decode([t[:n] for t, n in zip(toks, ns)], skip_special_tokens=True)
        lps = out_lp.cpu().tolist() if out_lp is not None else None
        res = []
        for r, (text, n, was_stopped) in enumerate(zip(texts, ns, stop_flags)):
            text = cut_at_stop(text, params.stop)
            res.append(Completion(
                text=text, completion_tokens=n, prompt_tokens=len(encoded[rows[r][0]]),
                finish_reason="stop" if was_stopped else "length",
                logprobs=tuple(lps[r][:n]) if lps is not None else None))
        return res

    def score(self, prompts: Sequence[str], continuations: Sequence[str]) -> list[np.ndarray]:
        """Per-token log-probabilities of each continuation given its prompt (temperature 1).

        Prompt and continuation are tokenised separately and concatenated, so the scored tokens are
        exactly the continuation's own tokens. Returns float64 arrays of shape ``(T_i,)``.

        Continuations of one prompt share its encoding: each batch runs its distinct prompts once
        (left-padded, into a ``DynamicCache``), copies each prompt's cache to its rows, and runs the
        continuations on top (a pass@k run scores up to n continuations per prompt, so this skips
        most of the prompt tokens' work). ``score_full`` is the plain one-forward-per-sequence path.
        """
        pairs = self._score_pairs(prompts, continuations)
        out: list[np.ndarray | None] = [None] * len(pairs)
        # rows of one prompt together, short continuations first within it
        order = sorted(range(len(pairs)), key=lambda i: (pairs[i][0], len(pairs[i][1])))
        bs = self.options.batch_size
        with torch.inference_mode():
            for start in range(0, len(order), bs):
                chunk = order[start:start + bs]
                for i, vals in zip(chunk, self._score_shared_prefix([pairs[i] for i in chunk])):
                    out[i] = vals
        return out  # type: ignore[return-value]

    def _score_pairs(self, prompts: Sequence[str], continuations: Sequence[str]) -> list[tuple[tuple[int, ...], list[int]]]:
        if len(prompts) != len(continuations):
            raise ValueError(f"got {len(prompts)} prompts but {len(continuations)} continuations")
        encoded: dict[str, tuple[int, ...]] = {}
        pairs = []
        for p, c in zip(prompts, continuations):
            if p not in encoded:
                encoded[p] = tuple(self.encode_prompt(p))
            pid = encoded[p]
            if not pid:
                raise InputError("an empty prompt gives the first token no context (the tokenizer has no BOS)",
                                 field="prompt")
            pairs.append((pid, list(self.tokenizer(c, add_special_tokens=False)["input_ids"])))
        return pairs

    def _score_shared_prefix(self, pairs: list[tuple[tuple[int, ...], list[int]]]) -> list[np.ndarray]:
        """Log-probabilities for one batch of (prompt ids, continuation ids); see ``score``."""
        dev = self.device
        uniq = list(dict.fromkeys(p for p, _ in pairs))
        where = {p: u for u, p in enumerate(uniq)}
        ids, valid = pad_rows(uniq, self.pad_id, left=True)
        row_src = torch.tensor([where[p] for p, _ in pairs], dtype=torch.long, device=dev)
        dec = HFCacheDecoder(self.lm)
        first = torch.log_softmax(dec.prefill(ids.to(dev), (~valid).sum(1).to(dev), row_src, 0), dim=-1)  # [B, V]
        rest_ids, rest_ok = pad_rows([c[:-1] for _, c in pairs], self.pad_id, left=False)
        rest = torch.log_softmax(dec.extend(rest_ids.to(dev), rest_ok.to(dev)), dim=-1) if rest_ids.shape[1] else None
        res = []
        for r, (_, c) in enumerate(pairs):
            tgt = torch.tensor(c, dtype=torch.long, device=dev)
            vals = first[r, tgt[:1]]  # the first token is predicted by the prompt's last position
            if len(c) > 1:
                vals = torch.cat([vals, rest[r, : len(c) - 1].gather(1, tgt[1:, None])[:, 0]])
            res.append(vals.double().cpu().numpy())
        return res

    def score_full(self, prompts: Sequence[str], continuations: Sequence[str]) -> list[np.ndarray]:
        """``score`` with one forward pass over each whole prompt + continuation (no sharing)."""
        pairs = self._score_pairs(prompts, continuations)
        out: list[np.ndarray | None] = [None] * len(pairs)
        order = sorted(range(len(pairs)), key=lambda i: len(pairs[i][0]) + len(pairs[i][1]))
        bs = self.options.batch_size
        with torch.inference_mode():
            for start in range(0, len(order), bs):
                chunk = order[start:start + bs]
                ids, valid = pad_rows([list(pairs[i][0]) + pairs[i][1] for i in chunk], self.pad_id, left=False)
                logits = self.lm(input_ids=ids.to(self.device), attention_mask=valid.long().to(self.device)).logits
                logp = torch.log_softmax(logits.float(), dim=-1)
                for r, i in enumerate(chunk):
                    lp, lc = len(pairs[i][0]), len(pairs[i][1])
                    tgt = torch.tensor(pairs[i][1], dtype=torch.long, device=self.device)
                    vals = logp[r, lp - 1: lp - 1 + lc].gather(1, tgt[:, None])[:, 0] if lc else logp.new_zeros(0)
                    out[i] = vals.double().cpu().numpy()
        return out  # type: ignore[return-value]

    def describe(self) -> dict[str, Any]:
        """For the manifest: library versions and how the model ran (pain point 4)."""
        import transformers

        return {"torch": torch.__version__, "transformers": transformers.__version__,
                "device": str(self.device), "dtype": str(self.dtype).replace("torch.", ""),
                "decoder": "static-kv" if self.fast else "transformers-dynamic-cache",
                "sampler": "gumbel-max, splitmix64 counter noise (seed, step, token)"}

    def close(self) -> None:
        self.lm = None
        if torch.cuda.is_available():
            torch.cuda.empty_cache()


def cut_at_stop(text: str, stop: Sequence[str]) -> str:
    """``text`` up to the stop string that ends first (OpenAI/vLLM semantics: stop not included)."""
    best = None
    for s in stop:
        i = text.find(s)
        if i >= 0 and (best is None or i + len(s) < best[0]):
            best = (i + len(s), i)
    return text if best is None else text[:best[1]]

