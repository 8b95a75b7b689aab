/* completion.c: resample, run the network, interpolate back, merge (see completion.h). */
#include "completion.h"

#include <math.h>
#include <string.h>

G_DEFINE_QUARK (completion-error-quark, completion_error)

typedef struct {
  const CompletionOptions *opt;
  double base, span;
} StageProgress;

static void
report (const CompletionOptions *opt, double fraction, const char *stage)
{
  if (opt && opt->progress)
    opt->progress (fraction, stage, opt->progress_data);
}

static void
forward_progress (double fraction, const char *layer, gpointer data)
{
  StageProgress *sp = data;
  g_autofree char *text = g_strdup_printf ("network: %s", layer);
  report (sp->opt, sp->base + sp->span * fraction, text);
}

char *
completion_find_model (NnArch arch, char **looked)
{
  g_autofree char *name = g_strconcat (nn_arch_to_string (arch), ".safetensors", NULL);
  const char *env = g_getenv ("ANATOMY_MODELS_DIR");
  gboolean override = env && *env;
  const char *dirs[] = { override ? env : AR_SOURCE_DATADIR "/models",
                         override ? NULL : AR_INSTALL_DATADIR "/models" };
  for (gsize i = 0; i < G_N_ELEMENTS (dirs); i++)
    {
      if (!dirs[i])
        continue;
      char *p = g_build_filename (dirs[i], name, NULL);
      if (g_file_test (p, G_FILE_TEST_IS_REGULAR))
        return p;
      g_free (p);
    }
  if (looked)
    *looked = override ? g_strdup_printf ("%s, set by ANATOMY_MODELS_DIR", env)
                       : g_strdup_printf ("%s/models and %s/models", AR_SOURCE_DATADIR, AR_INSTALL_DATADIR);
  return NULL;
}

/* nearest source index of destination index @d when resizing in -> out */
static int64_t
nearest (int64_t d, int64_t out, int64_t in)
{
  int64_t s = (int64_t) floor (((double) d + 0.5) * (double) in / (double) out);
  return CLAMP (s, 0, in - 1);
}

/* Breadth-first flood of the face-connected piece of added voxels labelled like @seed.
 * The queue is a ring holding only the front, so memory follows the front's size, not
 * the piece's.  @seen marks visited voxels; with @clear, the piece goes back to
 * background instead (its voxels then no longer match, so @seen is not needed).
 * Returns the piece's size, or -1 if the queue cannot grow. */
typedef struct {
  int64_t *q;
  size_t cap;   /* a power of two */
} Ring;

static int64_t
flood (const LabelVolume *input, LabelVolume *out, int64_t seed, guint8 *seen, gboolean clear, Ring *r)
{
  const int64_t nx = out->nx, ny = out->ny, nz = out->nz, plane = nx * ny;
  const int32_t label = lv_volume_get_index (out, seed);
  size_t head = 0, len = 0;
  int64_t size = 0;
#define MATCH(i) (lv_volume_get_index (out, i) == label && lv_volume_get_index (input, i) == 0 \
                  && (clear || !(seen[(i) >> 3] & (1u << ((i) & 7)))))
#define TAKE(i) (clear ? lv_volume_set_index (out, i, 0) : (void) (seen[(i) >> 3] |= (guint8) (1u << ((i) & 7))))
  TAKE (seed);
  r->q[0] = seed;
  len = 1;
  while (len > 0)
    {
      int64_t v = r->q[head];
      head = (head + 1) & (r->cap - 1);
      len--;
      size++;
      int64_t x = v % nx, y = (v / nx) % ny, z = v / plane;
      const int64_t nb[6] = { x > 0 ? v - 1 : -1, x < nx - 1 ? v + 1 : -1, y > 0 ? v - nx : -1,
                              y < ny - 1 ? v + nx : -1, z > 0 ? v - plane : -1, z < nz - 1 ? v + plane : -1 };
      for (int k = 0; k < 6; k++)
        {
          if (nb[k] < 0 || !MATCH (nb[k]))
            continue;
          if (len == r->cap)
            {
              /* grow: unwrap the ring into a buffer twice as large */
              int64_t *q = g_try_new (int64_t, r->cap * 2);
              if (q == NULL)
                return -1;
              for (size_t i = 0; i < len; i++)
                q[i] = r->q[(head + i) & (r->cap - 1)];
              g_free (r->q);
              r->q = q;
              r->cap *= 2;
              head = 0;
            }
          TAKE (nb[k]);
          r->q[(head + len) & (r->cap - 1)] = nb[k];
          len++;
        }
    }
