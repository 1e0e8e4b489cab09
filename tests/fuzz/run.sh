#!/usr/bin/env bash
# Runs the fuzz targets built in BUILD_DIR (make fuzz): for each target, first every saved
# reproducer of regressions/<target>/ once, then libFuzzer for SECONDS on a scratch copy of
# corpus/<target>/ (so a run never grows the repository's corpus). Exits non-zero if any target
# crashed, leaked, hit UB, timed out or ran out of memory; its log and the input are kept.
#
#   run.sh BUILD_DIR SECONDS [TARGET...]      (default: every target)
#
# Environment: FUZZ_PARALLEL (targets at a time, default 1), FUZZ_ARGS (more libFuzzer flags,
# e.g. "-max_len=65536"). Scratch: BUILD_DIR/run/<target>/{corpus,artifacts,log}.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
if [ $# -lt 2 ]; then
  echo "usage: $0 BUILD_DIR SECONDS [TARGET...]" >&2
  exit 2
fi
build=$(cd "$1" && pwd)
seconds=$2
shift 2
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  targets=(wamp_codec rawsocket mqtt_codec fox_codec config cluster_config)
fi
parallel=${FUZZ_PARALLEL:-1}
# The sanitizers' reports get file:line from the llvm-symbolizer of the same LLVM (package llvm-16).
for d in /usr/lib/llvm-16/bin /usr/lib/llvm-*/bin; do
  if [ -x "$d/llvm-symbolizer" ]; then
    export PATH="$d:$PATH"
    break
  fi
done
read -r -a extra <<< "${FUZZ_ARGS:-}"
work=$build/run

# One target: regressions, then the timed run. Its result goes to $work/<target>/result.
fuzz_one() {
  local t=$1 bin=$build/tests/fuzz/fuzz_$1 dir=$work/$1
  rm -rf "$dir"
  mkdir -p "$dir/corpus" "$dir/artifacts"
  if [ ! -x "$bin" ]; then
    echo "missing $bin" > "$dir/log"
    echo "FAIL $t: not built" > "$dir/result"
    return
  fi
  local regressions=()
  if [ -d "$here/regressions/$t" ]; then
    mapfile -t regressions < <(find "$here/regressions/$t" -type f | sort)
  fi
  if [ ${#regressions[@]} -gt 0 ]; then
    if ! "$bin" -timeout=10 "${regressions[@]}" > "$dir/regressions.log" 2>&1; then
      echo "FAIL $t: a reproducer of regressions/$t crashes again (log: $dir/regressions.log)" \
        > "$dir/result"
      return
    fi
  fi
  cp "$here/corpus/$t/"* "$dir/corpus/"
  local args=(-max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1
              -artifact_prefix="$dir/artifacts/")
  if [ -f "$here/dict/$t.dict" ]; then args+=(-dict="$here/dict/$t.dict"); fi
  local rc=0
  "$bin" "${args[@]}" "${extra[@]}" "$dir/corpus" > "$dir/log" 2>&1 || rc=$?
  local done_line execs
  done_line=$(grep -E '^#[0-9]+[[:space:]]+DONE' "$dir/log" | tail -1 | sed -E 's/^#[0-9]+[[:space:]]+DONE[[:space:]]+//')
  execs=$(grep -E '^stat::number_of_executed_units' "$dir/log" | awk '{print $2}')
  if [ $rc -ne 0 ]; then
    echo "FAIL $t: libFuzzer exit $rc, input in $dir/artifacts/ (log: $dir/log)" > "$dir/result"
  else
    echo "ok   $t: ${regressions:+${#regressions[@]} reproducers, }${execs:-?} execs: ${done_line:-?}" \
      > "$dir/result"
  fi
}

mkdir -p "$work"
start=$(date +%s)
running=0
for t in "${targets[@]}"; do
  fuzz_one "$t" &
  running=$((running + 1))
  if [ "$running" -ge "$parallel" ]; then
    wait -n
    running=$((running - 1))
  fi
done
wait

status=0
for t in "${targets[@]}"; do
  cat "$work/$t/result"
  if grep -q '^FAIL' "$work/$t/result"; then
    status=1
    for log in "$work/$t/regressions.log" "$work/$t/log"; do
      if [ -f "$log" ]; then
        echo "---- $log (end)"
        tail -n 40 "$log"
      fi
    done
  fi
done
echo "fuzz: ${#targets[@]} targets, ${seconds} s each, $(( $(date +%s) - start )) s in all"
exit $status
