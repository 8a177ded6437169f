"""dnc: the computations behind the book *Deep Neural Collapse and the low-dimensional structure
of deep learning* (models, training, Hessians, metrics, AGOP/RFM, data, figures)."""

from dnc import cache, metrics, profile

__all__ = ["cache", "metrics", "profile"]
__version__ = "0.1.0"
