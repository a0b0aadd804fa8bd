"""Plots as pure functions of a run's data: search curves and cell drawings (needs the ``plot`` extra)."""

from __future__ import annotations

from parsecnas.report.cells import draw_cell, draw_genotype
from parsecnas.report.curves import plot_search_curves

__all__ = ["draw_cell", "draw_genotype", "plot_search_curves"]
