#!/bin/sh
# run_shell.sh - the command line: options, exit statuses, standard input,
# -c, -C, seeds, time, history, relative paths, the example scripts from
# another folder, interrupts; the faults of issue 18 (targets that are not
# regular files, killed saves, FIFOs, bombs, memory limits, shape
# overflows, thousands of layers, control characters).
: "${SEQSH:=$(pwd)/seqsh}"
: "${TXTCMP:=$(pwd)/tests/txtcmp}"
TOP=$(cd "${srcdir:-.}" && pwd)
export TXTCMP TOP
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work" || exit 99
pass=0 fail=0
ok() {  # name, then a shell command that must succeed
    name=$1; shift
    if sh -c "$*" >"$work/log" 2>&1; then pass=$((pass + 1)); echo "PASS: $name"
    else fail=$((fail + 1)); echo "FAIL: $name"; cat "$work/log"; fi
}
S=$SEQSH
export S

ok "--help on stdout, exit 0" '"$S" --help | grep -q "^Usage: seqsh \[OPTION\]... \[FILE.seq\]..." && "$S" -h | grep -q "Report bugs to:"'
ok "--version and info name the BLAS kernel; a chosen OPENBLAS_CORETYPE is respected" '"$S" --version | grep -q "^Maths: OpenBLAS .*; kernel " && OPENBLAS_CORETYPE=Haswell "$S" -c info | grep -q "kernel Haswell"'
ok "--version in GNU layout" '"$S" --version | head -n 1 | grep -qx "seqsh (seqsh) [0-9.]*" && "$S" -V >/dev/null'
ok "unknown option: message, hint, exit 2" '"$S" --frob 2>err; [ $? = 2 ] && grep -q "unrecognized option .--frob." err && grep -q "Try .seqsh --help." err'
ok "short unknown option, exit 2" '"$S" -Z 2>err; [ $? = 2 ] && grep -q "invalid option -- .Z." err'
ok "missing argument, exit 2" '"$S" -c 2>err; [ $? = 2 ] && grep -q "requires an argument" err'
ok "bad --seed, exit 2" '"$S" --seed=x 2>err; [ $? = 2 ] && grep -q "seed" err'
ok "bad --threads, exit 2" '"$S" --threads 0 2>err; [ $? = 2 ]'
ok "-c runs commands separated by ;" '[ "$("$S" -c "echo a; echo b" -c "echo c")" = "$(printf "a\nb\nc")" ]'
ok "stdin: no prompt, no banner" '[ "$(printf "echo hi\n" | "$S")" = hi ]'
ok "stdin error: stdin:LINE prefix, exit 1, stops" 'printf "echo a\npop\necho b\n" | "$S" >out 2>err; [ $? = 1 ] && [ "$(cat out)" = a ] && [ "$(cat err)" = "stdin:2: error: There are no layers in the model." ]'
ok "--keep-going carries on, still exit 1" 'printf "pop\necho b\n" | "$S" --keep-going >out 2>err; [ $? = 1 ] && [ "$(cat out)" = b ]'
ok "files run in order" 'echo "echo one" >a.seq; echo "echo two" >b.seq; [ "$("$S" a.seq b.seq)" = "$(printf "one\ntwo")" ]'
ok "a missing file is an error" '"$S" nope.seq 2>err; [ $? = 1 ] && grep -q "cannot open .nope.seq." err'
ok "the first failing file stops the rest" 'echo pop >bad.seq; "$S" bad.seq a.seq >out 2>err; [ $? = 1 ] && [ ! -s out ] && grep -q "^bad.seq:1: error:" err'
ok "-i after a file reads stdin when it is not a terminal" '[ "$(echo "echo piped" | "$S" -i a.seq)" = "$(printf "one\npiped")" ]'
ok "same --seed, same weights" '[ "$("$S" --seed 5 -c "input 3; add dense 2; weights")" = "$("$S" --seed 5 -c "input 3; add dense 2; weights")" ]'
ok "another seed, other weights" '[ "$("$S" --seed 5 -c "input 3; add dense 2; weights")" != "$("$S" --seed 6 -c "input 3; add dense 2; weights")" ]'
ok "seed command equals --seed" '[ "$("$S" --seed 5 -c "input 3; add dense 2; weights")" = "$("$S" -c "seed 5; input 3; add dense 2; weights")" ]'
ok "a failed call draws no random numbers" 'a=$("$S" --keep-going -c "seed 1; input 4; add dense 2; call random 2 5; call random 1 4" 2>/dev/null); b=$("$S" -c "seed 1; input 4; add dense 2; call random 1 4"); [ "$a" = "$b" ]'
ok "time prints Time: N.NNN ms after the output" '"$S" -c "time echo x" >out; [ "$(sed -n 1p out)" = x ] && sed -n 2p out | grep -Eqx "Time: [0-9]+\.[0-9]{3} ms"'
ok "history prints the session as a script" 'printf "input 4\nadd dense 2 relu\nhistory\n" | "$S" >out; [ "$(cat out)" = "$(printf "input 4\nadd dense 2 relu")" ]'
ok "history leaves out failed commands and itself" 'printf "input 4\nadd dense 2 nope\nhistory\nadd dense 2\nhistory\n" | "$S" --keep-going 2>/dev/null >out; [ "$(cat out)" = "$(printf "input 4\ninput 4\nadd dense 2")" ]'
ok "history output replays to the same model" 'printf "input 4\nadd dense 2 relu\nadd dense 3\nhistory\n" | "$S" >h.seq; [ "$("$S" -c "source h.seq; summary")" = "$("$S" -c "input 4; add dense 2 relu; add dense 3; summary")" ]'
ok "no history file when not interactive" 'printf "echo x\n" | SEQSH_HISTFILE="$PWD/h" "$S" >/dev/null; [ ! -e h ] && printf "echo x\n" | XDG_STATE_HOME="$PWD/state" HOME="$PWD" "$S" >/dev/null; [ ! -e state/seqsh/history ]'
ok "quit stops the script with status 0" '[ "$(printf "echo a\nquit\necho b\n" | "$S")" = a ]'
ok "a long line is handled" 'awk "BEGIN{printf \"echo \"; for(i=0;i<50000;i++) printf \"x\"; print \"\"}" | "$S" | wc -c | grep -qx 50001'
ok "SIGINT during a script: Interrupted, exit 130" '
  printf "input 600 600 16\nadd conv2d 64 5\nadd conv2d 64 5\nadd conv2d 64 5\ncall ones 16 600 600 16\necho after\n" >long.seq
  "$S" long.seq >out 2>err & pid=$!
  sleep 1; kill -INT $pid; wait $pid; rc=$?
  [ $rc = 130 ] && grep -qx Interrupted err && ! grep -q after out'
