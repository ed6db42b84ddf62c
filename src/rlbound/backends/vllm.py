"""Sampling with vLLM's offline engine (``vllm.LLM``) on GPUs.

Every sample is its own request: ``SamplingParams(n=1, seed=<the sample's seed>, ...)``. This is
what makes samples independent and reproducible with vLLM (user pain point 5: the engine seed alone,
or ``n > 1`` with one seed, ties samples together or makes them depend on batching), and it avoids
the hangs seen with ``n`` in the hundreds in one request (pain point 6: vLLM #6646, #7050). The
``n`` copies of a prompt still share their prompt computation through vLLM's prefix cache.

Prompts are tokenised here, exactly as the ``hf`` backend does (BOS added unless the text starts
with it), and passed as token ids. ``score`` asks for ``prompt_logprobs`` on prompt + continuation
with ``max_tokens=1`` and reads the continuation's positions.

API used (vLLM >= 0.6): ``LLM(model=..., dtype=..., tensor_parallel_size=..., ...)``,
``LLM.get_tokenizer()``, ``LLM.generate(list of {"prompt_token_ids": [...]}, list of SamplingParams,
use_tqdm=False)`` -> one ``RequestOutput`` per request, in order, with ``prompt_token_ids``,
``prompt_logprobs`` (list: None for the first token, then ``{token_id: Logprob}``) and
``outputs[0]`` (``CompletionOutput``: ``text``, ``token_ids``, ``finish_reason``, ``logprobs``).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rlbound.backends.protocol import Backend, Completion, SamplingParams, check_seeds, encode_prompt
from rlbound.errors import InputError


@dataclass(frozen=True)
class VLLMOptions:
    """Options of the ``vllm`` backend (passed to ``vllm.LLM``).

    Attributes:
        dtype: "auto", "float32", "bfloat16" or "float16".
        tensor_parallel_size: GPUs the model is split over.
        gpu_memory_utilization: fraction of GPU memory vLLM may take.
        max_model_len: context length (None: the model's).
        enforce_eager: disable CUDA graphs (faster start, slower decoding).
        trust_remote_code: passed to vLLM.
        engine_seed: vLLM's engine seed (samples use their own per-request seeds regardless).
        max_num_seqs: most sequences vLLM decodes at once (None: vLLM's default).
    """

    dtype: str = "auto"
    tensor_parallel_size: int = 1
    gpu_memory_utilization: float = 0.9
    max_model_len: int | None = None
    enforce_eager: bool = False
    trust_remote_code: bool = False
    engine_seed: int = 0
    max_num_seqs: int | None = None


class VLLMBackend(Backend):
    """Backend over ``vllm.LLM``; see the module docstring."""

    name = "vllm"

    def __init__(self, model: str, options: VLLMOptions | None = None) -> None:
        self.options = o = options or VLLMOptions()
        try:
            import vllm
        except ImportError:
            raise InputError("the vllm backend needs vLLM and a CUDA GPU (pip install vllm); "
                             "on CPU use the hf backend", field="backend") from None
        self._vllm = vllm
        looks_like_path = os.sep in model or model.startswith((".", "~"))
        if looks_like_path and not Path(model).expanduser().is_dir():
            raise InputError("model directory not found", path=model, field="model")
        self.model = model
        kwargs: dict[str, Any] = dict(model=str(Path(model).expanduser()) if looks_like_path else model,
                                      dtype=o.dtype, tensor_parallel_size=o.tensor_parallel_size,
                                      gpu_memory_utilization=o.gpu_memory_utilization, seed=o.engine_seed,
                                      trust_remote_code=o.trust_remote_code, enforce_eager=o.enforce_eager)
        if o.max_model_len is not None:
            kwargs["max_model_len"] = o.max_model_len
        if o.max_num_seqs is not None:
            kwargs["max_num_seqs"] = o.max_num_seqs
        try:
            self.llm = vllm.LLM(**kwargs)
        except (OSError, ValueError) as e:
            first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
            raise InputError(f"vLLM cannot load the model: {first}", path=model, field="model") from None
        self.tokenizer = self.llm.get_tokenizer()

    def _params(self, params: SamplingParams, seed: int) -> Any:
        return self._vllm.SamplingParams(
            n=1, temperature=params.temperature, top_p=params.top_p, max_tokens=params.max_new_tokens,
            stop=list(params.stop) or None, seed=int(seed), logprobs=0 if params.logprobs else None)

    def generate(self, prompts: Sequence[str], params: SamplingParams,
                 seeds: Sequence[Sequence[int]]) -> list[list[Completion]]:
        """One vLLM request per (prompt, seed), all submitted together; results in input order."""
        check_seeds(prompts, seeds)
        ids = [encode_prompt(self.tokenizer, p) for p in prompts]
        reqs, sps = [], []
        for i, ss in enumerate(seeds):
            for s in ss:
                reqs.append({"prompt_token_ids": ids[i]})
                sps.append(self._params(params, s))
        outs = self.llm.generate(reqs, sps, use_tqdm=False) if reqs else []
        flat = []
        for out in outs:
            c = out.outputs[0]
            lps = None
            if params.logprobs and c.logprobs is not None:
                lps = tuple(float(step[t].logprob) for t, step in zip(c.token_ids, c.logprobs))
            flat.append(Completion(text=c.text, completion_tokens=len(c.token_ids),
                                   prompt_tokens=len(out.prompt_token_ids),
                                   finish_reason=str(c.finish_reason or "stop"), logprobs=lps))
        res, k = [], 0
        for ss in seeds:
            res.append(flat[k:k + len(ss)])
            k += len(ss)
        return res

    def score(self, prompts: Sequence[str], continuations: Sequence[str]) -> list[Any]:
        """Per-token log-probabilities of each continuation given its prompt, from ``prompt_logprobs``."""
        import numpy as np

        if len(prompts) != len(continuations):
            raise ValueError(f"got {len(prompts)} prompts but {len(continuations)} continuations")
        pairs = [(encode_prompt(self.tokenizer, p), list(self.tokenizer(c, add_special_tokens=False)["input_ids"]))
                 for p, c in zip(prompts, continuations)]
        reqs = [{"prompt_token_ids": p + c} for p, c in pairs]
        sp = self._vllm.SamplingParams(max_tokens=1, temperature=0.0, prompt_logprobs=1)
        outs = self.llm.generate(reqs, [sp] * len(reqs), use_tqdm=False) if reqs else []
        res = []
        for (p, c), out in zip(pairs, outs):
            plp = out.prompt_logprobs
            vals = [float(plp[len(p) + j][tok].logprob) for j, tok in enumerate(c)]
            res.append(np.asarray(vals, dtype=np.float64))
        return res

    def describe(self) -> dict[str, Any]:
        return {"vllm_version": getattr(self._vllm, "__version__", "unknown")}

    def close(self) -> None:
        self.llm = None
