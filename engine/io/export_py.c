/* export_py.c - `export pytorch FILE.py` and `export keras FILE.py`:
 * readable Python that defines a module-level `model` with seqsh's weights,
 * read from FILE.npz written beside it (keys "LAYER/WEIGHT", a nested
 * model's as "MODEL/LAYER/WEIGHT"). Both take input in seqsh's layout
 * (channels last); the PyTorch module permutes to NCHW around its
 * convolutions and pooling and pads as TensorFlow does. The PyTorch code
 * is written here (the 2-D kinds of the second wave in export_torch2d.c),
 * the Keras code in export_keras.c. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "io/export.h"
#include "io/npy.h"

static const sq_optval *opt(const sq_layer *l, const char *name)
{
    int i = sq_opt_index(l->kind, name);
    return i >= 0 ? &l->opt[i] : NULL;
}

/* The .npz key of weight j of layer l. */
void sq_npz_key(const sq_layer *l, int j, char *buf, size_t n)
{
    if (l->group)
        snprintf(buf, n, "%s/%s/%s", l->group->name, l->name, l->w[j].name);
    else
        snprintf(buf, n, "%s/%s", l->name, l->w[j].name);
}

/* FILE.py -> FILE.npz, and its base name for the Python side. */
static int npz_path(const char *py, char *out, size_t n, const char **base, sq_error *err)
{
    size_t len = strlen(py);
    if (len < 4 || strcmp(py + len - 3, ".py") || len + 2 > n)
        return sq_fail(err, "export to '%s': the file name must end in .py", py);
    snprintf(out, n, "%.*s.npz", (int)(len - 3), py);
    const char *slash = strrchr(out, '/');
    *base = slash ? slash + 1 : out;
    return 0;
}

static int write_weights(const sq_model *m, const char *path, sq_error *err)
{
    int total = 0, k = 0, rc;
    for (int i = 0; i < m->n; i++)
        total += m->layers[i]->nweights;
    npz_entry *e = sq_calloc((size_t)total + 1, sizeof *e);
    if (!e)
        return sq_fail(err, "out of memory");
    for (int i = 0; i < m->n; i++) {
        const sq_layer *l = m->layers[i];
        const float *w = m->params + l->param_off;
        for (int j = 0; j < l->nweights; j++) {
            char buf[3 * SQ_NAME_MAX + 8];
            sq_npz_key(l, j, buf, sizeof buf);
            if (!(e[k].name = sq_strdup(buf))) {
                rc = sq_fail(err, "out of memory");
                goto done;
            }
            e[k].t.shape = l->w[j].shape;
            e[k].t.data = (float *)w;
            w += sq_weight_count(&l->w[j]);
            k++;
        }
    }
    rc = npz_write_file(path, e, k, err);
done:
    for (int i = 0; i < k; i++)
        free(e[i].name);
    free(e);
    return rc;
}

/* A Python tuple of the dims of sh from `from`. */
static void tuple(sbuf *b, const long *d, int n)
{
    sb_printf(b, "(");
    for (int i = 0; i < n; i++)
        sb_printf(b, "%s%ld", i ? ", " : "", d[i]);
    sb_printf(b, n == 1 ? ",)" : ")");
}

/* ---- PyTorch ------------------------------------------------------------- */

static const char *torch_act(int a)
{
    static const char *const names[][2] = {
        { "linear", NULL }, { "relu", "F.relu(x)" }, { "sigmoid", "torch.sigmoid(x)" },
        { "tanh", "torch.tanh(x)" }, { "softmax", "torch.softmax(x, dim=-1)" },
        { "softplus", "F.softplus(x)" }, { "softsign", "F.softsign(x)" }, { "elu", "F.elu(x)" },
        { "selu", "F.selu(x)" }, { "exponential", "torch.exp(x)" },
        { "hard_sigmoid", "torch.clamp(0.2 * x + 0.5, 0.0, 1.0)  # Keras 2's hard_sigmoid" },
        { "swish", "F.silu(x)" }, { "silu", "F.silu(x)" }, { "gelu", "F.gelu(x)  # exact (erf)" },
        { "relu6", "F.relu6(x)" }, { "leaky_relu", "F.leaky_relu(x, 0.2)" },
        { "log_softmax", "torch.log_softmax(x, dim=-1)" },
    };
    const char *n = sq_activation_name(a);
    for (size_t i = 0; n && i < sizeof names / sizeof names[0]; i++)
        if (!strcmp(names[i][0], n))
            return names[i][1];
    return NULL;
}

/* TensorFlow's SAME split as F.pad's (left, right, top, bottom). */
void sq_torch_pads(const sq_layer *l, const long *k, const long *s, const long *d, int same,
                   long *p)
{
    for (int a = 0; a < 2; a++) {
        long n = l->in_shape.d[1 + a], o = l->out_shape.d[1 + a];
        long dk = k[a] + (k[a] - 1) * (d[a] - 1), total = same ? (o - 1) * s[a] + dk - n : 0;
        if (total < 0)
            total = 0;
        p[2 - 2 * a] = total / 2;            /* F.pad wants the last axis first */
        p[3 - 2 * a] = total - total / 2;
    }
}

/* What the generated file needs besides the layers. */
typedef struct {
    int set_rnn;       /* _set_rnn: Keras's recurrent weights into torch's */
    int keras_rnn;     /* _KerasRNN: a recurrent layer written out */
    int mask;          /* forward keeps Keras's mask in `mask` */
} helpers;

static int torch_layer2(const sq_layer *l, const char *id, int in_masked, helpers *h, sbuf *init,
                        sbuf *fwd, sq_error *err);