ok "an .h5 that sends libhdf5 into an endless loop: a clear error in the time limit, the model kept" '
  start=$(date +%s)
  SEQSH_H5_TIME_LIMIT=2 "$S" --keep-going -c "input 3; add dense 2 name=kept" -c "load $TOP/tests/fixtures/keras/h5_hang.h5" -c "layers" >out 2>err; rc=$?
  [ $rc = 1 ] && [ $(($(date +%s) - start)) -lt 10 ] && grep -q "h5_hang.h5. took longer than 2 seconds" err && grep -q "kept" out'
ok "an .h5 that crashes libhdf5: one clear error, the model kept, nothing else on stderr (a sanitizer build included)" '
  "$S" --keep-going -c "input 3; add dense 2 name=kept" -c "load $TOP/tests/fixtures/keras/h5_crash.h5" -c "layers" >out 2>err; rc=$?
  [ $rc = 1 ] && [ "$(wc -l <err)" = 1 ] && grep -q "h5_crash.h5. is.*corrupt" err && grep -q "kept" out'
ok "SIGINT while libhdf5 loops: Interrupted at once, exit 130, no reader left" '
  # a name of its own: other runs of this suite may share the machine
  printf "input 3\nadd dense 2\nload $TOP/tests/fixtures/keras/h5_hang.h5\necho after\n" >h5-$$.seq
  "$S" h5-$$.seq >out 2>err & pid=$!
  sleep 1; start=$(date +%s); kill -INT $pid; wait $pid; rc=$?
  [ $rc = 130 ] && [ $(($(date +%s) - start)) -lt 3 ] && grep -qx Interrupted err && ! grep -q after out && ! pgrep -f "seqsh h5-$$[.]seq" >/dev/null'
