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

#include "base/base.h"
#include "io/bytes.h"
#include "io/fileio.h"

/* An array with a name, as held in an .npz archive: the public
 * sq_named_tensor (name without ".npy", malloc'd; t.shape.rank may be 0, a
 * scalar). */
typedef sq_named_tensor npz_entry;

/* Parses one .npy image held in memory. */
int npy_read_mem(const unsigned char *buf, size_t len, sq_tensor *out,
                 sq_error *err);
/* Reads a .npy file. Errors name the file. A regular file is read straight
 * into the tensor's memory (float32 in this machine's byte order without a
 * copy, other types through a small buffer): no second copy of the data. */
int npy_read_file(const char *path, sq_tensor *out, sq_error *err);
/* The same for the len bytes of the open regular file fd, read piece
 * bytes at a time (a test may make them small), named subject. */
int npy_read_fd(int fd, size_t len, const char *subject, size_t piece, sq_tensor *out,
                sq_error *err);
/* Writes t as a .npy file. */
int npy_write_file(const char *path, const sq_tensor *t, sq_error *err);

/* Reads every array of an .npz archive in archive order. *entries is
 * malloc'd; free with sq_named_free. */
int npz_read_mem(const unsigned char *buf, size_t len, npz_entry **entries,
                 int *n, sq_error *err);
int npz_read_file(const char *path, npz_entry **entries, int *n,
                  sq_error *err);
/* Writes the n arrays, in order, as members "NAME.npy". */
int npz_write_file(const char *path, const npz_entry *entries, int n,
                   sq_error *err);
/* For npz.c: parses one .npy image (`subject` names it in messages; on
 * failure *out is untouched), and appends t as a float32 .npy image, byte
 * for byte as numpy.save writes it. */
int npy_parse(const unsigned char *buf, size_t len, const char *subject,
              sq_tensor *out, sq_error *err);
int npy_append(bbuf *b, const sq_tensor *t, const char *subject, sq_error *err);
/* The same as int64 ('<i8') when int64 is set: t holds whole numbers. */
int npy_append_as(bbuf *b, const sq_tensor *t, int int64, const char *subject,
                  sq_error *err);
/* npz_write_file with every member int64 when int64 is set. */
int npz_write_file_as(const char *path, const npz_entry *entries, int n, int int64,
                      sq_error *err);

#endif
