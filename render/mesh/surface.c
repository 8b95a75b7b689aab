/* surface.c: multi-label (discrete) marching cubes in one pass over the volume.
 *
 * The volume is virtually padded with background (voxels -1 and n along each axis), so
 * every surface is closed.  A vertex sits at the midpoint of every grid edge whose two
 * voxels differ (and one of them is a requested label): it is shared by the surfaces of
 * both labels, so neighbouring organs meet exactly.  Cells whose 8 corners are equal are
 * skipped; in the others each distinct requested label gets the triangles of its case
 * (corner == label), tagged with the label.
 *
 * Parallel scheme: the z range is cut into slabs of cell layers, handed out to threads.
 * A slab owns the vertices of its layers (x and y edges of layer k, then z edges from k to
 * k+1, each in row order) and numbers them locally; for the x/y edges of the first layer
 * of the next slab it makes copies, numbered in the same order as the next slab numbers
 * them, and tagged with COPY_BIT.  Concatenation then maps local numbers to global ones
 * with two offsets, so no vertex is ever duplicated and no hash is needed.
 *
 * surface_extract_box() runs the same pass on a box of the volume; surface-update.c uses
 * it to rebuild only the labels that changed.
 */
#include "mesh-private.h"

#include <math.h>
#include <string.h>

#define COPY_BIT 0x80000000u

typedef struct {
  int64_t k0, k1;               /* cell layers [k0, k1) in subgrid coordinates */
  uint64_t *vkey;               /* (nv) */
  int32_t *vlab;                /* (nv, 2) labels at the low and high end of the edge */
  float *vvox;                  /* (nv, 3) voxel coordinates of the edge midpoint */
  uint32_t nv, cap_v, n_copy;
  uint32_t *tri;                /* (nt, 3) local ids, maybe COPY_BIT tagged */
  int32_t *tlab;                /* (nt) */
  uint64_t nt, cap_t;
  gboolean too_large;
  uint32_t *lcount;             /* (65536) triangles per label when labels are < 65536 */
  GArray *labels;               /* distinct labels of this slab's triangles */
  uint64_t *count;              /* (n_slots) triangles per label slot, then scatter cursors */
} Slab;

typedef struct {
  const LabelVolume *v;
  int64_t dims[3];
  int64_t g0[3];                /* volume voxel of subgrid voxel (0,0,0); may be -1 */
  int64_t W, H, D;              /* subgrid size in voxels */
  const int32_t *want;          /* sorted; NULL: every non-zero label */
  guint n_want;
  const McTables *t;
  Slab *slabs;
  guint n_slabs;
  GCancellable *cancellable;
  volatile gint cancelled;
} Extract;

static inline gboolean
wanted (const Extract *x, int32_t l)
{
  if (l == 0)
    return FALSE;
  if (x->want == NULL)
    return TRUE;
  guint lo = 0, hi = x->n_want;
  while (lo < hi)
    {
      guint mid = (lo + hi) / 2;
      if (x->want[mid] < l)
        lo = mid + 1;
      else
        hi = mid;
    }
  return lo < x->n_want && x->want[lo] == l;
}

/* Load subgrid layer @kk into lab (H, W), zero outside the volume. */
static void
load_layer (const Extract *x, int64_t kk, int32_t *lab)
{
  const LabelVolume *v = x->v;
  int64_t k = x->g0[2] + kk;
  if (k < 0 || k >= x->dims[2])
    {
      memset (lab, 0, sizeof (int32_t) * (size_t) (x->W * x->H));
      return;
    }
  int64_t ia = MAX (x->g0[0], 0), ib = MIN (x->g0[0] + x->W, x->dims[0]);  /* volume i range */
  for (int64_t jj = 0; jj < x->H; jj++)
    {
      int32_t *row = lab + jj * x->W;
      int64_t j = x->g0[1] + jj;
      if (j < 0 || j >= x->dims[1] || ia >= ib)
        {
          memset (row, 0, sizeof (int32_t) * (size_t) x->W);
          continue;
        }
      int64_t off = ia - x->g0[0], n = ib - ia;
      if (off > 0)
        memset (row, 0, sizeof (int32_t) * (size_t) off);
      if (off + n < x->W)
        memset (row + off + n, 0, sizeof (int32_t) * (size_t) (x->W - off - n));
      int64_t src = ia + x->dims[0] * (j + x->dims[1] * k);
      int32_t *dst = row + off;
      switch (v->bytes_per_voxel)
        {
        case 1:
          {
            const uint8_t *s = (const uint8_t *) v->data + src;
            for (int64_t i = 0; i < n; i++)
              dst[i] = s[i];
          }
          break;
        case 2:
          {
            const uint16_t *s = (const uint16_t *) v->data + src;
            for (int64_t i = 0; i < n; i++)
              dst[i] = s[i];
          }
          break;
        default:
          memcpy (dst, (const int32_t *) v->data + src, sizeof (int32_t) * (size_t) n);
          break;
        }
    }
}

