/* train-augment.c: simulated acquisitions of complete subjects (see train-augment.h). */
#include "train-augment.h"
#include "completion-frame.h"
#include "label-table.h"
#include "nn-loss.h"
#include "phantom.h"
#include "train-data.h"

#include <math.h>
#include <string.h>

#define STREAM_AUGMENT 0x4155474dull   /* "AUGM" */
#define ELASTIC_N 5                    /* lattice points per axis */
#define MAX_ACQ_VOXELS ((int64_t) 6 << 20)

void
train_augment_options_init (TrainAugmentOptions *o)
{
  o->p_real = 0.5;
  o->p_slab = 0.5;
  o->slab_min_mm = 60.0;
  o->voxel_min_mm = 0.7;
  o->voxel_max_mm = 8.0;
  o->scale = 0.15;
  o->rotate_deg = 8.0;
  o->elastic_mm = 10.0;
  o->noise = 1.0;
}

/* ---- subjects ---------------------------------------------------------- */

/* A real subject's background voxel where the pulmonary artery, which its source never
 * labels, may lie: its target is "background or pulmonary artery" instead of teaching
 * that the artery is never present. */
#define SUBJECT_UNKNOWN 255
/* how far from the heart the artery and its branches reach (phantoms: 90 % within 57 mm) */
#define PA_REACH_MM 60.0

typedef struct {
  LabelVolume *v;
} Subject;

struct _TrainSubjects {
  GArray *items;   /* Subject */
};

static void
subject_clear (gpointer p)
{
  Subject *s = p;
  lv_volume_free (s->v);
}

TrainSubjects *
train_subjects_new (void)
{
  TrainSubjects *s = g_new0 (TrainSubjects, 1);
  s->items = g_array_new (FALSE, TRUE, sizeof (Subject));
  g_array_set_clear_func (s->items, subject_clear);
  return s;
}

void
train_subjects_free (TrainSubjects *s)
{
  if (s == NULL)
    return;
  g_array_unref (s->items);
  g_free (s);
}

/* Running maximum over a window of +-@r along a line of @n values @stride apart, in
 * place (@tmp holds @n values). */
static void
dilate_line (uint8_t *p, int64_t n, int64_t stride, int64_t r, uint8_t *tmp)
{
  for (int64_t i = 0; i < n; i++)
    tmp[i] = p[i * stride];
  int64_t last = -G_MAXINT64 / 2; /* index of the last set value seen */
  for (int64_t i = 0; i < n + r; i++)
    {
      if (i < n && tmp[i])
        last = i;
      int64_t at = i - r;
      if (at >= 0 && at < n)
        p[at * stride] = (uint8_t) (i - last <= 2 * r);
    }
}

/* Marks SUBJECT_UNKNOWN every background voxel of @v within @mm (per axis: a box) of
 * label @organ. */
static void
mark_unknown_near (LabelVolume *v, int32_t organ, double mm)
{
  const int64_t n[3] = { v->nx, v->ny, v->nz }, N = lv_volume_n_voxels (v);
  g_autofree uint8_t *m = g_malloc0 ((gsize) N);
  gboolean any = FALSE;
  for (int64_t q = 0; q < N; q++)
    if (lv_volume_get_index (v, q) == organ)
      m[q] = 1, any = TRUE;
  if (!any)
    return;
  g_autofree uint8_t *tmp = g_malloc ((gsize) MAX (n[0], MAX (n[1], n[2])));
  const int64_t stride[3] = { 1, n[0], n[0] * n[1] };
  for (int a = 0; a < 3; a++)
    {
      double len = sqrt (v->affine[0][a] * v->affine[0][a] + v->affine[1][a] * v->affine[1][a]
                         + v->affine[2][a] * v->affine[2][a]);
      int64_t r = (int64_t) ceil (mm / MAX (len, 1e-3));
      int b = (a + 1) % 3, c = (a + 2) % 3;
      for (int64_t j = 0; j < n[c]; j++)
        for (int64_t i = 0; i < n[b]; i++)
          dilate_line (m + i * stride[b] + j * stride[c], n[a], stride[a], r, tmp);
    }
  for (int64_t q = 0; q < N; q++)
    if (m[q] && lv_volume_get_index (v, q) == 0)
      lv_volume_set_index (v, q, SUBJECT_UNKNOWN);
}