#undef MATCH
#undef TAKE
  return size;
}

gboolean
completion_drop_fragments (const LabelVolume *input, LabelVolume *out, double fraction, int64_t *added,
                           int n_classes, GError **error)
{
  const int64_t n = lv_volume_n_voxels (out);
  const size_t bitmap = (size_t) (n + 7) / 8;
  g_autofree guint8 *seen = g_try_malloc0 (bitmap);
  g_autofree int64_t *largest = g_new0 (int64_t, n_classes);
  Ring r = { g_try_new (int64_t, 4096), 4096 };
  gboolean ok = seen != NULL && r.q != NULL;
  /* pass 1: the largest piece of each added label; pass 2: measure each piece again,
   * clear the small ones */
  for (int pass = 1; pass <= 2 && ok; pass++)
    {
      if (pass == 2)
        memset (seen, 0, bitmap);
      for (int64_t i = 0; i < n && ok; i++)
        {
          int32_t l = lv_volume_get_index (out, i);
          if (l == 0 || l >= n_classes || lv_volume_get_index (input, i) != 0 || (seen[i >> 3] & (1u << (i & 7))))
            continue;
          int64_t size = flood (input, out, i, seen, FALSE, &r);
          ok = size >= 0;
          if (pass == 1)
            largest[l] = MAX (largest[l], size);
          else if (ok && (double) size < fraction * (double) largest[l])
            {
              ok = flood (input, out, i, NULL, TRUE, &r) >= 0;
              if (added)
                added[l] -= size;
            }
        }
    }
  g_free (r.q);
  if (!ok)
    g_set_error (error, COMPLETION_ERROR, COMPLETION_ERROR_NO_MEMORY,
                 "cannot allocate memory to find fragments of the added organs");
  return ok;
}