/* Nonzero when a[i] != b[i] for some i < n (branch-free, vectorisable). */
static inline int32_t
any_diff (const int32_t *restrict a, const int32_t *restrict b, int64_t n)
{
  int32_t acc = 0;
  for (int64_t i = 0; i < n; i++)
    acc |= a[i] ^ b[i];
  return acc;
}

static inline gboolean
push_vertex (const Extract *x, Slab *s, int64_t ii, int64_t jj, int64_t kk, int axis,
             int32_t la, int32_t lb, uint32_t *id_out)
{
  if (G_UNLIKELY (s->nv + s->n_copy >= s->cap_v))
    {
      if (s->cap_v >= (1u << 29))
        {
          s->too_large = TRUE;
          return FALSE;
        }
      s->cap_v = MAX (s->cap_v * 2, 4096);
      s->vkey = g_realloc_n (s->vkey, s->cap_v, sizeof (uint64_t));
      s->vlab = g_realloc_n (s->vlab, s->cap_v, 2 * sizeof (int32_t));
      s->vvox = g_realloc_n (s->vvox, s->cap_v, 3 * sizeof (float));
    }
  *id_out = s->nv << 1;
  int64_t i = x->g0[0] + ii, j = x->g0[1] + jj, k = x->g0[2] + kk;
  s->vkey[s->nv] = mesh_edge_key (x->dims, i, j, k, axis);
  float *p = s->vvox + 3 * (gsize) s->nv;
  p[0] = (float) i + (axis == 0 ? 0.5f : 0.0f);
  p[1] = (float) j + (axis == 1 ? 0.5f : 0.0f);
  p[2] = (float) k + (axis == 2 ? 0.5f : 0.0f);
  s->vlab[2 * s->nv] = la;
  s->vlab[2 * s->nv + 1] = lb;
  s->nv++;
  return TRUE;
}


/* Vertices on the x and y edges of subgrid layer kk (labels lab).  With @copy, only
 * numbers them (COPY_BIT-tagged, in the same order) without storing vertices. */
static void
make_xy (const Extract *x, Slab *s, int64_t kk, const int32_t *lab,
         uint32_t *idx, uint32_t *idy, uint8_t *flag, gboolean copy)
{
  const int64_t W = x->W, H = x->H;
  for (int64_t jj = 0; jj < H; jj++)
    {
      const int32_t *row = lab + jj * W;
      int32_t dx = any_diff (row, row + 1, W - 1);
      int32_t dy = jj + 1 < H ? any_diff (row, row + W, W) : 0;
      flag[jj] = (dx | dy) != 0;
      if (!flag[jj])
        continue;
      for (int64_t ii = 0; ii < W; ii++)
        {
          int32_t a = row[ii];
          if (ii + 1 < W && a != row[ii + 1] && (wanted (x, a) || wanted (x, row[ii + 1])))
            {
              if (copy)
                idx[jj * W + ii] = COPY_BIT | (s->n_copy++ << 1);
              else if (!push_vertex (x, s, ii, jj, kk, 0, a, row[ii + 1], &idx[jj * W + ii]))
                return;
            }
          if (jj + 1 < H && a != row[ii + W] && (wanted (x, a) || wanted (x, row[ii + W])))
            {
              if (copy)
                idy[jj * W + ii] = COPY_BIT | (s->n_copy++ << 1);
              else if (!push_vertex (x, s, ii, jj, kk, 1, a, row[ii + W], &idy[jj * W + ii]))
                return;
            }
        }
    }
}

/* Vertices on the z edges from layer kk (lab) to kk+1 (up). */
static void
make_z (const Extract *x, Slab *s, int64_t kk, const int32_t *lab, const int32_t *up,
        uint32_t *idz, uint8_t *flag)
{
  const int64_t W = x->W, H = x->H;
  for (int64_t jj = 0; jj < H; jj++)
    {
      const int32_t *row = lab + jj * W, *urow = up + jj * W;
      flag[jj] = any_diff (row, urow, W) != 0;
      if (!flag[jj])
        continue;
      for (int64_t ii = 0; ii < W; ii++)
        if (row[ii] != urow[ii] && (wanted (x, row[ii]) || wanted (x, urow[ii])))
          if (!push_vertex (x, s, ii, jj, kk, 2, row[ii], urow[ii], &idz[jj * W + ii]))
            return;
    }
}

