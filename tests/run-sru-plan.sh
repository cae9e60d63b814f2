#!/usr/bin/env bash
# The main job: installs what it needs, then for each templater (octavia 14.0.2 as released,
# vulnerable: expected "reproduced"; the same 14.0.2 with the upstream change for LP #2119987
# applied from tests/lab/amphora/patches/, fixed: expected "fixed") brings the lab and a lab
# amphora up, runs the SRU test plan of LP #2119987 through the library the run-test-plan
# action uses, prints the report and the verdict, and brings both down; then a two-line
# summary. Exit 0 only when both verdicts are the expected ones. Extra arguments go to
# tests/sru_plan.py (--templater vulnerable|fixed|upstream runs one, upstream being octavia
# 17.0.1's templater; --json DIR keeps the JSON).
set -euo pipefail
cd "$(dirname "$0")/.."
bash tests/setup-host.sh
venv=.venv
if [ ! -x "$venv/bin/python" ]; then
    python3 -m venv "$venv"
fi
"$venv/bin/python" -m pip install -q -r tests/requirements.txt
exec "$venv/bin/python" -m tests.sru_plan "$@"
