"""The analyses of Yue et al. 2025 (arXiv 2504.13837), one module per report section.

Pure functions: per-problem counts and metric outputs in, figure-ready records out (``records``:
curves, markers, histogram panels, tables, and the ``SectionResult`` a section adds to the
report). No IO, no matplotlib; ``plots`` draws the records, ``html`` lays them out, ``build``
writes every number to ``metrics.json``.

- ``records``: the records; ``curves``: metric curves with bootstrap bands (``CurveStats``);
- ``passk`` (1): pass@k curves and crossing k*; ``comparisons``: every run against the base;
- ``efficiency`` (2): Table 2, pass@1, pass@K and the sampling-efficiency gap;
- ``coverage`` (3): solvable coverage; ``histograms`` (4): per-problem accuracy;
- ``perplexity`` (5): perplexity under the base model; ``training`` (6): over training steps;
- ``cot`` (7): CoT-pass@k; ``extra`` (7): maj@k, G-Pass@k, mG-Pass@k, Cover@tau;
- ``entropy`` (8): entropy of responses; ``distributions``: their shared binning;
- ``overview``: the configuration table, the runs entry and the summary lines.
"""
