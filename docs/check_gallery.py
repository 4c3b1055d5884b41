"""Check a built site: every gallery page shows a figure of its own.

Run after the HTML build (CI does): ``python docs/check_gallery.py docs/_build/html``.
Exits non-zero, naming the pages, if an example's page embeds none of the images that
sphinx-gallery captured from it, or one of them is missing from the build.
"""

import re
import sys
from pathlib import Path

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def main(html_dir):
    gallery = Path(html_dir) / "auto_examples"
    problems = []
    scripts = sorted(EXAMPLES.glob("plot_*.py"))
    for script in scripts:
        page = gallery / f"{script.stem}.html"
        if not page.exists():
            problems.append(f"{script.name}: no page {page}")
            continue
        images = re.findall(
            rf'src="\.\./(_images/sphx_glr_{re.escape(script.stem)}_\d+\.png)"', page.read_text()
        )
        if not images:
            problems.append(f"{script.name}: its page shows no figure")
        missing = [src for src in images if not (page.parent.parent / src).exists()]
        if missing:
            problems.append(f"{script.name}: missing image files {missing}")
    for line in problems:
        print("gallery check:", line)
    print(f"gallery check: {len(scripts) - len(problems)} of {len(scripts)} pages show figures")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else "docs/_build/html"))
