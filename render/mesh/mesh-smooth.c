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

/* Four floats, one SSE register (GCC/Clang vector extension: no intrinsics, any ISA).
 * Positions are x y z 0: padded structs rather than a structure of arrays, because a
 * step gathers whole neighbours, one aligned vector load each. */
typedef float v4f __attribute__ ((vector_size (16)));

/* Vertices per task of a smoothing step, and while building the neighbour lists. */
#define STEP_CHUNK 8192
#define BUILD_CHUNK 32768
/* Neighbour lists are padded to a multiple of this with the vertex's own id: the inner
 * loop then runs a predictable 1 or 2 times instead of ending at an unpredictable degree,
 * and a pad adds q - p = 0. */
#define NBR_PAD 4

/* The step of vertices v0..v1: dst = src + f (mean of neighbours - src).  deg[v] is the
 * number of real (distinct) neighbours, recip[n] = 1/n. */
static inline void
step_range (const uint32_t *off, const uint32_t *nbr, const uint16_t *deg, const float *recip,
            const v4f *src, v4f *dst, uint32_t v0, uint32_t v1, float f)
{
  for (uint32_t v = v0; v < v1; v++)
    {
      uint32_t a = off[v], b = off[v + 1];
      v4f p = src[v];
      if (G_UNLIKELY (a == b))
        {
          dst[v] = p;
          continue;
        }
      /* sums of q - p: small numbers (no cancellation against |p|), and a pad adds 0 */
      v4f s0 = { 0, 0, 0, 0 }, s1 = s0, s2 = s0, s3 = s0;
      for (uint32_t e = a; e < b; e += NBR_PAD)
        {
          s0 += src[nbr[e]] - p;
          s1 += src[nbr[e + 1]] - p;
          s2 += src[nbr[e + 2]] - p;
          s3 += src[nbr[e + 3]] - p;
        }
      dst[v] = p + ((s0 + s1) + (s2 + s3)) * (f * recip[deg[v]]);
    }
}

typedef struct {
  uint32_t nv;
  const uint32_t *off, *nbr;
  const uint16_t *deg;
  const float *recip;
  const v4f *in;          /* (nv) */
  v4f *out;               /* (nv) */
  float f;                /* lambda or mu */
} Step;

static void
step_task (int64_t task, int thread, void *data)
{
  const Step *s = data;
  uint32_t v0 = (uint32_t) task * STEP_CHUNK, v1 = MIN (s->nv, v0 + STEP_CHUNK);
  step_range (s->off, s->nbr, s->deg, s->recip, s->in, s->out, v0, v1, s->f);
}

typedef struct {
  uint32_t nv;
  const uint32_t *tris;   /* (nt, 3) vertex ids << shift */
  uint64_t nt;
  int shift;
  const uint8_t *fixed;   /* (nv) or NULL */
  uint32_t *raw_off;      /* (nv + 1) start of each vertex's raw list (repeats kept) */
  uint32_t *raw;          /* (raw_off[nv]) */
  uint32_t *count;        /* (nv) distinct entries at the start of each raw list */
  uint32_t **mark;        /* (threads) (nv) per-thread scratch: the last vertex that saw each id */
  uint32_t *off;          /* (nv + 1) padded compact lists */
  uint32_t *nbr;          /* (off[nv]) */
  uint16_t *deg;          /* (nv) distinct neighbours */
  v4f *pos4;              /* (nv) padded copy of the positions */
  const float *pos;       /* (nv, 3) */
} Build;

/* Keep the distinct entries of each raw list at its start (edges shared by two labels'
 * surfaces repeat), and copy the vertex into the padded buffer. */