/* Layer l as torch code: what __init__ makes (self.ID...) and what
 * forward does to x. */
static int torch_layer(const sq_layer *l, const char *id, int in_masked, helpers *h, sbuf *init,
                       sbuf *fwd, sq_error *err)
{
    const char *cls = l->kind->class_name;
    char k0[3 * SQ_NAME_MAX], k1[3 * SQ_NAME_MAX];
    const char *at = l->group ? l->group->name : NULL;
    sb_printf(fwd, "        # %s (%s)%s%s\n", l->name, cls, at ? " in " : "", at ? at : "");
    if (!strcmp(cls, "Dense")) {
        sq_npz_key(l, 0, k0, sizeof k0);
        sb_printf(init, "        self.%s = nn.Linear(%ld, %ld, bias=%s)  # %s\n", id,
                  l->w[0].shape.d[0], l->w[0].shape.d[1], l->nweights > 1 ? "True" : "False",
                  l->name);
        sb_printf(init, "        self.%s.weight.data = _w(\"%s\").T.contiguous()\n", id, k0);
        if (l->nweights > 1) {
            sq_npz_key(l, 1, k1, sizeof k1);
            sb_printf(init, "        self.%s.bias.data = _w(\"%s\")\n", id, k1);
        }
        sb_printf(fwd, "        x = self.%s(x)\n", id);
    } else if (!strcmp(cls, "Conv2D")) {
        const sq_shape *ks = &l->w[0].shape;
        const sq_optval *sv = opt(l, "strides"), *dv = opt(l, "dilation_rate");
        long p[4];
        sq_torch_pads(l, ks->d, sv->i, dv->i, !strcasecmp(opt(l, "padding")->s, "same"), p);
        sq_npz_key(l, 0, k0, sizeof k0);
        sb_printf(init, "        self.%s = nn.Conv2d(%ld, %ld, (%ld, %ld), stride=(%ld, %ld), "
                  "dilation=(%ld, %ld), bias=%s)  # %s\n", id, ks->d[2], ks->d[3], ks->d[0],
                  ks->d[1], sv->i[0], sv->i[1], dv->i[0], dv->i[1],
                  l->nweights > 1 ? "True" : "False", l->name);
        sb_printf(init, "        self.%s.weight.data = _w(\"%s\").permute(3, 2, 0, 1).contiguous()\n",
                  id, k0);
        if (l->nweights > 1) {
            sq_npz_key(l, 1, k1, sizeof k1);
            sb_printf(init, "        self.%s.bias.data = _w(\"%s\")\n", id, k1);
        }
        sb_printf(fwd, "        x = x.permute(0, 3, 1, 2)\n");
        if (p[0] || p[1] || p[2] || p[3])
            sb_printf(fwd, "        x = F.pad(x, (%ld, %ld, %ld, %ld))  # TensorFlow's 'same'\n",
                      p[0], p[1], p[2], p[3]);
        sb_printf(fwd, "        x = self.%s(x).permute(0, 2, 3, 1)\n", id);
    } else if (!strcmp(cls, "MaxPooling2D") || !strcmp(cls, "AveragePooling2D")) {
        const sq_optval *pv = opt(l, "pool_size"), *sv = opt(l, "strides");
        const long *s = sv->i[0] > 0 ? sv->i : pv->i, one[2] = { 1, 1 };
        long p[4];
        int same = !strcasecmp(opt(l, "padding")->s, "same"), pad;
        sq_torch_pads(l, pv->i, s, one, same, p);
        pad = p[0] || p[1] || p[2] || p[3];
        sb_printf(fwd, "        x = x.permute(0, 3, 1, 2)\n");
        sb_printf(fwd, "        x = (");
        if (cls[0] == 'M') {
            /* a 'same' window's padding is -inf: it never wins a max */
            char src[160] = "x";
            if (pad)
                snprintf(src, sizeof src, "F.pad(x, (%ld, %ld, %ld, %ld), value=float(\"-inf\"))",
                         p[0], p[1], p[2], p[3]);
            sb_printf(fwd, "F.max_pool2d(%s, (%ld, %ld), (%ld, %ld))", src, pv->i[0], pv->i[1],
                      s[0], s[1]);
        } else if (pad) {
            /* 'same' averages only the real cells */
            sb_printf(fwd, "F.avg_pool2d(F.pad(x, (%ld, %ld, %ld, %ld)), (%ld, %ld), (%ld, %ld))\n"
                      "             / F.avg_pool2d(F.pad(torch.ones_like(x[:, :1]), (%ld, %ld, %ld, %ld)), "
                      "(%ld, %ld), (%ld, %ld))", p[0], p[1], p[2], p[3],
                      pv->i[0], pv->i[1], s[0], s[1], p[0], p[1], p[2], p[3], pv->i[0], pv->i[1],
                      s[0], s[1]);
        } else {
            sb_printf(fwd, "F.avg_pool2d(x, (%ld, %ld), (%ld, %ld))", pv->i[0], pv->i[1], s[0], s[1]);
        }
        sb_printf(fwd, ").permute(0, 2, 3, 1)\n");
    } else if (!strcmp(cls, "GlobalMaxPooling2D") || !strcmp(cls, "GlobalAveragePooling2D")) {
        int keep = (int)opt(l, "keepdims")->i[0];
        if (cls[6] == 'M')
            sb_printf(fwd, "        x = x.amax(dim=(1, 2), keepdim=%s)\n", keep ? "True" : "False");
        else
            sb_printf(fwd, "        x = x.mean(dim=(1, 2), keepdim=%s)\n", keep ? "True" : "False");
    } else if (!strcmp(cls, "Flatten")) {
        sb_printf(fwd, "        x = x.reshape(x.shape[0], -1)\n");
    } else if (!strcmp(cls, "Reshape")) {
        sb_printf(fwd, "        x = x.reshape((x.shape[0],) + ");
        tuple(fwd, l->out_shape.d + 1, l->out_shape.rank - 1);
        sb_printf(fwd, ")\n");
    } else if (!strcmp(cls, "Dropout")) {
        sb_printf(init, "        self.%s = nn.Dropout(%.17g)  # %s\n", id, opt(l, "rate")->f,
                  l->name);
        sb_printf(fwd, "        x = self.%s(x)\n", id);
    } else if (!strcmp(cls, "Activation")) {
        /* the activation below */
    } else if (!strcmp(cls, "Rescaling")) {
        sb_printf(fwd, "        x = x * %.9g + %.9g\n", opt(l, "scale")->f, opt(l, "offset")->f);
    } else if (!strcmp(cls, "BatchNormalization")) {
        /* inference with the moving statistics, on the last axis */
        int scale = (int)opt(l, "scale")->i[0], center = (int)opt(l, "center")->i[0], j = 0;
        const char *what[4] = { "gamma", "beta", "mean", "var" };
        char arg[4][48];
        sb_printf(init, "        # %s (BatchNormalization) on the last axis\n", l->name);
        for (int q = 0; q < 4; q++) {
            if ((q == 0 && !scale) || (q == 1 && !center)) {
                snprintf(arg[q], sizeof arg[q], "None");
                continue;
            }
            sq_npz_key(l, j++, k0, sizeof k0);
            snprintf(arg[q], sizeof arg[q], "self.%s_%s", id, what[q]);
            if (q < 2)
                sb_printf(init, "        self.%s_%s = nn.Parameter(_w(\"%s\"))\n", id, what[q], k0);
            else
                sb_printf(init, "        self.register_buffer(\"%s_%s\", _w(\"%s\"))\n", id,
                          what[q], k0);
        }
        sb_printf(fwd, "        x = F.batch_norm(x.movedim(-1, 1), %s, %s, %s, %s, False, 0.0, "
                  "%.17g).movedim(1, -1)\n", arg[2], arg[3], arg[0], arg[1], opt(l, "epsilon")->f);
    } else {
        if (torch_layer2(l, id, in_masked, h, init, fwd, err) < 0)
            return -1;
    }
    if (l->act) {
        const char *a = torch_act(l->act);
        if (!a)
            return sq_fail(err, "layer %s: activation %s cannot be expressed in PyTorch",
                           l->name, sq_activation_name(l->act));
        sb_printf(fwd, "        x = %s\n", a);
    }
    return 0;
}


