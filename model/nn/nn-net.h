/* nn-net.h: the three completion networks, built from a configuration.
 *
 * A network is a list of layers over a list of tensors (see nn-ops.h for the
 * (C, D, H, W) layout).  Built in three stages:
 *   1. nn_net_new (config) / nn_net_load (file): the graph and the parameters
 *      (PyTorch names and shapes, BatchNorm kept separate so training can use it);
 *   2. nn_net_prepare (D, H, W, threads): sizes every activation and the scratch
 *      from the grid, plans memory, allocates everything once and folds BatchNorm
 *      into the inference weights;
 *   3. nn_net_forward (): no allocation; progress and cancellation between layers.
 * With NN_PREPARE_KEEP_ALL every activation gets its own storage (for a later
 * backward pass); otherwise buffers whose lifetimes do not overlap share memory.
 *
 * Architectures (L = depth, w[i] = widths, B = blocks per level):
 *   unet:           encoder levels of B ConvBNAct(3³), max pool 2 between levels;
 *                   decoder levels of ConvTranspose(2³, stride 2) then B ConvBNAct(3³);
 *                   no skips (the paper's denoising auto-encoder baseline);
 *   unet-skip:      the same with concatenation [upsampled, encoder output] at every level;
 *   googlenet-skip: unet-skip with each ConvBNAct replaced by an Inception module:
 *                   parallel 1³ | 1³→3³ | 1³→3³→3³ | maxpool 3³→1³ branches of w/4
 *                   channels each, concatenated.
 *   All end in a 1³ convolution to n_classes and a softmax across channels.
 */
#pragma once

#include <gio/gio.h>
#include "nn-ops.h"

G_BEGIN_DECLS

#define NN_ERROR (nn_error_quark ())
GQuark nn_error_quark (void);

typedef enum {
  NN_ERROR_CONFIG,      /* missing or invalid metadata / configuration */
  NN_ERROR_MISMATCH,    /* tensors in the file do not match the architecture */
  NN_ERROR_GRID,        /* grid not usable with this network */
  NN_ERROR_NO_MEMORY,   /* allocation failed */
  NN_ERROR_STATE,       /* call order (forward before prepare) */
} NnError;

#define NN_MAX_DEPTH 6
#define NN_FORMAT_NAME "anatomy-completion-network"
#define NN_FORMAT_VERSION 1

typedef enum {
  NN_ARCH_UNET,
  NN_ARCH_UNET_SKIP,
  NN_ARCH_GOOGLENET_SKIP,
  NN_N_ARCHS
} NnArch;

const char *nn_arch_to_string (NnArch arch);
gboolean nn_arch_from_string (const char *s, NnArch *arch);

typedef struct {
  NnArch arch;
  int in_channels;            /* one-hot input channels (13) */
  int n_classes;              /* output classes (13) */
  int depth;                  /* resolution levels, 1..NN_MAX_DEPTH */
  int widths[NN_MAX_DEPTH];   /* channels per level */
  int blocks;                 /* ConvBNAct (or Inception modules) per level and side */
  NnAct act;                  /* NN_ACT_RELU or NN_ACT_LEAKY_RELU */
  float slope;                /* LeakyReLU negative slope */
  float bn_eps;
  int grid[3];                /* network grid nx, ny, nz (the input is resampled to it) */
  float voxel_mm;             /* edge of a grid voxel in mm: the network's physical frame
                               * (completion-frame.h); 0 = not recorded (models before it) */
} NnConfig;

/* The default configuration of an architecture: 4 levels, 2 units per level, 128³ grid,
 * widths 8-16-32-64 (16-32-64-128 for googlenet-skip).  The shipped models differ (their
 * metadata: 64³, 1 unit, 16-32-64-128); see docs/network.md. */
void nn_config_init_default (NnConfig *cfg, NnArch arch);
gboolean nn_config_validate (const NnConfig *cfg, GError **error);
/* Set depth and widths from a comma-separated list such as "16,32,64,128". */
gboolean nn_config_parse_widths (NnConfig *cfg, const char *text, GError **error);

typedef struct {
  char *name;                 /* PyTorch state_dict name, e.g. "enc.0.1.conv.weight" */
  int ndim;
  int64_t shape[5];
  int64_t n;
  float *data;                /* owned by the net */
} NnParam;