static inline gboolean
push_tri (Slab *s, uint32_t a, uint32_t b, uint32_t c, int32_t label)
{
  if (G_UNLIKELY (s->nt >= s->cap_t))
    {
      s->cap_t = MAX (s->cap_t * 2, 8192);
      s->tri = g_realloc_n (s->tri, s->cap_t, 3 * sizeof (uint32_t));
      s->tlab = g_realloc_n (s->tlab, s->cap_t, sizeof (int32_t));
    }
  uint32_t *t = s->tri + 3 * s->nt;
  t[0] = a;
  t[1] = b;
  t[2] = c;
  s->tlab[s->nt] = label;
  s->nt++;
  return TRUE;
}

static void
slab_task (int64_t task_, int thread, void *data)
{
  guint task = (guint) task_;
  Extract *x = data;
  Slab *s = &x->slabs[task];
  const McTables *t = x->t;
  const int64_t W = x->W, H = x->H, P2 = W * H;
  int32_t *lab[2];
  uint32_t *idx[2], *idy[2], *idz;
  uint8_t *fxy[2], *fz;

  lab[0] = g_new (int32_t, 2 * P2);
  lab[1] = lab[0] + P2;
  idx[0] = g_new (uint32_t, 5 * P2);
  idx[1] = idx[0] + P2;
  idy[0] = idx[1] + P2;
  idy[1] = idy[0] + P2;
  idz = idy[1] + P2;
  fxy[0] = g_new0 (uint8_t, 3 * H);
  fxy[1] = fxy[0] + H;
  fz = fxy[1] + H;

  uint32_t *lcount = NULL;
  if (x->v->bytes_per_voxel <= 2)
    lcount = s->lcount = g_new0 (uint32_t, 65536);

  load_layer (x, s->k0, lab[0]);
  make_xy (x, s, s->k0, lab[0], idx[0], idy[0], fxy[0], FALSE);

  for (int64_t kk = s->k0; kk < s->k1 && !s->too_large; kk++)
    {
      if (x->cancellable && ((kk - s->k0) & 7) == 0 && g_cancellable_is_cancelled (x->cancellable))
        {
          g_atomic_int_set (&x->cancelled, 1);
          break;
        }
      int p = (int) ((kk - s->k0) & 1), q = 1 - p;
      const int32_t *A = lab[p];
      int32_t *B = lab[q];
      load_layer (x, kk + 1, B);
      make_z (x, s, kk, A, B, idz, fz);
      make_xy (x, s, kk + 1, B, idx[q], idy[q], fxy[q], kk + 1 == s->k1);
      if (s->too_large)
        break;

      /* edge -> (id array, offset from the cell's base index) */
      const uint32_t *earr[12];
      int64_t edelta[12];
      for (int e = 0; e < 12; e++)
        {
          int axis = e / 4, o = e % 4, b0 = o & 1, b1 = (o >> 1) & 1;
          if (axis == 0)       /* o = y | z << 1 */
            {
              earr[e] = b1 ? idx[q] : idx[p];
              edelta[e] = b0 * W;
            }
          else if (axis == 1)  /* o = x | z << 1 */
            {
              earr[e] = b1 ? idy[q] : idy[p];
              edelta[e] = b0;
            }
          else                 /* o = x | y << 1 */
            {
              earr[e] = idz;
              edelta[e] = b0 + b1 * W;
            }
        }

      for (int64_t jj = 0; jj + 1 < H; jj++)
        {
          if (!(fxy[p][jj] | fxy[p][jj + 1] | fxy[q][jj] | fxy[q][jj + 1] | fz[jj] | fz[jj + 1]))
            continue;
          const int32_t *r0 = A + jj * W, *r1 = r0 + W, *r2 = B + jj * W, *r3 = r2 + W;
          for (int64_t ii = 0; ii + 1 < W; ii++)
            {
              int32_t c[8] = { r0[ii], r0[ii + 1], r1[ii], r1[ii + 1],
                               r2[ii], r2[ii + 1], r3[ii], r3[ii + 1] };
              int32_t d = (c[0] ^ c[1]) | (c[0] ^ c[2]) | (c[0] ^ c[3]) | (c[0] ^ c[4])
                          | (c[0] ^ c[5]) | (c[0] ^ c[6]) | (c[0] ^ c[7]);
              if (d == 0)
                continue;
              int64_t base = jj * W + ii;
              unsigned done = 0;
              for (int ci = 0; ci < 8; ci++)
                {
                  if (done & (1u << ci))
                    continue;
                  int32_t l = c[ci];
                  unsigned mask = 0;
                  for (int cj = ci; cj < 8; cj++)
                    mask |= (unsigned) (c[cj] == l) << cj;
                  done |= mask;
                  if (!wanted (x, l))
                    continue;
                  if (lcount)
                    lcount[l] += t->n_tris[mask];
                  /* vertex ids are stored as id << 1; bit 0 tells which end of the
                   * edge holds the label (0: the low corner) */
                  const uint8_t *tt = t->tris[mask];
                  for (int n = 0; n < t->n_tris[mask]; n++, tt += 3)
                    push_tri (s,
                              earr[tt[0]][base + edelta[tt[0]]] | (~mask >> t->edge_corner[tt[0]][0] & 1),
                              earr[tt[1]][base + edelta[tt[1]]] | (~mask >> t->edge_corner[tt[1]][0] & 1),
                              earr[tt[2]][base + edelta[tt[2]]] | (~mask >> t->edge_corner[tt[2]][0] & 1), l);
                }
            }
        }
    }

  g_free (lab[0]);
  g_free (idx[0]);
  g_free (fxy[0]);
}

