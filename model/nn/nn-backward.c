/* nn-backward.c: gradients of the engine's ops (see nn-backward.h). */
#include "nn-backward.h"
#include "nn-simd-private.h"

#include <cblas.h>
#include <math.h>
#include <string.h>

static int64_t
geom_rows (const NnConvGeom *g)
{
  return (int64_t) g->cin * g->k[0] * g->k[1] * g->k[2];
}

/* ---- conv3d: weights ---------------------------------------------------- */

static int64_t wd_scratch_floats (const NnConvGeom *g, int W);
static gboolean wd_possible (const NnConvGeom *g);
static gboolean wd_run (WorkerPool *pool, const NnConvGeom *g, const float *x, int D, int H, int W,
                        const float *dy, float *dw, float *scratch);

int64_t
nn_conv3d_backward_weights_scratch_floats (const NnConvGeom *g, int64_t n_out_vox, int W, int n_threads)
{
  int64_t rows = geom_rows (g);
  int64_t slab = nn_slab_cols (rows, n_out_vox, n_threads);
  int64_t s = rows * nn_slab_ld (slab) + (int64_t) g->cout * rows;
  return wd_possible (g) ? MAX (s, wd_scratch_floats (g, W)) : s;
}

typedef struct {
  const NnConvGeom *g;
  const float *x, *dy;
  int D, H, W, Ho, Wo;
  int64_t n_out, slab, n_slabs, rows, per_task;
  int n_tasks;
  float *scratch;
} WeightsJob;

static void
weights_task (int64_t task, int thread, void *data)
{
  const WeightsJob *j = data;
  float *col = j->scratch + task * j->per_task;
  float *acc = col + j->rows * nn_slab_ld (j->slab);     /* (Cout, rows) */
  int64_t s0 = task * j->n_slabs / j->n_tasks, s1 = (task + 1) * j->n_slabs / j->n_tasks;
  gboolean pointwise = nn_conv_is_pointwise (j->g);

  (void) thread;
  memset (acc, 0, (size_t) (j->g->cout * j->rows) * sizeof (float));
  for (int64_t s = s0; s < s1; s++)
    {
      int64_t n0 = s * j->slab, ns = MIN (j->slab, j->n_out - n0);
      const float *cm;
      int64_t ld;
      if (pointwise)
        {
          cm = j->x + n0;       /* x is (Cin, n_out) */
          ld = j->n_out;
        }
      else
        {
          ld = nn_slab_ld (ns);
          nn_im2col_slab (j->g, j->x, j->D, j->H, j->W, j->Ho, j->Wo, n0, ns, ld, col);
          cm = col;
        }
      /* acc (Cout, rows) += dy[:, n0:n0+ns] (Cout, ns) . cm^T (ns, rows) */
      cblas_sgemm (CblasRowMajor, CblasNoTrans, CblasTrans, j->g->cout, (int) j->rows, (int) ns, 1.0f,
                   j->dy + n0, (int) j->n_out, cm, (int) ld, 1.0f, acc, (int) j->rows);
    }
}

/* Direct path (stride 1, kW = 3, where the forward convolution takes its direct path:
 * nn_conv_direct_wanted ()).  The output rows are cut into chunks of WD_CH rows of one
 * plane; a chunk's input rows are copied zero-padded (pW zeros, the row, zeros to ld), and
 * its dy rows too (zeros past Wo).  For a block of CO output channels and one input row
 * r = (ci, a, b), registers hold CO x 3 vectors of partial sums,
 * acc[co][c] += dy[co][ow .. ow+15] * row[ow + c .. ow + c + 15], over every vector along
 * the rows and every row of the chunk; between chunks they wait in va (one vector per
 * (co, r, c)) and are summed across lanes at the end.  No im2col matrix, no packing. */
#define WD_CH 8

typedef struct {
  const NnConvGeom *g;
  const float *x, *dy;
  int D, H, W, Do, Ho, Wo;
  int64_t R, ld, ldy, n_rows_out, per_task;
  int co_block, cout_pad, nv;
  int n_tasks;
  float *scratch;
} WdJob;

static void
wd_dims (const NnConvGeom *g, int W, int *co_block, int *cout_pad, int *nv, int64_t *ld, int64_t *ldy)
{
  int Wo = nn_conv_out_size (W, g->k[2], 1, g->p[2]);
  *co_block = g->cout < 8 ? 4 : 8;
  *cout_pad = (g->cout + *co_block - 1) / *co_block * *co_block;
  *nv = (Wo + BW_VL - 1) / BW_VL;
  *ldy = (int64_t) *nv * BW_VL;
  /* reads reach *ldy + 2; the padded row is pW + W + pW */
  *ld = ((MAX (*ldy + 2, (int64_t) W + 2 * g->p[2]) + 15) & ~(int64_t) 15) + 16;
}

static gboolean
wd_possible (const NnConvGeom *g)
{
  return g->s[0] == 1 && g->s[1] == 1 && g->s[2] == 1 && g->k[2] == 3 && !nn_conv_is_pointwise (g);
}

static int64_t
wd_scratch_floats (const NnConvGeom *g, int W)
{
  int co_block, cout_pad, nv;
  int64_t ld, ldy, R = (int64_t) g->cin * g->k[0] * g->k[1];
  wd_dims (g, W, &co_block, &cout_pad, &nv, &ld, &ldy);
  return (int64_t) cout_pad * R * 3 * BW_VL                            /* va */
         + (int64_t) g->cin * g->k[0] * (WD_CH + g->k[1] - 1) * ld   /* input rows */
         + (int64_t) cout_pad * WD_CH * ldy                          /* dy rows */
         + (int64_t) g->cout * R * 3;                                /* the task's dW */
}

