# shellcheck shell=bash
# bench/lib.sh: shell functions shared by the bench/*/run scripts (sourced, not run). The caller
# sets BENCH_PROG (its name, for messages) and has `set -euo pipefail`; sourcing this creates a
# temporary directory ($TMP), the list of processes to stop ($PIDS) and the traps that stop them
# and remove $TMP on any exit, Ctrl-C included.

BENCH_PROG=${BENCH_PROG:-bench}

die() { printf '%s: error: %s\n' "$BENCH_PROG" "$*" >&2; exit 1; }
say() { printf '==> %s\n' "$*" >&2; }
warn() { printf '%s: WARNING: %s\n' "$BENCH_PROG" "$*" >&2; }

# require_tools TOOL...: dies naming the first one missing from PATH.
require_tools() {
  local tool
  for tool in "$@"; do
    command -v "$tool" >/dev/null || die "$tool not found (tools/dev deps installs it)"
  done
}

TMP=$(mktemp -d)
PIDS=()  # processes we started; stopped on any exit

# Stops every process in PIDS (TERM, then KILL after 5 s each) and removes $TMP. Bounded in time.
cleanup() {
  local pid
  for pid in "${PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# free_port: prints a free ephemeral TCP port on 127.0.0.1.
free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# wait_http URL PID LOG [STATUS]: polls URL (GET) until it answers with STATUS (default: any
# HTTP status at all), for up to 10 s; fails with LOG when PID exits or time runs out.
wait_http() {
  local url=$1 pid=$2 log=$3 want=${4:-} code
  for _ in $(seq 100); do
    kill -0 "$pid" 2>/dev/null || { cat "$log" >&2; die "process $pid exited at startup"; }
    code=$(curl -s -o /dev/null -m 2 -w '%{http_code}' "$url" 2>/dev/null || true)
    if [[ -n $code && $code != 000 ]] && [[ -z $want || $code == "$want" ]]; then return 0; fi
    sleep 0.1
  done
  cat "$log" >&2
  die "no ${want:-HTTP} answer from $url within 10 s"
}

# cpu_ticks PID...: utime + stime (fields 14 and 15 of /proc/PID/stat, all threads of the
# process) summed over the PIDs and, for each, its child processes (nginx's worker).
cpu_ticks() {
  local pid all=() total=0 stat f
  for pid in "$@"; do
    all+=("$pid")
    mapfile -t -O "${#all[@]}" all < <(pgrep -P "$pid" || true)
  done
  for pid in "${all[@]}"; do
    # Field 2 (comm) may hold spaces: cut everything up to the last ')'.
    stat=$(cat "/proc/$pid/stat" 2>/dev/null) || continue
    read -r -a f <<<"${stat##*) }"
    total=$((total + f[11] + f[12]))  # utime, stime (fields 14, 15; this array starts at field 3)
  done
  echo "$total"
}

# json_string S: S as a JSON string literal (escapes backslash, quote and control characters).
json_string() {
  local s=${1//\\/\\\\}
  s=${s//\"/\\\"}
  s=${s//$'\n'/\\n}
  s=${s//$'\t'/\\t}
  printf '"%s"' "$s"
}

# machine_json: the machine description as a JSON object (hostname, nproc, CPU model, kernel,
# clock ticks per second).
machine_json() {
  printf '{"hostname": %s, "nproc": %d, "cpu_model": %s, "kernel": %s, "clk_tck": %d}' \
    "$(json_string "$(bench_host)")" "$(nproc)" "$(json_string "$(cpu_model)")" \
    "$(json_string "$(uname -r)")" "$(getconf CLK_TCK)"
}

bench_host() { hostname -s 2>/dev/null || hostname; }
cpu_model() { awk -F': ' '/^model name/{print $2; exit}' /proc/cpuinfo; }