static void
slab_clear (Slab *s)
{
  g_free (s->vkey);
  g_free (s->vlab);
  g_free (s->vvox);
  g_free (s->tri);
  g_free (s->tlab);
  g_free (s->lcount);
  g_free (s->count);
  if (s->labels)
    g_array_free (s->labels, TRUE);
}

/* ---- assembly: global arrays -> per-label meshes ---- */

typedef struct {
  Extract *x;
  const double (*affine)[4];
  gboolean flip;
  /* global */
  float *pos;         /* (nv, 3) world, only when smoothing or pinning; else NULL */
  uint32_t nv;
  uint32_t *tri;      /* (nt, 3) global id << 1 | side, grouped by label slot */
  uint64_t nt;
  uint32_t *slab_voff;
  /* per label */
  int32_t *labels;    /* (n_slots) sorted */
  guint n_slots;
  uint64_t *slot_first; /* (n_slots + 1) into tri */
  uint32_t *loc;      /* (nv, 2) local id per vertex and side */
  uint32_t *slot_table; /* (65536) label -> slot when labels are < 65536, else NULL */
  SurfaceMesh **meshes;
  const SurfaceSet *pins;
  uint8_t *fixed;     /* (nv) or NULL */
} Assemble;

/* Distinct labels of a slab's triangles (when no bitmap was kept). */
static void
labels_task (int64_t task_, int thread, void *data)
{
  guint task = (guint) task_;
  Assemble *a = data;
  Slab *s = &a->x->slabs[task];
  s->labels = g_array_new (FALSE, FALSE, sizeof (int32_t));
  g_autoptr (GHashTable) seen = g_hash_table_new (g_direct_hash, g_direct_equal);
  int32_t last = 0;
  for (uint64_t i = 0; i < s->nt; i++)
    {
      int32_t l = s->tlab[i];
      if ((i > 0 && l == last) || g_hash_table_contains (seen, GINT_TO_POINTER (l)))
        continue;
      last = l;
      g_hash_table_add (seen, GINT_TO_POINTER (l));
      g_array_append_val (s->labels, l);
    }
}

/* Triangles per label slot in a slab. */
static void
count_task (int64_t task_, int thread, void *data)
{
  guint task = (guint) task_;
  Assemble *a = data;
  Slab *s = &a->x->slabs[task];
  s->count = g_new0 (uint64_t, MAX (a->n_slots, 1));
  int32_t last = 0;
  guint slot = 0;
  for (uint64_t i = 0; i < s->nt; i++)
    {
      if (i == 0 || s->tlab[i] != last)
        {
          last = s->tlab[i];
          slot = mesh_lower_bound (a->labels, a->n_slots, last);
        }
      s->count[slot]++;
    }
}

/* Copy a slab's vertices into the global arrays and scatter its triangles, with global
 * ids, to their label's range. */
