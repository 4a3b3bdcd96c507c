/* h5.c - Keras's HDF5 whole-model file (model.save("m.h5")) through
 * libhdf5: the root attributes model_config, training_config and
 * keras_version (variable-length or fixed-length strings), and the group
 * model_weights with layer_names, one group per layer with weight_names and
 * the datasets they name ("dense/kernel:0", cell scopes, Keras 3's legacy
 * paths). Optimizer weights are left out with a note.
 *
 * Writing follows Keras 2.6's layout (keras/saving/hdf5_format.py) to a
 * temporary file renamed into place. libhdf5 prints nothing (its error
 * stack is turned off) and its errors become messages. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <hdf5.h>
#include "dist/dist.h"
#include "io/keras.h"
#include "io/h5.h"

#define ATTR_MAX (64u << 20)      /* bytes of one string attribute */
#define NAME_MAX_LEN 1024         /* a layer or weight name */
#define HEADER_LIMIT 64512        /* Keras's HDF5_OBJECT_HEADER_LIMIT */

static void quiet_once(void)
{
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
}

static void quiet(void)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, quiet_once);
}

/* ---- reading ----------------------------------------------------------- */

/* A string attribute (a scalar or a 1-D array of strings) as malloc'd C
 * strings; an empty numeric array (Keras's weight_names of a layer without
 * weights) gives none. Returns -1 with err. */
static int read_strings(hid_t obj, const char *name, char ***out, int *n, const char *path,
                        sq_error *err)
{
    hid_t a = -1, t = -1, sp = -1, mem = -1;
    char **vl = NULL, *fixed = NULL, **res = NULL;
    int rc = -1, count = 0;
    *out = NULL;
    *n = 0;
    if ((a = H5Aopen(obj, name, H5P_DEFAULT)) < 0 || (t = H5Aget_type(a)) < 0
        || (sp = H5Aget_space(a)) < 0) {
        sq_fail(err, "'%s' is corrupt: cannot read attribute %s", path, name);
        goto done;
    }
    hssize_t np = H5Sget_simple_extent_npoints(sp);
    int rank = H5Sget_simple_extent_ndims(sp);
    if (np < 0 || rank > 1 || np > KERAS_MAX_WEIGHTS) {
        sq_fail(err, "'%s': attribute %s has a shape seqsh does not read", path, name);
        goto done;
    }
    if (H5Tget_class(t) != H5T_STRING) {
        if (np == 0) {
            rc = 0;
            goto done;
        }
        sq_fail(err, "'%s': attribute %s is not text", path, name);
        goto done;
    }
    count = (int)np;
    if (!(res = sq_calloc((size_t)count + 1, sizeof *res))) {
        sq_fail(err, "out of memory");
        goto done;
    }
    mem = H5Tcopy(H5T_C_S1);
    H5Tset_cset(mem, H5Tget_cset(t));   /* HDF5 converts no charsets */
    if (H5Tis_variable_str(t) > 0) {
        H5Tset_size(mem, H5T_VARIABLE);
        if (!(vl = sq_calloc((size_t)count + 1, sizeof *vl))) {
            sq_fail(err, "out of memory");
            goto done;
        }
        if (H5Aread(a, mem, vl) < 0) {
            sq_fail(err, "'%s' is corrupt: cannot read attribute %s", path, name);
            goto done;
        }
        for (int i = 0; i < count; i++) {
            size_t len = vl[i] ? strlen(vl[i]) : 0;
            if (len > ATTR_MAX) {
                sq_fail(err, "'%s': attribute %s is too large", path, name);
                goto reclaim;
            }
            if (!(res[i] = sq_strdup(vl[i] ? vl[i] : ""))) {
                sq_fail(err, "out of memory");
                goto reclaim;
            }
        }
        rc = 0;
reclaim:
        H5Dvlen_reclaim(mem, sp, H5P_DEFAULT, vl);
    } else {
        size_t size = H5Tget_size(t);
        if (size == 0 || size > ATTR_MAX || (double)size * (double)count > ATTR_MAX) {
            sq_fail(err, "'%s': attribute %s is too large", path, name);
            goto done;
        }
        H5Tset_size(mem, size);
        H5Tset_strpad(mem, H5T_STR_NULLPAD);
        if (!(fixed = sq_malloc(size * (size_t)count + 1))) {
            sq_fail(err, "out of memory");
            goto done;
        }
        if (H5Aread(a, mem, fixed) < 0) {
            sq_fail(err, "'%s' is corrupt: cannot read attribute %s", path, name);
            goto done;
        }
        for (int i = 0; i < count; i++)
            if (!(res[i] = sq_strndup(fixed + (size_t)i * size, size))) {
                sq_fail(err, "out of memory");
                goto done;
            }
        rc = 0;
    }
done:
    if (rc == 0) {
        *out = res;
        *n = res ? count : 0;
        res = NULL;
    }
    for (int i = 0; res && i < count; i++)
        free(res[i]);
    free(res);
    free(vl);
    free(fixed);
    if (mem >= 0)
        H5Tclose(mem);
    if (sp >= 0)
        H5Sclose(sp);
    if (t >= 0)
        H5Tclose(t);
    if (a >= 0)
        H5Aclose(a);
    return rc;
}

