/* callbacks.c - Keras 2.6's EarlyStopping, ReduceLROnPlateau,
 * ModelCheckpoint and CSVLogger (keras/callbacks.py), with their
 * arguments, defaults, messages and file contents. They run in the order
 * given, after the progress bar's line and before the History records the
 * epoch, as in CallbackList. Messages Keras prints go to the caller as
 * lines; what Keras logs as warnings goes as warnings. */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "dist/dist.h"
#include "compile.h"
#include "train/callbacks.h"
#include "train/optim.h"

enum { CB_EARLY, CB_PLATEAU, CB_CHECKPOINT, CB_CSV };

static const struct {
    int kind;
    const char *names[2];
    const char *params[9];
    const char *help;
} kinds[] = {
    { CB_EARLY, { "early_stopping", "EarlyStopping" },
      { "monitor", "min_delta", "patience", "verbose", "mode", "baseline",
        "restore_best_weights" },
      "stops training when `monitor` (default val_loss) has not improved by more than "
      "min_delta (0) for `patience` (0) epochs; mode min, max or auto (max when the name "
      "holds 'acc'); baseline: the value to beat; restore_best_weights=true puts back the "
      "best epoch's weights when it stops. As in Keras 2.6 the check runs after every epoch "
      "including the first, so patience=0 stops after the first epoch; verbose=1 says "
      "'Restoring model weights from the end of the best epoch.' and, after training, "
      "'Epoch 00003: early stopping'" },
    { CB_PLATEAU, { "reduce_lr_on_plateau", "ReduceLROnPlateau" },
      { "monitor", "factor", "patience", "verbose", "mode", "min_delta", "cooldown", "min_lr" },
      "multiplies the learning rate by factor (0.1) when `monitor` (val_loss) has not "
      "improved by more than min_delta (0.0001) for patience (10) epochs, then waits "
      "cooldown (0) epochs; never below min_lr (0). It logs the rate as `lr` (so a "
      "csv_logger after it gets an lr column, and history too); a learning-rate schedule "
      "cannot be reduced" },
    { CB_CHECKPOINT, { "model_checkpoint", "ModelCheckpoint" },
      { "filepath", "monitor", "verbose", "save_best_only", "save_weights_only", "mode",
        "save_freq" },
      "saves the model after every epoch (save_best_only=true: when `monitor`, default "
      "val_loss, beats its best) to filepath, which may hold Python format fields such as "
      "ck-{epoch:02d}.npz or {val_loss:.4f}; a name ending in .npz (or save_weights_only="
      "true) is written as save_weights does, anything else as save" },
    { CB_CSV, { "csv_logger", "CSVLogger" }, { "filename", "separator", "append" },
      "writes one row per epoch to filename as Keras's CSVLogger: a header 'epoch' and the "
      "log names sorted, epochs counted from 0, full-precision values, lines ending in "
      "CR LF; separator (default ','), append=true adds to an existing file" },
};
#define NKINDS (int)(sizeof kinds / sizeof *kinds)

typedef struct {
    int kind;
    char monitor[64];
    double min_delta, factor, min_lr;
    const char *min_lr_text;
    char min_lr_shown[64];
    int patience, verbose, cooldown;
    int greater;                  /* monitor_op is np.greater */
    int has_baseline;
    double baseline;
    int restore_best, save_best_only, save_weights_only, append;
    char path[1024];
    char sep[16];
    char warning[160];            /* said when training begins */
    /* state, from on_train_begin */
    int wait, stopped_epoch, cooldown_counter, have_best_weights, header_done;
    double best;
    float *best_weights;
    FILE *f;
    int nkeys;
    char keys[SQ_LOGS_MAX][64];
} callback;

struct sq_callbacks {
    int n;
    callback cb[SQ_MAX_CALLBACKS];
};

const char *sq_callback_name_at(int i, const char **aliases)
{
    if (i < 0 || i >= NKINDS)
        return NULL;
    if (aliases)
        *aliases = kinds[i].names[1];
    return kinds[i].names[0];
}

