# shellcheck shell=bash
# bench/compare.d/variants.sh: the feature variants of the ringgate arm (sourced by bench/compare,
# after arms.sh). Each NAME of --variants is bench/compare.d/variants/NAME.toml, merged over the
# base ringgate config by variants.py, and runs as the arm ringgate+NAME right after ringgate in
# the same interleaved run: same core, same mocks, same requests, on the workloads its [bench]
# table names (default small and burst). Extra mock endpoints a variant asks for (bench.mocks = N)
# are shared by every variant; the fragment reaches them as ${MOCK_PORT_1} … ${MOCK_PORT_N}.
# shellcheck disable=SC2034  # VARIANT_PORT, _PID, _HEADERS are read by arms.sh (port_of, …)

declare -A VARIANT_PORT=() VARIANT_PID=() VARIANT_HEADERS=() VARIANT_WORKLOADS=() VARIANT_MOCKS=()
declare -A VARIANT_VS=()  # the arm each variant is compared with: ringgate or ringgate+BASELINE
POOL_MOCK_PORTS=()
VARIANTS_DIR="$ROOT/$D/variants"

# select_variants LIST: VARIANTS from "a,b", "all" (every file in variants/) or "none"; dies
# naming the known variants when a file is missing.
select_variants() {
  local v f known=''
  for f in "$VARIANTS_DIR"/*.toml; do [[ -f $f ]] && known+="$(basename "$f" .toml) "; done
  case $1 in
    none | '') VARIANTS=() ;;
    all) read -r -a VARIANTS <<<"$known" ;;
    *) read -r -a VARIANTS <<<"${1//,/ }" ;;
  esac
  for v in "${VARIANTS[@]}"; do
    [[ -f $VARIANTS_DIR/$v.toml ]] || die "no variant $v ($VARIANTS_DIR/$v.toml); known: ${known:-none}"
  done
}

# read_variants: each variant's [bench] table (before any process starts, so a bad file fails
# fast), adding the variant a bench.baseline names when it is not selected; inserts the arms
# ringgate+NAME after ringgate. The tables go to variants.jsonl for the report.
read_variants() {
  ((${#VARIANTS[@]})) || return 0
  has_arm ringgate || die "--variants needs the ringgate arm (the base they are compared with)"
  local i v a meta arms=() VARIANT_MOCKS_N VARIANT_BASELINE VARIANT_WORKLOAD_LIST VARIANT_HEADER_LIST
  for ((i = 0; i < ${#VARIANTS[@]}; i++)); do
    v=${VARIANTS[i]}
    meta=$("${REPORT[@]}" variant-meta "$VARIANTS_DIR/$v.toml" "$v" "$TMP/variants.jsonl") ||
      die "variant $v: bad file (see above)"
    eval "$meta"
    VARIANT_MOCKS[$v]=$VARIANT_MOCKS_N
    VARIANT_WORKLOADS[$v]=$VARIANT_WORKLOAD_LIST
    VARIANT_HEADERS[$v]=$(printf '%s\n' "${VARIANT_HEADER_LIST[@]}")
    VARIANT_VS[$v]=ringgate${VARIANT_BASELINE:++$VARIANT_BASELINE}
    if [[ -n $VARIANT_BASELINE && " ${VARIANTS[*]} " != *" $VARIANT_BASELINE "* ]]; then
      [[ -f $VARIANTS_DIR/$VARIANT_BASELINE.toml ]] ||
        die "variant $v: its baseline $VARIANT_BASELINE is not a variant ($VARIANTS_DIR/$VARIANT_BASELINE.toml)"
      say "variant $v is compared with $VARIANT_BASELINE: adding that variant"
      VARIANTS+=("$VARIANT_BASELINE")
    fi
    local runs=0
    for a in "${WORKLOADS[@]}"; do if [[ " $VARIANT_WORKLOAD_LIST " == *" $a "* ]]; then runs=1; fi; done
    ((runs)) || warn "variant $v runs on ${VARIANT_WORKLOAD_LIST// /, } only: none of them is in this run"
  done
  for a in "${ARMS[@]}"; do
    arms+=("$a")
    if [[ $a == ringgate ]]; then for v in "${VARIANTS[@]}"; do arms+=("ringgate+$v"); done; fi
  done
  ARMS=("${arms[@]}")
}

# arm_runs WORKLOAD ARM [PHASE]: whether the arm has that cell (a variant: on its workloads; under
# --quick only the c64 cell, where CPU per request comes from, to keep --quick near a minute).
arm_runs() {
  [[ $2 == ringgate+* ]] || return 0
  [[ " ${VARIANT_WORKLOADS[${2#ringgate+}]} " == *" $1 "* ]] || return 1
  ! ((QUICK)) || [[ ${3:-c64} == c64 || ${3:-} == warmup ]]
}

# start_pool_mocks N: at least N extra mockllm instances on the client core, answering like the
# unpaced mock (small, large, burst).
start_pool_mocks() {
  while ((${#POOL_MOCK_PORTS[@]} < $1)); do
    start_mockllm "$MOCK" "$CLIENT_CPU" "$TMP/mockllm-pool-${#POOL_MOCK_PORTS[@]}.log" \
      --words "$MOCK_WORDS" --chunks "$MOCK_CHUNKS"
    POOL_MOCK_PORTS+=("$MOCKLLM_PORT")
  done
}

# start_variants: one ringgate per variant (1 shard, on the proxy core), each with the base config
# of the ringgate arm (its own ports) merged with the variant's fragment, checked with
# --check-config first.
start_variants() {
  local v i port dir values
  for v in "${VARIANTS[@]}"; do
    start_pool_mocks "${VARIANT_MOCKS[$v]}"
    dir="$TMP/variant-$v"
    mkdir -p "$dir"
    port=$(free_port)
    write_ringgate_config "$dir/base.toml" "$port" 1
    values=("MOCK_PORT=$MOCK_PORT" "MOCK_PACED_PORT=$MOCK_PACED_PORT" "VARIANT_DIR=$dir"
      "VARIANTS_DIR=$VARIANTS_DIR")
    for ((i = 1; i <= VARIANT_MOCKS[$v]; i++)); do values+=("MOCK_PORT_$i=${POOL_MOCK_PORTS[i - 1]}"); done
    "${REPORT[@]}" variant-config "$dir/base.toml" "$VARIANTS_DIR/$v.toml" "$dir/ringgate.toml" \
      "${values[@]}" || die "variant $v: no config (see above)"
    check_ringgate_config "$dir/ringgate.toml"
    start_ringgate_on "$dir/ringgate.toml" "$dir/ringgate.log" "$port"
    VARIANT_PORT[$v]=$port
    VARIANT_PID[$v]=$STARTED_PID
  done
  ((${#VARIANTS[@]} == 0)) || say "variants: ${VARIANTS[*]} (configs under $TMP/variant-*/ringgate.toml)"
}

