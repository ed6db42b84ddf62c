"""The rlbound report: every analysis of Yue et al. 2025 (arXiv 2504.13837) as figures and one
self-contained HTML page.

- ``inputs``: reads run directories and their side files through ``rlbound.data``;
- ``analyses``: one module per report section, pure functions, metric outputs in, figure-ready
  records out;
- ``plots``: matplotlib (Agg canvas) drawings of those records, one colour per run;
- ``page``: the sections of the page and what goes into each; ``html``: the offline page (inline
  CSS, figures as base64 SVG, no scripts);
- ``build``: ``build_report(run_dirs, labels, base, out_dir, ks=..., extra_metrics=...)`` assembles
  them and writes ``report.html``, ``figures/`` and ``metrics.json``.

Import ``rlbound.report.build`` for the entry point; this package imports nothing heavy itself.
"""

__all__ = ["analyses", "build", "html", "inputs", "page", "plots"]
