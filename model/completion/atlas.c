/* atlas.c: multi-atlas transfer (see atlas.h). */
#include "atlas.h"
#include "completion.h"
#include "point-tree.h"
#include "stats-util.h"
#include "worker-pool.h"

#include <math.h>
#include <string.h>

G_DEFINE_QUARK (atlas-error-quark, atlas_error)

#define N ATLAS_N_CLASSES
#define BIT(l) (1u << (l))
#define ORGANS_MASK (((1u << N) - 2u))
/* the long structures whose extent along the body follows the field of view
 * (spine, rib cage, aorta, autochthon muscles): classes 6, 7, 10, 11 */
#define LONG_MASK (BIT (6) | BIT (7) | BIT (10) | BIT (11))

void
atlas_options_init (AtlasOptions *o)
{
  memset (o, 0, sizeof *o);
  o->transform = ATLAS_TRANSFORM_SIMILARITY;
  o->min_shared_rotation = ATLAS_MIN_SHARED_ROTATION;
  o->min_ml = ATLAS_MIN_ML;
}

/* ---- small linear algebra (4x4 affines: row 3 is 0 0 0 1) ---- */

static double
det3 (const double m[3][3])
{
  return m[0][0] * (m[1][1] * m[2][2] - m[1][2] * m[2][1])
         - m[0][1] * (m[1][0] * m[2][2] - m[1][2] * m[2][0])
         + m[0][2] * (m[1][0] * m[2][1] - m[1][1] * m[2][0]);
}

/* inverse of a 3x3 matrix by cofactors; FALSE when (nearly) singular relative to its size */
static gboolean
inverse3 (const double m[3][3], double out[3][3])
{
  double d = det3 (m), norm = 0.0;
  for (int i = 0; i < 3; i++)
    for (int j = 0; j < 3; j++)
      norm = MAX (norm, fabs (m[i][j]));
  if (!(fabs (d) > 1e-12 * norm * norm * norm) || !isfinite (d))
    return FALSE;
  for (int i = 0; i < 3; i++)
    for (int j = 0; j < 3; j++)
      {
        int i1 = (j + 1) % 3, i2 = (j + 2) % 3, j1 = (i + 1) % 3, j2 = (i + 2) % 3;
        out[i][j] = (m[i1][j1] * m[i2][j2] - m[i1][j2] * m[i2][j1]) / d;
      }
  return TRUE;
}

/* Eigen-decomposition of the symmetric n x n matrix @a (n <= 4; destroyed) by cyclic
 * Jacobi rotations: vals[i] with eigenvector column i of vecs. */
static void
jacobi_eigen (int n, double a[4][4], double vals[4], double vecs[4][4])
{
  for (int i = 0; i < 4; i++)
    for (int j = 0; j < 4; j++)
      vecs[i][j] = i == j;
  for (int sweep = 0; sweep < 60; sweep++)
    {
      double off = 0.0, diag = 0.0;
      for (int p = 0; p < n; p++)
        {
          diag += a[p][p] * a[p][p];
          for (int q = p + 1; q < n; q++)
            off += a[p][q] * a[p][q];
        }
      if (off <= 1e-30 * MAX (diag, 1e-300))
        break;
      for (int p = 0; p < n; p++)
        for (int q = p + 1; q < n; q++)
          {
            if (a[p][q] == 0.0)
              continue;
            double theta = (a[q][q] - a[p][p]) / (2.0 * a[p][q]);
            double t = (theta >= 0 ? 1.0 : -1.0) / (fabs (theta) + sqrt (theta * theta + 1.0));
            double c = 1.0 / sqrt (t * t + 1.0), s = t * c;
            for (int k = 0; k < n; k++)
              {
                double akp = a[k][p], akq = a[k][q];
                a[k][p] = c * akp - s * akq;
                a[k][q] = s * akp + c * akq;
              }
            for (int k = 0; k < n; k++)
              {
                double apk = a[p][k], aqk = a[q][k];
                a[p][k] = c * apk - s * aqk;
                a[q][k] = s * apk + c * aqk;
              }
            for (int k = 0; k < n; k++)
              {
                double vkp = vecs[k][p], vkq = vecs[k][q];
                vecs[k][p] = c * vkp - s * vkq;
                vecs[k][q] = s * vkp + c * vkq;
              }
          }
    }
  for (int i = 0; i < n; i++)
    vals[i] = a[i][i];
}

