# shellcheck shell=bash
# bench/compare.d/instructions.sh: `bench/compare --instructions` (sourced by bench/compare).
# User-space instructions per proxied request, a count that does not depend on the machine's
# speed: the server runs under `valgrind --tool=callgrind` (ringgate 1 shard; nginx with
# `master_process off; daemon off;`), and `callgrind_control --dump` writes and zeroes the
# counters at three points:
#   ready → dump 1 (startup) → N1 requests → dump 2 → N2 requests → dump 3
# Ir(N) is the instruction count of the part holding those requests; per request =
# (Ir(N2) − Ir(N1)) ÷ (N2 − N1), so what each batch costs once (connections opened, pools
# warmed) cancels. A 1 s idle part (dump 4) gives the timer work per second, to judge the rest.
# Load: the small workload, 4 connections, `loadgen --requests N` (the exact count).

INS_N1=200
INS_N2=1200

# ins_dump PID TAG: dumps callgrind's counters; waits until the part file is written.
ins_dump() {
  local before after
  before=$(ls "$TMP"/callgrind.out.* 2>/dev/null | wc -l)
  callgrind_control --dump="$2" "$1" >>"$TMP/callgrind-control.log" 2>&1 || return 1
  for _ in $(seq 100); do
    after=$(ls "$TMP"/callgrind.out.* 2>/dev/null | wc -l)
    ((after > before)) && return 0
    sleep 0.1
  done
  return 1
}

# ins_requests PORT N: N small requests over 4 connections; prints how many got 200. Bounded (a
# server stuck under valgrind must not hang the run): at most 150 s, then the count so far.
ins_requests() {
  timeout 180 "$LOADGEN" --url "http://127.0.0.1:$1/v1/chat/completions" --body "$TMP/bodies/small.json" \
    --header 'Content-Type: application/json' --header 'Authorization: Bearer sk-bench' \
    --connections 4 --threads 1 --requests "$2" --duration 150 --timeout-ms 30000 --json \
    2>>"$TMP/ins-loadgen.err" |
    python3 -c 'import json, sys; d = json.load(sys.stdin); print(d.get("status", {}).get("200", 0))'
}

# ins_run SERVER PORT PID: the three parts against a server already running under callgrind.
ins_run() {
  local server=$1 port=$2 pid=$3 ok1 ok2 note=""
  rm -f "$TMP"/callgrind.out.*
  ins_dump "$pid" startup || { ins_fail "$server" "callgrind_control --dump failed: $(tail -n 2 "$TMP/callgrind-control.log")"; return; }
  ok1=$(ins_requests "$port" "$INS_N1" || echo 0)
  ins_dump "$pid" n1 || { ins_fail "$server" "dump after N1 failed"; return; }
  ok2=$(ins_requests "$port" "$INS_N2" || echo 0)
  ins_dump "$pid" n2 || { ins_fail "$server" "dump after N2 failed"; return; }
  sleep 1
  ins_dump "$pid" idle || true
  ((ok1 == INS_N1 && ok2 == INS_N2)) || note="only $ok1/$INS_N1 and $ok2/$INS_N2 requests answered 200"
  "${REPORT[@]}" instructions "$TMP/instructions.jsonl" "$TMP" server="$server" n1="$INS_N1" \
    n2="$INS_N2" note="$note"
}

ins_fail() {
  warn "instructions ($1): $2"
  printf '{"server": "%s", "note": %s}\n' "$1" "$(json_string "⚠️ not measured: $2")" >>"$TMP/instructions.jsonl"
}

run_instructions() {
  if ! command -v valgrind >/dev/null && ((EUID == 0)) && command -v apt-get >/dev/null; then
    say "installing valgrind (apt-get)"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends valgrind >"$TMP/apt-vg.log" 2>&1 || true
  fi
  if ! command -v valgrind >/dev/null || ! command -v callgrind_control >/dev/null; then
    ins_fail ringgate "valgrind not installed (apt-get install valgrind)"
    return 0
  fi
  [[ -n ${MOCK_PID:-} ]] || start_mocks
  say "instructions: ringgate (1 shard) under callgrind, ${INS_N1} then ${INS_N2} small requests"
  local port pid vg=(valgrind --tool=callgrind --dump-instr=no --dump-line=no
    "--callgrind-out-file=$TMP/callgrind.out.%p")
  port=$(free_port)
  write_ringgate_config "$TMP/ringgate-vg.toml" "$port" 1
  # No admin listener: it is a second thread with a ring of its own, and valgrind (3.19) keeps its
  # one big lock across a blocking io_uring_enter, so whichever of the two threads waits first
  # starves the other: the proxied requests hang after the first dump. One ring thread is safe.
  taskset -c "$PROXY_CPU" "${vg[@]}" "$BIN" --config "$TMP/ringgate-vg.toml" --shards 1 \
    --admin-listen off --log-level warn >"$TMP/valgrind-ringgate.log" 2>&1 &
  pid=$!
  PIDS+=("$pid")
  if ins_wait "http://127.0.0.1:$port/health" "$pid"; then
    ins_run ringgate "$port" "$pid"
  else
    ins_fail ringgate "ringgate did not answer under valgrind within 60 s: $(grep -v '^==' "$TMP/valgrind-ringgate.log" | tail -n 3 | tr '\n' ' ')$(grep -m2 -i 'unhandled\|unsupported\|not implemented' "$TMP/valgrind-ringgate.log" | tr '\n' ' ')"
  fi
  { kill -KILL "$pid" && wait "$pid"; } 2>/dev/null || true  # its dumps are written: no need to drain
  has_arm nginx || return 0
  say "instructions: nginx (master_process off) under callgrind"
  rm -rf "$TMP/nginx-vg"
  write_nginx_config "$TMP/nginx-vg" 1
  sed -i 's/^master_process on;/master_process off;/' "$TMP/nginx-vg/nginx.conf"
  taskset -c "$PROXY_CPU" "${vg[@]}" nginx -p "$TMP/nginx-vg/" -e "$TMP/nginx-vg/error.log" \
    -c "$TMP/nginx-vg/nginx.conf" >"$TMP/valgrind-nginx.log" 2>&1 &
  pid=$!
  PIDS+=("$pid")
  if ins_wait "http://127.0.0.1:$NGINX_PORT_BUFFERED/v1/models" "$pid"; then
    ins_run nginx "$NGINX_PORT_BUFFERED" "$pid"
  else
    ins_fail nginx "nginx did not answer under valgrind within 60 s"
  fi
  { kill -KILL "$pid" && wait "$pid"; } 2>/dev/null || true  # its dumps are written: no need to drain
}

# ins_wait URL PID: up to 60 s (valgrind starts slowly) for any HTTP answer.
ins_wait() {
  local code
  for _ in $(seq 600); do
    kill -0 "$2" 2>/dev/null || return 1
    code=$(curl -s -o /dev/null -m 5 -w '%{http_code}' "$1" 2>/dev/null || true)
    [[ -n $code && $code != 000 ]] && return 0
    sleep 0.1
  done
  return 1
}