gboolean
train_subjects_add (TrainSubjects *s, LabelVolume *complete, const char *name, GError **error)
{
  if ((phantom_labels_present (complete) & 0x1ffeu) == 0)
    {
      g_set_error (error, TRAIN_DATA_ERROR, TRAIN_DATA_ERROR_INPUT, "%s: no organ of the 12 classes", name);
      lv_volume_free (complete);
      return FALSE;
    }
  if (!(phantom_labels_present (complete) & (1u << LT_PULMONARY_ARTERY)))
    mark_unknown_near (complete, LT_HEART, PA_REACH_MM);
  Subject sub = { complete };
  g_array_append_val (s->items, sub);
  return TRUE;
}

guint
train_subjects_get_n (const TrainSubjects *s)
{
  return s ? s->items->len : 0;
}

/* ---- random numbers (splitmix64) --------------------------------------- */

typedef struct {
  guint64 s;
} Rng;

static guint64
rng_next (Rng *r)
{
  guint64 z = (r->s += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

static double
rng_uniform (Rng *r, double lo, double hi)
{
  return lo + (hi - lo) * (double) (rng_next (r) >> 11) * (1.0 / 9007199254740992.0);
}

static double
rng_log_uniform (Rng *r, double lo, double hi)
{
  return exp (rng_uniform (r, log (lo), log (hi)));
}

static gboolean
rng_chance (Rng *r, double p)
{
  return rng_uniform (r, 0.0, 1.0) < p;
}

/* ---- the deformation: acquisition world w -> subject world s ------------ */

typedef struct {
  double centre[3];
  double M[3][3];                               /* s = centre + M (w - centre) + e(w) */
  double lo[3], step[3];                        /* elastic lattice over the body */
  float offset[ELASTIC_N][ELASTIC_N][ELASTIC_N][3];
} Deform;

static void
deform_init (Deform *d, Rng *r, const TrainAugmentOptions *o, const double lo[3], const double hi[3])
{
  double iso = 1.0 + rng_uniform (r, -o->scale, o->scale), S[3];
  for (int a = 0; a < 3; a++)
    {
      S[a] = iso * (1.0 + rng_uniform (r, -0.3 * o->scale, 0.3 * o->scale));
      d->centre[a] = 0.5 * (lo[a] + hi[a]);
      d->lo[a] = lo[a] - 20.0;
      d->step[a] = (hi[a] - lo[a] + 40.0) / (ELASTIC_N - 1);
    }
  double t[3];
  for (int a = 0; a < 3; a++)
    t[a] = rng_uniform (r, -o->rotate_deg, o->rotate_deg) * G_PI / 180.0;
  const double cx = cos (t[0]), sx = sin (t[0]), cy = cos (t[1]), sy = sin (t[1]), cz = cos (t[2]), sz = sin (t[2]);
  const double R[3][3] = {
    { cy * cz, cz * sx * sy - cx * sz, cx * cz * sy + sx * sz },
    { cy * sz, cx * cz + sx * sy * sz, cx * sy * sz - cz * sx },
    { -sy, cy * sx, cx * cy },
  };
  for (int i = 0; i < 3; i++)
    for (int j = 0; j < 3; j++)
      d->M[i][j] = R[i][j] * S[j];
  for (int i = 0; i < ELASTIC_N; i++)
    for (int j = 0; j < ELASTIC_N; j++)
      for (int k = 0; k < ELASTIC_N; k++)
        for (int a = 0; a < 3; a++)
          d->offset[i][j][k][a] = (float) rng_uniform (r, -o->elastic_mm, o->elastic_mm);
}

static void
deform_apply (const Deform *d, const double w[3], double s[3])
{
  int c0[3];
  double f[3];
  for (int a = 0; a < 3; a++)
    {
      double u = CLAMP ((w[a] - d->lo[a]) / d->step[a], 0.0, ELASTIC_N - 1.0);
      c0[a] = MIN ((int) u, ELASTIC_N - 2);
      f[a] = u - c0[a];
    }
  double e[3] = { 0, 0, 0 };
  for (int corner = 0; corner < 8; corner++)
    {
      int di = corner & 1, dj = (corner >> 1) & 1, dk = corner >> 2;
      double wt = (di ? f[0] : 1 - f[0]) * (dj ? f[1] : 1 - f[1]) * (dk ? f[2] : 1 - f[2]);
      const float *off = d->offset[c0[0] + di][c0[1] + dj][c0[2] + dk];
      for (int a = 0; a < 3; a++)
        e[a] += wt * off[a];
    }
  for (int a = 0; a < 3; a++)
    s[a] = d->centre[a] + d->M[a][0] * (w[0] - d->centre[0]) + d->M[a][1] * (w[1] - d->centre[1])
           + d->M[a][2] * (w[2] - d->centre[2]) + e[a];
}

/* ---- subject lookups ----------------------------------------------------- */

typedef struct {
  const LabelVolume *v;
  double inv[4][4];           /* world -> voxel index */
  double lo[3], hi[3];        /* world box of its labels */
} SubjectView;

static gboolean
subject_view_init (SubjectView *sv, const LabelVolume *v)
{
  const double(*A)[4] = v->affine;
  if (!lv_affine_invert (v->affine, sv->inv))
    return FALSE;
  sv->v = v;
  int64_t lo[3] = { G_MAXINT64, G_MAXINT64, G_MAXINT64 }, hi[3] = { -1, -1, -1 };
  int64_t idx = 0;
  for (int64_t k = 0; k < v->nz; k++)
    for (int64_t j = 0; j < v->ny; j++)
      for (int64_t i = 0; i < v->nx; i++, idx++)
        {
          int32_t l = lv_volume_get_index (v, idx);
          if (l <= 0 || l > LT_N_ORGANS)
            continue;
          const int64_t p[3] = { i, j, k };
          for (int a = 0; a < 3; a++)
            {
              lo[a] = MIN (lo[a], p[a]);
              hi[a] = MAX (hi[a], p[a]);
            }
        }
  if (hi[0] < 0)
    return FALSE;
  for (int a = 0; a < 3; a++)
    {
      sv->lo[a] = G_MAXDOUBLE;
      sv->hi[a] = -G_MAXDOUBLE;
    }
  for (int corner = 0; corner < 8; corner++)
    {
      double p[3] = { (double) ((corner & 1) ? hi[0] : lo[0]), (double) ((corner & 2) ? hi[1] : lo[1]),
                      (double) ((corner & 4) ? hi[2] : lo[2]) };
      for (int a = 0; a < 3; a++)
        {
          double w = A[a][0] * p[0] + A[a][1] * p[1] + A[a][2] * p[2] + A[a][3];
          sv->lo[a] = MIN (sv->lo[a], w);
          sv->hi[a] = MAX (sv->hi[a], w);
        }
    }
  return TRUE;
}

/* The subject's label at world point @s (nearest voxel; labels outside 0..12 count as
 * 0), -1 outside the subject's grid, -2 where it is SUBJECT_UNKNOWN. */
static int32_t
subject_label_at (const SubjectView *sv, const double s[3])
{
  int64_t q[3];
  const int64_t n[3] = { sv->v->nx, sv->v->ny, sv->v->nz };
  for (int a = 0; a < 3; a++)
    {
      double p = sv->inv[a][0] * s[0] + sv->inv[a][1] * s[1] + sv->inv[a][2] * s[2] + sv->inv[a][3];
      q[a] = (int64_t) floor (p + 0.5);
      if (q[a] < 0 || q[a] >= n[a])
        return -1;
    }
  int32_t l = lv_volume_get (sv->v, q[0], q[1], q[2]);
  if (l == SUBJECT_UNKNOWN)
    return -2;
  return l > 0 && l <= LT_N_ORGANS ? l : 0;
}

/* ---- the simulated acquisition ------------------------------------------ */

/* A field of view (one side trimmed or not, a slab or the whole torso with or without
 * neck and pelvis) within @lo..@hi (mm, changed) and its voxel size @vox. */
static void
pick_field_of_view (Rng *r, const TrainAugmentOptions *o, double lo[3], double hi[3], double vox[3])
{
  if (rng_chance (r, 0.2))   /* one side trimmed (arms, a narrow reconstruction) */
    {
      double cut = rng_uniform (r, 0.0, 0.15) * (hi[0] - lo[0]);
      if (rng_chance (r, 0.5))
        lo[0] += cut;
      else
        hi[0] -= cut;
    }
  double len = hi[2] - lo[2];
  if (rng_chance (r, o->p_slab) && len > o->slab_min_mm)
    {
      double L = rng_uniform (r, o->slab_min_mm, MIN (len, 350.0));
      double start = rng_uniform (r, lo[2] - 0.2 * L, hi[2] - 0.8 * L);
      lo[2] = start;
      hi[2] = start + L;
    }
  else
    {
      /* the whole torso, neck and pelvis cut off or not */
      if (rng_chance (r, 0.5))
        lo[2] += rng_uniform (r, 0.0, MIN (100.0, 0.25 * len));
      if (rng_chance (r, 0.5))
        hi[2] -= rng_uniform (r, 0.0, MIN (100.0, 0.25 * len));
    }
  double inplane = rng_log_uniform (r, o->voxel_min_mm, MIN (o->voxel_max_mm, 4.0));
  vox[0] = vox[1] = inplane;
  vox[2] = rng_log_uniform (r, o->voxel_min_mm, o->voxel_max_mm);
}

/* the voxel size of a clean acquisition: the benchmark's phantoms (128³ over 448 mm) */
#define CLEAN_VOXEL_MM 3.5

/* Field of view and voxel grid in the acquisition's world, filled from the subject; a
 * @clean one is the whole subject at CLEAN_VOXEL_MM. */
static LabelVolume *
acquire (const SubjectView *sv, const Deform *d, Rng *r, const TrainAugmentOptions *o, gboolean clean,
         GError **error)
{
  double lo[3], hi[3], vox[3];
  for (int a = 0; a < 3; a++)
    {
      lo[a] = sv->lo[a] - rng_uniform (r, 5.0, 30.0);
      hi[a] = sv->hi[a] + rng_uniform (r, 5.0, 30.0);
    }
  if (clean)
    for (int a = 0; a < 3; a++)
      vox[a] = CLEAN_VOXEL_MM;
  else
    pick_field_of_view (r, o, lo, hi, vox);
  int64_t n[3];
  for (;;)
    {
      for (int a = 0; a < 3; a++)
        {
          vox[a] = MAX (vox[a], TRAIN_AUGMENT_MIN_VOXEL_MM);
          n[a] = MAX (1, (int64_t) ceil ((hi[a] - lo[a]) / vox[a]));
        }
      if (n[0] * n[1] * n[2] <= MAX_ACQ_VOXELS)
        break;
      for (int a = 0; a < 3; a++)
        vox[a] *= 1.2;
    }
  LabelVolume *v = lv_volume_new (n[0], n[1], n[2], vox, 1, error);
  if (v == NULL)
    return NULL;
  /* random flips of the stored axes: the frame must undo them */
  double A[4][4] = { { 0 } };
  for (int a = 0; a < 3; a++)
    {
      gboolean flip = rng_chance (r, 0.3);
      A[a][a] = flip ? -vox[a] : vox[a];
      A[a][3] = flip ? lo[a] + (n[a] - 1) * vox[a] : lo[a];
    }
  A[3][3] = 1.0;
  lv_volume_set_affine (v, A);
  uint8_t *out = v->data;
  int64_t idx = 0;
  for (int64_t k = 0; k < n[2]; k++)
    for (int64_t j = 0; j < n[1]; j++)
      for (int64_t i = 0; i < n[0]; i++, idx++)
        {
          double w[3], s[3];
          for (int a = 0; a < 3; a++)
            w[a] = A[a][0] * i + A[a][1] * j + A[a][2] * k + A[a][3];
          deform_apply (d, w, s);
          out[idx] = (uint8_t) MAX (0, subject_label_at (sv, s));
        }
  return v;
}

/* Organs of the 12 classes present with at least @min_mm3. */
static guint32
present_mask (const LabelVolume *v, double min_mm3)
{
  int64_t count[LT_N_CLASSES] = { 0 };
  const uint8_t *d = v->data;
  for (int64_t q = 0, n = lv_volume_n_voxels (v); q < n; q++)
    if (d[q] <= LT_N_ORGANS)
      count[d[q]]++;
  double vox = lv_volume_voxel_mm3 (v);
  guint32 mask = 0;
  for (int c = 1; c < LT_N_CLASSES; c++)
    if (count[c] * vox >= min_mm3)
      mask |= 1u << c;
  return mask;
}

/* A ball of @radius_mm around voxel @centre: voxels whose label is @from (-1: any
 * non-background) become @to. */
static void
paint_ball (LabelVolume *v, const int64_t centre[3], double radius_mm, int from, int to)
{
  const int64_t n[3] = { v->nx, v->ny, v->nz };
  int64_t rad[3];
  for (int a = 0; a < 3; a++)
    rad[a] = (int64_t) floor (radius_mm / v->spacing[a]);
  uint8_t *d = v->data;
  for (int64_t k = MAX (0, centre[2] - rad[2]); k <= MIN (n[2] - 1, centre[2] + rad[2]); k++)
    for (int64_t j = MAX (0, centre[1] - rad[1]); j <= MIN (n[1] - 1, centre[1] + rad[1]); j++)
      for (int64_t i = MAX (0, centre[0] - rad[0]); i <= MIN (n[0] - 1, centre[0] + rad[0]); i++)
        {
          double dx = (i - centre[0]) * v->spacing[0], dy = (j - centre[1]) * v->spacing[1],
                 dz = (k - centre[2]) * v->spacing[2];
          if (dx * dx + dy * dy + dz * dz > radius_mm * radius_mm)
            continue;
          int64_t q = i + n[0] * (j + n[1] * k);
          if (from < 0 ? d[q] != 0 : d[q] == from)
            d[q] = (uint8_t) to;
        }
}

/* A random voxel labelled @label (-1: any organ), found by probing; FALSE if none found. */
static gboolean
random_voxel_of (const LabelVolume *v, Rng *r, int label, int64_t out[3], int *found)
{
  const uint8_t *d = v->data;
  const int64_t n = lv_volume_n_voxels (v);
  for (int attempt = 0; attempt < 400; attempt++)
    {
      int64_t q = (int64_t) (rng_next (r) % (guint64) n);
      if (d[q] == 0 || (label >= 0 && d[q] != label))
        continue;
      out[0] = q % v->nx;
      out[1] = (q / v->nx) % v->ny;
      out[2] = q / (v->nx * v->ny);
      *found = d[q];
      return TRUE;
    }
  return FALSE;
}

/* The faults of automatic segmentations, in place: ragged boundaries, holes, islands. */
static void
damage (LabelVolume *v, Rng *r, double noise)
{
  if (noise <= 0)
    return;
  const int64_t nx = v->nx, ny = v->ny, nz = v->nz, plane = nx * ny, n = plane * nz;
  uint8_t *d = v->data;
  g_autofree uint8_t *src = g_memdup2 (d, (gsize) n);
  const double p_edge = 0.12 * noise;
  /* boundary voxels take a neighbour's label now and then */
  for (int64_t k = 0; k < nz; k++)
    for (int64_t j = 0; j < ny; j++)
      for (int64_t i = 0; i < nx; i++)
        {
          int64_t q = i + nx * (j + ny * k);
          const int64_t nb[6] = { i > 0 ? q - 1 : -1, i < nx - 1 ? q + 1 : -1, j > 0 ? q - nx : -1,
                                  j < ny - 1 ? q + nx : -1, k > 0 ? q - plane : -1, k < nz - 1 ? q + plane : -1 };
          int pick = (int) (rng_next (r) % 6);
          if (nb[pick] < 0 || src[nb[pick]] == src[q])
            continue;
          if (rng_chance (r, p_edge))
            d[q] = src[nb[pick]];
        }
  int n_holes = (int) rng_uniform (r, 0.0, 10.0 * noise + 1.0);
  for (int h = 0; h < n_holes; h++)
    {
      int64_t c[3];
      int l;
      if (random_voxel_of (v, r, -1, c, &l))
        paint_ball (v, c, rng_uniform (r, 3.0, 8.0), l, 0);
    }
  int n_islands = (int) rng_uniform (r, 0.0, 6.0 * noise + 1.0);
  for (int s = 0; s < n_islands; s++)
    {
      int64_t c[3];
      int l;
      if (!random_voxel_of (v, r, -1, c, &l))
        continue;
      double dir[3], norm = 0;
      for (int a = 0; a < 3; a++)
        {
          dir[a] = rng_uniform (r, -1.0, 1.0);
          norm += dir[a] * dir[a];
        }
      norm = sqrt (MAX (norm, 1e-9));
      double dist = rng_uniform (r, 10.0, 40.0);
      int64_t at[3];
      const int64_t dims[3] = { nx, ny, nz };
      for (int a = 0; a < 3; a++)
        at[a] = CLAMP (c[a] + (int64_t) (dir[a] / norm * dist / v->spacing[a]), 0, dims[a] - 1);
      paint_ball (v, at, rng_uniform (r, 3.0, 7.0), 0, l);
    }
}

/* The classes a sparser source leaves unlabelled (bit L = class L), one of three kinds
 * drawn evenly: no autochthon muscles; no skeleton nor muscles; only the abdominal organs
 * (AMOS, BTCV and FLARE label spleen, stomach, pancreas, liver, kidneys and aorta). */
static guint32
sparse_source_mask (Rng *r)
{
  const guint32 muscles = 1u << LT_AUTOCHTHON;
  const guint32 skeleton = muscles | 1u << LT_SPINE | 1u << LT_RIB_CAGE;
  const guint32 abdomen = 1u << LT_SPLEEN | 1u << LT_STOMACH | 1u << LT_PANCREAS | 1u << LT_LIVER | 1u << LT_KIDNEY
                          | 1u << LT_AORTA;
  switch (rng_next (r) % 3)
    {
    case 0: return muscles;
    case 1: return skeleton;
    default: return ((1u << LT_N_CLASSES) - 2u) & ~abdomen;
    }
}

gboolean
train_augment_sample (const TrainSubjects *subjects, const TrainAugmentOptions *o, guint64 seed, guint64 index,
                      int subject, const int grid[3], double voxel_mm, int n_classes, float *input,
                      guint8 *target, guint8 *partial_out, guint32 *removed, GError **error)
{
  const int64_t N = (int64_t) grid[0] * grid[1] * grid[2];
  guint n_real = train_subjects_get_n (subjects);
  /* a draw that leaves nothing to place the cube by is drawn again */
  for (int attempt = 0; attempt < 8; attempt++)
    {
      Rng r = { phantom_derive_seed (seed ^ STREAM_AUGMENT, index * 8 + (guint64) attempt) };
      g_autoptr (LabelVolume) phantom = NULL;
      const LabelVolume *complete;
      gboolean clean = FALSE;
      if (subject >= 0 || (n_real > 0 && rng_chance (&r, o->p_real)))
        {
          guint i = subject >= 0 ? (guint) subject : (guint) (rng_next (&r) % n_real);
          complete = g_array_index (subjects->items, Subject, i).v;
        }
      else
        {
          /* drawn only when asked for, so that runs without it keep their samples */
          clean = o->p_clean > 0 && rng_chance (&r, o->p_clean);
          PhantomParams pp;
          phantom_params_init (&pp);
          pp.seed = rng_next (&r);
          for (int a = 0; a < 3; a++)
            {
              pp.grid[a] = 112;
              pp.spacing[a] = 4.0;
            }
          phantom = phantom_generate (&pp, error);
          if (phantom == NULL)
            return FALSE;
          complete = phantom;
        }
      SubjectView sv;
      if (!subject_view_init (&sv, complete))
        continue;
      TrainAugmentOptions undeformed = *o;
      undeformed.scale = undeformed.rotate_deg = undeformed.elastic_mm = 0.0;
      Deform d;
      deform_init (&d, &r, clean ? &undeformed : o, sv.lo, sv.hi);
      g_autoptr (LabelVolume) acq = acquire (&sv, &d, &r, o, clean, error);
      if (acq == NULL)
        return FALSE;
      guint32 gone = phantom_draw_removal (present_mask (acq, 2000.0) & PHANTOM_SOFT_ORGANS_MASK, rng_next (&r));
      /* drawn only when asked for, like the clean phantoms */
      guint32 unlabelled = o->p_sparse > 0 && rng_chance (&r, o->p_sparse) ? sparse_source_mask (&r) : 0;
      g_autoptr (LabelVolume) partial = phantom_remove_labels (acq, gone | unlabelled, error);
      if (partial == NULL)
        return FALSE;
      if (!clean)
        damage (partial, &r, o->noise);
      CompletionFrame f;
      if (!completion_frame_init (&f, partial, grid, voxel_mm, NULL, NULL))
        continue;
      completion_frame_sample_input (&f, partial, n_classes, input);
      /* the target: the undamaged subject at every cube voxel, through the same cube */
      double C2W[3][4];
      for (int a = 0; a < 3; a++)
        for (int b = 0; b < 4; b++)
          C2W[a][b] = acq->affine[a][0] * f.cube_to_input[0][b] + acq->affine[a][1] * f.cube_to_input[1][b]
                      + acq->affine[a][2] * f.cube_to_input[2][b] + (b == 3 ? acq->affine[a][3] : 0.0);
      int64_t q = 0;
      for (int z = 0; z < grid[2]; z++)
        for (int y = 0; y < grid[1]; y++)
          for (int x = 0; x < grid[0]; x++, q++)
            {
              double w[3], s[3];
              for (int a = 0; a < 3; a++)
                w[a] = C2W[a][0] * x + C2W[a][1] * y + C2W[a][2] * z + C2W[a][3];
              deform_apply (&d, w, s);
              /* a phantom is complete; beyond a real scan nothing is known */
              int32_t l = subject_label_at (&sv, s);
              if (l == -2)
                target[q] = NN_LOSS_BACKGROUND_OR;
              else
                target[q] = l < 0 ? (phantom ? 0 : NN_LOSS_IGNORE) : (guint8) (l < n_classes ? l : 0);
              if (partial_out)
                {
                  int lp = 0;
                  for (int c = 1; c < n_classes; c++)
                    if (input[(int64_t) c * N + q] > 0.5f)
                      lp = c;
                  partial_out[q] = (guint8) lp;
                }
            }
      if (removed)
        *removed = gone;
      return TRUE;
    }
  g_set_error (error, TRAIN_DATA_ERROR, TRAIN_DATA_ERROR_INPUT,
               "sample %" G_GUINT64_FORMAT ": no draw left an organ to place the cube by", index);
  return FALSE;
}
