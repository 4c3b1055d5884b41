"""``python -m skvi``: a tour that fits every skvi estimator on bundled data.

For each estimator it prints the ELBO, the number of sweeps, the fit time and a score,
beside the scikit-learn peer's score and time on the same data, and, when matplotlib
is installed, writes figures to a folder it names.
"""

import argparse
import os
import sys
import time
import warnings

from ._tour import SECTIONS, format_table, run_sections


def _parse_args(argv):
    parser = argparse.ArgumentParser(
        prog="python -m skvi",
        description=(
            "A tour of skvi: fits each estimator on small bundled data sets (no download), "
            "prints one table with its ELBO, sweeps, seconds and score beside its "
            "scikit-learn peer's score and seconds, and, with matplotlib installed, writes "
            "plots to a folder."
        ),
    )
    parser.add_argument(
        "--plots",
        default="skvi_demo_output",
        metavar="DIR",
        help="folder for the figures (default: %(default)s)",
    )
    parser.add_argument("--no-plots", action="store_true", help="print the table only")
    parser.add_argument(
        "--only",
        nargs="+",
        choices=SECTIONS,
        default=list(SECTIONS),
        metavar="SECTION",
        help=f"run only these sections, out of: {', '.join(SECTIONS) or '(none yet)'}",
    )
    return parser.parse_args(argv)


def main(argv=None):
    """Run the tour; return the process exit code."""
    args = _parse_args(sys.argv[1:] if argv is None else argv)
    plot_dir = None
    if not args.no_plots:
        try:
            import matplotlib

            matplotlib.use("Agg")
            plot_dir = os.path.abspath(args.plots)
            os.makedirs(plot_dir, exist_ok=True)
        except ImportError:
            print("matplotlib is not installed: printing the table only.")
    start = time.perf_counter()
    with warnings.catch_warnings():
        # The tour shows results; the peers' convergence chatter is not one of them.
        warnings.simplefilter("ignore")
        rows = run_sections(args.only, plot_dir)
    print("skvi tour: each estimator beside its scikit-learn peer, on the same data\n")
    print(format_table(rows) if rows else "(no estimator sections yet)")
    for row in rows:
        for note in row.notes:
            print(f"\n{row.estimator}: {note}")
    figures = [path for row in rows for path in row.figures]
    if figures:
        print(f"\nFigures written to {plot_dir}:")
        for path in figures:
            print(f"  {os.path.basename(path)}")
    print(f"\nTour finished in {time.perf_counter() - start:.1f} s.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