static int find(const char *name)
{
    for (int i = 0; i < NKINDS; i++)
        for (int j = 0; j < 2; j++)
            if (sq_names_match(kinds[i].names[j], name))
                return i;
    return -1;
}

char *sq_callback_help(const char *name)
{
    int i = find(name);
    if (i < 0)
        return NULL;
    sbuf b = { 0 };
    sb_printf(&b, "%s (keras.callbacks.%s): %s.\n\nusage: fit ... callbacks=%s(",
              kinds[i].names[0], kinds[i].names[1], kinds[i].help, kinds[i].names[0]);
    for (int p = 0; kinds[i].params[p] && strcmp(kinds[i].params[p], "save_freq"); p++)
        sb_printf(&b, "%s%s", p ? ", " : "", kinds[i].params[p]);
    sb_printf(&b, ")\ncallbacks= takes a comma-separated list, run in that order after each "
              "epoch.\n\nexample: fit x.npy y.npy epochs=100 validation_data=xv.npy,yv.npy "
              "callbacks=%s\n",
              i == 0 ? "early_stopping(patience=3,restore_best_weights=true)"
              : i == 1 ? "reduce_lr_on_plateau(factor=0.5,patience=2)"
              : i == 2 ? "model_checkpoint(best.seqm,save_best_only=true)"
              : "csv_logger(log.csv)");
    return sb_finish(&b, NULL);
}

/* mode= of EarlyStopping/ModelCheckpoint/ReduceLROnPlateau: whether the
 * monitor grows when it improves; an unknown mode is auto, with Keras's
 * warning. */
static int mode_greater(callback *c, const char *mode, const char *cls, const char *what)
{
    if (mode && strcmp(mode, "auto") && strcmp(mode, "min") && strcmp(mode, "max")) {
        snprintf(c->warning, sizeof c->warning, "%s mode %s is unknown, fallback to auto mode.",
                 what, mode);
        mode = "auto";
    }
    (void)cls;
    if (mode && !strcmp(mode, "min"))
        return 0;
    if (mode && !strcmp(mode, "max"))
        return 1;
    return strstr(c->monitor, "acc") != NULL
        || (c->kind == CB_CHECKPOINT && !strncmp(c->monitor, "fmeasure", 8));
}

