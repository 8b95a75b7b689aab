/* completion.c: resample, run the network, interpolate back, merge (see completion.h). */
#include "completion.h"
#include "completion-frame.h"

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

/* Steps 3 and 4 for one slice of the input. */
typedef struct {
  const CompletionFrame *frame;
  const float *probs;          /* (C, D, H, W) */
  int C;
  int classes[COMPLETION_MAX_CLASSES];   /* background, then the classes that may be added */
  int n_classes;
  const LabelVolume *input, *occupied;
  LabelVolume *out;
  int64_t *added;              /* (n_threads, C) */
  int body_axis;               /* the input axis closest to world z (superior) */
  int64_t scan_lo, scan_hi;    /* the labelled slab along it (completion_scanned_slab) */
  int64_t k0;
  GCancellable *cancellable;
} MergeJob;

static void
merge_slice (int64_t task, int thread, void *data)
{
  MergeJob *m = data;
  const LabelVolume *in = m->input;
  const int64_t k = m->k0 + task, plane = in->nx * in->ny;
  float p[COMPLETION_MAX_CLASSES];
  if (g_cancellable_is_cancelled (m->cancellable))
    return;
  /* only within the scanned slab along the body axis */
  int64_t lo[3] = { 0, 0, k }, hi[3] = { in->nx - 1, in->ny - 1, k };
  lo[m->body_axis] = MAX (lo[m->body_axis], m->scan_lo);
  hi[m->body_axis] = MIN (hi[m->body_axis], m->scan_hi);
  if (lo[2] > hi[2])
    return;
  for (int64_t j = lo[1]; j <= hi[1]; j++)
    for (int64_t i = lo[0]; i <= hi[0]; i++)
      {
        int64_t idx = k * plane + j * in->nx + i;
        completion_frame_probs_at (m->frame, m->probs, m->C, m->classes, m->n_classes, i, j, k, p);
        /* argmax over background and the organs that may be added: a background voxel
         * of the input can only become one of those (ties: the lower class) */
        int best = 0;
        for (int c = 1; c < m->n_classes; c++)
          if (p[c] > p[best])
            best = c;
        if (best == 0 || lv_volume_get_index (m->occupied, idx) != 0)
          continue;
        lv_volume_set_index (m->out, idx, m->classes[best]);
        m->added[(int64_t) thread * m->C + m->classes[best]]++;
      }
}

/* Is slice @s along @axis of @v all background? */
static gboolean
slice_empty (const LabelVolume *v, int axis, int64_t s)
{
  const int64_t n[3] = { v->nx, v->ny, v->nz };
  const int a = (axis + 1) % 3, b = (axis + 2) % 3;
  int64_t q[3];
  q[axis] = s;
  for (q[b] = 0; q[b] < n[b]; q[b]++)
    for (q[a] = 0; q[a] < n[a]; q[a]++)
      if (lv_volume_get (v, q[0], q[1], q[2]) != 0)
        return FALSE;
  return TRUE;
}

int
completion_scanned_slab (const LabelVolume *v, int64_t *lo, int64_t *hi)
{
  const int axis = lv_affine_voxel_axis_along (v->affine, 2);
  const int64_t n = axis == 0 ? v->nx : axis == 1 ? v->ny : v->nz;
  /* from each end inwards, so that only the empty slices and one more are read */
  *lo = 0;
  *hi = n - 1;
  while (*lo < n && slice_empty (v, axis, *lo))
    (*lo)++;
  while (*hi > *lo && slice_empty (v, axis, *hi))
    (*hi)--;
  return axis;
}

