#!/bin/sh
# seqsh's benchmark (`make bench`): W1-W5 timed as a user runs them, in
# seqsh and, in the same interleaved rounds, in PyTorch (tuned and untuned)
# and onnxruntime; prints Markdown tables.  See scripts/bench/README.md.
#
#   SEQSH=./seqsh scripts/bench/run.sh
#
# Environment (all optional; the README has the table):
#   SEQSH                the seqsh to measure (default ./seqsh)
#   CC                   C compiler for the helpers (default cc)
#   BENCH_WORKLOADS      subset of "w1 w2 w3 w4 w5" (default all five)
#   BENCH_THREADS        thread counts (default "1 2"; "1" on a 1-CPU machine)
#   BENCH_ROUNDS         interleaved rounds per configuration (default 3)
#   BENCH_REPS           timed forward calls per W1/W5 process (default 5)
#   BENCH_TORCH          auto (default), 0 (never), 1 (required)
#   BENCH_TORCH_UNTUNED  rounds of untuned PyTorch (default 1; 0: none)
#   BENCH_ORT            auto (default), 0 (never), 1 (required)
#   BENCH_ORT_DIR        folder whose node_modules holds onnxruntime-node
#   BENCH_INSTALL_ORT    1: npm install onnxruntime-node into BENCH_ORT_DIR
#   BENCH_INSTALL_TORCH  1: apt-get install python3-torch first if missing
#   BENCH_TIMEOUT        seconds one process may take (default 300)
#   BENCH_DEADLINE       seconds for the whole run (default 2400)
#   TMPDIR               where the helpers and the data (~220 MB) go
set -u

here=$(cd "$(dirname "$0")" && pwd) || exit 2
top=$(cd "$here/../.." && pwd) || exit 2
SEQSH=${SEQSH:-./seqsh}
CC=${CC:-cc}
PY=/usr/bin/python3
ORT_VERSION=1.30.0
WORKLOADS=${BENCH_WORKLOADS:-w1 w2 w3 w4 w5}
ROUNDS=${BENCH_ROUNDS:-3}
REPS=${BENCH_REPS:-5}
TORCH_MODE=${BENCH_TORCH:-auto}
UNTUNED_ROUNDS=${BENCH_TORCH_UNTUNED:-1}
ORT_MODE=${BENCH_ORT:-auto}
ORT_DIR=${BENCH_ORT_DIR:-$(pwd)/scripts/bench/node}
TIMEOUT=${BENCH_TIMEOUT:-300}
DEADLINE=${BENCH_DEADLINE:-2400}
ncpu=$(getconf _NPROCESSORS_ONLN 2>/dev/null || echo 1)
if [ "$ncpu" -ge 2 ]; then THREADS=${BENCH_THREADS:-1 2}; else THREADS=${BENCH_THREADS:-1}; fi

die() { echo "bench: $*" >&2; exit 2; }

say() { echo "bench: $*" >&2; }

# the CPUs this run may use, as many as the most threads (taskset, from
# util-linux): W1 batch 1 also runs one thread pinned to each of them
pin_cpus=
pinned=
pin_top=$(echo "$THREADS" | tr ' ' '\n' | sort -n | tail -n 1)
if [ "${pin_top:-1}" -ge 2 ] 2>/dev/null && command -v taskset >/dev/null 2>&1; then
    pin_cpus=$(taskset -cp $$ 2>/dev/null | sed 's/.*: *//' | tr ',' '\n' |
        awk -F- 'NF == 2 { for (i = $1; i <= $2; i++) print i; next } NF == 1 { print $1 }' |
        head -n "$pin_top" | tr '\n' ' ' | sed 's/ $//')
    [ "$(echo "$pin_cpus" | wc -w)" -eq "$pin_top" ] || pin_cpus=
fi

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
for v in "$ROUNDS" "$REPS" "$TIMEOUT" "$DEADLINE"; do
    case $v in ''|*[!0-9]*|0) die "BENCH_ROUNDS, BENCH_REPS, BENCH_TIMEOUT and BENCH_DEADLINE must be positive integers" ;; esac
done
case $UNTUNED_ROUNDS in ''|*[!0-9]*) die "BENCH_TORCH_UNTUNED must be a number of rounds" ;; esac
[ "$UNTUNED_ROUNDS" -gt "$ROUNDS" ] && UNTUNED_ROUNDS=$ROUNDS

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
# the pool probe is built from the engine's own thread pool
poolcost=
if [ -f "$top/engine/kernels/threads.c" ]; then
    # shellcheck disable=SC2086
    $CC -O2 -pthread -I"$top/engine" -o "$work/poolcost" "$here/poolcost.c" \
        "$top/engine/kernels/threads.c" && poolcost=$work/poolcost
