/* ar-completion.h: the GUI's asynchronous front of organ completion.
 *
 * The window only talks to this pair; the engine (model/completion.h) runs in the
 * GTask worker on a copy of the input, with the network loaded from
 * data/models/<arch>.safetensors: only $ANATOMY_MODELS_DIR when it is set, otherwise
 * the source tree, then the installed data.  Without such a file ar_completion_is_available() says so and
 * why, and the window keeps the Complete button insensitive with that reason as its
 * tooltip. */
#pragma once

#include <gio/gio.h>
#include "label-volume.h"
#include "nn-net.h"

G_BEGIN_DECLS

/* The networks are the engine's architectures (NnArch), in the network menu's order. */
const char *ar_network_get_title (NnArch net);   /* "U-Net", "U-Net + skip", ... */

/* TRUE if @net can run here; otherwise *reason (if not NULL) explains why. */
gboolean ar_completion_is_available (NnArch net, char **reason);

/* Complete a copy of @input for the organs in @labels.  *progress (if not NULL)
 * receives the completed fraction in permille, atomically, from the worker. */
void ar_completion_run_async (const LabelVolume *input, NnArch net,
                              const int32_t *labels, guint n_labels, gint *progress,
                              GCancellable *cancellable,
                              GAsyncReadyCallback callback, gpointer user_data);
LabelVolume *ar_completion_run_finish (GAsyncResult *result, GError **error);

G_END_DECLS
