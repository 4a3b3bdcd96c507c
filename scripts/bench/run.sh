#!/bin/sh
# seqsh's benchmark (`make bench`): W1-W3 of issue 6 and W4, W5 of issue 12 in seqsh and, where
# Debian's python3-torch is installed, in PyTorch in the same run; prints one
# Markdown table.  See scripts/bench/README.md.
#
#   SEQSH=./seqsh scripts/bench/run.sh
#
# Environment (all optional):
#   SEQSH               the seqsh to measure (default ./seqsh)
#   CC                  C compiler for the helpers (default cc)
#   BENCH_THREADS       thread counts (default "1 2"; "1" on a 1-CPU machine)
#   BENCH_REPS_W1       timed forward calls per W1 and W5 configuration (default 7)
#   BENCH_REPS_TRAIN    timed epochs per W2/W3/W4 configuration (default 3)
#   BENCH_WORKLOADS     subset of "w1 w2 w3 w4 w5" (default all five)
#   BENCH_TORCH         auto (default: if /usr/bin/python3 can import torch),
#                       0 (never), 1 (required: fail without it)
#   BENCH_INSTALL_TORCH 1: apt-get install python3-torch first if missing
#   BENCH_TIMEOUT       seconds one process may take (default 300)
#   BENCH_DEADLINE      seconds for the whole run (default 900); what is
#                       left when it passes is reported as skipped
#   TMPDIR              where the helpers and the data (~220 MB) go
set -u

here=$(cd "$(dirname "$0")" && pwd) || exit 2
SEQSH=${SEQSH:-./seqsh}
CC=${CC:-cc}
PY=/usr/bin/python3
REPS_W1=${BENCH_REPS_W1:-7}
REPS_TRAIN=${BENCH_REPS_TRAIN:-3}
WORKLOADS=${BENCH_WORKLOADS:-w1 w2 w3 w4 w5}
TORCH_MODE=${BENCH_TORCH:-auto}
TIMEOUT=${BENCH_TIMEOUT:-300}
DEADLINE=${BENCH_DEADLINE:-900}
ncpu=$(getconf _NPROCESSORS_ONLN 2>/dev/null || echo 1)
if [ "$ncpu" -ge 2 ]; then THREADS=${BENCH_THREADS:-1 2}; else THREADS=${BENCH_THREADS:-1}; fi

die() { echo "bench: $*" >&2; exit 2; }
say() { echo "bench: $*" >&2; }

