/* ar-completion.h: the GUI's asynchronous front of organ completion.
 *
 * The window only talks to this pair; the engine (model/completion/completion-scheme.h)
 * runs in the GTask worker on the input scene (reference-counted, never changed), in the
 * file's own label scheme, with the network loaded from
 * data/models/<arch>.safetensors: only $ANATOMY_MODELS_DIR when it is set, otherwise
 * the source tree, then the installed data.  Without such a file ar_completion_is_available() says so and
 * why, and the window keeps the Complete button insensitive with that reason as its
 * tooltip. */
#pragma once

#include <gio/gio.h>
#include "completion-probs.h"
#include "label-volume.h"
#include "nn-net.h"
#include "scene.h"

G_BEGIN_DECLS

/* The networks are the engine's architectures (NnArch), in the network menu's order. */
const char *ar_network_get_title (NnArch net);   /* "U-Net", "U-Net + skip", ... */

/* TRUE if @net can run here; otherwise *reason (if not NULL) explains why. */
gboolean ar_completion_is_available (NnArch net, char **reason);

/* Complete @input (its volume, in its label scheme input->scheme: every voxel it labels
 * keeps its value, added voxels get the scheme's own ids) for the 12-class organs in
 * @classes (1..12).  The worker holds a reference to @input.  *progress (if not NULL)
 * receives the completed fraction in permille, atomically, from the worker.  A scene
 * without a scheme fails with its scheme_error. */
void ar_completion_run_async (ArScene *input, NnArch net,
                              const int32_t *classes, guint n_classes, gint *progress,
                              GCancellable *cancellable,
                              GAsyncReadyCallback callback, gpointer user_data);
/* The completed volume; *table (may be NULL) receives the names of its ids (the input's
 * and those of the added organs). */
LabelVolume *ar_completion_run_finish (GAsyncResult *result, LabelTable **table, CompletionProbs **probs,
                                       GError **error);

G_END_DECLS