/* The Python helpers a file gets when it needs them. */
static const char set_rnn_py[] =
    "def _set_rnn(rnn, suffix, kernel, recurrent, bias, order):\n"
    "    \"\"\"Keras's recurrent weights into torch's nn.RNN/LSTM/GRU: the kernels\n"
    "    transposed, the gate blocks in torch's order (order[k] is Keras's block\n"
    "    for torch's block k), one Keras bias as bias_ih with bias_hh 0, or GRU's\n"
    "    (2, 3u) bias as [bias_ih; bias_hh].\"\"\"\n"
    "    u = recurrent.shape[0]\n\n"
    "    def blocks(a):\n"
    "        return torch.cat([a[..., k * u:(k + 1) * u] for k in order], dim=-1)\n"
    "    getattr(rnn, \"weight_ih_l0\" + suffix).data = blocks(kernel).T.contiguous()\n"
    "    getattr(rnn, \"weight_hh_l0\" + suffix).data = blocks(recurrent).T.contiguous()\n"
    "    if bias is not None:\n"
    "        b = blocks(bias)\n"
    "        getattr(rnn, \"bias_ih_l0\" + suffix).data = b if b.dim() == 1 else b[0].contiguous()\n"
    "        getattr(rnn, \"bias_hh_l0\" + suffix).data = (torch.zeros_like(b) if b.dim() == 1\n"
    "                                                    else b[1].contiguous())\n\n\n";

