"""The rlbound report: every analysis of Yue et al. 2025 (arXiv 2504.13837) as figures and one
self-contained HTML page.

- ``analyses``: pure functions, metric outputs in, figure-ready records out;
- ``plots``: matplotlib (Agg canvas) drawings of those records, one colour per run;
- ``html``: the offline page (inline CSS, figures as base64 SVG, no scripts);
- ``build``: ``build_report(run_dirs, labels, base, out_dir, ks=..., extra_metrics=...)`` reads run
  directories and writes ``report.html``, ``figures/`` and ``metrics.json``.

Import ``rlbound.report.build`` for the entry point; this package imports nothing heavy itself.
"""

__all__ = ["analyses", "build", "html", "plots"]
