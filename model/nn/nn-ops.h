/* nn-ops.h: float32 tensor kernels of the network engine.
 *
 * Layout: every activation is one sample (batch 1) stored channel-major,
 * (C, D, H, W) with W fastest: element (c, d, h, w) is at
 * ((c * D + d) * H + h) * W + w.  D, H, W are the z, y, x axes of a
 * LabelVolume (x fastest), so one channel has exactly a volume's voxel order.
 * Because channels are outermost, a channel range of a tensor is a contiguous
 * block: concatenation along channels is "write each part at its offset".
 *
 * Weights follow PyTorch: Conv3d weight is (Cout, Cin, kD, kH, kW),
 * ConvTranspose3d weight is (Cin, Cout, kD, kH, kW).
 *
 * Every optimised kernel has a naive twin (suffix _ref) written for clarity
 * only; the tests compare them on odd shapes.  Optimised kernels never
 * allocate: the caller passes scratch sized by the matching _scratch_floats()
 * function (per thread) and a thread pool (NULL = run on the calling thread).
 */
#pragma once

#include <glib.h>
#include <stdint.h>

#include "worker-pool.h"

G_BEGIN_DECLS

/* ---- activations ------------------------------------------------------- */

typedef enum {
  NN_ACT_NONE = 0,
  NN_ACT_RELU,
  NN_ACT_LEAKY_RELU,
} NnAct;

/* x is (n), in place. */
void nn_activate (float *x, int64_t n, NnAct act, float slope);
void nn_activate_ref (float *x, int64_t n, NnAct act, float slope);

/* memset (p, 0, bytes) in 1 MiB pieces on the pool's threads. */
void nn_zero (WorkerPool *pool, void *p, size_t bytes);

/* ---- convolution ------------------------------------------------------- */

/* Geometry of a 3D (transposed) convolution; arrays are in (D, H, W) order. */
typedef struct {
  int cin, cout;
  int k[3];     /* kernel size */
  int s[3];     /* stride */
  int p[3];     /* zero padding on both sides */
} NnConvGeom;

/* Output size of a convolution / transposed convolution / pooling along one axis
 * (0 or negative when the input is too small). */
int nn_conv_out_size (int in, int k, int s, int p);
int nn_convt_out_size (int in, int k, int s, int p);

/* Hot loops are compiled for AVX-512, AVX2 and baseline x86-64, chosen at load time.
 * ThreadSanitizer builds have no clones: the ifunc resolver would run (instrumented)
 * during relocation, before the sanitizer runtime is initialised, and crash at startup. */
#if defined(__SANITIZE_THREAD__)
#define NN_SIMD_CLONES
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define NN_SIMD_CLONES
#endif
#endif
#ifndef NN_SIMD_CLONES
#define NN_SIMD_CLONES __attribute__ ((target_clones ("avx512f", "arch=x86-64-v3", "default")))
#endif

/* Columns per im2col slab for a product of depth @rows (= Cin*kD*kH*kW): about
 * 4096, fewer for deep products so that one slab stays under NN_SLAB_MAX_FLOATS. */
#define NN_SLAB_COLS 4096
#define NN_SLAB_MAX_FLOATS ((int64_t) 1 << 17)   /* 512 KiB: the slab stays in L2 */
int64_t nn_slab_cols (int64_t rows, int64_t total_cols, int n_threads);
/* Leading dimension (floats) of an im2col slab of ns columns, padded so rows never lie
 * a power of two apart. */
int64_t nn_slab_ld (int64_t ns);
/* TRUE for a 1³ kernel with stride 1 and no padding. */
gboolean nn_conv_is_pointwise (const NnConvGeom *g);
/* col (rows, ns) with row stride ld: row r = ((ci * kD + a) * kH + b) * kW + c holds
 * x[ci, od*sD - pD + a, oh*sH - pH + b, ow*sW - pW + c] for the output positions
 * n0 .. n0+ns-1 of the (Do, Ho, Wo) output, 0 outside x.  x is (Cin, D, H, W). */
