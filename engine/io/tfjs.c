/* tfjs.c - the TF.js Layers format: DIR/model.json (the Keras model config
 * under modelTopology, a weightsManifest of groups of shard files) and its
 * binary shards.
 *
 * Reading treats the files as a stranger's: shard paths must stay inside
 * the model's folder (no "..", absolute paths or symlinks out), every size
 * is checked against the memory limit and the real file sizes before
 * anything is allocated, and the JSON's size and nesting are bounded.
 *
 * Writing is atomic as a whole: the weights go to a new shard with a fresh
 * name, then model.json is renamed into place, and only then are the old
 * model's shards removed (with any strays a killed save left behind). A
 * reader sees the old complete model or the new one, never a mix. */
#define _DEFAULT_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include "dist/dist.h"
#include "io/keras.h"
#include "io/tfjs.h"
#include "io/npy.h"

/* ---- reading ------------------------------------------------------------- */

enum { DT_F32, DT_I32, DT_Q_U8, DT_Q_U16, DT_Q_F16 };

typedef struct {
    const unsigned char *p;   /* into its group's buffer */
    int dt;
    double scale, min;
} spec;

typedef struct {
    unsigned char **bufs;
    int nbufs;
    spec *specs;
} reader;

static float half_to_float(uint16_t h)
{
    uint32_t s = (uint32_t)(h >> 15) << 31, e = (h >> 10) & 0x1f, m = h & 0x3ff, bits;
    if (e == 0) {
        if (m == 0) {
            bits = s;
        } else {          /* subnormal */
            e = 127 - 15 + 1;
            while (!(m & 0x400)) {
                m <<= 1;
                e--;
            }
            bits = s | (e << 23) | ((m & 0x3ff) << 13);
        }
    } else if (e == 31) {
        bits = s | 0x7f800000u | (m << 13);
    } else {
        bits = s | ((e + 127 - 15) << 23) | (m << 13);
    }
    float f;
    memcpy(&f, &bits, 4);
    return f;
}

static int load_weight(void *vctx, const keras_stored *w, float *dst, size_t count, sq_error *err)
{
    (void)err;
    const spec *sp = w->ref;
    const unsigned char *p = sp->p;
    (void)vctx;
    for (size_t i = 0; i < count; i++) {
        switch (sp->dt) {
        case DT_F32: {
            uint32_t b = (uint32_t)p[4 * i] | (uint32_t)p[4 * i + 1] << 8
                | (uint32_t)p[4 * i + 2] << 16 | (uint32_t)p[4 * i + 3] << 24;
            memcpy(&dst[i], &b, 4);
            break;
        }
        case DT_I32: {
            uint32_t b = (uint32_t)p[4 * i] | (uint32_t)p[4 * i + 1] << 8
                | (uint32_t)p[4 * i + 2] << 16 | (uint32_t)p[4 * i + 3] << 24;
            dst[i] = (float)(int32_t)b;
            break;
        }
        case DT_Q_U8:
            dst[i] = (float)(p[i] * sp->scale + sp->min);
            break;
        case DT_Q_U16:
            dst[i] = (float)((p[2 * i] | p[2 * i + 1] << 8) * sp->scale + sp->min);
            break;
        case DT_Q_F16:
            dst[i] = half_to_float((uint16_t)(p[2 * i] | p[2 * i + 1] << 8));
            break;
        }
    }
    return 0;
}

/* The folder of a file path ("." when none), in buf. */
static void dir_of(const char *path, char *buf, size_t n)
{
    const char *slash = strrchr(path, '/');
    if (!slash)
        snprintf(buf, n, ".");
    else if (slash == path)
        snprintf(buf, n, "/");
    else
        snprintf(buf, n, "%.*s", (int)(slash - path), path);
}

static int file_size(const char *p, off_t *size)
{
    struct stat st;
    if (stat(p, &st) != 0 || !S_ISREG(st.st_mode))
        return -1;
    *size = st.st_size;
    return 0;
}

/* The file of shard path `rel` of the model in folder dir, checked to stay
 * inside it; a missing ".bin" extension (or an extra one) is forgiven. */
