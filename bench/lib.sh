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

# stop_pid PID: TERM, then KILL after 5 s; waits for it.
stop_pid() {
  kill -TERM "$1" 2>/dev/null || true
  for _ in $(seq 50); do kill -0 "$1" 2>/dev/null || break; sleep 0.1; done
  kill -KILL "$1" 2>/dev/null || true
  wait "$1" 2>/dev/null || true
}

# start_mockllm MOCK CPU LOG ARG...: starts mockllm (1 shard, on 127.0.0.1 at a free port, pinned
# to CPU, stderr to LOG, the ARGs appended) and waits until it answers; sets MOCKLLM_PORT and
# MOCKLLM_PID.
start_mockllm() {
  local mock=$1 cpu=$2 log=$3
  shift 3
  MOCKLLM_PORT=$(free_port)
  taskset -c "$cpu" "$mock" --listen "127.0.0.1:$MOCKLLM_PORT" --shards 1 --log-level warn "$@" \
    2>"$log" &
  MOCKLLM_PID=$!
  PIDS+=("$MOCKLLM_PID")
  wait_http "http://127.0.0.1:$MOCKLLM_PORT/v1/models" "$MOCKLLM_PID" "$log" 200
}

# with_children PID...: the PIDs and their child processes (nginx's workers), one a line.
with_children() {
  local pid
  for pid in "$@"; do
    echo "$pid"
    pgrep -P "$pid" || true
  done
}

# cpu_ns PID...: CPU time in nanoseconds of the PIDs and their children, every thread: the sum of
# the first field of /proc/PID/task/TID/schedstat (the scheduler's run time, ns resolution), or,
# when the kernel has no schedstat, utime + stime in clock ticks converted to ns. Threads that
# exited between two readings drop out of the schedstat sum: the servers measured here keep theirs.
cpu_ns() {
  local pid total=0 ns f
  if [[ ! -r /proc/self/schedstat ]]; then
    echo $(($(cpu_ticks "$@") * 1000000000 / $(getconf CLK_TCK)))
    return
  fi
  for pid in $(with_children "$@"); do
    for f in /proc/"$pid"/task/*/schedstat; do
      read -r ns _ 2>/dev/null <"$f" || continue
      total=$((total + ns))
    done
  done
  echo "$total"
}

# status_kb FIELD PID...: a /proc/PID/status field in kB (VmRSS, VmHWM, …) summed over the PIDs
# and their children (nginx: master + workers). 0 for a process that is gone.
status_kb() {
  local field=$1 pid total=0 v
  shift
  for pid in $(with_children "$@"); do
    v=$(awk -v f="$field:" '$1 == f {print $2}' "/proc/$pid/status" 2>/dev/null || true)
    total=$((total + ${v:-0}))
  done
  echo "$total"
}

# raise_nofile N: raises the soft open-files limit of this shell and the processes it starts to
# N, or to the hard limit when that is lower (then with a warning: an unprivileged container
# cannot raise its hard limit).
raise_nofile() {
  local want=$1 hard
  hard=$(ulimit -Hn)
  [[ $hard == unlimited ]] || ((hard >= want)) || ulimit -Hn "$want" 2>/dev/null || true
  hard=$(ulimit -Hn)
  if [[ $hard != unlimited ]] && ((hard < want)); then
    warn "open-files hard limit is $hard (wanted $want); using $hard"
    want=$hard
  fi
  ulimit -Sn "$want"
}