ok "seqsh killed outright while libhdf5 loops: its reader dies with it" '
  printf "load $TOP/tests/fixtures/keras/h5_hang.h5\n" >h5k-$$.seq
  "$S" h5k-$$.seq >out 2>err & pid=$!
  sleep 1; pgrep -f "seqsh h5k-$$[.]seq" | grep -qvx $pid || exit 1   # the reader runs
  kill -KILL $pid; wait $pid
  i=0; while pgrep -f "seqsh h5k-$$[.]seq" >/dev/null && [ $i -lt 20 ]; do sleep 0.1; i=$((i + 1)); done
  ! pgrep -f "seqsh h5k-$$[.]seq" >/dev/null'
ok "seqsh stopped past the time limit while libhdf5 loops: the reader ends at its CPU limit, the time-limit error" '
  printf "load $TOP/tests/fixtures/keras/h5_hang.h5\n" >h5s-$$.seq
  SEQSH_H5_TIME_LIMIT=1 "$S" h5s-$$.seq >out 2>err & pid=$!
  sleep 0.5; kill -STOP $pid; sleep 4
  pgrep -f "seqsh h5s-$$[.]seq" | grep -qvx $pid && { kill -CONT $pid; exit 1; }   # the reader is gone
  kill -CONT $pid; wait $pid; rc=$?
  [ $rc = 1 ] && grep -q "h5_hang.h5. took longer than 1 seconds" err'
ok "SIGINT during fit keeps the finished batches, exit 130" '
  printf "seed 1\ninput 64\nadd dense 512 relu\nadd dense 512 relu\nadd dense 10 softmax\ncompile optimizer=sgd loss=sparse_categorical_crossentropy\nsave_weights before.npz\nfit random 20000 64 zeros 20000 1 epochs=50 batch_size=8\n" >fit.seq
  "$S" fit.seq >out 2>err & pid=$!
  sleep 1.5; kill -INT $pid; wait $pid; rc=$?
  [ $rc = 130 ] && grep -qx Interrupted err && [ -s before.npz ]'
ok "a model saved in one session stacks under a head in the next" '
  "$S" -c "seed 4; input 6; add dense 5 relu; add dense 3; save base.seqm; extract all range 1 6" >one &&
  "$S" -c "add model base.seqm trainable=false; add dense 2; summary; extract sequential range 1 6" >two &&
  grep -q "^sequential (Sequential)      (None, 3)                 53        \$" two &&
  grep -q "^Trainable params: 8\$" two &&
  [ "$(tail -n 1 one)" = "$(tail -n 1 two)" ]'
ok "SIGTERM mid-save: exit 143, the model file whole or absent, no temporary files" '
  mkdir term && cd term &&
  printf "input 2000\nadd dense 2000\nadd dense 2000\nsave m.seqm\nsave m.seqm\nsave m.seqm\nsave m.seqm\nsave m.seqm\nsave m.seqm\nsave m.seqm\nsave m.seqm\n" >t.seq &&
  for delay in 0.05 0.1 0.2 0.3; do
    rm -f m.seqm; "$S" t.seq & pid=$!; sleep $delay; kill -TERM $pid; wait $pid; rc=$?
    [ $rc = 143 ] || [ $rc = 0 ] || exit 1
    [ "$(ls -A | grep -v -x -e t.seq -e m.seqm | wc -l)" = 0 ] || exit 1
    [ ! -e m.seqm ] || "$S" -c "load m.seqm" || exit 1
  done'
ok "SIGTERM at the prompt saves the history" '
  command -v tmux >/dev/null || exit 0
  sock=seqsh-term-$$; ln -s "$S" "$PWD/$sock"
  tmux -L $sock new-session -d -x 80 -y 10 "env SEQSH_HISTFILE=$PWD/th INPUTRC=/dev/null $PWD/$sock; sleep 5"
  sleep 0.5; tmux -L $sock send-keys "echo kept-in-history" Enter; sleep 0.3
  pkill -TERM -f "^$PWD/$sock\$"; sleep 0.5; tmux -L $sock kill-server
  grep -q kept-in-history th'