fi
# OpenBLAS alone on W2's training GEMMs, for the AVX2-versus-AVX-512 table
gemmshapes=
# shellcheck disable=SC2086
$CC -O2 -I "$here/../../engine" -o "$work/gemmshapes" "$here/gemmshapes.c" \
    "$here/../../engine/kernels/gemm_z.c" -lopenblas 2>/dev/null && gemmshapes=$work/gemmshapes
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

# run_bounded NAME CMD...: run CMD with stdout appended to $work/NAME.out,
# stderr to $work/NAME.err, "wall_ms rss_kb faults" appended to
# $work/NAME.stat; at most BENCH_TIMEOUT seconds and never past the
# deadline.  Returns CMD's status, 124 on a timeout, 125 when the deadline
# had already passed.
# (POSIX sh has no local variables: each function's own start with its
# initials)
run_bounded() {
    rb_name=$1; shift
    rb_left=$((DEADLINE - ($(date +%s) - started)))
    if [ "$rb_left" -le 0 ]; then
        say "deadline of ${DEADLINE}s reached: skipping $rb_name"
        return 125
    fi
    rb_lim=$TIMEOUT; [ "$rb_left" -lt "$rb_lim" ] && rb_lim=$rb_left
    "$work/runstat" "$work/$rb_name.stat" "$rb_lim" "$@" \
        <"/dev/null" >>"$work/$rb_name.out" 2>>"$work/$rb_name.err"
}

median() { sort -n | awk '{a[NR]=$1} END {
    if (NR == 0) { print "NA"; exit }
    if (NR % 2) print a[(NR+1)/2]; else printf "%.3f\n", (a[NR/2]+a[NR/2+1])/2 }'; }
minimum() { sort -n | head -n 1 | awk '{print} END {if (!NR) print "NA"}'; }
range() { sort -n | awk 'NR==1{lo=$1} {hi=$1} END {if (NR) printf "%s-%s", lo, hi; else printf "NA"}'; }
loadavg() { cut -d' ' -f1 /proc/loadavg 2>/dev/null || echo '?'; }

# seqsh's "Time: X ms" lines
seq_times() { sed -n 's/^Time: \([0-9.]*\) ms$/\1/p' "$work/$1.out"; }
peer_times() { [ -f "$work/$1.out" ] && sed -n "s/^${2:-ms} //p" "$work/$1.out"; }
rss_mb() { awk '{ if ($2 > m) m = $2 } END { if (NR) printf "%.0f MB", m/1024; else printf "-" }' "$work/$1.stat" 2>/dev/null || printf -; }
faults() { awk '{ print $3 }' "$work/$1.stat" 2>/dev/null | median; }

# shellcheck disable=SC2034  # cell is read back through eval
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
load_start=$(loadavg)
say "measuring the FMA peak ($peak_isa)"
peak_of() { # THREADS -> "cpu wall": best of 3 runs of 0.4 s, GFLOP/s
    for _ in 1 2 3; do "$work/fmapeak" "$1" 0.4 || return 1; done |
        awk '$3 > c { c = $3 } $4 > w { w = $4 } END { if (c) print c, w }'
}
peak_note=
for t in $THREADS; do
    p=$(peak_of "$t")
    [ -n "$p" ] || die "fmapeak failed"
    # t threads must reach near t times one thread's peak: when they do
    # not, a core was taken (another process, the hypervisor); measure
    # again, and in the end take t times the one-thread peak, saying so
    if [ "$t" -gt 1 ] && [ -n "${peak_1:-}" ]; then
        tries=0
        while [ "$tries" -lt 3 ] && awk -v p="${p% *}" -v o="$peak_1" -v t="$t" 'BEGIN { exit !(p < 0.8 * t * o) }'; do
            sleep 2
            p=$(peak_of "$t") || p=
            [ -n "$p" ] || die "fmapeak failed"
            tries=$((tries + 1))
        done
        if awk -v p="${p% *}" -v o="$peak_1" -v t="$t" 'BEGIN { exit !(p < 0.8 * t * o) }'; then
            peak_note="$peak_note
NOTE: the FMA peak on $t threads measured ${p% *} GFLOP/s, under 0.8 x $t x the one-thread peak, four times: a core was busy; % peak for $t threads uses $t x the one-thread peak."
            p="$(awk -v o="$peak_1" -v t="$t" 'BEGIN { printf "%.1f", o * t }') ${p#* }"
        fi
    fi
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
# what one parallel region of the pool costs (poolcost.c), at the start
pool_lines=
if [ -n "$poolcost" ]; then
    say "measuring the thread pool's region cost (poolcost.c)"
    for t in $THREADS; do
        [ "$t" -gt 1 ] || continue
        pool_lines="$pool_lines$(bounded 120 "$poolcost" "$t" 2>&1) (load $(loadavg))
"
    done
fi

