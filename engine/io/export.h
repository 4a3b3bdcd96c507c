/* export.h - models written for other frameworks (engine-internal):
 * ONNX (onnx.c), Python for PyTorch (export_py.c, export_torch2d.c) or
 * Keras (export_keras.c). */
#ifndef SEQSH_EXPORT_H
#define SEQSH_EXPORT_H

#include "model.h"

/* An ONNX model (opset 13) taking input in seqsh's channels-last layout. */
int sq_export_onnx(const sq_model *m, const char *path, sq_error *err);
/* FILE.py defining a module-level `model` (PyTorch when torch, else
 * tf.keras), its weights in FILE.npz beside it. */
int sq_export_python(const sq_model *m, int torch, const char *path, sq_error *err);

/* The .npz key the Python exports store weight j of layer l under:
 * "LAYER/WEIGHT", or "MODEL/LAYER/WEIGHT" in a nested model. */
void sq_npz_key(const sq_layer *l, int j, char *buf, size_t n);
/* The tf.keras code of sq_export_python, its weights already in `npz`
 * (the file's name as the code opens it, beside the code). */
int sq_export_keras_code(const sq_model *m, const char *path, const char *npz,
                         sq_error *err);
/* TensorFlow's padding of 2-D window layer l (kernel k, strides s,
 * dilations d; SAME or VALID) as F.pad's (left, right, top, bottom). */
void sq_torch_pads(const sq_layer *l, const long *k, const long *s, const long *d, int same,
                   long *p);
/* Layer l of a 2-D kind of the second wave as PyTorch code: what
 * __init__ makes (self.ID...) in init and what forward does to x (in
 * seqsh's layout) in fwd; -1 with err naming the layer when it is no such
 * kind (export_torch2d.c). */
int sq_torch_spatial(const sq_layer *l, const char *id, sbuf *init, sbuf *fwd, sq_error *err);

#endif