static int parse_one(const char *text, callback *c, sq_error *err)
{
    sq_callform f;
    if (sq_call_parse(&f, text, err) < 0)
        return -1;
    int i = find(f.name);
    if (i < 0)
        return sq_fail(err, "Unknown callback: %s (seqsh has early_stopping, "
                       "reduce_lr_on_plateau, model_checkpoint and csv_logger)", f.name);
    const char *cls = kinds[i].names[1];
    if (sq_call_bind(&f, cls, kinds[i].params, err) < 0)
        return -1;
    memset(c, 0, sizeof *c);
    c->kind = kinds[i].kind;
    snprintf(c->monitor, sizeof c->monitor, "val_loss");
    const char *mon = sq_arg(&f.a, "monitor");
    if (mon) {
        if (!*mon || strlen(mon) >= sizeof c->monitor)
            return sq_fail(err, "%s: `monitor` must be a log name such as val_loss", cls);
        strcpy(c->monitor, mon);
    }
    if (sq_arg_int(&f.a, "verbose", INT_MIN, INT_MAX, &c->verbose, err) < 0)
        return -1;
    const char *mode = sq_arg(&f.a, "mode");
    switch (c->kind) {
    case CB_EARLY: {
        if (sq_arg_double(&f.a, "min_delta", -HUGE_VAL, HUGE_VAL, &c->min_delta, err) < 0
            || sq_arg_int(&f.a, "patience", INT_MIN, INT_MAX, &c->patience, err) < 0
            || sq_arg_bool(&f.a, "restore_best_weights", &c->restore_best, err) < 0)
            return -1;
        const char *b = sq_arg(&f.a, "baseline");
        if (b && strcmp(b, "None") && strcmp(b, "none")) {
            if (sq_check_double(cls, "baseline", b, -HUGE_VAL, HUGE_VAL, &c->baseline, err) < 0)
                return -1;
            c->has_baseline = 1;
        }
        c->greater = mode_greater(c, mode, cls, "EarlyStopping");
        c->min_delta = fabs(c->min_delta) * (c->greater ? 1 : -1);
        break;
    }
    case CB_PLATEAU:
        c->factor = 0.1;
        c->patience = 10;
        c->min_delta = 1e-4;
        if (sq_arg_double(&f.a, "factor", -HUGE_VAL, HUGE_VAL, &c->factor, err) < 0)
            return -1;
        if (c->factor >= 1.0)
            return sq_fail(err, "ReduceLROnPlateau does not support a factor >= 1.0.");
        c->min_lr_text = sq_arg(&f.a, "min_lr");
        if (sq_arg_int(&f.a, "patience", INT_MIN, INT_MAX, &c->patience, err) < 0
            || sq_arg_double(&f.a, "min_delta", -HUGE_VAL, HUGE_VAL, &c->min_delta, err) < 0
            || sq_arg_int(&f.a, "cooldown", INT_MIN, INT_MAX, &c->cooldown, err) < 0
            || sq_arg_double(&f.a, "min_lr", -HUGE_VAL, HUGE_VAL, &c->min_lr, err) < 0)
            return -1;
        /* how Python prints max(new_lr, min_lr) when min_lr wins */
        sq_py_number(c->min_lr_text ? c->min_lr_text : "0", c->min_lr, c->min_lr_shown,
                     sizeof c->min_lr_shown);
        c->min_lr_text = NULL;
        if (mode && strcmp(mode, "auto") && strcmp(mode, "min") && strcmp(mode, "max")) {
            snprintf(c->warning, sizeof c->warning, "Learning rate reduction mode %s is "
                     "unknown, fallback to auto mode.", mode);
            mode = "auto";
        }
        c->greater = !((mode && !strcmp(mode, "min"))
                       || ((!mode || !strcmp(mode, "auto")) && !strstr(c->monitor, "acc")));
        break;
    case CB_CHECKPOINT:
    case CB_CSV: {
        const char *path = sq_arg(&f.a, c->kind == CB_CSV ? "filename" : "filepath");
        if (!path || !*path)
            return sq_fail(err, "%s.__init__() missing 1 required positional argument: '%s'",
                           cls, c->kind == CB_CSV ? "filename" : "filepath");
        if (strlen(path) >= sizeof c->path)
            return sq_fail(err, "%s: the file name is too long", cls);
        strcpy(c->path, path);
        if (c->kind == CB_CSV) {
            const char *sep = sq_arg(&f.a, "separator");
            snprintf(c->sep, sizeof c->sep, "%s", sep ? sep : ",");
            if (strlen(c->sep) != 1)
                return sq_fail(err, "\"delimiter\" must be a 1-character string");
            if (sq_arg_bool(&f.a, "append", &c->append, err) < 0)
                return -1;
        } else {
            const char *freq = sq_arg(&f.a, "save_freq");
            if (freq && strcmp(freq, "epoch"))
                return sq_fail(err, "ModelCheckpoint: seqsh saves once per epoch "
                               "(save_freq='epoch')");
            if (sq_arg_bool(&f.a, "save_best_only", &c->save_best_only, err) < 0
                || sq_arg_bool(&f.a, "save_weights_only", &c->save_weights_only, err) < 0)
                return -1;
            c->greater = mode_greater(c, mode, cls, "ModelCheckpoint");
        }
        break;
    }
    }
    return sq_args_finish(&f.a, err);
}

int sq_callbacks_parse(const char *text, sq_callbacks **out, sq_error *err)
{
    *out = NULL;
    const char *p = text;
    size_t len = sq_unwrap(&p, "[]", NULL);
    const char *start[SQ_ARGS_MAX];
    size_t n[SQ_ARGS_MAX];
    int k;
    int rc = sq_split_items(p, len, start, n, SQ_MAX_CALLBACKS, &k);
    if (rc == -2)
        return sq_fail(err, "fit: at most %d callbacks", SQ_MAX_CALLBACKS);
    if (rc < 0)
        return sq_fail(err, "fit: `callbacks` must be a list such as "
                       "early_stopping(patience=3),csv_logger(log.csv); got '%s'", text);
    if (k == 0)
        return 0;
    sq_callbacks *c = sq_calloc(1, sizeof *c);
    if (!c)
        return sq_fail(err, "out of memory");
    for (int i = 0; i < k; i++) {
        char item[2048];
        if (n[i] >= sizeof item) {
            free(c);
            return sq_fail(err, "fit: callback '%.40s...' is too long", start[i]);
        }
        memcpy(item, start[i], n[i]);
        item[n[i]] = '\0';
        if (parse_one(item, &c->cb[i], err) < 0) {
            free(c);
            return -1;
        }
        c->n++;
    }
    *out = c;
    return 0;
}

