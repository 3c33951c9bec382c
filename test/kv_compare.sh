#!/usr/bin/env bash
# kv_compare.sh — examples/kv_server against a real redis-server (ctest
# kv_redis_compare). Starts both on free ephemeral ports, drives every
# command with redis-cli against both and compares what redis-cli prints;
# then pipelining (raw sockets and redis-cli --pipe), malformed RESP (the
# same error bytes as redis-server, then the connection closed), 1,000
# concurrent clients (redis-benchmark), clients that disconnect
# mid-command, a slow reader (kv_server's memory stays bounded), DEBUG
# CRASH isolation, a shard crash and its restart, a 16 MB value and one
# over proto-max-bulk-len, and a clean SIGTERM shutdown. Both servers are
# stopped at the end, pass or fail.
#
# Usage: kv_compare.sh KV_SERVER [SCALE]   (SCALE 1 normal; smaller numbers
# under sanitizers: clients and requests are divided by it)
# Exit: 0 pass, 1 fail, 77 skipped (redis-server or redis-cli missing).
set -u
KV=${1:?usage: kv_compare.sh KV_SERVER [SCALE]}
SCALE=${2:-1}
for t in redis-server redis-cli redis-benchmark; do
    if ! command -v "$t" >/dev/null 2>&1; then
        echo "SKIP: $t not found (Debian packages redis-server and redis-tools)"
        exit 77
    fi
done
WORK=$(mktemp -d)
KV_PID=""
RS_PID=""
cleanup() {
    for p in $KV_PID $RS_PID; do kill -9 "$p" 2>/dev/null; done
    wait 2>/dev/null
    rm -rf "$WORK"
}
trap cleanup EXIT
T0=$(date +%s)
say() { echo "[$(($(date +%s) - T0))s] $*"; }
fail() {
    echo "FAIL: $*"
    echo "--- kv_server log:"; tail -20 "$WORK/kv.log" 2>/dev/null
    exit 1
}

# Enough descriptors for 1,000 clients (the soft limit up to the hard one).
ulimit -n 4096 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null

port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
# A free port below the kernel's ephemeral range (client sockets, such as
# the benchmark's thousand, take ports from that range, and a listener
# cannot bind one of those).
pick_port() {
    local p lo
    lo=$(cut -f1 /proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || echo 32768)
    [ "$lo" -gt 12000 ] 2>/dev/null || lo=32768
    while :; do
        p=$((10000 + RANDOM % (lo - 10000)))
        port_free "$p" && { echo "$p"; return; }
    done
}
# Waits (up to 20 s) until the server on port $1 answers PING.
wait_up() {
    local i
    for i in $(seq 400); do
        [ "$(redis-cli -p "$1" PING 2>/dev/null)" = PONG ] && return 0
        kill -0 "$2" 2>/dev/null || return 1
        sleep 0.05
    done
    return 1
}
# Waits (up to $3 s) until command $2 on port $1 prints something
# matching the regex $4.
wait_for() {
    local i n=$(($3 * 20))
    for i in $(seq "$n"); do
        redis-cli -p "$1" $2 2>/dev/null | tr -d '\r' | grep -Eq "$4" && return 0
        sleep 0.05
    done
    return 1
}
info_field() { redis-cli -p "$1" INFO | tr -d '\r' | sed -n "s/^$2://p"; }

for attempt in 1 2 3 4 5; do
    RP=$(pick_port)
    redis-server --port "$RP" --bind 127.0.0.1 --save "" --appendonly no \
        --logfile "$WORK/redis.log" >/dev/null 2>&1 &
    RS_PID=$!
    wait_up "$RP" "$RS_PID" && break
    kill -9 "$RS_PID" 2>/dev/null
    RS_PID=""
done
[ -n "$RS_PID" ] || fail "redis-server did not start"
# Under AddressSanitizer, a small quarantine: freed reply buffers would
# otherwise stay resident and hide what the slow-reader check measures.
export ASAN_OPTIONS="${ASAN_OPTIONS:-}:quarantine_size_mb=8"
# kv_server takes an ephemeral port itself (--port 0) and prints it.
"$KV" --port 0 --bind 127.0.0.1 --threads 2 --shards 4 >"$WORK/kv.log" 2>&1 &
KV_PID=$!
KP=""
for i in $(seq 400); do
    KP=$(sed -n 's/^kv_server: listening on port \([0-9]*\).*/\1/p' "$WORK/kv.log")
    [ -n "$KP" ] && break
    kill -0 "$KV_PID" 2>/dev/null || break
    sleep 0.05
