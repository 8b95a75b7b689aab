/* ar-completion.c: asynchronous completion for the GUI (see ar-completion.h). */
#include "ar-completion.h"

#include "completion.h"

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
  LabelVolume *input;     /* a copy: the window may replace its input meanwhile */
  NnArch net;
  GArray *labels;
  gint *progress;         /* permille, atomic; may be NULL */
} Job;

static void
job_free (Job *j)
{
  lv_volume_free (j->input);
  g_array_unref (j->labels);
  g_free (j);
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
  LabelVolume *out = completion_run (net, j->input, &opts, cancellable, &error);
  if (!out)
    g_task_return_error (task, error);
  else
    g_task_return_pointer (task, out, (GDestroyNotify) lv_volume_free);
}

void
ar_completion_run_async (const LabelVolume *input, NnArch net, const int32_t *labels,
                         guint n_labels, gint *progress, GCancellable *cancellable,
                         GAsyncReadyCallback callback, gpointer user_data)
{
  g_autoptr (GTask) task = g_task_new (NULL, cancellable, callback, user_data);
  g_task_set_source_tag (task, ar_completion_run_async);
  if (n_labels == 0)
    {
      g_task_return_new_error (task, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                               "No organ is ticked for completion");
      return;
    }
  Job *j = g_new0 (Job, 1);
  j->input = lv_volume_dup (input);
  j->net = net;
  j->labels = g_array_new (FALSE, FALSE, sizeof (int32_t));
  g_array_append_vals (j->labels, labels, n_labels);
  j->progress = progress;
  g_task_set_task_data (task, j, (GDestroyNotify) job_free);
  g_task_run_in_thread (task, run_thread);
}

LabelVolume *
ar_completion_run_finish (GAsyncResult *result, GError **error)
{
  return g_task_propagate_pointer (G_TASK (result), error);
}
