/* nn-backward.h: backward (gradient) kernels of the network engine's ops.
 *
 * Layout and weight conventions are those of nn-ops.h: activations (C, D, H, W),
 * W fastest, batch 1; Conv3d weight (Cout, Cin, kD, kH, kW); ConvTranspose3d
 * weight (Cin, Cout, kD, kH, kW).  "dX" means dLoss/dX.
 *
 * Every gradient is ACCUMULATED (+=) into its output buffer, because one tensor
 * may feed several layers (skip connections, Inception branches): the caller
 * zeroes gradient buffers once per step.
 *
 * Determinism: reductions are split into a fixed number of chunks equal to the
 * pool's thread count and summed in chunk order, so results are identical for a
 * given thread count regardless of scheduling.
 *
 * Every optimised kernel has a naive twin (suffix _ref), compared in
 * tests/test-nn-train.c.  The loss is in nn-loss.h.
 */
#pragma once

#include <glib.h>
#include <stdint.h>
#include "nn-ops.h"

G_BEGIN_DECLS

/* ---- convolution ------------------------------------------------------- */

/* Scratch floats per thread for nn_conv3d_backward_weights () with output
 * of @n_out_vox voxels from input rows of @W (im2col slab + a private dW accumulator, or
 * the direct path's rows and accumulators). */
int64_t nn_conv3d_backward_weights_scratch_floats (const NnConvGeom *g, int64_t n_out_vox, int W,
                                                   int n_threads);

/* dw (Cout, Cin, kD, kH, kW) += dy (Cout, No) . im2col (x)^T (directly, without the im2col
 * matrix, where the forward takes its direct path and the stride is 1)
 * db (Cout) += sum over voxels of dy (skipped when db is NULL).
 * x is (Cin, D, H, W), dy is (Cout, Do, Ho, Wo) as in nn_conv3d (any stride/padding).
 * scratch: n_threads * nn_conv3d_backward_weights_scratch_floats () floats. */
void nn_conv3d_backward_weights (WorkerPool *pool, const NnConvGeom *g, const float *x, int D, int H, int W,
                                 const float *dy, float *dw, float *db, float *scratch);

/* dx (Cin, D, H, W) += conv3d^T (dy, w): only stride 1 (padding p, any kernel),
 * computed as a forward convolution of dy with the flipped, transposed kernel
 * (Cin, Cout, k) and padding k - 1 - p.
 * wflip: Cin*Cout*k³ floats; tmp: Cin*D*H*W floats;
 * scratch: n_threads * nn_conv3d_scratch_floats (flipped geometry, D*H*W) floats,
 * see nn_conv3d_backward_input_scratch_floats (). */
int64_t nn_conv3d_backward_input_scratch_floats (const NnConvGeom *g, int64_t n_in_vox, int n_threads);
void nn_conv3d_backward_input (WorkerPool *pool, const NnConvGeom *g, const float *dy, int D, int H, int W,
                               const float *w, float *dx, float *wflip, float *tmp, float *scratch);

/* Naive twin of both: x (Cin, D, H, W), dy (Cout, Do, Ho, Wo); dx, dw, db
 * accumulated (each may be NULL). */
void nn_conv3d_backward_ref (const NnConvGeom *g, const float *x, int D, int H, int W,
                             const float *w, const float *dy, float *dx, float *dw, float *db);

/* Transposed convolution y = convT (x, w) + b, x (Cin, D, H, W), y (Cout, Do, Ho, Wo):
 * dx (Cin, D, H, W) += conv3d (dy, w) with the same stride and padding
 *   (tmp: Cin*D*H*W floats; scratch: n_threads * nn_conv_transpose3d_backward_scratch_floats ());
 * dw (Cin, Cout, k) += x (Cin, N) . im2col_{k,s,p} (dy)^T;  db (Cout) += sum dy. */
int64_t nn_conv_transpose3d_backward_scratch_floats (const NnConvGeom *g, int64_t n_in_vox, int n_threads);
void nn_conv_transpose3d_backward_input (WorkerPool *pool, const NnConvGeom *g, const float *dy, int D, int H,
                                         int W, const float *w, float *dx, float *tmp, float *scratch);
void nn_conv_transpose3d_backward_weights (WorkerPool *pool, const NnConvGeom *g, const float *x, int D, int H,
                                           int W, const float *dy, float *dw, float *db, float *scratch);
void nn_conv_transpose3d_backward_ref (const NnConvGeom *g, const float *x, int D, int H, int W,
                                       const float *w, const float *dy, float *dx, float *dw, float *db);

/* ---- pooling ------------------------------------------------------------ */

/* dx (C, D, H, W) += dy routed to the first maximum (in window order) of each
 * window of x; padding as in nn_maxpool3d.  dy is (C, Do, Ho, Wo). */
void nn_maxpool3d_backward (WorkerPool *pool, int C, const int k[3], const int s[3], const int p[3],
                            const float *x, int D, int H, int W, const float *dy, float *dx);
void nn_maxpool3d_backward_ref (int C, const int k[3], const int s[3], const int p[3],
                                const float *x, int D, int H, int W, const float *dy, float *dx);

/* ---- batch normalisation (training mode, statistics of the sample) ------ */

/* z, y are (C, n).  mean[c], var[c] (biased) are the batch statistics;
 * y = (z - mean) / sqrt (var + eps) * gamma + beta.  Writes mean and invstd
 * (1 / sqrt (var + eps)) for the backward pass, and var (biased) if var_out != NULL. */
void nn_batchnorm_train_forward (WorkerPool *pool, const float *z, int C, int64_t n, const float *gamma,
                                 const float *beta, float eps, float *y, float *mean, float *invstd,
                                 float *var_out);
void nn_batchnorm_train_forward_ref (const float *z, int C, int64_t n, const float *gamma,
                                     const float *beta, float eps, float *y, float *mean, float *invstd,
                                     float *var_out);
/* dy (C, n) -> dz (C, n) (written, not accumulated: dz is a private buffer),
 * dgamma, dbeta (C) accumulated. */
void nn_batchnorm_train_backward (WorkerPool *pool, const float *z, int C, int64_t n, const float *gamma,
                                  const float *mean, const float *invstd, const float *dy, float *dz,
                                  float *dgamma, float *dbeta);
void nn_batchnorm_train_backward_ref (const float *z, int C, int64_t n, const float *gamma,
                                      const float *mean, const float *invstd, const float *dy, float *dz,
                                      float *dgamma, float *dbeta);

/* ---- activations --------------------------------------------------------- */

/* In place: g (n) *= act' at the output y (n) of the activation (y > 0 iff its
 * input > 0 for ReLU and LeakyReLU with a positive slope). */
void nn_activate_backward (const float *y, float *g, int64_t n, NnAct act, float slope);
void nn_activate_backward_ref (const float *y, float *g, int64_t n, NnAct act, float slope);

G_END_DECLS
