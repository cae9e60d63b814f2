#!/usr/bin/env bash
# The main job: installs what it needs, brings the lab up, runs the SRU test plan of
# LP #2119987 through the library the run-test-plan action uses, prints the report and the
# verdict, and brings the lab down. Extra arguments go to tests/sru_plan.py.
set -euo pipefail
cd "$(dirname "$0")/.."
bash tests/setup-host.sh
venv=.venv
if [ ! -x "$venv/bin/python" ]; then
    python3 -m venv "$venv"
fi
"$venv/bin/python" -m pip install -q -r tests/requirements.txt
exec "$venv/bin/python" -m tests.sru_plan "$@"