done
[ -n "$KP" ] && wait_up "$KP" "$KV_PID" || fail "kv_server did not start"
say "redis-server on $RP, kv_server on $KP"

# --- 1. every command through redis-cli, replies compared ------------------
cat >"$WORK/cmds" <<'CMDS'
FLUSHALL
PING
PING hello
ECHO "hello world"
SET k1 v1
GET k1
GET nokey
SET k2 10
INCR k2
INCRBY k2 5
DECR k2
DECRBY k2 3
INCR k1
INCRBY k2 notanumber
SET big 9223372036854775807
INCR big
DECRBY big -1
SET n v NX
SET n w NX
SET n w XX
GET n
SET m v XX
SET n x XX GET
GET n
SET e v EX 100
TTL e
SET e2 v PX 100000
TTL e2
SET e2 w KEEPTTL
TTL e2
SET e3 v EX 0
SET e3 v EX abc
SET e3 v NX XX
SET e3 v EX 10 PX 10
SET e3 v BOGUS
TTL k1
TTL nokey
EXPIRE k1 100
TTL k1
EXPIRE nokey 100
EXPIRE k1 abc
EXPIRE k1 -1
EXISTS k1
GET k1
MSET a 1 b 2 c 3 d 4 e 5 f 6 g 7 h 8
MGET a b c nokey d e f g h
EXISTS a b nokey a
DEL a b nokey
MGET a b c
DBSIZE
MSET a
MSET a 1 b
GET
GET a b
SET
INCR
FOO bar baz
CONFIG GET save
CONFIG GET appendonly
CLIENT SETNAME tester
CLIENT GETNAME
SELECT 0
SET "key with spaces" "value with spaces"
GET "key with spaces"
SET bin "a\x00b\r\nc"
GET bin
FLUSHALL
DBSIZE
GET k2
CMDS
redis-cli --no-raw -p "$RP" <"$WORK/cmds" >"$WORK/redis.out" 2>&1
redis-cli --no-raw -p "$KP" <"$WORK/cmds" >"$WORK/kv.out" 2>&1
if ! diff -u "$WORK/redis.out" "$WORK/kv.out" >"$WORK/diff"; then
    cat "$WORK/diff"
    fail "redis-cli replies differ (- redis-server, + kv_server)"
fi
say "ok: $(wc -l <"$WORK/cmds") commands, redis-cli output identical"

