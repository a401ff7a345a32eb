# shellcheck shell=bash
# bench/compare.d/variants.sh: the feature variants of the ringgate arm (sourced by bench/compare,
# after arms.sh). Each NAME of --variants is bench/compare.d/variants/NAME.toml, merged over the
# base ringgate config by variants.py, and runs as the arm ringgate+NAME right after ringgate in
# the same interleaved run: same core, same mocks, same requests, on the workloads its [bench]
# table names (default small and burst). Extra mock endpoints a variant asks for (bench.mocks = N)
# are shared by every variant; the fragment reaches them as ${MOCK_PORT_1} … ${MOCK_PORT_N}.
# shellcheck disable=SC2034  # VARIANT_PORT, _PID, _HEADERS are read by arms.sh (port_of, …)

declare -A VARIANT_PORT=() VARIANT_PID=() VARIANT_HEADERS=() VARIANT_WORKLOADS=() VARIANT_MOCKS=()
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