static int shard_file(const char *json, const char *dir, const char *rel, char *out, size_t n,
                      off_t *size, sq_error *err)
{
    char real_dir[PATH_MAX], real[PATH_MAX];
    if (!*rel || rel[0] == '/' || strstr(rel, "://") || strchr(rel, '\\'))
        goto outside;
    for (const char *p = rel; *p;) {
        size_t len = strcspn(p, "/");
        if (len == 2 && !strncmp(p, "..", 2))
            goto outside;
        p += len + (p[len] == '/');
    }
    snprintf(out, n, "%s/%s", dir, rel);
    if (file_size(out, size) != 0) {
        size_t len = strlen(out);
        if (len > 4 && !strcmp(out + len - 4, ".bin"))
            out[len - 4] = '\0';
        else if (len + 5 < n)
            strcat(out, ".bin");
        if (file_size(out, size) != 0) {
            snprintf(out, n, "%s/%s", dir, rel);
            return sq_fail(err, "'%s': weight file '%s' is missing", json, out);
        }
    }
    if (!realpath(dir, real_dir) || !realpath(out, real))
        return sq_fail(err, "'%s': cannot read weight file '%s': %s", json, out, strerror(errno));
    size_t dl = strlen(real_dir);
    if (strncmp(real, real_dir, dl) || (real[dl] != '/' && strcmp(real_dir, "/")))
        goto outside;
    return 0;
outside:
    return sq_fail(err, "'%s': weight path '%s' leaves the model's folder: refused", json, rel);
}

/* Reads a whole file of known size into buf at off. */
static int read_into(const char *path, unsigned char *buf, size_t len, sq_error *err)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return sq_fail(err, "cannot open '%s': %s", path, strerror(errno));
    size_t got = 0;
    while (got < len) {
        ssize_t r = read(fd, buf + got, len - got > (1u << 30) ? (1u << 30) : len - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0) {
            int e = errno;
            close(fd);
            return sq_fail(err, "cannot read '%s': %s", path, r ? strerror(e) : "file shrank");
        }
        got += (size_t)r;
    }
    close(fd);
    return 0;
}

static int elem_size(int dt)
{
    return dt == DT_F32 || dt == DT_I32 ? 4 : dt == DT_Q_U8 ? 1 : 2;
}

/* One manifest weight's spec: shape, dtype, quantization. */
static int weight_spec(json_t *w, keras_stored *s, spec *sp, const char *json, sq_error *err)
{
    json_t *name = json_object_get(w, "name"), *shape = json_object_get(w, "shape");
    const char *dt = json_string_value(json_object_get(w, "dtype"));
    json_t *q = json_object_get(w, "quantization");
    if (!json_is_string(name) || !json_is_array(shape) || json_array_size(shape) > SQ_MAX_RANK)
        return sq_fail(err, "'%s': a weightsManifest entry without a name or with a bad shape",
                       json);
    s->shape.rank = (int)json_array_size(shape);
    for (int i = 0; i < s->shape.rank; i++) {
        json_t *d = json_array_get(shape, (size_t)i);
        if (!json_is_integer(d) || json_integer_value(d) < 0
            || json_integer_value(d) > (1LL << 40))
            return sq_fail(err, "'%s': weight %s has a bad shape", json, json_string_value(name));
        s->shape.d[i] = (long)json_integer_value(d);
    }
    if (q && !json_is_null(q)) {
        const char *qd = json_string_value(json_object_get(q, "dtype"));
        sp->scale = json_number_value(json_object_get(q, "scale"));
        sp->min = json_number_value(json_object_get(q, "min"));
        if (qd && !strcmp(qd, "uint8"))
            sp->dt = DT_Q_U8;
        else if (qd && !strcmp(qd, "uint16"))
            sp->dt = DT_Q_U16;
        else if (qd && !strcmp(qd, "float16"))
            sp->dt = DT_Q_F16;
        else
            return sq_fail(err, "'%s': weight %s is quantized as %s, which seqsh does not read",
                           json, json_string_value(name), qd ? qd : "(unknown)");
    } else if (dt && !strcmp(dt, "float32")) {
        sp->dt = DT_F32;
    } else if (dt && !strcmp(dt, "int32")) {
        sp->dt = DT_I32;
    } else {
        return sq_fail(err, "'%s': weight %s has dtype %s; seqsh reads float32 weights", json,
                       json_string_value(name), dt ? dt : "(none)");
    }
    if (!(s->name = sq_strdup(json_string_value(name))))
        return sq_fail(err, "out of memory");
    return 0;
}

/* The manifest's weights with their bytes: every group's shards read
 * into one buffer each, after checking every size. */