#pragma GCC push_options
#pragma GCC optimize ("fp-contract=fast")   /* ISO C mode turns contraction off: we want FMAs */
/* One block of CO channels over one chunk: x (rows of ld, the rows of (ci, a) WD_CH + kH - 1
 * apart), dyb (CO, WD_CH, ldy), va (CO, R, 3) vectors. */
static inline __attribute__ ((always_inline)) void
wd_kernel_body (const int CO, const float *xrows, int64_t ld, int kH, int64_t R, const float *dyb,
                int64_t ldy, int n_rows, int nv, float *va)
{
  const int64_t group = WD_CH + kH - 1;
  for (int64_t r = 0; r < R; r++)
    {
      const float *xbase = xrows + ((r / kH) * group + r % kH) * ld;
      bw_vf acc[8][3];
      for (int co = 0; co < CO; co++)
        for (int c = 0; c < 3; c++)
          acc[co][c] = *(const bw_vf *) (va + ((co * R + r) * 3 + c) * BW_VL);
      for (int g = 0; g < n_rows; g++)
        {
          const float *xr = xbase + g * ld, *dr = dyb + g * ldy;
          for (int v = 0; v < nv; v++)
            {
              bw_vf x0 = *(const bw_vf *) (xr + v * BW_VL), x1 = *(const bw_vf *) (xr + v * BW_VL + 1),
                    x2 = *(const bw_vf *) (xr + v * BW_VL + 2);
              for (int co = 0; co < CO; co++)
                {
                  bw_vf d = *(const bw_vf *) (dr + co * WD_CH * ldy + v * BW_VL);
                  acc[co][0] += d * x0;
                  acc[co][1] += d * x1;
                  acc[co][2] += d * x2;
                }
            }
        }
      for (int co = 0; co < CO; co++)
        for (int c = 0; c < 3; c++)
          *(bw_vf *) (va + ((co * R + r) * 3 + c) * BW_VL) = acc[co][c];
    }
}

#define WD_KERNEL_ARGS                                                                            \
  const float *xrows, int64_t ld, int kH, int64_t R, const float *dyb, int64_t ldy, int n_rows, int nv, \
    float *va
#define WD_KERNEL_PASS xrows, ld, kH, R, dyb, ldy, n_rows, nv, va

NN_SIMD_CLONES
static void
wd_kernel_8 (WD_KERNEL_ARGS)
{
  wd_kernel_body (8, WD_KERNEL_PASS);
}

NN_SIMD_CLONES
static void
wd_kernel_4 (WD_KERNEL_ARGS)
{
  wd_kernel_body (4, WD_KERNEL_PASS);
}
#pragma GCC pop_options

/* The task's dW (cout, R, 3) in its scratch, after va, the input rows and the dy rows. */
static float *
wd_task_dw (const WdJob *j, int64_t task)
{
  return j->scratch + task * j->per_task + (int64_t) j->cout_pad * j->R * 3 * BW_VL
         + (int64_t) j->g->cin * j->g->k[0] * (WD_CH + j->g->k[1] - 1) * j->ld
         + (int64_t) j->cout_pad * WD_CH * j->ldy;
}

static void
wd_task (int64_t task, int thread, void *data)
{
  const WdJob *j = data;
  const NnConvGeom *g = j->g;
  const int kD = g->k[0], kH = g->k[1], pD = g->p[0], pH = g->p[1], pW = g->p[2];
  const int64_t R = j->R, group = WD_CH + kH - 1, nin_plane = (int64_t) j->H * j->W;
  const int64_t nout = (int64_t) j->Do * j->Ho * j->Wo;
  float *va = j->scratch + task * j->per_task;
  float *xrows = va + (int64_t) j->cout_pad * R * 3 * BW_VL;
  float *dyb = xrows + (int64_t) g->cin * kD * group * j->ld;
  float *dwp = wd_task_dw (j, task);
  int64_t q0 = task * j->n_rows_out / j->n_tasks, q1 = (task + 1) * j->n_rows_out / j->n_tasks;
  (void) thread;

  memset (va, 0, (size_t) j->cout_pad * R * 3 * BW_VL * sizeof (float));
  memset (dyb, 0, (size_t) j->cout_pad * WD_CH * j->ldy * sizeof (float));
  for (int64_t q = q0; q < q1;)
    {
      /* a chunk: output rows oh0 .. oh0 + n - 1 of plane od */
      const int od = (int) (q / j->Ho), oh0 = (int) (q % j->Ho);
      const int n = (int) MIN ((int64_t) MIN (WD_CH, j->Ho - oh0), q1 - q);
      for (int ci = 0; ci < g->cin; ci++)
        for (int a = 0; a < kD; a++)
          {
            const int id = od + a - pD;
            for (int gg = 0; gg < n + kH - 1; gg++)
              {
                const int ih = oh0 + gg - pH;
                float *row = xrows + ((int64_t) (ci * kD + a) * group + gg) * j->ld;
                if (id < 0 || id >= j->D || ih < 0 || ih >= j->H)
                  {
                    memset (row, 0, (size_t) j->ld * sizeof (float));
                    continue;
                  }
                memset (row, 0, (size_t) pW * sizeof (float));
                memcpy (row + pW, j->x + ((int64_t) ci * j->D + id) * nin_plane + (int64_t) ih * j->W,
                        (size_t) j->W * sizeof (float));
                memset (row + pW + j->W, 0, (size_t) (j->ld - pW - j->W) * sizeof (float));
              }
          }
      for (int co = 0; co < g->cout; co++)
        for (int gg = 0; gg < n; gg++)
          memcpy (dyb + ((int64_t) co * WD_CH + gg) * j->ldy,
                  j->dy + co * nout + ((int64_t) od * j->Ho + oh0 + gg) * j->Wo, (size_t) j->Wo * sizeof (float));
      for (int co0 = 0; co0 < j->cout_pad; co0 += j->co_block)
        (j->co_block == 4 ? wd_kernel_4 : wd_kernel_8) (xrows, j->ld, kH, R, dyb + (int64_t) co0 * WD_CH * j->ldy,
                                                         j->ldy, n, j->nv, va + (int64_t) co0 * R * 3 * BW_VL);
      q += n;
    }
  /* the task's dW: the lanes of each vector, summed in lane order */
  for (int co = 0; co < g->cout; co++)
    for (int64_t rc = 0; rc < R * 3; rc++)
      {
        const float *v = va + ((int64_t) co * R * 3 + rc) * BW_VL;
        float s = 0.0f;
        for (int l = 0; l < BW_VL; l++)
          s += v[l];
        dwp[(int64_t) co * R * 3 + rc] = s;
      }
}