# W2's GEMMs: OpenBLAS in the kernel it picks itself (OPENBLAS_CORETYPE
# unset) and, on an AVX-512 CPU, in the AVX2 one (Haswell) that
# OPENBLAS_CORETYPE can force, and seqsh's own AVX-512 product, which seqsh
# runs them on there; three interleaved rounds, the best of each
gemm_rows=
if [ -n "$gemmshapes" ]; then
    say "measuring W2's GEMM shapes (gemmshapes.c)"
    cores=default
    case " $flags " in *" avx512f "*) cores="default Haswell seqsh" ;; esac
    for _ in 1 2 3; do
        for core in $cores; do
            case $core in
            default) bounded 120 env -u OPENBLAS_CORETYPE "$gemmshapes" 0.2 ;;
            seqsh) bounded 120 "$gemmshapes" 0.2 seqsh ;;
            *) OPENBLAS_CORETYPE=$core bounded 120 "$gemmshapes" 0.2 ;;
            esac
        done
    done >"$work/gemm.out" 2>/dev/null
    gemm_rows=$(awk '
        { n = NF; key = $3; for (i = 4; i < n; i++) key = key " " $i
          if (!(key in seen)) { seen[key] = 1; order[++k] = key }
          core[$2] = 1; if ($n > best[$2, key]) best[$2, key] = $n }
        END {
            for (c in core) if (c != "Haswell" && c != "seqsh") d = c
            for (i = 1; i <= k; i++) {
                a = best[d, order[i]]; h = best["Haswell", order[i]]; q = best["seqsh", order[i]]
                printf "| %s | %s | %s | %s | %s | %s |\n", order[i], a, (h ? h : "-"),
                    (h && a ? sprintf("%.2f", h / a) : "-"), (q ? q : "-"),
                    (q && a ? sprintf("%.2f", q / a) : "-")
            }
            printf "kernels: %s (OpenBLAS'"'"'s own choice), Haswell and seqsh'"'"'s product\n", d > "/dev/stderr"
        }' "$work/gemm.out" 2>"$work/gemm.kernels")
fi

# ---- the peers -------------------------------------------------------------
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
# PyTorch tuned as a careful user would: OpenMP threads that sleep when
# idle, and glibc's malloc keeping freed memory (no mmap per big tensor, no
# trimming) in transparent huge pages, so big tensors are not re-faulted
TORCH_TUNED_ENV="OMP_WAIT_POLICY=PASSIVE GLIBC_TUNABLES=glibc.malloc.mmap_max=0:glibc.malloc.trim_threshold=68719476736:glibc.malloc.hugetlb=1"

ort_ok=0
if [ "$ORT_MODE" != 0 ] && command -v node >/dev/null 2>&1; then
    if [ ! -d "$ORT_DIR/node_modules/onnxruntime-node" ] && [ "${BENCH_INSTALL_ORT:-0}" = 1 ]; then
        say "installing onnxruntime-node@$ORT_VERSION into $ORT_DIR (BENCH_INSTALL_ORT=1)"
        mkdir -p "$ORT_DIR" || die "cannot make $ORT_DIR"
        # onnxruntime-node ships its CPU binaries; only CUDA ones are downloaded
        if ! ONNXRUNTIME_NODE_INSTALL=skip npm install --prefix "$ORT_DIR" --no-audit --no-fund \
                --no-save "onnxruntime-node@$ORT_VERSION" >"$work/npm.log" 2>&1; then
            cat "$work/npm.log" >&2; die "npm install onnxruntime-node failed"
        fi
    fi
    for d in "$ORT_DIR" "$(pwd)/tests/interop/node"; do
        if [ -d "$d/node_modules/onnxruntime-node" ] &&
           NODE_PATH="$d/node_modules" bounded 60 node -e 'require("onnxruntime-node")' >/dev/null 2>&1; then
            ort_ok=1; ORT_NODE_PATH=$d/node_modules
            ort_ver=$(sed -n 's/^ *"version": *"\([^"]*\)".*/\1/p' "$d/node_modules/onnxruntime-node/package.json" | head -n 1)
            break
        fi
    done
fi
if [ "$ort_ok" = 0 ] && [ "$ORT_MODE" = 1 ]; then
    die "BENCH_ORT=1 but onnxruntime-node is not in $ORT_DIR (make bench BENCH_INSTALL_ORT=1 installs it)"
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
i=0
while [ "$i" -lt 20 ]; do
    run_bounded startup "$SEQSH" -c quit || { show_fail startup $?; break; }
    i=$((i + 1))
done
startup_ms=$(awk '{print $1}' "$work/startup.stat" | median)
seqsh_info=$(bounded 30 "$SEQSH" -q -c info 2>&1 | tr '\n' ' ')

# ---- one configuration ---------------------------------------------------
# Each configuration runs ROUNDS interleaved rounds; a round runs seqsh,
# then tuned PyTorch, untuned PyTorch (its first UNTUNED_ROUNDS rounds) and
# onnxruntime (forward workloads), each as its own process doing a warm-up
# and its timed repetitions.  The table gives min and median over all the
# repetitions of all rounds; the load average is read before each round.
rows=
short_rows=
details=
# stats NAME KIND -> "min median" of the times in NAME.out
stats() {
    if [ -f "$work/$1.times" ]; then cat "$work/$1.times"
    elif [ "$2" = seq ]; then seq_times "$1"; else peer_times "$1"; fi >"$work/$1.t"
    [ -s "$work/$1.t" ] || { echo "- -"; return; }
    echo "$(minimum <"$work/$1.t") $(median <"$work/$1.t")"
}

