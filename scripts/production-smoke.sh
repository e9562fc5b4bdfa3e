#!/usr/bin/env bash
# The README's production install, proven end to end: build, prune the development
# tools away, then central (`npm run serve`) on a fresh PostgreSQL database and a
# till's agent (`npm run serve:agent`) from the build alone; a sale rung up at the
# till (`tillsync simulate`, the build through bin/tillsync.mjs) must reach central
# exactly once, and both must stop on SIGTERM with exit code 0.
#
#   scripts/production-smoke.sh --in-place DIR   DIR is an `npm ci`ed checkout that may be
#                                                pruned (CI's throwaway clone: .ci/run)
#   scripts/production-smoke.sh --clone [REPO]   clone REPO (default: this repository;
#                                                committed work only) into a temporary
#                                                folder, `npm ci` there, run, remove it
#
# Pruning removes the devDependencies (tsx, typescript, vitest ...) from DIR, so it
# never happens without --in-place: a development checkout is tested with --clone.
# PostgreSQL: TILLSYNC_SMOKE_PG_URL (default postgres://postgres@127.0.0.1:5432/postgres),
# a server where the script may create and drop a database tillsync_smoke_<pid>.
set -euo pipefail

usage() {
  sed -n '8,17p' "$0" | sed 's/^# \{0,1\}//' >&2
  exit 2
}

MODE="${1:-}"
case "$MODE" in
  --in-place) [ $# -eq 2 ] || usage; DIR="$(cd "$2" && pwd)" ;;
  --clone) [ $# -le 2 ] || usage; REPO="${2:-$(cd "$(dirname "$0")/.." && pwd)}" ;;
  *) usage ;;
esac

PG_ADMIN_URL="${TILLSYNC_SMOKE_PG_URL:-postgres://postgres@127.0.0.1:5432/postgres}"
DB_NAME="tillsync_smoke_$$"
ADMIN_TOKEN="tsa_smoke_$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')"
STARTED=$SECONDS
WORK="$(mktemp -d "${TMPDIR:-/tmp}/tillsync-smoke.XXXXXX")"
CENTRAL_PID=""
AGENT_PID=""
DB_CREATED=""
CLONE_DIR=""

