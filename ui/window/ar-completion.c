/* ar-completion.c: asynchronous completion for the GUI (see ar-completion.h). */
#include "ar-completion.h"

#include "completion-scheme.h"

static const char *const titles[NN_N_ARCHS] = {
  [NN_ARCH_UNET] = "U-Net", [NN_ARCH_UNET_SKIP] = "U-Net + skip", [NN_ARCH_GOOGLENET_SKIP] = "GoogLeNet + skip",
};

const char *
ar_network_get_title (NnArch net)
{
  return net < NN_N_ARCHS ? titles[net] : "?";
}

gboolean
ar_completion_is_available (NnArch net, char **reason)
{
  g_autofree char *looked = NULL;
  g_autofree char *path = completion_find_model (net, &looked);
  if (!path && reason)
    *reason = g_strdup_printf ("No trained %s model is installed: %s.safetensors (looked in %s)",
                               ar_network_get_title (net), nn_arch_to_string (net), looked);
  return path != NULL;
}

typedef struct {
  ArScene *input;         /* a reference: the window may replace its input meanwhile */
  NnArch net;
  GArray *labels;         /* 12-class organs */
  gint *progress;         /* permille, atomic; may be NULL */
} Job;

typedef struct {
  LabelVolume *volume;
  LabelTable *table;
  CompletionProbs *probs;
} Output;

static void
job_free (Job *j)
{
  ar_scene_unref (j->input);
  g_array_unref (j->labels);
  g_free (j);
}

static void
output_free (Output *o)
{
  lv_volume_free (o->volume);
  if (o->table)
    lt_table_free (o->table);
  completion_probs_free (o->probs);
  g_free (o);
}

static void
progress_cb (double fraction, const char *layer, gpointer data)
{
  gint *p = data;
  if (p)
    g_atomic_int_set (p, (gint) (CLAMP (fraction, 0.0, 1.0) * 1000.0));
}

static void
run_thread (GTask *task, gpointer source, gpointer data, GCancellable *cancellable)
{
  Job *j = data;
  GError *error = NULL;
  g_autofree char *looked = NULL;
  g_autofree char *path = completion_find_model (j->net, &looked);
  if (!path)
    {
      g_task_return_new_error (task, G_IO_ERROR, G_IO_ERROR_NOT_FOUND, "No trained %s model: %s.safetensors "
                               "(looked in %s)", ar_network_get_title (j->net),
                               nn_arch_to_string (j->net), looked);
      return;
    }
  g_autoptr (NnNet) net = nn_net_load (path, &error);
  if (!net)
    {
      g_task_return_error (task, error);
      return;
    }
  CompletionOptions opts = { 0 };
  for (guint i = 0; i < j->labels->len; i++)
    {
      int32_t l = g_array_index (j->labels, int32_t, i);
      if (l > 0 && l < COMPLETION_MAX_CLASSES)
        opts.selected[l] = TRUE;
    }
  opts.progress = progress_cb;
  opts.progress_data = j->progress;
  const CompletionSource src = { .scheme = j->input->scheme, .table = j->input->scheme_names,
                                 .by_names = j->input->by_names, .path = j->input->path };
  Output *out = g_new0 (Output, 1);
  opts.probs_out = &out->probs;
  out->volume = completion_run_in_scheme (net, &src, j->input->volume, &opts, &out->table, cancellable, &error);
  if (!out->volume)
    {
      g_free (out);
      g_task_return_error (task, error);
    }
  else
    g_task_return_pointer (task, out, (GDestroyNotify) output_free);
}

void
ar_completion_run_async (ArScene *input, NnArch net, const int32_t *labels,
                         guint n_labels, gint *progress, GCancellable *cancellable,
                         GAsyncReadyCallback callback, gpointer user_data)
{
  g_autoptr (GTask) task = g_task_new (NULL, cancellable, callback, user_data);
  g_task_set_source_tag (task, ar_completion_run_async);
  if (!input->scheme)
    {
      g_task_return_new_error (task, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED,
                               "No organ of %s can be completed: %s", input->path,
                               input->scheme_error ? input->scheme_error->message
                                                   : "its label scheme is unknown");
      return;
    }
  if (n_labels == 0)
    {
      g_task_return_new_error (task, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                               "No organ is ticked for completion");
      return;
    }
  Job *j = g_new0 (Job, 1);
  j->input = ar_scene_ref (input);
  j->net = net;
  j->labels = g_array_new (FALSE, FALSE, sizeof (int32_t));
  g_array_append_vals (j->labels, labels, n_labels);
  j->progress = progress;
  g_task_set_task_data (task, j, (GDestroyNotify) job_free);
  g_task_run_in_thread (task, run_thread);
}

LabelVolume *
ar_completion_run_finish (GAsyncResult *result, LabelTable **table, CompletionProbs **probs, GError **error)
{
  if (table)
    *table = NULL;
  if (probs)
    *probs = NULL;
  Output *out = g_task_propagate_pointer (G_TASK (result), error);
  if (!out)
    return NULL;
  LabelVolume *v = g_steal_pointer (&out->volume);
  if (table)
    *table = g_steal_pointer (&out->table);
  if (probs)
    *probs = g_steal_pointer (&out->probs);
  output_free (out);
  return v;
}
