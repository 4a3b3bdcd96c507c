#!/bin/sh
# run.sh HARNESS [SECONDS] [extra libFuzzer flags...] - runs one fuzzer the
# way the project's fuzzing runs were done: niced, one BLAS thread, memory
# and time capped, on a working corpus seeded from tests/fuzz/corpus/HARNESS
# (new inputs go to $FUZZ_WORK/HARNESS, default /tmp/seqsh-fuzz-work), with
# the harness's dictionary. Crashes land in $FUZZ_WORK/crash/.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
h=$1
secs=${2:-1200}
shift; [ $# -gt 0 ] && shift
work=${FUZZ_WORK:-/tmp/seqsh-fuzz-work}
mkdir -p "$work/$h" "$work/crash"
work=$(cd "$work" && pwd)        # absolute: harnesses chdir
dict=""
[ -f "$here/dict/$h.dict" ] && dict="-dict=$here/dict/$h.dict"
seeds=""
[ -d "$here/corpus/$h" ] && seeds="$here/corpus/$h"
export OPENBLAS_NUM_THREADS=1
# the .h5 reader's own time limit (20 s and up) under libFuzzer's 10 s, so
# a file libhdf5 loops on ends in seqsh's error rather than a fuzzer timeout
export SEQSH_H5_TIME_LIMIT=${SEQSH_H5_TIME_LIMIT:-4}
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:allocator_may_return_null=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
exec nice -n 19 "$here/bin/fuzz_$h" -max_total_time="$secs" -timeout=10 \
    -rss_limit_mb=2048 -malloc_limit_mb=2048 -close_fd_mask=3 -print_final_stats=1 \
    -artifact_prefix="$work/crash/$h-" $dict "$@" "$work/$h" $seeds </dev/null
