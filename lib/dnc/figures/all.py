"""Import every figure module so that the registry is complete."""

from dnc.figures import (  # noqa: F401
    collapse,
    paper_a,
    paper_a_evidence,
    paper_a_later,
    paper_a_matrices,
    paper_a_relu,
    paper_b,
    probe,
    realnet,
)