/* dw += the direct path's weight gradient; FALSE (nothing done) where it does not apply */
static gboolean
wd_run (WorkerPool *pool, const NnConvGeom *g, const float *x, int D, int H, int W, const float *dy, float *dw,
        float *scratch)
{
  const int Wo = nn_conv_out_size (W, g->k[2], 1, g->p[2]);
  if (!wd_possible (g) || !nn_conv_direct_wanted (g, W, Wo))
    return FALSE;
  int nt = worker_pool_get_n_threads (pool);
  WdJob j = {
    .g = g, .x = x, .dy = dy, .D = D, .H = H, .W = W, .Wo = Wo,
    .Do = nn_conv_out_size (D, g->k[0], 1, g->p[0]),
    .Ho = nn_conv_out_size (H, g->k[1], 1, g->p[1]),
    .R = (int64_t) g->cin * g->k[0] * g->k[1], .n_tasks = nt, .scratch = scratch,
  };
  wd_dims (g, W, &j.co_block, &j.cout_pad, &j.nv, &j.ld, &j.ldy);
  j.n_rows_out = (int64_t) j.Do * j.Ho;
  j.per_task = nn_conv3d_backward_weights_scratch_floats (g, (int64_t) j.Do * j.Ho * Wo, W, nt);
  worker_pool_run (pool, nt, wd_task, &j);
  /* the tasks' dW in task order */
  const int64_t nw = (int64_t) g->cout * j.R * 3;
  for (int t = 0; t < nt; t++)
    {
      const float *dwp = wd_task_dw (&j, t);
      for (int64_t q = 0; q < nw; q++)
        dw[q] += dwp[q];
    }
  return TRUE;
}

void
nn_conv3d_backward_weights (WorkerPool *pool, const NnConvGeom *g, const float *x, int D, int H, int W,
                            const float *dy, float *dw, float *db, float *scratch)
{
  int nt = worker_pool_get_n_threads (pool);
  WeightsJob j = {
    .g = g, .x = x, .dy = dy, .D = D, .H = H, .W = W,
    .Ho = nn_conv_out_size (H, g->k[1], g->s[1], g->p[1]),
    .Wo = nn_conv_out_size (W, g->k[2], g->s[2], g->p[2]),
    .rows = geom_rows (g), .scratch = scratch, .n_tasks = nt,
  };
  int Do = nn_conv_out_size (D, g->k[0], g->s[0], g->p[0]);

  j.n_out = (int64_t) Do * j.Ho * j.Wo;
  if (j.n_out <= 0)
    return;
  if (!wd_run (pool, g, x, D, H, W, dy, dw, scratch))
    {
      j.slab = nn_slab_cols (j.rows, j.n_out, nt);
      j.n_slabs = (j.n_out + j.slab - 1) / j.slab;
      j.per_task = nn_conv3d_backward_weights_scratch_floats (g, j.n_out, W, nt);
      worker_pool_run (pool, nt, weights_task, &j);
      /* reduce the per-task accumulators in task order */
      int64_t nw = (int64_t) g->cout * j.rows;
      for (int t = 0; t < nt; t++)
        {
          const float *acc = scratch + t * j.per_task + j.rows * nn_slab_ld (j.slab);
          for (int64_t q = 0; q < nw; q++)
            dw[q] += acc[q];
        }
    }
  if (db)
    for (int co = 0; co < g->cout; co++)
      {
        const float *row = dy + co * j.n_out;
        double s = 0.0;
        for (int64_t q = 0; q < j.n_out; q++)
          s += row[q];
        db[co] += (float) s;
      }
}

/* ---- conv3d: input ------------------------------------------------------ */

static void
flipped_geom (const NnConvGeom *g, NnConvGeom *f)
{
  f->cin = g->cout;
  f->cout = g->cin;
  for (int a = 0; a < 3; a++)
    {
      f->k[a] = g->k[a];
      f->s[a] = 1;
      f->p[a] = g->k[a] - 1 - g->p[a];
    }
}

int64_t
nn_conv3d_backward_input_scratch_floats (const NnConvGeom *g, int64_t n_in_vox, int n_threads)
{
  NnConvGeom f;
  flipped_geom (g, &f);
  return nn_conv3d_scratch_floats (&f, n_in_vox, n_threads);
}

typedef struct {
  const float *w, *dy;
  float *dx;
  int cin, cout;
  int64_t n, chunk;
} PointwiseInputJob;

