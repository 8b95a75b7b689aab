/* nn-train.c: training-mode forward, backward through the graph, AdamW updates. */
#include "nn-train.h"
#include "nn-backward.h"
#include "nn-net-private.h"
#include "nn-safetensors.h"

#include <math.h>
#include <string.h>

G_DEFINE_QUARK (nn-train-error-quark, nn_train_error)

typedef struct {
  float *z;          /* (cout, n) convolution output before BatchNorm, or NULL */
  float *mean, *invstd, *var;   /* (cout) batch statistics */
} LayerState;

struct _NnTrainer {
  NnNet *net;
  int n_threads;
  int n_params;
  float *garena;        /* gradients, same layout as net->arena */
  LayerState *ls;       /* per layer */
  float *state_block;   /* storage of every LayerState */
  float **grads;        /* per parameter, NULL for running statistics */
  float **m, **v;       /* AdamW moments, NULL for running statistics */
  float *tmp_dz, *tmp_dx, *wflip, *bscratch;
  int64_t step;
};

static gboolean
param_is_running_stat (const NnParam *p)
{
  return g_str_has_suffix (p->name, ".running_mean") || g_str_has_suffix (p->name, ".running_var");
}

static const Tensor *
tensor (const NnTrainer *t, int id)
{
  return &g_array_index (t->net->tensors, Tensor, id);
}

static float *
tensor_grad (const NnTrainer *t, int id)
{
  return t->garena + (tensor (t, id)->data - t->net->arena);
}

static int64_t
tensor_vox (const NnTrainer *t, int id)
{
  const int *d = t->net->dims[tensor (t, id)->level];
  return (int64_t) d[0] * d[1] * d[2];
}

static NnParam *
param (const NnTrainer *t, int i)
{
  return &g_array_index (t->net->params, NnParam, i);
}

void
nn_trainer_free (NnTrainer *t)
{
  if (t == NULL)
    return;
  g_free (t->garena);
  g_free (t->ls);
  g_free (t->state_block);
  for (int i = 0; i < t->n_params; i++)
    {
      g_free (t->grads[i]);
      g_free (t->m[i]);
      g_free (t->v[i]);
    }
  g_free (t->grads);
  g_free (t->m);
  g_free (t->v);
  g_free (t->tmp_dz);
  g_free (t->tmp_dx);
  g_free (t->wflip);
  g_free (t->bscratch);
  g_free (t);
}

NnTrainer *
nn_trainer_new (NnNet *net, int D, int H, int W, int n_threads, GError **error)
{
  if (!nn_net_prepare (net, D, H, W, n_threads, NN_PREPARE_KEEP_ALL, error))
    return NULL;
  g_autoptr (NnTrainer) t = g_new0 (NnTrainer, 1);
  int nt = worker_pool_get_n_threads (net->pool);
  int n_layers = (int) net->layers->len;
  t->net = net;
  t->n_threads = nt;
  t->n_params = (int) net->params->len;

  t->garena = g_try_malloc0 (net->arena_bytes);
  t->ls = g_new0 (LayerState, n_layers);
  t->grads = g_new0 (float *, t->n_params);
  t->m = g_new0 (float *, t->n_params);
  t->v = g_new0 (float *, t->n_params);
  for (int i = 0; i < t->n_params; i++)
    if (!param_is_running_stat (param (t, i)))
      {
        t->grads[i] = g_new0 (float, param (t, i)->n);
        t->m[i] = g_new0 (float, param (t, i)->n);
        t->v[i] = g_new0 (float, param (t, i)->n);
      }

  /* sizes of the per-layer state and the shared temporaries */
  int64_t state = 0, dz = 16, dx = 16, wf = 16, bs = 16;
  for (int li = 0; li < n_layers; li++)
    {
      const Layer *l = &g_array_index (net->layers, Layer, li);
      int64_t nin = tensor_vox (t, l->in), nout = tensor_vox (t, l->out);
      int64_t k3 = (int64_t) l->geom.k[0] * l->geom.k[1] * l->geom.k[2];
      switch (l->kind)
        {
        case LAYER_CONV:
          if (l->p_bn >= 0)
            {
              state += l->geom.cout * nout + 3 * l->geom.cout;
              dz = MAX (dz, l->geom.cout * nout);
            }
          dx = MAX (dx, l->geom.cin * nin);
          wf = MAX (wf, (int64_t) l->geom.cin * l->geom.cout * k3);
          bs = MAX (bs, nn_conv3d_backward_weights_scratch_floats (&l->geom, nout,
                                                                   net->dims[tensor (t, l->in)->level][2], nt));
          bs = MAX (bs, nn_conv3d_backward_input_scratch_floats (&l->geom, nin, nt));
          break;
        case LAYER_CONVT:
          dx = MAX (dx, l->geom.cin * nin);
          bs = MAX (bs, nn_conv_transpose3d_backward_scratch_floats (&l->geom, nin, nt));
          break;
        default:
          break;
        }
    }
  t->state_block = g_try_new (float, MAX (state, 16));
  t->tmp_dz = g_try_new (float, dz);
  t->tmp_dx = g_try_new (float, dx);
  t->wflip = g_try_new (float, wf);
  t->bscratch = g_try_new (float, bs * nt);
  if (t->garena == NULL || t->state_block == NULL || t->tmp_dz == NULL || t->tmp_dx == NULL
      || t->wflip == NULL || t->bscratch == NULL)
    {
      g_set_error (error, NN_TRAIN_ERROR, NN_TRAIN_ERROR_MEMORY,
                   "cannot allocate the training buffers for a %d×%d×%d grid (about %.0f MiB)", W, H, D,
                   (net->arena_bytes + (state + dz + dx + wf + bs * nt) * 4.0) / 1048576.0);
      return NULL;
    }
  float *s = t->state_block;
  for (int li = 0; li < n_layers; li++)
    {
      const Layer *l = &g_array_index (net->layers, Layer, li);
      if (l->kind == LAYER_CONV && l->p_bn >= 0)
        {
          int64_t nout = tensor_vox (t, l->out);
          t->ls[li].z = s;
          s += l->geom.cout * nout;
          t->ls[li].mean = s;
          s += l->geom.cout;
          t->ls[li].invstd = s;
          s += l->geom.cout;
          t->ls[li].var = s;
          s += l->geom.cout;
        }
    }
  return g_steal_pointer (&t);
}