static const char keras_rnn_py[] =
    "def _hard_sigmoid(x):\n"
    "    return torch.clamp(0.2 * x + 0.5, 0.0, 1.0)  # Keras 2's\n\n\n"
    "class _KerasRNN(nn.Module):\n"
    "    \"\"\"A Keras SimpleRNN, LSTM or GRU written out step by step, for what torch's\n"
    "    own layers lack: other activations, GRU reset_after=False, Keras's masks (a\n"
    "    masked step keeps the states and repeats the previous output, or gives 0\n"
    "    when zero_masked). Weights in Keras's layout: kernel (d, G*u), recurrent\n"
    "    (u, G*u), bias (G*u,) or GRU reset_after's (2, G*u); gates i f c o, z r h.\"\"\"\n\n"
    "    def __init__(self, cell, kernel, recurrent, bias, act, rec_act=None, reset_after=True):\n"
    "        super().__init__()\n"
    "        self.cell, self.act, self.rec, self.reset_after = cell, act, rec_act, reset_after\n"
    "        self.kernel = nn.Parameter(kernel)\n"
    "        self.recurrent = nn.Parameter(recurrent)\n"
    "        self.bias = nn.Parameter(bias) if bias is not None else None\n\n"
    "    def forward(self, x, mask=None, go_backwards=False, return_sequences=False,\n"
    "                zero_masked=False):\n"
    "        if go_backwards:\n"
    "            x = x.flip(1)\n"
    "            mask = mask.flip(1) if mask is not None else None\n"
    "        B, T, _ = x.shape\n"
    "        u = self.recurrent.shape[0]\n"
    "        h = x.new_zeros(B, u)\n"
    "        c = x.new_zeros(B, u)\n"
    "        out = x.new_zeros(B, u)\n"
    "        outs = []\n"
    "        b = self.bias\n"
    "        bx = 0 if b is None else (b if b.dim() == 1 else b[0])\n"
    "        bh = 0 if b is None or b.dim() == 1 else b[1]\n"
    "        for t in range(T):\n"
    "            zx = x[:, t] @ self.kernel + bx\n"
    "            if self.cell == \"lstm\":\n"
    "                i, f, g, o = (zx + h @ self.recurrent).split(u, dim=-1)\n"
    "                c_new = self.rec(f) * c + self.rec(i) * self.act(g)\n"
    "                h_new = self.rec(o) * self.act(c_new)\n"
    "            elif self.cell == \"gru\":\n"
    "                xz, xr, xh = zx.split(u, dim=-1)\n"
    "                rz, rr, rh = self.recurrent.split(u, dim=-1)\n"
    "                if self.reset_after:\n"
    "                    hz, hr, hh = (h @ self.recurrent + bh).split(u, dim=-1)\n"
    "                    z, r = self.rec(xz + hz), self.rec(xr + hr)\n"
    "                    cand = self.act(xh + r * hh)\n"
    "                else:\n"
    "                    z, r = self.rec(xz + h @ rz), self.rec(xr + h @ rr)\n"
    "                    cand = self.act(xh + (r * h) @ rh)\n"
    "                h_new = z * h + (1 - z) * cand\n"
    "                c_new = c\n"
    "            else:\n"
    "                h_new = self.act(zx + h @ self.recurrent)\n"
    "                c_new = c\n"
    "            if mask is None:\n"
    "                h, c, out = h_new, c_new, h_new\n"
    "            else:\n"
    "                m = mask[:, t:t + 1]\n"
    "                h, c = torch.where(m, h_new, h), torch.where(m, c_new, c)\n"
    "                out = torch.where(m, h_new, torch.zeros_like(h_new) if zero_masked else out)\n"
    "            outs.append(out)\n"
    "        return torch.stack(outs, dim=1) if return_sequences else out\n\n\n";

/* An activation as a Python callable for _KerasRNN. */
static const char *torch_fn(const char *a)
{
    static const char *const names[][2] = {
        { "linear", "(lambda x: x)" }, { "relu", "F.relu" }, { "sigmoid", "torch.sigmoid" },
        { "tanh", "torch.tanh" }, { "hard_sigmoid", "_hard_sigmoid" }, { "softplus", "F.softplus" },
        { "softsign", "F.softsign" }, { "elu", "F.elu" }, { "selu", "F.selu" },
        { "swish", "F.silu" }, { "silu", "F.silu" }, { "gelu", "F.gelu" }, { "relu6", "F.relu6" },
        { "exponential", "torch.exp" }, { "leaky_relu", "(lambda x: F.leaky_relu(x, 0.2))" },
    };
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (!strcmp(names[i][0], a))
            return names[i][1];
    return NULL;
}

/* Writes the merge of a and b (Python expressions) by Bidirectional's mode. */
static void merged(sbuf *fwd, const char *merge, const char *a, const char *b)
{
    if (!strcmp(merge, "sum"))
        sb_printf(fwd, "        x = %s + %s\n", a, b);
    else if (!strcmp(merge, "mul"))
        sb_printf(fwd, "        x = %s * %s\n", a, b);
    else if (!strcmp(merge, "ave"))
        sb_printf(fwd, "        x = (%s + %s) / 2\n", a, b);
    else
        sb_printf(fwd, "        x = torch.cat([%s, %s], dim=-1)\n", a, b);
}

/* A recurrent layer l (cell: the RNN whose options count, l itself or a
 * Bidirectional's template) as torch code: nn.RNN/LSTM/GRU where torch
 * computes what Keras does, _KerasRNN where it does not. */
