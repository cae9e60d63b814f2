#!/usr/bin/env bash
# The whole test suite: lint, types, the unit suite on Python 3.10, 3.11 and 3.12, the
# requirements' floors, conformance, the lab suites, and the packed charm (build, layout,
# dispatch). Extra arguments go to tox.
set -euo pipefail
cd "$(dirname "$0")/.."
bash tests/setup-host.sh
# The lab suite waits on its services most of its time: it runs beside the others, two envs
# at a time with the lab's first, which keeps the whole run within its budget on two CPUs.
envs="${TOX_ENVS:-lab,lint,type,unit,unit-py310,unit-py312,floors,conformance,packed}"
# The bases' CPythons (3.10: Jammy, 3.12: Noble), from pyenv unless given.
pyenv="$(command -v pyenv || echo "${PYENV_ROOT:-$HOME/.pyenv}/bin/pyenv")"
for version in 3.10 3.12; do
    var="CHARM_PYTHON_${version/./_}"
    if [ -z "${!var:-}" ]; then
        prefix="$("$pyenv" prefix "$version" 2>/dev/null | cut -d: -f1 || true)"
        if [ -n "$prefix" ] && [ -x "$prefix/bin/python$version" ]; then
            export "$var=$prefix/bin/python$version"
        fi
    fi
    if [ -z "${!var:-}" ]; then
        if [ "${CI:-}" = true ]; then
            echo "CPython $version not found (pyenv prefix $version, or set $var)" >&2
            exit 1
        fi
        echo "CPython $version not found: leaving out the envs that need it" >&2
        needs="unit-py${version/./}|floors|packed"
        envs="$(echo "$envs" | tr , '\n' | grep -Ev "^($needs)\$" | paste -sd, -)"
    fi
done
if [ ! -x .tox-bootstrap/bin/tox ]; then
    python3 -m venv .tox-bootstrap
    .tox-bootstrap/bin/pip install -q 'tox>=4,<5'
fi
exec .tox-bootstrap/bin/tox run-parallel -p "${TOX_PARALLEL:-2}" -e "$envs" "$@"
