# shellcheck shell=bash
# bench/compare.d/memory.sh: `bench/compare --memory` (sourced by bench/compare, after arms.sh).
# For ringgate (2 shards) and nginx (2 workers), each scenario on a freshly started server,
# unpinned, after 1 s idle: RSS before → load → RSS (or VmHWM) under load; one JSON line per
# scenario in $TMP/memory.jsonl.
#   idle-connections  10,000 keep-alive connections, one small request each, then idle (--hold)
#   active-streams    1,000 connections streaming from a mock pacing 64 chunks 50 ms apart
#   peak-150k         1,500 connections sending 150 KB prompts (3,000 requests) to a mock that
#                     waits 200 ms before answering: VmHWM, the high-water mark
# bytes per unit = (RSS under load − RSS before) ÷ units (for the peak: VmHWM − RSS before).

MEM_CONNECTIONS=10000
MEM_STREAMS=1000
MEM_PEAK_CONNECTIONS=1500
MEM_PEAK_REQUESTS=3000

# mem_start SERVER: starts ringgate (2 shards) or nginx (2 workers) against the memory mocks;
# sets MEM_PID, MEM_PORT_PLAIN (non-streamed) and MEM_PORT_STREAM (the paced mock's streams).
mem_start() {
  local saved_mock=$MOCK_PORT saved_paced=$MOCK_PACED_PORT
  MOCK_PORT=$MEM_MOCK_PORT MOCK_PACED_PORT=$MEM_PACED_PORT
  if [[ $1 == ringgate ]]; then
    MEM_PORT_PLAIN=$(free_port)
    MEM_PORT_STREAM=$MEM_PORT_PLAIN
    write_ringgate_config "$TMP/ringgate-mem.toml" "$MEM_PORT_PLAIN" 2
    "$BIN" --config "$TMP/ringgate-mem.toml" --shards 2 --log-level warn 2>>"$TMP/ringgate-mem.log" &
    MEM_PID=$!
    PIDS+=("$MEM_PID")
    wait_http "http://127.0.0.1:$MEM_PORT_PLAIN/health" "$MEM_PID" "$TMP/ringgate-mem.log" 200
  else
    rm -rf "$TMP/nginx-mem"
    start_nginx_in "$TMP/nginx-mem" 2 "0-$(($(nproc) - 1))"
    MEM_PID=$NGINX_PID MEM_PORT_PLAIN=$NGINX_PORT_BUFFERED MEM_PORT_STREAM=$NGINX_PORT_PACED
  fi
  MOCK_PORT=$saved_mock MOCK_PACED_PORT=$saved_paced
}

# established PORT: client connections established to 127.0.0.1:PORT.
established() { ss -Htn state established "( sport = :$1 )" | wc -l; }

# mem_scenario SERVER SCENARIO UNITS UNIT LOADGEN_ARG...: one scenario on a fresh server.
mem_scenario() {
  local server=$1 scenario=$2 units=$3 unit=$4 before rss=0 hwm lg_pid rc=0 i port
  shift 4
  mem_start "$server"
  port=$MEM_PORT_PLAIN
  [[ $scenario == active-streams ]] && port=$MEM_PORT_STREAM
  sleep 1
  before=$(status_kb VmRSS "$MEM_PID")
  local out="$TMP/mem-$server-$scenario"
  "${REPORT[@]}" rusage "$out.rusage" timeout 120 "$LOADGEN" \
    --url "http://127.0.0.1:$port/v1/chat/completions" --header 'Content-Type: application/json' \
    --header 'Authorization: Bearer sk-bench' --expect-status 200 --json "$@" >"$out.json" 2>"$out.err" &
  lg_pid=$!
  if [[ $scenario != peak-150k ]]; then
    # Wait until the connections are up (at most 60 s), give the server 2 s to settle, then take
    # the median of 5 readings over 1 s.
    for i in $(seq 600); do
      (($(established "$port") >= units)) && break
      kill -0 "$lg_pid" 2>/dev/null || break
      sleep 0.1
    done
    sleep 2
    rss=$(for _ in 1 2 3 4 5; do status_kb VmRSS "$MEM_PID"; sleep 0.2; done | sort -n | sed -n 3p)
    say "$server $scenario: $(established "$port") connections established, RSS ${before} → ${rss} kB"
  fi
  wait "$lg_pid" || rc=$?
  hwm=$(status_kb VmHWM "$MEM_PID")
  [[ $scenario == peak-150k ]] && rss=$(status_kb VmRSS "$MEM_PID")
  kill -0 "$MEM_PID" 2>/dev/null || warn "$server exited during $scenario"
  "${REPORT[@]}" memory "$TMP/memory.jsonl" "$out" server="$server" scenario="$scenario" \
    units="$units" unit="$unit" rss_before_kb="$before" rss_kb="$rss" hwm_kb="$hwm" rc="$rc" \
    alive="$(kill -0 "$MEM_PID" 2>/dev/null && echo 1 || echo 0)"
  stop_pid "$MEM_PID"
}

run_memory() {
  say "memory: ringgate (2 shards)$(has_arm nginx && echo ' and nginx (2 workers)'), unpinned"
  [[ -n ${MOCK_PID:-} ]] || start_mocks
  start_mockllm "$MOCK" "$CLIENT_CPU" "$TMP/mockllm-mem.log" --words "$MOCK_WORDS" --first-byte-ms 200
  MEM_MOCK_PORT=$MOCKLLM_PORT
  start_mockllm "$MOCK" "$CLIENT_CPU" "$TMP/mockllm-mem-paced.log" --words "$MOCK_WORDS" \
    --chunks "$MOCK_CHUNKS" --delay-ms 50
  MEM_PACED_PORT=$MOCKLLM_PORT
  local server servers=(ringgate)
  has_arm nginx && servers+=(nginx)
  for server in "${servers[@]}"; do
    mem_scenario "$server" idle-connections "$MEM_CONNECTIONS" connection --hold \
      --connections "$MEM_CONNECTIONS" --duration 20 --threads 1 --timeout-ms 60000 \
      --body "$TMP/bodies/small.json"
    mem_scenario "$server" active-streams "$MEM_STREAMS" stream --stream \
      --connections "$MEM_STREAMS" --duration 10 --threads 1 --timeout-ms 60000 \
      --body "$TMP/bodies/memstream.json" --header 'Accept: text/event-stream'
    mem_scenario "$server" peak-150k "$MEM_PEAK_CONNECTIONS" request \
      --connections "$MEM_PEAK_CONNECTIONS" --requests "$MEM_PEAK_REQUESTS" --threads 1 \
      --timeout-ms 60000 --body "$TMP/bodies/mem150k.json"
  done
}