static int torch_rnn(const sq_layer *l, const sq_layer *cell, const char *id, int in_masked,
                     helpers *h, sbuf *init, sbuf *fwd, sq_error *err)
{
    const char *cls = cell->kind->class_name;
    int bidi = cell != l;
    int gates = !strcmp(cls, "LSTM") ? 4 : !strcmp(cls, "GRU") ? 3 : 1;
    int reset_after = gates == 3 && opt(cell, "reset_after")->i[0];
    int use_bias = (int)opt(cell, "use_bias")->i[0];
    int seqs = (int)opt(cell, "return_sequences")->i[0];
    int back = (int)opt(cell, "go_backwards")->i[0];
    const char *act = opt(cell, "activation")->s;
    const char *rec = gates > 1 ? opt(cell, "recurrent_activation")->s : "sigmoid";
    const char *merge = bidi ? opt(l, "merge_mode")->s : "";
    long u = opt(cell, "units")->i[0], d = l->in_shape.d[2];
    int per = use_bias ? 3 : 2;   /* weights per direction */
    char k[6][3 * SQ_NAME_MAX];
    for (int j = 0; j < per * (bidi ? 2 : 1); j++)
        sq_npz_key(l, j, k[j], sizeof k[j]);
    int native = !in_masked && ((gates == 4 && !strcmp(act, "tanh") && !strcmp(rec, "sigmoid"))
                                || (gates == 3 && reset_after && !strcmp(act, "tanh")
                                    && !strcmp(rec, "sigmoid"))
                                || (gates == 1 && (!strcmp(act, "tanh") || !strcmp(act, "relu"))));
    if (native) {
        h->set_rnn = 1;
        const char *mod = gates == 4 ? "LSTM" : gates == 3 ? "GRU" : "RNN";
        const char *order = gates == 4 ? "(0, 1, 2, 3)" : gates == 3 ? "(1, 0, 2)" : "(0,)";
        sb_printf(init, "        self.%s = nn.%s(%ld, %ld, batch_first=True, bias=%s%s%s)  # %s\n",
                  id, mod, d, u, use_bias ? "True" : "False",
                  gates == 1 && !strcmp(act, "relu") ? ", nonlinearity=\"relu\"" : "",
                  bidi ? ", bidirectional=True" : "", l->name);
        if (gates == 3)
            sb_printf(init, "        # Keras's gates z r h are torch's r z n\n");
        for (int dir = 0; dir < (bidi ? 2 : 1); dir++) {
            char bias[3 * SQ_NAME_MAX + 16] = "None";
            if (use_bias)
                snprintf(bias, sizeof bias, "_w(\"%s\")", k[dir * per + 2]);
            sb_printf(init, "        _set_rnn(self.%s, \"%s\", _w(\"%s\"), _w(\"%s\"), %s, %s)\n", id,
                      dir ? "_reverse" : "", k[dir * per], k[dir * per + 1], bias, order);
        }
        if (back)
            sb_printf(fwd, "        x = x.flip(1)  # go_backwards: the outputs come in that order\n");
        if (!bidi) {
            sb_printf(fwd, "        x = self.%s(x)[0]%s\n", id, seqs ? "" : "[:, -1]");
            return 0;
        }
        /* torch's reverse direction is Keras's backward copy, outputs
         * realigned with time; its final state is at step 0 */
        sb_printf(fwd, "        y = self.%s(x)[0]\n", id);
        if (seqs && !strcmp(merge, "concat")) {
            sb_printf(fwd, "        x = y\n");
        } else {
            char a[64], b[64];
            snprintf(a, sizeof a, "y[:, %s:%ld]", seqs ? "" : "-1, ", u);
            snprintf(b, sizeof b, "y[:, %s%ld:]", seqs ? "" : "0, ", u);
            if (seqs) {
                snprintf(a, sizeof a, "y[..., :%ld]", u);
                snprintf(b, sizeof b, "y[..., %ld:]", u);
            } else {
                snprintf(a, sizeof a, "y[:, -1, :%ld]", u);
                snprintf(b, sizeof b, "y[:, 0, %ld:]", u);
            }
            merged(fwd, merge, a, b);
        }
        return 0;
    }
    const char *fa = torch_fn(act), *fr = torch_fn(rec);
    if (!fa || !fr)
        return sq_fail(err, "layer %s (%s): activation %s cannot be expressed in PyTorch by "
                       "this seqsh", l->name, l->kind->class_name, fa ? rec : act);
    h->keras_rnn = 1;
    const char *cname = gates == 4 ? "lstm" : gates == 3 ? "gru" : "simple_rnn";
    for (int dir = 0; dir < (bidi ? 2 : 1); dir++) {
        char bias[3 * SQ_NAME_MAX + 16] = "None";
        if (use_bias)
            snprintf(bias, sizeof bias, "_w(\"%s\")", k[dir * per + 2]);
        sb_printf(init, "        self.%s%s = _KerasRNN(\"%s\", _w(\"%s\"), _w(\"%s\"), %s, %s",
                  id, bidi ? (dir ? "_b" : "_f") : "", cname, k[dir * per], k[dir * per + 1],
                  bias, fa);
        if (gates > 1)
            sb_printf(init, ", %s", fr);
        if (gates == 3)
            sb_printf(init, ", reset_after=%s", reset_after ? "True" : "False");
        sb_printf(init, ")  # %s%s\n", l->name, bidi ? (dir ? ", backward" : ", forward") : "");
    }
    const char *m = in_masked ? "mask" : "None";
    if (!bidi) {
        sb_printf(fwd, "        x = self.%s(x, %s, go_backwards=%s, return_sequences=%s)\n", id, m,
                  back ? "True" : "False", seqs ? "True" : "False");
        return 0;
    }
    sb_printf(fwd, "        a = self.%s_f(x, %s, go_backwards=%s, return_sequences=%s, "
              "zero_masked=%s)\n", id, m, back ? "True" : "False", seqs ? "True" : "False",
              seqs ? "True" : "False");
    sb_printf(fwd, "        b = self.%s_b(x, %s, go_backwards=%s, return_sequences=%s, "
              "zero_masked=%s)%s\n", id, m, back ? "False" : "True", seqs ? "True" : "False",
              seqs ? "True" : "False", seqs ? ".flip(1)  # realigned with time" : "");
    merged(fwd, merge, "a", "b");
    return 0;
}

/* F.pad's (before, after) of one axis by TensorFlow's SAME rule. */
static void tf_pad1(long n, long o, long k, long s, long d, int same, long *p)
{
    long dk = k + (k - 1) * (d - 1), total = same ? (o - 1) * s + dk - n : 0;
    if (total < 0)
        total = 0;
    p[0] = total / 2;
    p[1] = total - total / 2;
}

