#!/bin/sh
# tty_test.sh - seqsh in a real terminal (tmux): Tab completion, Ctrl-C at the
# prompt and during a long call, pasted text, history across two sessions.
# Skipped (77) when tmux is not installed.
command -v tmux >/dev/null 2>&1 || { echo "tmux not installed: skipped"; exit 77; }
: "${SEQSH:=$(pwd)/seqsh}"
work=$(mktemp -d)
sock="seqsh-test-$$"
trap 'tmux -L "$sock" kill-server 2>/dev/null; rm -rf "$work"' EXIT
pass=0 fail=0

start() {
    tmux -L "$sock" kill-server 2>/dev/null
    sleep 0.3
    tmux -L "$sock" new-session -d -x 150 -y 50 \
        "cd '$work' && env SEQSH_HISTFILE='$work/hist' INPUTRC=/dev/null TERM=xterm '$SEQSH'; sleep 30"
    wait_for 'seqsh>'
}
screen() { tmux -L "$sock" capture-pane -p -S -200 2>/dev/null; }
keys() { tmux -L "$sock" send-keys "$@"; }
# wait_for TEXT [SECONDS]: poll the screen up to SECONDS (10) seconds
wait_for() {
    i=0
    while [ $i -lt $((${2:-10} * 10)) ]; do
        screen | grep -qF -- "$1" && return 0
        sleep 0.1; i=$((i + 1))
    done
    return 1
}
ok() {  # name, then a command that must succeed
    name=$1; shift
    if "$@"; then pass=$((pass + 1)); echo "PASS: $name"
    else fail=$((fail + 1)); echo "FAIL: $name"; screen | grep -v "^$" | tail -15; fi
}

start
keys 'input 28 28 1' Enter
keys 'add upsampling2' Tab
ok "Tab completes a layer kind" wait_for 'seqsh> add upsampling2d'
# conv2d is a prefix of conv2dtranspose: typed whole
keys C-u 'add conv2d 8 3 pad' Tab
ok "Tab completes an option name" wait_for 'add conv2d 8 3 padding='
keys 'sa' Tab
ok "Tab completes an option value" wait_for 'padding=same'
# the first Tab inserts the common prefix 'relu'; as in bash, the Tab after
# an unchanged line lists the choices
keys 're' Tab
sleep 0.3
keys Tab
sleep 0.3
keys Tab
ok "Tab lists activations" wait_for 'relu6'
keys ' ' Enter
ok "the add prints its feedback line" wait_for 'conv2d (Conv2D) (None, 28, 28, 8) 80 params'
keys 'weights co' Tab
ok "Tab completes a layer name" wait_for 'seqsh> weights conv2d'
keys C-u 'add dense 5 half typed' C-c
sleep 0.3
keys 'layers' Enter
ok "Ctrl-C drops the half-typed line" sh -c "! tmux -L '$sock' capture-pane -p | grep -q '^1 '"
keys 'model big' Enter 'input 600 600 16' Enter 'add conv2d 64 5' Enter 'add conv2d 64 5' Enter \
     'add conv2d 64 5' Enter 'add conv2d 64 5' Enter
wait_for 'conv2d_4 (Conv2D)'
keys 'call ones 8 600 600 16' Enter
sleep 1
keys C-c
ok "Ctrl-C stops a long call" wait_for 'Interrupted' 60
keys 'summary' Enter
ok "the model is intact after Ctrl-C" wait_for 'Total params: 333,056' 30
keys 'model' Enter 'input 64' Enter 'add dense 512 relu' Enter 'add dense 10 softmax' Enter \
     'compile optimizer=sgd loss=sparse_categorical_crossentropy' Enter 'save_weights a.npz' Enter \
     'fit random 20000 64 zeros 20000 1 epochs=50 batch_size=8' Enter
wait_for 'Epoch 1/50'
sleep 1
keys C-c
wait_for 'Interrupted'
keys 'save_weights b.npz' Enter
sleep 0.5
ok "Ctrl-C during fit keeps the trained weights" sh -c "[ -s '$work/a.npz' ] && [ -s '$work/b.npz' ] && ! cmp -s '$work/a.npz' '$work/b.npz'"
ok "the progress bar is redrawn in place" wait_for '] - ETA: '
tmux -L "$sock" set-buffer "$(printf 'echo pasted-one\necho pasted-two')"
tmux -L "$sock" paste-buffer -p
keys Enter
ok "pasted lines run one by one" wait_for 'pasted-two'
keys 'echo remember-me' Enter
keys C-d
sleep 0.5
ok "history is saved with mode 0600" sh -c "grep -q 'echo remember-me' '$work/hist' && [ \"\$(stat -c %a '$work/hist')\" = 600 ]"
start
keys Up
ok "history comes back in a new session" wait_for 'seqsh> echo remember-me'
keys C-u 'quit' Enter
echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