static void strings_free(char **s, int n)
{
    for (int i = 0; s && i < n; i++)
        free(s[i]);
    free(s);
}

/* An attribute that Keras may have split into NAME0, NAME1, ... */
static int read_chunked(hid_t obj, const char *name, char ***out, int *n, const char *path,
                        sq_error *err)
{
    if (H5Aexists(obj, name) > 0)
        return read_strings(obj, name, out, n, path, err);
    *out = NULL;
    *n = 0;
    for (int k = 0;; k++) {
        char nm[64];
        snprintf(nm, sizeof nm, "%s%d", name, k);
        if (H5Aexists(obj, nm) <= 0)
            return 0;
        char **part;
        int np;
        if (read_strings(obj, nm, &part, &np, path, err) < 0)
            return -1;
        char **all = sq_realloc(*out, (size_t)(*n + np + 1) * sizeof *all);
        if (!all) {
            strings_free(part, np);
            return sq_fail(err, "out of memory");
        }
        memcpy(all + *n, part, (size_t)np * sizeof *all);
        free(part);
        *out = all;
        *n += np;
    }
}

/* One optional scalar string attribute of the root; NULL when absent. */
static char *root_text(hid_t f, const char *name, const char *path, sq_error *err, int *bad)
{
    char **s;
    int n;
    *bad = 0;
    if (H5Aexists(f, name) <= 0)
        return NULL;
    if (read_strings(f, name, &s, &n, path, err) < 0 || n != 1) {
        if (n != 1 && !err->msg[0])
            sq_fail(err, "'%s': attribute %s is not one string", path, name);
        strings_free(s, n);
        *bad = 1;
        return NULL;
    }
    char *t = s[0];
    free(s);
    return t;
}

typedef struct {
    hid_t f;
    const char *path;
} h5_ctx;

static int load_weight(void *vctx, const keras_stored *w, float *dst, size_t count, sq_error *err)
{
    h5_ctx *c = vctx;
    (void)count;
    hid_t d = H5Dopen2(c->f, (const char *)w->ref, H5P_DEFAULT);
    herr_t r = d < 0 ? -1 : H5Dread(d, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, dst);
    if (d >= 0)
        H5Dclose(d);
    if (r < 0)
        return sq_fail(err, "'%s' is corrupt: cannot read weight %s", c->path, w->name);
    return 0;
}