static void
pointwise_input_task (int64_t task, int thread, void *data)
{
  const PointwiseInputJob *j = data;
  int64_t n0 = task * j->chunk, ns = MIN (j->chunk, j->n - n0);
  (void) thread;
  if (ns <= 0)
    return;
  /* dx[:, n0:n0+ns] (Cin, ns) += w^T (Cin, Cout) . dy[:, n0:n0+ns] (Cout, ns) */
  cblas_sgemm (CblasRowMajor, CblasTrans, CblasNoTrans, j->cin, (int) ns, j->cout, 1.0f, j->w, j->cin,
               j->dy + n0, (int) j->n, 1.0f, j->dx + n0, (int) j->n);
}

typedef struct {
  float *dx;
  const float *tmp;
  int64_t n, chunk;
} AddJob;

static void
add_task (int64_t task, int thread, void *data)
{
  const AddJob *j = data;
  int64_t n0 = task * j->chunk, n1 = MIN (j->n, n0 + j->chunk);
  (void) thread;
  for (int64_t q = n0; q < n1; q++)
    j->dx[q] += j->tmp[q];
}

static void
parallel_add (WorkerPool *pool, float *dx, const float *tmp, int64_t n)
{
  AddJob j = { .dx = dx, .tmp = tmp, .n = n, .chunk = 1 << 16 };
  worker_pool_run (pool, (n + j.chunk - 1) / j.chunk, add_task, &j);
}

void
nn_conv3d_backward_input (WorkerPool *pool, const NnConvGeom *g, const float *dy, int D, int H, int W,
                          const float *w, float *dx, float *wflip, float *tmp, float *scratch)
{
  const int64_t n = (int64_t) D * H * W;
  const int kD = g->k[0], kH = g->k[1], kW = g->k[2];
  const int64_t k3 = (int64_t) kD * kH * kW;

  g_return_if_fail (g->s[0] == 1 && g->s[1] == 1 && g->s[2] == 1);
  if (nn_conv_is_pointwise (g))
    {
      PointwiseInputJob j = { .w = w, .dy = dy, .dx = dx, .cin = g->cin, .cout = g->cout, .n = n };
      j.chunk = MAX (1024, (n / MAX (1, worker_pool_get_n_threads (pool)) + 15) & ~(int64_t) 15);
      j.chunk = MIN (j.chunk, 16384);
      worker_pool_run (pool, (n + j.chunk - 1) / j.chunk, pointwise_input_task, &j);
      return;
    }
  /* wflip (Cin, Cout, k) [ci, co, a, b, c] = w (Cout, Cin, k) [co, ci, kD-1-a, kH-1-b, kW-1-c] */
  for (int co = 0; co < g->cout; co++)
    for (int ci = 0; ci < g->cin; ci++)
      {
        const float *src = w + ((int64_t) co * g->cin + ci) * k3;
        float *dst = wflip + ((int64_t) ci * g->cout + co) * k3;
        for (int64_t q = 0; q < k3; q++)
          dst[k3 - 1 - q] = src[q];
      }
  NnConvGeom f;
  flipped_geom (g, &f);
  int Do = nn_conv_out_size (D, kD, 1, g->p[0]), Ho = nn_conv_out_size (H, kH, 1, g->p[1]);
  int Wo = nn_conv_out_size (W, kW, 1, g->p[2]);
  nn_conv3d_best (pool, &f, dy, Do, Ho, Wo, wflip, NULL, NN_ACT_NONE, 0.0f, tmp, scratch);
  parallel_add (pool, dx, tmp, (int64_t) g->cin * n);
}

void
nn_conv3d_backward_ref (const NnConvGeom *g, const float *x, int D, int H, int W,
                        const float *w, const float *dy, float *dx, float *dw, float *db)
{
  int Do = nn_conv_out_size (D, g->k[0], g->s[0], g->p[0]);
  int Ho = nn_conv_out_size (H, g->k[1], g->s[1], g->p[1]);
  int Wo = nn_conv_out_size (W, g->k[2], g->s[2], g->p[2]);

  for (int co = 0; co < g->cout; co++)
    for (int od = 0; od < Do; od++)
      for (int oh = 0; oh < Ho; oh++)
        for (int ow = 0; ow < Wo; ow++)
          {
            float gy = dy[(((int64_t) co * Do + od) * Ho + oh) * Wo + ow];
            if (db)
              db[co] += gy;
            for (int ci = 0; ci < g->cin; ci++)
              for (int a = 0; a < g->k[0]; a++)
                for (int b = 0; b < g->k[1]; b++)
                  for (int c = 0; c < g->k[2]; c++)
                    {
                      int id = od * g->s[0] - g->p[0] + a, ih = oh * g->s[1] - g->p[1] + b;
                      int iw = ow * g->s[2] - g->p[2] + c;
                      if (id < 0 || id >= D || ih < 0 || ih >= H || iw < 0 || iw >= W)
                        continue;
                      int64_t xi = (((int64_t) ci * D + id) * H + ih) * W + iw;
                      int64_t wi = ((((int64_t) co * g->cin + ci) * g->k[0] + a) * g->k[1] + b) * g->k[2] + c;
                      if (dw)
                        dw[wi] += gy * x[xi];
                      if (dx)
                        dx[xi] += gy * w[wi];
                    }
          }
}

/* ---- transposed conv3d ---------------------------------------------------- */

/* The forward convolution whose backward pass is the transposed convolution
 * (Cin_T, Cout_T, k): input Cout_T channels, output Cin_T channels, same stride
 * and padding; its weight (Cin_T, Cout_T, k) is the transposed conv's weight. */
static void
adjoint_geom (const NnConvGeom *g, NnConvGeom *a)
{
  *a = *g;
  a->cin = g->cout;
  a->cout = g->cin;
}