float *
nn_trainer_get_input (NnTrainer *t)
{
  return nn_net_get_input (t->net);
}

const float *
nn_trainer_get_output (NnTrainer *t)
{
  return nn_net_get_output (t->net);
}

float *
nn_trainer_get_grad (NnTrainer *t, int i)
{
  return i >= 0 && i < t->n_params ? t->grads[i] : NULL;
}

int64_t
nn_trainer_get_step (const NnTrainer *t)
{
  return t->step;
}

void
nn_trainer_forward (NnTrainer *t, gboolean training, gboolean update_running)
{
  NnNet *net = t->net;
  const float slope = net->cfg.slope, eps = net->cfg.bn_eps;

  for (guint li = 0; li < net->layers->len; li++)
    {
      const Layer *l = &g_array_index (net->layers, Layer, li);
      const Tensor *in = tensor (t, l->in), *out = tensor (t, l->out);
      const int *d = net->dims[in->level];
      int64_t nout = tensor_vox (t, l->out);
      const float *w = l->p_weight >= 0 ? param (t, l->p_weight)->data : NULL;
      const float *b = l->p_bias >= 0 ? param (t, l->p_bias)->data : NULL;

      switch (l->kind)
        {
        case LAYER_CONV:
          if (l->p_bn >= 0)
            {
              /* z = conv (in, w); out = act (BN (z)) */
              const LayerState *st = &t->ls[li];
              const float *gamma = param (t, l->p_bn)->data, *beta = param (t, l->p_bn + 1)->data;
              float *rmean = param (t, l->p_bn + 2)->data, *rvar = param (t, l->p_bn + 3)->data;
              int C = l->geom.cout;
              nn_conv3d_best (net->pool, &l->geom, in->data, d[0], d[1], d[2], w, NULL, NN_ACT_NONE, 0.0f, st->z,
                         net->scratch);
              if (training)
                {
                  nn_batchnorm_train_forward (net->pool, st->z, C, nout, gamma, beta, eps, out->data,
                                              st->mean, st->invstd, st->var);
                  if (update_running)
                    for (int c = 0; c < C; c++)
                      {
                        float unbiased = nout > 1 ? st->var[c] * (float) nout / (float) (nout - 1) : st->var[c];
                        rmean[c] = 0.9f * rmean[c] + 0.1f * st->mean[c];
                        rvar[c] = 0.9f * rvar[c] + 0.1f * unbiased;
                      }
                }
              else
                nn_batchnorm_ref (st->z, C, nout, gamma, beta, rmean, rvar, eps, out->data);
              nn_activate (out->data, C * nout, l->act, slope);
            }
          else
            nn_conv3d_best (net->pool, &l->geom, in->data, d[0], d[1], d[2], w, b, l->act, slope, out->data,
                       net->scratch);
          break;
        case LAYER_CONVT:
          nn_conv_transpose3d (net->pool, &l->geom, in->data, d[0], d[1], d[2], w, b, l->act, slope,
                               out->data, net->scratch);
          break;
        case LAYER_MAXPOOL:
          nn_maxpool3d (net->pool, l->geom.cin, l->geom.k, l->geom.s, l->geom.p, in->data, d[0], d[1], d[2],
                        out->data, net->scratch);
          break;
        case LAYER_SOFTMAX:
          nn_softmax_channels (net->pool, in->data, in->channels, (int64_t) d[0] * d[1] * d[2], out->data);
          break;
        }
    }
}

