/* phantom-paint.c: painting primitives into the label grid, and components.
 *
 * Each voxel samples its position through the subject's smooth random warp and
 * takes the label of the first organ whose shape contains it; an organ then
 * reserves a thin margin around itself that later organs may not claim.  After
 * painting, an organ keeps only its largest 6-connected component (one per side
 * for the paired lungs, kidneys and autochthon muscles).
 */
#include "phantom-private.h"
#include "label-table.h"

#include <string.h>

static inline float
zt_lookup (const Painter *P, const float *tab, float z)
{
  const Subject *S = P->S;
  float f = (z - S->zt0) / ZT_STEP;
  if (f <= 0)
    return tab[0];
  if (f >= S->zt_n - 1)
    return tab[S->zt_n - 1];
  int i = (int) f;
  float w = f - i;
  return tab[i] + w * (tab[i + 1] - tab[i]);
}

static inline float
dia_z (const Painter *P, float x, float y)
{
  float u = (x - P->cx0) * P->ia0, v = (y - P->cy0) * P->ib0;
  float ur = (u - P->u_r) * (1.0f / 0.62f), ul = (u + P->u_l) * (1.0f / 0.6f);
  float vr = (v - P->v_r) * (1.0f / 0.95f), vl = (v - P->v_l) * (1.0f / 0.95f);
  float dr = P->zr - P->d_r * ur * ur - P->d_ap * vr * vr;
  float dl = P->zl - P->d_l * ul * ul - P->d_ap * vl * vl;
  float d = dr > dl ? dr : dl;
  float p = -v - 0.1f;
  if (p > 0)
    d -= P->d_post * p * p;
  return d;
}

/* Approximate signed distance (mm) to the inside of the cage outline shrunk by @inset. */
static inline float
wall_dist (const Painter *P, float x, float y, float z, float inset)
{
  float a = zt_lookup (P, P->S->t_a, z) - inset, b = zt_lookup (P, P->S->t_b, z) - inset;
  if (a < 1.0f || b < 1.0f)
    return 1e6f;
  float dx = (x - zt_lookup (P, P->S->t_cx, z)) / a, dy = (y - zt_lookup (P, P->S->t_cy, z)) / b;
  float m = a < b ? a : b;
  if (dy < 0)
    {
      float ax = fabsf (dx), ay = -dy;
      return (ax * ax * ax + ay * ay * ay - 1.0f) * (1.0f / 3.0f) * m;
    }
  return (dx * dx + dy * dy - 1.0f) * 0.5f * m;
}

static inline float
seg_dist (const float a[3], const float b[3], float ra, float rb, float x, float y, float z)
{
  float ab[3] = { b[0] - a[0], b[1] - a[1], b[2] - a[2] };
  float ap[3] = { x - a[0], y - a[1], z - a[2] };
  float l2 = ab[0] * ab[0] + ab[1] * ab[1] + ab[2] * ab[2];
  float t = l2 > 0 ? (ap[0] * ab[0] + ap[1] * ab[1] + ap[2] * ab[2]) / l2 : 0;
  t = t < 0 ? 0 : t > 1 ? 1 : t;
  float d[3] = { ap[0] - t * ab[0], ap[1] - t * ab[1], ap[2] - t * ab[2] };
  return sqrtf (d[0] * d[0] + d[1] * d[1] + d[2] * d[2]) - (ra + t * (rb - ra));
}

