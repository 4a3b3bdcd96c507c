#!/bin/sh
# test.sh - installs what is missing, builds seqsh, runs the whole test suite
# and prints every test log (so Check's summary lines are visible).
set -e
cd "$(dirname "$0")/.."
scripts/install-deps.sh
[ -x configure ] || ./bootstrap
[ -f Makefile ] || ./configure
make -j2
status=0
make -j2 check || status=$?
for log in tests/*.log; do
    [ "$log" = tests/test-suite.log ] && continue
    echo "==== $log"
    cat "$log"
done
exit $status
