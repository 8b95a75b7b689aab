#!/bin/sh
# tests/fuzz/run.sh: build and run the libFuzzer targets (clang + libclang-rt-14-dev).
#
#   tests/fuzz/run.sh build                 build all targets into $FUZZ_OUT (default /tmp/anatomy-fuzz)
#   tests/fuzz/run.sh run TARGET [SECONDS]  fuzz one target (nifti, nrrd, label-table, safetensors), default 600 s
#   tests/fuzz/run.sh replay                replay corpora + regressions through the fuzz binaries
#
# Every target is built with AddressSanitizer + UndefinedBehaviorSanitizer.  The run works
# on a copy of the seed corpus (tests/fuzz/corpus-TARGET) in $FUZZ_OUT/work-TARGET, so the
# committed corpus stays small; crashes, leaks and timeouts land in $FUZZ_OUT/TARGET-crash-*
# (or -leak-, -timeout-, -oom-).  For each finding: fix it, then copy the input to
# tests/fuzz/regressions/TARGET/<short-name>.bin; test-fuzz-regressions (suite unit) replays
# every file there, and the seed corpora, through the same entry points on every `meson test`,
# in the ASan build too.
#
# Runs at the lowest priority (nice 19), one target at a time: the machine is shared.
set -eu

src=$(cd "$(dirname "$0")/../.." && pwd)
out=${FUZZ_OUT:-/tmp/anatomy-fuzz}
cc=${CC_FUZZ:-clang}
flags="-g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined -D_GNU_SOURCE -I$src/model/base -I$src/model/volume -I$src/model/nn"
# the libraries each target needs, as folders of sources
volume_srcs="model/base/*.c model/volume/*.c"
nn_srcs="$volume_srcs model/nn/*.c"

max_len() {
  case $1 in
    nifti) echo 65536 ;;
    nrrd) echo 65536 ;;
    label-table) echo 4096 ;;
    safetensors) echo 200000 ;;
  esac
}

build_one() {
  t=$1
  case $t in
    nifti)
      srcs=$volume_srcs
      libs="$(pkg-config --cflags --libs glib-2.0 gio-2.0 zlib) -pthread" ;;
    nrrd)
      srcs=$volume_srcs
      libs="$(pkg-config --cflags --libs glib-2.0 gio-2.0 zlib) -pthread" ;;
    label-table)
      srcs=$volume_srcs
      libs="$(pkg-config --cflags --libs glib-2.0 gio-2.0 zlib) -pthread" ;;
    safetensors)
      srcs=$nn_srcs
      libs=$(pkg-config --cflags --libs gio-2.0 json-glib-1.0 zlib openblas) ;;
    *) echo "unknown target $t (nifti, nrrd, label-table, safetensors)" >&2; exit 2 ;;
  esac
  mkdir -p "$out"
  # shellcheck disable=SC2086
  (cd "$src" && nice -n 19 $cc $flags "tests/fuzz/fuzz-$t.c" $srcs $libs -lm -o "$out/fuzz-$t")
  echo "built $out/fuzz-$t"
}

case ${1:-} in
  build)
    for t in nifti nrrd label-table safetensors; do build_one $t; done ;;
  run)
    t=${2:?target}
    secs=${3:-600}
    [ -x "$out/fuzz-$t" ] || build_one "$t"
    mkdir -p "$out/work-$t"
    cp -n "$src/tests/fuzz/corpus-$t/"* "$out/work-$t/" 2>/dev/null || true
    cp -n "$src/tests/fuzz/regressions/$t/"* "$out/work-$t/" 2>/dev/null || true
    cd "$out"
    nice -n 19 "./fuzz-$t" -max_total_time="$secs" -max_len="$(max_len "$t")" -timeout=20 \
      -rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix="$out/$t-" "work-$t" 2>&1 \
      | tee "$out/$t.log" | grep -E "^#[0-9]+ +(pulse|NEW)|ERROR|SUMMARY|stat::" || true
    echo "corpus after the run: $(ls "$out/work-$t" | wc -l) files; log $out/$t.log" ;;
  replay)
    for t in nifti nrrd label-table safetensors; do
      [ -x "$out/fuzz-$t" ] || build_one "$t"
      nice -n 19 "$out/fuzz-$t" -runs=0 "$src/tests/fuzz/corpus-$t" "$src/tests/fuzz/regressions/$t" 2>&1 | tail -1
    done ;;
  *)
    sed -n '2,16p' "$0"
    exit 2 ;;
esac
