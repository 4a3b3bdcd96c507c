#!/bin/sh
# mpi.sh - data-parallel training over MPI (issue 17): one W3 training epoch
# (scripts/bench/w3.seq, 10,000 samples of 28x28x1) as 1 rank x 1 thread,
# 1 rank x 2 threads and 2 ranks x 1 thread (`mpirun -np 2`, each rank
# bound to its core by mpirun's default for two ranks), the three
# interleaved round by round so that a busy machine slows all alike. Each
# run warms up with one epoch, then times `fit` and, in the same process,
# reading X alone (`call X.npy` on a model without layers); the epoch is the
# difference. Prints the fastest and the median epoch of each and the
# speed-ups of two ranks from the same rounds. Run by `make bench` after
# the other workloads, or alone:
#
#   SEQSH=./seqsh sh scripts/bench/mpi.sh          (make bench-mpi)
#
# Environment: SEQSH (default ./seqsh), CC (default cc), BENCH_REPS_MPI
# (rounds, default 5), BENCH_MPI_BATCHES (default "32 128"), TMPDIR.
set -u
here=$(cd "$(dirname "$0")" && pwd) || exit 2
SEQSH=${SEQSH:-./seqsh}
CC=${CC:-cc}
REPS=${BENCH_REPS_MPI:-5}
BATCHES=${BENCH_MPI_BATCHES:-32 128}
case $SEQSH in /*) ;; */*) SEQSH=$(pwd)/$SEQSH ;; *) SEQSH=$(pwd)/$SEQSH ;; esac
[ -x "$SEQSH" ] || { echo "mpi: no seqsh at '$SEQSH'" >&2; exit 2; }
if ! "$SEQSH" --version | grep -q "^MPI: Open MPI" || ! command -v mpirun >/dev/null 2>&1; then
    echo "W3 over MPI: skipped (seqsh built without MPI, or no mpirun: install openmpi-bin libopenmpi-dev)"
    exit 0
fi
# mpirun refuses root unless told; CI and containers run as root
[ "$(id -u)" = 0 ] && export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
cores=$(nproc 2>/dev/null || echo 1)
over=""
[ "$cores" -lt 2 ] && over=--oversubscribe
work=$(mktemp -d "${TMPDIR:-/tmp}/seqsh-mpi.XXXXXX") || exit 2
trap 'rm -rf "$work"' EXIT
$CC -O2 -o "$work/gendata" "$here/gendata.c" || exit 2
"$work/gendata" "$work/x.npy" "$work/y.npy" 10000 28 28 1 || exit 2
x=$work/x.npy y=$work/y.npy

# one process (or two ranks): prints "FIT_MS READ_MS"
run() { # RANKS THREADS BATCH
    set -- "$1" "$2" "$3" -q --seed 1 --threads "$2" -c "source '$here/w3.seq'" \
        -c "fit '$x' '$y' epochs=1 batch_size=$3 verbose=0" \
        -c "model probe; input 28 28 1" -c "time call '$x'" \
        -c "source '$here/w3.seq'" -c "time fit '$x' '$y' epochs=1 batch_size=$3 verbose=0"
    r=$1; shift 3
    if [ "$r" = 1 ]; then
        timeout 600 "$SEQSH" "$@"
    else
        # shellcheck disable=SC2086
        timeout 600 mpirun $over -np "$r" -x OPENBLAS_NUM_THREADS=1 "$SEQSH" "$@"
    fi | tr -d '\r' | sed -n 's/^Time: \([0-9.]*\) ms$/\1/p' | tr '\n' ' ' |
        awk 'NF == 2 { print $2, $1; ok = 1 } END { exit !ok }'
}
stats() { # FILE: "min median" of column 1
    sort -n "$1" | awk '{ v[NR] = $1 } END { m = NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2; printf "%.0f %.0f", v[1], m }'
}

echo "W3 over MPI: one training epoch of 10,000 samples, $REPS interleaved rounds, $cores cores, $(date -u '+%Y-%m-%d %H:%M UTC'), load average at start $(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null)"
echo "| batch | 1 rank x 1 thread, ms (fastest / median) | 1 rank x 2 threads | 2 ranks x 1 thread | 2 ranks vs 1x1 (fastest / median) | 2 ranks vs 1x2 |"
echo "|---:|---:|---:|---:|---:|---:|"
failed=0
for b in $BATCHES; do
    : >"$work/a" ; : >"$work/b" ; : >"$work/c"
    i=0
    while [ "$i" -lt "$REPS" ]; do
        for cfg in "a 1 1" "b 1 2" "c 2 1"; do
            # shellcheck disable=SC2086
            set -- $cfg
            if out=$(run "$2" "$3" "$b"); then
                echo "$out" | awk '{ printf "%.1f\n", $1 - $2 }' >>"$work/$1"
            else
                echo "W3 batch $b, $2 rank(s) x $3 thread(s) failed" >&2
                failed=1
            fi
        done
        i=$((i + 1))
    done
    [ -s "$work/a" ] && [ -s "$work/b" ] && [ -s "$work/c" ] || continue
    # shellcheck disable=SC2046
    set -- $(stats "$work/a") $(stats "$work/b") $(stats "$work/c")
    awk -v b="$b" -v a1="$1" -v a2="$2" -v b1="$3" -v b2="$4" -v c1="$5" -v c2="$6" 'BEGIN {
        printf "| %s | %d / %d | %d / %d | %d / %d | %.2fx / %.2fx | %.2fx / %.2fx |\n",
            b, a1, a2, b1, b2, c1, c2, a1 / c1, a2 / c2, b1 / c1, b2 / c2 }'
done
echo "(each epoch = the fit minus reading X in the same process; speed-ups above 1 mean two ranks are faster)"
exit $failed