/* The stored weights of every layer group listed in layer_names. */
static int list_weights(hid_t f, keras_weights *ws, char ***layers_out, int *nl_out,
                        const char *path, sq_error *err)
{
    char **layers = NULL;
    int nl = 0, rc = -1;
    hid_t mw = H5Gopen2(f, "model_weights", H5P_DEFAULT);
    if (mw < 0)
        return sq_fail(err, "'%s' holds no model_weights group: not a whole-model Keras file "
                       "(a save_weights file?)", path);
    if (read_chunked(mw, "layer_names", &layers, &nl, path, err) < 0)
        goto done;
    for (int i = 0; i < nl; i++) {
        char **wn = NULL;
        int nw = 0;
        if (!*layers[i] || strlen(layers[i]) > NAME_MAX_LEN || strstr(layers[i], "..")) {
            sq_fail(err, "'%s': bad layer name in layer_names", path);
            goto done;
        }
        hid_t g = H5Gopen2(mw, layers[i], H5P_DEFAULT);
        if (g < 0) {
            sq_fail(err, "'%s' is corrupt: layer_names lists %s, which has no group", path,
                    layers[i]);
            goto done;
        }
        int ok = read_chunked(g, "weight_names", &wn, &nw, path, err);
        H5Gclose(g);
        if (ok < 0)
            goto done;
        keras_stored *all = sq_realloc(ws->w, (size_t)(ws->n + nw + 1) * sizeof *all);
        if (!all || ws->n + nw > KERAS_MAX_WEIGHTS) {
            strings_free(wn, nw);
            sq_fail(err, all ? "'%s': too many weights" : "out of memory", path);
            if (all)
                ws->w = all;
            goto done;
        }
        ws->w = all;
        for (int j = 0; j < nw; j++) {
            keras_stored *s = &ws->w[ws->n];
            memset(s, 0, sizeof *s);
            size_t plen = strlen(layers[i]) + strlen(wn[j]) + 32;
            char *dpath = sq_malloc(plen);
            if (!dpath) {
                strings_free(wn, nw);
                sq_fail(err, "out of memory");
                goto done;
            }
            snprintf(dpath, plen, "/model_weights/%s/%s", layers[i], wn[j]);
            s->name = wn[j];
            wn[j] = NULL;
            s->ref = dpath;
            s->group = layers[i];
            s->index = j;
            ws->n++;
            hid_t d = H5Dopen2(f, dpath, H5P_DEFAULT), sp = d >= 0 ? H5Dget_space(d) : -1;
            hid_t t = d >= 0 ? H5Dget_type(d) : -1;
            int rank = sp >= 0 ? H5Sget_simple_extent_ndims(sp) : -1;
            hsize_t dims[SQ_MAX_RANK];
            H5T_class_t cls = t >= 0 ? H5Tget_class(t) : H5T_NO_CLASS;
            if (rank >= 0 && rank <= SQ_MAX_RANK)
                H5Sget_simple_extent_dims(sp, dims, NULL);
            if (t >= 0)
                H5Tclose(t);
            if (sp >= 0)
                H5Sclose(sp);
            if (d >= 0)
                H5Dclose(d);
            if (d < 0 || rank < 0) {
                strings_free(wn, nw);
                sq_fail(err, "'%s' is corrupt: weight %s of layer %s is missing", path,
                        s->name, layers[i]);
                goto done;
            }
            if (rank > SQ_MAX_RANK || (cls != H5T_FLOAT && cls != H5T_INTEGER)) {
                strings_free(wn, nw);
                sq_fail(err, "'%s': weight %s of layer %s is not a numeric array of rank <= %d",
                        path, s->name, layers[i], SQ_MAX_RANK);
                goto done;
            }
            s->shape.rank = rank;
            for (int k = 0; k < rank; k++) {
                if (dims[k] > (1ull << 40)) {
                    strings_free(wn, nw);
                    sq_fail(err, "'%s': weight %s claims %llu values along one axis", path,
                            s->name, (unsigned long long)dims[k]);
                    goto done;
                }
                s->shape.d[k] = (long)dims[k];
            }
        }
        strings_free(wn, nw);
    }
    rc = 0;
done:
    /* the stored weights point at the layer names: the caller keeps them */
    *layers_out = layers;
    *nl_out = nl;
    H5Gclose(mw);
    return rc;
}

static void weights_free(keras_weights *ws)
{
    for (int i = 0; i < ws->n; i++) {
        free(ws->w[i].name);
        free(ws->w[i].ref);
    }
    free(ws->w);
}