/* Signed distance-like value of a primitive (negative inside), before clipping. */
static float
prim_shape (const Painter *P, const Prim *pr, float x, float y, float z)
{
  switch (pr->kind)
    {
    case P_CAPSULE:
      return seg_dist (pr->u.cap.a, pr->u.cap.b, pr->u.cap.ra, pr->u.cap.rb, x, y, z);

    case P_SQ:
      {
        const __typeof__ (pr->u.sq) *q = &pr->u.sq;
        float d[3] = { x - q->c[0], y - q->c[1], z - q->c[2] }, u[3];
        for (int a = 0; a < 3; a++)
          u[a] = (q->ax[a][0] * d[0] + q->ax[a][1] * d[1] + q->ax[a][2] * d[2]) * q->inv_r[a];
        float tf = 1.0f - q->taper * u[0];
        if (tf < 0.2f)
          tf = 0.2f;
        float u1 = (u[1] - q->bend * u[0] * u[0]) / tf, u2 = u[2] / tf;
        float f = sqrtf (u[0] * u[0] + u1 * u1 + u2 * u2);
        float n = 0;
        for (int m = 0; m < N_NOISE; m++)
          n += q->namp[m] * sinf (q->nw[m][0] * u[0] + q->nw[m][1] * u[1] + q->nw[m][2] * u[2]
                                  + q->nph[m]);
        return (f - 1.0f - n) * q->rmin;
      }

    case P_VBODY:
      {
        const __typeof__ (pr->u.vb) *q = &pr->u.vb;
        float d[3] = { x - q->c[0], y - q->c[1], z - q->c[2] };
        float h = d[0] * q->t[0] + d[1] * q->t[1] + d[2] * q->t[2];
        float rx = (d[0] * q->ex[0] + d[1] * q->ex[1] + d[2] * q->ex[2]) / q->ax;
        float ry = (d[0] * q->ey[0] + d[1] * q->ey[1] + d[2] * q->ey[2]) / q->ay;
        float dr = (sqrtf (rx * rx + ry * ry) - 1.0f) * (q->ax < q->ay ? q->ax : q->ay);
        float dh = fabsf (h) - q->hh;
        return dr > dh ? dr : dh;
      }

    case P_VRING:
      {
        const __typeof__ (pr->u.vr) *q = &pr->u.vr;
        float d[3] = { x - q->c[0], y - q->c[1], z - q->c[2] };
        float h = d[0] * q->t[0] + d[1] * q->t[1] + d[2] * q->t[2];
        float r[3] = { d[0] - h * q->t[0], d[1] - h * q->t[1], d[2] - h * q->t[2] };
        float rl = sqrtf (r[0] * r[0] + r[1] * r[1] + r[2] * r[2]);
        float v = rl - q->rout, w = q->rin - rl, dh = fabsf (h) - q->hh;
        float m = v > w ? v : w;
        return m > dh ? m : dh;
      }

    case P_STERNUM:
      {
        const __typeof__ (pr->u.st) *q = &pr->u.st;
        if (z > q->z1 + 10 || z < q->z0 - 10)
          return 10.0f;
        float cx = zt_lookup (P, P->S->t_cx, z);
        float cy = zt_lookup (P, P->S->t_cy, z) + zt_lookup (P, P->S->t_b, z) + 2.0f;
        float w;
        if (z > q->zsa)
          w = q->w_body + (q->w_top - q->w_body) * (z - q->zsa) / (q->z1 - q->zsa);
        else
          w = q->w_tip + (q->w_body - q->w_tip) * (z - q->z0) / (q->zsa - q->z0);
        float dx = (x - cx) / w, dy = (y - cy) / q->th;
        float dz = z > q->z1 ? z - q->z1 : z < q->z0 ? q->z0 - z : 0;
        float dd = (dx * dx * dx * dx + dy * dy - 1.0f) * 0.5f * q->th;
        return dd > dz ? dd : dz;
      }

    case P_LUNGS:
      {
        const __typeof__ (pr->u.lu) *q = &pr->u.lu;
        float sx = zt_lookup (P, P->S->t_sx, z), sy = zt_lookup (P, P->S->t_sy, z);
        float mid = q->mid;
        /* the superior mediastinum in front of the spine is wider */
        if (y > sy + 15.0f && z > q->z_ant)
          {
            float f = (z - q->z_ant) * (1.0f / 30.0f), g = (y - sy - 15.0f) * (1.0f / 25.0f);
            mid += q->extra * (f < 1 ? f : 1) * (g < 1 ? g : 1);
          }
        float d = mid - fabsf (x - sx);
        /* one apex dome per lung */
        float ax = (fabsf (x - q->cx) - q->xa) / q->wa, ay = (y - q->ya) / q->wb;
        float dt = z - (q->z_apex - q->h * (ax * ax + ay * ay));
        d = d > dt ? d : dt;
        /* front and back a little further from the cage than the sides (sternum and costal
         * cartilages in front, rib angles and paravertebral gutters behind) */
        float dap = fabsf (y - zt_lookup (P, P->S->t_cy, z)) - (zt_lookup (P, P->S->t_b, z) - q->ap_inset);
        return d > dap ? d : dap;
      }

    case P_LIVER:
      {
        const __typeof__ (pr->u.li) *q = &pr->u.li;
        float u = (x - P->cx0) * P->ia0, v = (y - P->cy0) * P->ib0;
        /* the floor: deepest on the right, rising to the left tip, a little
         * deeper in front than behind, where the right kidney lies under it
         * (v_tilt < 0 on average) */
        float t = (u - q->u_tip) / (0.35f - q->u_tip);
        t = t < 0 ? 0 : t > 1 ? 1 : t;
        /* the left lobe keeps some thickness until near its tip (concave in t) */
        t = t * (1.6f - 0.6f * t);
        float n = 0;
        for (int m = 0; m < N_NOISE; m++)
          n += q->namp[m] * sinf (q->nw[m][0] * u + q->nw[m][1] * v + q->nph[m]);
        float lat = u < 0 ? 0 : u > 0.75f ? 1 : u * (1.0f / 0.75f);
        /* deepest laterally (the right lobe's inferior tip) */
        float depth = q->thick * t * (0.55f + 0.55f * lat * lat) * (1.0f - q->v_tilt * v) * (1.0f + n);
        float d = (P->zr - depth) - z;
        /* kept off the front and back walls (abdominal wall in front; lung recess, crura,
         * cava and kidney behind) */
        float dv = (fabsf (v) - 0.9f) / P->ib0;
        d = d > dv ? d : dv;
        /* the left lobe lies in front of the stomach */
        if (u < 0.1f)
          {
            float vmin = -0.55f + 1.3f * (0.1f - u);
            float dl = (vmin - v) * 80.0f;
            d = d > dl ? d : dl;
          }
        /* no liver behind the caval / aortic region next to the spine */
        float sx = zt_lookup (P, P->S->t_sx, z), sy = zt_lookup (P, P->S->t_sy, z);
        float a1 = 30.0f - fabsf (x - sx - 4.0f), a2 = sy + 40.0f - y;
        float dr = a1 < a2 ? a1 : a2;
        return d > dr ? d : dr;
      }

    case P_MUSCLE:
      {
        const __typeof__ (pr->u.mu) *q = &pr->u.mu;
        const Subject *S = P->S;
        float sx = zt_lookup (P, S->t_sx, z), sy = zt_lookup (P, S->t_sy, z);
        /* thoracic (T7 and above) -> lumbar (L2 and below) blend */
        float f = (float) ((S->zc[T_ (7)] - z) / (S->zc[T_ (7)] - S->zc[L_ (2)]));
        f = f < 0 ? 0 : f > 1 ? 1 : f;
        float ox = q->off_t[0] + f * (q->off_l[0] - q->off_t[0]);
        float oy = q->off_t[1] + f * (q->off_l[1] - q->off_t[1]);
        float rx = q->r_t[0] + f * (q->r_l[0] - q->r_t[0]);
        float ry = q->r_t[1] + f * (q->r_l[1] - q->r_t[1]);
        float dx = (x - (sx + q->side * ox)) / rx, dy = (y - (sy - oy)) / ry;
        float m = rx < ry ? rx : ry;
        float d = (sqrtf (dx * dx + dy * dy) - 1.0f) * m;
        float dt = z - q->z_top;
        return d > dt ? d : dt;
      }
    }
  return 1e6f;
}