ok "SIGINT inside one long pooling layer stops it at once" '
  printf "input 2000 2000 1\nadd maxpool2d 500 strides=1\ncall ones 1 2000 2000 1\n" >pool.seq
  "$S" pool.seq >out 2>err & pid=$!
  sleep 1; kill -INT $pid; i=0
  while kill -0 $pid 2>/dev/null && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
  if kill -0 $pid 2>/dev/null; then kill -9 $pid; exit 1; fi
  wait $pid; rc=$?
  [ $rc = 130 ] && grep -qx Interrupted err'
ok "a NUL byte in a script is an error naming the line" 'printf "echo a\ninput 4\000; add dense 2\necho b\n" >nul.seq; "$S" nul.seq >out 2>err; [ $? = 1 ] && [ "$(cat out)" = a ] && grep -q "^nul.seq:2: error: the line holds a NUL byte" err'
ok "invalid UTF-8 in a script is an error naming the line" 'printf "echo a\necho \377\n" | "$S" >out 2>err; [ $? = 1 ] && grep -q "^stdin:2: error: the line is not valid UTF-8 text" err'
ok "UTF-8 text is fine, a leading byte order mark is skipped" 'printf "\357\273\277echo caf\303\251\n" >bom.seq; [ "$("$S" bom.seq)" = "$(printf "caf\303\251")" ]'
ok "-c: a newline separates lines as in sh -c" '[ "$("$S" -c "$(printf "echo a\necho b")")" = "$(printf "a\nb")" ]'
ok "an option value of the wrong type names the command and the option" '"$S" -c "input 4; add dense 2; compile loss=mse; fit ones 4 4 ones 4 2 epochs=x" 2>err; [ $? = 1 ] && grep -q "fit: .epochs. must be an integer, got .x." err'
ok "threads and set share one range check" '"$S" -c "threads 0" 2>e1; "$S" -c "set threads=300" 2>e2; "$S" --threads 0 2>e3; grep -q "must be an integer from 1 to 256, got 0" e1 && grep -q "from 1 to 256, got 300" e2 && grep -q "from 1 to 256" e3'
ok "an unknown setting changes nothing" '[ "$("$S" --keep-going -c "set threads=1; set threads=2 frob=1; set" 2>/dev/null | grep threads)" = "threads=1" ]'
ok "SIGINT stops the rest of a ; line" '
  "$S" -c "input 600 600 16; add conv2d 64 5; add conv2d 64 5; add conv2d 64 5; call ones 16 600 600 16; echo AFTER" >out 2>err & pid=$!
  sleep 1; kill -INT $pid; wait $pid; rc=$?
  [ $rc = 130 ] && ! grep -q AFTER out'
# Relative paths: in a script file, relative to the file's folder (what it
# reads and what it writes); at the prompt, in -c and on stdin, to the
# current folder; -C DIR runs as if started there.
ok "paths in a script are relative to the script, reads and writes" '
  mkdir -p lesson/data && printf "1,2,3\n4,5,6\n" >lesson/data/x.csv &&
  printf "input 3\nadd dense 2\ncall data/x.csv[1]\nsave out.seqm\n" >lesson/l.seq &&
  mkdir elsewhere && cd elsewhere && "$S" ../lesson/l.seq >out && [ -s ../lesson/out.seqm ] &&
  [ ! -e out.seqm ] && grep -q "^shape=(1, 2)" out'
ok "a script sourced from the prompt or stdin: relative to the script" '
  mkdir -p s2/sub && printf "1,2\n" >s2/sub/x.csv &&
  printf "input 2\nadd dense 1\ncall x.csv\nsave m.seqm\n" >s2/sub/a.seq &&
  echo "source s2/sub/a.seq" | "$S" >out && [ -s s2/sub/m.seqm ] && [ ! -e m.seqm ] &&
  "$S" -c "source s2/sub/a.seq; save top.seqm" >/dev/null && [ -s top.seqm ]'