void sq_callbacks_free(sq_callbacks *c)
{
    if (!c)
        return;
    for (int i = 0; i < c->n; i++) {
        free(c->cb[i].best_weights);
        if (c->cb[i].f)
            fclose(c->cb[i].f);
    }
    free(c);
}

int sq_callbacks_set_lr(const sq_callbacks *c)
{
    for (int i = 0; c && i < c->n; i++)
        if (c->cb[i].kind == CB_PLATEAU)
            return 1;
    return 0;
}

/* ---- the file name's format fields (str.format) ------------------------------- */

/* A value of the logs, or epoch (an int). */
typedef struct {
    const sq_logs *logs;
    int epoch;                 /* 1-based */
    const char *const *names;  /* at begin: the names there will be */
    int nnames;
} fields;

static int field_value(const fields *fl, const char *name, double *v, int *is_int)
{
    *is_int = !strcmp(name, "epoch");
    if (*is_int) {
        *v = fl->epoch;
        return 0;
    }
    if (fl->logs) {
        for (int i = 0; i < fl->logs->n; i++)
            if (!strcmp(fl->logs->name[i], name)) {
                *v = (double)(float)fl->logs->value[i];
                return 0;
            }
    } else {
        for (int i = 0; i < fl->nnames; i++)
            if (!strcmp(fl->names[i], name)) {
                *v = 0.5;
                return 0;
            }
    }
    return -1;
}

/* Python's format(value, spec) for the specs a file name uses:
 * [[fill]align][sign][0][width][.precision][type], type d, f, e, g or %. */
static int format_spec(double v, int is_int, const char *spec, char *out, size_t n,
                       sq_error *err)
{
    const char *s = spec;
    char fill = ' ', align = 0, sign = 0, type = 0;
    int zero = 0, width = 0, prec = -1;
    if (s[0] && s[1] && strchr("<>=^", s[1])) {
        fill = s[0];
        align = s[1];
        s += 2;
    } else if (s[0] && strchr("<>=^", s[0])) {
        align = *s++;
    }
    if (*s == '+' || *s == '-' || *s == ' ')
        sign = *s++;
    if (*s == '0') {
        zero = 1;
        s++;
    }
    while (*s >= '0' && *s <= '9')
        width = width * 10 + (*s++ - '0');
    if (*s == '.') {
        s++;
        prec = 0;
        while (*s >= '0' && *s <= '9')
            prec = prec * 10 + (*s++ - '0');
    }
    if (*s && strchr("dfFeEgG%", *s))
        type = *s++;
    if (*s || width > 200 || prec > 100)
        return sq_fail(err, "Invalid format specifier '%s'", spec);
    char core[320];
    if (type == 'd' && !is_int)
        return sq_fail(err, "Unknown format code 'd' for object of type 'float'");
    char flags[4] = "";
    if (sign == '+' || sign == ' ')
        snprintf(flags, sizeof flags, "%c", sign);
    if (is_int && (type == 0 || type == 'd')) {
        snprintf(core, sizeof core, "%s%lld", sign == '+' && v >= 0 ? "+" : sign == ' ' && v >= 0
                 ? " " : "", (long long)v);
    } else if (!type && prec < 0) {
        char r[64];
        sq_py_float(v, r, sizeof r);
        snprintf(core, sizeof core, "%s%s", (sign == '+' || sign == ' ') && v >= 0 ? flags : "", r);
    } else {
        char fmt[32];
        double x = type == '%' ? v * 100 : v;
        char t = type == '%' ? 'f' : type ? type : 'g';
        snprintf(fmt, sizeof fmt, "%%%s.%d%c", flags, prec < 0 ? 6 : prec, t);
        snprintf(core, sizeof core, fmt, x);
        if (type == '%')
            strcat(core, "%");
    }
    size_t len = strlen(core);
    if ((int)len >= width) {
        snprintf(out, n, "%s", core);
        return 0;
    }
    size_t pad = (size_t)width - len;
    if (!align && zero) {
        /* sign first, then zeros */
        size_t k = 0, i = 0;
        if (core[0] == '-' || core[0] == '+' || core[0] == ' ')
            out[k++] = core[i++];
        for (size_t j = 0; j < pad && k + 1 < n; j++)
            out[k++] = '0';
        snprintf(out + k, n - k, "%s", core + i);
        return 0;
    }
    if (!align)
        align = '>';
    size_t left = align == '<' ? 0 : align == '^' ? pad / 2 : pad, k = 0;
    for (size_t j = 0; j < left && k + 1 < n; j++)
        out[k++] = fill;
    for (size_t j = 0; j < len && k + 1 < n; j++)
        out[k++] = core[j];
    for (size_t j = left; j < pad && k + 1 < n; j++)
        out[k++] = fill;
    out[k] = '\0';
    return 0;
}