/* ---- subjects ---- */

struct _AtlasSubject {
  const LabelVolume *v;
  double affine[4][4], inverse[4][4];
  guint32 present;
  int64_t count[N];
  double ml[N];
  double centroid[N][3];   /* world mm */
  guint8 cut[N];           /* bit a: the organ touches faces of the grid across world axis a */
  int64_t box[N][6];       /* voxel bounding box: min i, j, k, max i, j, k */
  PointTree surf[N];       /* boundary points, world mm */
};

void
atlas_subject_free (AtlasSubject *s)
{
  if (s == NULL)
    return;
  for (int l = 0; l < N; l++)
    point_tree_clear (&s->surf[l]);
  g_free (s);
}

const LabelVolume *
atlas_subject_get_volume (const AtlasSubject *s)
{
  return s->v;
}

guint32
atlas_subject_get_present (const AtlasSubject *s)
{
  return s->present;
}

static inline int
class_at (const LabelVolume *v, int64_t q)
{
  int32_t l = lv_volume_get_index (v, q);
  return l >= 0 && l < N ? l : -1;   /* -1: some other label */
}

AtlasSubject *
atlas_subject_new (const LabelVolume *v, double min_ml, GError **error)
{
  g_autoptr (AtlasSubject) s = g_new0 (AtlasSubject, 1);
  s->v = v;
  memcpy (s->affine, v->affine, sizeof s->affine);
  if (!lv_affine_invert (s->affine, s->inverse))
    {
      g_set_error (error, ATLAS_ERROR, ATLAS_ERROR_INPUT, "the label map's affine is singular");
      return NULL;
    }
  const int64_t nx = v->nx, ny = v->ny, nz = v->nz, plane = nx * ny;
  double sum[N][3] = { { 0 } };
  for (int l = 0; l < N; l++)
    {
      s->box[l][0] = s->box[l][1] = s->box[l][2] = G_MAXINT64;
      s->box[l][3] = s->box[l][4] = s->box[l][5] = -1;
    }
  GArray *bnd[N];
  for (int l = 0; l < N; l++)
    bnd[l] = g_array_new (FALSE, FALSE, sizeof (int64_t));
  for (int64_t k = 0; k < nz; k++)
    for (int64_t j = 0; j < ny; j++)
      for (int64_t i = 0; i < nx; i++)
        {
          int64_t q = i + nx * j + plane * k;
          int l = class_at (v, q);
          if (l <= 0)
            continue;
          s->count[l]++;
          sum[l][0] += (double) i;
          sum[l][1] += (double) j;
          sum[l][2] += (double) k;
          int64_t idx[3] = { i, j, k };
          for (int a = 0; a < 3; a++)
            {
              s->box[l][a] = MIN (s->box[l][a], idx[a]);
              s->box[l][3 + a] = MAX (s->box[l][3 + a], idx[a]);
            }
          /* boundary: a face neighbour inside the grid with another label */
          gboolean b = (i > 0 && class_at (v, q - 1) != l) || (i + 1 < nx && class_at (v, q + 1) != l)
                       || (j > 0 && class_at (v, q - nx) != l) || (j + 1 < ny && class_at (v, q + nx) != l)
                       || (k > 0 && class_at (v, q - plane) != l) || (k + 1 < nz && class_at (v, q + plane) != l);
          if (b)
            g_array_append_val (bnd[l], q);
        }
  const double voxel_ml = lv_volume_voxel_mm3 (v) / 1000.0;
  const int64_t dims[3] = { nx, ny, nz };
  for (int l = 1; l < N; l++)
    {
      s->ml[l] = (double) s->count[l] * voxel_ml;
      if (s->count[l] > 0 && s->ml[l] >= min_ml)
        s->present |= BIT (l);
      if (s->count[l] > 0)
        {
          double c[3] = { sum[l][0] / s->count[l], sum[l][1] / s->count[l], sum[l][2] / s->count[l] };
          lv_affine_apply (s->affine, c, s->centroid[l]);
          for (int g = 0; g < 3; g++)
            {
              if (dims[g] < 2 || (s->box[l][g] > 0 && s->box[l][3 + g] < dims[g] - 1))
                continue;
              int a = 0;
              for (int r = 1; r < 3; r++)
                if (fabs (s->affine[r][g]) > fabs (s->affine[a][g]))
                  a = r;
              s->cut[l] |= (guint8) (1u << a);
            }
        }
      /* every stride-th boundary voxel, at most ATLAS_SURFACE_POINTS */
      guint nb = bnd[l]->len;
      if (nb > 0)
        {
          guint stride = (nb + ATLAS_SURFACE_POINTS - 1) / ATLAS_SURFACE_POINTS;
          int n = (int) ((nb + stride - 1) / stride);
          float *pts = g_try_new (float, 3 * (size_t) n);
          if (pts != NULL)
            for (int m = 0; m < n; m++)
              {
                int64_t q = g_array_index (bnd[l], int64_t, (guint) m * stride);
                double p[3] = { (double) (q % nx), (double) ((q / nx) % ny), (double) (q / plane) }, w[3];
                lv_affine_apply (s->affine, p, w);
                for (int c = 0; c < 3; c++)
                  pts[3 * m + c] = (float) w[c];
              }
          if (pts == NULL || !point_tree_init (&s->surf[l], pts, n))
            {
              for (int m = 0; m < N; m++)
                g_array_unref (bnd[m]);
              g_set_error (error, ATLAS_ERROR, ATLAS_ERROR_NO_MEMORY, "cannot allocate boundary points");
              return NULL;
            }
        }
    }
  for (int l = 0; l < N; l++)
    g_array_unref (bnd[l]);
  if (s->present == 0)
    {
      g_set_error (error, ATLAS_ERROR, ATLAS_ERROR_INPUT, "the label map holds no organ of at least %.1f mL",
                   min_ml);
      return NULL;
    }
  return g_steal_pointer (&s);
}