void nn_im2col_slab (const NnConvGeom *g, const float *x, int D, int H, int W, int Ho, int Wo,
                     int64_t n0, int64_t ns, int64_t ld, float *col);

/* Scratch floats per thread needed by nn_conv3d / nn_conv_transpose3d for an
 * output (conv) or input (transposed) of @n_vox voxels. */
int64_t nn_conv3d_scratch_floats (const NnConvGeom *g, int64_t n_out_vox, int n_threads);
/* The same for an input of width @W (the bound above assumes W <= 2048). */
int64_t nn_conv3d_scratch_floats_w (const NnConvGeom *g, int64_t n_out_vox, int W, int n_threads);
int64_t nn_conv_transpose3d_scratch_floats (const NnConvGeom *g, int64_t n_in_vox, int n_threads);

/* y = act (conv3d (x, w) + bias)
 * x is (Cin, D, H, W); w is (Cout, Cin, kD, kH, kW); bias is (Cout) or NULL;
 * y is (Cout, Do, Ho, Wo) with Do = nn_conv_out_size (D, kD, sD, pD), etc.
 * scratch: n_threads * nn_conv3d_scratch_floats () floats.
 * im2col in slabs of nn_slab_cols() output columns, each multiplied with one
 * single-threaded cblas_sgemm; slabs run in parallel on the pool. */
void nn_conv3d (WorkerPool *pool, const NnConvGeom *g,
                const float *x, int D, int H, int W,
                const float *w, const float *bias, NnAct act, float slope,
                float *y, float *scratch);
/* The same, choosing per layer the faster of im2col + sgemm and a direct convolution
 * without im2col (register blocks of 8 output channels x 48 voxels, or 4 x 64; stride 1
 * along W, 4..15 output channels).  The network's forward passes, inference and
 * training, use it; nn_conv3d keeps to im2col.  Same arguments and scratch as nn_conv3d. */
void nn_conv3d_best (WorkerPool *pool, const NnConvGeom *g,
                     const float *x, int D, int H, int W,
                     const float *w, const float *bias, NnAct act, float slope,
                     float *y, float *scratch);
/* Tests and benchmarks can force one path for both functions (process-wide). */
typedef enum {
  NN_CONV_PATH_AUTO,
  NN_CONV_PATH_IM2COL,
  NN_CONV_PATH_DIRECT,   /* where possible (stride 1 along W, kernel > 1), else im2col */
} NnConvPath;
void nn_conv3d_force_path (NnConvPath path);
/* Whether nn_conv3d_best () takes the direct path for @g on input rows of @W (output
 * rows of @Wo); the weight gradient follows the same choice. */
gboolean nn_conv_direct_wanted (const NnConvGeom *g, int W, int Wo);
void nn_conv3d_ref (const NnConvGeom *g, const float *x, int D, int H, int W,
                    const float *w, const float *bias, NnAct act, float slope, float *y);

/* y = act (conv_transpose3d (x, w) + bias)
 * x is (Cin, D, H, W); w is (Cin, Cout, kD, kH, kW); bias (Cout) or NULL;
 * y is (Cout, Do, Ho, Wo) with Do = (D - 1) * sD - 2 pD + kD (no output padding).
 * GEMM of W^T (Cout*k^3, Cin) with input slabs, then col2im scatter-add.
 * Slabs run in parallel when kernel <= stride (outputs cannot collide), else in order.
 * scratch: n_threads * nn_conv_transpose3d_scratch_floats () floats. */
void nn_conv_transpose3d (WorkerPool *pool, const NnConvGeom *g,
                          const float *x, int D, int H, int W,
                          const float *w, const float *bias, NnAct act, float slope,
                          float *y, float *scratch);
