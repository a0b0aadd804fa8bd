"""Plots as pure functions of a run's data: search curves, op marginals and cell drawings (needs the ``plot`` extra)."""

from __future__ import annotations

from parsecnas.report.cells import draw_cell, draw_genotype
from parsecnas.report.curves import plot_comparison, plot_search_curves
from parsecnas.report.marginals import plot_op_marginals

__all__ = ["draw_cell", "draw_genotype", "plot_comparison", "plot_op_marginals", "plot_search_curves"]
