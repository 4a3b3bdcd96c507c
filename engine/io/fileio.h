/* fileio.h - whole files (engine-internal). */
#ifndef SEQSH_FILEIO_H
#define SEQSH_FILEIO_H

#include <stdint.h>
#include "base/base.h"

/* Reads a whole file into a malloc'd buffer (also used by other readers):
 * a regular file (its size checked against the memory limit first) or a
 * pipe (a FIFO's writer waited for; read up to 4 GiB). Folders, devices and
 * sockets are refused. Polls the interrupt flag every 16 MiB. */
int sq_read_whole_file(const char *path, unsigned char **buf, size_t *len,
                       sq_error *err);
/* Writes len bytes to path through a temporary file in the (final
 * target's) folder, renamed into place; the old file stays intact on any
 * failure. Only a regular file or a new path is written (a symbolic link
 * is written through); stale temporaries of earlier saves to the same
 * path are removed first. */
int sq_write_file_atomic(const char *path, const void *buf, size_t len,
                         sq_error *err);
/* CRC-32 (zlib) of p[0..n), polling the interrupt flag every 16 MiB. */
int sq_crc32_polled(const unsigned char *p, size_t n, uint32_t *crc, sq_error *err);

#endif