ok "-c and stdin: relative to the current folder" '
  mkdir -p cwd && printf "1,2\n" >cwd/x.csv && cd cwd &&
  "$S" -c "input 2; add dense 1; call x.csv; save c.seqm" >/dev/null && [ -s c.seqm ] &&
  printf "input 2\nadd dense 1\ncall x.csv[0]\n" | "$S" | grep -q "^shape=(1, 1)"'
ok "-C DIR runs as if started in DIR; each -C relative to the one before" '
  mkdir -p cdir/inner && printf "echo in inner\n" >cdir/inner/i.seq &&
  [ "$("$S" -C cdir -C inner i.seq)" = "in inner" ] &&
  "$S" -C cdir -c "input 2; add dense 1; save made.seqm" && [ -s cdir/made.seqm ] &&
  "$S" --directory=cdir/inner -c "source i.seq" | grep -qx "in inner"'
ok "-C to a missing folder: message, exit 2" '"$S" -C nowhere -c "echo x" >out 2>err; [ $? = 2 ] && [ ! -s out ] && grep -q "cannot change to .nowhere.: No such file or directory" err'
ok "history save: a script that replays to the same model" '
  printf "input 3\nadd dense 4 relu\nadd nope\nadd dense 2; pop; add dense 5\nundo\nhistory save h.seq\n" | "$S" --seed 9 --keep-going 2>/dev/null;
  head -n 3 h.seq | grep -qx "seed 9" &&
  [ "$("$S" -c "source h.seq; weights")" = "$("$S" --seed 9 -c "input 3; add dense 4 relu; add dense 2; pop; weights")" ]'