static int format_path(const char *tmpl, const fields *fl, char *out, size_t n, sq_error *err)
{
    size_t k = 0;
    for (const char *p = tmpl; *p;) {
        if ((p[0] == '{' && p[1] == '{') || (p[0] == '}' && p[1] == '}')) {
            if (k + 1 < n)
                out[k++] = *p;
            p += 2;
            continue;
        }
        if (*p == '}')
            return sq_fail(err, "Single '}' encountered in format string");
        if (*p != '{') {
            if (k + 1 < n)
                out[k++] = *p;
            p++;
            continue;
        }
        const char *close = strchr(p, '}');
        if (!close)
            return sq_fail(err, "Single '{' encountered in format string");
        char name[64], spec[64] = "";
        size_t len = (size_t)(close - p - 1);
        const char *colon = memchr(p + 1, ':', len);
        size_t nl = colon ? (size_t)(colon - p - 1) : len;
        if (nl >= sizeof name || (colon && (size_t)(close - colon - 1) >= sizeof spec))
            return sq_fail(err, "Failed to format this callback filepath: \"%s\". Reason: "
                           "the field is too long", tmpl);
        memcpy(name, p + 1, nl);
        name[nl] = '\0';
        if (colon) {
            memcpy(spec, colon + 1, (size_t)(close - colon - 1));
            spec[close - colon - 1] = '\0';
        }
        double v;
        int is_int;
        if (field_value(fl, name, &v, &is_int) < 0)
            return sq_fail(err, "Failed to format this callback filepath: \"%s\". Reason: '%s'",
                           tmpl, name);
        char val[400];
        if (format_spec(v, is_int, spec, val, sizeof val, err) < 0)
            return -1;
        for (const char *q = val; *q && k + 1 < n; q++)
            out[k++] = *q;
        p = close + 1;
    }
    if (k + 1 >= n)
        return sq_fail(err, "the callback's file name is too long");
    out[k] = '\0';
    return 0;
}

/* ---- running them --------------------------------------------------------------- */

static void say(const sq_cb_env *env, const char *text, int kind)
{
    if (env->cb)
        env->cb(env->ctx, text, kind);
}

static int log_index(const sq_logs *logs, const char *name)
{
    for (int i = 0; i < logs->n; i++)
        if (!strcmp(logs->name[i], name))
            return i;
    return -1;
}

/* Keras's warning for a monitor not in the logs ("loss,accuracy"). */
static void warn_missing(const sq_cb_env *env, const char *fmt, const char *monitor,
                         const sq_logs *logs)
{
    char keys[1024] = "", msg[1400];
    size_t k = 0;
    for (int i = 0; i < logs->n && k + 1 < sizeof keys; i++)
        k += (size_t)snprintf(keys + k, sizeof keys - k, "%s%s", i ? "," : "", logs->name[i]);
    snprintf(msg, sizeof msg, fmt, monitor, keys);
    say(env, msg, SQ_PROGRESS_WARNING);
}