static void
concat_task (int64_t task_, int thread, void *data)
{
  guint task = (guint) task_;
  Assemble *a = data;
  Slab *s = &a->x->slabs[task];
  uint32_t voff = a->slab_voff[task];
  uint32_t next_off = task + 1 < a->x->n_slabs ? a->slab_voff[task + 1] : 0;
  g_assert (s->n_copy == 0 || task + 1 < a->x->n_slabs);
  if (a->pos)   /* global world positions, for smoothing */
    {
      const double (*A)[4] = a->affine;
      for (uint32_t i = 0; i < s->nv; i++)
        {
          const float *q = s->vvox + 3 * (gsize) i;
          float *o = a->pos + 3 * (uint64_t) (voff + i);
          for (int r = 0; r < 3; r++)
            o[r] = (float) (A[r][0] * q[0] + A[r][1] * q[1] + A[r][2] * q[2] + A[r][3]);
        }
    }
  int32_t last = 0;
  guint slot = 0;
  for (uint64_t i = 0; i < s->nt; i++)
    {
      if (a->slot_table)
        slot = a->slot_table[s->tlab[i]];
      else if (i == 0 || s->tlab[i] != last)
        {
          last = s->tlab[i];
          slot = mesh_lower_bound (a->labels, a->n_slots, last);
        }
      uint32_t *dst = a->tri + 3 * s->count[slot]++;
      const uint32_t *src = s->tri + 3 * i;
      for (int c = 0; c < 3; c++)
        {
          uint32_t id = src[c];
          uint32_t g = ((id & COPY_BIT) ? next_off : voff) + ((id & ~COPY_BIT) >> 1);
          dst[c] = g << 1 | (id & 1);
        }
    }
  g_free (s->tri);
  g_free (s->tlab);
  s->tri = NULL;
  s->tlab = NULL;
}

static void
split_task (int64_t slot_, int thread, void *data)
{
  guint slot = (guint) slot_;
  Assemble *a = data;
  int32_t L = a->labels[slot];
  uint64_t first = a->slot_first[slot], nt = a->slot_first[slot + 1] - first;
  uint32_t *l2g = g_new (uint32_t, 3 * MAX (nt, 1));
  uint32_t *idx = g_new (uint32_t, 3 * MAX (nt, 1));
  uint32_t nv = 0;
  const uint32_t *t = a->tri + 3 * first;

  /* one pass: local ids in first-use order, indices written straight away */
  for (uint64_t n = 0; n < 3 * nt; n++)
    {
      uint32_t *loc = &a->loc[t[n]];
      if (*loc == UINT32_MAX)
        {
          *loc = nv;
          l2g[nv++] = t[n] >> 1;
        }
      idx[n] = *loc;
    }
  if (a->flip)
    for (uint64_t n = 0; n < nt; n++)
      {
        uint32_t tmp = idx[3 * n + 1];
        idx[3 * n + 1] = idx[3 * n + 2];
        idx[3 * n + 2] = tmp;
      }

  SurfaceMesh *m = g_new0 (SurfaceMesh, 1);
  m->label = L;
  m->n_vertices = nv;
  m->n_triangles = (uint32_t) nt;
  m->indices = idx;
  m->positions = g_new (float, 3 * (gsize) MAX (nv, 1));
  m->normals = g_new (float, 3 * (gsize) MAX (nv, 1));
  m->keys = g_new (uint64_t, MAX (nv, 1));
  float lo[3] = { G_MAXFLOAT, G_MAXFLOAT, G_MAXFLOAT }, hi[3] = { -G_MAXFLOAT, -G_MAXFLOAT, -G_MAXFLOAT };
  float wlo[3] = { G_MAXFLOAT, G_MAXFLOAT, G_MAXFLOAT }, whi[3] = { -G_MAXFLOAT, -G_MAXFLOAT, -G_MAXFLOAT };
  const double (*A)[4] = a->affine;
  guint sl = 0;
  for (uint32_t i = 0; i < nv; i++)
    {
      uint32_t v = l2g[i];
      /* the slab owning global vertex v (vertices of a label are mostly in order) */
      if (v < a->slab_voff[sl] || v >= a->slab_voff[sl + 1])
        {
          guint lo = 0, hi = a->x->n_slabs;
          while (hi - lo > 1)
            {
              guint mid = (lo + hi) / 2;
              if (a->slab_voff[mid] <= v)
                lo = mid;
              else
                hi = mid;
            }
          sl = lo;
          while (sl + 1 < a->x->n_slabs && a->slab_voff[sl + 1] <= v)
            sl++;
        }
      const Slab *s = &a->x->slabs[sl];
      uint32_t li = v - a->slab_voff[sl];
      const float *q = s->vvox + 3 * (gsize) li;
      float *o = m->positions + 3 * (uint64_t) i;
      m->keys[i] = s->vkey[li];
      if (a->pos)
        memcpy (o, a->pos + 3 * (uint64_t) v, 3 * sizeof (float));
      else
        for (int r = 0; r < 3; r++)
          o[r] = (float) (A[r][0] * q[0] + A[r][1] * q[1] + A[r][2] * q[2] + A[r][3]);
      const float *p = o;
      for (int d = 0; d < 3; d++)
        {
          lo[d] = MIN (lo[d], q[d]);
          hi[d] = MAX (hi[d], q[d]);
          wlo[d] = MIN (wlo[d], p[d]);
          whi[d] = MAX (whi[d], p[d]);
        }
    }
  /* the extreme vertices along an axis are midpoints of edges along that axis, half a
   * voxel beyond the label's extreme voxels */
  for (int d = 0; d < 3; d++)
    {
      m->voxel_box[d] = (int64_t) lrintf (lo[d] + 0.5f);
      m->voxel_box[3 + d] = (int64_t) lrintf (hi[d] - 0.5f);
      m->bbox_min[d] = nv ? wlo[d] : 0;
      m->bbox_max[d] = nv ? whi[d] : 0;
    }
  g_free (l2g);
  surface_mesh_update_normals (m);
  a->meshes[slot] = m;
}