/* How many datasets a group holds, all levels down (optimizer_weights). */
static herr_t count_one(hid_t g, const char *name, const H5O_info_t *info, void *n)
{
    (void)g;
    (void)name;
    if (info->type == H5O_TYPE_DATASET)
        (*(long *)n)++;
    return 0;
}

sq_model *sq_h5_read(const char *path, sbuf *notes, sq_error *err)
{
    quiet();
    err->msg[0] = '\0';
    FILE *probe = fopen(path, "rb");
    if (!probe) {
        sq_fail(err, "cannot open '%s': %s", path, strerror(errno));
        return NULL;
    }
    fclose(probe);
    if (H5Fis_hdf5(path) <= 0) {
        sq_fail(err, "'%s' is not an HDF5 file", path);
        return NULL;
    }
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (f < 0) {
        sq_fail(err, "'%s' is a corrupt HDF5 file", path);
        return NULL;
    }
    sq_model *m = NULL;
    json_t *mc = NULL, *tc = NULL;
    keras_weights ws = { 0 };
    char **layers = NULL;
    int bad, nl = 0;
    char what[600];
    snprintf(what, sizeof what, "'%s' (model_config)", path);
    char *config = root_text(f, "model_config", path, err, &bad);
    char *training = bad ? NULL : root_text(f, "training_config", path, err, &bad);
    char *version = bad ? NULL : root_text(f, "keras_version", path, err, &bad);
    if (bad)
        goto done;
    if (!config) {
        sq_fail(err, "'%s' holds no model_config: not a whole-model Keras file (weights only?)",
                path);
        goto done;
    }
    if (!(mc = keras_json_parse(config, strlen(config), what, err)))
        goto done;
    if (training) {
        sq_error e2;
        snprintf(what, sizeof what, "'%s' (training_config)", path);
        if (!(tc = keras_json_parse(training, strlen(training), what, &e2)))
            sb_printf(notes, "note: the training settings are not carried over (%s)\n", e2.msg);
    }
    if (list_weights(f, &ws, &layers, &nl, path, err) < 0)
        goto done;
    h5_ctx hc = { f, path };
    ws.ctx = &hc;
    ws.load = load_weight;
    m = keras_model_from_config(mc, tc, version, &ws, path, notes, err);
    if (m && H5Lexists(f, "optimizer_weights", H5P_DEFAULT) > 0) {
        long n = 0;
        hid_t g = H5Gopen2(f, "optimizer_weights", H5P_DEFAULT);
        if (g >= 0) {
            H5Ovisit(g, H5_INDEX_NAME, H5_ITER_NATIVE, count_one, &n);
            H5Gclose(g);
        }
        sb_printf(notes, "note: the file's optimizer state (%ld arrays) is ignored; fit starts "
                  "afresh\n", n);
    }
done:
    weights_free(&ws);
    strings_free(layers, nl);
    json_decref(mc);
    json_decref(tc);
    free(config);
    free(training);
    free(version);
    H5Fclose(f);
    return m;
}

/* ---- writing -------------------------------------------------------------- */

static int put_text(hid_t obj, const char *name, const char *text)
{
    hid_t t = H5Tcopy(H5T_C_S1), sp = H5Screate(H5S_SCALAR), a = -1;
    int rc = -1;
    if (t >= 0 && sp >= 0 && H5Tset_size(t, H5T_VARIABLE) >= 0
        && H5Tset_cset(t, H5T_CSET_UTF8) >= 0
        && (a = H5Acreate2(obj, name, t, sp, H5P_DEFAULT, H5P_DEFAULT)) >= 0
        && H5Awrite(a, t, &text) >= 0)
        rc = 0;
    if (a >= 0)
        H5Aclose(a);
    if (sp >= 0)
        H5Sclose(sp);
    if (t >= 0)
        H5Tclose(t);
    return rc;
}

/* A list of names as Keras writes it: fixed-length byte strings, split
 * into NAME0, NAME1, ... past the object-header limit; an empty list is an
 * empty float64 array. */