int64_t
nn_conv_transpose3d_backward_scratch_floats (const NnConvGeom *g, int64_t n_in_vox, int n_threads)
{
  NnConvGeom a;
  adjoint_geom (g, &a);
  return MAX (nn_conv3d_scratch_floats (&a, n_in_vox, n_threads),
              nn_conv3d_backward_weights_scratch_floats (&a, n_in_vox, 0, n_threads));
}

void
nn_conv_transpose3d_backward_input (WorkerPool *pool, const NnConvGeom *g, const float *dy, int D, int H,
                                    int W, const float *w, float *dx, float *tmp, float *scratch)
{
  NnConvGeom a;
  adjoint_geom (g, &a);
  int Do = nn_convt_out_size (D, g->k[0], g->s[0], g->p[0]);
  int Ho = nn_convt_out_size (H, g->k[1], g->s[1], g->p[1]);
  int Wo = nn_convt_out_size (W, g->k[2], g->s[2], g->p[2]);
  /* tmp (Cin_T, D, H, W) = conv3d (dy (Cout_T, Do, Ho, Wo), w) */
  nn_conv3d (pool, &a, dy, Do, Ho, Wo, w, NULL, NN_ACT_NONE, 0.0f, tmp, scratch);
  parallel_add (pool, dx, tmp, (int64_t) g->cin * D * H * W);
}

void
nn_conv_transpose3d_backward_weights (WorkerPool *pool, const NnConvGeom *g, const float *x, int D, int H,
                                      int W, const float *dy, float *dw, float *db, float *scratch)
{
  NnConvGeom a;
  adjoint_geom (g, &a);
  int Do = nn_convt_out_size (D, g->k[0], g->s[0], g->p[0]);
  int Ho = nn_convt_out_size (H, g->k[1], g->s[1], g->p[1]);
  int Wo = nn_convt_out_size (W, g->k[2], g->s[2], g->p[2]);
  /* the adjoint conv maps dy -> (Cin_T, D, H, W); its weight gradient with "output
   * gradient" x is dw (Cin_T, Cout_T, k) += x . im2col (dy)^T */
  nn_conv3d_backward_weights (pool, &a, dy, Do, Ho, Wo, x, dw, NULL, scratch);
  if (db)
    {
      int64_t no = (int64_t) Do * Ho * Wo;
      for (int co = 0; co < g->cout; co++)
        {
          double s = 0.0;
          for (int64_t q = 0; q < no; q++)
            s += dy[co * no + q];
          db[co] += (float) s;
        }
    }
}

void
nn_conv_transpose3d_backward_ref (const NnConvGeom *g, const float *x, int D, int H, int W,
                                  const float *w, const float *dy, float *dx, float *dw, float *db)
{
  int Do = nn_convt_out_size (D, g->k[0], g->s[0], g->p[0]);
  int Ho = nn_convt_out_size (H, g->k[1], g->s[1], g->p[1]);
  int Wo = nn_convt_out_size (W, g->k[2], g->s[2], g->p[2]);

  /* forward: y[co, id*s - p + a, ...] += x[ci, id, ih, iw] * w[ci, co, a, b, c] */
  for (int ci = 0; ci < g->cin; ci++)
    for (int id = 0; id < D; id++)
      for (int ih = 0; ih < H; ih++)
        for (int iw = 0; iw < W; iw++)
          {
            int64_t xi = (((int64_t) ci * D + id) * H + ih) * W + iw;
            for (int co = 0; co < g->cout; co++)
              for (int a = 0; a < g->k[0]; a++)
                for (int b = 0; b < g->k[1]; b++)
                  for (int c = 0; c < g->k[2]; c++)
                    {
                      int od = id * g->s[0] - g->p[0] + a, oh = ih * g->s[1] - g->p[1] + b;
                      int ow = iw * g->s[2] - g->p[2] + c;
                      if (od < 0 || od >= Do || oh < 0 || oh >= Ho || ow < 0 || ow >= Wo)
                        continue;
                      float gy = dy[(((int64_t) co * Do + od) * Ho + oh) * Wo + ow];
                      int64_t wi = ((((int64_t) ci * g->cout + co) * g->k[0] + a) * g->k[1] + b) * g->k[2] + c;
                      if (dx)
                        dx[xi] += gy * w[wi];
                      if (dw)
                        dw[wi] += gy * x[xi];
                    }
          }
  if (db)
    for (int co = 0; co < g->cout; co++)
      for (int64_t q = 0; q < (int64_t) Do * Ho * Wo; q++)
        db[co] += dy[co * (int64_t) Do * Ho * Wo + q];
}

/* ---- max pooling ------------------------------------------------------------ */

typedef struct {
  const int *k, *s, *p;
  const float *x, *dy;
  float *dx;
  int D, H, W, Do, Ho, Wo;
} PoolBwJob;

/* The flat index in channel plane xc of the first maximum (window order) of output
 * (od, oh, ow), -1 if its window lies wholly in the padding. */
static inline int64_t
pool_bw_argmax (const PoolBwJob *j, const float *xc, int od, int oh, int ow)
{
  int d0 = od * j->s[0] - j->p[0], h0 = oh * j->s[1] - j->p[1], w0 = ow * j->s[2] - j->p[2];
  int a0 = MAX (0, -d0), a1 = MIN (j->k[0], j->D - d0);
  int b0 = MAX (0, -h0), b1 = MIN (j->k[1], j->H - h0);
  int c0 = MAX (0, -w0), c1 = MIN (j->k[2], j->W - w0);
  float m = -INFINITY;
  int64_t arg = -1;
  for (int a = a0; a < a1; a++)
    for (int b = b0; b < b1; b++)
      {
        const int64_t base = ((int64_t) (d0 + a) * j->H + (h0 + b)) * j->W + w0;
        for (int cc = c0; cc < c1; cc++)
          if (xc[base + cc] > m || arg < 0)
            {
              m = xc[base + cc];
              arg = base + cc;
            }
      }
  return arg;
}