static inline float
prim_dist (const Painter *P, const Prim *pr, float x, float y, float z, float limit)
{
  float d = prim_shape (P, pr, x, y, z);
  if (d >= limit)
    return d;
  if (pr->clip & CLIP_ABOVE_DIA)
    {
      float c = dia_z (P, x, y) + pr->clip_gap - z;
      d = d > c ? d : c;
    }
  if (pr->clip & CLIP_BELOW_DIA)
    {
      float c = z - (dia_z (P, x, y) - pr->clip_gap);
      d = d > c ? d : c;
    }
  if ((pr->clip & CLIP_WALL) && d < limit)
    {
      float c = wall_dist (P, x, y, z, pr->wall_inset);
      d = d > c ? d : c;
    }
  return d;
}

/* Paint one primitive: label where inside and free (phase 0), or reserve free
 * voxels within @margin mm (phase 1). */
static void
paint_prim (Painter *P, const Prim *pr, uint8_t label, int phase, float margin)
{
  float limit = phase == 0 ? 0.0f : margin;
  int lo[3], hi[3];
  int dims[3] = { P->nx, P->ny, P->nz };
  for (int a = 0; a < 3; a++)
    {
      /* a voxel's sample point moves by at most warp_max[a] along axis a */
      float pad = limit + P->warp_max[a] + 1.0f;
      lo[a] = (int) floorf ((pr->bb[2 * a] - pad - P->org[a]) / P->sp[a]);
      hi[a] = (int) ceilf ((pr->bb[2 * a + 1] + pad - P->org[a]) / P->sp[a]);
      lo[a] = MAX (lo[a], 0);
      hi[a] = MIN (hi[a], dims[a] - 1);
      if (lo[a] > hi[a])
        return;
    }
  float yz[3][3];
  for (int k = lo[2]; k <= hi[2]; k++)
    for (int j = lo[1]; j <= hi[1]; j++)
      {
        for (int c = 0; c < 3; c++)
          for (int m = 0; m < P->n_warp; m++)
            yz[c][m] = P->warp_amp[c][m] * P->wy[c][m][j] * P->wz[c][m][k];
        float by = P->org[1] + j * P->sp[1], bz = P->org[2] + k * P->sp[2];
        uint8_t *row = P->lab + ((size_t) k * P->ny + j) * P->nx;
        for (int i = lo[0]; i <= hi[0]; i++)
          {
            uint8_t cur = row[i];
            if (cur != 0)
              continue;
            float w[3] = { 0, 0, 0 };
            for (int c = 0; c < 3; c++)
              for (int m = 0; m < P->n_warp; m++)
                w[c] += yz[c][m] * P->wx[c][m][i];
            float x = P->org[0] + i * P->sp[0] + w[0];
            float d = prim_dist (P, pr, x, by + w[1], bz + w[2], limit);
            if (d < limit)
              row[i] = phase == 0 ? label : RESERVED;
          }
      }
}