void nn_conv_transpose3d_ref (const NnConvGeom *g, const float *x, int D, int H, int W,
                              const float *w, const float *bias, NnAct act, float slope,
                              float *y);

/* Folds inference batch normalisation into the preceding convolution, in place:
 * w is (Cout, per_out) (per_out = Cin*k^3), bias is (Cout) (may start as zeros);
 * gamma, beta, mean, var are (Cout).
 * w' = w * gamma / sqrt (var + eps);  b' = (b - mean) * gamma / sqrt (var + eps) + beta */
void nn_fold_batchnorm (float *w, float *bias, int cout, int64_t per_out,
                        const float *gamma, const float *beta,
                        const float *mean, const float *var, float eps);
/* Reference: y = (x - mean) / sqrt (var + eps) * gamma + beta per channel;
 * x, y are (C, n). */
void nn_batchnorm_ref (const float *x, int C, int64_t n, const float *gamma, const float *beta,
                       const float *mean, const float *var, float eps, float *y);

/* ---- pooling, softmax, concatenation, upsampling ------------------------ */

/* Max pooling, padding counts as -infinity (PyTorch semantics).
 * x is (C, D, H, W); y is (C, Do, Ho, Wo), Do = nn_conv_out_size (D, k, s, p).
 * scratch: n_threads * W floats (one row). */
void nn_maxpool3d (WorkerPool *pool, int C, const int k[3], const int s[3], const int p[3],
                   const float *x, int D, int H, int W, float *y, float *scratch);
void nn_maxpool3d_ref (int C, const int k[3], const int s[3], const int p[3],
                       const float *x, int D, int H, int W, float *y);
/* For every output voxel (C, Do, Ho, Wo), the index in x of its window's first maximum
 * (in window order), or -1 when the window lies wholly in the padding; the naive twins'
 * shared core (forward and backward); *n_out outputs.  Free with g_free(). */
int64_t *nn_maxpool3d_argmax_ref (int C, const int k[3], const int s[3], const int p[3],
                                  const float *x, int D, int H, int W, int64_t *n_out);

/* Softmax across channels at every voxel.  x, y are (C, n); y may equal x. */
void nn_softmax_channels (WorkerPool *pool, const float *x, int C, int64_t n, float *y);
void nn_softmax_channels_ref (const float *x, int C, int64_t n, float *y);

/* Concatenation along channels: parts[i] is (channels[i], n); y is (sum channels, n). */
void nn_concat_channels (const float *const *parts, const int *channels, int n_parts,
                         int64_t n, float *y);
void nn_concat_channels_ref (const float *const *parts, const int *channels, int n_parts,
                             int64_t n, float *y);

/* Trilinear resize, align_corners = False (PyTorch F.interpolate semantics with an
 * explicit output size): source coordinate = max (0, (dst + 0.5) * in / out - 0.5).
 * x is (C, Di, Hi, Wi); the full output would be (C, Do, Ho, Wo); this computes only
 * output slices d0 <= d < d1 into y, which is (C, d1 - d0, Ho, Wo).
 * scratch: nn_upsample_trilinear_scratch_floats () floats (index and weight
 * tables, then one row of Wi floats per thread). */
int64_t nn_upsample_trilinear_scratch_floats (int Wi, int Ho, int Wo, int n_threads);
void nn_upsample_trilinear (WorkerPool *pool, const float *x, int C, int Di, int Hi, int Wi,
                            int Do, int Ho, int Wo, int d0, int d1, float *y, float *scratch);
void nn_upsample_trilinear_ref (const float *x, int C, int Di, int Hi, int Wi,
                                int Do, int Ho, int Wo, int d0, int d1, float *y);

/* ---- helpers ----------------------------------------------------------- */

/* Maximum absolute and relative difference between a and b (n floats); the
 * relative difference is |a-b| / max (|b|, floor). */
void nn_max_diff (const float *a, const float *b, int64_t n, float floor,
                  double *max_abs, double *max_rel);

G_END_DECLS