/* ---- fit ---- */

typedef enum { STEP_TRANSLATION, STEP_SCALE, STEP_SIMILARITY, STEP_AFFINE } Step;

/* G (input world -> atlas world) with linear part @l (3x3) and translation @t */
static void
set_affine (double g[4][4], const double l[3][3], const double t[3])
{
  memset (g, 0, 16 * sizeof (double));
  for (int i = 0; i < 3; i++)
    {
      for (int j = 0; j < 3; j++)
        g[i][j] = l[i][j];
      g[i][3] = t[i];
    }
  g[3][3] = 1.0;
}

/* Fit G to the pairs p[i] -> q[i] (n of them, world mm) with the model @step; @g holds the
 * current transform, whose linear part STEP_TRANSLATION keeps.  Returns the step used (a
 * rotation or affine beyond the limits falls back to the simpler model). */
static Step
solve (Step step, const double *p, const double *q, int n, double g[4][4])
{
  double pm[3] = { 0 }, qm[3] = { 0 };
  for (int i = 0; i < n; i++)
    for (int c = 0; c < 3; c++)
      {
        pm[c] += p[3 * i + c];
        qm[c] += q[3 * i + c];
      }
  for (int c = 0; c < 3; c++)
    {
      pm[c] /= n;
      qm[c] /= n;
    }
  double lin[3][3], t[3];
  if (step == STEP_TRANSLATION)
    {
      for (int i = 0; i < 3; i++)
        for (int j = 0; j < 3; j++)
          lin[i][j] = g[i][j];
      for (int i = 0; i < 3; i++)
        t[i] = qm[i] - (lin[i][0] * pm[0] + lin[i][1] * pm[1] + lin[i][2] * pm[2]);
      set_affine (g, lin, t);
      return step;
    }
  /* S[a][b] = sum p'_a q'_b, and sum |p'|^2 */
  double S[3][3] = { { 0 } }, pp = 0.0;
  for (int i = 0; i < n; i++)
    {
      double a[3], b[3];
      for (int c = 0; c < 3; c++)
        {
          a[c] = p[3 * i + c] - pm[c];
          b[c] = q[3 * i + c] - qm[c];
        }
      for (int r = 0; r < 3; r++)
        for (int c = 0; c < 3; c++)
          S[r][c] += a[r] * b[c];
      pp += a[0] * a[0] + a[1] * a[1] + a[2] * a[2];
    }
  if (!(pp > 0.0))
    return solve (STEP_TRANSLATION, p, q, n, g);
  double R[3][3] = { { 1, 0, 0 }, { 0, 1, 0 }, { 0, 0, 1 } };
  Step used = STEP_SCALE;
  if (step == STEP_AFFINE)
    {
      /* M = argmin sum |M p' - q'|^2: M^T = (sum p'p'^T)^-1 S */
      double P[3][3] = { { 0 } }, Pi[3][3];
      for (int i = 0; i < n; i++)
        {
          double a[3];
          for (int c = 0; c < 3; c++)
            a[c] = p[3 * i + c] - pm[c];
          for (int r = 0; r < 3; r++)
            for (int c = 0; c < 3; c++)
              P[r][c] += a[r] * a[c];
        }
      if (inverse3 (P, Pi))
        {
          double M[3][3];
          for (int r = 0; r < 3; r++)
            for (int c = 0; c < 3; c++)
              M[c][r] = Pi[r][0] * S[0][c] + Pi[r][1] * S[1][c] + Pi[r][2] * S[2][c];
          /* singular values of M: square roots of the eigenvalues of M^T M */
          double mtm[4][4] = { { 0 } }, ev[4], vec[4][4];
          for (int r = 0; r < 3; r++)
            for (int c = 0; c < 3; c++)
              for (int k = 0; k < 3; k++)
                mtm[r][c] += M[k][r] * M[k][c];
          jacobi_eigen (3, mtm, ev, vec);
          gboolean ok = det3 (M) > 0.0;
          for (int k = 0; k < 3 && ok; k++)
            ok = ev[k] >= ATLAS_MIN_SCALE * ATLAS_MIN_SCALE && ev[k] <= ATLAS_MAX_SCALE * ATLAS_MAX_SCALE;
          if (ok)
            {
              for (int i = 0; i < 3; i++)
                t[i] = qm[i] - (M[i][0] * pm[0] + M[i][1] * pm[1] + M[i][2] * pm[2]);
              set_affine (g, M, t);
              return STEP_AFFINE;
            }
        }
      step = STEP_SIMILARITY;
    }
  if (step == STEP_SIMILARITY)
    {
      /* Horn (1987): the unit quaternion maximising sum q' . R p' is the eigenvector of the
       * largest eigenvalue of this symmetric matrix */
      double Nm[4][4] = {
        { S[0][0] + S[1][1] + S[2][2], S[1][2] - S[2][1], S[2][0] - S[0][2], S[0][1] - S[1][0] },
        { S[1][2] - S[2][1], S[0][0] - S[1][1] - S[2][2], S[0][1] + S[1][0], S[2][0] + S[0][2] },
        { S[2][0] - S[0][2], S[0][1] + S[1][0], -S[0][0] + S[1][1] - S[2][2], S[1][2] + S[2][1] },
        { S[0][1] - S[1][0], S[2][0] + S[0][2], S[1][2] + S[2][1], -S[0][0] - S[1][1] + S[2][2] },
      };
      double ev[4], vec[4][4];
      jacobi_eigen (4, Nm, ev, vec);
      int best = 0;
      for (int k = 1; k < 4; k++)
        if (ev[k] > ev[best])
          best = k;
      double w = vec[0][best], x = vec[1][best], y = vec[2][best], z = vec[3][best];
      double nrm = sqrt (w * w + x * x + y * y + z * z);
      w /= nrm, x /= nrm, y /= nrm, z /= nrm;
      double angle = 2.0 * acos (MIN (1.0, fabs (w))) * 180.0 / G_PI;
      if (angle <= ATLAS_MAX_ROTATION_DEG)
        {
          double r[3][3] = {
            { w * w + x * x - y * y - z * z, 2 * (x * y - w * z), 2 * (x * z + w * y) },
            { 2 * (y * x + w * z), w * w - x * x + y * y - z * z, 2 * (y * z - w * x) },
            { 2 * (z * x - w * y), 2 * (z * y + w * x), w * w - x * x - y * y + z * z },
          };
          memcpy (R, r, sizeof R);
          used = STEP_SIMILARITY;
        }
    }
  /* scale: Horn's symmetric estimate s = sqrt (sum |q'|^2 / sum |p'|^2).  The least-squares
   * one, sum q' . R p' / sum |p'|^2, shrinks with every wrong pair (the pairs' scatter is
   * uncorrelated with p': regression dilution), and ICP's pairs are never all right. */
  double qqs = 0.0;
  for (int i = 0; i < n; i++)
    for (int c = 0; c < 3; c++)
      qqs += (q[3 * i + c] - qm[c]) * (q[3 * i + c] - qm[c]);
  double s = CLAMP (sqrt (qqs / pp), ATLAS_MIN_SCALE, ATLAS_MAX_SCALE);
  for (int i = 0; i < 3; i++)
    for (int j = 0; j < 3; j++)
      lin[i][j] = s * R[i][j];
  for (int i = 0; i < 3; i++)
    t[i] = qm[i] - (lin[i][0] * pm[0] + lin[i][1] * pm[1] + lin[i][2] * pm[2]);
  set_affine (g, lin, t);
  return used;
}