# row WORKLOAD CONFIG THREADS FLOP NAME: the table row of configuration NAME
row() {
    rw_wl=$1; rw_cfg=$2; rw_t=$3; rw_flop=$4; nm=$5
    # shellcheck disable=SC2046  # two words
    set -- $(stats "$nm" seq); smin=$1; smed=$2
    if [ -n "$(eval echo "\${fail_$nm:-}")" ]; then smin=$(eval echo "\$fail_$nm"); smed=$smin; fi
    # shellcheck disable=SC2046
    set -- $(stats "torch_$nm" peer); tmin=$1; tmed=$2
    # shellcheck disable=SC2046
    set -- $(stats "torchu_$nm" peer); umed=$2
    # shellcheck disable=SC2046
    set -- $(stats "ort_$nm" peer); omin=$1; omed=$2
    loads=$(tr ' ' '\n' <"$work/$nm.load" 2>/dev/null | range)
    rw_out=$(awk -v w="$rw_wl" -v c="$rw_cfg" -v flop="$rw_flop" -v smin="$smin" -v smed="$smed" \
            -v tmin="$tmin" -v tmed="$tmed" -v umed="$umed" -v omin="$omin" -v omed="$omed" \
            -v rss="$(rss_mb "$nm")" -v flt="$(faults "$nm")" -v ld="$loads" \
            -v peak="$(eval echo "\${peak_$rw_t:-0}")" '
        function num(x) { return x ~ /^[0-9.]+$/ }
        function ms(x) { return num(x) ? sprintf(x < 10 ? "%.2f" : "%.1f", x) : x }
        function pair(a, b) { return num(b) ? ms(a) " / " ms(b) : (b == "-" ? "-" : b) }
        function ratio(a, b) { return (num(a) && num(b) && b > 0) ? sprintf("%.2fx", a / b) : "-" }
        BEGIN {
            g = num(smed) ? flop / (smed / 1e3) / 1e9 : -1
            printf "| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", w, c,
                pair(smin, smed),
                (g >= 0 ? sprintf("%.1f", g) : "-"),
                ((g >= 0 && peak > 0) ? sprintf("%.0f%%", 100 * g / peak) : "-"),
                rss, (num(flt) ? sprintf("%.0f", flt) : "-"),
                pair(tmin, tmed), ms(umed), pair(omin, omed),
                ratio(tmed, smed), ratio(omed, smed), ld
            # the short table for the README: medians and speed-ups
            printf "| %s | %s | %s | %s | %s |\n", w, c, ms(smed), ratio(tmed, smed), ratio(omed, smed)
        }')
    rows="$rows$(echo "$rw_out" | sed -n 1p)
"
    short_rows="$short_rows$(echo "$rw_out" | sed -n 2p)
"
    details="$details  $nm: seqsh ms $(range <"$work/$nm.t")"
    [ -s "$work/torch_$nm.t" ] && details="$details; torch tuned ($(sed -n 's/^variant //p' "$work/torch_$nm.out" | sort -u | tr '\n' ' ' | sed 's/ $//')) $(range <"$work/torch_$nm.t")"
    [ -s "$work/torchu_$nm.t" ] && details="$details; torch untuned $(range <"$work/torchu_$nm.t")"
    [ -s "$work/ort_$nm.t" ] && details="$details; onnxruntime $(range <"$work/ort_$nm.t")"
    details="$details
"
}

# peers NAME ROUND THREADS WORKLOAD ARGS...: PyTorch (tuned; untuned in the
# first rounds) for one round of configuration NAME
peers() {
    pn=$1; pr=$2; pt=$3; shift 3
    [ "$torch_ok" = 1 ] || return 0
    pw=$1; shift
    # shellcheck disable=SC2086
    run_bounded "torch_$pn" env $TORCH_TUNED_ENV OMP_NUM_THREADS="$pt" OPENBLAS_NUM_THREADS="$pt" \
        "$PY" "$here/torch_bench.py" "$pw" tuned "$pt" "$@" || show_fail "torch_$pn" $?
    if [ "$pr" -le "$UNTUNED_ROUNDS" ]; then
        run_bounded "torchu_$pn" env OMP_NUM_THREADS="$pt" OPENBLAS_NUM_THREADS="$pt" \
            "$PY" "$here/torch_bench.py" "$pw" untuned "$pt" "$@" || show_fail "torchu_$pn" $?
    fi
}

# ---- W1 and W5: forward ----------------------------------------------------
# `time call ones B H W 3` in one seqsh process: one warm-up call, then REPS
# timed calls; the time includes making the input and printing the (B, ...)
# result, which the driver measures on a one-layer model that does next to
# nothing (W1: a Cropping2D to one pixel; W5: a strided 1x1 Conv2D making
# W5's output shape) and prints below the table without subtracting it.
overhead() { # WORKLOAD "PROBE COMMANDS" H W -> "X ms at batch 1, Y ms at batch 32"
    oname=$1_overhead; probe=$2; oh=$3; ow=$4
    set -- -q --threads 1 -c "model probe; $probe"
    for b in 1 32; do
        set -- "$@" -c "call ones $b $oh $ow 3"
        i=0
        while [ "$i" -lt "$REPS" ]; do set -- "$@" -c "time call ones $b $oh $ow 3"; i=$((i + 1)); done
    done
    if run_bounded "$oname" "$SEQSH" "$@"; then
        for b in 1 32; do
            k=$(( b == 1 ? 1 : REPS + 1 ))
            seq_times "$oname" | sed -n "${k},$((k + REPS - 1))p" | median
        done | tr '\n' ' ' | awk '{ printf "%.2f ms at batch 1, %.1f ms at batch 32", $1, $2 }'
    else
        show_fail "$oname" $?
    fi
}

# fwd_run NAME THREADS BATCH [PREFIX...]: one seqsh process of workload wl
# (H x W x 3 inputs): a warm-up call, then REPS timed calls; PREFIX
# (taskset -c N) runs before seqsh. Records as run_bounded does.
fwd_run() {
    fr_name=$1; fr_t=$2; fr_b=$3; shift 3
    set -- "$@" "$SEQSH" -q --seed 1 --threads "$fr_t" -c "source '$here/$wl.seq'" -c "call ones $fr_b $H $W 3"
    i=0
    while [ "$i" -lt "$REPS" ]; do set -- "$@" -c "time call ones $fr_b $H $W 3"; i=$((i + 1)); done
    run_bounded "$fr_name" "$@"
}

forward() { # WORKLOAD H W "OUTPUT TEXT" PROBE
    wl=$1; H=$2; W=$3
    # shellcheck disable=SC2046
    set -- $(flops "$wl")
    fl=${1:-0}
    [ "$fl" -gt 0 ] 2>/dev/null || { say "$wl: cannot read the model's shapes"; failed=1; return; }
    eval "${wl}_gflop=\$(awk -v f=\"\$fl\" 'BEGIN { printf \"%.4f\", f / 1e9 }')"
    WL=$(echo "$wl" | tr 'w' 'W')
    onnx=
    if [ "$ort_ok" = 1 ]; then
        if bounded 60 "$SEQSH" -q -c "source '$here/$wl.seq'" -c "export onnx '$work/$wl.onnx'" \
            >/dev/null 2>"$work/${wl}_onnx.err"; then
            onnx=$work/$wl.onnx
        else
            say "$WL: seqsh cannot export it to ONNX ($(head -n 1 "$work/${wl}_onnx.err")): no onnxruntime figures"
            eval "${wl}_noonnx=\$(head -n 1 \"\$work/\${wl}_onnx.err\" | sed 's/^-c:[0-9]*: error: //')"
        fi
    fi
    for b in 1 32; do
        # the thread counts take turns within each round, so that the
        # speed-up of more threads compares processes run side by side
        pins=
        [ "$wl" = w1 ] && [ "$b" = 1 ] && pins=$pin_cpus
        r=1
        while [ "$r" -le "$ROUNDS" ]; do
            say "$WL batch $b, round $r of $ROUNDS: threads $THREADS${pins:+, then one thread on each of CPUs $pins} (load $(loadavg))"
            for t in $THREADS; do
                name=${wl}_b${b}_t$t
                printf '%s ' "$(loadavg)" >>"$work/$name.load"
                fwd_run "$name" "$t" "$b" || { show_fail "$name" $?; eval "fail_$name=\$cell"; }
                peers "$name" "$r" "$t" "$wl" "$b" "$REPS"
                if [ -n "$onnx" ]; then
                    run_bounded "ort_$name" env NODE_PATH="$ORT_NODE_PATH" node "$here/ort_bench.js" \
                        "$onnx" "$t" "$REPS" "$b" "$H" "$W" 3 || show_fail "ort_$name" $?
                fi
            done
            # one thread pinned to each CPU the threads above ran on: what
            # each CPU alone gives, for the speed-up's ceiling below
            for c in $pins; do
                fwd_run "${wl}_b${b}_cpu$c" 1 "$b" taskset -c "$c" || show_fail "${wl}_b${b}_cpu$c" $?
            done
            r=$((r + 1))
        done
        for t in $THREADS; do
            name=${wl}_b${b}_t$t
            row "$WL" "batch $b, $t thr" "$t" "$(awk -v f="$fl" -v b="$b" 'BEGIN { printf "%.0f", f * b }')" "$name"
            [ "$wl" = w5 ] && w5_traffic_row "$b" "$t" "$name"
        done
        [ -n "$pins" ] && pinned_lines "$wl" "$b"
    done
}

# pinned_lines WORKLOAD BATCH: the most threads' speed-up over one thread,
# beside what the CPUs allow: each CPU's one-thread time (pinned, same
# rounds) says how fast it is; if the work were shared in proportion to
# the CPUs' speeds, T threads would take 1 / (sum of 1 / t_cpu), a speed-up
# over the fastest CPU alone of (sum of t_fast / t_cpu). A virtual
# machine's CPUs need not be equally fast, nor stay so through a day.
pinned_lines() {
    pl_wl=$1; pl_b=$2; pl_nm=${1}_b$2
    pl_cells=
    pl_meds=
    for c in $pin_cpus; do
        # shellcheck disable=SC2046
        set -- $(stats "${pl_nm}_cpu$c" seq)
        pl_cells="$pl_cells${pl_cells:+, }CPU $c $(awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f / %.2f", a, b }')"
        pl_meds="$pl_meds $2"
    done
    # shellcheck disable=SC2046
    set -- $(stats "${pl_nm}_t1" seq); pl_one=$2
    # shellcheck disable=SC2046
    set -- $(stats "${pl_nm}_t$pin_top" seq); pl_many=$2
    pinned="$pinned$(echo "$pl_meds" | awk -v wl="$pl_wl" -v b="$pl_b" -v cells="$pl_cells" -v one="$pl_one" \
        -v many="$pl_many" -v top="$pin_top" '
        function num(x) { return x ~ /^[0-9.]+$/ && x > 0 }
        {
            fast = 0; ok = num(one) && num(many)
            for (i = 1; i <= NF; i++) { if (!num($i)) ok = 0; else if (!fast || $i < fast) fast = $i }
            cap = 0
            for (i = 1; ok && i <= NF; i++) cap += fast / $i
            printf "%s batch %d, one thread pinned to each CPU (taskset, same rounds), ms min / median: %s.\n", toupper(wl), b, cells
            if (ok)
                printf "  %d threads: %.2fx one thread unpinned, %.2fx the fastest CPU alone; the CPUs allow at most %.2fx over it (%.0f%% reached).\n", top, one / many, fast / many, cap, 100 * (fast / many) / cap
        }')
"
}

