/* fileio.h - whole files (engine-internal). */
#ifndef SEQSH_FILEIO_H
#define SEQSH_FILEIO_H

#include "base/base.h"

/* Reads a whole file into a malloc'd buffer (also used by other readers). */
int sq_read_whole_file(const char *path, unsigned char **buf, size_t *len,
                       sq_error *err);
/* Writes len bytes to path through a temporary file in the same folder,
 * renamed into place; the old file stays intact on any failure. */
int sq_write_file_atomic(const char *path, const void *buf, size_t len,
                         sq_error *err);

#endif
