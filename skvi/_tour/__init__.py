"""The tour that ``python -m skvi`` runs: every estimator on bundled data, beside its peer.

Each estimator has one module in this package with one function,
``run(plot_dir) -> TourRow``, that fits the skvi estimator and its scikit-learn peer on
the same data and, when ``plot_dir`` is not None, saves its figures there. Adding an
estimator to the tour is one module and one line in ``SECTIONS``.
"""

import importlib
import time
from dataclasses import dataclass, field

# Modules of this package, in the order the tour runs them.
SECTIONS = ("gmm", "linear", "logistic", "lda")


@dataclass
class TourRow:
    """One line of the tour's table."""

    estimator: str
    dataset: str
    elbo: float
    sweeps: int
    seconds: float
    score_name: str
    score: float
    peer: str
    peer_score: float
    peer_seconds: float
    notes: list = field(default_factory=list)  # extra lines printed under the table
    figures: list = field(default_factory=list)  # paths of the figures written


def timed(func, *args, **kwargs):
    """``(result, seconds)`` of one call."""
    start = time.perf_counter()
    result = func(*args, **kwargs)
    return result, time.perf_counter() - start


def run_sections(names, plot_dir):
    """Run the named sections; return their rows."""
    return [importlib.import_module(f"{__name__}.{name}").run(plot_dir) for name in names]


def format_table(rows):
    """The rows as a fixed-width text table."""
    header = (
        "estimator",
        "data",
        "ELBO",
        "sweeps",
        "seconds",
        "score",
        "skvi",
        "peer",
        "peer score",
        "peer s",
    )
    body = [
        (
            r.estimator,
            r.dataset,
            f"{r.elbo:.2f}",
            str(r.sweeps),
            f"{r.seconds:.2f}",
            r.score_name,
            f"{r.score:.4f}",
            r.peer,
            f"{r.peer_score:.4f}",
            f"{r.peer_seconds:.2f}",
        )
        for r in rows
    ]
    widths = [max(len(line[i]) for line in [header, *body]) for i in range(len(header))]
    lines = [
        "  ".join(cell.ljust(w) for cell, w in zip(line, widths, strict=True))
        for line in [header, *body]
    ]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)