# ---- paired rounds: a variant and the arm it is compared with, loaded at the same time ---------

# The interleaved rounds measure the two arms seconds apart, and on a shared VM CPU per request
# drifts by ±15 % between them: a 5 % target was not resolvable in 8 rounds. In a paired round
# both arms run under load at the same instant, on the same core, each with half of the c64
# cell's connections, so a drift of the VM hits both alike and cancels in their ratio (an A/A
# pair, the same config twice, gave 0.998 with a per-round s.d. of 0.6 %). Each arm runs at about
# half its c64 rate (the core is shared), so its CPU per request is ~10 % above its c64 figure.
PAIRED_CONNECTIONS=32

# measure_pair WORKLOAD ARM VS ROUND: one paired round (cells of phase "paired", pair "ARM|VS").
measure_pair() {
  local w=$1 a=$2 b=$3 round=$4 pa pb a0 b0 a1 b1 rca=0 rcb=0 bg alive_a=1 alive_b=1 args_a args_b
  local oa="$TMP/cells/$w-$a-paired-$round" ob="$TMP/cells/$w-$b-paired-by-$a-$round"
  pa=$(pid_of "$a") pb=$(pid_of "$b")
  loadgen_args "$w" "$a" paired "$DURATION_S"
  args_a=("${LG_ARGS[@]}")
  loadgen_args "$w" "$b" paired "$DURATION_S"
  args_b=("${LG_ARGS[@]}")
  a0=$(cpu_ns "$pa") b0=$(cpu_ns "$pb")
  if ((round % 2)); then  # which loadgen starts first alternates (they start microseconds apart)
    run_loadgen "$oa" "${args_a[@]}" & bg=$!
    run_loadgen "$ob" "${args_b[@]}" || rcb=$?
    wait "$bg" || rca=$?
  else
    run_loadgen "$ob" "${args_b[@]}" & bg=$!
    run_loadgen "$oa" "${args_a[@]}" || rca=$?
    wait "$bg" || rcb=$?
  fi
  a1=$(cpu_ns "$pa") b1=$(cpu_ns "$pb")
  kill -0 "$pa" 2>/dev/null || alive_a=0
  kill -0 "$pb" 2>/dev/null || alive_b=0
  "${REPORT[@]}" cell "$TMP/cells.jsonl" "$oa" workload="$w" arm="$a" phase=paired round="$round" \
    pair="$a|$b" proxy_cpu_ns=$((a1 - a0)) mock_cpu_ns=0 proxy_rss_kb="$(status_kb VmRSS "$pa")" \
    alive="$alive_a" rc="$rca" chunks="$MOCK_CHUNKS"
  "${REPORT[@]}" cell "$TMP/cells.jsonl" "$ob" workload="$w" arm="$b" phase=paired round="$round" \
    pair="$a|$b" proxy_cpu_ns=$((b1 - b0)) mock_cpu_ns=0 proxy_rss_kb="$(status_kb VmRSS "$pb")" \
    alive="$alive_b" rc="$rcb" chunks="$MOCK_CHUNKS"
}

# run_paired: PAIRED_ROUNDS paired rounds of each variant with the arm it is compared with, on
# each of its workloads in this run (not paced: its CPU per request is set by the pacing wait).
run_paired() {
  ((PAIRED_ROUNDS > 0 && ${#VARIANTS[@]} > 0)) || return 0
  local v w round
  say "paired rounds: each variant and its baseline loaded at the same time, $PAIRED_CONNECTIONS connections each, ${DURATION_S}s, $PAIRED_ROUNDS rounds"
  for round in $(seq "$PAIRED_ROUNDS"); do
    for w in "${WORKLOADS[@]}"; do
      [[ $w != paced ]] || continue
      for v in "${VARIANTS[@]}"; do
        if arm_runs "$w" "ringgate+$v" && arm_runs "$w" "${VARIANT_VS[$v]}"; then
          measure_pair "$w" "ringgate+$v" "${VARIANT_VS[$v]}" "$round"
        fi
      done
    done
  done
}