static void
dedup_task (int64_t task, int thread, void *data)
{
  Build *d = data;
  uint32_t v0 = (uint32_t) task * BUILD_CHUNK, v1 = MIN (d->nv, v0 + BUILD_CHUNK);
  uint32_t *raw = d->raw, *mark = d->mark[thread];
  for (uint32_t v = v0; v < v1; v++)
    {
      const float *p = d->pos + 3 * (gsize) v;
      d->pos4[v] = (v4f) { p[0], p[1], p[2], 0 };
      uint32_t a = d->raw_off[v], b = d->raw_off[v + 1], w = a;
      if (d->fixed && d->fixed[v])
        b = a;
      for (uint32_t i = a; i < b; i++)
        {
          uint32_t x = raw[i];
          raw[w] = x;
          w += mark[x] != v;
          mark[x] = v;
        }
      d->count[v] = w - a;
    }
}

static void
compact_task (int64_t task, int thread, void *data)
{
  Build *d = data;
  uint32_t v0 = (uint32_t) task * BUILD_CHUNK, v1 = MIN (d->nv, v0 + BUILD_CHUNK);
  for (uint32_t v = v0; v < v1; v++)
    {
      uint32_t *o = d->nbr + d->off[v], n = d->count[v], padded = d->off[v + 1] - d->off[v];
      memcpy (o, d->raw + d->raw_off[v], sizeof (uint32_t) * n);
      for (uint32_t i = n; i < padded; i++)
        o[i] = v;
      d->deg[v] = (uint16_t) n;
    }
}

/* Padded compact CSR neighbour lists (distinct neighbours, none for fixed vertices), the
 * degrees and the padded positions.  Each undirected edge of a consistently
 * wound closed surface occurs once as a < b in it.  FALSE when the lists would not fit
 * 32-bit offsets (or a vertex has more than 65535 neighbours). */