/* ------------------------------------------------------------------------- */
/* Warp                                                                       */

void
ph_painter_warp (Painter *P, Subject *S)
{
  P->n_warp = 3;
  int dims[3] = { P->nx, P->ny, P->nz };
  float amp_total = (float) (S->var * (2.0 + 3.0 * rng_uniform (&S->rng)) * S->s);
  for (int c = 0; c < 3; c++)
    {
      float sum = 0;
      for (int m = 0; m < P->n_warp; m++)
        {
          float *tabs[3];
          for (int a = 0; a < 3; a++)
            {
              double wl = 250.0 + 350.0 * rng_uniform (&S->rng);
              double ph = 2 * G_PI * rng_uniform (&S->rng);
              float *t = g_new (float, dims[a]);
              for (int i = 0; i < dims[a]; i++)
                t[i] = (float) sin (2 * G_PI * (P->org[a] + i * P->sp[a]) / wl + ph);
              tabs[a] = t;
            }
          P->wx[c][m] = tabs[0];
          P->wy[c][m] = tabs[1];
          P->wz[c][m] = tabs[2];
          P->warp_amp[c][m] = amp_total * (float) (0.5 + 0.5 * rng_uniform (&S->rng));
          sum += fabsf (P->warp_amp[c][m]);
        }
      P->warp_max[c] = sum;
    }
}

void
ph_painter_clear (Painter *P)
{
  for (int c = 0; c < 3; c++)
    for (int m = 0; m < P->n_warp; m++)
      {
        g_free (P->wx[c][m]);
        g_free (P->wy[c][m]);
        g_free (P->wz[c][m]);
      }
}

/* ------------------------------------------------------------------------- */
/* Connectivity                                                               */

/* Keep the largest 6-connected component of @label; for the paired organs
 * (lung, kidney, autochthon) the largest on each side of @mid_x (world x of
 * the midline), judged by component centroid.  Spine and rib cage are left
 * alone.  lab is (nz, ny, nx). */