int sq_callbacks_begin(sq_callbacks *cs, sq_cb_env *env, const char *const *names, int n,
                       sq_error *err)
{
    sq_model *m = env->s->model;
    env->stop = 0;
    for (int i = 0; cs && i < cs->n; i++) {
        callback *c = &cs->cb[i];
        c->wait = c->stopped_epoch = c->cooldown_counter = c->have_best_weights = 0;
        c->header_done = 0;
        c->nkeys = -1;
        c->best = c->greater ? -HUGE_VAL : HUGE_VAL;
        if (c->kind == CB_CHECKPOINT) {
            /* the logs this callback will see: the fit's, and lr when a
             * reduce_lr_on_plateau runs before it */
            const char *all[SQ_LOGS_MAX + 1];
            int k = 0;
            for (int j = 0; j < n && k < SQ_LOGS_MAX; j++)
                all[k++] = names[j];
            for (int j = 0; j < i; j++)
                if (cs->cb[j].kind == CB_PLATEAU && k < SQ_LOGS_MAX) {
                    all[k++] = "lr";
                    break;
                }
            fields fl = { NULL, 1, all, k };
            char path[1024];
            if (format_path(c->path, &fl, path, sizeof path, err) < 0)
                goto fail;
        }
        if (c->kind == CB_EARLY && c->restore_best) {
            free(c->best_weights);
            c->best_weights = sq_malloc((m->nparams ? m->nparams : 1) * sizeof(float));
            if (!c->best_weights) {
                sq_fail(err, "out of memory for early_stopping's best weights");
                goto fail;
            }
        }
        if (c->kind == CB_CSV && sq_dist_rank() != 0) {
            c->header_done = 1;   /* under mpirun the first process writes the file */
        } else if (c->kind == CB_CSV) {
            int header = 1;
            if (c->append) {
                FILE *r = fopen(c->path, "rb");
                if (r) {
                    /* not bool(len(f.readline())): only an empty file gets one */
                    header = fgetc(r) == EOF;
                    fclose(r);
                }
            }
            c->f = fopen(c->path, c->append ? "ab" : "wb");
            if (!c->f) {
                sq_fail(err, "CSVLogger: cannot open '%s' for writing: %s", c->path,
                        strerror(errno));
                goto fail;
            }
            c->header_done = !header;
        }
        if (c->warning[0])
            say(env, c->warning, SQ_PROGRESS_WARNING);
    }
    return 0;
fail:
    for (int i = 0; cs && i < cs->n; i++)
        if (cs->cb[i].f) {
            fclose(cs->cb[i].f);
            cs->cb[i].f = NULL;
        }
    return -1;
}

static int early_stopping(callback *c, sq_cb_env *env, int epoch, const sq_logs *logs)
{
    sq_model *m = env->s->model;
    int at = log_index(logs, c->monitor);
    if (at < 0) {
        warn_missing(env, "Early stopping conditioned on metric `%s` which is not available. "
                     "Available metrics are: %s", c->monitor, logs);
        return 0;
    }
    double cur = (double)(float)logs->value[at];
    if (c->restore_best && !c->have_best_weights) {
        memcpy(c->best_weights, m->params, m->nparams * sizeof(float));
        c->have_best_weights = 1;
    }
    c->wait++;
#define IMPROVES(v, ref) (c->greater ? (v) - c->min_delta > (ref) : (v) - c->min_delta < (ref))
    if (IMPROVES(cur, c->best)) {
        c->best = cur;
        if (c->restore_best)
            memcpy(c->best_weights, m->params, m->nparams * sizeof(float));
        if (!c->has_baseline || IMPROVES(cur, c->baseline))
            c->wait = 0;
    }
#undef IMPROVES
    if (c->wait >= c->patience) {
        c->stopped_epoch = epoch;
        env->stop = 1;
        if (c->restore_best && c->have_best_weights) {
            if (c->verbose > 0)
                say(env, "Restoring model weights from the end of the best epoch.",
                    SQ_PROGRESS_LINE);
            memcpy(m->params, c->best_weights, m->nparams * sizeof(float));
        }
    }
    return 0;
}

