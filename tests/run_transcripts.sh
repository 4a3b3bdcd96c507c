#!/bin/sh
# run_transcripts.sh - golden transcripts for the shell.
#
# Every scripts/NAME.seq runs as `seqsh scripts/NAME.seq`; its stdout must equal
# tests/transcripts/script_NAME.out and it must exit 0 with nothing on stderr.
# Every tests/transcripts/NAME.seq runs as `seqsh --keep-going NAME.seq`;
# stdout must equal NAME.out and stderr NAME.err (empty when there is no
# .err file); the exit status must be 1 when NAME.err exists, else 0, unless
# a line "# exit: N" in the script says otherwise; a line "# args: ..."
# replaces the default --keep-going. Output is compared by tests/txtcmp: the
# text exactly, printed floats within a relative 1e-5 (another CPU's BLAS
# or convolution kernels round differently); TRANSCRIPT_TOLERANCE=X sets
# another tolerance, TRANSCRIPT_EXACT=1 compares exactly (for the machine a
# golden file was made on). Each runs in its own folder under tests/out/
# with `fixtures` linked to tests/fixtures.
: "${srcdir:=.}"
: "${SEQSH:=$(pwd)/seqsh}"
: "${TXTCMP:=$(pwd)/tests/txtcmp}"
if [ -n "${TRANSCRIPT_EXACT:-}" ]; then cmpflags=-e
else cmpflags="-t ${TRANSCRIPT_TOLERANCE:-1e-5}"; fi
top=$(cd "$srcdir" && pwd)
out=$(pwd)/tests/out
mkdir -p "$out"
pass=0
fail=0

check() {  # name seqfile expected_out expected_err expected_rc args...
    name=$1 seq=$2 eout=$3 eerr=$4 erc=$5
    shift 5
    dir=$out/$name
    rm -rf "$dir" && mkdir -p "$dir"
    case $seq in scripts/*) ;; *) cp "$seq" "$dir/" ;; esac
    ln -s "$top/tests/fixtures" "$dir/fixtures" \
        && ln -s "$top/tests/transcripts/include" "$dir/include" \
        && ln -s "$top/scripts" "$dir/scripts"
    case $seq in scripts/*) base=$seq ;; *) base=$(basename "$seq") ;; esac
    (cd "$dir" && "$SEQSH" "$@" "$base" >stdout 2>stderr </dev/null; echo $? >rc)
    ok=1
    # progress bars carry wall times: compare them without
    sed -E 's# - [0-9]+s [0-9]+(s|ms|us)/step# - Ts Tms/step#; s#^( *[0-9]+/[0-9]+) - [0-9]+s - #\1 - Ts - #' \
        "$dir/stdout" >"$dir/stdout.cmp"
    # shellcheck disable=SC2086
    "$TXTCMP" $cmpflags "$eout" "$dir/stdout.cmp" >"$dir/diff" || ok=0
    if [ -n "$eerr" ]; then
        # shellcheck disable=SC2086
        "$TXTCMP" $cmpflags "$eerr" "$dir/stderr" >>"$dir/diff" || ok=0
    elif [ -s "$dir/stderr" ]; then
        echo "unexpected stderr:" >>"$dir/diff"; cat "$dir/stderr" >>"$dir/diff"; ok=0
    fi
    rc=$(cat "$dir/rc")
    if [ "$rc" != "$erc" ]; then
        echo "exit status $rc, expected $erc" >>"$dir/diff"; ok=0
    fi
    if [ $ok = 1 ]; then
        pass=$((pass + 1)); echo "PASS: $name"
    else
        fail=$((fail + 1)); echo "FAIL: $name"; cat "$dir/diff"
    fi
}

for seq in "$top"/scripts/*.seq; do
    [ -e "$seq" ] || continue
    name=$(basename "$seq" .seq)
    check "script_$name" "scripts/$name.seq" "$top/tests/transcripts/script_$name.out" "" 0
done
for seq in "$top"/tests/transcripts/*.seq; do
    [ -e "$seq" ] || continue
    name=$(basename "$seq" .seq)
    t=$top/tests/transcripts/$name
    err=""; rc=0
    if [ -e "$t.err" ]; then err=$t.err; rc=1; fi
    want=$(sed -n 's/^# exit: \([0-9]*\)$/\1/p' "$seq" | head -n 1)
    [ -n "$want" ] && rc=$want
    args=$(sed -n 's/^# args: \(.*\)$/\1/p' "$seq" | head -n 1)
    [ -n "$args" ] || args=--keep-going
    # shellcheck disable=SC2086
    check "$name" "$seq" "$t.out" "$err" "$rc" $args
done
echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