static int torch_layer2(const sq_layer *l, const char *id, int in_masked, helpers *h, sbuf *init,
                        sbuf *fwd, sq_error *err)
{
    const char *cls = l->kind->class_name;
    const sq_shape *in = &l->in_shape, *out = &l->out_shape;
    char k0[3 * SQ_NAME_MAX], k1[3 * SQ_NAME_MAX];
    if (!strcmp(cls, "Conv1D")) {
        const sq_shape *ks = &l->w[0].shape;
        long s = opt(l, "strides")->i[0], dl = opt(l, "dilation_rate")->i[0], p[2];
        const char *pad = opt(l, "padding")->s;
        if (!strcasecmp(pad, "causal")) {
            p[0] = dl * (ks->d[0] - 1);
            p[1] = 0;
        } else {
            tf_pad1(in->d[1], out->d[1], ks->d[0], s, dl, !strcasecmp(pad, "same"), p);
        }
        sq_npz_key(l, 0, k0, sizeof k0);
        sb_printf(init, "        self.%s = nn.Conv1d(%ld, %ld, %ld, stride=%ld, dilation=%ld, "
                  "bias=%s)  # %s\n", id, ks->d[1], ks->d[2], ks->d[0], s, dl,
                  l->nweights > 1 ? "True" : "False", l->name);
        sb_printf(init, "        self.%s.weight.data = _w(\"%s\").permute(2, 1, 0).contiguous()\n",
                  id, k0);
        if (l->nweights > 1) {
            sq_npz_key(l, 1, k1, sizeof k1);
            sb_printf(init, "        self.%s.bias.data = _w(\"%s\")\n", id, k1);
        }
        sb_printf(fwd, "        x = x.transpose(1, 2)\n");
        if (p[0] || p[1])
            sb_printf(fwd, "        x = F.pad(x, (%ld, %ld))  # %s\n", p[0], p[1],
                      !strcasecmp(pad, "causal") ? "causal: zeros before the first step"
                      : "TensorFlow's 'same'");
        sb_printf(fwd, "        x = self.%s(x).transpose(1, 2)\n", id);
    } else if (!strcmp(cls, "MaxPooling1D") || !strcmp(cls, "AveragePooling1D")) {
        long k = opt(l, "pool_size")->i[0], s = opt(l, "strides")->i[0], p[2];
        if (s <= 0)
            s = k;
        tf_pad1(in->d[1], out->d[1], k, s, 1, !strcasecmp(opt(l, "padding")->s, "same"), p);
        sb_printf(fwd, "        x = x.transpose(1, 2)\n");
        if (cls[0] == 'M' && (p[0] || p[1]))
            sb_printf(fwd, "        x = F.max_pool1d(F.pad(x, (%ld, %ld), value=float(\"-inf\")), "
                      "%ld, %ld)\n", p[0], p[1], k, s);
        else if (cls[0] == 'M')
            sb_printf(fwd, "        x = F.max_pool1d(x, %ld, %ld)\n", k, s);
        else if (p[0] || p[1])
            sb_printf(fwd, "        x = (F.avg_pool1d(F.pad(x, (%ld, %ld)), %ld, %ld)\n"
                      "             / F.avg_pool1d(F.pad(torch.ones_like(x[:, :1]), (%ld, %ld)), "
                      "%ld, %ld))  # 'same' averages only the real steps\n", p[0], p[1], k, s,
                      p[0], p[1], k, s);
        else
            sb_printf(fwd, "        x = F.avg_pool1d(x, %ld, %ld)\n", k, s);
        sb_printf(fwd, "        x = x.transpose(1, 2)\n");
    } else if (!strcmp(cls, "GlobalAveragePooling1D") && in_masked) {
        const char *k = opt(l, "keepdims")->i[0] ? "True" : "False";
        sb_printf(fwd, "        m = mask.unsqueeze(-1).to(x.dtype)\n"
                  "        x = (x * m).sum(dim=1, keepdim=%s) / m.sum(dim=1, keepdim=%s)"
                  "  # Keras: the mean of the unmasked steps\n", k, k);
    } else if (!strcmp(cls, "GlobalMaxPooling1D") || !strcmp(cls, "GlobalAveragePooling1D")) {
        sb_printf(fwd, "        x = x.%s(dim=1, keepdim=%s)\n", cls[6] == 'M' ? "amax" : "mean",
                  opt(l, "keepdims")->i[0] ? "True" : "False");
    } else if (!strcmp(cls, "UpSampling1D")) {
        sb_printf(fwd, "        x = x.repeat_interleave(%ld, dim=1)\n", opt(l, "size")->i[0]);
    } else if (!strcmp(cls, "ZeroPadding1D")) {
        const sq_optval *pv = opt(l, "padding");
        sb_printf(fwd, "        x = F.pad(x, (0, 0, %ld, %ld))\n", pv->i[0], pv->i[1]);
    } else if (!strcmp(cls, "Cropping1D")) {
        const sq_optval *cv = opt(l, "cropping");
        sb_printf(fwd, "        x = x[:, %ld:x.shape[1] - %ld]\n", cv->i[0], cv->i[1]);
    } else if (!strcmp(cls, "RepeatVector")) {
        sb_printf(fwd, "        x = x.unsqueeze(1).repeat(1, %ld, 1)\n", opt(l, "n")->i[0]);
    } else if (!strcmp(cls, "Permute")) {
        long dims[SQ_MAX_RANK];
        int nd;
        if (sq_parse_ints(opt(l, "dims")->s, dims, SQ_MAX_RANK, &nd, err) < 0)
            return -1;
        sb_printf(fwd, "        x = x.permute(0");
        for (int i = 0; i < nd; i++)
            sb_printf(fwd, ", %ld", dims[i]);
        sb_printf(fwd, ")\n");
    } else if (!strcmp(cls, "LayerNormalization")) {
        long ax[SQ_MAX_RANK], bshape[SQ_MAX_RANK];
        int na, j = 0;
        if (sq_parse_ints(opt(l, "axis")->s, ax, SQ_MAX_RANK, &na, err) < 0)
            return -1;
        for (int i = 0; i < in->rank; i++)
            bshape[i] = 1;
        for (int i = 0; i < na; i++) {
            ax[i] = ax[i] < 0 ? ax[i] + in->rank : ax[i];
            bshape[ax[i]] = in->d[ax[i]];
        }
        int center = (int)opt(l, "center")->i[0], scale = (int)opt(l, "scale")->i[0];
        char g[64] = "None", b[64] = "None";
        if (scale) {
            sq_npz_key(l, j++, k0, sizeof k0);
            sb_printf(init, "        self.%s_gamma = nn.Parameter(_w(\"%s\"))  # %s\n", id, k0,
                      l->name);
            snprintf(g, sizeof g, "self.%s_gamma", id);
        }
        if (center) {
            sq_npz_key(l, j++, k1, sizeof k1);
            sb_printf(init, "        self.%s_beta = nn.Parameter(_w(\"%s\"))\n", id, k1);
            snprintf(b, sizeof b, "self.%s_beta", id);
        }
        if (na == 1 && ax[0] == in->rank - 1) {
            sb_printf(fwd, "        x = F.layer_norm(x, (%ld,), %s, %s, %.17g)\n", in->d[in->rank - 1],
                      g, b, opt(l, "epsilon")->f);
        } else {
            /* over several axes: gamma and beta reshaped as Keras broadcasts them */
            sb_printf(fwd, "        mean = x.mean(dim=");
            tuple(fwd, ax, na);
            sb_printf(fwd, ", keepdim=True)\n        var = ((x - mean) ** 2).mean(dim=");
            tuple(fwd, ax, na);
            sb_printf(fwd, ", keepdim=True)\n        x = (x - mean) / torch.sqrt(var + %.17g)\n",
                      opt(l, "epsilon")->f);
            if (scale) {
                sb_printf(fwd, "        x = x * %s.reshape(", g);
                tuple(fwd, bshape, in->rank);
                sb_printf(fwd, ")\n");
            }
            if (center) {
                sb_printf(fwd, "        x = x + %s.reshape(", b);
                tuple(fwd, bshape, in->rank);
                sb_printf(fwd, ")\n");
            }
        }
    } else if (!strcmp(cls, "LeakyReLU")) {
        sb_printf(fwd, "        x = F.leaky_relu(x, %.9g)\n", opt(l, "alpha")->f);
    } else if (!strcmp(cls, "ELU")) {
        sb_printf(fwd, "        x = F.elu(x, %.9g)\n", opt(l, "alpha")->f);
    } else if (!strcmp(cls, "PReLU")) {
        sq_npz_key(l, 0, k0, sizeof k0);
        sb_printf(init, "        self.%s_alpha = nn.Parameter(_w(\"%s\"))  # %s\n", id, k0, l->name);
        sb_printf(fwd, "        x = F.relu(x) - self.%s_alpha * F.relu(-x)\n", id);
    } else if (!strcmp(cls, "ReLU")) {
        const char *mv = opt(l, "max_value")->s;
        char top[64] = "x";
        if (strcmp(mv, "None"))
            snprintf(top, sizeof top, "x.clamp(max=%.9g)", strtod(mv, NULL));
        sb_printf(fwd, "        x = torch.where(x > %.9g, %s, %.9g * (x - %.9g))  # Keras's ReLU\n",
                  opt(l, "threshold")->f, top, opt(l, "negative_slope")->f,
                  opt(l, "threshold")->f);
    } else if (!strcmp(cls, "Softmax")) {
        sb_printf(fwd, "        x = torch.softmax(x, dim=%ld)\n", opt(l, "axis")->i[0]);
    } else if (!strcmp(cls, "ThresholdedReLU")) {
        sb_printf(fwd, "        x = x * (x > %.9g)\n", opt(l, "theta")->f);
    } else if (!strcmp(cls, "Embedding")) {
        sq_npz_key(l, 0, k0, sizeof k0);
        sb_printf(init, "        self.%s = nn.Embedding(%ld, %ld)  # %s\n", id, l->w[0].shape.d[0],
                  l->w[0].shape.d[1], l->name);
        sb_printf(init, "        self.%s.weight.data = _w(\"%s\")\n", id, k0);
        if (opt(l, "mask_zero")->i[0]) {
            h->mask = 1;
            sb_printf(fwd, "        mask = x != 0  # mask_zero: id 0 is padding\n");
        }
        sb_printf(fwd, "        x = self.%s(x.long())  # float ids truncated, as tf.cast\n", id);
    } else if (!strcmp(cls, "Masking")) {
        h->mask = 1;
        sb_printf(fwd, "        mask = (x != %.9g).any(dim=-1)  # steps all equal to mask_value "
                  "are masked\n        x = x * mask.unsqueeze(-1)\n", opt(l, "mask_value")->f);
    } else if (!strcmp(cls, "SimpleRNN") || !strcmp(cls, "LSTM") || !strcmp(cls, "GRU")) {
        return torch_rnn(l, l, id, in_masked, h, init, fwd, err);
    } else if (!strcmp(cls, "Bidirectional")) {
        return torch_rnn(l, l->inner, id, in_masked, h, init, fwd, err);
    } else if (!strcmp(cls, "TimeDistributed")) {
        /* the wrapped layer on (B*T, ...), its weights under the wrapper's name */
        if (in_masked && in->rank > 3 && sq_layer_reads_mask(l->inner))
            return sq_fail(err, "layer %s (TimeDistributed): its input's Keras mask reaches the "
                           "%s it wraps, which cannot be expressed in PyTorch by this seqsh",
                           l->name, l->inner->kind->class_name);
        sq_layer t = *l->inner;
        snprintf(t.name, sizeof t.name, "%s", l->name);
        t.group = l->group;
        t.built = 1;
        t.act = 0;                      /* the wrapper's (the same) comes after */
        t.in_shape.rank = in->rank - 1;
        t.out_shape.rank = out->rank - 1;
        t.in_shape.d[0] = t.out_shape.d[0] = -1;
        for (int i = 2; i < in->rank; i++)
            t.in_shape.d[i - 1] = in->d[i];
        for (int i = 2; i < out->rank; i++)
            t.out_shape.d[i - 1] = out->d[i];
        t.nweights = l->nweights;
        memcpy(t.w, l->w, sizeof t.w);
        char tid[24];
        snprintf(tid, sizeof tid, "%s_in", id);
        sb_printf(fwd, "        %s_bt = x.shape[:2]  # %s: the layer on every step\n"
                  "        x = x.reshape((-1,) + tuple(x.shape[2:]))\n", id, l->name);
        if (torch_layer(&t, tid, 0, h, init, fwd, err) < 0)
            return -1;
        sb_printf(fwd, "        x = x.reshape(tuple(%s_bt) + tuple(x.shape[1:]))\n", id);
    } else {
        return sq_torch_spatial(l, id, init, fwd, err);
    }
    return 0;
}