NnLossValue
nn_trainer_backward (NnTrainer *t, const guint8 *target, guint32 removed_mask, const NnLossParams *loss)
{
  NnNet *net = t->net;
  const float slope = net->cfg.slope;
  int n_layers = (int) net->layers->len;

  nn_zero (net->pool, t->garena, net->arena_bytes);
  for (int i = 0; i < t->n_params; i++)
    if (t->grads[i])
      memset (t->grads[i], 0, (size_t) param (t, i)->n * sizeof (float));

  /* the last layer is the softmax: the loss gives the gradient of its input */
  const Layer *sm = &g_array_index (net->layers, Layer, n_layers - 1);
  g_assert (sm->kind == LAYER_SOFTMAX);
  NnLossValue v = nn_softmax_loss (net->pool, tensor (t, sm->out)->data, target, net->cfg.n_classes,
                                   tensor_vox (t, sm->out), removed_mask, loss, tensor_grad (t, sm->in));

  for (int li = n_layers - 2; li >= 0; li--)
    {
      const Layer *l = &g_array_index (net->layers, Layer, li);
      const Tensor *in = tensor (t, l->in), *out = tensor (t, l->out);
      const int *d = net->dims[in->level];
      int64_t nout = tensor_vox (t, l->out);
      float *gy = tensor_grad (t, l->out);
      float *gx = l->in == net->input ? NULL : tensor_grad (t, l->in);
      const float *w = l->p_weight >= 0 ? param (t, l->p_weight)->data : NULL;
      float *gw = l->p_weight >= 0 ? t->grads[l->p_weight] : NULL;
      float *gb = l->p_bias >= 0 ? t->grads[l->p_bias] : NULL;

      switch (l->kind)
        {
        case LAYER_CONV:
          {
            const float *gz = gy;
            nn_activate_backward (out->data, gy, l->geom.cout * nout, l->act, slope);
            if (l->p_bn >= 0)
              {
                const LayerState *st = &t->ls[li];
                nn_batchnorm_train_backward (net->pool, st->z, l->geom.cout, nout, param (t, l->p_bn)->data,
                                             st->mean, st->invstd, gy, t->tmp_dz, t->grads[l->p_bn],
                                             t->grads[l->p_bn + 1]);
                gz = t->tmp_dz;
              }
            nn_conv3d_backward_weights (net->pool, &l->geom, in->data, d[0], d[1], d[2], gz, gw, gb,
                                        t->bscratch);
            if (gx)
              nn_conv3d_backward_input (net->pool, &l->geom, gz, d[0], d[1], d[2], w, gx, t->wflip, t->tmp_dx,
                                        t->bscratch);
          }
          break;
        case LAYER_CONVT:
          nn_activate_backward (out->data, gy, l->geom.cout * nout, l->act, slope);
          nn_conv_transpose3d_backward_weights (net->pool, &l->geom, in->data, d[0], d[1], d[2], gy, gw, gb,
                                                t->bscratch);
          if (gx)
            nn_conv_transpose3d_backward_input (net->pool, &l->geom, gy, d[0], d[1], d[2], w, gx, t->tmp_dx,
                                                t->bscratch);
          break;
        case LAYER_MAXPOOL:
          if (gx)
            nn_maxpool3d_backward (net->pool, l->geom.cin, l->geom.k, l->geom.s, l->geom.p, in->data, d[0],
                                   d[1], d[2], gy, gx);
          break;
        case LAYER_SOFTMAX:
          g_assert_not_reached ();
        }
    }
  return v;
}

