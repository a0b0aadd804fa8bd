"""``parsecnas report``: one self-contained static HTML page for a run, or for a comparison of runs.

The page is a single file that needs no network and no script: figures are PNG images embedded as base64
``data:`` URIs, drawn afresh from each run's ``metrics.jsonl`` (search curves, the loss/ESS panel, per-op
marginals, training curves, a black-box search's incumbent), with the run's own cell drawings (or cells drawn
from its genotype), the top architectures with their probabilities, the results table, the search cost and
the config. Search, training, black-box and ``--seeds`` runs all work (:mod:`parsecnas.report.runs`); with
several runs the page starts with the results table of all of them and their curves overlaid.

Example:
    >>> write_report(["runs/search-1"])  # doctest: +SKIP
    PosixPath('runs/search-1/report.html')
"""

from __future__ import annotations

import base64
import html
import math
import tempfile
from collections.abc import Callable, Iterable, Sequence
from functools import partial
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import yaml

from parsecnas.report.cells import draw_cell
from parsecnas.report.curves import plot_comparison, plot_search_curves
from parsecnas.report.marginals import plot_op_marginals
from parsecnas.report.runs import RunInfo, load_runs, run_kind, runs_below, table_summary
from parsecnas.report.table import HEADER, table_rows
from parsecnas.run.atomic import atomic_write_text

__all__ = ["arch_text", "render_report", "write_report"]

_COMPARED = (("mode_accuracy", "epoch"), ("entropy", "epoch"), ("table_test_accuracy", "epoch"),
             ("val_accuracy", "epoch"), ("test_accuracy", "epoch"), ("train_loss", "epoch"), ("best_score", "trial"))
_STYLE = """
body { font-family: system-ui, -apple-system, 'Segoe UI', sans-serif; margin: 2em auto; max-width: 1180px;
       color: #1d1d1f; padding: 0 1em; }
h1 { font-size: 1.6em; } h2 { border-bottom: 1px solid #ddd; padding-bottom: .2em; margin-top: 2em; }
h3 { margin-top: 1.4em; }
table { border-collapse: collapse; margin: .6em 0; font-size: .92em; }
th, td { border: 1px solid #ccc; padding: .25em .6em; text-align: left; vertical-align: top; }
th { background: #f3f3f6; }
figure { display: inline-block; margin: .4em; vertical-align: top; }
figure img { max-width: 560px; width: 100%; border: 1px solid #eee; }
figcaption { font-size: .85em; color: #555; text-align: center; }
pre { background: #f7f7f9; padding: .8em; overflow-x: auto; font-size: .85em; }
code { font-size: .85em; word-break: break-all; }
.note { color: #8a5a00; }
"""


def write_report(paths: Iterable[str | Path], out: str | Path | None = None) -> Path:
    """Writes the report of the runs found under ``paths`` (run directories or folders of them) and returns
    its path: ``out``, else ``report.html`` in the one folder given, else in the current directory.

    Raises:
        FileNotFoundError: a path holds no run.
        ValueError: ``out`` is not an ``.html`` file.
    """
    paths = list(paths)
    runs = load_runs(paths)
    if out is None:
        out = Path(paths[0]) / "report.html" if len(paths) == 1 else Path("report.html")
    out = Path(out)
    if out.suffix.lower() not in (".html", ".htm"):
        raise ValueError(f"--out {str(out)!r}: the report is an HTML page; give a file name ending in .html")
    return atomic_write_text(out, render_report(runs))


def render_report(runs: Sequence[RunInfo], *, title: str | None = None) -> str:
    """The page of ``runs`` as one HTML string: a comparison first when there are several, then each run."""
    if not runs:
        raise ValueError("a report needs at least one run")
    with tempfile.TemporaryDirectory(prefix="parsecnas-report-") as tmp:
        figures = _Figures(Path(tmp))
        body = [_comparison(runs, figures)] if len(runs) > 1 else []
        body += [_run_section(run, figures, heading="h2" if len(runs) > 1 else None) for run in runs]
        note = (f'<p class="note">{html.escape(figures.missing)}</p>' if figures.missing else "")
    name = title or (runs[0].name if len(runs) == 1 else f"comparison of {len(runs)} runs")
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<title>parsecnas report: {html.escape(name)}</title><style>{_STYLE}</style></head>\n<body>\n"
            f"<h1>parsecnas report: {html.escape(name)}</h1>\n{note}\n" + "\n".join(body) + "\n</body></html>\n")


