#!/usr/bin/env bash
# Prepares the Python side of the compatibility harnesses, idempotently:
#
#   1. a virtualenv with Python Luigi 3.8.1 and the few packages Luigi's scheduler test module and our
#      harnesses import (pytest, mock, pytest-xdist), at ${LUIGI_RS_VENV:-$LUIGI_RS_CACHE/venv};
#   2. Luigi 3.8.1's source distribution (which carries Luigi's own test/ directory), downloaded from
#      PyPI at test time and unpacked into $LUIGI_RS_CACHE/luigi-3.8.1-sdist. None of Luigi's files
#      are part of this repository.
#
# LUIGI_RS_CACHE defaults to $HOME/.cache/luigi-rs. LUIGI_RS_PYTHON picks the interpreter the venv is
# built from (default: python3 on PATH, which must be 3.10 or newer).
#
# When both are already in place (recorded by a stamp file holding the pinned requirement list) the
# script touches nothing and needs no network, so it works offline once cached.
#
# On success the last two lines on stdout are machine-readable, for the Rust test wrappers:
#   LUIGI_RS_VENV=<venv directory>
#   LUIGI_RS_SDIST=<unpacked sdist directory>
# Progress goes to stderr. Exit codes: 0 ready; 3 no usable Python interpreter; 4 a download or
# install failed (typically: no network and nothing cached yet).
set -euo pipefail

cache="${LUIGI_RS_CACHE:-$HOME/.cache/luigi-rs}"
venv="${LUIGI_RS_VENV:-$cache/venv}"
sdist="$cache/luigi-3.8.1-sdist"
python="${LUIGI_RS_PYTHON:-python3}"

# Pinned so every machine runs the suite under the same tools. luigi==3.8.1 is the compatibility
# target; mock is imported by Luigi's scheduler_api_test.py; pytest-xdist runs tests in parallel;
# requests is what Luigi's RemoteScheduler prefers over urllib when present (keep-alive connections:
# the suite's speed tests send 200k requests, which over one connection each exhaust the loopback
# port range), pinned to the newest version Luigi's own test extras allow. SQLAlchemy 1.3 (Luigi's
# db_task_history needs < 1.4) and psycopg2 let the task-history tests read our databases with
# Luigi's own history code.
requirements="luigi==3.8.1
requests==2.31.0
pytest==9.0.3
mock==5.2.0
pytest-xdist==3.8.0
SQLAlchemy==1.3.24
psycopg2-binary==2.9.13"
# The sha256 of luigi-3.8.1.tar.gz on PyPI; a download that does not match is refused.
sdist_sha256="2fa5eb5d3474e495de09bd964f502936c08f8b1eb6e0f3ca3c8a69116c38d0c3"

log() { printf 'setup_venv: %s\n' "$*" >&2; }

mkdir -p "$cache"

# --- the virtualenv -------------------------------------------------------------------------------
stamp="$venv/.luigi-rs-requirements"
if [[ -x "$venv/bin/python" && -f "$stamp" ]] && [[ "$(cat "$stamp")" == "$requirements" ]] &&
    "$venv/bin/python" -c 'import luigi, requests, pytest, mock, xdist, sqlalchemy, psycopg2' 2>/dev/null; then
    log "venv ready at $venv"
else
    if ! command -v "$python" >/dev/null 2>&1; then
        log "no Python interpreter '$python' on PATH; install Python 3.10+ or set LUIGI_RS_PYTHON"
        exit 3
    fi
    if ! "$python" -c 'import sys, venv; sys.exit(0 if sys.version_info >= (3, 10) else 1)' 2>/dev/null; then
        log "'$python' is not Python 3.10+ with the venv module; set LUIGI_RS_PYTHON to one that is"
        exit 3
    fi
    log "creating venv at $venv"
    "$python" -m venv "$venv" >&2 || { log "creating the venv failed"; exit 3; }
    log "installing: $(echo $requirements)"
    # shellcheck disable=SC2086 # one requirement per word is intended
    if ! "$venv/bin/python" -m pip install --quiet --disable-pip-version-check $requirements >&2; then
        log "pip install failed (is PyPI reachable?)"
        exit 4
    fi
    printf '%s' "$requirements" >"$stamp"
fi

# --- Luigi's sdist (for its test/ directory) --------------------------------------------------------
if [[ -f "$sdist/test/scheduler_api_test.py" && -f "$sdist/.luigi-rs-sha256" ]] &&
    [[ "$(cat "$sdist/.luigi-rs-sha256")" == "$sdist_sha256" ]]; then
    log "sdist ready at $sdist"
else
    work="$(mktemp -d "$cache/.sdist-XXXXXX")"
    trap 'rm -rf "$work"' EXIT
    log "downloading the luigi 3.8.1 sdist"
    if ! "$venv/bin/python" -m pip download --quiet --disable-pip-version-check \
        luigi==3.8.1 --no-binary :all: --no-deps -d "$work/dl" >&2; then
        log "pip download of the luigi 3.8.1 sdist failed (is PyPI reachable?)"
        exit 4
    fi
    archive="$work/dl/luigi-3.8.1.tar.gz"
    actual="$(sha256sum "$archive" | cut -d' ' -f1)"
    if [[ "$actual" != "$sdist_sha256" ]]; then
        log "luigi-3.8.1.tar.gz has sha256 $actual, expected $sdist_sha256; refusing it"
        exit 4
    fi
    mkdir "$work/tree"
    tar -xzf "$archive" -C "$work/tree" --strip-components=1
    printf '%s' "$sdist_sha256" >"$work/tree/.luigi-rs-sha256"
    rm -rf "$sdist"
    mv "$work/tree" "$sdist"
    log "sdist unpacked at $sdist"
fi

echo "LUIGI_RS_VENV=$venv"
echo "LUIGI_RS_SDIST=$sdist"
