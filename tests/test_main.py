"""``python -m skvi``, the tour."""

import subprocess
import sys

from skvi.__main__ import main
from skvi._tour import SECTIONS, TourRow, format_table


def test_help_says_what_it_does():
    out = subprocess.run(
        [sys.executable, "-m", "skvi", "--help"], capture_output=True, text=True, check=True
    ).stdout
    assert "tour" in out and "peer" in out and "--plots" in out


def test_table_has_one_line_per_row():
    rows = [
        TourRow("A", "data", -1.5, 3, 0.1, "R2", 0.9, "Peer", 0.8, 0.2),
        TourRow("LongerName", "data", -2.5, 30, 1.1, "R2", 0.7, "Peer", 0.6, 0.3),
    ]
    lines = format_table(rows).splitlines()
    assert len(lines) == 4
    assert lines[2].startswith("A ") and "0.9000" in lines[2]


def test_tour_runs_every_section(tmp_path, capsys):
    assert main(["--plots", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "Tour finished" in out
    if not SECTIONS:
        assert "no estimator sections yet" in out
        return
    lines = out.splitlines()
    header = next(i for i, line in enumerate(lines) if line.startswith("estimator"))
    table = lines[header + 2 : header + 2 + len(SECTIONS)]
    assert all(line.startswith("Variational") for line in table), table
    assert "nan" not in " ".join(table)
    assert any(tmp_path.iterdir()), "the tour wrote no figure"