/* Pin vertices shared with meshes of @pins (labels not being rebuilt). */
static void
apply_pins (Assemble *a)
{
  g_autoptr (GHashTable) others = g_hash_table_new (g_direct_hash, g_direct_equal);
  for (guint sl = 0; sl < a->x->n_slabs; sl++)
    {
      const Slab *s = &a->x->slabs[sl];
      for (uint64_t i = 0; i < 2 * (uint64_t) s->nv; i++)
        {
          int32_t l = s->vlab[i];
          if (l != 0 && !wanted (a->x, l) && surface_set_get (a->pins, l))
            g_hash_table_add (others, GINT_TO_POINTER (l));
        }
    }
  if (g_hash_table_size (others) == 0)
    return;
  /* key -> world position from those meshes */
  g_autoptr (GHashTable) where = g_hash_table_new_full (g_int64_hash, g_int64_equal, NULL, NULL);
  GHashTableIter it;
  gpointer kp;
  g_hash_table_iter_init (&it, others);
  while (g_hash_table_iter_next (&it, &kp, NULL))
    {
      SurfaceMesh *m = surface_set_get (a->pins, GPOINTER_TO_INT (kp));
      for (uint32_t i = 0; i < m->n_vertices; i++)
        g_hash_table_insert (where, &m->keys[i], &m->positions[3 * (uint64_t) i]);
    }
  a->fixed = g_new0 (uint8_t, a->nv);
  for (guint sl = 0; sl < a->x->n_slabs; sl++)
    {
      const Slab *s = &a->x->slabs[sl];
      for (uint32_t i = 0; i < s->nv; i++)
        {
          const float *p = g_hash_table_lookup (where, &s->vkey[i]);
          if (p)
            {
              uint32_t v = a->slab_voff[sl] + i;
              memcpy (a->pos + 3 * (uint64_t) v, p, 3 * sizeof (float));
              a->fixed[v] = 1;
            }
        }
    }
}

