#!/bin/sh
# tty_see.sh - the teaching commands in a real terminal (tmux): plot history
# takes the terminal's width, show draws in 24-bit colour when COLORTERM
# says the terminal has it and in plain shades when it does not; Tab
# completes summary's columns and plot history. Skipped
# (77) when tmux is not installed.
command -v tmux >/dev/null 2>&1 || { echo "tmux not installed: skipped"; exit 77; }
: "${SEQSH:=$(pwd)/seqsh}"
: "${srcdir:=.}"
top=$(cd "$srcdir" && pwd)
work=$(mktemp -d)
sock="seqsh-see-$$"
trap 'tmux -L "$sock" kill-server 2>/dev/null; rm -rf "$work"' EXIT
pass=0 fail=0

start() {  # COLORTERM value
    tmux -L "$sock" kill-server 2>/dev/null
    sleep 0.3
    tmux -L "$sock" new-session -d -x 100 -y 60 \
        "cd '$top' && env SEQSH_HISTFILE= INPUTRC=/dev/null TERM=xterm-256color COLORTERM='$1' '$SEQSH'; sleep 30"
    wait_for 'seqsh>'
}
screen() { tmux -L "$sock" capture-pane -p "$@" -S -200 2>/dev/null; }
keys() { tmux -L "$sock" send-keys "$@"; }
wait_for() {
    i=0
    while [ $i -lt $((${2:-10} * 10)) ]; do
        screen | grep -qF -- "$1" && return 0
        sleep 0.1; i=$((i + 1))
    done
    return 1
}
ok() {
    name=$1; shift
    if "$@"; then pass=$((pass + 1)); echo "PASS: $name"
    else fail=$((fail + 1)); echo "FAIL: $name"; screen | grep -v "^$" | tail -20; fi
}
# the length in characters of the first screen line holding TEXT
width_of() { screen | grep -F -- "$1" | head -n 1 | tr -d '\n' | wc -m; }

start truecolor
keys 'input 4; add dense 3 softmax; compile optimizer=sgd loss=sparse_categorical_crossentropy' Enter
keys 'fit random 40 4 zeros 40 1 epochs=3 verbose=0' Enter
keys 'plot history' Enter
ok "plot history draws braille" wait_for '── loss (training)'
ok "plot history is as wide as the terminal" [ "$(width_of '└┬')" = 100 ]
keys 'show random 1 4 4 3' Enter
ok "show names the image" wait_for '(4, 4, 3) RGB'
ok "show draws in 24-bit colour" sh -c "tmux -L '$sock' capture-pane -p -e | grep -q '38;2;'"
keys 'summary me' Tab
ok "Tab completes summary's columns" wait_for 'seqsh> summary memory'
keys C-u 'plot hi' Tab
ok "Tab completes plot history" wait_for 'seqsh> plot history'
keys C-u C-d
start ''
keys 'show scripts/data/digits_test.csv.gz label=last shape=8,8' Enter
ok "show draws shades without colour" wait_for '████'
ok "no colour escapes without COLORTERM" sh -c "! tmux -L '$sock' capture-pane -p -e | grep -q '38;2;'"
keys 'quit' Enter
echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
