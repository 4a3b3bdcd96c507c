/* fuzz.h - what the seqsh fuzz harnesses share.
 *
 * Each harness defines its entry with FUZZ_ENTRY(name). Built with clang's
 * libFuzzer (tests/fuzz/build.sh) that is LLVMFuzzerTestOneInput; built
 * with -DFUZZ_REPLAY (tests/fuzz/replay.c, `make check`) it is an ordinary
 * function fuzz_NAME that the replayer calls for every corpus file. */
#ifndef SEQSH_FUZZ_H
#define SEQSH_FUZZ_H

#include <stddef.h>
#include <stdint.h>

#ifdef FUZZ_REPLAY
#define FUZZ_ENTRY(name) int fuzz_##name(const uint8_t *data, size_t size)
#else
#define FUZZ_ENTRY(name) int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
#endif

/* A private scratch folder, made once (mkdtemp under $TMPDIR or /tmp) and
 * removed at exit; every harness keeps its files there. */
const char *fuzz_scratch_dir(void);
/* Writes data to NAME inside the scratch folder (plain write, no fsync) and
 * returns the full path in a static buffer, or NULL. */
const char *fuzz_write_scratch(const char *name, const uint8_t *data, size_t size);
/* Removes the regular files in the scratch folder (links are kept). */
void fuzz_clean_scratch(void);
/* The seqsh source tree ($SEQSH_SRCDIR, $srcdir, or the build's). */
const char *fuzz_srcdir(void);
/* Saves s's model as path and loads it back into a new session: aborts
 * when loading fails or the summary or weights text changed (for .json and
 * .h5: changed from what a Keras format keeps of the model). */
struct sq_session;
void fuzz_round_trip(struct sq_session *s, const char *path);

#endif