say() { echo "== smoke [$((SECONDS - STARTED))s] $*"; }
# To the script's own stderr (fd 3), even from a probe whose output wait_for discards.
exec 3>&2
fail() {
  {
    echo "== smoke FAILED: $*"
    for f in "$WORK"/*.log; do
      [ -f "$f" ] || continue
      echo "---- last lines of $(basename "$f")"
      tail -n 30 "$f"
    done
  } >&3
  exit 1
}

# SIGTERM, then SIGKILL after 20 s; the exit code, or 137 when it had to be killed.
stop_proc() {
  local pid="$1" i
  kill -TERM "$pid" 2>/dev/null || true
  for ((i = 0; i < 200; i++)); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  if kill -0 "$pid" 2>/dev/null; then
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    return 137
  fi
  local rc=0
  wait "$pid" || rc=$?
  return "$rc"
}

cleanup() {
  local rc=$?
  set +e
  # npm runs the servers with exec: the pid npm was given stops its node with it.
  [ -n "$AGENT_PID" ] && stop_proc "$AGENT_PID"
  [ -n "$CENTRAL_PID" ] && stop_proc "$CENTRAL_PID"
  [ -n "$DB_CREATED" ] && psql -X -q -d "$PG_ADMIN_URL" -c "DROP DATABASE IF EXISTS $DB_NAME WITH (FORCE)" >/dev/null 2>&1
  rm -rf "$WORK"
  [ -n "$CLONE_DIR" ] && rm -rf "$CLONE_DIR"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# Polls `$@` (a command) every 0.25 s until it succeeds; fails after $1 seconds with $2.
wait_for() {
  local seconds="$1" what="$2" deadline
  shift 2
  deadline=$((SECONDS + seconds))
  until "$@" >/dev/null 2>&1; do
    [ "$SECONDS" -lt "$deadline" ] || fail "timed out after ${seconds}s waiting for $what"
    sleep 0.25
  done
}

alive() { kill -0 "$1" 2>/dev/null; }
central_sql() { psql -X -q -At -v ON_ERROR_STOP=1 -d "$DB_URL" -c "$1"; }
# A read of the till's SQLite file, with the better-sqlite3 the production install keeps.
pos_sql() { node -e 'const D = require("better-sqlite3"); const db = new D(process.argv[1], { readonly: true, fileMustExist: true }); console.log(JSON.stringify(db.prepare(process.argv[2]).all()))' "$POS_DB" "$1"; }
json_field() { node -e 'let s = ""; process.stdin.on("data", (d) => (s += d)).on("end", () => { const v = JSON.parse(s)[process.argv[1]]; if (v === undefined) process.exit(1); console.log(v); })' "$1"; }

if [ "$MODE" = "--clone" ]; then
  CLONE_DIR="$(mktemp -d "${TMPDIR:-/tmp}/tillsync-smoke-clone.XXXXXX")"
  DIR="$CLONE_DIR/tillsync"
  say "git clone $REPO (committed work only)"
  git clone -q "$REPO" "$DIR"
  cd "$DIR"
  say "npm ci"
  timeout 900 npm ci --no-fund --no-audit --loglevel=error
else
  cd "$DIR"
  [ -d node_modules ] || fail "$DIR has no node_modules: run npm ci there first"
fi

say "npm run build"
timeout 900 npm run build || fail "npm run build failed"
say "npm prune --omit=dev"
timeout 600 npm prune --omit=dev --no-fund --no-audit --loglevel=error || fail "npm prune failed"
for dev in tsx typescript vite vitest electron electron-vite; do
  [ ! -e "node_modules/$dev" ] || fail "node_modules/$dev is still installed after npm prune --omit=dev"
done
for f in build/server/main.js build/agent/cli.js out/console/index.html out/renderer/index.html; do
  [ -f "$f" ] || fail "$f is missing after npm run build"
done
# What the built code finds relative to itself (import.meta.url), as the source does.
node --input-type=module -e '
  import { existsSync } from "node:fs";
  const found = {
    "the companion page (tillsync ui)": (await import("./build/agent/web-companion.js")).DEFAULT_RENDERER_DIR,
    "the console": (await import("./build/server/console-route.js")).DEFAULT_CONSOLE_DIR,
    "central migrations": (await import("./build/server/db/migrate.js")).CENTRAL_MIGRATIONS,
    "terminal migrations": (await import("./build/main/sync/schema.js")).TERMINAL_MIGRATIONS,
  };
  const missing = Object.entries(found).filter(([, dir]) => !existsSync(dir));
  for (const [what, dir] of missing) console.error(`the build looks for ${what} in ${dir}, which does not exist`);
  process.exit(missing.length ? 1 : 0);
' || fail "the build does not find the files it reads at runtime"

say "database $DB_NAME"
psql -X -q -d "$PG_ADMIN_URL" -c "CREATE DATABASE $DB_NAME" || fail "cannot create a database at $PG_ADMIN_URL"
DB_CREATED=1
DB_URL="$(node -e 'const u = new URL(process.argv[1]); u.pathname = "/" + process.argv[2]; console.log(u.href)' "$PG_ADMIN_URL" "$DB_NAME")"
PORT="$(node -e 'const s = require("node:net").createServer().listen(0, "127.0.0.1", () => { console.log(s.address().port); s.close(); })')"
CENTRAL="http://127.0.0.1:$PORT"

say "npm run serve (central on PostgreSQL, port $PORT)"
env -u DATABASE_URL POSTGRES_URL_REMOTE="$DB_URL" PORT="$PORT" HOST=127.0.0.1 TILLSYNC_ADMIN_TOKEN="$ADMIN_TOKEN" \
  npm run serve >"$WORK/central.log" 2>&1 &
CENTRAL_PID=$!
healthy() { alive "$CENTRAL_PID" || fail "central exited before it was healthy"; curl -fsS -m 2 "$CENTRAL/healthz"; }
wait_for 90 "central's /healthz" healthy
curl -fsS -m 5 "$CENTRAL/console/" | grep -q '<div id="root"' || fail "central does not serve the console from out/console"

say "a store, a product (written by SQL, as HQ does) and a till"
AUTH=(-H "Authorization: Bearer $ADMIN_TOKEN" -H 'content-type: application/json')
curl -fsS -m 10 "${AUTH[@]}" "$CENTRAL/api/stores" -d '{"id":"smoke-store","name":"Smoke test store"}' >/dev/null || fail "POST /api/stores"
central_sql "INSERT INTO products (id, sku, name, price, active, created_at, updated_at)
             VALUES ('smoke-product', 'SMOKE-1', 'Smoke test product', 2.5, true, now(), now())" >/dev/null
API_KEY="$(curl -fsS -m 10 "${AUTH[@]}" "$CENTRAL/api/terminals" -d '{"storeId":"smoke-store","terminalId":"smoke-till"}' | json_field apiKey)" ||
  fail "POST /api/terminals"

say "npm run serve:agent (the till's engine from the build)"
POS_DB="$WORK/pos.db"
TILL_ENV=(DATABASE_URL="file:$POS_DB" CENTRAL_API_URL="$CENTRAL" CENTRAL_API_KEY="$API_KEY" TERMINAL_ID=smoke-till)
env "${TILL_ENV[@]}" npm run serve:agent -- --create >"$WORK/agent.log" 2>&1 &
AGENT_PID=$!
pulled() { alive "$AGENT_PID" || fail "the agent exited"; pos_sql "SELECT id FROM products WHERE name = 'Smoke test product'" | grep -q '"id"'; }
wait_for 90 "the till to pull the store's product" pulled

say "tillsync simulate --count 1 (the build, through bin/tillsync.mjs)"
env "${TILL_ENV[@]}" timeout 90 node bin/tillsync.mjs simulate --count 1 --seed 19 >"$WORK/simulate.out" 2>"$WORK/simulate.log" ||
  fail "tillsync simulate failed"
grep -q '"sales":1' "$WORK/simulate.out" || fail "simulate did not ring up one sale: $(cat "$WORK/simulate.out")"

at_central() { alive "$AGENT_PID" || fail "the agent exited"; [ "$(central_sql 'SELECT count(*) FROM orders')" -ge 1 ]; }
wait_for 60 "the sale at central" at_central
TILL_ORDER="$(pos_sql 'SELECT server_id AS id, order_number AS n FROM orders')"
[ "$(echo "$TILL_ORDER" | node -e 'let s = ""; process.stdin.on("data", (d) => (s += d)).on("end", () => console.log(JSON.parse(s).length))')" = 1 ] ||
  fail "the till should hold one order: $TILL_ORDER"
ORDER_ID="$(echo "$TILL_ORDER" | node -e 'let s = ""; process.stdin.on("data", (d) => (s += d)).on("end", () => console.log(JSON.parse(s)[0].id ?? ""))')"
ORDER_NO="$(echo "$TILL_ORDER" | node -e 'let s = ""; process.stdin.on("data", (d) => (s += d)).on("end", () => console.log(JSON.parse(s)[0].n))')"
[ -n "$ORDER_ID" ] || fail "the till's order has no central id"
AT_CENTRAL="$(central_sql "SELECT count(*) FROM orders")|$(central_sql "SELECT count(*) FROM orders WHERE id = '$ORDER_ID' AND order_number = '$ORDER_NO' AND store_id = 'smoke-store'")"
[ "$AT_CENTRAL" = "1|1" ] || fail "central should hold the till's order $ORDER_NO ($ORDER_ID) exactly once (orders | that order: $AT_CENTRAL)"
say "the sale $ORDER_NO is at central, once"

say "SIGTERM to the agent and central"
rc=0
stop_proc "$AGENT_PID" || rc=$?
AGENT_PID=""
[ "$rc" = 0 ] || fail "the agent exited with $rc after SIGTERM"
rc=0
stop_proc "$CENTRAL_PID" || rc=$?
CENTRAL_PID=""
[ "$rc" = 0 ] || fail "central exited with $rc after SIGTERM"

say "passed in $((SECONDS - STARTED)) s"