#define POOL_BW_VL 16        /* outputs along W per vector block */
#define POOL_BW_MAX_TAPS 64  /* kD x kH x kW at most for the vector path */

typedef float pool_vf __attribute__ ((vector_size (POOL_BW_VL * sizeof (float)), aligned (4), may_alias));
typedef int32_t pool_vi __attribute__ ((vector_size (POOL_BW_VL * sizeof (int32_t))));

/* One block of POOL_BW_VL outputs from ow0 on, all of whose windows lie inside the rows
 * along W (stride 1): the maximum over every tap, then the first tap that holds it, as
 * vector operations across the block (comparisons give all-ones masks); then the
 * gradients of outputs ow0 + q_from .. ow0 + POOL_BW_VL - 1 go to their taps.  tap_off[t]
 * is the offset in the channel of tap t = r * kW + cc for output 0. */
NN_SIMD_CLONES
static void
pool_bw_block (const float *xc, const int64_t *tap_off, int n_taps, int ow0, int q_from, const float *g,
               float *dc)
{
  pool_vi arg = { 0 };   /* a window of NaNs only: its first tap, as the scalar search */

  /* the maximum in three independent chains (a compare and a blend per tap: one chain
   * would wait on its own latency) */
#define POOL_VMAX(m, v)                                    \
  do                                                       \
    {                                                      \
      pool_vf v_ = (v);                                    \
      pool_vi gt_ = v_ > (m);                              \
      (m) = (pool_vf) (((pool_vi) v_ & gt_) | ((pool_vi) (m) & ~gt_)); \
    }                                                      \
  while (0)
  const pool_vf lowest = (pool_vf) { 0 } - INFINITY;
  pool_vf m = lowest, m1 = lowest, m2 = lowest;
  int t = 0;
  for (; t + 3 <= n_taps; t += 3)
    {
      POOL_VMAX (m, *(const pool_vf *) (xc + tap_off[t] + ow0));
      POOL_VMAX (m1, *(const pool_vf *) (xc + tap_off[t + 1] + ow0));
      POOL_VMAX (m2, *(const pool_vf *) (xc + tap_off[t + 2] + ow0));
    }
  for (; t < n_taps; t++)
    POOL_VMAX (m, *(const pool_vf *) (xc + tap_off[t] + ow0));
  POOL_VMAX (m, m1);
  POOL_VMAX (m, m2);
#undef POOL_VMAX

  /* backwards, so that the first tap holding the maximum is the last written; v <= m,
   * so v >= m means equal (GCC 12 scalarises == and an "arg unset" test in clones) */
  for (t = n_taps - 1; t >= 0; t--)
    {
      pool_vf v = *(const pool_vf *) (xc + tap_off[t] + ow0);
      pool_vi hit = v >= m;
      arg = (hit & t) | (~hit & arg);
    }
  for (int q = q_from; q < POOL_BW_VL; q++)
    dc[tap_off[arg[q]] + ow0 + q] += g[ow0 + q];
}

/* The first maximum (window order) among the valid taps of output ow of a row, whose
 * window starts at w0 = ow * sw - pW along W; -1 if none is valid.  tap_off[t] is tap t's
 * offset for output 0 (see pool_bw_channel), tap_c[t] its column in the window. */
static inline int64_t
pool_bw_row_argmax (const float *xc, const int64_t *tap_off, const int *tap_c, int n_taps, int ow, int sw,
                    int pW, int W)
{
  const int64_t o = (int64_t) ow * sw;
  const int w0 = ow * sw - pW;
  float m = 0.0f;
  int64_t arg = -1;
  for (int t = 0; t < n_taps; t++)
    {
      if (w0 + tap_c[t] < 0 || w0 + tap_c[t] >= W)
        continue;
      float v = xc[tap_off[t] + o];
      if (arg < 0 || v > m)
        {
          m = v;
          arg = tap_off[t] + o;
        }
    }
  return arg;
}

