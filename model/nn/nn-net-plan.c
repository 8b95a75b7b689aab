/* nn-net-plan.c: sizes, memory plan and the forward pass.
 *
 * nn_net_prepare computes every tensor's size and lifetime from the grid,
 * places the tensors in one arena (greedy first fit by decreasing size among
 * those whose lifetimes overlap), sizes the per-thread scratch as the maximum
 * over the layers, allocates all of it once and folds BatchNorm into copies of
 * the convolution weights; nn_net_forward then runs the layers without
 * allocating, with progress and cancellation between layers.
 */
#include "nn-net.h"
#include "nn-net-private.h"

#include <cblas.h>
#include <string.h>

void
nn_net_release_prepared (NnNet *net)
{
  g_clear_pointer (&net->arena, g_free);
  g_clear_pointer (&net->scratch, g_free);
  g_clear_pointer (&net->folded, g_free);
  net->prepared = FALSE;
}

/* Inference weights: BatchNorm folded into its convolution (into net->folded). */
void
nn_net_fold_weights (NnNet *net)
{
  int n_layers = (int) net->layers->len;
  /* inference weights: BatchNorm folded into its convolution */
  float *fp = net->folded;
  for (int li = 0; li < n_layers; li++)
    {
      Layer *l = &g_array_index (net->layers, Layer, li);
      l->w = l->p_weight >= 0 ? g_array_index (net->params, NnParam, l->p_weight).data : NULL;
      l->b = l->p_bias >= 0 ? g_array_index (net->params, NnParam, l->p_bias).data : NULL;
      if (l->p_bn >= 0)
        {
          int64_t per_out = (int64_t) l->geom.cin * l->geom.k[0] * l->geom.k[1] * l->geom.k[2];
          int64_t nw = per_out * l->geom.cout;
          const NnParam *bn = &g_array_index (net->params, NnParam, l->p_bn);
          memcpy (fp, l->w, (size_t) nw * sizeof (float));
          memset (fp + nw, 0, (size_t) l->geom.cout * sizeof (float));
          nn_fold_batchnorm (fp, fp + nw, l->geom.cout, per_out, bn[0].data, bn[1].data, bn[2].data,
                             bn[3].data, net->cfg.bn_eps);
          l->w = fp;
          l->b = fp + nw;
          fp += (nw + l->geom.cout + 15) & ~(int64_t) 15;
        }
    }
}

static int64_t
tensor_voxels (const NnNet *net, const Tensor *t)
{
  const int *d = net->dims[t->level];
  return (int64_t) d[0] * d[1] * d[2];
}

static int
cmp_size_desc (gconstpointer a, gconstpointer b, gpointer data)
{
  const int64_t *sizes = data;
  int x = *(const int *) a, y = *(const int *) b;
  if (sizes[x] != sizes[y])
    return sizes[x] > sizes[y] ? -1 : 1;
  return x - y;
}