static int put_names(hid_t obj, const char *name, char *const *names, int n)
{
    size_t len = 1;
    for (int i = 0; i < n; i++)
        if (strlen(names[i]) > len)
            len = strlen(names[i]);
    if (n == 0) {
        hsize_t z = 0;
        hid_t sp = H5Screate_simple(1, &z, NULL);
        hid_t a = sp < 0 ? -1 : H5Acreate2(obj, name, H5T_IEEE_F64LE, sp, H5P_DEFAULT, H5P_DEFAULT);
        int rc = a < 0 ? -1 : 0;
        if (a >= 0)
            H5Aclose(a);
        if (sp >= 0)
            H5Sclose(sp);
        return rc;
    }
    int chunks = (int)(((double)len * n + HEADER_LIMIT - 1) / HEADER_LIMIT);
    if (chunks < 1)
        chunks = 1;
    char *buf = sq_calloc((size_t)n, len);
    if (!buf)
        return -1;
    for (int i = 0; i < n; i++)
        memcpy(buf + (size_t)i * len, names[i], strlen(names[i]));
    int rc = 0, done = 0;
    for (int c = 0; c < chunks && rc == 0; c++) {
        /* numpy.array_split: the first n % chunks parts get one more */
        int cnt = n / chunks + (c < n % chunks);
        char nm[80];
        if (chunks == 1)
            snprintf(nm, sizeof nm, "%s", name);
        else
            snprintf(nm, sizeof nm, "%s%d", name, c);
        hsize_t dim = (hsize_t)cnt;
        hid_t t = H5Tcopy(H5T_C_S1), sp = H5Screate_simple(1, &dim, NULL), a = -1;
        rc = -1;
        if (t >= 0 && sp >= 0 && H5Tset_size(t, len) >= 0 && H5Tset_strpad(t, H5T_STR_NULLPAD) >= 0
            && (a = H5Acreate2(obj, nm, t, sp, H5P_DEFAULT, H5P_DEFAULT)) >= 0
            && H5Awrite(a, t, buf + (size_t)done * len) >= 0)
            rc = 0;
        if (a >= 0)
            H5Aclose(a);
        if (sp >= 0)
            H5Sclose(sp);
        if (t >= 0)
            H5Tclose(t);
        done += cnt;
    }
    free(buf);
    return rc;
}

/* Writes dataset `name` (a path below g) of shape sh from data. */
static int put_weight(hid_t g, const char *name, const sq_shape *sh, const float *data)
{
    hsize_t dims[SQ_MAX_RANK];
    for (int i = 0; i < sh->rank; i++)
        dims[i] = (hsize_t)sh->d[i];
    hid_t lcpl = H5Pcreate(H5P_LINK_CREATE);
    hid_t sp = sh->rank ? H5Screate_simple(sh->rank, dims, NULL) : H5Screate(H5S_SCALAR), d = -1;
    int rc = -1;
    if (lcpl >= 0 && sp >= 0 && H5Pset_create_intermediate_group(lcpl, 1) >= 0
        && (d = H5Dcreate2(g, name, H5T_IEEE_F32LE, sp, lcpl, H5P_DEFAULT, H5P_DEFAULT)) >= 0
        && H5Dwrite(d, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, data) >= 0)
        rc = 0;
    if (d >= 0)
        H5Dclose(d);
    if (sp >= 0)
        H5Sclose(sp);
    if (lcpl >= 0)
        H5Pclose(lcpl);
    return rc;
}

/* model_weights: one group per entry of model.layers, its weights in the
 * order Keras loads them (a nested model: trainable ones first). */