class _Figures:
    """Draws figures into a scratch folder and returns them as ``<figure>`` elements with embedded PNGs; a
    figure whose data is missing is left out, and missing matplotlib is noted once."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.count = 0
        self.missing = ""

    def __call__(self, caption: str, draw: Callable[[Path], object]) -> str:
        if self.missing:
            return ""
        self.count += 1
        path = self.folder / f"figure-{self.count}.png"
        try:
            draw(path)
        except ValueError:  # the run did not log what this figure shows
            return ""
        except ImportError as err:
            self.missing = f"Figures left out: {err}"
            return ""
        return _image(path.read_bytes(), caption)


def _image(png: bytes, caption: str) -> str:
    """A ``<figure>`` holding ``png`` as a base64 data URI, with its caption."""
    data = base64.b64encode(png).decode("ascii")
    text = html.escape(caption)
    return (f'<figure><img alt="{text}" src="data:image/png;base64,{data}">'
            f"<figcaption>{text}</figcaption></figure>")


def _comparison(runs: Sequence[RunInfo], figures: _Figures) -> str:
    parts = ["<h2>Comparison</h2>", _results_table(runs)]
    named = _unique_names(runs)
    for key, x in _COMPARED:
        series = {name: run.metrics for name, run in zip(named, runs, strict=True)
                  if any(key in r and x in r for r in run.metrics)}
        if len(series) > 1:  # one run's curve is in its own section
            parts.append(figures(f"{key} of each run", partial(_compare, series, key, x)))
    return "\n".join(parts)


def _compare(series: dict[str, list[dict[str, Any]]], key: str, x: str, path: Path) -> Path:
    return plot_comparison(series, key, path, x)


def _unique_names(runs: Sequence[RunInfo]) -> list[str]:
    names = [run.name for run in runs]
    return [f"{run.path.parent.name}/{run.name}" if names.count(run.name) > 1 else run.name for run in runs]


def _results_table(runs: Sequence[RunInfo]) -> str:
    header = ("Run", "Kind", *HEADER)
    rows = [(run.name, run.kind, *row) for run, row in zip(runs, table_rows([table_summary(r) for r in runs]),
                                                          strict=True)]
    return _table(header, rows)


def _table(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    head = "".join(f"<th>{html.escape(str(h))}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{_cell(v)}</td>" for v in row) + "</tr>" for row in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


class _Code(str):
    """Text that a table shows as code."""


def _cell(value: Any) -> str:
    if isinstance(value, _Code):
        return f"<code>{html.escape(value)}</code>"
    if isinstance(value, float):
        return "-" if math.isnan(value) else f"{value:.4g}"
    return html.escape("-" if value is None else str(value))


def _run_section(run: RunInfo, figures: _Figures, heading: str | None) -> str:
    parts = [f"<{heading}>{html.escape(run.name)} ({run.kind})</{heading}>" if heading else "",
             f"<p>Run directory: <code>{html.escape(str(run.path.resolve()))}</code>"
             + (f"; method: <b>{html.escape(run.method)}</b>" if run.method else "") + "</p>",
             "<h3>Results</h3>", _results_table([run]), _key_numbers(run),
             "<h3>Figures</h3>", "".join(_run_figures(run, figures))]
    cells = _cells(run, figures)
    if cells:
        parts += ["<h3>Architecture</h3>", cells]
    top = run.json("top_architectures.json")
    if isinstance(top, list) and top:
        parts += ["<h3>Most probable architectures</h3>",
                  _table(("#", "probability", "architecture"),
                         ((k, f"{item.get('probability', math.nan):.3g}", _Code(arch_text(item.get("architecture"))))
                          for k, item in enumerate(top, 1)))]
    parts += [_cost(run), _seed_runs(run)]
    if run.config:
        parts += ["<h3>Config</h3>", f"<pre>{html.escape(yaml.safe_dump(run.config, sort_keys=False))}</pre>"]
    return "\n".join(p for p in parts if p)


def _key_numbers(run: RunInfo) -> str:
    """The last record's headline numbers and the run's result file, as a two-column table."""
    last: dict[str, Any] = next((r for r in reversed(run.metrics) if "epoch" in r or "trial" in r), {})
    keys = ("epoch", "trial", "mode_accuracy", "entropy", "table_test_accuracy", "train_loss", "val_accuracy",
            "test_accuracy", "best_score", "best_arch")
    rows = [(k, last[k]) for k in keys if k in last]
    result = run.json("result.json") or {}
    rows += [(k, result[k]) for k in ("test_accuracy", "test_top5_accuracy", "params_m", "multiply_adds_m",
                                      "trials", "failed", "dataset", "device") if k in result]
    return _table(("", "value"), rows) if rows else ""


def _run_figures(run: RunInfo, figures: _Figures) -> Iterable[str]:
    m = run.metrics
    logged = {k for r in m for k in r}
    if run.kind == "search":
        keys = tuple(k for k in ("mode_accuracy", "entropy") if k in logged)
        yield figures("search curves", lambda p: plot_search_curves(m, p, keys=keys, title="search"))
        if "table_test_accuracy" in logged:
            yield figures("benchmark table accuracy of the derived cell", lambda p: plot_search_curves(
                m, p, keys=("table_test_accuracy", "mode_accuracy"), title="tabular benchmark"))
        panel = tuple(k for k in ("loss", "ess") if k in logged)
        caption = "training loss and effective sample size" if "ess" in panel else "training loss"
        yield figures(caption, lambda p: plot_search_curves(m, p, keys=panel, title=caption))
        history = [{k[2:]: v for k, v in r.items() if k.startswith("p_")} for r in m if "epoch" in r]
        if any(history):
            yield figures("per-op marginals", lambda p: plot_op_marginals(history, p))
    elif run.kind == "train":
        curves = ("train_loss", *(k for k in ("val_accuracy", "test_accuracy") if k in logged))[:2]
        yield figures("training curves", lambda p: plot_search_curves(m, p, keys=curves, title="training"))
        yield figures("learning rate and drop path", lambda p: plot_search_curves(
            m, p, keys=("lr", "drop_path"), title="schedules"))
    elif run.kind == "bench":
        yield figures("incumbent's score per trial", lambda p: plot_search_curves(
            m, p, keys=("best_score",), x="trial", title="black-box search"))
    else:
        members = _members(run)
        key, x = (("val_accuracy", "epoch") if any("val_accuracy" in r for s in members for r in s.metrics)
                  else ("best_score", "trial") if any(s.kind == "bench" for s in members) else ("train_loss", "epoch"))
        yield figures(f"{key} of each seed", partial(_compare, {s.name: s.metrics for s in members}, key, x))


def _cells(run: RunInfo, figures: _Figures) -> str:
    """The run's own drawings of its architecture (``cell*.png``), else cells drawn from its genotype; and the
    architecture's text (a space's ``architecture.txt``, or the genotype in one line)."""
    drawn = sorted(run.path.glob("cell*.png"))
    if drawn:
        return "".join(_image(p.read_bytes(), p.stem.replace("_", " ")) for p in drawn)
    genotype = run.config.get("genotype") or run.json("genotype.json")
    named = run.path / "architecture.txt"
    text = arch_text(genotype) if genotype else named.read_text(encoding="utf-8").strip() if named.is_file() else ""
    if not isinstance(genotype, dict) or not {"normal", "reduce"} <= genotype.keys():
        return f"<p><code>{html.escape(text)}</code></p>" if text else ""
    value = SimpleNamespace(**genotype)
    cells = [figures(f"{cell} cell", partial(_draw, value, cell)) for cell in ("normal", "reduce")]
    return "".join(cells) + f"<p><code>{html.escape(text)}</code></p>"


def _draw(genotype: Any, cell: str, path: Path) -> Path:
    return draw_cell(genotype, cell, path, title=f"{cell} cell")


def arch_text(arch: Any) -> str:
    """A compact one-line form of an architecture's plain data: ``(op, input)`` pairs as ``op(input)``."""
    if isinstance(arch, dict):
        return "; ".join(f"{k}: {arch_text(v)}" for k, v in arch.items())
    if isinstance(arch, (list, tuple)):
        if len(arch) == 2 and isinstance(arch[0], str) and isinstance(arch[1], int):
            return f"{arch[0]}({arch[1]})"
        return ", ".join(arch_text(v) for v in arch)
    return "-" if arch is None else str(arch)


