#!/usr/bin/env bash
# GPU check of rlbound on one CUDA device, with the torch and transformers already installed there
# (no package registry needed: rlbound runs from this checkout via PYTHONPATH=src).
#
#   scripts/gpu_check.sh [--cpu] [--keep] [WORK_DIR]
#
# Four checks, each printing its figures; a summary goes to WORK_DIR/gpu_check.json:
#   1. a tiny models x benchmarks grid (rlbound study --config): the shipped sandbox models on CUDA
#      and a random-initialised small Qwen2 on the hf backend in bfloat16, with perplexity;
#   2. three GRPO steps of `rlbound train` on the random-initialised Qwen2, on CUDA;
#   3. sandbox sampling of the shipped `tiny` model on CUDA and on CPU (float32, same seeds): the
#      hf backend's counter-based noise makes a sample a function of its seed and the logits, so the
#      texts must agree except where CUDA and CPU logits differ at a near-tie (>= 90% identical);
#   4. the versions and the device.
# --cpu runs every step on the CPU instead (checks the script itself on a machine without a GPU).
# Exit code 0 when every check passed. Python: $PYTHON, else python3.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PY="${PYTHON:-python3}"
DEVICE=cuda
KEEP=0
WORK=""
for arg in "$@"; do
  case "$arg" in
    --cpu) DEVICE=cpu ;;
    --keep) KEEP=1 ;;
    -h|--help) sed -n '2,18p' "$0"; exit 0 ;;
    *) WORK="$arg" ;;
  esac
done
if [ -z "$WORK" ]; then WORK="$(mktemp -d -t rlbound-gpu-check-XXXXXX)"; fi
mkdir -p "$WORK"
export PYTHONPATH="$ROOT/src${PYTHONPATH:+:$PYTHONPATH}"
export RLBOUND_CACHE="$WORK/cache"
SHARED="$ROOT/../shared/benchmarks"
TINY="$ROOT/src/rlbound/toy/checkpoints/tiny"
say() { echo "[gpu_check $(date +%H:%M:%S)] $*" >&2; }
rlb() { "$PY" -c 'import sys; from rlbound.cli import main; sys.exit(main(sys.argv[1:]))' "$@"; }

# ---- 0. what this machine has -------------------------------------------------------------------
"$PY" - "$DEVICE" <<'EOF'
import importlib.util, sys
device = sys.argv[1]
missing = [m for m in ("torch", "transformers", "tokenizers", "safetensors", "numpy", "pyarrow", "tqdm", "matplotlib")
           if importlib.util.find_spec(m) is None]
if missing:
    sys.exit(f"gpu_check: missing Python packages: {', '.join(missing)} (rlbound needs them; install them from a "
             "local wheel folder or use an environment that has them)")
import torch
if device == "cuda" and not torch.cuda.is_available():
    sys.exit("gpu_check: torch sees no CUDA device (use --cpu to check the script on the CPU)")
EOF
say "work folder: $WORK (device $DEVICE)"

# ---- inputs: sandbox problems, a random small Qwen2 -----------------------------------------------
rlb sandbox data --count 8 --seed 0 --out "$WORK/sandbox.jsonl" >/dev/null
rlb sandbox data --split train --count 64 --seed 0 --out "$WORK/train.jsonl" >/dev/null
"$PY" - "$WORK/qwen" <<'EOF'
import sys
import torch
from transformers import Qwen2Config, Qwen2ForCausalLM
from rlbound.toy.presets import get_recipe
from rlbound.toy.tokenizer import build_tokenizer
tok = build_tokenizer(get_recipe("tiny").task)
cfg = Qwen2Config(vocab_size=len(tok), hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                  num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=1024,
                  bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id, pad_token_id=tok.pad_token_id,
                  tie_word_embeddings=True)
torch.manual_seed(0)
Qwen2ForCausalLM(cfg).save_pretrained(sys.argv[1])
tok.save_pretrained(sys.argv[1])
EOF

# ---- 1. the grid ------------------------------------------------------------------------------------
GSM=""
if [ -f "$SHARED/gsm8k/test.jsonl" ]; then
  GSM="
[[benchmarks]]
name = \"gsm8k\"
file = \"$SHARED/gsm8k/test.jsonl\"
limit = 8
n = 4
temperature = 1.0
max_tokens = 32
"
fi
cat > "$WORK/grid.toml" <<EOF
[[models]]
name = "tiny"
backend = "sandbox"
path = "tiny"
role = "base"
benchmarks = ["sandbox"]
options = { device = "$DEVICE" }

[[models]]
name = "teacher"
backend = "sandbox"
path = "teacher"
role = "distilled"
benchmarks = ["sandbox"]
options = { device = "$DEVICE" }