static gboolean
build_neighbours (Build *d, WorkerPool *pool)
{
  uint32_t nv = d->nv;
  const uint32_t *tris = d->tris;
  int shift = d->shift;
  uint64_t total = 0;
  /* raw_off[v + 1] counts v's entries first, then becomes the prefix sum */
  d->raw_off = g_new0 (uint32_t, (gsize) nv + 1);
  ar_advise_huge (d->raw_off, sizeof (uint32_t) * nv);
  uint32_t *deg = d->raw_off + 1;
  for (uint64_t t = 0; t < 3 * d->nt; t += 3)
    for (int c = 0; c < 3; c++)
      {
        uint32_t a = tris[t + c] >> shift, b = tris[t + (c + 1) % 3] >> shift;
        uint32_t take = a < b;   /* branch-free: half of the tests fail, unpredictably */
        deg[a] += take;
        deg[b] += take;
      }
  for (uint32_t v = 0; v < nv; v++)
    {
      total += deg[v];
      if (total > UINT32_MAX)
        return FALSE;
      deg[v] = (uint32_t) total;   /* raw_off[v + 1]: the end of v, the start of v + 1 */
    }
  uint32_t *cur = g_new (uint32_t, MAX (nv, 1));
  ar_advise_huge (cur, sizeof (uint32_t) * nv);
  memcpy (cur, d->raw_off, sizeof (uint32_t) * nv);
  d->raw = g_new (uint32_t, MAX (total, 1));
  ar_advise_huge (d->raw, sizeof (uint32_t) * total);
  uint32_t *raw = d->raw;
  for (uint64_t t = 0; t < 3 * d->nt; t += 3)
    for (int c = 0; c < 3; c++)
      {
        uint32_t a = tris[t + c] >> shift, b = tris[t + (c + 1) % 3] >> shift;
        if (a < b)
          {
            raw[cur[a]++] = b;
            raw[cur[b]++] = a;
          }
      }
  g_free (cur);
  d->count = g_new (uint32_t, MAX (nv, 1));
  ar_advise_huge (d->count, sizeof (uint32_t) * nv);
  int n_threads = worker_pool_get_n_threads (pool);
  d->mark = g_new (uint32_t *, n_threads);
  for (int t = 0; t < n_threads; t++)
    {
      d->mark[t] = g_new (uint32_t, MAX (nv, 1));
      ar_advise_huge (d->mark[t], sizeof (uint32_t) * nv);
      memset (d->mark[t], 0xff, sizeof (uint32_t) * nv);
    }
  guint n_tasks = (nv + BUILD_CHUNK - 1) / BUILD_CHUNK;
  worker_pool_run (pool, n_tasks, dedup_task, d);
  for (int t = 0; t < n_threads; t++)
    g_free (d->mark[t]);
  g_clear_pointer (&d->mark, g_free);
  d->off = g_new (uint32_t, (gsize) nv + 1);
  ar_advise_huge (d->off, sizeof (uint32_t) * nv);
  uint64_t run = 0;
  for (uint32_t v = 0; v < nv; v++)
    {
      d->off[v] = (uint32_t) run;
      run += (d->count[v] + NBR_PAD - 1) / NBR_PAD * NBR_PAD;
      if (run > UINT32_MAX || d->count[v] > UINT16_MAX)
        return FALSE;
    }
  d->deg = g_new (uint16_t, MAX (nv, 1));
  d->off[nv] = (uint32_t) run;
  d->nbr = g_new (uint32_t, MAX (run, 1));
  ar_advise_huge (d->nbr, sizeof (uint32_t) * run);
  worker_pool_run (pool, n_tasks, compact_task, d);
  return TRUE;
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
  g_autoptr (WorkerPool) pool = worker_pool_new (n_threads > 0 ? n_threads : mesh_default_threads ());
  v4f *b0 = g_aligned_alloc (nv, sizeof (v4f), 64);
  ar_advise_huge (b0, sizeof (v4f) * nv);
  Build d = { .nv = nv, .tris = tris, .nt = nt, .shift = shift, .fixed = fixed, .pos = pos, .pos4 = b0 };
  gboolean built = build_neighbours (&d, pool);
  g_free (d.raw);
  g_free (d.raw_off);
  if (!built)
    {
      /* more than 2^32 neighbour entries: the naive twin copes (slowly) */
      g_aligned_free (b0);
      g_free (d.off);
      g_free (d.deg);
      g_free (d.count);
      uint32_t *t = g_new (uint32_t, 3 * nt);
      for (uint64_t i = 0; i < 3 * nt; i++)
        t[i] = tris[i] >> shift;
      mesh_taubin_reference (pos, nv, t, nt, fixed, iterations, passband);
      g_free (t);
      return;
    }
  uint32_t max_deg = 0;
  for (uint32_t v = 0; v < nv; v++)
    max_deg = MAX (max_deg, d.count[v]);
  g_free (d.count);
  float *recip = g_new (float, max_deg + 1);
  recip[0] = 0;
  for (uint32_t n = 1; n <= max_deg; n++)
    recip[n] = 1.0f / (float) n;

  v4f *b1 = g_aligned_alloc (nv, sizeof (v4f), 64);
  ar_advise_huge (b1, sizeof (v4f) * nv);
  Step s = { .nv = nv, .off = d.off, .nbr = d.nbr, .deg = d.deg, .recip = recip };
  guint n_tasks = (nv + STEP_CHUNK - 1) / STEP_CHUNK;
  for (guint it = 0; it < 2 * iterations; it++)
    {
      s.f = (float) ((it & 1) ? mu : lambda);
      s.in = (it & 1) ? b1 : b0;
      s.out = (it & 1) ? b0 : b1;
      worker_pool_run (pool, n_tasks, step_task, &s);
    }
  g_aligned_free (b1);
  for (uint32_t v = 0; v < nv; v++)
    {
      pos[3 * (gsize) v] = b0[v][0];
      pos[3 * (gsize) v + 1] = b0[v][1];
      pos[3 * (gsize) v + 2] = b0[v][2];
    }
  g_aligned_free (b0);
  g_free (recip);
  g_free (d.off);
  g_free (d.nbr);
  g_free (d.deg);
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