static int read_manifest(json_t *man, const char *json, reader *r, keras_weights *ws,
                         sq_error *err)
{
    char dir[PATH_MAX], file[PATH_MAX + 16];
    size_t gi, total_w = 0;
    json_t *g;
    dir_of(json, dir, sizeof dir);
    if (!man || json_is_null(man))
        return 0;
    if (!json_is_array(man))
        return sq_fail(err, "'%s': weightsManifest is not a list", json);
    json_array_foreach(man, gi, g)
        total_w += json_array_size(json_object_get(g, "weights"));
    if (total_w > KERAS_MAX_WEIGHTS || json_array_size(man) > KERAS_MAX_WEIGHTS)
        return sq_fail(err, "'%s': more than %d weights", json, KERAS_MAX_WEIGHTS);
    ws->w = sq_calloc(total_w + 1, sizeof *ws->w);
    r->specs = sq_calloc(total_w + 1, sizeof *r->specs);
    r->bufs = sq_calloc(json_array_size(man) + 1, sizeof *r->bufs);
    if (!ws->w || !r->specs || !r->bufs)
        return sq_fail(err, "out of memory");
    double all_bytes = 0;
    json_array_foreach(man, gi, g) {
        json_t *paths = json_object_get(g, "paths"), *wl = json_object_get(g, "weights"), *e;
        size_t i;
        if (!json_is_array(paths) || !json_is_array(wl))
            return sq_fail(err, "'%s': weight group %zu lacks paths or weights", json, gi + 1);
        /* what the group's weights need, before reading anything */
        double need = 0;
        int first = ws->n;
        json_array_foreach(wl, i, e) {
            keras_stored *s = &ws->w[ws->n];
            spec *sp = &r->specs[ws->n];
            s->ref = sp;
            if (weight_spec(e, s, sp, json, err) < 0)
                return -1;
            ws->n++;
            double c = elem_size(sp->dt);
            for (int k = 0; k < s->shape.rank; k++)
                c *= (double)s->shape.d[k];
            need += c;
        }
        all_bytes += need;
        if (sq_check_memory(all_bytes, "the model's weight files", err) < 0)
            return -1;
        double have = 0;
        off_t sz;
        json_array_foreach(paths, i, e) {
            if (!json_is_string(e))
                return sq_fail(err, "'%s': a weight path is not a string", json);
            if (shard_file(json, dir, json_string_value(e), file, sizeof file, &sz, err) < 0)
                return -1;
            have += (double)sz;
        }
        if (have < need)
            return sq_fail(err, "'%s': the weight files of group %zu hold %.0f bytes, but its "
                           "weights need %.0f: a file is truncated", json, gi + 1, have, need);
        unsigned char *buf = sq_malloc((size_t)need + 1);
        if (!buf)
            return sq_fail(err, "out of memory for %.0f bytes of weights", need);
        r->bufs[r->nbufs++] = buf;
        size_t off = 0;
        json_array_foreach(paths, i, e) {
            shard_file(json, dir, json_string_value(e), file, sizeof file, &sz, err);
            size_t take = (size_t)sz < (size_t)need - off ? (size_t)sz : (size_t)need - off;
            if (take && read_into(file, buf + off, take, err) < 0)
                return -1;
            off += take;
        }
        /* each weight's bytes follow the previous one's */
        size_t p = 0;
        for (int k = first; k < ws->n; k++) {
            r->specs[k].p = buf + p;
            size_t c = (size_t)elem_size(r->specs[k].dt);
            for (int d = 0; d < ws->w[k].shape.rank; d++)
                c *= (size_t)ws->w[k].shape.d[d];
            p += c;
        }
    }
    ws->load = load_weight;
    ws->ctx = r;
    return 0;
}

static void reader_free(reader *r, keras_weights *ws)
{
    for (int i = 0; i < r->nbufs; i++)
        free(r->bufs[i]);
    free(r->bufs);
    free(r->specs);
    for (int i = 0; i < ws->n; i++)
        free(ws->w[i].name);
    free(ws->w);
}

