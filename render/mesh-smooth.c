/* mesh-smooth.c: Taubin lambda/mu smoothing over the shared vertices of all labels.
 *
 * One step moves every free vertex p towards (lambda > 0) or away from (mu < 0) the mean
 * of its distinct edge neighbours: p' = p + f (mean - p).  Alternating lambda and mu is a
 * low-pass filter with pass-band frequency k_pb = 1/lambda + 1/mu (Taubin 1995), which
 * removes the staircase of marching cubes without the shrinkage of plain Laplacian
 * smoothing.  Because labels share the vertices of their common boundary, a shared
 * vertex sees the neighbours of every surface it belongs to and moves once, for all.
 */
#include "mesh-private.h"

#include <string.h>

#define TAUBIN_LAMBDA 0.5

void
mesh_taubin_factors (double passband, double *lambda, double *mu)
{
  if (!(passband > 0 && passband < 1))
    passband = 0.1;
  *lambda = TAUBIN_LAMBDA;
  *mu = 1.0 / (passband - 1.0 / TAUBIN_LAMBDA);
}

typedef struct {
  uint32_t nv;
  const uint64_t *first;  /* (nv + 1) */
  const uint32_t *nbr;    /* (first[nv]) */
  const uint8_t *fixed;
  const float *in;        /* (nv, 3) */
  float *out;             /* (nv, 3) */
  float f;
  guint chunk;
} Step;

static void
step_task (guint task, gpointer data)
{
  const Step *s = data;
  uint32_t v0 = task * s->chunk, v1 = MIN (s->nv, v0 + s->chunk);
  const float *in = s->in;
  for (uint32_t v = v0; v < v1; v++)
    {
      uint64_t a = s->first[v], b = s->first[v + 1];
      const float *p = in + 3 * (gsize) v;
      float *o = s->out + 3 * (gsize) v;
      if (a == b || (s->fixed && s->fixed[v]))
        {
          o[0] = p[0];
          o[1] = p[1];
          o[2] = p[2];
          continue;
        }
      float sx = 0, sy = 0, sz = 0;
      for (uint64_t e = a; e < b; e++)
        {
          const float *q = in + 3 * (gsize) s->nbr[e];
          sx += q[0];
          sy += q[1];
          sz += q[2];
        }
      float inv = 1.0f / (float) (b - a);
      o[0] = p[0] + s->f * (sx * inv - p[0]);
      o[1] = p[1] + s->f * (sy * inv - p[1]);
      o[2] = p[2] + s->f * (sz * inv - p[2]);
    }
}

/* Distinct-neighbour lists in CSR form.  tris is (nt, 3); returns first (nv + 1). */
static uint64_t *
build_neighbours (uint32_t nv, const uint32_t *tris, uint64_t nt, int shift, uint32_t **nbr_out)
{
  uint64_t *first = g_new0 (uint64_t, (gsize) nv + 1);
  /* each undirected edge of a consistently wound closed surface occurs once as a < b */
  for (uint64_t t = 0; t < nt; t++)
    {
      const uint32_t *x = tris + 3 * t;
      for (int c = 0; c < 3; c++)
        {
          uint32_t a = x[c] >> shift, b = x[(c + 1) % 3] >> shift;
          if (a < b)
            {
              first[a + 1]++;
              first[b + 1]++;
            }
        }
    }
  for (uint32_t v = 0; v < nv; v++)
    first[v + 1] += first[v];
  uint32_t *nbr = g_new (uint32_t, MAX (first[nv], 1));
  uint64_t *cur = g_memdup2 (first, sizeof (uint64_t) * ((gsize) nv + 1));
  for (uint64_t t = 0; t < nt; t++)
    {
      const uint32_t *x = tris + 3 * t;
      for (int c = 0; c < 3; c++)
        {
          uint32_t a = x[c] >> shift, b = x[(c + 1) % 3] >> shift;
          if (a < b)
            {
              nbr[cur[a]++] = b;
              nbr[cur[b]++] = a;
            }
        }
    }
  /* sort each short list and drop repeats (edges shared by two labels, or seen from
   * both directions on open or inconsistently wound input) */
  uint64_t w = 0;
  for (uint32_t v = 0; v < nv; v++)
    {
      uint64_t a = first[v], b = first[v + 1];
      for (uint64_t i = a + 1; i < b; i++)
        {
          uint32_t x = nbr[i];
          uint64_t j = i;
          while (j > a && nbr[j - 1] > x)
            {
              nbr[j] = nbr[j - 1];
              j--;
            }
          nbr[j] = x;
        }
      first[v] = w;
      for (uint64_t i = a; i < b; i++)
        if (i == a || nbr[i] != nbr[i - 1])
          nbr[w++] = nbr[i];
    }
  first[nv] = w;
  g_free (cur);
  *nbr_out = nbr;
  return first;
}

void
mesh_taubin (float *pos, uint32_t nv, const uint32_t *tris, uint64_t nt,
             const uint8_t *fixed, guint iterations, double passband, int n_threads)
{
  mesh_taubin_shifted (pos, nv, tris, nt, 0, fixed, iterations, passband, n_threads);
}

void
mesh_taubin_shifted (float *pos, uint32_t nv, const uint32_t *tris, uint64_t nt, int shift,
                     const uint8_t *fixed, guint iterations, double passband, int n_threads)
{
  if (iterations == 0 || nv == 0)
    return;
  double lambda, mu;
  mesh_taubin_factors (passband, &lambda, &mu);
  uint32_t *nbr;
  uint64_t *first = build_neighbours (nv, tris, nt, shift, &nbr);
  float *tmp = g_new (float, 3 * (gsize) nv);
  Step s = { .nv = nv, .first = first, .nbr = nbr, .fixed = fixed, .chunk = 16384 };
  guint n_tasks = (nv + s.chunk - 1) / s.chunk;
  for (guint it = 0; it < 2 * iterations; it++)
    {
      s.f = (float) ((it & 1) ? mu : lambda);
      s.in = (it & 1) ? tmp : pos;
      s.out = (it & 1) ? pos : tmp;
      mesh_parallel (n_threads, n_tasks, step_task, &s);
    }
  g_free (tmp);
  g_free (first);
  g_free (nbr);
}

