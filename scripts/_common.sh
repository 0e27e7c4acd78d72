# shellcheck shell=bash
# Shared by scripts/run and scripts/test: the virtualenv and the embedded PostgreSQL.

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$ROOT/.venv"
PY="$VENV/bin/python"
PG_DATA="$ROOT/.data/pg"

log() { printf '==> %s\n' "$*" >&2; }

find_python() {
  local candidate
  for candidate in "${PYTHON:-}" python3.13 python3.12 python3.11 python3 python; do
    [[ -n "$candidate" ]] || continue
    if command -v "$candidate" >/dev/null 2>&1 &&
      "$candidate" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
      command -v "$candidate"
      return 0
    fi
  done
  echo "best_app needs Python >= 3.11 (set PYTHON=/path/to/python3.11)" >&2
  return 1
}

# ensure_venv EXTRAS: create .venv if missing and (re)install the project when pyproject changes.
ensure_venv() {
  local extras="$1" stamp
  if [[ ! -x "$PY" ]]; then
    log "creating $VENV"
    "$(find_python)" -m venv "$VENV"
  fi
  stamp="$VENV/.installed-$extras-$(sha256sum "$ROOT/pyproject.toml" | cut -c1-16)"
  if [[ ! -f "$stamp" ]]; then
    log "installing best_app[$extras] into .venv"
    "$PY" -m pip install --quiet --upgrade pip
    "$PY" -m pip install --quiet -e "${ROOT}[${extras}]"
    rm -f "$VENV"/.installed-*
    touch "$stamp"
  fi
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
