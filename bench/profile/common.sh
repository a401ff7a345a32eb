# shellcheck shell=bash
# bench/profile/common.sh: what bench/profile/* take from bench/compare (sourced, after setting
# BENCH_PROG and `set -euo pipefail`): bench/lib.sh ($TMP, $PIDS and the exit trap, free_port,
# cpu_ns), bench/compare.d/arms.sh (the mocks, the base ringgate config, nginx) and the feature
# variants, so a profile runs exactly the configurations bench/compare measures.
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$ROOT"
D=bench/compare.d
# shellcheck source=bench/lib.sh
source bench/lib.sh
# shellcheck source=bench/compare.d/arms.sh
source "$D/arms.sh"
REPORT=(python3 "$D/report.py")
VARIANTS_DIR=$D/variants
PROXY_CPU=1 CLIENT_CPU=0
MOCK_WORDS=205 MOCK_CHUNKS=64 PACE_MS=5  # bench/compare's mock answers

# use_build DIR: the binaries of a build directory.
use_build() {
  BIN=$1/src/ringgate/ringgate MOCK=$1/tools/mockllm/mockllm LOADGEN=$1/tools/loadgen/loadgen
  local f
  for f in "$BIN" "$MOCK" "$LOADGEN"; do [[ -x $f ]] || die "$f missing (meson compile -C $1)"; done
}

# ringgate_config NAME OUT: bench/compare's base ringgate config (on a free port, printed), with
# the variant NAME (bench/compare.d/variants/NAME.toml) merged over it unless NAME is "base".
ringgate_config() {
  local name=$1 out=$2 port dir
  port=$(free_port)
  dir=$(dirname "$out")
  mkdir -p "$dir"
  if [[ $name == base ]]; then
    write_ringgate_config "$out" "$port" 1
  else
    write_ringgate_config "$dir/$name-base.toml" "$port" 1
    "${REPORT[@]}" variant-config "$dir/$name-base.toml" "$VARIANTS_DIR/$name.toml" "$out" \
      "MOCK_PORT=$MOCK_PORT" "MOCK_PACED_PORT=$MOCK_PACED_PORT" "VARIANT_DIR=$dir" \
      "VARIANTS_DIR=$VARIANTS_DIR" || die "variant $name: no config"
    check_ringgate_config "$out"
  fi
  echo "$port"
}
