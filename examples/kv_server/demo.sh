#!/usr/bin/env bash
# The crash-isolation demo of docs/examples.md: two redis-cli sessions on
# one kv_server; client A crashes its own connection process (DEBUG
# CRASH), client B keeps working; then B crashes the shard that owns a
# key (DEBUG SHARD-CRASH) and the shard comes back, empty. Prints each
# session's transcript (redis-cli in a pseudo-terminal, TERM=dumb).
# Usage: demo.sh [KV_SERVER] [PORT]
set -u
KV=${1:-build/examples/kv_server}
PORT=${2:-6380}
D=$(mktemp -d)
"$KV" --port "$PORT" --threads 2 >"$D/server" 2>&1 &
SRV=$!
trap 'kill $SRV 2>/dev/null; rm -rf "$D"' EXIT
for i in $(seq 100); do redis-cli -p "$PORT" PING >/dev/null 2>&1 && break; sleep 0.05; done
mkfifo "$D/a" "$D/b"
TERM=dumb script -q -c "redis-cli -p $PORT" /dev/null <"$D/a" >"$D/a.out" 2>&1 &
TERM=dumb script -q -c "redis-cli -p $PORT" /dev/null <"$D/b" >"$D/b.out" 2>&1 &
exec 8>"$D/b" 9>"$D/a"
sleep 0.5
step() { echo "$2" >&"$1"; sleep 0.3; }
step 8 "SET greeting hello"
step 8 "MSET k1 1 k2 2 k3 3 k4 4 k5 5 k6 6 k7 7 k8 8"
step 9 "CLIENT SETNAME a"
step 9 "DEBUG CRASH"
step 8 "GET greeting"
redis-cli -p "$PORT" INFO | tr -d '\r' | grep -E "^(connected_clients|connection_crashes|shard_restarts):" >"$D/info1"
step 8 "DEBUG SHARD-CRASH greeting"
step 8 "GET greeting"
step 8 "MGET k1 k2 k3 k4 k5 k6 k7 k8"
step 8 "DBSIZE"
redis-cli -p "$PORT" INFO | tr -d '\r' | grep -E "^(connected_clients|connection_crashes|shard_restarts):" >"$D/info2"
exec 8>&- 9>&-
sleep 0.3
echo "== server"; cat "$D/server"
echo "== client A"; tr -d '\r' <"$D/a.out"; echo
echo "== client B"; tr -d '\r' <"$D/b.out"; echo
echo "== INFO after DEBUG CRASH"; cat "$D/info1"
echo "== INFO after DEBUG SHARD-CRASH"; cat "$D/info2"