static int plateau(callback *c, sq_cb_env *env, int epoch, sq_logs *logs, sq_error *err)
{
    sq_optim *o = env->s->model->compiled->opt;
    double lr = (double)(float)sq_optim_lr(o);   /* the float32 variable */
    int li = log_index(logs, "lr");
    if (li < 0 && logs->n < SQ_LOGS_MAX) {
        li = logs->n++;
        logs->name[li] = "lr";
    }
    if (li >= 0)
        logs->value[li] = lr;
    int at = log_index(logs, c->monitor);
    if (at < 0) {
        warn_missing(env, "Learning rate reduction is conditioned on metric `%s` which is not "
                     "available. Available metrics are: %s", c->monitor, logs);
        return 0;
    }
    double cur = (double)(float)logs->value[at];
    if (c->cooldown_counter > 0) {
        c->cooldown_counter--;
        c->wait = 0;
    }
    int better = c->greater ? cur > c->best + c->min_delta : cur < c->best - c->min_delta;
    if (better) {
        c->best = cur;
        c->wait = 0;
    } else if (!(c->cooldown_counter > 0)) {
        c->wait++;
        if (c->wait >= c->patience) {
            if (lr > (double)(float)c->min_lr) {
                double new_lr = lr * c->factor;
                char shown[64];
                if (new_lr >= c->min_lr) {
                    sq_py_float(new_lr, shown, sizeof shown);
                } else {
                    new_lr = c->min_lr;
                    snprintf(shown, sizeof shown, "%s", c->min_lr_shown);
                }
                sq_optim_set_lr(o, (double)(float)new_lr);
                if (c->verbose > 0) {
                    char line[200];
                    snprintf(line, sizeof line, "Epoch %05d: ReduceLROnPlateau reducing "
                             "learning rate to %s.", epoch + 1, shown);
                    say(env, "", SQ_PROGRESS_LINE);
                    say(env, line, SQ_PROGRESS_LINE);
                }
                c->cooldown_counter = c->cooldown;
                c->wait = 0;
            }
        }
    }
    (void)err;
    return 0;
}

static int save_to(const callback *c, sq_cb_env *env, const char *path, sq_error *err)
{
    size_t len = strlen(path);
    if (c->save_weights_only || (len >= 4 && !strcmp(path + len - 4, ".npz")))
        return sq_save_weights(env->s, path, err);
    return sq_save(env->s, path, err);
}

static int checkpoint(callback *c, sq_cb_env *env, int epoch, const sq_logs *logs,
                      sq_error *err)
{
    fields fl = { logs, epoch + 1, NULL, 0 };
    char path[1024], line[1400], a[64], b[64];
    if (format_path(c->path, &fl, path, sizeof path, err) < 0)
        return -1;
    if (!c->save_best_only) {
        if (c->verbose > 0) {
            snprintf(line, sizeof line, "Epoch %05d: saving model to %s", epoch + 1, path);
            say(env, "", SQ_PROGRESS_LINE);
            say(env, line, SQ_PROGRESS_LINE);
        }
        return save_to(c, env, path, err);
    }
    int at = log_index(logs, c->monitor);
    if (at < 0) {
        snprintf(line, sizeof line, "Can save best model only with %s available, skipping.",
                 c->monitor);
        say(env, line, SQ_PROGRESS_WARNING);
        return 0;
    }
    double cur = (double)(float)logs->value[at];
    snprintf(a, sizeof a, "%0.5f", c->best);
    snprintf(b, sizeof b, "%0.5f", cur);
    if (c->greater ? cur > c->best : cur < c->best) {
        if (c->verbose > 0) {
            snprintf(line, sizeof line, "Epoch %05d: %s improved from %s to %s, saving model "
                     "to %s", epoch + 1, c->monitor, a, b, path);
            say(env, "", SQ_PROGRESS_LINE);
            say(env, line, SQ_PROGRESS_LINE);
        }
        c->best = cur;
        return save_to(c, env, path, err);
    }
    if (c->verbose > 0) {
        snprintf(line, sizeof line, "Epoch %05d: %s did not improve from %s", epoch + 1,
                 c->monitor, a);
        say(env, "", SQ_PROGRESS_LINE);
        say(env, line, SQ_PROGRESS_LINE);
    }
    return 0;
}

