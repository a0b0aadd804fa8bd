"""Estimators: what an architecture costs and how good it is."""

from .cost import count_multiply_adds, count_parameters

__all__ = ["count_multiply_adds", "count_parameters"]
