#!/bin/sh
# build.sh - builds seqsh's libFuzzer harnesses with clang:
#   tests/fuzz/build.sh [HARNESS...]      (default: all seven)
# Binaries go to tests/fuzz/bin/ (override with FUZZ_OUT=DIR). Needs clang and
# libclang-rt-14-dev (Debian), OpenBLAS and zlib headers. The engine and
# shell sources are compiled here with the same flags, not through automake.
# Needs a configured tree (repl/commands.c includes config.h): run
# ./bootstrap && ./configure first. `build.sh replay` builds bin/fuzz_replay
# with gcc, the make-check replayer, for a quick look without automake.
# Run a fuzzer as tests/fuzz/run.sh does (OPENBLAS_NUM_THREADS=1, nice).
# The script and model-file harnesses chdir into their scratch folder:
# give libFuzzer absolute paths (corpus folders, files to replay).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
out=${FUZZ_OUT:-$here/bin}
CC=${CC:-clang}
SAN=${FUZZ_SAN:--fsanitize=fuzzer,address,undefined}
mkdir -p "$out/obj"

BLAS_CFLAGS=$(pkg-config --cflags openblas 2>/dev/null || echo -I/usr/include/x86_64-linux-gnu/openblas-pthread)
BLAS_LIBS=$(pkg-config --libs openblas 2>/dev/null || echo -lopenblas)
FMT_CFLAGS=$(pkg-config --cflags jansson hdf5 libprotobuf-c ompi-c libgvc cairo 2>/dev/null)
FMT_LIBS=$(pkg-config --libs jansson hdf5 libprotobuf-c ompi-c libgvc cairo 2>/dev/null)
CFLAGS="-std=c11 -g -O1 -fno-omit-frame-pointer -fno-sanitize-recover=undefined \
 -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE -fno-math-errno \
 -I$top -I$top/engine -I$top/engine/include -I$top/repl $BLAS_CFLAGS $FMT_CFLAGS \
 -DFUZZ_DEFAULT_SRCDIR=\"$top\""
# the objects: everything but -fsanitize=fuzzer's main (fuzzer-no-link)
OBJ_SAN=$(echo "$SAN" | sed 's/fuzzer/fuzzer-no-link/')
WRAP="-Wl,--wrap=sq_write_file_atomic,--wrap=sq_malloc,--wrap=sq_calloc,--wrap=sq_realloc,--wrap=sq_set_threads"

# ONNX's messages from Debian's onnx.proto, as the Makefile makes them
ONNX_PROTO=${ONNX_PROTO:-/usr/include/onnx/onnx.proto}
mkdir -p "$out/gen"
[ "$out/gen/onnx.pb-c.c" -nt "$ONNX_PROTO" ] \
    || protoc-c --c_out="$out/gen" -I"$(dirname "$ONNX_PROTO")" "$ONNX_PROTO"
CFLAGS="$CFLAGS -I$out/gen"
engine_src=$(cd "$top" && find engine -name "*.c" -not -path "engine/io/gen/*" | sort)
repl_src=$(cd "$top" && ls repl/*.c | grep -v -e main.c -e interactive.c)
objs=""
[ "${1:-}" = replay ] || for f in $engine_src $repl_src tests/fuzz/fuzz_common.c gen; do
    if [ "$f" = gen ]; then
        $CC $CFLAGS $OBJ_SAN -c "$out/gen/onnx.pb-c.c" -o "$out/obj/onnx.pb-c.o"
        objs="$objs $out/obj/onnx.pb-c.o"
        continue
    fi
    o="$out/obj/$(echo "$f" | tr / _ | sed 's/\.c$/.o/')"
    if [ ! -e "$o" ] || [ "$top/$f" -nt "$o" ] || [ "$0" -nt "$o" ] \
        || [ -n "$(find "$top/engine" "$top/repl" -name "*.h" -newer "$o")" ]; then
        $CC $CFLAGS $OBJ_SAN -c "$top/$f" -o "$o"
    fi
    objs="$objs $o"
done

harnesses=${*:-script npy npz data modelfile tfjs h5}
if [ "$harnesses" = replay ]; then
    # the make-check replayer, plain gcc, no libFuzzer: bin/fuzz_replay
    RCC=${REPLAY_CC:-gcc}
    $RCC $(echo "$CFLAGS" | sed 's/-fno-sanitize-recover=undefined//') -DFUZZ_REPLAY \
        "$here/replay.c" "$here/fuzz_common.c" "$here/fuzz_script.c" "$here/fuzz_npy.c" \
        "$here/fuzz_npz.c" "$here/fuzz_data.c" "$here/fuzz_modelfile.c" "$here/fuzz_tfjs.c" "$here/fuzz_h5.c" \
        $(for f in $engine_src $repl_src; do echo "$top/$f"; done) "$out/gen/onnx.pb-c.c" \
        $WRAP $BLAS_LIBS $FMT_LIBS -lz -lm -lpthread -o "$out/fuzz_replay"
    echo "built $out/fuzz_replay"
    exit 0
fi
for h in $harnesses; do
    $CC $CFLAGS $SAN "$here/fuzz_$h.c" $objs $WRAP $BLAS_LIBS $FMT_LIBS -lz -lm -lpthread -o "$out/fuzz_$h"
    echo "built $out/fuzz_$h"
done
