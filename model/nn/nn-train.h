/* nn-train.h: training of a completion network (batch 1).
 *
 * A trainer borrows an NnNet, prepares it with NN_PREPARE_KEEP_ALL at the training
 * grid, and adds what the backward pass needs: a gradient arena laid out exactly
 * like the activation arena (so channel concatenations alias in the gradients
 * too), the pre-normalisation convolution outputs and batch statistics of every
 * ConvBNAct, parameter gradients and AdamW moments.
 *
 * Forward in training mode uses the sample's batch statistics (like PyTorch's
 * BatchNorm3d.train()) and updates the running statistics (momentum 0.1,
 * unbiased variance); eval mode uses the running statistics, exactly what the
 * inference engine folds into the convolutions.
 *
 * Results are bit-identical for the same inputs and thread count.
 */
#pragma once

#include <gio/gio.h>
#include "nn-loss.h"
#include "nn-net.h"
#include "nn-optim.h"

G_BEGIN_DECLS

#define NN_TRAIN_ERROR (nn_train_error_quark ())
GQuark nn_train_error_quark (void);

typedef enum {
  NN_TRAIN_ERROR_MEMORY,    /* buffers cannot be allocated */
  NN_TRAIN_ERROR_STATE,     /* optimiser file does not match the network */
} NnTrainError;

typedef struct _NnTrainer NnTrainer;

/* Prepares @net (borrowed, must outlive the trainer) for a (D, H, W) grid. */
NnTrainer *nn_trainer_new (NnNet *net, int D, int H, int W, int n_threads, GError **error);
void nn_trainer_free (NnTrainer *t);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (NnTrainer, nn_trainer_free)

/* The network's input (in_channels, D, H, W) and output probabilities (n_classes, D, H, W). */
float *nn_trainer_get_input (NnTrainer *t);
const float *nn_trainer_get_output (NnTrainer *t);

/* Forward pass.  training: batch statistics (and, if update_running, the running
 * statistics move towards them); otherwise the running statistics are used. */
void nn_trainer_forward (NnTrainer *t, gboolean training, gboolean update_running);

/* After a training forward: zero the gradients, compute the loss against @target
 * (D*H*W labels) and back-propagate into every parameter gradient. */
NnLossValue nn_trainer_backward (NnTrainer *t, const guint8 *target, guint32 removed_mask,
                                 const NnLossParams *loss);

/* Gradient of parameter @i (as in nn_net_get_params), NULL for running statistics. */
float *nn_trainer_get_grad (NnTrainer *t, int i);

typedef struct {
  float lr;
  float weight_decay;   /* decoupled, on convolution weights only */
  double clip_norm;     /* global gradient norm limit, <= 0 for none */
  NnAdamParams adam;
} NnStepParams;

/* Clip, then one AdamW update of every trainable parameter; increments the step
 * counter.  Returns the gradient norm before clipping. */
double nn_trainer_update (NnTrainer *t, const NnStepParams *p);

/* One full step: training forward, backward, update. */
NnLossValue nn_trainer_step (NnTrainer *t, const guint8 *target, guint32 removed_mask,
                             const NnLossParams *loss, const NnStepParams *p);

int64_t nn_trainer_get_step (const NnTrainer *t);

/* Optimiser state (AdamW moments and the step counter) as safetensors:
 * tensors "adam.m.NAME" and "adam.v.NAME" for every trainable parameter,
 * metadata "step" plus the given extra key/value pairs (NULL-terminated). */
gboolean nn_trainer_save_optimizer (NnTrainer *t, const char *path, const char *const *extra_kv,
                                    GError **error);
/* Restores the moments and the step; @metadata_out (may be NULL) receives a
 * copy of the file's metadata (free with g_hash_table_unref). */
gboolean nn_trainer_load_optimizer (NnTrainer *t, const char *path, GHashTable **metadata_out,
                                    GError **error);

G_END_DECLS