gboolean
nn_net_prepare (NnNet *net, int D, int H, int W, int n_threads, NnPrepareFlags flags, GError **error)
{
  const int L = net->cfg.depth, mult = 1 << (L - 1);
  int nt = n_threads > 0 ? n_threads : (int) g_get_num_processors ();
  int n_tensors = (int) net->tensors->len, n_layers = (int) net->layers->len;

  if (D < mult || H < mult || W < mult || D % mult || H % mult || W % mult || D > 2048 || H > 2048
      || W > 2048)
    {
      g_set_error (error, NN_ERROR, NN_ERROR_GRID,
                   "grid %d×%d×%d cannot be used: each size must be a multiple of %d (depth %d), up to 2048",
                   W, H, D, mult, L);
      if (net->path)
        g_prefix_error (error, "%s: ", net->path);
      return FALSE;
    }
  nn_net_release_prepared (net);
  if (net->pool == NULL || worker_pool_get_n_threads (net->pool) != nt)
    {
      g_clear_pointer (&net->pool, worker_pool_free);
      net->pool = worker_pool_new (nt);
    }
  /* the engine runs its own threads: every sgemm call is single-threaded */
  openblas_set_num_threads (1);

  for (int l = 0; l < L; l++)
    {
      net->dims[l][0] = D >> l;
      net->dims[l][1] = H >> l;
      net->dims[l][2] = W >> l;
    }

  /* lifetimes of root tensors, in layer indices */
  g_autofree int64_t *sizes = g_new0 (int64_t, n_tensors);
  Tensor *ts = (Tensor *) (void *) net->tensors->data;
  for (int i = 0; i < n_tensors; i++)
    {
      ts[i].first = G_MAXINT;
      ts[i].last = -1;
    }
  ts[net->input].first = -1;
  ts[net->output].last = n_layers;
  net->total_flops = 0.0;
  int64_t scratch = 0;
  gsize fold_floats = 0;
  for (int li = 0; li < n_layers; li++)
    {
      Layer *l = &g_array_index (net->layers, Layer, li);
      Tensor *in = &ts[ts[l->in].root], *out = &ts[ts[l->out].root];
      in->last = MAX (in->last, li);
      out->first = MIN (out->first, li);
      out->last = MAX (out->last, li);   /* written here: must not share with the input */
      int64_t nin = tensor_voxels (net, &ts[l->in]), nout = tensor_voxels (net, &ts[l->out]);
      int64_t per_out = (int64_t) l->geom.cin * l->geom.k[0] * l->geom.k[1] * l->geom.k[2];
      switch (l->kind)
        {
        case LAYER_CONV:
          l->flops = 2.0 * per_out * l->geom.cout * nout;
          scratch = MAX (scratch, nn_conv3d_scratch_floats_w (&l->geom, nout, net->dims[ts[l->in].level][2], nt));
          if (l->p_bn >= 0)
            fold_floats += (gsize) (per_out * l->geom.cout + l->geom.cout + 15) & ~(gsize) 15;
          break;
        case LAYER_CONVT:
          l->flops = 2.0 * per_out * l->geom.cout * nin;
          scratch = MAX (scratch, nn_conv_transpose3d_scratch_floats (&l->geom, nin, nt));
          break;
        case LAYER_MAXPOOL:
          l->flops = 0.0;
          scratch = MAX (scratch, (int64_t) net->dims[ts[l->in].level][2]);
          break;
        case LAYER_SOFTMAX:
          l->flops = 0.0;
          break;
        }
      net->total_flops += l->flops;
    }

  /* place roots: greedy first fit by decreasing size among overlapping lifetimes */
  g_autoptr (GArray) roots = g_array_new (FALSE, FALSE, sizeof (int));
  for (int i = 0; i < n_tensors; i++)
    if (ts[i].root == i)
      {
        sizes[i] = (ts[i].channels * tensor_voxels (net, &ts[i]) + 15) & ~(int64_t) 15;
        g_array_append_val (roots, i);
      }
  g_array_sort_with_data (roots, cmp_size_desc, sizes);
  int64_t arena = 0;
  for (guint a = 0; a < roots->len; a++)
    {
      int t = g_array_index (roots, int, a);
      int64_t off = 0;
      if (flags & NN_PREPARE_KEEP_ALL)
        off = arena;
      else
        for (gboolean moved = TRUE; moved;)
          {
            moved = FALSE;
            for (guint b = 0; b < a; b++)
              {
                int u = g_array_index (roots, int, b);
                gboolean live = ts[t].first <= ts[u].last && ts[u].first <= ts[t].last;
                if (live && off < ts[u].offset + sizes[u] && ts[u].offset < off + sizes[t])
                  {
                    off = ts[u].offset + sizes[u];
                    moved = TRUE;
                  }
              }
          }
      ts[t].offset = off;
      arena = MAX (arena, off + sizes[t]);
    }

  net->arena_bytes = (gsize) arena * sizeof (float);
  net->scratch_bytes = (gsize) scratch * nt * sizeof (float);   /* per thread */
  net->arena = g_try_malloc (net->arena_bytes);
  net->scratch = g_try_malloc (MAX (net->scratch_bytes, 64));
  net->folded = g_try_malloc (MAX (fold_floats, 16) * sizeof (float));
  if (net->arena == NULL || net->scratch == NULL || net->folded == NULL)
    {
      g_set_error (error, NN_ERROR, NN_ERROR_NO_MEMORY,
                   "cannot allocate %.0f MiB of activations for a %d×%d×%d grid",
                   (net->arena_bytes + net->scratch_bytes) / 1048576.0, W, H, D);
      if (net->path)
        g_prefix_error (error, "%s: ", net->path);
      nn_net_release_prepared (net);
      return FALSE;
    }
  for (int i = 0; i < n_tensors; i++)
    ts[i].data = net->arena + ts[ts[i].root].offset + (int64_t) ts[i].ch_offset * tensor_voxels (net, &ts[i]);

  nn_net_fold_weights (net);
  net->prepared = TRUE;
  return TRUE;
}

