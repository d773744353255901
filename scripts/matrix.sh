#!/usr/bin/env bash
# scripts/matrix.sh: run the test suite under every interpreter x flux-core
# installation present on this machine; print one table of the results.
#
#   scripts/matrix.sh [pytest args...]     (default: the whole tests/ directory)
#
# Interpreters (a missing one is listed as "absent", never fetched):
#   dev      python3 on PATH (the development interpreter), as it is: needs pytest
#   debian   /usr/bin/python3, in a venv that also sees Debian's packages
#   pypy3    pypy3, in a venv            (Debian: apt-get install pypy3 pypy3-venv)
#   py3.6    $PYENV_ROOT/versions/3.6.*, in a venv (pytest 7.0, the last for 3.6)
# Set MATRIX_PYTHONS="name=/path/to/python ..." to use those instead; each
# but "dev" gets a venv.
#
# flux-core installations: every prefix in FLUX_PREFIXES (default
# "/usr/local /opt/flux-core-0.77") holding bin/flux and
# lib/libflux-core.so.2.  This script never builds flux-core.  /usr/local is
# selected as a user would have it: its bin/ first on PATH, FLUX_CORE_LIB
# unset.  Any other prefix: FLUX_CORE_LIB=<prefix>/lib/libflux-core.so.2 and
# <prefix>/bin first on PATH (so the test instance is that version too).
#
# Venvs are made once, under MATRIX_VENVS (default ~/.cache/flux-ctypes-matrix),
# holding pytest only: flux_ctypes comes from this tree through PYTHONPATH.
# Each run's full pytest output is kept in MATRIX_LOGS (default
# /tmp/flux-ctypes-matrix/<interpreter>_<flux-core>.log) and is limited to
# MATRIX_TIMEOUT seconds (default 900).
#
# Exit status: 0 when every run that could run had no failure and no error.

set -u

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
VENVS=${MATRIX_VENVS:-$HOME/.cache/flux-ctypes-matrix}
LOGS=${MATRIX_LOGS:-/tmp/flux-ctypes-matrix}
TIMEOUT=${MATRIX_TIMEOUT:-900}
PREFIXES=${FLUX_PREFIXES:-/usr/local /opt/flux-core-0.77}
if [ $# -eq 0 ]; then
    set -- tests
fi
mkdir -p "$VENVS" "$LOGS"

note() { printf '%s\n' "matrix: $*" >&2; }

# --- interpreters -----------------------------------------------------------
default_pythons() {
    local dev py36
    # the interpreter itself, not a pyenv shim that may pick another later
    dev=$(python3 -c 'import sys; print(sys.executable)' 2>/dev/null) && echo "dev=$dev"
    [ -x /usr/bin/python3 ] && echo "debian=/usr/bin/python3"
    command -v pypy3 >/dev/null 2>&1 && echo "pypy3=$(command -v pypy3)"
    for py36 in "${PYENV_ROOT:-$HOME/.pyenv}"/versions/3.6.*/bin/python3; do
        [ -x "$py36" ] && echo "py3.6=$py36" && break
    done
}

# venv_python NAME BASE: print the python of NAME's venv (made if needed)
# with pytest in it; fail with a note when that can't be done.
venv_python() {
    local name=$1 base=$2 venv=$VENVS/$1 py flags=""
    py=$venv/bin/python
    # Debian's interpreter sees its own packages too (python3-cffi among
    # them), so the official bindings can be compared with the shim there.
    [ "$name" = debian ] && flags=--system-site-packages
    if [ -x "$py" ] && [ "$(cat "$venv/.matrix-flags" 2>/dev/null)" = "$base $flags" ] &&
        "$py" -c "import pytest" >/dev/null 2>&1; then
        echo "$py"
        return 0
    fi
    note "$name: making a venv in $venv"
    rm -rf "$venv"
    # shellcheck disable=SC2086 # $flags is empty or one word
    if ! "$base" -m venv $flags "$venv" >"$LOGS/$name.venv.log" 2>&1; then
        note "$name: '$base -m venv' failed (see $LOGS/$name.venv.log; Debian needs its -venv package)"
        return 1
    fi
    if "$py" -c 'import sys; sys.exit(sys.version_info >= (3, 7))'; then
        # pip 18 (Python 3.6's) ignores Requires-Python on some indexes:
        # move to the last pip for 3.6 first, then pytest resolves to 7.0.
        "$py" -m pip install -q "pip>=21,<22" >>"$LOGS/$name.venv.log" 2>&1
    fi
    if ! "$py" -m pip install -q pytest >>"$LOGS/$name.venv.log" 2>&1 ||
        ! "$py" -c "import pytest" >/dev/null 2>&1; then
        note "$name: installing pytest failed (see $LOGS/$name.venv.log)"
        return 1
    fi
    echo "$base $flags" >"$venv/.matrix-flags"
    echo "$py"
}

describe_python() {
    "$1" -c 'import platform; print(platform.python_implementation(), platform.python_version())' 2>/dev/null
}

# --- flux-core --------------------------------------------------------------
flux_version() {
    "$1/bin/flux" version 2>/dev/null | awk -F'\t+' '/^libflux-core:/ {print $2}' | tr -d ' '
}

# --- one run ------------------------------------------------------------------
# run_one PY PREFIX LOG: run pytest; print "passed failed errors skipped status".
run_one() {
    local py=$1 prefix=$2 log=$3 rc summary
    shift 3
    local -a env_cmd=(env -u FLUX_URI -u FLUX_CTYPES_TRACE)
    if [ "$prefix" = /usr/local ]; then
        env_cmd+=(-u FLUX_CORE_LIB)
    else
        env_cmd+=("FLUX_CORE_LIB=$prefix/lib/libflux-core.so.2")
    fi
    env_cmd+=("PATH=$prefix/bin:$PATH" "PYTHONPATH=$ROOT")
    (cd "$ROOT" && "${env_cmd[@]}" timeout -k 10 "$TIMEOUT" \
        "$py" -m pytest -q -rfEs -p no:cacheprovider "$@") >"$log" 2>&1
    rc=$?
    summary=$(grep -E '(passed|failed|error|skipped|no tests ran)' "$log" | tail -n 1)
    count() { grep -oE "[0-9]+ $1" <<<"$summary" | grep -oE '^[0-9]+' || echo 0; }
    local status
    case $rc in
        0) status=ok ;;
        5) status="no tests" ;;
        124 | 137) status=TIMEOUT ;;
        *) status=FAIL ;;
    esac
    echo "$(count passed) $(count failed) $(count 'errors?') $(count skipped) $status"
}