double
completion_voxel_mm (const NnConfig *cfg)
{
  return cfg->voxel_mm > 0 ? cfg->voxel_mm : COMPLETION_DEFAULT_CUBE_MM / cfg->grid[0];
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
  /* nothing to complete from (a 1 MB gzip of 1024³ zeros took 2.3 GB and 42 s before
   * giving nothing): refused before the network or any volume-sized buffer */
  int32_t lo, hi;
  lv_volume_min_max (input, &lo, &hi);
  if (lo == 0 && hi == 0)
    {
      g_set_error (error, COMPLETION_ERROR, COMPLETION_ERROR_INPUT,
                   "the input has no labels (every voxel is background): there is nothing to complete from");
      return NULL;
    }
  for (int c = 1; c < C; c++)
    any_selected |= opt->selected[c];
  const LabelVolume *occupied = opt->occupied ? opt->occupied : input;
  if (occupied->nx != input->nx || occupied->ny != input->ny || occupied->nz != input->nz)
    {
      g_set_error (error, COMPLETION_ERROR, COMPLETION_ERROR_INPUT, "the occupied-voxel map and the input differ in size");
      return NULL;
    }

  report (opt, 0.0, "preparing network");
  if (!nn_net_get_prepared_dims (net, dims) || dims[0] != D || dims[1] != H || dims[2] != W)
    if (!nn_net_prepare (net, D, H, W, opt->n_threads, NN_PREPARE_DEFAULT, error))
      return NULL;
  if (g_cancellable_set_error_if_cancelled (cancellable, error))
    return NULL;

  /* 1. the input placed in the network's cube, one-hot: (in_channels, D, H, W) */
  report (opt, 0.02, "placing the input in the network's frame");
  CompletionFrame frame;
  const int cube[3] = { W, H, D };
  double voxel_mm = completion_voxel_mm (cfg);
  if (!completion_frame_init (&frame, input, cube, voxel_mm, NULL, error))
    return NULL;
  completion_frame_sample_input (&frame, input, cfg->in_channels, nn_net_get_input (net));

  /* 2. the network */
  StageProgress sp = { opt, 0.05, 0.8 };
  if (!nn_net_forward (net, forward_progress, &sp, cancellable, error))
    return NULL;
  const float *probs = nn_net_get_output (net);   /* (C, D, H, W) */
  /* a network with NaN or infinite weights gives NaN everywhere: nothing would be added,
   * silently; refuse it instead */
  for (int64_t i = 0, n = (int64_t) C * D * H * W; i < n; i++)
    if (!isfinite (probs[i]))
      {
        const char *first = NULL;
        int64_t bad = nn_net_count_nonfinite (net, &first);
        g_autofree char *why = bad ? g_strdup_printf (" (%" G_GINT64_FORMAT " of its weights are NaN or infinite, "
                                                      "the first in %s)", bad, first) : g_strdup ("");
        g_set_error (error, COMPLETION_ERROR, COMPLETION_ERROR_MODEL,
                     "%s: the network's probabilities are not finite numbers%s: nothing can be completed "
                     "with this model", nn_net_get_path (net) ? nn_net_get_path (net) : "the network", why);
        return NULL;
      }

  /* 3 + 4. per input slice, in parallel: probabilities of background and the classes
   * that may be added at each voxel (trilinear in the cube), argmax, merge */
  const int64_t nz = input->nz;
  WorkerPool *pool = nn_net_get_pool (net);
  const int nt = worker_pool_get_n_threads (pool);
  g_autoptr (LabelVolume) out = lv_volume_dup (input);
  if (out == NULL || !lv_volume_widen_for (out, C - 1, error))
    {
      g_set_error (error, COMPLETION_ERROR, COMPLETION_ERROR_NO_MEMORY, "cannot allocate the completed volume");
      return NULL;
    }
  MergeJob job = { .frame = &frame, .probs = probs, .C = C, .input = input, .occupied = occupied, .out = out,
                   .cancellable = cancellable };
  job.body_axis = completion_scanned_slab (occupied, &job.scan_lo, &job.scan_hi);
  job.classes[job.n_classes++] = 0;
  for (int c = 1; c < C; c++)
    if (!any_selected || opt->selected[c])
      job.classes[job.n_classes++] = c;
  g_autofree int64_t *added = g_new0 (int64_t, (gsize) nt * C);
  job.added = added;
  const int64_t chunk = MAX (1, nz / 20);
  for (int64_t k0 = 0; k0 < nz; k0 += chunk)
    {
      report (opt, 0.85 + 0.14 * (double) k0 / nz, "bringing probabilities back to the input grid");
      job.k0 = k0;
      worker_pool_run (pool, MIN (chunk, nz - k0), merge_slice, &job);
      if (g_cancellable_set_error_if_cancelled (cancellable, error))
        return NULL;
    }
  if (opt->added)
    for (int c = 0; c < C; c++)
      {
        opt->added[c] = 0;
        for (int t = 0; t < nt; t++)
          opt->added[c] += added[(int64_t) t * C + c];
      }
  if (!opt->keep_fragments)
    {
      report (opt, 0.99, "removing fragments");
      if (!completion_drop_fragments (occupied, out, COMPLETION_FRAGMENT_FRACTION, opt->added, C, error))
        return NULL;
    }
  if (opt->probs_out)
    {
      /* only the organs that may be added: 3 of 13 planes in the usual case */
      gboolean keep[COMPLETION_MAX_CLASSES] = { FALSE };
      for (int c = 1; c < C; c++)
        keep[c] = any_selected ? opt->selected[c] : TRUE;
      g_autoptr (CompletionProbs) kept = completion_probs_new (&frame, probs, C, keep, input);
      if (kept == NULL)
        {
          g_set_error (error, COMPLETION_ERROR, COMPLETION_ERROR_NO_MEMORY, "cannot keep the probabilities");
          return NULL;
        }
      completion_probs_measure (kept, occupied, out);
      *opt->probs_out = g_steal_pointer (&kept);
    }
  report (opt, 1.0, "done");
  return g_steal_pointer (&out);
}