static int
cmp_float (const void *a, const void *b)
{
  float x = *(const float *) a, y = *(const float *) b;
  return (x > y) - (x < y);
}

gboolean
atlas_fit (const AtlasSubject *in, const AtlasSubject *at, guint32 use, const AtlasOptions *opt, AtlasFit *fit,
           GError **error)
{
  memset (fit, 0, sizeof *fit);
  use &= in->present & at->present & ORGANS_MASK;
  int n_shared = 0;
  for (int l = 1; l < N; l++)
    n_shared += (use >> l) & 1u;
  fit->shared = use;
  fit->n_shared = n_shared;
  if (n_shared == 0)
    {
      g_set_error (error, ATLAS_ERROR, ATLAS_ERROR_INPUT, "the input and the atlas share no organ");
      return FALSE;
    }
  AtlasTransform model = opt->transform;
  int min_rot = opt->min_shared_rotation > 0 ? opt->min_shared_rotation : ATLAS_MIN_SHARED_ROTATION;
  if (model == ATLAS_TRANSFORM_AFFINE && n_shared < ATLAS_MIN_SHARED_AFFINE)
    model = ATLAS_TRANSFORM_SIMILARITY;
  if (model != ATLAS_TRANSFORM_TRANSLATION_SCALE && n_shared < min_rot)
    model = ATLAS_TRANSFORM_TRANSLATION_SCALE;

  /* start: scale from the volumes of organs whole in both fields of view */
  double vals[N];
  int nv = 0;
  for (int l = 1; l < N; l++)
    if ((use >> l) & 1u && in->cut[l] == 0 && at->cut[l] == 0)
      vals[nv++] = at->ml[l] / in->ml[l];
  double s0 = nv ? CLAMP (cbrt (stats_median_inplace (vals, nv)), 0.8, 1.25) : 1.0;
  /* translation: median centroid offset per world axis over organs not cut along it */
  double t0[3];
  for (int a = 0; a < 3; a++)
    {
      for (int pass = 0; pass < 3; pass++)
        {
          nv = 0;
          for (int l = 1; l < N; l++)
            {
              if (!((use >> l) & 1u))
                continue;
              gboolean whole = !((in->cut[l] | at->cut[l]) & (1u << a));
              gboolean along_body = a == 2 && (LONG_MASK >> l) & 1u;
              if ((pass == 0 && whole && !along_body) || (pass == 1 && whole) || pass == 2)
                vals[nv++] = at->centroid[l][a] - s0 * in->centroid[l][a];
            }
          if (nv)
            break;
        }
      t0[a] = stats_median_inplace (vals, nv);
    }
  double g[4][4], lin0[3][3] = { { s0, 0, 0 }, { 0, s0, 0 }, { 0, 0, s0 } };
  set_affine (g, lin0, t0);

  /* the input's points: every stride-th boundary point of each shared organ */
  int np = 0;
  for (int l = 1; l < N; l++)
    if ((use >> l) & 1u)
      np += MIN (in->surf[l].n, ATLAS_FIT_POINTS);
  g_autofree double *pts = g_new (double, 3 * (size_t) np);
  g_autofree int *lab = g_new (int, np);
  double lo[3] = { INFINITY, INFINITY, INFINITY }, hi[3] = { -INFINITY, -INFINITY, -INFINITY };
  np = 0;
  for (int l = 1; l < N; l++)
    {
      const PointTree *t = &in->surf[l];
      if (!((use >> l) & 1u) || t->n == 0)
        continue;
      int m = MIN (t->n, ATLAS_FIT_POINTS);
      for (int i = 0; i < m; i++)
        {
          int src = (int) ((int64_t) i * t->n / m);
          for (int c = 0; c < 3; c++)
            {
              pts[3 * np + c] = t->p[3 * src + c];
              lo[c] = MIN (lo[c], pts[3 * np + c]);
              hi[c] = MAX (hi[c], pts[3 * np + c]);
            }
          lab[np++] = l;
        }
    }
  g_autofree double *pp = g_new (double, 3 * (size_t) np), *qq = g_new (double, 3 * (size_t) np);
  g_autofree float *d2 = g_new (float, np), *sorted = g_new (float, np);
  g_autofree int *last = g_new (int, np);
  for (int i = 0; i < np; i++)
    last[i] = -1;
  const int64_t adim[3] = { at->v->nx, at->v->ny, at->v->nz };

  Step steps[3] = { STEP_TRANSLATION, STEP_SCALE,
                    model == ATLAS_TRANSFORM_AFFINE ? STEP_AFFINE : STEP_SIMILARITY };
  int n_steps = model == ATLAS_TRANSFORM_TRANSLATION_SCALE ? 2 : 3;
  const int max_iter[3] = { 15, 15, 40 };
  Step used = STEP_SCALE;
  double rms = NAN;
  int kept = 0, iters = 0;
  for (int st = 0; st < n_steps; st++)
    for (int it = 0; it < max_iter[st]; it++)
      {
        /* pairs: nearest atlas boundary point of the same organ to G(p), inside the atlas's grid */
        int npair = 0;
        for (int i = 0; i < np; i++)
          {
            double y[3], v[3];
            lv_affine_apply (g, pts + 3 * i, y);
            lv_affine_apply (at->inverse, y, v);
            gboolean inside = TRUE;
            for (int c = 0; c < 3; c++)
              inside &= v[c] >= 0.0 && v[c] <= (double) (adim[c] - 1);
            if (!inside)
              continue;
            const PointTree *t = &at->surf[lab[i]];
            float qf[3] = { (float) y[0], (float) y[1], (float) y[2] }, best_d2 = INFINITY;
            int best = -1;
            if (opt->reference_search)
              point_tree_nearest_ref (t, qf, &best, &best_d2);
            else
              {
                /* the previous nearest point bounds the search from the start */
                if (last[i] >= 0)
                  {
                    const float *c = t->p + 3 * last[i];
                    best = last[i];
                    best_d2 = (qf[0] - c[0]) * (qf[0] - c[0]) + (qf[1] - c[1]) * (qf[1] - c[1])
                              + (qf[2] - c[2]) * (qf[2] - c[2]);
                  }
                point_tree_nearest (t, qf, &best, &best_d2);
              }
            if (best < 0)
              continue;
            last[i] = best;
            d2[npair] = best_d2;
            for (int c = 0; c < 3; c++)
              {
                pp[3 * npair + c] = pts[3 * i + c];
                qq[3 * npair + c] = t->p[3 * best + c];
              }
            npair++;
          }
        if (npair < 12)
          goto done;
        /* trim: drop the farthest fraction */
        memcpy (sorted, d2, sizeof (float) * npair);
        qsort (sorted, (size_t) npair, sizeof (float), cmp_float);
        float thr = sorted[MIN (npair - 1, (int) ((1.0 - ATLAS_TRIM_FRACTION) * npair))];
        int nk = 0;
        double sum = 0.0;
        for (int i = 0; i < npair; i++)
          if (d2[i] <= thr)
            {
              for (int c = 0; c < 3; c++)
                {
                  pp[3 * nk + c] = pp[3 * i + c];
                  qq[3 * nk + c] = qq[3 * i + c];
                }
              sum += d2[i];
              nk++;
            }
        rms = sqrt (sum / nk);
        kept = nk;
        double old[4][4];
        memcpy (old, g, sizeof old);
        used = solve (steps[st], pp, qq, nk, g);
        iters++;
        /* converged when no corner of the points' box moves by 0.02 mm */
        double move = 0.0;
        for (int corner = 0; corner < 8; corner++)
          {
            double x[3] = { corner & 1 ? hi[0] : lo[0], corner & 2 ? hi[1] : lo[1], corner & 4 ? hi[2] : lo[2] };
            double a[3], b[3];
            lv_affine_apply (old, x, a);
            lv_affine_apply (g, x, b);
            move = MAX (move, sqrt ((a[0] - b[0]) * (a[0] - b[0]) + (a[1] - b[1]) * (a[1] - b[1])
                                    + (a[2] - b[2]) * (a[2] - b[2])));
          }
        if (move < 0.02)
          break;
      }
done:
  memcpy (fit->input_to_atlas, g, sizeof fit->input_to_atlas);
  {
    double l3[3][3];
    for (int i = 0; i < 3; i++)
      for (int j = 0; j < 3; j++)
        l3[i][j] = g[i][j];
    fit->scale = cbrt (det3 (l3));
  }
  fit->transform = used == STEP_AFFINE ? ATLAS_TRANSFORM_AFFINE
                   : used == STEP_SIMILARITY ? ATLAS_TRANSFORM_SIMILARITY : ATLAS_TRANSFORM_TRANSLATION_SCALE;
  fit->rms_mm = rms;
  fit->n_pairs = kept;
  fit->n_iterations = iters;
  fit->used = TRUE;
  return TRUE;
}