# --- main -------------------------------------------------------------------
declare -a ROWS=()
overall=0
pythons=${MATRIX_PYTHONS:-$(default_pythons)}

declare -a FLUXES=()
for prefix in $PREFIXES; do
    if [ -x "$prefix/bin/flux" ] && [ -e "$prefix/lib/libflux-core.so.2" ]; then
        FLUXES+=("$prefix")
    else
        note "flux-core at $prefix: absent (no bin/flux or lib/libflux-core.so.2), not run"
        ROWS+=("| - | $prefix | - | - | - | - | - | absent |")
    fi
done

for entry in $pythons; do
    name=${entry%%=*}
    base=${entry#*=}
    if [ "$name" = dev ]; then
        py=$base
        if ! "$py" -c "import pytest" >/dev/null 2>&1; then
            note "dev: $py has no pytest"
            ROWS+=("| $name | - | - | - | - | - | - | no pytest |")
            continue
        fi
    elif ! py=$(venv_python "$name" "$base"); then
        ROWS+=("| $name ($base) | - | - | - | - | - | - | setup failed |")
        overall=1
        continue
    fi
    pydesc=$(describe_python "$py")
    for prefix in "${FLUXES[@]}"; do
        fver=$(flux_version "$prefix")
        log=$LOGS/${name}_${fver:-unknown}.log
        note "$name ($pydesc) x flux-core $fver ($prefix) ..."
        start=$(date +%s)
        read -r passed failed errors skipped status < <(run_one "$py" "$prefix" "$log" "$@")
        secs=$(($(date +%s) - start))
        [ "$status" = ok ] || overall=1
        ROWS+=("| $name ($pydesc) | $fver | $passed | $failed | $errors | $skipped | ${secs}s | $status |")
    done
done

echo
echo "| interpreter | flux-core | passed | failed | errors | skipped | time | result |"
echo "|---|---|---|---|---|---|---|---|"
printf '%s\n' "${ROWS[@]}"
echo
echo "logs: $LOGS"
exit $overall
