"""The report's page: its title, the order and wording of the eight sections of Yue et al. 2025
(arXiv 2504.13837), and which figure, table and note goes into which section; ``html`` renders it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from rlbound.report.analyses.curves import N_BOOT, SEED
from rlbound.report.analyses.records import FigureRecord, Table
from rlbound.report.html import FigureBlock, NoteBlock, Page, Section, TableBlock
from rlbound.version import __version__

_SECTIONS = (
    ("passk", "1. pass@k curves", "Unbiased pass@k of every run against k on a log2 axis, with 95% bootstrap bands "
     "over problems; the crossing point k* of each run with the base run is marked (dotted line, diamond; the "
     "bar through the diamond spans its 95% bootstrap CI). Yue et al. 2025: RL models lead at small k, base models overtake them at large k."),
    ("table2", "2. pass@1, pass@K and the sampling-efficiency gap", "In the form of Yue et al. 2025, Table 2: the gap "
     "pass@K(base) - pass@1(run) measures how much of what the base reaches with K samples a run misses in one."),
    ("coverage", "3. Solvable coverage", "Problems solved at least once (c >= 1 of n samples) by both runs, by one "
     "only, or by neither. Under the paper's hypothesis the RL model's solvable set is nearly a subset of the base's."),
    ("accuracy_hist", "4. Per-problem accuracy", "Histogram of c/n per problem with the paper's bins. RL typically "
     "moves mass towards 1 and also raises the count at exactly 0."),
    ("perplexity", "5. Perplexity under the base model", "Per-response perplexity of each run's responses scored by "
     "the base model. If the RL model's responses sit in the low part of the base's own distribution, they were "
     "already likely under the base model."),
    ("training", "6. Over training steps", "pass@1 and pass@K of checkpoints of one training against the step "
     "(paper: pass@1 rises while pass@256 falls)."),
    ("cot", "7. CoT-pass@k and other metrics", "CoT-pass@k counts a sample only if its answer and every reasoning "
     "step are correct (Wen et al. 2025). maj@k: majority vote of k samples; G-Pass@k_tau: probability that at least "
     "ceil(tau k) of k samples are correct (Liu et al. 2024); Cover@tau: share of problems with c/n >= tau "
     "(Dragoi et al. 2025)."),
    ("entropy", "8. Entropy of responses", "Sampled-token estimate: the mean over a response's tokens of -log p of "
     "the token that was sampled (nats per token), from the log-probabilities stored at sampling time."),
)


def report_page(order: Sequence[str], base: str, created: str, summary: Sequence[str], config: Table,
                sections: tuple[Section, ...], colors: Mapping[str, str], findings: Table | None = None) -> Page:
    """The whole page: title, subtitle (base run, time, version), findings, summary, sections,
    configuration, footer."""
    return Page(
        title="rlbound report: " + " vs ".join(order),
        subtitle=f"Analyses of Yue et al. 2025 (arXiv 2504.13837), base run: {base}. Generated {created} by "
        f"rlbound {__version__}. Every number here is in metrics.json.",
        summary=tuple(summary),
        config=config,
        sections=sections,
        colors=dict(colors),
        findings=findings,
        footer="pass@k: unbiased estimator of Chen et al. 2021, averaged over problems; bands and CIs: 95% "
        f"percentile bootstrap over problems ({N_BOOT} replicates, seed {SEED}). Self-contained page: no scripts, "
        "no network requests.",
    )


def sections(figures: Mapping[str, FigureRecord], drawn: Mapping[str, tuple[bytes, bytes]],
             notes: Mapping[str, Sequence[str]], tables: Mapping[str, Sequence[Table]], K: int) -> tuple[Section, ...]:
    """The eight sections with their blocks: figures (``drawn``: key -> PNG, SVG bytes), the tables
    of each section (``tables``: section id -> tables) and the notes (``notes``: note key -> texts)."""
    def fig_block(key: str, caption: str) -> list[FigureBlock]:
        if key not in drawn:
            return []
        return [FigureBlock(name=key, svg=drawn[key][1], caption=caption, alt=figures[key].title)]

    def note_blocks(*keys: str) -> list[NoteBlock]:
        return [NoteBlock(t) for k in keys for t in notes.get(k, [])]

    def table_blocks(key: str) -> list[TableBlock]:
        return [TableBlock(t) for t in tables.get(key, ())]

    blocks: dict[str, list[Any]] = {
        # With step-checked responses the headline is CoT-pass@k: answer pass@k at large k is
        # dominated by answers guessed right after a wrong step.
        "passk": fig_block("cot_passk", "Headline: CoT-pass@k (answer and every step right, dashed, 95% band) "
                           "next to answer pass@k (solid).")
        + fig_block("passk", "pass@k against k, 95% bands; k* marks where the base catches up with each run.")
        + note_blocks("passk_k", "passk") + note_blocks("config"),
        "table2": table_blocks("table2"),
        "coverage": table_blocks("coverage")
        or [NoteBlock("Coverage needs a second run sharing problems with the base run.")],
        "accuracy_hist": fig_block("accuracy_hist", "Problems per accuracy bin, one panel per run."),
        "perplexity": fig_block("perplexity", "Share of each run's responses per perplexity bin (log-spaced bins); "
                                "dotted lines: medians.") + table_blocks("perplexity") + note_blocks("perplexity"),
        "training": fig_block("training", f"pass@1 and pass@{K} per checkpoint, one line per training run.")
        + note_blocks("training"),
        "cot": ([NoteBlock("The CoT-pass@k figure heads section 1.")] if "cot_passk" in drawn else [])
        + note_blocks("cot")
        + fig_block("extra_metrics", "maj@k (Monte Carlo over k-subsets), G-Pass@k against tau, Cover@tau against tau.")
        + note_blocks("extra"),
        "entropy": fig_block("entropy", "Share of each run's responses per bin of the per-response entropy estimate; "
                             "dotted lines: medians.") + table_blocks("entropy") + note_blocks("entropy"),
    }
    return tuple(Section(id=key, title=title, intro=intro, blocks=tuple(blocks[key])) for key, title, intro in _SECTIONS)
