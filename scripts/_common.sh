# shellcheck shell=bash
# Shared by scripts/run and scripts/test: the virtualenv and the embedded PostgreSQL.

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# uv's own variable: the development image sets it to its /opt/venv.
VENV="${UV_PROJECT_ENVIRONMENT:-$ROOT/.venv}"
PY="$VENV/bin/python"
PG_DATA="$ROOT/.data/pg"

log() { printf '==> %s\n' "$*" >&2; }

find_python() {
  local candidate
  for candidate in "${PYTHON:-}" python3.13 python3.12 python3.11 python3 python; do
    [[ -n "$candidate" ]] || continue
    # The interpreter itself, not a launcher such as a pyenv shim: uv recreates a .venv whose
    # base interpreter differs from the one it is given (dropping what another extra installed).
    if command -v "$candidate" >/dev/null 2>&1 &&
      "$candidate" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
      "$candidate" -c 'import sys; print(sys.executable)'
      return 0
    fi
  done
  echo "best_app needs Python >= 3.11 (set PYTHON=/path/to/python3.11)" >&2
  return 1
}

# uv installs the locked versions (uv.lock). One on PATH is used; otherwise this version is
# installed from PyPI into .tools/ (a virtualenv of its own, so nothing but Python is needed).
UV_VERSION="0.13.9"
# uv never downloads a Python build: it uses the interpreter find_python picks.
export UV_PYTHON_DOWNLOADS=never

find_uv() {
  local dir="$ROOT/.tools/uv-$UV_VERSION"
  if command -v uv >/dev/null 2>&1; then
    command -v uv
  elif [[ -x "$dir/bin/uv" ]]; then
    printf '%s\n' "$dir/bin/uv"
  else
    log "installing uv $UV_VERSION into ${dir#"$ROOT"/}"
    "$(find_python)" -m venv "$dir"
    "$dir/bin/python" -m pip install --quiet --disable-pip-version-check "uv==$UV_VERSION" >&2
    printf '%s\n' "$dir/bin/uv"
  fi
}

# ensure_venv EXTRA [UV_SYNC_FLAGS...]: install the locked best_app[EXTRA] into .venv
# (uv sync --frozen; exactly those packages unless --inexact is given), skipped while uv.lock and
# pyproject.toml are unchanged since the last sync.
ensure_venv() {
  local extra="$1" stamp
  shift
  stamp="$VENV/.synced-$extra-$(cat "$ROOT/uv.lock" "$ROOT/pyproject.toml" | sha256sum | cut -c1-16)"
  [[ -f "$stamp" ]] && return 0
  log "installing the locked best_app[$extra] into .venv (uv sync --frozen)"
  UV_PROJECT_ENVIRONMENT="$VENV" "$(find_uv)" sync --frozen --quiet --extra "$extra" \
    --python "$(find_python)" --project "$ROOT" "$@"
  rm -f "$VENV"/.synced-* "$VENV"/.installed-*
  touch "$stamp"
}

# use_embedded_db VAR DBNAME: export VAR as the URL of DBNAME on the embedded server, starting
# the server if needed; it is stopped on exit only if this script started it.
use_embedded_db() {
  local var="$1" dbname="$2" url
  if ! "$PY" "$ROOT/scripts/embedded_pg.py" running "$PG_DATA"; then
    log "starting the embedded PostgreSQL in ${PG_DATA#"$ROOT"/}"
    trap stop_embedded_db EXIT
  fi
  url="$("$PY" "$ROOT/scripts/embedded_pg.py" start "$PG_DATA" "$dbname")"
  export "$var=$url"
}

stop_embedded_db() {
  log "stopping the embedded PostgreSQL"
  "$PY" "$ROOT/scripts/embedded_pg.py" stop "$PG_DATA" || true
}
