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
  const uint64_t *first;  /* (nv + 1) start of each neighbour list */
  const uint32_t *count;  /* (nv) distinct neighbours at the start of each list */
  const uint32_t *nbr;
  const uint8_t *fixed;
  const float *in;        /* (nv, 4) x y z pad */
  float *out;             /* (nv, 4) */
  float f;
  guint chunk;
} Step;

static void
step_task (int64_t task_, int thread, void *data)
{
  guint task = (guint) task_;
  const Step *s = data;
  uint32_t v0 = task * s->chunk, v1 = MIN (s->nv, v0 + s->chunk);
  const float *in = s->in;
  for (uint32_t v = v0; v < v1; v++)
    {
      const float *p = in + 4 * (gsize) v;
      float *o = s->out + 4 * (gsize) v;
      uint64_t a = s->first[v], b = a + s->count[v];
      if (a == b || (s->fixed && s->fixed[v]))
        {
          for (int d = 0; d < 4; d++)
            o[d] = p[d];
          continue;
        }
      float sum[4] = { 0, 0, 0, 0 };
      for (uint64_t e = a; e < b; e++)
        {
          const float *q = in + 4 * (gsize) s->nbr[e];
          for (int d = 0; d < 4; d++)
            sum[d] += q[d];
        }
      float inv = 1.0f / (float) (b - a);
      for (int d = 0; d < 4; d++)
        o[d] = p[d] + s->f * (sum[d] * inv - p[d]);
    }
}

typedef struct {
  uint32_t nv;
  const uint64_t *first;
  uint32_t *count;
  uint32_t *nbr;
  guint chunk;
} Dedup;

/* Sort each short neighbour list and keep its distinct entries at its start (edges
 * shared by two labels' surfaces, or seen from both sides on open input, repeat). */
static void
dedup_task (int64_t task_, int thread, void *data)
{
  guint task = (guint) task_;
  const Dedup *d = data;
  uint32_t v0 = task * d->chunk, v1 = MIN (d->nv, v0 + d->chunk);
  uint32_t *nbr = d->nbr;
  for (uint32_t v = v0; v < v1; v++)
    {
      uint64_t a = d->first[v], b = d->first[v + 1];
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
      uint64_t w = a;
      for (uint64_t i = a; i < b; i++)
        if (i == a || nbr[i] != nbr[w - 1])
          nbr[w++] = nbr[i];
      d->count[v] = (uint32_t) (w - a);
    }
}

/* Neighbour lists in CSR form from the triangle edges.  tris is (nt, 3) with vertex
 * ids tris[i] >> shift; returns first (nv + 1); *count_out (nv) distinct entries. */
static uint64_t *
build_neighbours (uint32_t nv, const uint32_t *tris, uint64_t nt, int shift,
                  uint32_t **nbr_out, uint32_t **count_out, WorkerPool *pool)
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
  g_free (cur);
  Dedup d = { .nv = nv, .first = first, .count = g_new (uint32_t, MAX (nv, 1)), .nbr = nbr,
              .chunk = 32768 };
  worker_pool_run (pool, (nv + d.chunk - 1) / d.chunk, dedup_task, &d);
  *nbr_out = nbr;
  *count_out = d.count;
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
  uint32_t *nbr, *count;
  g_autoptr (WorkerPool) pool = worker_pool_new (n_threads > 0 ? n_threads : mesh_default_threads ());
  uint64_t *first = build_neighbours (nv, tris, nt, shift, &nbr, &count, pool);
  /* padded to 4 floats per vertex: one vector load per neighbour */
  float *buf = g_new (float, 8 * (gsize) nv);
  float *b0 = buf, *b1 = buf + 4 * (gsize) nv;
  for (uint32_t v = 0; v < nv; v++)
    {
      b0[4 * (gsize) v] = pos[3 * (gsize) v];
      b0[4 * (gsize) v + 1] = pos[3 * (gsize) v + 1];
      b0[4 * (gsize) v + 2] = pos[3 * (gsize) v + 2];
      b0[4 * (gsize) v + 3] = 0;
    }
  Step s = { .nv = nv, .first = first, .count = count, .nbr = nbr, .fixed = fixed, .chunk = 16384 };
  guint n_tasks = (nv + s.chunk - 1) / s.chunk;
  for (guint it = 0; it < 2 * iterations; it++)
    {
      s.f = (float) ((it & 1) ? mu : lambda);
      s.in = (it & 1) ? b1 : b0;
      s.out = (it & 1) ? b0 : b1;
      worker_pool_run (pool, n_tasks, step_task, &s);
    }
  for (uint32_t v = 0; v < nv; v++)
    {
      pos[3 * (gsize) v] = b0[4 * (gsize) v];
      pos[3 * (gsize) v + 1] = b0[4 * (gsize) v + 1];
      pos[3 * (gsize) v + 2] = b0[4 * (gsize) v + 2];
    }
  g_free (buf);
  g_free (first);
  g_free (nbr);
  g_free (count);
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
  /* LSD radix sort by key, 11 bits per pass (keys are below 3 * padded voxel count) */
  {
    uint64_t max_key = 0;
    for (uint64_t i = 0; i < total; i++)
      max_key = MAX (max_key, refs[i].key);
    KeyRef *tmp = g_new (KeyRef, total), *src = refs, *dst = tmp;
    for (int shift = 0; shift < 64 && (max_key >> shift) > 0; shift += 11)
      {
        uint64_t count[2049] = { 0 };
        for (uint64_t i = 0; i < total; i++)
          count[((src[i].key >> shift) & 2047) + 1]++;
        for (int b = 0; b < 2048; b++)
          count[b + 1] += count[b];
        for (uint64_t i = 0; i < total; i++)
          dst[count[(src[i].key >> shift) & 2047]++] = src[i];
        KeyRef *t = src;
        src = dst;
        dst = t;
      }
    if (src != refs)
      memcpy (refs, src, sizeof (KeyRef) * total);
    g_free (tmp);
  }

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