sq_model *sq_tfjs_read(const char *path, sbuf *notes, sq_error *err)
{
    off_t size;
    unsigned char *text = NULL;
    size_t len;
    char what[PATH_MAX + 8];
    json_t *top = NULL;
    sq_model *m = NULL;
    reader r = { 0 };
    keras_weights ws = { 0 };
    snprintf(what, sizeof what, "'%s'", path);
    if (file_size(path, &size) == 0 && (uintmax_t)size > KERAS_JSON_MAX_BYTES) {
        sq_fail(err, "'%s' is too large: %jd bytes of JSON (at most %u MiB)", path,
                (intmax_t)size, KERAS_JSON_MAX_BYTES >> 20);
        return NULL;
    }
    if (sq_read_whole_file(path, &text, &len, err) < 0)
        return NULL;
    if (!(top = keras_json_parse((const char *)text, len, what, err)))
        goto done;
    json_t *mt = json_object_get(top, "modelTopology");
    const char *format = json_string_value(json_object_get(top, "format"));
    if (format && !strcmp(format, "graph-model")) {
        sq_fail(err, "'%s' is a TF.js graph model (converted from a SavedModel), not a Layers "
                "model: seqsh reads Keras models", path);
        goto done;
    }
    if (!json_is_object(mt)) {
        sq_fail(err, "'%s' is not a TF.js Layers model (no modelTopology)", path);
        goto done;
    }
    json_t *mc = json_object_get(mt, "model_config");
    if (!mc)
        mc = mt;
    json_t *tc = json_object_get(mt, "training_config");
    if (!tc)
        tc = json_object_get(top, "trainingConfig");
    const char *kv = json_string_value(json_object_get(mt, "keras_version"));
    const char *gen = json_string_value(json_object_get(top, "generatedBy"));
    if (!kv && gen && !strncmp(gen, "keras v", 7))
        kv = gen + 7;
    if (read_manifest(json_object_get(top, "weightsManifest"), path, &r, &ws, err) < 0)
        goto done;
    m = keras_model_from_config(mc, tc, kv, &ws, path, notes, err);
done:
    reader_free(&r, &ws);
    json_decref(top);
    free(text);
    return m;
}

/* ---- writing ---------------------------------------------------------------- */

/* "DIR/NAME.json" -> dir "DIR", stem "NAME". */
static void split_path(const char *path, char *dir, size_t dn, char *stem, size_t sn)
{
    dir_of(path, dir, dn);
    const char *base = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
    size_t len = strlen(base);
    if (len > 5 && !strcmp(base + len - 5, ".json"))
        len -= 5;
    snprintf(stem, sn, "%.*s", (int)len, base);
}

/* Whether name is a shard this writer makes for stem: STEM.xxxxxxxx.bin,
 * or the temporary file of one or of STEM.json ("....tmpPID.N"). */
static int ours(const char *name, const char *stem)
{
    size_t sl = strlen(stem);
    if (strncmp(name, stem, sl) || name[sl] != '.')
        return 0;
    const char *p = name + sl + 1;
    if (strspn(p, "0123456789abcdef") == 8 && !strncmp(p + 8, ".bin", 4)) {
        p += 12;
        if (!*p)
            return 1;
    } else if (!strncmp(p, "json", 4)) {
        p += 4;
    } else {
        return 0;
    }
    if (strncmp(p, ".tmp", 4))
        return 0;
    p += 4;
    size_t d = strspn(p, "0123456789");
    return d && p[d] == '.' && p[d + 1] && strspn(p + d + 1, "0123456789") == strlen(p + d + 1);
}

/* Plain file names of the shards the model.json at path now uses (the
 * old model's), to remove once the new one is in place. */
static char **old_shards(const char *path, int *n)
{
    unsigned char *text;
    size_t len;
    sq_error e;
    off_t size;
    *n = 0;
    if (file_size(path, &size) != 0 || (uintmax_t)size > KERAS_JSON_MAX_BYTES
        || sq_read_whole_file(path, &text, &len, &e) < 0)
        return NULL;
    json_t *top = keras_json_parse((const char *)text, len, "model.json", &e);
    free(text);
    json_t *man = json_object_get(top, "weightsManifest"), *g, *p;
    size_t i, j, cnt = 0;
    json_array_foreach(man, i, g)
        cnt += json_array_size(json_object_get(g, "paths"));
    char **out = sq_calloc(cnt + 1, sizeof *out);
    json_array_foreach(man, i, g)
        json_array_foreach(json_object_get(g, "paths"), j, p) {
            const char *s = json_string_value(p);
            if (out && s && *s && !strchr(s, '/') && strcmp(s, ".") && strcmp(s, ".."))
                if ((out[*n] = sq_strdup(s)))
                    (*n)++;
        }
    json_decref(top);
    return out;
}