# --- 2. pipelining: raw bytes, and redis-cli --pipe -------------------------
raw() { # port, input file: every byte the server sends until it closes
    (
        exec 3<>"/dev/tcp/127.0.0.1/$1" || exit 1
        cat "$2" >&3
        timeout 10 cat <&3
    )
}
{
    for i in $(seq 300); do
        printf '*3\r\n$3\r\nSET\r\n$%d\r\nkey:%d\r\n$%d\r\nval:%d\r\n' \
            $((${#i} + 4)) "$i" $((${#i} + 4)) "$i"
        printf 'GET key:%d\r\nINCR ctr\r\n' "$i"
        printf '*4\r\n$4\r\nMGET\r\n$5\r\nkey:1\r\n$%d\r\nkey:%d\r\n$4\r\nnone\r\n' \
            $((${#i} + 4)) "$i"
        [ $((i % 50)) = 0 ] && printf 'PING\r\nDEL key:1 key:2 nope\r\nEXISTS key:3\r\n'
    done
    printf 'DBSIZE\r\nQUIT\r\n'
} >"$WORK/pipe.in"
raw "$RP" "$WORK/pipe.in" >"$WORK/pipe.redis"
raw "$KP" "$WORK/pipe.in" >"$WORK/pipe.kv"
[ -s "$WORK/pipe.redis" ] || fail "no pipelined replies from redis-server"
cmp -s "$WORK/pipe.redis" "$WORK/pipe.kv" ||
    fail "pipelined replies differ ($(wc -c <"$WORK/pipe.redis") vs $(wc -c <"$WORK/pipe.kv") bytes)"
N=$((20000 / SCALE))
for i in $(seq "$N"); do printf 'SET p:%d %d\r\n' "$i" "$i"; done |
    awk '{printf "*3\r\n$3\r\nSET\r\n$%d\r\n%s\r\n$%d\r\n%s\r\n", length($2), $2, length($3), $3}' \
        >"$WORK/mass.in"
PR=$(redis-cli -p "$RP" --pipe <"$WORK/mass.in" | tail -1)
PK=$(redis-cli -p "$KP" --pipe <"$WORK/mass.in" | tail -1)
[ "$PR" = "$PK" ] || fail "redis-cli --pipe: redis '$PR', kv '$PK'"
[ "$(redis-cli -p "$KP" DBSIZE)" = "$(redis-cli -p "$RP" DBSIZE)" ] || fail "DBSIZE after --pipe"
say "ok: pipelined replies identical ($(wc -c <"$WORK/pipe.kv") bytes), --pipe: $PK"

# --- 3. malformed RESP: the same error, then the connection closed ----------
bad_case() { # name, bytes (printf format)
    printf "$2" >"$WORK/bad.in"
    raw "$RP" "$WORK/bad.in" >"$WORK/bad.redis"
    raw "$KP" "$WORK/bad.in" >"$WORK/bad.kv"
    cmp -s "$WORK/bad.redis" "$WORK/bad.kv" ||
        fail "malformed ($1): redis '$(cat -v "$WORK/bad.redis")', kv '$(cat -v "$WORK/bad.kv")'"
    grep -q "Protocol error" "$WORK/bad.kv" || fail "malformed ($1): no protocol error"
}
bad_case "integer element" '*2\r\n:1\r\n$1\r\na\r\n'
bad_case "nested array" '*2\r\n$3\r\nGET\r\n*1\r\n$1\r\na\r\n'
bad_case "negative bulk" '*2\r\n$3\r\nGET\r\n$-5\r\n'
bad_case "bad multibulk" '*x\r\n'
bad_case "unbalanced quotes" 'PING\r\nset "a b\r\n'
bad_case "bulk over 512 MB" '*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$536870913\r\n'
[ "$(redis-cli -p "$KP" PING)" = PONG ] || fail "kv_server unwell after malformed input"
say "ok: malformed RESP answered as redis-server does, connection closed"

# --- 4. values: 16 MB round trip ---------------------------------------------
head -c $((16 * 1024 * 1024)) /dev/urandom | base64 -w0 | head -c $((16 * 1024 * 1024)) >"$WORK/v16"
redis-cli -p "$KP" -x SET v16 <"$WORK/v16" >/dev/null
[ "$(redis-cli -p "$KP" --raw GET v16 | head -c $((16 * 1024 * 1024)) | md5sum)" = \
    "$(md5sum <"$WORK/v16")" ] || fail "16 MB value not returned intact"
redis-cli -p "$KP" DEL v16 >/dev/null
say "ok: 16 MB value"

# --- 5. 1,000 concurrent clients ---------------------------------------------
C=$((1000 / SCALE))
redis-benchmark -p "$KP" -c "$C" -n $((20000 / SCALE)) -t ping,set,get -q >"$WORK/bench" 2>&1 ||
    fail "redis-benchmark with $C clients: $(tail -3 "$WORK/bench")"
grep -q "GET:.*requests per second" "$WORK/bench" || fail "redis-benchmark: $(cat "$WORK/bench")"
wait_for "$KP" "INFO" 20 '^connected_clients:1$' || fail "connections not all closed after the benchmark"
say "ok: $C concurrent clients ($(tr '\r' '\n' <"$WORK/bench" | grep 'GET:' | tail -1))"

# --- 6. clients that disconnect mid-command ----------------------------------
for i in $(seq 50); do
    (
        exec 3<>"/dev/tcp/127.0.0.1/$KP"
        case $((i % 3)) in
        0) printf '*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$100\r\nabc' >&3 ;;
        1) printf '*3\r\n$3\r\nSE' >&3 ;;
        2) for j in $(seq 100); do printf 'GET key:1\r\n'; done >&3 ;;
        esac
    )
done
[ "$(redis-cli -p "$KP" PING)" = PONG ] || fail "kv_server unwell after disconnects"
wait_for "$KP" "INFO" 20 '^connected_clients:1$' || fail "mid-command disconnects left connections open"
say "ok: 50 clients disconnected mid-command"

# --- 7. a slow reader: memory stays bounded ----------------------------------
head -c 1024 /dev/zero | tr '\0' x | redis-cli -p "$KP" -x SET kb >/dev/null
rss() { awk '/^VmRSS/ {print $2}' "/proc/$1/status"; }
RSS0=$(rss "$KV_PID")
for i in $(seq 100000); do printf 'GET kb\r\n'; done >"$WORK/slow.in" # ~100 MB of replies
exec 5<>"/dev/tcp/127.0.0.1/$KP"
cat "$WORK/slow.in" >&5 &
WRITER=$!
MAX=$RSS0
for i in $(seq 60); do # 3 s of not reading
    r=$(rss "$KV_PID")
    [ "$r" -gt "$MAX" ] && MAX=$r
    sleep 0.05
done
[ "$(redis-cli -p "$KP" PING)" = PONG ] || fail "kv_server unresponsive while a client does not read"
kill "$WRITER" 2>/dev/null
exec 5<&-
wait "$WRITER" 2>/dev/null
GROWTH=$(((MAX - RSS0) / 1024))
[ "$GROWTH" -lt 48 ] || fail "slow reader: RSS grew by $GROWTH MB (for ~100 MB of replies)"
say "ok: slow reader with ~100 MB of replies pending: RSS grew by $GROWTH MB"

# --- 8. DEBUG CRASH crashes only its own connection ---------------------------
exec 4<>"/dev/tcp/127.0.0.1/$KP"
printf 'SET iso before\r\n' >&4
read -r -t 5 L1 <&4
CRASH_OUT=$(redis-cli -p "$KP" DEBUG CRASH 2>&1)
printf 'GET iso\r\nPING\r\n' >&4
read -r -t 5 L2 <&4
read -r -t 5 L3 <&4
read -r -t 5 L4 <&4
exec 4<&-
[ "$L1" = $'+OK\r' ] && [ "$L3" = $'before\r' ] && [ "$L4" = $'+PONG\r' ] ||
    fail "another client was disturbed by DEBUG CRASH: '$L1' '$L2' '$L3' '$L4'"
[ "$(info_field "$KP" connection_crashes)" = 1 ] || fail "connection_crashes is not 1"
say "ok: DEBUG CRASH ($CRASH_OUT): the other client kept working, connection_crashes:1"

# --- 9. a shard crash: restarted, its keys lost, the others kept -------------
redis-cli -p "$KP" FLUSHALL >/dev/null
redis-cli -p "$KP" MSET s1 1 s2 2 s3 3 s4 4 s5 5 s6 6 s7 7 s8 8 s9 9 s10 10 s11 11 s12 12 \
    s13 13 s14 14 s15 15 s16 16 s17 17 s18 18 s19 19 s20 20 >/dev/null
SC=$(redis-cli -p "$KP" DEBUG SHARD-CRASH s1 2>&1)
echo "$SC" | grep -q "shard unavailable" || fail "DEBUG SHARD-CRASH answered '$SC'"
wait_for "$KP" "INFO" 10 '^shard_restarts:1$' || fail "the shard was not restarted"
wait_for "$KP" "GET s1" 10 '^$' || fail "s1 should be lost with its shard"
N=$(redis-cli -p "$KP" DBSIZE)
[ "$N" -gt 0 ] && [ "$N" -lt 20 ] || fail "after a shard crash DBSIZE is $N (want 1..19)"
[ "$(redis-cli -p "$KP" SET s1 again)" = OK ] && [ "$(redis-cli -p "$KP" GET s1)" = again ] ||
    fail "the restarted shard does not serve"
say "ok: shard crash: restarted, $((20 - N)) keys lost with it, $N kept"

# --- 10. clean shutdown ------------------------------------------------------
kill -TERM "$KV_PID"
for i in $(seq 400); do kill -0 "$KV_PID" 2>/dev/null || break; sleep 0.05; done
kill -0 "$KV_PID" 2>/dev/null && fail "kv_server did not stop within 20 s of SIGTERM"
wait "$KV_PID"
RC=$?
KV_PID=""
[ "$RC" = 0 ] || fail "kv_server exited with $RC after SIGTERM"
grep -q "stopped" "$WORK/kv.log" || fail "no 'stopped' line"
say "ok: SIGTERM: $(tail -1 "$WORK/kv.log")"
redis-cli -p "$RP" SHUTDOWN NOSAVE >/dev/null 2>&1
wait "$RS_PID" 2>/dev/null
RS_PID=""
say "PASS"
