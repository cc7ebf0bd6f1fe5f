"""Rewrite the README's speed tables from the bench reports they name (numbers come from code).

Each table sits between ``<!-- bench: FILE | COMMAND -->`` and ``<!-- /bench -->``; FILE is a
JSON report written by ``COMMAND`` (``ganlab bench ... --json FILE``) on an idle machine.
``tests/test_project.py`` checks that the README matches the reports.

    python scripts/readme_bench.py            # rewrite README.md
    python scripts/readme_bench.py --check    # exit 1 if it is out of date
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

from ganlab.bench import format_markdown

ROOT = Path(__file__).resolve().parent.parent
BLOCK = re.compile(r"(<!-- bench: (?P<file>[^|]+?) \| (?P<command>.+?) -->\n)(?P<body>.*?)"
                   r"(<!-- /bench -->)", re.S)


def render(readme: str, root: Path = ROOT) -> str:
    def table(m: re.Match) -> str:
        report = json.loads((root / m["file"]).read_text())
        return f"{m.group(1)}{format_markdown(report, m['command'])}\n{m.group(5)}"

    return BLOCK.sub(table, readme)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true")
    args = parser.parse_args()
    path = ROOT / "README.md"
    old = path.read_text()
    new = render(old)
    if args.check:
        if new != old:
            print("README.md's speed tables differ from their bench reports; run "
                  "python scripts/readme_bench.py", file=sys.stderr)
            return 1
        return 0
    path.write_text(new)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