ok "the example scripts run from any folder and write nothing into the source tree" '
  before=$(ls -la "$TOP/scripts" "$TOP/scripts/data")
  mkdir -p far/away && cd far/away || exit 1
  for f in "$TOP"/scripts/*.seq; do
    n=$(basename "$f" .seq)
    "$S" "$f" >out 2>err || { cat err; exit 1; }
    [ ! -s err ] || { cat err; exit 1; }
    sed -E "s# - [0-9]+s [0-9]+(s|ms|us)/step# - Ts Tms/step#; s#^( *[0-9]+/[0-9]+) - [0-9]+s - #\1 - Ts - #" out >out.cmp
    "$TXTCMP" -t 1e-5 "$TOP/tests/transcripts/script_$n.out" out.cmp || exit 1
  done
  [ -z "$(ls)" ] || [ "$(ls)" = "$(printf "err\nout\nout.cmp")" ] || { ls; exit 1; }
  [ "$before" = "$(ls -la "$TOP/scripts" "$TOP/scripts/data")" ]'
# at_prompt SIGNAL TEXT FILE: TEXT typed at a prompt in tmux, then SIGNAL
# sent to seqsh; FILE gets the history, FILE.rc the exit status
FUNCS=$work/funcs.sh
export FUNCS
cat >"$FUNCS" <<'EOF'
# until SECONDS COMMAND...: polls COMMAND every 0.1 s for up to SECONDS
until_ok() {
    n=$(($1 * 10)); shift
    while [ $n -gt 0 ]; do "$@" && return 0; sleep 0.1; n=$((n - 1)); done
    return 1
}
shows() { tmux -L "$1" capture-pane -p -t "$2" 2>/dev/null | grep -qF -- "$3"; }
# start_session SOCK NAME HISTFILE [RC]: seqsh in a detached tmux session;
# the exit status goes to RC (default HISTFILE.rc)
start_session() {
    [ -e "$PWD/$1" ] || ln -s "$S" "$PWD/$1"
    tmux -L $1 new-session -d -s $2 -x 80 -y 10 "env SEQSH_HISTFILE=$PWD/$3 INPUTRC=/dev/null $PWD/$1; echo rc=\$? >$PWD/${4:-$3.rc}; sleep 30"
    until_ok 10 shows $1 $2 "seqsh>"
}
# at_prompt SIGNAL TEXT FILE: `echo TEXT` run at a prompt, then SIGNAL
at_prompt() {
    sock=seqsh-$1-$$
    start_session $sock main $3
    tmux -L $sock send-keys -t main "echo $2" Enter
    until_ok 10 shows $sock main "$2"
    until_ok 10 shows $sock main "seqsh> "
    pkill -$1 -f "^$PWD/$sock\$"
    until_ok 10 test -s $PWD/$3.rc
    tmux -L $sock kill-server
}
EOF
ok "SIGTERM at the prompt: history saved, exit 143" '
  command -v tmux >/dev/null || exit 0
  . "$FUNCS"; at_prompt TERM term-kept t143; grep -q term-kept t143 && grep -qx rc=143 t143.rc'
ok "SIGHUP at the prompt: history saved, exit 129" '
  command -v tmux >/dev/null || exit 0
  . "$FUNCS"; at_prompt HUP hup-kept thup; grep -q hup-kept thup && grep -qx rc=129 thup.rc'
ok "two sessions ending together both keep their history" '
  command -v tmux >/dev/null || exit 0
  . "$FUNCS"; sock=seqsh-two-$$
  start_session $sock one both rc1 && start_session $sock two both rc2 || exit 1
  tmux -L $sock send-keys -t one "echo from-one" Enter; tmux -L $sock send-keys -t two "echo from-two" Enter
  until_ok 10 shows $sock one from-one && until_ok 10 shows $sock two from-two
  tmux -L $sock send-keys -t one C-d; tmux -L $sock send-keys -t two C-d
  until_ok 10 test -s rc1 && until_ok 10 test -s rc2; tmux -L $sock kill-server
  grep -q from-one both && grep -q from-two both'
# ---- issue 18: never lose, never hang, never lie -------------------------
ok "save onto a FIFO, a socket or a device: an error, and nothing is replaced" '
  mkdir targets && cd targets && mkfifo ff || exit 1
  "$S" -c "input 3; add dense 2; save ff" 2>err; [ $? = 1 ] && [ -p ff ] &&
    grep -q "cannot write .ff.: not a regular file (a FIFO)" err || exit 1
  "$S" -c "input 3; add dense 2; save_weights ff" 2>/dev/null; [ $? = 1 ] && [ -p ff ] || exit 1
  "$S" -c "input 3; add dense 2; call ones 1 3 save=ff" >/dev/null 2>&1; [ $? = 1 ] && [ -p ff ] || exit 1
  if /usr/bin/python3 -c "import socket; socket.socket(socket.AF_UNIX).bind(\"sock\")" 2>/dev/null; then
    "$S" -c "input 3; add dense 2; save sock" 2>err; [ $? = 1 ] && [ -S sock ] &&
      grep -q "not a regular file (a socket)" err || exit 1
  fi
  if mknod -m 666 myfull c 1 7 2>/dev/null; then
    "$S" -c "input 3; add dense 2; save myfull" 2>err; [ $? = 1 ] && [ -c myfull ] &&
      grep -q "not a regular file (a character device)" err || exit 1
  fi
  [ "$(ls -A | grep -c seqsh-tmp)" = 0 ]'
ok "save through a symbolic link replaces its target, in the target folder; the link stays" '
  mkdir -p links/sub && cd links && ln -s sub/real.seqm m.seqm && ln -s loop loop || exit 1
  "$S" -c "seed 3; input 3; add dense 2; save m.seqm" && [ -L m.seqm ] && [ -f sub/real.seqm ] || exit 1
  "$S" -c "seed 4; input 3; add dense 2; save m.seqm" && [ -L m.seqm ] || exit 1
  [ "$("$S" -c "load m.seqm; weights")" = "$("$S" -c "seed 4; input 3; add dense 2; weights")" ] || exit 1
  "$S" -c "input 3; add dense 2; save loop" 2>err; [ $? = 1 ] && grep -q "cannot write .loop.: Too many levels of symbolic links" err || exit 1
  [ "$(ls -A . sub | grep -c seqsh-tmp)" = 0 ]'
ok "kill -9 during save: the next save to the path removes the orphaned temporaries" '
  mkdir k9 && cd k9 || exit 1
  printf "input 2000\nadd dense 2000\nadd dense 2000\n" >t.seq
  for i in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20; do echo "save m.seqm" >>t.seq; done
  d=0.2; n=0
  while [ "$(ls -A | grep -c "^\.m\.seqm\.seqsh-tmp-")" -lt 1 ] && [ $n -lt 40 ]; do
    "$S" t.seq & pid=$!; sleep $d; kill -9 $pid 2>/dev/null; wait $pid 2>/dev/null
    d=$(echo "$d + 0.05" | bc); n=$((n + 1))
  done
  orphan=$(ls -A | grep "^\.m\.seqm\.seqsh-tmp-" | head -n 1); [ -n "$orphan" ] || exit 1
  # one of a live process (this shell) and one of another host are not touched
  live=$(echo "$orphan" | sed "s/-[0-9]*-[0-9]*\$/-$$-0/"); : >"$live"
  : >.m.seqm.seqsh-tmp-otherhost-1-0; : >.n.seqm.seqsh-tmp-x-1-0
  "$S" -c "input 3; add dense 2; save m.seqm" || exit 1
  [ "$(ls -A | grep "^\.m\.seqm\.seqsh-tmp-" | sort | tr "\n" " ")" = "$(printf "%s\n" "$live" .m.seqm.seqsh-tmp-otherhost-1-0 | sort | tr "\n" " ")" ] &&
    [ -e .n.seqm.seqsh-tmp-x-1-0 ] && "$S" -c "load m.seqm"'
ok "source of a FIFO waits for its writer, as sh does" '
  mkfifo src.fifo
  "$S" -c "source src.fifo; echo after" >out 2>err & pid=$!
  sleep 0.3; timeout 5 sh -c "echo \"echo from-fifo\" >src.fifo"; wait $pid
  [ $? = 0 ] && [ "$(cat out)" = "$(printf "from-fifo\nafter")" ]'
ok "SIGINT while source waits for a FIFO writer: Interrupted, exit 130" '
  . "$FUNCS"; mkfifo wait.fifo
  "$S" -c "source wait.fifo; echo after" >out 2>err & pid=$!
  sleep 0.5; kill -INT $pid
  until_ok 2 sh -c "! kill -0 $pid 2>/dev/null" || { kill -9 $pid; exit 1; }
  wait $pid; [ $? = 130 ] && ! grep -q after out && grep -qx Interrupted err'
ok "call on a FIFO reads what its writer sends" '
  mkfifo data.fifo
  (sleep 0.3; printf "1,2\n3,4\n" >data.fifo) &
  "$S" -c "input 2; add dense 1; call data.fifo" | grep -qx "shape=(2, 1) dtype=float32"'
ok "SIGINT while a gzip bomb inflates stops within a second, exit 130" '
  . "$FUNCS"
  yes 0,0,0,0,0,0,0 | head -c 67108864 | gzip -9 >m.gz
  for i in $(seq 64); do cat m.gz; done >bomb.csv.gz
  "$S" -c "set memory_limit=64G; input 7; add dense 1; call bomb.csv.gz" >/dev/null 2>err & pid=$!
  sleep 1; kill -INT $pid
  until_ok 1 sh -c "! kill -0 $pid 2>/dev/null" || { kill -9 $pid; exit 1; }
  wait $pid; [ $? = 130 ] && grep -qx Interrupted err'
ok "memory_limit stops a gzip bomb as soon as it inflates past the limit" '
  "$S" -c "set memory_limit=100M; input 7; add dense 1; call bomb.csv.gz" 2>err; [ $? = 1 ] &&
    grep -q "decompresses to more than the memory limit of 100.0 MiB" err'
ok "memory_limit refuses a .npy bigger than the limit before reading it" '
  h=$(printf "{\047descr\047: \047<f4\047, \047fortran_order\047: False, \047shape\047: (268435456,), }")
  printf "\223NUMPY\001\000\166\000%-117s\n" "$h" >big.npy && truncate -s $((128 + 1073741824)) big.npy || exit 1
  "$S" -c "set memory_limit=100M; input 1; call big.npy" 2>err; [ $? = 1 ] &&
    grep -q "reading .big.npy. would need 1.0 GiB of memory, more than the memory limit of 100.0 MiB" err'
ok "the default memory limit respects ulimit -v" '
  out=$( (ulimit -v 1000000 && "$S" -c set) 2>&1)
  # AddressSanitizer cannot start under ulimit -v: nothing to check there
  case $out in *AddressSanitizer*) exit 0;; esac
  [ "$(echo "$out" | sed -n "s/^memory_limit=//p")" = 488M ]'
ok "shape overflows are errors naming the dimensions" '
  "$S" -c "input 65536 65536 65536 65536; add flatten" 2>e1; [ $? = 1 ] &&
    grep -q "layer flatten: 65536 x 65536 x 65536 x 65536 is too large" e1 || exit 1
  "$S" -c "input 65536 65536 65536 65536; add reshape -1" 2>e2; [ $? = 1 ] &&
    grep -q "layer reshape: 65536 x 65536 x 65536 x 65536 is too large" e2 || exit 1
  printf "\000\000\010\003\000\000\000\000\377\377\377\377\377\377\377\377" >empty-idx3-ubyte
  "$S" -c "add flatten; call empty-idx3-ubyte" 2>e3; [ $? = 1 ] &&
    grep -q "0 x 4294967295 x 4294967295 is too large" e3'
ok "20,000 layers: added, saved, loaded and popped in well under a second each" '
  { echo "input 2"; i=0; while [ $i -lt 20000 ]; do echo "add dense 2"; i=$((i + 1)); done
    echo "time save deep.seqm"; echo "time load deep.seqm"; echo "time pop"; echo "time summary"; } >deep.seq
  t0=$(date +%s%N); timeout 60 "$S" deep.seq >out || exit 1; t1=$(date +%s%N)
  [ $(( (t1 - t0) / 1000000 )) -lt 5000 ] || { echo "took $(( (t1 - t0) / 1000000 )) ms"; exit 1; }
  grep "^Time: " out | awk "{ if (\$2 >= 1000) bad = 1 } END { exit bad }" &&
    [ "$(grep -c "^Time: " out)" = 4 ]'
ok "a script reading .h5 files runs each line once, also under valgrind (the reading process leaves the script's file offset alone)" '
  printf "load $TOP/tests/fixtures/keras/a_keras215.h5\necho one\nload $TOP/tests/fixtures/keras/a_keras215.h5\necho two\n" >h5twice.seq
  [ "$("$S" h5twice.seq 2>&1 | grep -v "^note:" | tr "\n" " ")" = "one two " ] || exit 1
  # (valgrind cannot run a binary built with AddressSanitizer)
  command -v valgrind >/dev/null && ! grep -qa __asan_init "$S" || exit 0
  [ "$(timeout 300 valgrind -q "$S" h5twice.seq 2>&1 | grep -v "^note:" | tr "\n" " ")" = "one two " ]'
ok "control characters never reach the terminal raw" '
  printf "frob\033c\nadd dense 2 name=a\033]0x\007\n" | "$S" --keep-going 2>err
  ! grep -q "$(printf "\033")" err && grep -q "unknown command .frob\\\\x1bc." err &&
    grep -q "invalid layer name .a\\\\x1b\]0x\\\\x07." err'
ok "SIGTERM in -c: exit 143; SIGHUP in a script: exit 129" '
  "$S" -c "input 600 600 16; add conv2d 64 5; add conv2d 64 5; call ones 16 600 600 16; echo AFTER" >out 2>&1 & pid=$!
  sleep 1; kill -TERM $pid; wait $pid; [ $? = 143 ] && ! grep -q AFTER out || exit 1
  printf "input 600 600 16\nadd conv2d 64 5\nadd conv2d 64 5\ncall ones 16 600 600 16\necho AFTER\n" >hup.seq
  "$S" hup.seq >out 2>&1 & pid=$!
  sleep 1; kill -HUP $pid; wait $pid; [ $? = 129 ] && ! grep -q AFTER out'
ok "SIGINT inside a sourced file stops it and the file that sourced it" '
  printf "input 600 600 16\nadd conv2d 64 5\nadd conv2d 64 5\ncall ones 16 600 600 16\necho INNER\n" >inner.seq
  printf "source inner.seq\necho OUTER\n" >outer.seq
  "$S" outer.seq >out 2>err & pid=$!
  sleep 1; kill -INT $pid; wait $pid; [ $? = 130 ] && ! grep -q -e INNER -e OUTER out'
echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