# W5's bytes: what a layer must at least move (its input, its output and its
# weights, 4 bytes each, from seqsh's summary) per second, against the
# machine's memory bandwidth (membw.c): depthwise convolution does little
# arithmetic per byte.
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
w5_traffic_row() { # BATCH THREADS NAME
    # shellcheck disable=SC2046
    set -- "$1" "$2" "$3" $(stats "$3" seq) $(stats "torch_$3" peer)
    wt_line=$(awk -v by="$w5_bytes" -v b="$1" -v sm="$5" -v tm="$7" \
            -v bw="$(eval echo "\${membw_$2:-0}")" -v c="batch $1, $2 thr" '
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
    w5rows="$w5rows$wt_line
"
}

# ---- W2, W3, W4: one training epoch ----------------------------------------
# W4's FLOP per training sample: the LSTM's 4*units*(d + units) MACs per
# step over 80 steps (T=80, d=64, units=64) and the Dense's 64, 2*MACs
# forward, three times for a training step (forward, weight gradients, input
# gradients: the Embedding below needs the LSTM's); the Embedding's lookup
# and scatter are not counted.
w4_flops() { awk 'BEGIN { printf "%.0f\n", 3 * 2 * (80 * 4 * 64 * (64 + 64) + 64) }'; }

# What a user runs: `time fit X.npy Y.npy epochs=1 batch_size=B verbose=0`
# after sourcing the model (fresh weights, fresh Adam state), which reads
# the data and trains one epoch; PyTorch's repetition likewise loads X.npy
# and Y.npy (np.load) and trains one epoch.  Both warm up first: a fit on
# a 2048-sample set with the same batch size, and a read of X.npy (seqsh:
# `time call X.npy` on a layer-less model, which reads X as the fit does;
# PyTorch: np.load), so that both processes have the memory for the data
# already (a fresh process's first touch of 188 MB costs ~0.3 s on a
# virtual machine).  seqsh's read is shown in the ranges.
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
            say "$WL batch $b, $t thread(s): $ROUNDS rounds (load $(loadavg))"
            r=1
            while [ "$r" -le "$ROUNDS" ]; do
                printf '%s ' "$(loadavg)" >>"$work/$name.load"
                run_bounded "$name" "$SEQSH" -q --seed 1 --threads "$t" -c "source '$here/$wl.seq'" \
                    -c "fit '$xw' '$yw' epochs=1 batch_size=$b verbose=0" \
                    -c "model probe; input $shape" -c "time call '$x'" \
                    -c "source '$here/$wl.seq'" \
                    -c "time fit '$x' '$y' epochs=1 batch_size=$b verbose=0" ||
                    { show_fail "$name" $?; eval "fail_$name=\$cell"; }
                peers "$name" "$r" "$t" "$wl" "$b" 1 "$x" "$y"
                r=$((r + 1))
            done
            # each process printed the read's Time, then the fit's
            seq_times "$name" | awk 'NR % 2 == 0' >"$work/$name.times"
            seq_times "$name" | awk 'NR % 2' >"$work/$name.reads"
            row "$WL" "batch $b, $t thr" "$t" "$(awk -v f="$fl" -v n="$n" 'BEGIN { printf "%.0f", f * n }')" "$name"
            details="$details    (seqsh's read of X alone, the process's first: $(range <"$work/$name.reads") ms"
            [ -f "$work/torch_$name.out" ] && details="$details; torch tuned's epoch alone: $(peer_times "torch_$name" epoch_ms | range) ms"
            details="$details)
"
        done
    done
    rm -f "$x" "$y" "$xw" "$yw"
}

