/* export_torch2d.c - the 2-D kinds of the second wave as PyTorch code
 * (Conv2DTranspose, UpSampling2D, ZeroPadding2D, Cropping2D,
 * SeparableConv2D, DepthwiseConv2D), on x in seqsh's channels-last layout.
 * Where torch and Keras 2.6 differ (keras-layers-wave2.md): TensorFlow's
 * 'same' padding is an explicit F.pad, a depthwise kernel (kh, kw, C, dm)
 * becomes a groups=C weight (C*dm, 1, kh, kw), and a transposed
 * convolution runs whole and is then cropped and zero-extended to where
 * TensorFlow places it. */
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include "io/export.h"
#include "layers/spatial2d.h"

static const sq_optval *opt(const sq_layer *l, const char *name)
{
    int i = sq_opt_index(l->kind, name);
    return i >= 0 ? &l->opt[i] : NULL;
}

static const char *py_bool(int b)
{
    return b ? "True" : "False";
}

/* self.NAME: the depthwise step of l (its kernel is weight 0), with the
 * bias of weight `bias` (-1: none). */
static void depthwise_module(const sq_layer *l, const char *name, int bias, sbuf *init)
{
    const sq_shape *ks = &l->w[0].shape;
    const long *s = opt(l, "strides")->i, *d = opt(l, "dilation_rate")->i;
    char k0[3 * SQ_NAME_MAX], k1[3 * SQ_NAME_MAX];
    long c = ks->d[2], dm = ks->d[3];
    sq_npz_key(l, 0, k0, sizeof k0);
    sb_printf(init, "        self.%s = nn.Conv2d(%ld, %ld, (%ld, %ld), stride=(%ld, %ld), "
              "dilation=(%ld, %ld), groups=%ld, bias=%s)  # %s\n", name, c, c * dm, ks->d[0],
              ks->d[1], s[0], s[1], d[0], d[1], c, py_bool(bias >= 0), l->name);
    sb_printf(init, "        # (kh, kw, C, dm) -> (C*dm, 1, kh, kw): output channel c*dm + m\n"
              "        self.%s.weight.data = _w(\"%s\").reshape(%ld, %ld, %ld).permute(2, 0, 1)"
              ".unsqueeze(1).contiguous()\n", name, k0, ks->d[0], ks->d[1], c * dm);
    if (bias >= 0) {
        sq_npz_key(l, bias, k1, sizeof k1);
        sb_printf(init, "        self.%s.bias.data = _w(\"%s\")\n", name, k1);
    }
}

/* x to NCHW, TensorFlow's padding of l's window, when any. */
static void to_nchw_padded(const sq_layer *l, sbuf *fwd)
{
    long p[4];
    sq_torch_pads(l, l->w[0].shape.d, opt(l, "strides")->i, opt(l, "dilation_rate")->i,
                  !strcasecmp(opt(l, "padding")->s, "same"), p);
    sb_printf(fwd, "        x = x.permute(0, 3, 1, 2)\n");
    if (p[0] || p[1] || p[2] || p[3])
        sb_printf(fwd, "        x = F.pad(x, (%ld, %ld, %ld, %ld))  # TensorFlow's 'same'\n", p[0],
                  p[1], p[2], p[3]);
}

static void transposed(const sq_layer *l, const char *id, sbuf *init, sbuf *fwd)
{
    const sq_shape *ks = &l->w[0].shape;
    const long *s = opt(l, "strides")->i, *d = opt(l, "dilation_rate")->i;
    int same = !strcasecmp(opt(l, "padding")->s, "same");
    char k0[3 * SQ_NAME_MAX], k1[3 * SQ_NAME_MAX];
    sq_npz_key(l, 0, k0, sizeof k0);
    sb_printf(init, "        self.%s = nn.ConvTranspose2d(%ld, %ld, (%ld, %ld), stride=(%ld, %ld), "
              "dilation=(%ld, %ld), bias=False)  # %s\n", id, ks->d[3], ks->d[2], ks->d[0],
              ks->d[1], s[0], s[1], d[0], d[1], l->name);
    sb_printf(init, "        self.%s.weight.data = _w(\"%s\").permute(3, 2, 0, 1).contiguous()"
              "  # (kh, kw, f, C) -> (C, f, kh, kw)\n", id, k0);
    if (l->nweights > 1) {
        sq_npz_key(l, 1, k1, sizeof k1);
        sb_printf(init, "        self.%s_bias = nn.Parameter(_w(\"%s\"))\n", id, k1);
    }
    /* per axis: the full length, TensorFlow's L cells of it from `off`,
     * the zeros it adds past the full one's end */
    long from[2], to[2], ext[2], full[2];
    for (int a = 0; a < 2; a++) {
        long dk = ks->d[a] + (ks->d[a] - 1) * (d[a] - 1), len = l->out_shape.d[1 + a];
        full[a] = (l->in_shape.d[1 + a] - 1) * s[a] + dk;
        from[a] = same && full[a] > len ? (full[a] - len) / 2 : 0;
        to[a] = from[a] + len < full[a] ? from[a] + len : full[a];
        ext[a] = from[a] + len > full[a] ? from[a] + len - full[a] : 0;
    }
    sb_printf(fwd, "        x = self.%s(x.permute(0, 3, 1, 2))  # all of it: %ld x %ld\n", id,
              full[0], full[1]);
    if (from[0] || from[1] || to[0] < full[0] || to[1] < full[1])
        sb_printf(fwd, "        x = x[:, :, %ld:%ld, %ld:%ld]  # where TensorFlow places it\n",
                  from[0], to[0], from[1], to[1]);
    if (ext[0] || ext[1])
        sb_printf(fwd, "        x = F.pad(x, (0, %ld, 0, %ld))  # TensorFlow's cells past its "
                  "end (the bias alone)\n", ext[1], ext[0]);
    sb_printf(fwd, "        x = x.permute(0, 2, 3, 1)%s%s%s\n", l->nweights > 1 ? " + self." : "",
              l->nweights > 1 ? id : "", l->nweights > 1 ? "_bias" : "");
}