# ---- what we need --------------------------------------------------------
case $SEQSH in */*) ;; *) SEQSH=./$SEQSH ;; esac
if [ ! -f "$SEQSH" ] || [ ! -x "$SEQSH" ]; then die "no seqsh at '$SEQSH' (build it first: make; or set SEQSH=path/to/seqsh)"; fi
SEQSH=$(cd "$(dirname "$SEQSH")" && pwd)/$(basename "$SEQSH")
seqsh_path=$SEQSH
# CC may carry flags ("gcc -std=gnu11"), so it is split on blanks
# shellcheck disable=SC2086
set -- $CC
command -v "${1:-cc}" >/dev/null 2>&1 || die "no C compiler '$CC' (apt-get install build-essential)"
for w in $WORKLOADS; do
    case $w in w1|w2|w3|w4|w5) [ -f "$here/$w.seq" ] || die "missing $here/$w.seq" ;;
    *) die "unknown workload '$w' in BENCH_WORKLOADS" ;; esac
done
for v in "$REPS_W1" "$REPS_TRAIN" "$TIMEOUT" "$DEADLINE"; do
    case $v in ''|*[!0-9]*|0) die "repetitions, BENCH_TIMEOUT and BENCH_DEADLINE must be positive integers" ;; esac
done

# seqsh and OpenBLAS decide their threads from --threads; torch from
# set_num_threads plus the two variables, set per run below.
unset OPENBLAS_NUM_THREADS GOTO_NUM_THREADS OMP_NUM_THREADS MKL_NUM_THREADS
SEQSH_HISTFILE=; export SEQSH_HISTFILE

work=$(mktemp -d "${TMPDIR:-/tmp}/seqsh-bench.XXXXXX") || die "mktemp failed"
trap 'rm -rf "$work"' EXIT
trap 'exit 129' HUP
trap 'exit 130' INT
trap 'exit 141' PIPE
trap 'exit 143' TERM
started=$(date +%s)
failed=0
# measure a private copy, so that a rebuild during the run changes nothing
cp "$seqsh_path" "$work/seqsh" || die "cannot copy $seqsh_path"
SEQSH=$work/seqsh

# ---- helpers in C --------------------------------------------------------
# shellcheck disable=SC2086
$CC -O2 -o "$work/runstat" "$here/runstat.c" || die "cannot compile runstat.c"
# shellcheck disable=SC2086
$CC -O2 -o "$work/gendata" "$here/gendata.c" || die "cannot compile gendata.c"
# shellcheck disable=SC2086
$CC -O2 -pthread -o "$work/membw" "$here/membw.c" || die "cannot compile membw.c"
flags=$(grep -m1 '^flags' /proc/cpuinfo 2>/dev/null)
peak_isa=
for isa in avx512 avx2 scalar; do
    case $isa in
    avx512) case " $flags " in *" avx512f "*) ;; *) continue ;; esac
            isaflags="-mavx512f -mfma" ;;
    avx2)   case " $flags " in *" avx2 "*) case " $flags " in *" fma "*) ;; *) continue ;; esac ;; *) continue ;; esac
            isaflags="-mavx2 -mfma" ;;
    scalar) isaflags= ;;
    esac
    # shellcheck disable=SC2086
    if $CC -O2 $isaflags -pthread -o "$work/fmapeak" "$here/fmapeak.c" 2>"$work/cc.err"; then
        peak_isa=$isa; break
    fi
done
[ -n "$peak_isa" ] || { cat "$work/cc.err" >&2; die "cannot compile fmapeak.c"; }

# bounded SECONDS CMD...: CMD with a time limit (stdout and stderr as they are)
bounded() { "$work/runstat" "$work/misc.stat" "$@" </dev/null; }
bounded 30 "$SEQSH" -q -c quit || die "$seqsh_path -c quit fails"

# run_bounded NAME CMD...: run CMD with stdout in $work/NAME.out, stderr in
# $work/NAME.err, wall time and max RSS appended to $work/NAME.stat; at most
# BENCH_TIMEOUT seconds and never past the deadline.  Returns CMD's status,
# 124 on a timeout, 125 when the deadline had already passed.
run_bounded() {
    name=$1; shift
    left=$((DEADLINE - ($(date +%s) - started)))
    if [ "$left" -le 0 ]; then
        say "deadline of ${DEADLINE}s reached: skipping $name"
        return 125
    fi
    lim=$TIMEOUT; [ "$left" -lt "$lim" ] && lim=$left
    "$work/runstat" "$work/$name.stat" "$lim" "$@" \
        <"/dev/null" >"$work/$name.out" 2>"$work/$name.err"
}

median() { sort -n | awk '{a[NR]=$1} END {
    if (NR == 0) { print "NA"; exit }
    if (NR % 2) print a[(NR+1)/2]; else printf "%.3f\n", (a[NR/2]+a[NR/2+1])/2 }'; }
range() { sort -n | awk 'NR==1{lo=$1} {hi=$1} END {if (NR) printf "%s-%s", lo, hi; else printf "NA"}'; }

# seqsh's "Time: X ms" lines, dropping the first SKIP of them
seq_times() { grep '^Time: ' "$work/$1.out" | sed 's/^Time: \([0-9.]*\) ms$/\1/' | tail -n "+$(($2 + 1))"; }
torch_times() { sed -n 's/^ms //p' "$work/$1.out"; }
rss_mb() { awk '{ if ($2 > m) m = $2 } END { if (NR) printf "%.0f MB", m/1024; else printf "NA" }' "$work/$1.stat" 2>/dev/null || printf NA; }

show_fail() { # NAME STATUS -> sets cell, the table's text for it
    failed=1
    case $2 in
    124) say "$1: stopped after ${TIMEOUT}s or at the deadline"; cell=TIMEOUT ;;
    125) cell=skipped ;;
    *) say "$1: failed (exit $2)"; tail -n 5 "$work/$1.err" >&2; cell=FAIL ;;
    esac
}

# ---- the machine ---------------------------------------------------------
cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo 2>/dev/null | head -n 1)
load=$(cut -d' ' -f1 /proc/loadavg 2>/dev/null || echo '?')
say "measuring the FMA peak ($peak_isa)"
peak_of() { # THREADS -> "cpu wall": best of 3 runs of 0.4 s, GFLOP/s
    for _ in 1 2 3; do "$work/fmapeak" "$1" 0.4 || return 1; done |
        awk '$3 > c { c = $3 } $4 > w { w = $4 } END { if (c) print c, w }'
}
for t in $THREADS; do
    p=$(peak_of "$t")
    [ -n "$p" ] || die "fmapeak failed"
    # shellcheck disable=SC2034  # read back through eval
    eval "peak_$t=\${p% *} peakwall_$t=\${p#* }"
done
case " $WORKLOADS " in *" w5 "*)
    say "measuring the memory bandwidth (membw.c, STREAM copy)"
    for t in $THREADS; do
        bw=$("$work/membw" "$t" | awk '{ print $3 }')
        [ -n "$bw" ] || die "membw failed"
        # shellcheck disable=SC2034  # read back through eval
        eval "membw_$t=\$bw"
    done ;;
esac

# ---- PyTorch? ------------------------------------------------------------
torch_ok=0
if [ "$TORCH_MODE" != 0 ]; then
    if ! bounded 120 "$PY" -c 'import torch' >/dev/null 2>&1 && [ "${BENCH_INSTALL_TORCH:-0}" = 1 ]; then
        say "installing python3-torch (BENCH_INSTALL_TORCH=1)"
        if [ "$(id -u)" = 0 ]; then apt-get install -y python3-torch >&2
        else sudo -n apt-get install -y python3-torch >&2; fi
    fi
    if [ -x "$PY" ] && bounded 120 "$PY" -c 'import torch, numpy' >/dev/null 2>&1; then
        torch_ok=1
        torch_ver=$(bounded 120 "$PY" -c 'import torch; print(torch.__version__, "oneDNN" if torch.backends.mkldnn.is_available() else "no oneDNN")')
    elif [ "$TORCH_MODE" = 1 ]; then
        die "BENCH_TORCH=1 but $PY cannot import torch and numpy (apt-get install python3-torch)"
    fi
fi

# ---- FLOP per sample, from seqsh's own summary ---------------------------
# For Conv2D and Dense (with bias), MACs = (outputs / filters) * (params -
# filters).  Forward = 2*MACs; a training step adds the weight gradients
# (2*MACs) and the input gradients (2*MACs) of every layer but the first.
flops() { # WORKLOAD -> "forward_flop training_flop" per sample
    bounded 60 "$SEQSH" -q -c "source '$here/$1.seq'" -c summary 2>/dev/null | awk '
        /\(None(, [0-9]+)+\)/ && $NF ~ /^[0-9]+$/ && $NF > 0 {
            s = $0; sub(/.*\(None, /, "", s); sub(/\).*/, "", s)
            n = split(s, d, ", "); outer = 1
            for (i = 1; i < n; i++) outer *= d[i]
            m = outer * ($NF - d[n]); tot += m; if (!first) first = m
        }
        END { if (tot) printf "%.0f %.0f\n", 2*tot, 2*(3*tot - first) }'
}