gboolean
nn_net_get_prepared_dims (const NnNet *net, int dims[3])
{
  if (!net->prepared)
    return FALSE;
  memcpy (dims, net->dims[0], 3 * sizeof (int));
  return TRUE;
}

float *
nn_net_get_input (NnNet *net)
{
  return net->prepared ? g_array_index (net->tensors, Tensor, net->input).data : NULL;
}

const float *
nn_net_get_output (NnNet *net)
{
  return net->prepared ? g_array_index (net->tensors, Tensor, net->output).data : NULL;
}

WorkerPool *
nn_net_get_pool (NnNet *net)
{
  return net->pool;
}

gboolean
nn_net_forward (NnNet *net, NnProgressFunc progress, gpointer user_data, GCancellable *cancellable,
                GError **error)
{
  const Tensor *ts = (const Tensor *) (const void *) net->tensors->data;
  double done = 0.0;

  if (!net->prepared)
    {
      g_set_error (error, NN_ERROR, NN_ERROR_STATE, "network used before nn_net_prepare()");
      return FALSE;
    }
  for (guint li = 0; li < net->layers->len; li++)
    {
      const Layer *l = &g_array_index (net->layers, Layer, li);
      const Tensor *in = &ts[l->in], *out = &ts[l->out];
      const int *d = net->dims[in->level];

      if (g_cancellable_set_error_if_cancelled (cancellable, error))
        return FALSE;
      switch (l->kind)
        {
        case LAYER_CONV:
          /* in (cin, d) -> out (cout, d): same level, stride 1 */
          nn_conv3d_best (net->pool, &l->geom, in->data, d[0], d[1], d[2], l->w, l->b, l->act,
                          net->cfg.slope, out->data, net->scratch);
          break;
        case LAYER_CONVT:
          /* in (cin, dims[level+1]) -> out (cout, dims[level]) */
          nn_conv_transpose3d (net->pool, &l->geom, in->data, d[0], d[1], d[2], l->w, l->b, l->act,
                               net->cfg.slope, out->data, net->scratch);
          break;
        case LAYER_MAXPOOL:
          nn_maxpool3d (net->pool, l->geom.cin, l->geom.k, l->geom.s, l->geom.p, in->data, d[0], d[1],
                        d[2], out->data, net->scratch);
          break;
        case LAYER_SOFTMAX:
          nn_softmax_channels (net->pool, in->data, in->channels, (int64_t) d[0] * d[1] * d[2], out->data);
          break;
        }
      done += l->flops;
      if (progress)
        progress (net->total_flops > 0 ? done / net->total_flops : 1.0, l->name, user_data);
    }
  return TRUE;
}

double
nn_net_get_flops (const NnNet *net)
{
  return net->total_flops;
}

gsize
nn_net_get_activation_bytes (const NnNet *net)
{
  return net->arena_bytes;
}

gsize
nn_net_get_scratch_bytes (const NnNet *net)
{
  return net->scratch_bytes;
}

int
nn_net_get_n_layers (const NnNet *net)
{
  return (int) net->layers->len;
}

const char *
nn_net_get_layer_name (const NnNet *net, int layer)
{
  return g_array_index (net->layers, Layer, layer).name;
}

const float *
nn_net_get_layer_output (const NnNet *net, int layer, int *channels, int dims[3])
{
  const Layer *l = &g_array_index (net->layers, Layer, layer);
  const Tensor *t = &g_array_index (net->tensors, Tensor, l->out);
  if (channels)
    *channels = t->channels;
  if (dims)
    memcpy (dims, net->dims[t->level], 3 * sizeof (int));
  return net->prepared ? t->data : NULL;
}
