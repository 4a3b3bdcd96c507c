#!/bin/sh
# test.sh - installs what is missing, builds seqsh, and runs the whole test
# suite four ways: a normal build; the same build on other kernels (the
# portable C convolution and OpenBLAS's generic Prescott kernels), so that a
# test depending on one CPU's rounding fails on every machine; a build with
# AddressSanitizer and UndefinedBehaviorSanitizer (leak detection on); and
# the transcripts under valgrind; the thread pool's tests also run under
# ThreadSanitizer. Prints every test log (so Check's summary
# lines are visible) and leaves a normal build behind.
set -e
cd "$(dirname "$0")/.."
scripts/install-deps.sh
[ -x configure ] || ./bootstrap
[ -f Makefile ] || ./configure
status=0

print_logs() {
    for log in tests/*.log; do
        [ "$log" = tests/test-suite.log ] && continue
        echo "==== $1: $log"
        cat "$log"
    done
}

echo "==== normal build"
make -j2
make -j2 check || status=1
print_logs normal

echo "==== interop: every export in its real client (TensorFlow.js, onnxruntime, PyTorch)"
make check-interop || status=1

echo "==== other kernels: SEQSH_ISA=c OPENBLAS_CORETYPE=Prescott"
SEQSH_ISA=c OPENBLAS_CORETYPE=Prescott make -j2 check || status=1
print_logs "SEQSH_ISA=c OPENBLAS_CORETYPE=Prescott"

echo "==== ThreadSanitizer: the thread pool's tests"
make check-tsan || status=1

echo "==== AddressSanitizer + UndefinedBehaviorSanitizer build"
make clean >/dev/null
san="-fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer"
# (leaks inside Graphviz and the font libraries are suppressed: tests/lsan.supp)
ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 CK_FORK=no \
    LSAN_OPTIONS="suppressions=$(pwd)/tests/lsan.supp:print_suppressions=0" \
    make -j2 check SAN_CFLAGS="$san" || status=1
print_logs sanitizers

echo "==== valgrind"
make clean >/dev/null
make -j2
make check-valgrind || status=1

exit $status
