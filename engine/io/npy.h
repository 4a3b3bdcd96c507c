/* npy.h - NumPy's .npy and .npz formats (engine-internal).
 *
 * Readers accept what numpy.save / numpy.savez / numpy.savez_compressed
 * write: format versions 1.0, 2.0 and 3.0; dtypes float32, float64, int8,
 * int16, int32, int64, uint8, uint16, uint32, uint64, bool, little- or
 * big-endian; C or Fortran order; rank 0 to SQ_MAX_RANK. Values are
 * converted to float32 in C order. Sizes in headers are checked against
 * the real data size before anything is allocated. Writers write float32
 * ('<f4'), version 1.0 headers padded to a multiple of 64 bytes, and .npz
 * archives as numpy.savez does (stored, ZIP64 extra fields), to a temporary
 * file renamed into place. */
#ifndef SEQSH_NPY_H
#define SEQSH_NPY_H

#include "model.h"

/* An array with a name, as held in an .npz archive. */
typedef struct {
    char *name;      /* key without ".npy", malloc'd */
    sq_tensor t;     /* t.shape.rank may be 0 (a scalar: one value) */
} npz_entry;

/* Parses one .npy image held in memory. */
int npy_read_mem(const unsigned char *buf, size_t len, sq_tensor *out,
                 sq_error *err);
/* Reads a .npy file. Errors name the file. */
int npy_read_file(const char *path, sq_tensor *out, sq_error *err);
/* Writes t as a .npy file. */
int npy_write_file(const char *path, const sq_tensor *t, sq_error *err);

/* Reads every array of an .npz archive in archive order. *entries is
 * malloc'd; free with npz_entries_free. */
int npz_read_mem(const unsigned char *buf, size_t len, npz_entry **entries,
                 int *n, sq_error *err);
int npz_read_file(const char *path, npz_entry **entries, int *n,
                  sq_error *err);
/* Writes the n arrays, in order, as members "NAME.npy". */
int npz_write_file(const char *path, const npz_entry *entries, int n,
                   sq_error *err);
void npz_entries_free(npz_entry *entries, int n);

/* Reads a whole file into a malloc'd buffer (also used by other readers). */
int sq_read_whole_file(const char *path, unsigned char **buf, size_t *len,
                       sq_error *err);
/* Writes len bytes to path through a temporary file in the same folder,
 * renamed into place; the old file stays intact on any failure. */
int sq_write_file_atomic(const char *path, const void *buf, size_t len,
                         sq_error *err);

#endif