# ---- start-up ------------------------------------------------------------
say "start-up: seqsh -c quit, 20 times"
: >"$work/startup.stat"
i=0
while [ "$i" -lt 20 ]; do
    run_bounded startup "$SEQSH" -c quit || { show_fail startup $?; break; }
    i=$((i + 1))
done
startup_ms=$(awk '{print $1}' "$work/startup.stat" | median)
seqsh_info=$(bounded 30 "$SEQSH" -q -c info 2>&1 | tr '\n' ' ')

# ---- one table row -------------------------------------------------------
rows=
details=
# row WORKLOAD CONFIG THREADS FLOP SEQSH_MS SEQSH_RSS TORCH_MS TORCH_RSS
row() {
    r=$(awk -v w="$1" -v c="$2" -v flop="$4" -v sm="$5" -v srss="$6" \
            -v tm="$7" -v trss="$8" -v peak="$(eval echo "\${peak_$3:-0}")" '
        function num(x) { return x ~ /^[0-9.]+$/ }
        BEGIN {
            g = num(sm) ? flop / (sm / 1e3) / 1e9 : -1
            tg = num(tm) ? flop / (tm / 1e3) / 1e9 : -1
            printf "| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", w, c,
                (num(sm) ? sprintf("%.1f", sm) : sm),
                (g >= 0 ? sprintf("%.1f", g) : "-"),
                ((g >= 0 && peak > 0) ? sprintf("%.0f%%", 100 * g / peak) : "-"),
                srss,
                (num(tm) ? sprintf("%.1f", tm) : tm),
                ((tg >= 0 && peak > 0) ? sprintf("%.0f%%", 100 * tg / peak) : "-"),
                trss,
                ((num(sm) && num(tm)) ? sprintf("%.2f", sm / tm) : "-"),
                ((num(sm) && num(tm)) ? sprintf("%.2fx", tm / sm) : "-")
        }')
    rows="$rows$r
"
}

torch_run() { # NAME THREADS ARGS... -> sets tms, trss
    tname=$1; tt=$2; shift 2
    tms=-; trss=-
    [ "$torch_ok" = 1 ] || return 0
    if run_bounded "$tname" env OMP_NUM_THREADS="$tt" OPENBLAS_NUM_THREADS="$tt" \
            "$PY" "$here/torch_bench.py" "$@"; then
        tms=$(torch_times "$tname" | median)
        trss=$(sed -n 's/^rss_kb //p' "$work/$tname.out" | awk '{printf "%.0f MB", $1/1024}')
        details="$details  $tname: torch ms $(torch_times "$tname" | range)
"
    else
        show_fail "$tname" $?; tms=$cell
    fi
}

# ---- W1: forward ---------------------------------------------------------
w1() {
    # shellcheck disable=SC2046
    set -- $(flops w1)
    fl=${1:-0}
    [ "$fl" -gt 0 ] 2>/dev/null || { say "w1: cannot read the model's shapes"; failed=1; return; }
    w1_gflop=$(awk -v f="$fl" 'BEGIN { printf "%.4f", f / 1e9 }')
    say "W1: $w1_gflop GFLOP per image (2*MACs from seqsh's summary)"
    # What `time call ones B 250 250 3` costs besides the network: making
    # the input (B x 750 KB, fresh pages) and printing the result; measured
    # with a one-layer model (GlobalMaxPooling2D, one read of the input).
    set -- -q --threads 1 -c "model probe; input 250 250 3; add globalmaxpool2d"
    for b in 1 32; do
        i=0
        while [ "$i" -le "$REPS_W1" ]; do set -- "$@" -c "time call ones $b 250 250 3"; i=$((i + 1)); done
    done
    w1_overhead=
    if run_bounded w1_overhead "$SEQSH" "$@"; then
        w1_overhead=$(for b in 1 32; do
            k=$(( (b == 1 ? 0 : 1) * (REPS_W1 + 1) ))
            seq_times w1_overhead "$k" | head -n "$((REPS_W1 + 1))" | tail -n "$REPS_W1" | median
        done | tr '\n' ' ' | awk '{ printf "%.2f ms at batch 1, %.1f ms at batch 32", $1, $2 }')
    else
        show_fail w1_overhead $?
    fi
    for b in 1 32; do
        for t in $THREADS; do
            name=w1_b${b}_t$t
            say "W1 batch $b, $t thread(s)"
            set -- -q --seed 1 --threads "$t" -c "source '$here/w1.seq'" -c "call ones $b 250 250 3"
            i=0
            while [ "$i" -lt "$REPS_W1" ]; do set -- "$@" -c "time call ones $b 250 250 3"; i=$((i + 1)); done
            if run_bounded "$name" "$SEQSH" "$@"; then
                sms=$(seq_times "$name" 0 | median); srss=$(rss_mb "$name")
                details="$details  $name: seqsh ms $(seq_times "$name" 0 | range)
"
            else
                show_fail "$name" $?; sms=$cell; srss=-
            fi
            torch_run "torch_$name" "$t" w1 "$t" "$b" "$REPS_W1"
            row W1 "batch $b, $t thr" "$t" "$(awk -v f="$fl" -v b="$b" 'BEGIN { printf "%.0f", f * b }')" \
                "$sms" "$srss" "$tms" "$trss"
        done
    done
}

# ---- W5: a MobileNet-style stack, forward --------------------------------
# As W1, with `call ones B 224 224 3`.  Besides GFLOP/s, the bytes a layer
# must at least move (its input, its output and its weights, 4 bytes each,
# from seqsh's summary) per second, against the machine's memory bandwidth
# (membw.c): depthwise convolution does little arithmetic per byte.
traffic() { # WORKLOAD INPUT_ELEMENTS -> "model_bytes depthwise_bytes" per sample
    bounded 60 "$SEQSH" -q -c "source '$here/$1.seq'" -c summary 2>/dev/null | awk -v prev="$2" '
        /\(None(, [0-9]+)+\)/ && $NF ~ /^[0-9]+$/ {
            s = $0; sub(/.*\(None, /, "", s); sub(/\).*/, "", s)
            n = split(s, d, ", "); out = 1
            for (i = 1; i <= n; i++) out *= d[i]
            b = 4 * (prev + out + $NF); tot += b
            if ($1 ~ /^depthwise_conv2d/) dw += b
            prev = out
        }
        END { if (tot) printf "%.0f %.0f\n", tot, dw }'
}

w5rows=
w5() {
    # shellcheck disable=SC2046
    set -- $(flops w5)
    fl=${1:-0}
    [ "$fl" -gt 0 ] 2>/dev/null || { say "w5: cannot read the model's shapes"; failed=1; return; }
    # shellcheck disable=SC2046
    set -- $(traffic w5 $((224 * 224 * 3)))
    w5_bytes=${1:-0}; w5_dwbytes=${2:-0}
    w5_gflop=$(awk -v f="$fl" 'BEGIN { printf "%.4f", f / 1e9 }')
    say "W5: $w5_gflop GFLOP and $(awk -v b="$w5_bytes" 'BEGIN { printf "%.1f", b / 1e6 }') MB moved per image"
    # what `time call ones B 224 224 3` costs besides the network: making the
    # input and printing a (B, 28, 28, 256) result, measured with a 1x1
    # Conv2D of stride 8 that makes that shape from the input
    set -- -q --threads 1 -c "model probe; input 224 224 3; add conv2d 256 1 strides=8"
    for b in 1 32; do
        i=0
        while [ "$i" -le "$REPS_W1" ]; do set -- "$@" -c "time call ones $b 224 224 3"; i=$((i + 1)); done
    done
    w5_overhead=
    if run_bounded w5_overhead "$SEQSH" "$@"; then
        w5_overhead=$(for b in 1 32; do
            k=$(( (b == 1 ? 0 : 1) * (REPS_W1 + 1) ))
            seq_times w5_overhead "$k" | head -n "$((REPS_W1 + 1))" | tail -n "$REPS_W1" | median
        done | tr '\n' ' ' | awk '{ printf "%.2f ms at batch 1, %.1f ms at batch 32", $1, $2 }')
    else
        show_fail w5_overhead $?
    fi
    for b in 1 32; do
        for t in $THREADS; do
            name=w5_b${b}_t$t
            say "W5 batch $b, $t thread(s)"
            set -- -q --seed 1 --threads "$t" -c "source '$here/w5.seq'" -c "call ones $b 224 224 3"
            i=0
            while [ "$i" -lt "$REPS_W1" ]; do set -- "$@" -c "time call ones $b 224 224 3"; i=$((i + 1)); done
            if run_bounded "$name" "$SEQSH" "$@"; then
                sms=$(seq_times "$name" 0 | median); srss=$(rss_mb "$name")
                details="$details  $name: seqsh ms $(seq_times "$name" 0 | range)
"
            else
                show_fail "$name" $?; sms=$cell; srss=-
            fi
            torch_run "torch_$name" "$t" w5 "$t" "$b" "$REPS_W1"
            # (run_bounded has set name to torch_run's; tname is it)
            if [ "$torch_ok" = 1 ] && [ -f "$work/$tname.out" ]; then
                details="$details  $tname: timed $(sed -n 's/^variant //p' "$work/$tname.out")
"
            fi
            row W5 "batch $b, $t thr" "$t" "$(awk -v f="$fl" -v b="$b" 'BEGIN { printf "%.0f", f * b }')" \
                "$sms" "$srss" "$tms" "$trss"
            r=$(awk -v by="$w5_bytes" -v dw="$w5_dwbytes" -v b="$b" -v sm="$sms" -v tm="$tms" \
                    -v bw="$(eval echo "\${membw_$t:-0}")" -v c="batch $b, $t thr" '
                function num(x) { return x ~ /^[0-9.]+$/ }
                BEGIN {
                    s = num(sm) ? by * b / (sm / 1e3) / 1e9 : -1
                    u = num(tm) ? by * b / (tm / 1e3) / 1e9 : -1
                    printf "| W5 | %s | %.1f MB | %s | %s | %s | %s | %s |\n", c, by * b / 1e6,
                        (s >= 0 ? sprintf("%.1f", s) : "-"),
                        ((s >= 0 && bw > 0) ? sprintf("%.0f%%", 100 * s / bw) : "-"),
                        (u >= 0 ? sprintf("%.1f", u) : "-"),
                        ((u >= 0 && bw > 0) ? sprintf("%.0f%%", 100 * u / bw) : "-"),
                        (bw > 0 ? sprintf("%.1f", bw) : "-")
                }')
            w5rows="$w5rows$r
"
        done
    done
}

# ---- W2, W3: one training epoch ------------------------------------------
# W4's FLOP per training sample: the LSTM's 4*units*(d + units) MACs per
# step over 80 steps (T=80, d=64, units=64) and the Dense's 64, 2*MACs
# forward, three times for a training step (forward, weight gradients, input
# gradients: the Embedding below needs the LSTM's); the Embedding's lookup
# and scatter are not counted.
w4_flops() { awk 'BEGIN { printf "%.0f\n", 3 * 2 * (80 * 4 * 64 * (64 + 64) + 64) }'; }

# ---- W2, W3, W4: one training epoch --------------------------------------
# seqsh's `time fit X.npy Y.npy epochs=1 ...` also reads X.npy (Y is small).
# PyTorch's loop starts from arrays already in memory, so the read is timed
# on its own right before each fit, in the same process, as `time call
# X.npy` on a layer-less model (it reads and holds X as the fit does, so it
# does not raise the peak RSS), and subtracted from that fit: epoch_i =
# fit_i - read_i; the table shows the median epoch.  Each rep rebuilds the
# model from the .seq (fresh weights, fresh Adam state).  Warm-up on both
# sides: one pass over a 2048-sample set with the same batch size.
train() { # WORKLOAD N "BATCHES" "GENDATA_FLAGS" SHAPE...
    wl=$1; n=$2; batches=$3; genflags=$4; shift 4
    shape=$*
    if [ "$wl" = w4 ]; then
        fl=$(w4_flops)
    else
        # shellcheck disable=SC2046
        set -- $(flops "$wl")
        fl=${2:-0}
    fi
    [ "$fl" -gt 0 ] 2>/dev/null || { say "$wl: cannot read the model's shapes"; failed=1; return; }
    say "$wl: generating $n samples of ($shape)"
    x=$work/${wl}_x.npy; y=$work/${wl}_y.npy
    xw=$work/${wl}_xw.npy; yw=$work/${wl}_yw.npy
    # shellcheck disable=SC2086
    { "$work/gendata" $genflags "$x" "$y" "$n" $shape &&
      "$work/gendata" $genflags "$xw" "$yw" 2048 $shape; } ||
        die "gendata failed (disk full? TMPDIR=${TMPDIR:-/tmp})"
    WL=$(echo "$wl" | tr 'w' 'W')
    for b in $batches; do
        for t in $THREADS; do
            name=${wl}_b${b}_t$t
            say "$WL batch $b, $t thread(s)"
            set -- -q --seed 1 --threads "$t" -c "source '$here/$wl.seq'" \
                -c "fit '$xw' '$yw' epochs=1 batch_size=$b verbose=0"
            i=0
            while [ "$i" -lt "$REPS_TRAIN" ]; do
                set -- "$@" -c "model probe; input $shape" -c "time call '$x'" \
                    -c "source '$here/$wl.seq'" \
                    -c "time fit '$x' '$y' epochs=1 batch_size=$b verbose=0"
                i=$((i + 1))
            done
            if run_bounded "$name" "$SEQSH" "$@"; then
                seq_times "$name" 0 | awk 'NR % 2 { r = $1; next } { print $1, r, $1 - r }' >"$work/$name.ep"
                sms=$(awk '{ print $3 }' "$work/$name.ep" | median); srss=$(rss_mb "$name")
                details="$details  $name: seqsh epoch ms $(awk '{ print $3 }' "$work/$name.ep" | range) = fit $(awk '{ print $1 }' "$work/$name.ep" | range) - read X $(awk '{ print $2 }' "$work/$name.ep" | range)
"
                if awk '$3 <= 0 { bad = 1 } END { exit !bad }' "$work/$name.ep"; then
                    say "$name: reading X took longer than the whole fit: is the machine busy?"
                    failed=1
                fi
            else
                show_fail "$name" $?; sms=$cell; srss=-
            fi
            torch_run "torch_$name" "$t" "$wl" "$t" "$b" "$REPS_TRAIN" "$x" "$y"
            row "$WL" "batch $b, $t thr" "$t" "$(awk -v f="$fl" -v n="$n" 'BEGIN { printf "%.0f", f * n }')" \
                "$sms" "$srss" "$tms" "$trss"
        done
    done
    rm -f "$x" "$y" "$xw" "$yw"
}

for w in $WORKLOADS; do
    case $w in
    w1) w1 ;;
    w2) train w2 60000 "32 128" "" 784 ;;
    w3) train w3 10000 "32 128" "" 28 28 1 ;;
    w4) train w4 8192 64 "-ids 10000 -classes 2" 80 ;;
    w5) w5 ;;
    esac