typedef struct _NnNet NnNet;

NnNet *nn_net_new (const NnConfig *cfg, GError **error);
void nn_net_free (NnNet *net);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (NnNet, nn_net_free)

/* Read a safetensors model: the architecture comes from __metadata__, then every
 * tensor's name, dtype and shape is checked; the error lists every problem. */
NnNet *nn_net_load (const char *path, GError **error);
/* The same; @warnings (may be NULL; char*, freed with g_free) receives what the file holds
 * that loads but looks wrong: weights that are NaN or infinite (the network's output is
 * then meaningless, and completion refuses it). */
NnNet *nn_net_load_full (const char *path, GPtrArray *warnings, GError **error);
/* The file the network was loaded from (NULL for nn_net_new): its errors name it. */
const char *nn_net_get_path (const NnNet *net);
/* Parameters holding NaN or an infinity; *@first (may be NULL) names the first such tensor. */
int64_t nn_net_count_nonfinite (const NnNet *net, const char **first);
/* Write parameters and full metadata (architecture, grid, labels, provenance). */
gboolean nn_net_save (NnNet *net, const char *path, gboolean overwrite, GError **error);

/* Seeded initialisation: He-uniform convolution weights, PyTorch-style biases,
 * BatchNorm gamma 1, beta 0, mean 0, var 1.  Same seed, same weights everywhere. */
void nn_net_init_random (NnNet *net, guint64 seed);

const NnConfig *nn_net_get_config (const NnNet *net);
/* Class names (n_classes entries) from the model's label table. */
const char *nn_net_get_class_name (const NnNet *net, int cls);
/* Extra metadata (e.g. "provenance"); values are copied. */
void nn_net_set_metadata (NnNet *net, const char *key, const char *value);
const char *nn_net_get_metadata (const NnNet *net, const char *key);
/* Borrowed parameter list. */
NnParam *nn_net_get_params (NnNet *net, int *n_params);
int64_t nn_net_count_parameters (const NnNet *net);

typedef enum {
  NN_PREPARE_DEFAULT = 0,
  NN_PREPARE_KEEP_ALL = 1 << 0,   /* no buffer sharing: every activation stays readable */
} NnPrepareFlags;

/* Size and allocate everything for a (D, H, W) = (nz, ny, nx) grid; each must be
 * a multiple of 2^(depth-1).  n_threads 0 = all processors.  May be called again
 * for another grid.  Also folds BatchNorm (call again after changing parameters). */
gboolean nn_net_prepare (NnNet *net, int D, int H, int W, int n_threads, NnPrepareFlags flags,
                         GError **error);
/* The grid of the last successful nn_net_prepare () as (D, H, W); FALSE if none. */
gboolean nn_net_get_prepared_dims (const NnNet *net, int dims[3]);
/* Input buffer (in_channels, D, H, W) to fill before nn_net_forward (). */
float *nn_net_get_input (NnNet *net);
/* Output probabilities (n_classes, D, H, W) after nn_net_forward (). */
const float *nn_net_get_output (NnNet *net);
WorkerPool *nn_net_get_pool (NnNet *net);

/* Progress: fraction of the network's FLOPs done, and the layer's name. */
typedef void (*NnProgressFunc) (double fraction, const char *layer, gpointer user_data);

gboolean nn_net_forward (NnNet *net, NnProgressFunc progress, gpointer user_data,
                         GCancellable *cancellable, GError **error);

/* Figures of the prepared network. */
double nn_net_get_flops (const NnNet *net);           /* multiply-adds × 2 per forward */
gsize nn_net_get_activation_bytes (const NnNet *net); /* planned arena */
gsize nn_net_get_scratch_bytes (const NnNet *net);
int nn_net_get_n_layers (const NnNet *net);
const char *nn_net_get_layer_name (const NnNet *net, int layer);
/* Output of a layer (channels, dims) — valid after forward for every layer with
 * NN_PREPARE_KEEP_ALL, otherwise only until its buffer is reused. */
const float *nn_net_get_layer_output (const NnNet *net, int layer, int *channels, int dims[3]);

G_END_DECLS
