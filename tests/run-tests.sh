#!/usr/bin/env bash
# The whole test suite: lint, types, ops.testing, conformance and the lab suites.
set -euo pipefail
cd "$(dirname "$0")/.."
bash tests/setup-host.sh
if [ ! -x .tox-bootstrap/bin/tox ]; then
    python3 -m venv .tox-bootstrap
    .tox-bootstrap/bin/pip install -q 'tox>=4,<5'
fi
exec .tox-bootstrap/bin/tox run -e "${TOX_ENVS:-lint,type,unit,conformance,lab}" "$@"