done

# ---- report --------------------------------------------------------------
elapsed=$(($(date +%s) - started))
echo "seqsh benchmark, $(date -u '+%Y-%m-%d %H:%M UTC'), $(uname -m) '$cpu', $ncpu CPUs, load average at start $load"
echo "command: make bench (SEQSH=$seqsh_path sh scripts/bench/run.sh)"
echo "seqsh: $seqsh_info"
if [ "$torch_ok" = 1 ]; then echo "PyTorch: $torch_ver ($PY, scripts/bench/torch_bench.py)"
else echo "PyTorch: not measured (needs Debian's python3-torch; BENCH_INSTALL_TORCH=1 installs it)"; fi
for t in $THREADS; do
    printf 'FMA peak, %s thread(s): %s GFLOP/s per CPU-second (%s wall-clock; %s, fmapeak.c, best of 3)\n' \
        "$t" "$(eval echo "\$peak_$t")" "$(eval echo "\$peakwall_$t")" "$peak_isa"
done
echo "start-up, seqsh -c quit: $startup_ms ms (median of 20, wall time)"
for t in $THREADS; do
    bw=$(eval echo "\${membw_$t:-}")
    [ -n "$bw" ] && printf 'memory bandwidth, %s thread(s): %s GB/s (membw.c: STREAM copy of 128 MB arrays, best of 5)\n' "$t" "$bw"
