"""Every figure of the book, one function each, registered with the paper figure it reproduces."""

from dnc.figures.registry import REGISTRY, figure, get, save

__all__ = ["REGISTRY", "figure", "get", "save"]
