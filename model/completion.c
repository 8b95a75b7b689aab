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

/* nearest source index of destination index @d when resizing in -> out */
static int64_t
nearest (int64_t d, int64_t out, int64_t in)
{
  int64_t s = (int64_t) floor (((double) d + 0.5) * (double) in / (double) out);
  return CLAMP (s, 0, in - 1);
}

gboolean
completion_drop_fragments (const LabelVolume *input, LabelVolume *out, double fraction, int64_t *added,
                           int n_classes, GError **error)
{
  const int64_t nx = out->nx, ny = out->ny, nz = out->nz, plane = nx * ny, n = plane * nz;
  g_autofree guint8 *seen = g_try_malloc0 ((size_t) (n + 7) / 8);
  /* voxels of every component, component after component */
  g_autoptr (GArray) vox = g_array_new (FALSE, FALSE, sizeof (int64_t));
  typedef struct { int64_t start, size; int32_t label; } Comp;
  g_autoptr (GArray) comps = g_array_new (FALSE, FALSE, sizeof (Comp));
  if (seen == NULL)
    {
      g_set_error (error, COMPLETION_ERROR, COMPLETION_ERROR_NO_MEMORY,
                   "cannot allocate %.0f MiB to find fragments", n / 8.0 / 1048576.0);
      return FALSE;
    }
#define ADDED(i) (lv_volume_get_index (input, i) == 0 && lv_volume_get_index (out, i) != 0)
#define SEEN(i) (seen[(i) >> 3] & (1u << ((i) & 7)))
#define MARK(i) (seen[(i) >> 3] |= (guint8) (1u << ((i) & 7)))
  for (int64_t i = 0; i < n; i++)
    {
      if (SEEN (i) || !ADDED (i))
        continue;
      Comp c = { vox->len, 0, lv_volume_get_index (out, i) };
      MARK (i);
      g_array_append_val (vox, i);
      /* breadth-first over face neighbours with the same added label */
      for (int64_t q = c.start; q < (int64_t) vox->len; q++)
        {
          int64_t v = g_array_index (vox, int64_t, q);
          int64_t x = v % nx, y = (v / nx) % ny, z = v / plane;
          const int64_t nb[6] = { x > 0 ? v - 1 : -1, x < nx - 1 ? v + 1 : -1, y > 0 ? v - nx : -1,
                                  y < ny - 1 ? v + nx : -1, z > 0 ? v - plane : -1, z < nz - 1 ? v + plane : -1 };
          for (int k = 0; k < 6; k++)
            if (nb[k] >= 0 && !SEEN (nb[k]) && ADDED (nb[k]) && lv_volume_get_index (out, nb[k]) == c.label)
              {
                MARK (nb[k]);
                g_array_append_val (vox, nb[k]);
              }
        }
      c.size = vox->len - c.start;
      g_array_append_val (comps, c);
    }
#undef ADDED
#undef SEEN
#undef MARK
  g_autofree int64_t *largest = g_new0 (int64_t, n_classes);
  for (guint k = 0; k < comps->len; k++)
    {
      Comp *c = &g_array_index (comps, Comp, k);
      if (c->label < n_classes)
        largest[c->label] = MAX (largest[c->label], c->size);
    }
  for (guint k = 0; k < comps->len; k++)
    {
      Comp *c = &g_array_index (comps, Comp, k);
      if (c->label >= n_classes || (double) c->size >= fraction * (double) largest[c->label])
        continue;
      for (int64_t q = c->start; q < c->start + c->size; q++)
        lv_volume_set_index (out, g_array_index (vox, int64_t, q), 0);
      if (added)
        added[c->label] -= c->size;
    }
  return TRUE;
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
  NnPool *pool = nn_net_get_pool (net);
  int nt = nn_pool_get_n_threads (pool);
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