done
if awk -v l="$load" -v n="$ncpu" 'BEGIN { exit !(l + 0 > 0.25 * n) }'; then
    echo "WARNING: the machine was busy (load average $load on $ncpu CPUs): other processes share the cores and"
    echo "the numbers, 2-thread ones above all, are not reliable.  Run again on an idle machine."
fi
echo
echo "| workload | config | seqsh ms | GFLOP/s | % peak | seqsh RSS | torch ms | torch % peak | torch RSS | seqsh/torch | speedup |"
echo "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
printf '%s' "$rows"
echo
echo "ms: median; W1 and W5 of $REPS_W1 forward calls after one warm-up call (\`time call ones B 250 250 3\`, W5 224 224 3),"
[ -n "${w1_overhead:-}" ] && echo "  which includes making the input and printing the output: W1 $w1_overhead (not subtracted),"
[ -n "${w5_overhead:-}" ] && echo "  W5 $w5_overhead (not subtracted),"
echo "W2/W3/W4 of $REPS_TRAIN one-epoch fits (W2 60,000 samples, W3 10,000, W4 8,192 sequences of 80 ids)"
echo "after a warm-up pass over 2048 samples;"
echo "seqsh's \`time fit X.npy Y.npy\` includes reading X.npy, timed just before each fit (\`time call X.npy\`"
echo "on a layer-less model) and subtracted (the ranges below show both)."
echo "GFLOP/s: 2*MACs of Conv2D/DepthwiseConv2D/Dense from the shapes${w1_gflop:+ (W1: $w1_gflop GFLOP per image)}${w5_gflop:+ (W5: $w5_gflop)}; training counts forward, weight and"
echo "input gradients (3x forward, minus the first layer's input gradient); pooling, loss and optimizer not counted."
echo "W4: the LSTM's 4*units*(d+units) MACs per step (and the Dense's), 3x forward for training (the Embedding"
echo "below the LSTM needs its input gradient); the Embedding's lookup and scatter not counted."
echo "% peak: of the FMA peak for that many threads.  RSS: the process's max resident set (wait4 rusage, as"
echo "/usr/bin/time -f %M); torch's includes the Python interpreter and libtorch.  seqsh/torch: time ratio"
echo "(below 1: seqsh faster); speedup: torch ms / seqsh ms.  Threads: seqsh --threads N; torch"
echo "set_num_threads(N) with OMP_NUM_THREADS=OPENBLAS_NUM_THREADS=N.  Nothing pinned.  Whole run: ${elapsed}s."
if [ -n "$w5rows" ]; then
    echo
    echo "W5's memory traffic: what its layers must at least read and write (input, output and weights of"
    echo "each layer, 4 bytes a value; the depthwise layers' share: $(awk -v b="${w5_dwbytes:-0}" -v a="${w5_bytes:-1}" 'BEGIN { printf "%.1f MB of %.1f MB", b / 1e6, a / 1e6 }') per image)"
    echo "per second of the time above, against the machine's memory bandwidth (STREAM copy, same threads):"
    echo
    echo "| workload | config | moved | seqsh GB/s | % of bandwidth | torch GB/s | torch % | bandwidth GB/s |"
    echo "|---|---|---:|---:|---:|---:|---:|---:|"
    printf '%s' "$w5rows"
fi
echo "ranges (min-max, ms):"
printf '%s' "$details"
if [ $failed != 0 ]; then
    say "some measurements failed (see above)"
    exit 1
fi
exit 0