/* ---- warp and vote ---- */

typedef double VoxelMap[3][4];  /* input voxel index (i, j, k, 1) -> atlas voxel index */
typedef int OrganList[N];       /* organs an atlas votes on, 0-terminated */

typedef struct {
  const LabelVolume *in;
  LabelVolume *out;
  int n_used;
  VoxelMap *map;                /* per atlas */
  const LabelVolume **atv;
  OrganList *organs;            /* per atlas */
  int64_t box[6];               /* region of the input to visit */
  int64_t *added;               /* per thread: N counts */
} Vote;

static void
vote_slice (int64_t task, int thread, void *data)
{
  Vote *V = data;
  const LabelVolume *in = V->in;
  const int64_t k = V->box[2] + task, nx = in->nx, ny = in->ny;
  int64_t *added = V->added + (size_t) thread * N;
  for (int64_t j = V->box[1]; j <= V->box[4]; j++)
    for (int64_t i = V->box[0]; i <= V->box[3]; i++)
      {
        int64_t q = i + nx * (j + ny * k);
        if (lv_volume_get_index (in, q) != 0)
          continue;
        int votes[N] = { 0 }, voters[N] = { 0 };
        for (int a = 0; a < V->n_used; a++)
          {
            double (*m)[4] = V->map[a];
            const LabelVolume *av = V->atv[a];
            double x = m[0][0] * i + m[0][1] * j + m[0][2] * k + m[0][3];
            double y = m[1][0] * i + m[1][1] * j + m[1][2] * k + m[1][3];
            double z = m[2][0] * i + m[2][1] * j + m[2][2] * k + m[2][3];
            int64_t ai = (int64_t) floor (x + 0.5), aj = (int64_t) floor (y + 0.5), ak = (int64_t) floor (z + 0.5);
            if (ai < 0 || aj < 0 || ak < 0 || ai >= av->nx || aj >= av->ny || ak >= av->nz)
              continue;
            int32_t lab = lv_volume_get (av, ai, aj, ak);
            for (const int *o = V->organs[a]; *o; o++)
              {
                voters[*o]++;
                votes[*o] += lab == *o;
              }
          }
        int best = 0;
        for (int l = 1; l < N; l++)
          if (2 * votes[l] > voters[l] && votes[l] > votes[best])
            best = l;
        if (best)
          {
            lv_volume_set_index (V->out, q, best);
            added[best]++;
          }
      }
}