static SurfaceSet *
extract_run (Extract *x, int n_threads, const SurfaceSet *pins, const SurfaceOptions *opts,
             GError **error)
{
  const LabelVolume *v = x->v;
  int64_t n_layers = x->D - 1;   /* cell layers */
  x->t = mc_tables_get ();
  g_autoptr (WorkerPool) pool = worker_pool_new (n_threads);
  x->n_slabs = (guint) MIN (n_layers, (int64_t) n_threads * 8);
  x->slabs = g_new0 (Slab, x->n_slabs);
  for (guint s = 0; s < x->n_slabs; s++)
    {
      x->slabs[s].k0 = n_layers * s / x->n_slabs;
      x->slabs[s].k1 = n_layers * (s + 1) / x->n_slabs;
    }
  worker_pool_run (pool, x->n_slabs, slab_task, x);

  SurfaceSet *set = mesh_set_new_like (v);

  Assemble a = { .x = x, .affine = (const double (*)[4]) v->affine, .pins = pins };
  a.flip = lv_affine_det3 (v->affine) < 0;
  a.slab_voff = g_new (uint32_t, x->n_slabs + 1);
  uint64_t nv = 0, nt = 0;
  gboolean too_large = FALSE;
  for (guint s = 0; s < x->n_slabs; s++)
    {
      a.slab_voff[s] = (uint32_t) MIN (nv, UINT32_MAX);
      nv += x->slabs[s].nv;
      nt += x->slabs[s].nt;
      too_large |= x->slabs[s].too_large;
    }
  if (g_atomic_int_get (&x->cancelled) || too_large || nv >= (1u << 31))
    {
      if (g_atomic_int_get (&x->cancelled))
        g_set_error (error, MESH_ERROR, MESH_ERROR_CANCELLED, "Surface extraction cancelled");
      else
        g_set_error (error, MESH_ERROR, MESH_ERROR_TOO_LARGE,
                     "Surface of the %" G_GINT64_FORMAT "×%" G_GINT64_FORMAT "×%" G_GINT64_FORMAT
                     " volume has too many vertices", v->nx, v->ny, v->nz);
      g_clear_pointer (&set, surface_set_free);
      goto out;
    }

  /* the distinct labels, from the slabs' bitmaps or their triangles */
  GArray *labs = g_array_new (FALSE, FALSE, sizeof (int32_t));
  if (v->bytes_per_voxel <= 2)
    {
      for (int32_t l = 1; l < 65536; l++)
        for (guint s = 0; s < x->n_slabs; s++)
          if (x->slabs[s].lcount && x->slabs[s].lcount[l])
            {
              g_array_append_val (labs, l);
              break;
            }
    }
  else
    {
      worker_pool_run (pool, x->n_slabs, labels_task, &a);
      for (guint s = 0; s < x->n_slabs; s++)
        g_array_append_vals (labs, x->slabs[s].labels->data, x->slabs[s].labels->len);
      g_array_sort (labs, mesh_cmp_i32);
      guint m = 0;
      for (guint i = 0; i < labs->len; i++)
        if (m == 0 || g_array_index (labs, int32_t, m - 1) != g_array_index (labs, int32_t, i))
          g_array_index (labs, int32_t, m++) = g_array_index (labs, int32_t, i);
      g_array_set_size (labs, m);
    }
  a.n_slots = labs->len;
  a.labels = (int32_t *) g_array_free (labs, FALSE);

  /* triangles per slot and slab -> where each slab scatters each slot's triangles */
  if (v->bytes_per_voxel <= 2)
    {
      a.slot_table = g_new0 (uint32_t, 65536);
      for (guint k = 0; k < a.n_slots; k++)
        a.slot_table[a.labels[k]] = k;
      for (guint s = 0; s < x->n_slabs; s++)
        {
          Slab *sl = &x->slabs[s];
          sl->count = g_new0 (uint64_t, MAX (a.n_slots, 1));
          if (sl->lcount)
            for (guint k = 0; k < a.n_slots; k++)
              sl->count[k] = sl->lcount[a.labels[k]];
        }
    }
  else
    worker_pool_run (pool, x->n_slabs, count_task, &a);
  a.slot_first = g_new0 (uint64_t, a.n_slots + 1);
  uint64_t run = 0;
  for (guint k = 0; k < a.n_slots; k++)
    {
      a.slot_first[k] = run;
      for (guint s = 0; s < x->n_slabs; s++)
        {
          uint64_t c = x->slabs[s].count[k];
          x->slabs[s].count[k] = run;
          run += c;
        }
    }
  a.slot_first[a.n_slots] = run;
  g_assert (run == nt);
  gboolean huge = FALSE;
  for (guint k = 0; k < a.n_slots; k++)
    huge |= a.slot_first[k + 1] - a.slot_first[k] >= UINT32_MAX / 3;

  a.nv = (uint32_t) nv;
  a.nt = nt;
  a.slab_voff[x->n_slabs] = (uint32_t) nv;
  if (pins || (opts && opts->smooth_iterations > 0 && nt > 0))
    {
      a.pos = g_new (float, 3 * MAX (nv, 1));
      ar_advise_huge (a.pos, sizeof (float) * 3 * nv);
    }
  a.tri = huge ? NULL : g_try_new (uint32_t, 3 * MAX (nt, 1));
  if (a.tri)
    ar_advise_huge (a.tri, sizeof (uint32_t) * 3 * nt);
  if (a.tri == NULL)
    {
      g_set_error (error, MESH_ERROR, MESH_ERROR_TOO_LARGE,
                   "Surfaces of the %" G_GINT64_FORMAT "×%" G_GINT64_FORMAT "×%" G_GINT64_FORMAT
                   " volume are too large (%" G_GUINT64_FORMAT " triangles)", v->nx, v->ny, v->nz, nt);
      g_clear_pointer (&set, surface_set_free);
      goto out;
    }
  worker_pool_run (pool, x->n_slabs, concat_task, &a);

  if (pins)
    apply_pins (&a);
  if (opts && opts->smooth_iterations > 0 && nt > 0)
    {
      mesh_taubin_shifted (a.pos, a.nv, a.tri, a.nt, 1, a.fixed, opts->smooth_iterations,
                           opts->smooth_passband, n_threads);
      set->smooth_iterations = opts->smooth_iterations;
      set->smooth_passband = opts->smooth_passband;
    }

  a.loc = g_new (uint32_t, 2 * MAX (nv, 1));
  ar_advise_huge (a.loc, sizeof (uint32_t) * 2 * nv);
  memset (a.loc, 0xff, sizeof (uint32_t) * 2 * MAX (nv, 1));
  a.meshes = g_new0 (SurfaceMesh *, MAX (a.n_slots, 1));
  worker_pool_run (pool, a.n_slots, split_task, &a);

  set->n_meshes = a.n_slots;
  set->meshes = a.meshes;
out:
  for (guint s = 0; s < x->n_slabs; s++)
    slab_clear (&x->slabs[s]);
  g_clear_pointer (&x->slabs, g_free);
  g_free (a.labels);
  g_free (a.slot_first);
  g_free (a.slot_table);
  g_free (a.loc);
  g_free (a.pos);
  g_free (a.tri);
  g_free (a.fixed);
  g_free (a.slab_voff);
  return set;
}