int sq_torch_spatial(const sq_layer *l, const char *id, sbuf *init, sbuf *fwd, sq_error *err)
{
    const char *cls = l->kind->class_name;
    char name[32], k1[3 * SQ_NAME_MAX];
    if (!strcmp(cls, "Conv2DTranspose")) {
        transposed(l, id, init, fwd);
    } else if (!strcmp(cls, "DepthwiseConv2D")) {
        depthwise_module(l, id, l->nweights > 1 ? 1 : -1, init);
        to_nchw_padded(l, fwd);
        sb_printf(fwd, "        x = self.%s(x).permute(0, 2, 3, 1)\n", id);
    } else if (!strcmp(cls, "SeparableConv2D")) {
        /* the depthwise step, then a 1x1 convolution by the pointwise
         * kernel (1, 1, C*dm, f) -> (f, C*dm, 1, 1) */
        long cm = l->w[1].shape.d[2], f = l->w[1].shape.d[3];
        snprintf(name, sizeof name, "%s_dw", id);
        depthwise_module(l, name, -1, init);
        sq_npz_key(l, 1, k1, sizeof k1);
        sb_printf(init, "        self.%s_pw = nn.Conv2d(%ld, %ld, 1, bias=%s)\n"
                  "        self.%s_pw.weight.data = _w(\"%s\")[0, 0].T[:, :, None, None]"
                  ".contiguous()\n", id, cm, f, py_bool(l->nweights > 2), id, k1);
        if (l->nweights > 2) {
            sq_npz_key(l, 2, k1, sizeof k1);
            sb_printf(init, "        self.%s_pw.bias.data = _w(\"%s\")\n", id, k1);
        }
        to_nchw_padded(l, fwd);
        sb_printf(fwd, "        x = self.%s_pw(self.%s_dw(x)).permute(0, 2, 3, 1)\n", id, id);
    } else if (!strcmp(cls, "UpSampling2D")) {
        const long *s = opt(l, "size")->i;
        if (!strcmp(opt(l, "interpolation")->s, "bilinear"))
            sb_printf(fwd, "        # TensorFlow 2's half-pixel resize is torch's align_corners="
                      "False\n        x = F.interpolate(x.permute(0, 3, 1, 2), scale_factor=(%ld, "
                      "%ld), mode=\"bilinear\",\n                          align_corners=False)"
                      ".permute(0, 2, 3, 1)\n", s[0], s[1]);
        else
            sb_printf(fwd, "        x = x.repeat_interleave(%ld, dim=1).repeat_interleave(%ld, "
                      "dim=2)\n", s[0], s[1]);
    } else if (!strcmp(cls, "ZeroPadding2D") || !strcmp(cls, "Cropping2D")) {
        long m[4];
        int pad = cls[0] == 'Z';
        const char *what = pad ? "padding" : "cropping";
        if (sq_parse_margins(opt(l, what)->s, cls, what, m, NULL, 0, err) < 0)
            return -1;
        if (pad) {
            sb_printf(fwd, "        x = F.pad(x, (0, 0, %ld, %ld, %ld, %ld))  # channels, cols, "
                      "rows\n", m[2], m[3], m[0], m[1]);
        } else {
            char end[2][32] = { "", "" };
            for (int a = 0; a < 2; a++)
                if (m[2 * a + 1])
                    snprintf(end[a], sizeof end[a], "-%ld", m[2 * a + 1]);
            sb_printf(fwd, "        x = x[:, %ld:%s, %ld:%s]\n", m[0], end[0], m[2], end[1]);
        }
    } else {
        return sq_fail(err, "layer %s (%s) cannot be expressed in PyTorch by this seqsh",
                       l->name, cls);
    }
    return 0;
}