LabelVolume *
atlas_complete (const LabelVolume *input, AtlasSubject *const *atlases, int n_atlases, const AtlasOptions *opt,
                AtlasFit *fits, int64_t *added, GCancellable *cancellable, GError **error)
{
  AtlasOptions defaults;
  if (opt == NULL)
    {
      atlas_options_init (&defaults);
      opt = &defaults;
    }
  if (added)
    memset (added, 0, N * sizeof (int64_t));
  g_autoptr (AtlasSubject) in = atlas_subject_new (input, opt->min_ml, error);
  if (in == NULL)
    {
      g_prefix_error (error, "input: ");
      return NULL;
    }
  guint32 sel = 0;
  for (int l = 1; l < N; l++)
    if (opt->selected[l])
      sel |= BIT (l);
  if (sel == 0)
    for (int l = 1; l < N; l++)
      if (in->count[l] == 0)
        sel |= BIT (l);
  /* every storage holds the labels 0..12 */
  g_autoptr (LabelVolume) out = lv_volume_dup (input);

  Vote V = { .in = input, .out = out };
  V.map = g_new0 (VoxelMap, MAX (1, n_atlases));
  V.atv = g_new0 (const LabelVolume *, MAX (1, n_atlases));
  V.organs = g_new0 (OrganList, MAX (1, n_atlases));
  int64_t box[6] = { input->nx, input->ny, input->nz, -1, -1, -1 };
  for (int a = 0; a < n_atlases; a++)
    {
      AtlasFit fit_local, *fit = fits ? &fits[a] : &fit_local;
      memset (fit, 0, sizeof *fit);
      if (g_cancellable_set_error_if_cancelled (cancellable, error))
        goto fail;
      const AtlasSubject *at = atlases[a];
      guint32 contrib = sel & at->present;
      if (contrib == 0)
        continue;
      g_autoptr (GError) local = NULL;
      if (!atlas_fit (in, at, ~sel, opt, fit, &local))
        {
          fit->used = FALSE;
          continue;
        }
      /* input voxel -> input world -> atlas world -> atlas voxel */
      double m[4][4], inv[4][4];
      lv_affine_mul (fit->input_to_atlas, in->affine, m);
      lv_affine_mul (at->inverse, m, m);
      if (!lv_affine_invert (m, inv))
        {
          fit->used = FALSE;
          continue;
        }
      int u = V.n_used++;
      for (int r = 0; r < 3; r++)
        for (int c = 0; c < 4; c++)
          V.map[u][r][c] = m[r][c];
      V.atv[u] = at->v;
      int no = 0;
      int64_t ab[6] = { G_MAXINT64, G_MAXINT64, G_MAXINT64, -1, -1, -1 };
      for (int l = 1; l < N; l++)
        if ((contrib >> l) & 1u)
          {
            V.organs[u][no++] = l;
            for (int c = 0; c < 3; c++)
              {
                ab[c] = MIN (ab[c], at->box[l][c]);
                ab[3 + c] = MAX (ab[3 + c], at->box[l][3 + c]);
              }
          }
      /* the atlas organs' box, mapped into the input grid */
      const int64_t idim[3] = { input->nx, input->ny, input->nz };
      for (int corner = 0; corner < 8; corner++)
        {
          double x[3], y[3];
          for (int c = 0; c < 3; c++)
            x[c] = (corner >> c) & 1 ? ab[3 + c] + 0.5 : ab[c] - 0.5;
          lv_affine_apply (inv, x, y);
          for (int c = 0; c < 3; c++)
            {
              double lo = floor (y[c]) - 1, hi = ceil (y[c]) + 1;
              box[c] = MIN (box[c], (int64_t) CLAMP (lo, 0.0, (double) (idim[c] - 1)));
              box[3 + c] = MAX (box[3 + c], (int64_t) CLAMP (hi, 0.0, (double) (idim[c] - 1)));
            }
        }
    }
  if (V.n_used > 0 && box[3] >= box[0] && box[4] >= box[1] && box[5] >= box[2])
    {
      if (g_cancellable_set_error_if_cancelled (cancellable, error))
        goto fail;
      memcpy (V.box, box, sizeof box);
      g_autoptr (WorkerPool) pool = worker_pool_new (opt->n_threads);
      int nt = worker_pool_get_n_threads (pool);
      V.added = g_new0 (int64_t, (size_t) nt * N);
      worker_pool_run (pool, box[5] - box[2] + 1, vote_slice, &V);
      if (added)
        for (int t = 0; t < nt; t++)
          for (int l = 0; l < N; l++)
            added[l] += V.added[(size_t) t * N + l];
      g_free (V.added);
      if (!opt->keep_fragments
          && !completion_drop_fragments (input, out, COMPLETION_FRAGMENT_FRACTION, added, N, error))
        goto fail;
    }
  g_free (V.map);
  g_free (V.atv);
  g_free (V.organs);
  return g_steal_pointer (&out);
fail:
  g_free (V.map);
  g_free (V.atv);
  g_free (V.organs);
  return NULL;
}