/* one channel: every output's gradient goes to the first maximum of its window */
static void
pool_bw_channel (int64_t c, int thread, void *data)
{
  const PoolBwJob *j = data;
  const int64_t nin = (int64_t) j->D * j->H * j->W, nout = (int64_t) j->Do * j->Ho * j->Wo;
  const float *xc = j->x + c * nin;
  const float *gc = j->dy + c * nout;
  float *dc = j->dx + c * nin;
  const int sw = j->s[2], pW = j->p[2];
  /* outputs whose windows lie inside along W: ow in [in_lo, in_hi) */
  const int in_lo = MIN (j->Wo, (pW + sw - 1) / sw);
  const int last = j->W - j->k[2] + pW;   /* the last inside window starts at w0 = last */
  const int in_hi = last < 0 ? in_lo : MAX (in_lo, MIN (j->Wo, last / sw + 1));
  const gboolean taps_fit = j->k[0] * j->k[1] * j->k[2] <= POOL_BW_MAX_TAPS;
  (void) thread;

  for (int od = 0; od < j->Do; od++)
    for (int oh = 0; oh < j->Ho; oh++)
      {
        const float *g = gc + ((int64_t) od * j->Ho + oh) * j->Wo;
        if (!taps_fit)
          {
            for (int ow = 0; ow < j->Wo; ow++)
              {
                int64_t arg = pool_bw_argmax (j, xc, od, oh, ow);
                if (arg >= 0)
                  dc[arg] += g[ow];
              }
            continue;
          }
        /* the window's valid taps, in window order, for output 0 of the row */
        int64_t tap_off[POOL_BW_MAX_TAPS];
        int tap_c[POOL_BW_MAX_TAPS];
        int n_taps = 0;
        for (int a = 0; a < j->k[0]; a++)
          for (int b = 0; b < j->k[1]; b++)
            {
              int id = od * j->s[0] - j->p[0] + a, ih = oh * j->s[1] - j->p[1] + b;
              if (id < 0 || id >= j->D || ih < 0 || ih >= j->H)
                continue;
              for (int cc = 0; cc < j->k[2]; cc++)
                {
                  tap_c[n_taps] = cc;
                  tap_off[n_taps++] = ((int64_t) id * j->H + ih) * j->W - pW + cc;
                }
            }
        if (n_taps == 0)
          continue;
        int ow = 0;
        for (; ow < in_lo; ow++)
          {
            int64_t arg = pool_bw_row_argmax (xc, tap_off, tap_c, n_taps, ow, sw, pW, j->W);
            if (arg >= 0)
              dc[arg] += g[ow];
          }
        if (sw == 1 && in_hi - in_lo >= POOL_BW_VL)
          {
            for (; ow + POOL_BW_VL <= in_hi; ow += POOL_BW_VL)
              pool_bw_block (xc, tap_off, n_taps, ow, 0, g, dc);
            /* the rest: one block ending at in_hi, scattering only the outputs not done */
            if (ow < in_hi)
              {
                pool_bw_block (xc, tap_off, n_taps, in_hi - POOL_BW_VL, POOL_BW_VL - (in_hi - ow), g, dc);
                ow = in_hi;
              }
          }
        else
          /* other strides (the 2³ down-sampling pools) and short rows: the same taps, one
           * output at a time, none of them out of the row */
          for (; ow < in_hi; ow++)
            {
              const int64_t o = (int64_t) ow * sw;
              float m = xc[tap_off[0] + o];
              int arg = 0;
              for (int t = 1; t < n_taps; t++)
                if (xc[tap_off[t] + o] > m)
                  {
                    m = xc[tap_off[t] + o];
                    arg = t;
                  }
              dc[tap_off[arg] + o] += g[ow];
            }
        for (; ow < j->Wo; ow++)
          {
            int64_t arg = pool_bw_row_argmax (xc, tap_off, tap_c, n_taps, ow, sw, pW, j->W);
            if (arg >= 0)
              dc[arg] += g[ow];
          }
      }
}

void
nn_maxpool3d_backward (WorkerPool *pool, int C, const int k[3], const int s[3], const int p[3],
                       const float *x, int D, int H, int W, const float *dy, float *dx)
{
  PoolBwJob j = {
    .k = k, .s = s, .p = p, .x = x, .dy = dy, .dx = dx, .D = D, .H = H, .W = W,
    .Do = nn_conv_out_size (D, k[0], s[0], p[0]),
    .Ho = nn_conv_out_size (H, k[1], s[1], p[1]),
    .Wo = nn_conv_out_size (W, k[2], s[2], p[2]),
  };
  worker_pool_run (pool, C, pool_bw_channel, &j);
}

void
nn_maxpool3d_backward_ref (int C, const int k[3], const int s[3], const int p[3],
                           const float *x, int D, int H, int W, const float *dy, float *dx)
{
  int64_t n;
  g_autofree int64_t *arg = nn_maxpool3d_argmax_ref (C, k, s, p, x, D, H, W, &n);
  for (int64_t o = 0; o < n; o++)
    if (arg[o] >= 0)
      dx[arg[o]] += dy[o];
}

/* ---- batch normalisation ------------------------------------------------------ */

typedef struct {
  const float *z, *gamma, *beta, *mean, *invstd, *dy;
  float *y, *mean_out, *invstd_out, *var_out, *dz, *dgamma, *dbeta;
  float eps;
  int64_t n;
} BnJob;

NN_SIMD_CLONES
static void
bn_forward_channel (int64_t c, int thread, void *data)
{
  const BnJob *j = data;
  const int64_t n = j->n, n8 = n & ~(int64_t) 7, n16 = n & ~(int64_t) (BW_VL - 1);
  const float *zc = j->z + c * n;
  float *yc = j->y + c * n;
  bw_vd8 acc = { 0 };
  int64_t q;
  (void) thread;

  for (q = 0; q < n8; q += 8)
    acc += __builtin_convertvector (*(const bw_vf8 *) (zc + q), bw_vd8);
  double s = bw_vd8_sum (acc);
  for (; q < n; q++)
    s += zc[q];
  double mean = s / (double) n;
  acc = (bw_vd8) { 0 };
  for (q = 0; q < n8; q += 8)
    {
      bw_vd8 d = __builtin_convertvector (*(const bw_vf8 *) (zc + q), bw_vd8) - mean;
      acc += d * d;
    }
  double ss = bw_vd8_sum (acc);
  for (; q < n; q++)
    {
      double d = zc[q] - mean;
      ss += d * d;
    }
  double var = ss / (double) n;
  float invstd = (float) (1.0 / sqrt (var + j->eps));
  float scale = invstd * j->gamma[c], shift = j->beta[c] - (float) mean * scale;
  for (q = 0; q < n16; q += BW_VL)
    *(bw_vf *) (yc + q) = *(const bw_vf *) (zc + q) * scale + shift;
  for (; q < n; q++)
    yc[q] = zc[q] * scale + shift;
  j->mean_out[c] = (float) mean;
  j->invstd_out[c] = invstd;
  if (j->var_out)
    j->var_out[c] = (float) var;
}

void
nn_batchnorm_train_forward (WorkerPool *pool, const float *z, int C, int64_t n, const float *gamma,
                            const float *beta, float eps, float *y, float *mean, float *invstd,
                            float *var_out)
{
  BnJob j = { .z = z, .gamma = gamma, .beta = beta, .eps = eps, .n = n, .y = y,
              .mean_out = mean, .invstd_out = invstd, .var_out = var_out };
  worker_pool_run (pool, C, bn_forward_channel, &j);
}

