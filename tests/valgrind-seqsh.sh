#!/bin/sh
# valgrind-seqsh.sh - runs seqsh ($SEQSH_REAL) under valgrind: any memory
# error or leak makes it exit 99, which fails the calling test. Leaks inside
# Graphviz and the font libraries (plot) are suppressed (valgrind.supp).
exec valgrind -q --error-exitcode=99 --leak-check=full --show-leak-kinds=definite,indirect \
    --errors-for-leak-kinds=definite,indirect \
    --suppressions="$(dirname "$0")/valgrind.supp" "$SEQSH_REAL" "$@"
