"""The book's measurements on a network the reader brings: ``dnc.probe.measure(model, data, layers)``.

``data`` (where the batches come from), ``stats`` (streamed class statistics), ``layers`` (which
layers, and what follows them), ``passes`` (the two passes over the data), ``curvature`` (the
layer Hessian and its top eigenpairs), ``measure`` (everything per layer) and ``report`` (the
result). The summary figure is :func:`dnc.figures.probe.probe_summary`.
"""

from dnc.probe.measure import collapse, measure
from dnc.probe.report import Report

__all__ = ["Report", "collapse", "measure"]