for w in $WORKLOADS; do
    case $w in
    w1) forward w1 250 250 ;;
    w2) train w2 60000 "32 128" "" 784 ;;
    w3) train w3 10000 "32 128" "" 28 28 1 ;;
    w4) train w4 8192 64 "-ids 10000 -classes 2" 80 ;;
    w5) # shellcheck disable=SC2046
        set -- $(traffic w5 $((224 * 224 * 3)))
        w5_bytes=${1:-0}; w5_dwbytes=${2:-0}
        forward w5 224 224 ;;
    esac
done
case " $WORKLOADS " in *" w1 "*) w1_overhead=$(overhead w1 "input 250 250 3; add cropping2d ((124,125),(124,125))" 250 250) ;; esac
case " $WORKLOADS " in *" w5 "*) w5_overhead=$(overhead w5 "input 224 224 3; add conv2d 256 1 strides=8" 224 224) ;; esac
load_end=$(loadavg)

# ---- report --------------------------------------------------------------
elapsed=$(($(date +%s) - started))
echo "seqsh benchmark, $(date -u '+%Y-%m-%d %H:%M UTC'), $(uname -m) '$cpu', $ncpu CPUs, load average $load_start at the start, $load_end at the end"
echo "command: make bench (SEQSH=$seqsh_path sh scripts/bench/run.sh)"
echo "seqsh: $seqsh_info"
case $seqsh_info in *"AVX2 kernel on this AVX-512"*)
    echo "NOTE: OpenBLAS runs an AVX2 kernel on this AVX-512 CPU (OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-?}): seqsh's GEMMs with B as stored (Dense forward, weight gradients) run on its own AVX-512 product, the others (input gradients) on that kernel" ;;