void
nn_batchnorm_train_forward_ref (const float *z, int C, int64_t n, const float *gamma,
                                const float *beta, float eps, float *y, float *mean, float *invstd,
                                float *var_out)
{
  for (int c = 0; c < C; c++)
    {
      double s = 0.0, ss = 0.0;
      for (int64_t q = 0; q < n; q++)
        s += z[c * n + q];
      double m = s / n;
      for (int64_t q = 0; q < n; q++)
        ss += (z[c * n + q] - m) * (z[c * n + q] - m);
      double var = ss / n;
      for (int64_t q = 0; q < n; q++)
        y[c * n + q] = (float) ((z[c * n + q] - m) / sqrt (var + eps) * gamma[c] + beta[c]);
      mean[c] = (float) m;
      invstd[c] = (float) (1.0 / sqrt (var + eps));
      if (var_out)
        var_out[c] = (float) var;
    }
}

NN_SIMD_CLONES
static void
bn_backward_channel (int64_t c, int thread, void *data)
{
  const BnJob *j = data;
  const int64_t n = j->n, n8 = n & ~(int64_t) 7, n16 = n & ~(int64_t) (BW_VL - 1);
  const float *zc = j->z + c * n, *gc = j->dy + c * n;
  float *dzc = j->dz + c * n;
  const float m = j->mean[c], is = j->invstd[c];
  bw_vd8 acc_g = { 0 }, acc_gx = { 0 };
  int64_t q;
  (void) thread;

  for (q = 0; q < n8; q += 8)
    {
      bw_vd8 g = __builtin_convertvector (*(const bw_vf8 *) (gc + q), bw_vd8);
      acc_g += g;
      acc_gx += g * __builtin_convertvector ((*(const bw_vf8 *) (zc + q) - m) * is, bw_vd8);
    }
  double sg = bw_vd8_sum (acc_g), sgx = bw_vd8_sum (acc_gx);
  for (; q < n; q++)
    {
      sg += gc[q];
      sgx += (double) gc[q] * ((zc[q] - m) * is);
    }
  /* dz = gamma * invstd / n * (n * dy - sum dy - xhat * sum (dy * xhat)) */
  float k = j->gamma[c] * is, mg = (float) (sg / n), mgx = (float) (sgx / n);
  for (q = 0; q < n16; q += BW_VL)
    *(bw_vf *) (dzc + q) = k * (*(const bw_vf *) (gc + q) - mg - (*(const bw_vf *) (zc + q) - m) * is * mgx);
  for (; q < n; q++)
    dzc[q] = k * (gc[q] - mg - (zc[q] - m) * is * mgx);
  j->dgamma[c] += (float) sgx;
  j->dbeta[c] += (float) sg;
}

void
nn_batchnorm_train_backward (WorkerPool *pool, const float *z, int C, int64_t n, const float *gamma,
                             const float *mean, const float *invstd, const float *dy, float *dz,
                             float *dgamma, float *dbeta)
{
  BnJob j = { .z = z, .gamma = gamma, .mean = mean, .invstd = invstd, .dy = dy, .dz = dz,
              .dgamma = dgamma, .dbeta = dbeta, .n = n };
  worker_pool_run (pool, C, bn_backward_channel, &j);
}

void
nn_batchnorm_train_backward_ref (const float *z, int C, int64_t n, const float *gamma,
                                 const float *mean, const float *invstd, const float *dy, float *dz,
                                 float *dgamma, float *dbeta)
{
  for (int c = 0; c < C; c++)
    {
      /* y = gamma * xhat + beta, xhat = (z - mean) * invstd with mean and invstd
       * functions of z: dxhat = dy * gamma;
       * dz = invstd * (dxhat - mean (dxhat) - xhat * mean (dxhat * xhat)) */
      double s1 = 0.0, s2 = 0.0, sb = 0.0, sgm = 0.0;
      for (int64_t q = 0; q < n; q++)
        {
          double xh = (z[c * n + q] - mean[c]) * (double) invstd[c];
          double dxh = (double) dy[c * n + q] * gamma[c];
          s1 += dxh;
          s2 += dxh * xh;
          sb += dy[c * n + q];
          sgm += dy[c * n + q] * xh;
        }
      for (int64_t q = 0; q < n; q++)
        {
          double xh = (z[c * n + q] - mean[c]) * (double) invstd[c];
          double dxh = (double) dy[c * n + q] * gamma[c];
          dz[c * n + q] = (float) (invstd[c] * (dxh - s1 / n - xh * s2 / n));
        }
      dgamma[c] += (float) sgm;
      dbeta[c] += (float) sb;
    }
}

/* ---- activations ------------------------------------------------------------- */

void
nn_activate_backward (const float *y, float *g, int64_t n, NnAct act, float slope)
{
  if (act == NN_ACT_RELU)
    for (int64_t q = 0; q < n; q++)
      g[q] = y[q] > 0.0f ? g[q] : 0.0f;
  else if (act == NN_ACT_LEAKY_RELU)
    for (int64_t q = 0; q < n; q++)
      g[q] = y[q] > 0.0f ? g[q] : g[q] * slope;
}

void
nn_activate_backward_ref (const float *y, float *g, int64_t n, NnAct act, float slope)
{
  for (int64_t q = 0; q < n; q++)
    {
      float d = 1.0f;
      if (act != NN_ACT_NONE && !(y[q] > 0.0f))
        d = act == NN_ACT_RELU ? 0.0f : slope;
      g[q] *= d;
    }
}
