#!/bin/sh
# valgrind-seqsh.sh - runs seqsh ($SEQSH_REAL) under valgrind: any memory
# error or leak makes it exit 99, which fails the calling test.
exec valgrind -q --error-exitcode=99 --leak-check=full --show-leak-kinds=definite,indirect \
    --errors-for-leak-kinds=definite,indirect "$SEQSH_REAL" "$@"