esac
[ -n "${OPENBLAS_CORETYPE:-}" ] && echo "OPENBLAS_CORETYPE=$OPENBLAS_CORETYPE (set for the whole run, seqsh and PyTorch)"
if [ "$torch_ok" = 1 ]; then
    echo "PyTorch: $torch_ver ($PY, scripts/bench/torch_bench.py); tuned: $TORCH_TUNED_ENV, channels-last, torch.jit where faster; untuned: defaults, $UNTUNED_ROUNDS round(s)"
else echo "PyTorch: not measured (needs Debian's python3-torch; BENCH_INSTALL_TORCH=1 installs it)"; fi
if [ "$ort_ok" = 1 ]; then echo "onnxruntime: onnxruntime-node $ort_ver ($ORT_NODE_PATH), the model from seqsh's \`export onnx\`"
else echo "onnxruntime: not measured (make bench BENCH_INSTALL_ORT=1 installs onnxruntime-node@$ORT_VERSION from npm into $ORT_DIR)"; fi
for t in $THREADS; do
    printf 'FMA peak, %s thread(s): %s GFLOP/s per CPU-second (%s wall-clock; %s, fmapeak.c, best of 3)\n' \
        "$t" "$(eval echo "\$peak_$t")" "$(eval echo "\$peakwall_$t")" "$peak_isa"
done
[ -n "$peak_note" ] && echo "${peak_note#?}"
for t in $THREADS; do
    bw=$(eval echo "\${membw_$t:-}")
    [ -n "$bw" ] && printf 'memory bandwidth, %s thread(s): %s GB/s (membw.c: STREAM copy of 128 MB arrays, best of 5)\n' "$t" "$bw"
done
[ -n "$pool_lines" ] && printf 'thread pool, cost of one parallel region in us (poolcost.c, min and median):\n%s' "$pool_lines"
echo "start-up, seqsh -c quit: $startup_ms ms (median of 20, wall time)"
if awk -v l="$load_start" -v e="$load_end" -v n="$ncpu" 'BEGIN { exit !(l + 0 > 0.25 * n || e + 0 > 0.25 * n) }'; then
    echo "WARNING: the machine was busy (load average $load_start at the start, $load_end at the end, on $ncpu CPUs):"
    echo "other processes shared the cores; the figures, 2-thread ones above all, are not reliable.  See each row's load."
