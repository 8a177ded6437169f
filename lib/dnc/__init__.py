"""dnc: the computations behind the book on deep neural collapse.

The book is *Deep Neural Collapse and the low-dimensional structure of deep learning*; this
package holds its models, training, Hessians, metrics, AGOP/RFM, data and figures.
"""

from dnc import cache, metrics, profile

__all__ = ["cache", "metrics", "profile"]
__version__ = "0.1.0"