static void
keep_main_components (uint8_t *lab, int nx, int ny, int nz, const float org[3],
                      const float sp[3], float mid_x, uint8_t label)
{
  if (label == LT_SPINE || label == LT_RIB_CAGE)
    return;
  size_t n = (size_t) nx * ny * nz;
  int32_t *comp = g_new0 (int32_t, n);
  GArray *queue = g_array_new (FALSE, FALSE, sizeof (guint32));
  GArray *sizes = g_array_new (FALSE, FALSE, sizeof (gint64));
  GArray *labels = g_array_new (FALSE, FALSE, sizeof (uint8_t));
  GArray *sides = g_array_new (FALSE, FALSE, sizeof (int8_t));
  gint64 zero = 0;
  uint8_t z8 = 0;
  int8_t s8 = 0;

  /* component 0 = none */
  g_array_append_val (sizes, zero);
  g_array_append_val (labels, z8);
  g_array_append_val (sides, s8);

  for (size_t v = 0; v < n; v++)
    {
      uint8_t l = lab[v];
      if (l != label || comp[v] != 0)
        continue;
      int32_t id = (int32_t) sizes->len;
      gint64 count = 0;
      double sum_x = 0;
      g_array_set_size (queue, 0);
      guint32 v32 = (guint32) v;
      g_array_append_val (queue, v32);
      comp[v] = id;
      for (guint q = 0; q < queue->len; q++)
        {
          guint32 w = g_array_index (queue, guint32, q);
          int i = (int) (w % nx), j = (int) ((w / nx) % ny), k = (int) (w / ((size_t) nx * ny));
          count++;
          sum_x += i;
          guint32 nb[6];
          int m = 0;
          if (i > 0) nb[m++] = w - 1;
          if (i + 1 < nx) nb[m++] = w + 1;
          if (j > 0) nb[m++] = w - nx;
          if (j + 1 < ny) nb[m++] = w + nx;
          if (k > 0) nb[m++] = w - (guint32) (nx * ny);
          if (k + 1 < nz) nb[m++] = w + (guint32) (nx * ny);
          for (int a = 0; a < m; a++)
            if (lab[nb[a]] == l && comp[nb[a]] == 0)
              {
                comp[nb[a]] = id;
                g_array_append_val (queue, nb[a]);
              }
        }
      int8_t side = (org[0] + sp[0] * (sum_x / count)) >= mid_x ? 1 : 0;
      g_array_append_val (sizes, count);
      g_array_append_val (labels, l);
      g_array_append_val (sides, side);
    }

  /* best component per (label, side) */
  gint64 best_size[LT_N_CLASSES][2];
  int32_t best_id[LT_N_CLASSES][2];
  memset (best_size, 0, sizeof best_size);
  memset (best_id, 0, sizeof best_id);
  for (guint c = 1; c < sizes->len; c++)
    {
      uint8_t l = g_array_index (labels, uint8_t, c);
      gboolean paired = l == LT_LUNG || l == LT_KIDNEY || l == LT_AUTOCHTHON;
      int sd = paired ? g_array_index (sides, int8_t, c) : 0;
      gint64 sz = g_array_index (sizes, gint64, c);
      if (l < LT_N_CLASSES && sz > best_size[l][sd])
        {
          best_size[l][sd] = sz;
          best_id[l][sd] = (int32_t) c;
        }
    }
  for (size_t v = 0; v < n; v++)
    {
      int32_t c = comp[v];
      if (c == 0)
        continue;
      uint8_t l = lab[v];
      if (c != best_id[l][0] && c != best_id[l][1])
        lab[v] = 0;
    }
  g_array_unref (queue);
  g_array_unref (sizes);
  g_array_unref (labels);
  g_array_unref (sides);
  g_free (comp);
}


/* Paint an organ's voxels, keep its main component(s), then reserve its margin. */
void
ph_paint_organ (Painter *P, Organ *o)
{
  for (guint i = 0; i < o->prims->len; i++)
    paint_prim (P, &g_array_index (o->prims, Prim, i), o->label, 0, 0);
  keep_main_components (P->lab, P->nx, P->ny, P->nz, P->org, P->sp, (float) P->S->offx, o->label);
  if (o->margin > 0)
    for (guint i = 0; i < o->prims->len; i++)
      paint_prim (P, &g_array_index (o->prims, Prim, i), o->label, 1, o->margin);
}

