"""After a failed nbval run: re-execute the failing notebooks, errors kept, into a folder.

Usage: python scripts/nbval_failures.py JUNIT_XML OUT_DIR. CI uploads OUT_DIR as an artifact so a
maintainer can open the notebook and see the traceback where it happened.
"""

from __future__ import annotations

import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path


def failing_notebooks(junit: Path) -> list[str]:
    """Notebook paths with at least one failed or errored cell in a pytest JUnit report."""
    notebooks = sorted(Path("notebooks").glob("[0-9][0-9]_*.ipynb"))
    failed = set()
    for case in ET.parse(junit).getroot().iter("testcase"):
        if case.find("failure") is None and case.find("error") is None:
            continue
        where = " ".join(filter(None, (case.get(k) for k in ("classname", "file", "name"))))
        failed.update(str(nb) for nb in notebooks if nb.stem in where)
    return sorted(failed)


def main() -> int:
    junit, out = Path(sys.argv[1]), Path(sys.argv[2])
    notebooks = failing_notebooks(junit) if junit.exists() else []
    if not notebooks:
        print("nbval failed, but no failing notebook could be identified from", junit)
        return 0
    out.mkdir(parents=True, exist_ok=True)
    for nb in notebooks:
        print("re-executing failing notebook", nb, "->", out)
        subprocess.run([sys.executable, "-m", "jupyter", "nbconvert", "--to", "notebook",
                        "--execute", "--allow-errors", "--output-dir", str(out), nb], check=False)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
