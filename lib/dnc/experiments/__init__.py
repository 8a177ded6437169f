"""The book's experiments, one module per part: settings, cached runs, tables and their words.

- :mod:`~dnc.experiments.paper_a`: the deep linear and ReLU UFM runs of paper A's chapters;
  :mod:`~dnc.experiments.relu_tables`: the ReLU chapter's tables against the paper's;
- :mod:`~dnc.experiments.paper_a_later`: the later version's cross-entropy and depth runs;
  :mod:`~dnc.experiments.ce_optimum`: when the simplex ETF is the CE UFM's optimum, and when not;
- :mod:`~dnc.experiments.realnet`: the real networks' settings and runs;
- :mod:`~dnc.experiments.paper_b`: paper B's MLP and Deep RFM runs;
  :mod:`~dnc.experiments.paper_b_deviations`: where our settings differ from the authors';
- :mod:`~dnc.experiments.runs`: every long run, computed in parallel before the chapters.

Modules are imported on use (``from dnc.experiments import paper_a``): each loads its data and
models, and a chapter needs only its own.
"""
