/* export.h - models written for other frameworks (engine-internal):
 * ONNX (onnx.c) and Python for PyTorch or Keras (export_py.c). */
#ifndef SEQSH_EXPORT_H
#define SEQSH_EXPORT_H

#include "model.h"

/* An ONNX model (opset 13) taking input in seqsh's channels-last layout. */
int sq_export_onnx(const sq_model *m, const char *path, sq_error *err);
/* FILE.py defining a module-level `model` (PyTorch when torch, else
 * tf.keras), its weights in FILE.npz beside it. */
int sq_export_python(const sq_model *m, int torch, const char *path, sq_error *err);

#endif