static int cmp_key(const void *a, const void *b)
{
    return strcmp((const char *)a, (const char *)b);
}

/* One CSV field, quoted as Python's csv module (excel dialect, minimal
 * quoting) does. */
static void csv_field(FILE *f, const char *v, char sep)
{
    if (!strchr(v, sep) && !strpbrk(v, "\"\r\n")) {
        fputs(v, f);
        return;
    }
    fputc('"', f);
    for (; *v; v++) {
        if (*v == '"')
            fputc('"', f);
        fputc(*v, f);
    }
    fputc('"', f);
}

static int csv_logger(callback *c, sq_cb_env *env, int epoch, const sq_logs *logs,
                      sq_error *err)
{
    char sep = c->sep[0];
    if (!c->f)
        return 0;   /* not the process that writes */
    if (c->nkeys < 0) {
        c->nkeys = 0;
        for (int i = 0; i < logs->n && c->nkeys < SQ_LOGS_MAX; i++)
            snprintf(c->keys[c->nkeys++], sizeof c->keys[0], "%s", logs->name[i]);
        qsort(c->keys, (size_t)c->nkeys, sizeof c->keys[0], cmp_key);
    }
    if (!c->header_done) {
        csv_field(c->f, "epoch", sep);
        for (int i = 0; i < c->nkeys; i++) {
            fputc(sep, c->f);
            csv_field(c->f, c->keys[i], sep);
        }
        fputs("\r\n", c->f);
        c->header_done = 1;
    }
    fprintf(c->f, "%d", epoch);
    for (int i = 0; i < c->nkeys; i++) {
        fputc(sep, c->f);
        int at = log_index(logs, c->keys[i]);
        char num[64];
        if (at < 0) {
            csv_field(c->f, "NA", sep);
        } else if (!strcmp(c->keys[i], "lr")) {
            /* np.float32 from backend.get_value: numpy's str */
            char s[192];
            sq_float32_str((float)logs->value[at], s);
            csv_field(c->f, s, sep);
        } else {
            /* a float32 log value as a Python float */
            csv_field(c->f, sq_py_float((double)(float)logs->value[at], num, sizeof num), sep);
        }
    }
    fputs("\r\n", c->f);
    if (fflush(c->f) != 0 || ferror(c->f))
        return sq_fail(err, "CSVLogger: writing '%s' failed: %s", c->path, strerror(errno));
    (void)env;
    return 0;
}

int sq_callbacks_epoch_end(sq_callbacks *cs, sq_cb_env *env, int epoch, sq_logs *logs,
                           sq_error *err)
{
    for (int i = 0; cs && i < cs->n; i++) {
        callback *c = &cs->cb[i];
        int rc = 0;
        switch (c->kind) {
        case CB_EARLY: rc = early_stopping(c, env, epoch, logs); break;
        case CB_PLATEAU: rc = plateau(c, env, epoch, logs, err); break;
        case CB_CHECKPOINT: rc = checkpoint(c, env, epoch, logs, err); break;
        case CB_CSV: rc = csv_logger(c, env, epoch, logs, err); break;
        }
        if (rc < 0)
            return -1;
    }
    return 0;
}

void sq_callbacks_end(sq_callbacks *cs, sq_cb_env *env, int finished)
{
    for (int i = 0; cs && i < cs->n; i++) {
        callback *c = &cs->cb[i];
        if (finished && c->kind == CB_EARLY && c->stopped_epoch > 0 && c->verbose > 0) {
            char line[64];
            snprintf(line, sizeof line, "Epoch %05d: early stopping", c->stopped_epoch + 1);
            say(env, line, SQ_PROGRESS_LINE);
        }
        if (c->f) {
            fclose(c->f);
            c->f = NULL;
        }
    }
}