def _cost(run: RunInfo) -> str:
    cost = run.json("search_cost.json")
    result = run.json("result.json") or {}
    rows = []
    if isinstance(cost, dict) and "device_hours" in cost:
        rows += [("search", f"{cost['device_hours']:.4g} device-hours ({cost['device_hours'] / 24:.3g} days) "
                            f"on {cost.get('device', '?')}")]
    if "train_hours" in result:
        rows += [("training", f"{result['train_hours']:.4g} hours on {result.get('device', '?')}")]
    if isinstance(result.get("search_cost"), dict):
        found = result["search_cost"]
        rows += [("search of the trained genotype", f"{found['device_hours']:.4g} device-hours on "
                                                    f"{found.get('device', '?')}")]
    if "seconds" in result:
        rows += [("black-box search", f"{result['seconds']:.3g} s for {result.get('trials', '?')} trials")]
    last = run.metrics[-1] if run.metrics else {}
    if "peak_rss_mb" in last:
        rows += [("peak memory", f"{last['peak_rss_mb']:.0f} MB")]
    return "<h3>Cost</h3>" + _table(("", "cost"), rows) if rows else ""


def _members(run: RunInfo) -> list[RunInfo]:
    """The ``seed-N`` runs of a ``--seeds`` folder."""
    if run.kind != "seeds":
        return []
    return [RunInfo(path, run_kind(path) or "search") for path in runs_below(run.path)]


def _seed_runs(run: RunInfo) -> str:
    members = _members(run)
    if not members:
        return ""
    return "<h3>Seeds</h3>" + _results_table(members)