/* Every layer of m; forward tracks Keras's mask in `mask`. */
static int torch_layers(const sq_model *m, helpers *h, sbuf *init, sbuf *fwd, sq_error *err)
{
    int masked = 0;
    for (int i = 0; i < m->n; i++) {
        const sq_layer *l = m->layers[i];
        sq_mask_rule r = sq_layer_mask_rule(l, masked);
        char id[16];
        snprintf(id, sizeof id, "l%d", i);
        if (torch_layer(l, id, masked, h, init, fwd, err) < 0)
            return -1;
        int now = r == SQ_MASK_MAKE || (r == SQ_MASK_KEEP && masked);
        if (masked && !now)
            sb_printf(fwd, "        mask = None\n");
        masked = now;
    }
    return 0;
}

static int pytorch(const sq_model *m, const char *path, const char *npz, sq_error *err)
{
    sbuf init = { 0 }, fwd = { 0 }, b = { 0 };
    char shp[128];
    helpers h = { 0 };
    if (torch_layers(m, &h, &init, &fwd, err) < 0) {
        free(init.s);
        free(fwd.s);
        return -1;
    }
    sb_printf(&b, "\"\"\"The seqsh model %s as a PyTorch module.\n\n"
              "Input in seqsh's (Keras's) layout, channels last: %s. Running this file\n"
              "(or runpy.run_path) defines `model`, a torch.nn.Module in eval mode with the\n"
              "weights of %s loaded.\n\"\"\"\n", m->name,
              sq_shape_str(&m->input_shape, shp, sizeof shp), npz);
    sb_printf(&b, "import os\n\nimport numpy as np\nimport torch\nimport torch.nn as nn\n"
              "import torch.nn.functional as F\n\n"
              "_WEIGHTS = np.load(os.path.join(os.path.dirname(os.path.abspath(__file__)), \"%s\"))\n\n\n"
              "def _w(name):\n    return torch.from_numpy(np.array(_WEIGHTS[name], dtype=np.float32))\n\n\n"
              "%s%s"
              "class Model(nn.Module):\n    def __init__(self):\n        super().__init__()\n%s"
              "\n    def forward(self, x):\n%s%s        return x\n\n\n"
              "model = Model().eval()\n", npz, h.set_rnn ? set_rnn_py : "",
              h.keras_rnn ? keras_rnn_py : "", init.s ? init.s : "        pass\n",
              h.mask ? "        mask = None  # Keras's mask of the steps, once a layer makes one\n" : "",
              fwd.s ? fwd.s : "");
    free(init.s);
    free(fwd.s);
    char *text = sb_finish(&b, err);
    if (!text)
        return -1;
    int rc = sq_write_file_atomic(path, text, strlen(text), err);
    free(text);
    return rc;
}

int sq_export_python(const sq_model *m, int torch, const char *path, sq_error *err)
{
    char npz[4200];
    const char *base = NULL;
    if (!m->built || m->n == 0)
        return sq_fail(err, "export needs a built model with layers (give it an input shape)");
    if (strlen(path) > 4000)
        return sq_fail(err, "export to '%s': path too long", path);
    if (npz_path(path, npz, sizeof npz, &base, err) < 0)
        return -1;
    /* check that the code can be written before writing anything */
    sbuf probe_i = { 0 }, probe_f = { 0 };
    helpers h = { 0 };
    if (torch && torch_layers(m, &h, &probe_i, &probe_f, err) < 0) {
        free(probe_i.s);
        free(probe_f.s);
        return -1;
    }
    free(probe_i.s);
    free(probe_f.s);
    if (write_weights(m, npz, err) < 0)
        return -1;
    return torch ? pytorch(m, path, base, err) : sq_export_keras_code(m, path, base, err);
}