static int
cmp_pair (const void *a, const void *b)
{
  const uint64_t x = *(const uint64_t *) a, y = *(const uint64_t *) b;
  return (x > y) - (x < y);
}

void
mesh_taubin_reference (float *pos, uint32_t nv, const uint32_t *tris, uint64_t nt,
                       const uint8_t *fixed, guint iterations, double passband)
{
  double lambda, mu;
  mesh_taubin_factors (passband, &lambda, &mu);
  /* every directed edge (a, b) of every triangle, both ways, as a << 32 | b; sorted, unique */
  uint64_t *pairs = g_new (uint64_t, MAX (6 * nt, 1));
  for (uint64_t t = 0; t < nt; t++)
    for (int c = 0; c < 3; c++)
      {
        uint64_t a = tris[3 * t + c], b = tris[3 * t + (c + 1) % 3];
        pairs[6 * t + 2 * c] = a << 32 | b;
        pairs[6 * t + 2 * c + 1] = b << 32 | a;
      }
  qsort (pairs, 6 * nt, sizeof (uint64_t), cmp_pair);
  float *next = g_new (float, 3 * (gsize) MAX (nv, 1));
  for (guint it = 0; it < 2 * iterations; it++)
    {
      double f = (it & 1) ? mu : lambda;
      memcpy (next, pos, 3 * sizeof (float) * nv);
      uint64_t e = 0;
      while (e < 6 * nt)
        {
          uint32_t a = (uint32_t) (pairs[e] >> 32);
          float sum[3] = { 0, 0, 0 };
          uint32_t n = 0;
          for (; e < 6 * nt && (uint32_t) (pairs[e] >> 32) == a; e++)
            {
              if (n > 0 && pairs[e] == pairs[e - 1])
                continue;
              uint32_t b = (uint32_t) pairs[e];
              for (int d = 0; d < 3; d++)
                sum[d] += pos[3 * (gsize) b + d];
              n++;
            }
          if (fixed && fixed[a])
            continue;
          for (int d = 0; d < 3; d++)
            next[3 * (gsize) a + d] = pos[3 * (gsize) a + d]
                                      + (float) f * (sum[d] / (float) n - pos[3 * (gsize) a + d]);
        }
      memcpy (pos, next, 3 * sizeof (float) * nv);
    }
  g_free (next);
  g_free (pairs);
}

typedef struct {
  uint64_t key;
  uint32_t mesh, local;
} KeyRef;

static int
cmp_keyref (const void *a, const void *b)
{
  const KeyRef *x = a, *y = b;
  return (x->key > y->key) - (x->key < y->key);
}

void
surface_set_smooth (SurfaceSet *set, guint iterations, double passband)
{
  if (iterations == 0 || set->n_meshes == 0)
    return;
  guint64 total = surface_set_n_vertices (set), ntri = surface_set_n_triangles (set);
  if (total == 0 || total >= UINT32_MAX)
    return;
  KeyRef *refs = g_new (KeyRef, total);
  uint64_t n = 0;
  for (guint m = 0; m < set->n_meshes; m++)
    for (uint32_t i = 0; i < set->meshes[m]->n_vertices; i++)
      refs[n++] = (KeyRef) { set->meshes[m]->keys[i], m, i };
  qsort (refs, total, sizeof (KeyRef), cmp_keyref);

  /* global ids: one per distinct key */
  uint32_t **gid = g_new (uint32_t *, set->n_meshes);
  for (guint m = 0; m < set->n_meshes; m++)
    gid[m] = g_new (uint32_t, MAX (set->meshes[m]->n_vertices, 1));
  uint32_t ng = 0;
  float *pos = g_new (float, 3 * total);
  for (uint64_t i = 0; i < total; i++)
    {
      if (i == 0 || refs[i].key != refs[i - 1].key)
        {
          memcpy (pos + 3 * (gsize) ng,
                  set->meshes[refs[i].mesh]->positions + 3 * (gsize) refs[i].local, 3 * sizeof (float));
          ng++;
        }
      gid[refs[i].mesh][refs[i].local] = ng - 1;
    }
  g_free (refs);
  uint32_t *tris = g_new (uint32_t, 3 * MAX (ntri, 1));
  uint64_t t = 0;
  for (guint m = 0; m < set->n_meshes; m++)
    {
      const SurfaceMesh *mm = set->meshes[m];
      for (uint64_t i = 0; i < 3 * (uint64_t) mm->n_triangles; i++)
        tris[t++] = gid[m][mm->indices[i]];
    }
  mesh_taubin (pos, ng, tris, ntri, NULL, iterations, passband, mesh_default_threads ());
  for (guint m = 0; m < set->n_meshes; m++)
    {
      SurfaceMesh *mm = set->meshes[m];
      for (uint32_t i = 0; i < mm->n_vertices; i++)
        memcpy (mm->positions + 3 * (gsize) i, pos + 3 * (gsize) gid[m][i], 3 * sizeof (float));
      surface_mesh_update_normals (mm);
      surface_mesh_update_bounds (mm);
      g_free (gid[m]);
    }
  g_free (gid);
  g_free (tris);
  g_free (pos);
  set->smooth_iterations += iterations;
  set->smooth_passband = passband;
}