int sq_tfjs_write(const sq_model *m, const char *path, sq_error *err)
{
    char dir[PATH_MAX], stem[NAME_MAX + 1], shard[NAME_MAX + 32], shard_path[PATH_MAX + NAME_MAX + 40];
    json_t *top = NULL, *mc = NULL, *man = NULL;
    char **names = NULL, *text = NULL, **old = NULL;
    int nn = 0, nold = 0, rc = -1, made_dir = 0;
    unsigned char *bin = NULL;
    static unsigned serial;
    keras_json_init();
    split_path(path, dir, sizeof dir, stem, sizeof stem);
    if (!*stem)
        return sq_fail(err, "cannot save '%s': no file name", path);
    if (!(mc = keras_model_config(m, KERAS_FMT_TFJS, err)))
        return -1;
    if (keras_weight_names(m, &names, NULL, &nn, err) < 0)
        goto done;
    /* under mpirun only the first process writes files */
    if (sq_dist_rank() != 0) {
        rc = 0;
        goto done;
    }
    struct stat st;
    if (stat(dir, &st) != 0) {
        if (mkdir(dir, 0777) != 0) {
            sq_fail(err, "cannot save '%s': cannot make folder '%s': %s", path, dir,
                    strerror(errno));
            goto done;
        }
        made_dir = 1;
    }
    /* a fresh shard name, not one an old model.json may still use */
    unsigned tag = (unsigned)time(NULL) * 2654435761u ^ (unsigned)getpid() * 40503u ^ serial++;
    snprintf(shard, sizeof shard, "%s.%08x.bin", stem, tag);
    if (strchr(path, '/'))
        snprintf(shard_path, sizeof shard_path, "%s/%s", dir, shard);
    else
        snprintf(shard_path, sizeof shard_path, "%s", shard);
    size_t nbytes = m->built ? m->nparams * 4 : 0;
    man = json_array();
    json_t *wl = json_array();
    if (!man || !wl) {
        json_decref(wl);
        goto oom;
    }
    int k = 0;
    for (int i = 0; i < m->n && m->built; i++)
        for (int j = 0; j < m->layers[i]->nweights; j++) {
            const sq_shape *sh = &m->layers[i]->w[j].shape;
            json_t *shape = json_array();
            for (int d = 0; shape && d < sh->rank; d++)
                json_array_append_new(shape, json_integer(sh->d[d]));
            json_t *w = json_pack("{s:s,s:o,s:s}", "name", names[k++], "shape", shape,
                                  "dtype", "float32");
            if (!w || json_array_append_new(wl, w) < 0) {
                json_decref(wl);
                goto oom;
            }
        }
    json_t *grp = json_pack("{s:[s],s:o}", "paths", shard, "weights", wl);
    if (!grp || json_array_append_new(man, grp) < 0)
        goto oom;
    json_t *mt = json_pack("{s:s,s:s,s:O}", "keras_version", "2.6.0", "backend", "tensorflow",
                           "model_config", mc);
    json_t *tc = keras_training_config(m);
    if (!mt) {
        json_decref(tc);
        goto oom;
    }
    if (tc)
        json_object_set_new(mt, "training_config", tc);
    top = json_pack("{s:s,s:s,s:n,s:o,s:o}", "format", "layers-model", "generatedBy",
                    "seqsh", "convertedBy", "modelTopology", mt, "weightsManifest", man);
    man = NULL;
    if (!top || !(text = json_dumps(top, JSON_COMPACT)))
        goto oom;
    if (!(bin = sq_malloc(nbytes + 1)))
        goto oom;
    for (size_t i = 0; i < nbytes / 4; i++) {
        uint32_t b;
        memcpy(&b, &m->params[i], 4);
        bin[4 * i] = (unsigned char)b;
        bin[4 * i + 1] = (unsigned char)(b >> 8);
        bin[4 * i + 2] = (unsigned char)(b >> 16);
        bin[4 * i + 3] = (unsigned char)(b >> 24);
    }
    old = old_shards(path, &nold);
    /* the new shard first, then model.json: the switch is one rename */
    if (sq_write_file_atomic(shard_path, bin, nbytes, err) < 0)
        goto done;
    if (sq_write_file_atomic(path, text, strlen(text), err) < 0) {
        unlink(shard_path);
        goto done;
    }
    int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
        (void)fsync(dfd);
        close(dfd);
    }
    /* now the old model's shards and any strays can go */
    for (int i = 0; i < nold; i++)
        if (strcmp(old[i], shard)) {
            char p[PATH_MAX + NAME_MAX + 2];
            snprintf(p, sizeof p, "%s/%s", dir, old[i]);
            unlink(p);
        }
    DIR *d = opendir(dir);
    struct dirent *de;
    while (d && (de = readdir(d)))
        if (strcmp(de->d_name, shard) && ours(de->d_name, stem)) {
            char p[PATH_MAX + NAME_MAX + 2];
            snprintf(p, sizeof p, "%s/%s", dir, de->d_name);
            unlink(p);
        }
    if (d)
        closedir(d);
    made_dir = 0;
    rc = 0;
    goto done;
oom:
    sq_fail(err, "out of memory saving '%s'", path);
done:
    if (made_dir)
        rmdir(dir);
    for (int i = 0; i < nold; i++)
        free(old[i]);
    free(old);
    free(bin);
    free(text);
    keras_names_free(names, nn);
    json_decref(top);
    json_decref(man);
    json_decref(mc);
    return rc;
}
