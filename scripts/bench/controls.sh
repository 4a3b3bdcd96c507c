#!/bin/sh
# controls.sh - what the training controls of issue 13 cost: one epoch of W2
# and of W3 (scripts/bench/w2.seq, w3.seq) timed plain and with l2 penalties
# on every weight, an activity penalty, clipnorm, a learning-rate schedule
# and class weights, alternately in one process so that a busy machine
# slows both alike; prints the fastest and the median epochs (a fit of
# BENCH_CONTROLS_EPOCHS + 1 epochs minus a fit of 1, divided by
# BENCH_CONTROLS_EPOCHS: reading X.npy cancels out, and the noise of the
# two fits' wall times is spread over several epochs; the fastest from the
# fastest fit of each length) and the overheads.
#
#   SEQSH=./seqsh sh scripts/bench/controls.sh        (make bench-controls)
#
# Environment: SEQSH (default ./seqsh), CC (default cc), BENCH_REPS_TRAIN
# (timed pairs of fits of each kind, default 5), BENCH_CONTROLS_EPOCHS
# (default 4), BENCH_THREADS (default 1), TMPDIR.
set -u
here=$(cd "$(dirname "$0")" && pwd) || exit 2
SEQSH=${SEQSH:-./seqsh}
CC=${CC:-cc}
REPS=${BENCH_REPS_TRAIN:-5}
THREADS=${BENCH_THREADS:-1}
EPOCHS=${BENCH_CONTROLS_EPOCHS:-4}
case $EPOCHS in ''|*[!0-9]*|0) echo "controls: BENCH_CONTROLS_EPOCHS must be a positive integer" >&2; exit 2 ;; esac
case $SEQSH in */*) ;; *) SEQSH=./$SEQSH ;; esac
[ -x "$SEQSH" ] || { echo "controls: no seqsh at '$SEQSH'" >&2; exit 2; }
work=$(mktemp -d "${TMPDIR:-/tmp}/seqsh-controls.XXXXXX") || exit 2
trap 'rm -rf "$work"' EXIT
# shellcheck disable=SC2086
$CC -O2 -o "$work/gendata" "$here/gendata.c" || exit 2
cw="{0:1,1:2,2:1,3:1,4:0.5,5:1,6:1,7:1,8:1,9:3}"
echo "seqsh training controls, $(date -u '+%Y-%m-%d %H:%M UTC'), load average at start $(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null)"
echo "| workload | batch | plain, fastest ms | controls, fastest ms | overhead | plain, median ms | controls, median ms | overhead |"
echo "|---|---:|---:|---:|---:|---:|---:|---:|"
for wl in w2 w3; do
    if [ "$wl" = w2 ]; then n=60000; shape=784; else n=10000; shape="28 28 1"; fi
    # shellcheck disable=SC2086
    "$work/gendata" "$work/x.npy" "$work/y.npy" "$n" $shape || exit 2
    # the same model with the controls: every layer with weights gets
    # kernel and bias penalties, the last an activity penalty
    sed -e 's/^\(add \(dense\|conv2d\) .*\)$/\1 kernel_regularizer=l2(1e-4) bias_regularizer=l2(1e-4)/' \
        -e 's/^\(add dense 10 softmax.*\)$/\1 activity_regularizer=l2(1e-6)/' \
        -e 's/^\(compile .*\)$/\1 clipnorm=1.0 learning_rate=exponential_decay(0.001,decay_steps=1000,decay_rate=0.9)/' \
        "$here/$wl.seq" >"$work/${wl}c.seq"
    for b in 32 128; do
        set -- -q --seed 1 --threads "$THREADS" -c "source '$here/$wl.seq'" \
            -c "fit '$work/x.npy' '$work/y.npy' epochs=1 batch_size=$b verbose=0"
        i=0
        # a fit of EPOCHS + 1 epochs minus a fit of 1: EPOCHS epochs,
        # without reading X (which both fits do once)
        while [ "$i" -lt "$REPS" ]; do
            for m in "$here/$wl.seq" "$work/${wl}c.seq"; do
                extra=
                [ "$m" = "$here/$wl.seq" ] || extra="class_weight=$cw"
                set -- "$@" -c "source '$m'" \
                    -c "time fit '$work/x.npy' '$work/y.npy' epochs=1 batch_size=$b verbose=0 $extra" \
                    -c "source '$m'" \
                    -c "time fit '$work/x.npy' '$work/y.npy' epochs=$((EPOCHS + 1)) batch_size=$b verbose=0 $extra"
            done
            i=$((i + 1))
        done
        "$SEQSH" "$@" >"$work/out" || { echo "controls: seqsh failed" >&2; exit 1; }
        # the times come as plain short, plain long, controls short, controls
        # long, rep after rep. An epoch: (long - short) / EPOCHS; the median
        # of the reps' epochs, and the fastest from the fastest fit of each
        # length (the least of the reps' differences would pick the noise)
        sed -n 's/^Time: \([0-9.]*\) ms$/\1/p' "$work/out" |
            awk -v wl="$wl" -v b="$b" -v e="$EPOCHS" '
            { t[NR % 4] = $1 }
            NR % 4 == 0 {
                n++; p[n] = (t[2] - t[1]) / e; c[n] = (t[0] - t[3]) / e
                if (n == 1 || t[1] < ps) ps = t[1]; if (n == 1 || t[2] < pl) pl = t[2]
                if (n == 1 || t[3] < cs) cs = t[3]; if (n == 1 || t[0] < cl) cl = t[0] }
            function median(a, n,   i, j, t) {
                for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (a[j] < a[i]) { t = a[i]; a[i] = a[j]; a[j] = t }
                return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2 }
            END { lp = (pl - ps) / e; lc = (cl - cs) / e; mp = median(p, n); mc = median(c, n)
                  printf "| %s | %d | %.1f | %.1f | %+.1f%% | %.1f | %.1f | %+.1f%% |\n", toupper(wl), b,
                         lp, lc, 100 * (lc - lp) / lp, mp, mc, 100 * (mc - mp) / mp }'
    done
done
echo "load average at the end $(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null)"