static int put_weights(hid_t f, const sq_model *m)
{
    hid_t mw = H5Gcreate2(f, "model_weights", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    if (mw < 0)
        return -1;
    int ne = sq_entry_count(m), rc = -1;
    char **entries = sq_calloc((size_t)ne + 1, sizeof *entries);
    if (!entries)
        goto done;
    for (int e = 0; e < ne; e++)
        entries[e] = (char *)sq_entry_name(m, e);
    if (put_text(mw, "backend", "tensorflow") < 0 || put_text(mw, "keras_version", "2.6.0") < 0
        || put_names(mw, "layer_names", entries, ne) < 0)
        goto done;
    for (int e = 0; e < ne; e++) {
        int first, count;
        sq_entry_span(m, e, &first, &count);
        hid_t g = H5Gcreate2(mw, entries[e], H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
        if (g < 0)
            goto done;
        char *names[4096];
        int nn = 0, ok = 0;
        for (int pass = 0; pass < 2; pass++)
            for (int i = first; i < first + count && m->built; i++) {
                const sq_layer *l = m->layers[i];
                for (int j = 0; j < l->nweights && nn < 4096; j++) {
                    int tr = l->trainable && l->w[j].trainable;
                    if (count > 1 && tr != (pass == 0))
                        continue;
                    if (count == 1 && pass == 1)
                        continue;
                    char buf[2 * SQ_NAME_MAX + 8];
                    snprintf(buf, sizeof buf, "%s/%s:0", l->name, l->w[j].name);
                    if (!(names[nn] = sq_strdup(buf)))
                        goto entry_done;
                    const float *data = m->params + l->param_off;
                    for (int q = 0; q < j; q++)
                        data += sq_weight_count(&l->w[q]);
                    if (put_weight(g, names[nn++], &l->w[j].shape, data) < 0)
                        goto entry_done;
                }
            }
        ok = put_names(g, "weight_names", names, nn) == 0;
entry_done:
        for (int i = 0; i < nn; i++)
            free(names[i]);
        H5Gclose(g);
        if (!ok)
            goto done;
    }
    rc = 0;
done:
    free(entries);
    H5Gclose(mw);
    return rc;
}

int sq_h5_write(const sq_model *m, const char *path, sq_error *err)
{
    static unsigned serial;
    char tmp[4200];
    json_t *mc = NULL, *tc = NULL;
    char *config = NULL, *training = NULL;
    int rc = -1;
    quiet();
    if (strlen(path) > 4000)
        return sq_fail(err, "cannot save '%s': path too long", path);
    if (!(mc = keras_model_config(m, KERAS_FMT_H5, err)))
        return -1;
    tc = keras_training_config(m);
    if (!(config = json_dumps(mc, JSON_COMPACT)) || (tc && !(training = json_dumps(tc, JSON_COMPACT)))) {
        sq_fail(err, "out of memory saving '%s'", path);
        goto done;
    }
    /* under mpirun only the first process writes files */
    if (sq_dist_rank() != 0) {
        rc = 0;
        goto done;
    }
    snprintf(tmp, sizeof tmp, "%s.tmp%ld.%u", path, (long)getpid(), serial++);
    hid_t f = H5Fcreate(tmp, H5F_ACC_EXCL, H5P_DEFAULT, H5P_DEFAULT);
    if (f < 0) {
        sq_fail(err, "cannot write '%s': %s", path, errno ? strerror(errno) : "HDF5 error");
        goto done;
    }
    int ok = put_text(f, "backend", "tensorflow") == 0 && put_text(f, "keras_version", "2.6.0") == 0
        && put_text(f, "model_config", config) == 0
        && (!training || put_text(f, "training_config", training) == 0)
        && put_weights(f, m) == 0;
    if (H5Fclose(f) < 0)
        ok = 0;
    int fd = ok ? open(tmp, O_RDONLY | O_CLOEXEC) : -1;
    if (fd >= 0) {
        if (fsync(fd) != 0 && errno != EINVAL)
            ok = 0;
        close(fd);
    }
    if (!ok || rename(tmp, path) != 0) {
        sq_fail(err, "cannot write '%s': %s", path, ok ? strerror(errno) : "HDF5 error");
        unlink(tmp);
        goto done;
    }
    rc = 0;
done:
    free(config);
    free(training);
    json_decref(mc);
    json_decref(tc);
    return rc;
}