double
nn_trainer_update (NnTrainer *t, const NnStepParams *p)
{
  g_autofree float **gl = g_new0 (float *, t->n_params);
  g_autofree int64_t *sizes = g_new0 (int64_t, t->n_params);
  int n = 0;
  for (int i = 0; i < t->n_params; i++)
    if (t->grads[i])
      {
        gl[n] = t->grads[i];
        sizes[n++] = param (t, i)->n;
      }
  double norm = nn_clip_grad_norm (gl, sizes, n, p->clip_norm);
  t->step++;
  for (int i = 0; i < t->n_params; i++)
    if (t->grads[i])
      {
        NnParam *pp = param (t, i);
        float wd = pp->ndim == 5 ? p->weight_decay : 0.0f;
        nn_adamw_step (pp->data, t->grads[i], t->m[i], t->v[i], pp->n, t->step, p->lr, wd, &p->adam);
      }
  return norm;
}

NnLossValue
nn_trainer_step (NnTrainer *t, const guint8 *target, guint32 removed_mask, const NnLossParams *loss,
                 const NnStepParams *p)
{
  nn_trainer_forward (t, TRUE, TRUE);
  NnLossValue v = nn_trainer_backward (t, target, removed_mask, loss);
  nn_trainer_update (t, p);
  return v;
}

gboolean
nn_trainer_save_optimizer (NnTrainer *t, const char *path, const char *const *extra_kv, GError **error)
{
  g_autoptr (GPtrArray) kv = g_ptr_array_new_with_free_func (g_free);
  g_autoptr (GPtrArray) names = g_ptr_array_new_with_free_func (g_free);
  g_autoptr (GArray) entries = g_array_new (FALSE, TRUE, sizeof (NnStEntry));

  g_ptr_array_add (kv, g_strdup ("step"));
  g_ptr_array_add (kv, g_strdup_printf ("%" G_GINT64_FORMAT, t->step));
  for (int i = 0; extra_kv && extra_kv[i] && extra_kv[i + 1]; i += 2)
    {
      g_ptr_array_add (kv, g_strdup (extra_kv[i]));
      g_ptr_array_add (kv, g_strdup (extra_kv[i + 1]));
    }
  g_ptr_array_add (kv, NULL);
  for (int i = 0; i < t->n_params; i++)
    if (t->m[i])
      for (int which = 0; which < 2; which++)
        {
          const NnParam *p = param (t, i);
          char *name = g_strdup_printf ("adam.%s.%s", which ? "v" : "m", p->name);
          NnStEntry e = { .name = name, .ndim = p->ndim, .data = which ? t->v[i] : t->m[i] };
          for (int dd = 0; dd < p->ndim; dd++)
            e.shape[dd] = p->shape[dd];
          g_ptr_array_add (names, name);
          g_array_append_val (entries, e);
        }
  return nn_st_save (path, (const char *const *) kv->pdata, (const NnStEntry *) (void *) entries->data,
                     (int) entries->len, TRUE, error);
}

gboolean
nn_trainer_load_optimizer (NnTrainer *t, const char *path, GHashTable **metadata_out, GError **error)
{
  g_autoptr (NnStFile) f = nn_st_file_load (path, error);
  if (f == NULL)
    return FALSE;
  const char *step = nn_st_file_get_metadata (f, "step");
  gint64 st;
  if (step == NULL || !g_ascii_string_to_signed (step, 10, 0, G_MAXINT64, &st, NULL))
    {
      g_set_error (error, NN_TRAIN_ERROR, NN_TRAIN_ERROR_STATE, "%s: metadata “step” is missing or invalid",
                   path);
      return FALSE;
    }
  for (int i = 0; i < t->n_params; i++)
    if (t->m[i])
      for (int which = 0; which < 2; which++)
        {
          const NnParam *p = param (t, i);
          g_autofree char *name = g_strdup_printf ("adam.%s.%s", which ? "v" : "m", p->name);
          const NnStTensor *te = nn_st_file_lookup (f, name);
          if (te == NULL || strcmp (te->dtype, "F32") != 0 || te->n_elements != p->n)
            {
              g_set_error (error, NN_TRAIN_ERROR, NN_TRAIN_ERROR_STATE,
                           "%s: tensor %s is missing or has the wrong type or size", path, name);
              return FALSE;
            }
          nn_st_tensor_copy_f32 (f, te, which ? t->v[i] : t->m[i]);
        }
  t->step = st;
  if (metadata_out)
    {
      *metadata_out = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
      GHashTableIter it;
      gpointer k, v;
      g_hash_table_iter_init (&it, f->metadata);
      while (g_hash_table_iter_next (&it, &k, &v))
        g_hash_table_insert (*metadata_out, g_strdup (k), g_strdup (v));
    }
  return TRUE;
}