LabelVolume *
completion_run (NnNet *net, const LabelVolume *input, const CompletionOptions *options,
                GCancellable *cancellable, GError **error)
{
  const NnConfig *cfg = nn_net_get_config (net);
  CompletionOptions defaults = { 0 };
  const CompletionOptions *opt = options ? options : &defaults;
  const int C = cfg->n_classes;
  /* network grid (D, H, W) = (nz, ny, nx) */
  const int D = cfg->grid[2], H = cfg->grid[1], W = cfg->grid[0];
  const int64_t N = (int64_t) D * H * W;
  int dims[3];
  gboolean any_selected = FALSE;

  if (C > COMPLETION_MAX_CLASSES)
    {
      g_set_error (error, COMPLETION_ERROR, COMPLETION_ERROR_INPUT, "networks of more than %d classes are "
                   "not supported", COMPLETION_MAX_CLASSES);
      return NULL;
    }
  if (lv_volume_n_voxels (input) <= 0)
    {
      g_set_error (error, COMPLETION_ERROR, COMPLETION_ERROR_INPUT, "empty input volume");
      return NULL;
    }
  for (int c = 1; c < C; c++)
    any_selected |= opt->selected[c];

  report (opt, 0.0, "preparing network");
  if (!nn_net_get_prepared_dims (net, dims) || dims[0] != D || dims[1] != H || dims[2] != W)
    if (!nn_net_prepare (net, D, H, W, opt->n_threads, NN_PREPARE_DEFAULT, error))
      return NULL;
  if (g_cancellable_set_error_if_cancelled (cancellable, error))
    return NULL;

  /* 1. nearest-neighbour resample to the grid, one-hot: input is (in_channels, D, H, W) */
  report (opt, 0.02, "resampling input");
  float *x = nn_net_get_input (net);
  memset (x, 0, (size_t) cfg->in_channels * N * sizeof (float));
  for (int z = 0; z < D; z++)
    {
      int64_t sz = nearest (z, D, input->nz);
      for (int y = 0; y < H; y++)
        {
          int64_t sy = nearest (y, H, input->ny);
          for (int xx = 0; xx < W; xx++)
            {
              int64_t sx = nearest (xx, W, input->nx);
              int32_t l = lv_volume_get (input, sx, sy, sz);
              if (l < 0 || l >= cfg->in_channels)
                l = 0;
              x[(int64_t) l * N + ((int64_t) z * H + y) * W + xx] = 1.0f;
            }
        }
    }

  /* 2. the network */
  StageProgress sp = { opt, 0.05, 0.8 };
  if (!nn_net_forward (net, forward_progress, &sp, cancellable, error))
    return NULL;
  const float *probs = nn_net_get_output (net);   /* (C, D, H, W) */

  /* 3 + 4. per slab of input slices: trilinear to (C, S, ny, nx), argmax, merge */
  const int64_t nx = input->nx, ny = input->ny, nz = input->nz, plane = nx * ny;
  if (nx > G_MAXINT / 2 || ny > G_MAXINT / 2 || nz > G_MAXINT / 2)
    {
      g_set_error (error, COMPLETION_ERROR, COMPLETION_ERROR_INPUT, "input volume too large");
      return NULL;
    }
  int64_t S = MAX (1, COMPLETION_SLAB_FLOATS / (C * plane));
  S = MIN (S, nz);
  WorkerPool *pool = nn_net_get_pool (net);
  int nt = worker_pool_get_n_threads (pool);
  g_autofree float *slab = g_try_new (float, C * S * plane);
  g_autofree float *scratch = g_try_new (float, nn_upsample_trilinear_scratch_floats (W, (int) ny, (int) nx, nt));
  g_autoptr (LabelVolume) out = lv_volume_dup (input);
  g_autoptr (LabelVolume) conf = NULL;
  if (slab == NULL || scratch == NULL || out == NULL)
    {
      g_set_error (error, COMPLETION_ERROR, COMPLETION_ERROR_NO_MEMORY,
                   "cannot allocate %.0f MiB for the probability slab", C * S * plane * 4.0 / 1048576.0);
      return NULL;
    }
  if (opt->confidence_out)
    {
      conf = lv_volume_new_like (input, 1);
      if (conf == NULL)
        {
          g_set_error (error, COMPLETION_ERROR, COMPLETION_ERROR_NO_MEMORY, "cannot allocate the confidence volume");
          return NULL;
        }
    }
  int32_t max_class = C - 1;
  if (!lv_volume_widen_for (out, max_class, error))
    return NULL;
  if (opt->added)
    memset (opt->added, 0, (size_t) C * sizeof (int64_t));

  for (int64_t k0 = 0; k0 < nz; k0 += S)
    {
      int64_t k1 = MIN (nz, k0 + S), ns = k1 - k0;
      if (g_cancellable_set_error_if_cancelled (cancellable, error))
        return NULL;
      report (opt, 0.85 + 0.15 * (double) k0 / nz, "interpolating probabilities");
      /* slab is (C, ns, ny, nx) */
      nn_upsample_trilinear (pool, probs, C, D, H, W, (int) nz, (int) ny, (int) nx, (int) k0, (int) k1, slab,
                             scratch);
      for (int64_t q = 0; q < ns * plane; q++)
        {
          /* argmax over background and the organs that may be added: a background voxel
           * of the input can only become one of those */
          int best = 0;
          float pbest = slab[q];
          for (int c = 1; c < C; c++)
            {
              float p = slab[(int64_t) c * ns * plane + q];
              if (any_selected && !opt->selected[c])
                continue;
              if (p > pbest)
                {
                  pbest = p;
                  best = c;
                }
            }
          int64_t idx = k0 * plane + q;
          if (conf)
            lv_volume_set_index (conf, idx, (int32_t) lrintf (CLAMP (pbest, 0.0f, 1.0f) * 100.0f));
          if (lv_volume_get_index (input, idx) != 0 || best == 0)
            continue;
          if (any_selected ? !opt->selected[best] : FALSE)
            continue;
          lv_volume_set_index (out, idx, best);
          if (opt->added)
            opt->added[best]++;
        }
    }
  if (!opt->keep_fragments)
    {
      report (opt, 0.99, "removing fragments");
      if (!completion_drop_fragments (input, out, COMPLETION_FRAGMENT_FRACTION, opt->added, C, error))
        return NULL;
    }
  report (opt, 1.0, "done");
  if (opt->confidence_out)
    *opt->confidence_out = g_steal_pointer (&conf);
  return g_steal_pointer (&out);
}
