/* nn-net-private.h: NnNet internals shared by the network's files (nn-net.c: graph
 * and parameters, nn-net-file.c: weights files, nn-net-plan.c: memory plan and
 * forward) and the training code (nn-train.c).  Not part of the public API. */
#pragma once

#include "nn-net.h"

G_BEGIN_DECLS

typedef enum {
  LAYER_CONV,
  LAYER_CONVT,
  LAYER_MAXPOOL,
  LAYER_SOFTMAX,
} LayerKind;

typedef struct {
  LayerKind kind;
  char *name;            /* module prefix, e.g. "enc.0.1" or "enc.1.0.b4.0" (pool) */
  NnConvGeom geom;       /* conv / transposed conv / pool window (cin = cout = C for pool) */
  NnAct act;
  int in, out;           /* tensor ids */
  int p_weight, p_bias;  /* parameter ids or -1 */
  int p_bn;              /* id of bn.weight (bias, running_mean, running_var follow) or -1 */
  float *w, *b;          /* inference weights (folded copies or the parameters themselves) */
  double flops;
} Layer;

typedef struct {
  int channels;
  int level;             /* dims = grid >> level */
  int root;              /* tensor owning the storage (itself for roots) */
  int ch_offset;         /* channel offset inside the root */
  int first, last;       /* lifetime in layer indices (roots only) */
  int64_t offset;        /* floats into the arena (roots only) */
  float *data;
} Tensor;

struct _NnNet {
  NnConfig cfg;
  char *path;            /* the file it was loaded from, or NULL */
  char **class_names;    /* n_classes */
  GHashTable *metadata;  /* extra metadata: provenance, ... */
  GArray *params;        /* NnParam */
  GArray *layers;        /* Layer */
  GArray *tensors;       /* Tensor */
  int input, output;     /* tensor ids */

  /* prepared state */
  gboolean prepared;
  int dims[NN_MAX_DEPTH][3];
  WorkerPool *pool;
  float *arena;
  gsize arena_bytes;
  float *scratch;
  gsize scratch_bytes;
  float *folded;         /* folded conv weights and biases */
  double total_flops;
};

/* Free the arena, scratch and folded weights of nn_net_prepare (net->prepared = FALSE). */
void nn_net_release_prepared (NnNet *net);
/* Point every layer at its inference weights: BatchNorm folded into a copy of its
 * convolution's weights in net->folded (sized by nn_net_prepare), else the parameters. */
void nn_net_fold_weights (NnNet *net);

G_END_DECLS