[[models]]
name = "qwen-bf16"
backend = "hf"
path = "$WORK/qwen"
role = "base"
template = "raw"
options = { device = "$DEVICE", dtype = "bfloat16" }

[[benchmarks]]
name = "sandbox"
file = "$WORK/sandbox.jsonl"
n = 16
temperature = 1.0
top_p = 1.0
max_tokens = 96
$GSM
[[comparisons]]
base = "tiny"
other = "teacher"

[[perplexity]]
responses = ["tiny", "teacher"]
under = "tiny"

[[perplexity]]
responses = ["qwen-bf16"]
under = "qwen-bf16"
EOF
T0=$(date +%s)
rlb study --config "$WORK/grid.toml" --out "$WORK/grid" > "$WORK/grid.out"
GRID_S=$(( $(date +%s) - T0 ))
cat "$WORK/grid.out"
say "grid done in ${GRID_S} s"

# ---- 2. three GRPO steps on the random Qwen2 ------------------------------------------------------------
T0=$(date +%s)
rlb train --model "$WORK/qwen" --out "$WORK/train" --algo grpo --task "$WORK/train.jsonl" --template raw \
  --steps 3 --prompts-per-step 4 --rollouts 4 --max-new-tokens 32 --eval-problems 0 --save-every 3 \
  --device "$DEVICE" > "$WORK/train.out"
TRAIN_S=$(( $(date +%s) - T0 ))
tail -n 3 "$WORK/train.out"
say "3 GRPO steps done in ${TRAIN_S} s"

# ---- 3. sandbox sampling on the device against the CPU --------------------------------------------------
for pair in "device:$DEVICE" "cpu:cpu"; do  # two runs (folders sample-device, sample-cpu) even with --cpu
  rlb sample --model "$TINY" --benchmark "$WORK/sandbox.jsonl" --out "$WORK/sample-${pair%%:*}" --backend hf \
    --device "${pair#*:}" --dtype float32 --template raw --n 32 --temperature 1.0 --top-p 1.0 --max-new-tokens 96 \
    --seed 7 > /dev/null
  rlb verify "$WORK/sample-${pair%%:*}" --workers 0 > /dev/null
done

# ---- 4. the figures ---------------------------------------------------------------------------------------
"$PY" - "$WORK" "$DEVICE" "$GRID_S" "$TRAIN_S" <<'EOF'
import json, sys
from pathlib import Path
import torch, transformers
from rlbound.data.store import RunStore
work, device, grid_s, train_s = Path(sys.argv[1]), sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
ok = True
found = json.loads((work / "grid" / "findings.json").read_text())
cells = {f"{c['model']} x {c['benchmark']}": c["status"] for c in found["cells"]}
ok &= all(s == "done" for s in cells.values())
ppl = sorted(str(p.relative_to(work / "grid")) for p in (work / "grid" / "runs").glob("*/*/perplexity.parquet"))
ok &= len(ppl) >= 3
bf16 = RunStore.open(work / "grid" / "runs" / "sandbox" / "qwen-bf16").manifest.extra.get("backend_options", {})
ok &= bf16.get("dtype") == "bfloat16"
steps = [json.loads(x) for x in (work / "train" / "log.jsonl").read_text().splitlines() if x.strip()] \
    if (work / "train" / "log.jsonl").exists() else []
ok &= (work / "train" / "checkpoints" / "step-3").exists()
a = {(s.problem_id, s.sample_index): s.text for s in RunStore.open(work / "sample-device").samples()}
b = {(s.problem_id, s.sample_index): s.text for s in RunStore.open(work / "sample-cpu").samples()}
same = sum(a[k] == b.get(k) for k in a) / max(len(a), 1)
pass1 = {d: float(RunStore.open(work / f"sample-{d}").counts()[2].sum()) / len(a) for d in ("device", "cpu")}
ok &= same >= 0.9 and len(a) == len(b)
summary = {"device": torch.cuda.get_device_name(0) if device == "cuda" else "cpu", "torch": torch.__version__,
           "transformers": transformers.__version__, "grid_seconds": grid_s, "grid_cells": cells,
           "grid_findings": {f"{r['other']} vs {r['base']} on {r['benchmark']}": [r["verdict"], r["ci95"]]
                             for r in found["findings"]},
           "perplexity_files": ppl, "qwen_dtype": bf16.get("dtype"), "grpo_seconds": train_s,
           "grpo_log_rows": len(steps), "sampling_identical_share": same, "pass1": pass1, "passed": bool(ok)}
(work / "gpu_check.json").write_text(json.dumps(summary, indent=1))
print(json.dumps(summary, indent=1))
sys.exit(0 if ok else 1)
EOF
RC=$?
if [ "$KEEP" = 0 ] && [ "$RC" = 0 ]; then say "all checks passed; summary in $WORK/gpu_check.json"; fi
exit $RC