gboolean
mesh_check_volume (const LabelVolume *v, GError **error)
{
  if (v == NULL || v->data == NULL || v->nx < 1 || v->ny < 1 || v->nz < 1)
    {
      g_set_error (error, MESH_ERROR, MESH_ERROR_INVALID, "Cannot extract surfaces: empty volume");
      return FALSE;
    }
  if (v->nx > (1 << 20) || v->ny > (1 << 20) || v->nz > (1 << 20)
      || (v->nx + 2) * (v->ny + 2) > (G_MAXINT32 / 8))
    {
      g_set_error (error, MESH_ERROR, MESH_ERROR_TOO_LARGE,
                   "Cannot extract surfaces: volume slices of %" G_GINT64_FORMAT "×%" G_GINT64_FORMAT
                   " voxels are too large", v->nx, v->ny);
      return FALSE;
    }
  return TRUE;
}

int32_t *
mesh_sorted_labels (const int32_t *labels, guint n, guint *n_out)
{
  int32_t *w = g_new (int32_t, MAX (n, 1));
  memcpy (w, labels, sizeof (int32_t) * n);
  qsort (w, n, sizeof (int32_t), mesh_cmp_i32);
  guint m = 0;
  for (guint i = 0; i < n; i++)
    if (w[i] != 0 && (m == 0 || w[m - 1] != w[i]))
      w[m++] = w[i];
  *n_out = m;
  return w;
}

SurfaceSet *
surface_extract_box (const LabelVolume *v, const int32_t *want, guint n_want,
                     const int64_t box[6], int n_threads, const SurfaceSet *pins,
                     const SurfaceOptions *opts, GCancellable *cancellable, GError **error)
{
  if (!mesh_check_volume (v, error))
    return NULL;
  Extract x = { .v = v, .want = want, .n_want = n_want, .cancellable = cancellable };
  x.dims[0] = v->nx;
  x.dims[1] = v->ny;
  x.dims[2] = v->nz;
  for (int d = 0; d < 3; d++)
    {
      int64_t lo = MAX (box[d], -1), hi = MIN (box[3 + d], x.dims[d]);
      if (hi - lo < 1)
        {
          lo = -1;
          hi = 0;
        }
      x.g0[d] = lo;
    }
  x.W = MIN (box[3], x.dims[0]) - x.g0[0] + 1;
  x.H = MIN (box[4], x.dims[1]) - x.g0[1] + 1;
  x.D = MIN (box[5], x.dims[2]) - x.g0[2] + 1;
  if (x.W < 2 || x.H < 2 || x.D < 2)
    {
      return mesh_set_new_like (v);
    }
  return extract_run (&x, n_threads > 0 ? n_threads : mesh_default_threads (), pins, opts, error);
}

SurfaceSet *
surface_extract (const LabelVolume *v, const SurfaceOptions *opts,
                 GCancellable *cancellable, GError **error)
{
  SurfaceOptions def;
  opts = mesh_options_or_default (opts, &def);
  if (!mesh_check_volume (v, error))
    return NULL;
  if (opts->method != SURFACE_METHOD_MARCHING_CUBES)
    {
      g_set_error (error, MESH_ERROR, MESH_ERROR_INVALID, "Unknown surface method %d", (int) opts->method);
      return NULL;
    }
  if (opts->smooth_passband < 0 || opts->smooth_passband >= 1)
    {
      g_set_error (error, MESH_ERROR, MESH_ERROR_INVALID,
                   "Smoothing pass band %g is outside (0, 1)", opts->smooth_passband);
      return NULL;
    }
  g_autofree int32_t *want = NULL;
  guint n_want = 0;
  if (opts->labels)
    {
      want = mesh_sorted_labels (opts->labels, opts->n_labels, &n_want);
      if (n_want == 0)
        {
          return mesh_set_new_like (v);
        }
    }
  int64_t box[6] = { -1, -1, -1, v->nx, v->ny, v->nz };
  return surface_extract_box (v, want, n_want, box, opts->n_threads, NULL, opts,
                              cancellable, error);
}