fi
echo
echo "| workload | config | seqsh ms min / median | GFLOP/s | % peak | seqsh RSS | seqsh faults | torch tuned ms min / median | torch untuned ms | onnxruntime ms min / median | vs torch tuned | vs onnxruntime | load |"
echo "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
printf '%s' "$rows"
echo
echo "Each configuration: $ROUNDS interleaved rounds, a round running seqsh, tuned PyTorch, untuned PyTorch (first"
echo "$UNTUNED_ROUNDS round(s)) and onnxruntime (W1/W5) one after the other, each its own process; min and median"
echo "over every timed repetition.  W1/W5: $REPS forward calls per process after a warm-up call (seqsh's"
echo "\`time call ones B 250 250 3\`, W5 224 224 3), seqsh's including making the input and printing the output:"
[ -n "${w1_overhead:-}" ] && echo "  W1 $w1_overhead (not subtracted),"
[ -n "${w5_overhead:-}" ] && echo "  W5 $w5_overhead (not subtracted)."
[ -n "${w5_noonnx:-}" ] && echo "  W5 in onnxruntime: not measured, seqsh cannot export it ($w5_noonnx)."
echo "W2/W3/W4: one epoch per process after a 2048-sample warm-up (W2 60,000 samples, W3 10,000, W4 8,192"
echo "sequences of 80 ids), timed as a user runs it: seqsh's \`time fit X.npy Y.npy epochs=1\` and PyTorch's"
echo "np.load of both files plus the epoch (both include reading the data, from the page cache)."
echo "GFLOP/s (of seqsh's median): 2*MACs of Conv2D/DepthwiseConv2D/Dense from the shapes${w1_gflop:+ (W1: $w1_gflop GFLOP per image)}${w5_gflop:+ (W5: $w5_gflop)};"
echo "training counts forward, weight and input gradients (3x forward, minus the first layer's input gradient);"
echo "pooling, loss and optimizer not counted.  W4: the LSTM's 4*units*(d+units) MACs per step (and the"
echo "Dense's), 3x forward for training; the Embedding's lookup and scatter not counted.  % peak: of the FMA"
echo "peak for that many threads.  RSS: seqsh's peak resident set (wait4 rusage), faults: its page faults"
echo "(minor + major) per process, median.  vs torch tuned / vs onnxruntime: their median over seqsh's"
echo "(above 1: seqsh faster).  Threads: seqsh --threads N; torch set_num_threads(N) with"
echo "OMP_NUM_THREADS=OPENBLAS_NUM_THREADS=N; onnxruntime intraOpNumThreads N.  Nothing pinned but the"
echo "per-CPU runs below.  W1/W5: the thread counts take turns within each round.  load: the"
echo "1-minute load average before each round (min-max).  Whole run: ${elapsed}s."
if [ -n "$pinned" ]; then
    echo
    printf '%s' "$pinned"
fi
echo
echo "The README's table (seqsh's median ms; speed-ups: the peer's median over seqsh's):"
echo
echo "| workload | config | seqsh ms | vs PyTorch tuned | vs onnxruntime |"
echo "|---|---|---:|---:|---:|"
printf '%s' "$short_rows"
if [ -n "$gemm_rows" ]; then
    echo
    echo "W2's training GEMMs alone, single-threaded, GFLOP/s (best of 3 rounds, gemmshapes.c;"
    echo "$(cat "$work/gemm.kernels" 2>/dev/null); the shapes: M N K, batch 32 then 128; seqsh's product"
    echo "takes B as stored: its dz.W^T, and that part of its step, are OpenBLAS in the environment's kernel):"
    echo
    echo "| GEMM (M N K) | OpenBLAS's own pick | AVX2 kernel (Haswell) | AVX2 / pick | seqsh's AVX-512 product | seqsh / pick |"
    echo "|---|---:|---:|---:|---:|---:|"
    printf '%s\n' "$gemm_rows"
fi
if [ -n "$w5rows" ]; then
    echo
    echo "W5's memory traffic: what its layers must at least read and write (input, output and weights of"
    echo "each layer, 4 bytes a value; the depthwise layers' share: $(awk -v b="${w5_dwbytes:-0}" -v a="${w5_bytes:-1}" 'BEGIN { printf "%.1f MB of %.1f MB", b / 1e6, a / 1e6 }') per image)"
    echo "per second of the median time above, against the machine's memory bandwidth (STREAM copy, same threads):"
    echo
    echo "| workload | config | moved | seqsh GB/s | % of bandwidth | torch GB/s | torch % | bandwidth GB/s |"
    echo "|---|---|---:|---:|---:|---:|---:|---:|"
    printf '%s' "$w5rows"
fi
echo
echo "ranges (min-max, ms):"
printf '%s' "$details"
if [ $failed != 0 ]; then
    say "some measurements failed (see above)"
    exit 1
fi
exit 0
