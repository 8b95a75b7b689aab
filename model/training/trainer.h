/* trainer.h: a whole training run of a completion network (batch 1, AdamW).
 *
 * Every sample is a pure function of (seed, step) (train-data.h), so a run is
 * deterministic for a seed and thread count, and a run resumed from its checkpoint
 * continues bit for bit.  The learning rate warms up linearly over `warmup` steps,
 * then decays along a cosine to 1/20 of its peak at the last planned step.
 *
 * Files of a run writing OUT.safetensors (every write is atomic, see out-file.h):
 *   OUT.checkpoint.safetensors        the network every checkpoint_every steps (a usable model)
 *   OUT.checkpoint.optim.safetensors  AdamW moments, the step and the run's settings
 *   OUT.safetensors                   the network at the end (or when max_minutes ran out)
 * Each network carries a "provenance" metadata entry (JSON): command, seed, steps,
 * data, validation Dice, hyper-parameters, training time, date.
 *
 * Validation: the mean removed-organ Dice of the merged prediction (as completion
 * merges it) on val_cases phantoms from their own seed stream, BatchNorm in eval mode;
 * realistic runs validate on simulated acquisitions from the same stream: val_cases of
 * phantoms and TRAINER_VAL_PER_REAL of each val_real subject.
 */
#pragma once

#include <gio/gio.h>
#include "nn-net.h"
#include "nn-loss.h"

G_BEGIN_DECLS

#define TRAINER_ERROR (trainer_error_quark ())
GQuark trainer_error_quark (void);

typedef enum {
  TRAINER_ERROR_OPTIONS,   /* an option is out of range */
  TRAINER_ERROR_IO,        /* the log file cannot be opened */
} TrainerError;

#define TRAINER_VAL_PER_REAL 3

typedef struct {
  char *out;               /* the model to write (.safetensors), required */
  char *resume;            /* a checkpoint to continue (with its .optim.safetensors), or NULL */
  char *init;              /* a fresh run starts from this model's network and weights (fine-tuning:
                            * fresh AdamW moments, step 0), or NULL; not with resume */
  NnConfig config;         /* a fresh run's network (ignored with resume or init) */
  gboolean phantom;        /* train on a fresh phantom every step... */
  char *data_dir;          /* ...or on this benchmark layout (train-data.h)... */
  gboolean realistic;      /* ...or on simulated acquisitions (train-augment.h) of fresh phantoms
                            * and the real subjects: exactly one of the three */
  char *real;              /* realistic: real training subjects, comma-separated 12-class label maps */
  char *val_real;          /* realistic: real subjects held out for validation, the same way */
  double p_real;           /* realistic: share of samples drawn from real subjects (default 0.5) */
  double p_clean;          /* realistic: share of phantom samples acquired clean (default 0; train-augment.h) */
  double p_sparse;         /* realistic: share of samples whose input lacks muscles, skeleton or
                            * all but the abdominal organs (default 0; train-augment.h) */
  char *log_path;          /* TSV log to append to, or NULL */
  char *command;           /* provenance: the command line of the run (and of its history) */
  gint64 seed;             /* initial weights and every sample (default 1) */
  gint64 steps;            /* planned steps; <= 0: epochs passes over data_dir, else 2000 */
  int epochs;
  int threads;             /* 1..256 (results depend on it; default 1) */
  double lr;               /* peak learning rate (default 2e-3) */
  double weight_decay;     /* AdamW, convolution weights only (default 1e-4) */
  double warmup;           /* linear warm-up steps (default 50) */
  double clip;             /* gradient norm limit, 0 = none (default 5) */
  double removed_weight;   /* extra cross-entropy weight of removed-organ voxels (default 2) */
  int max_shift;           /* augmentation translation in voxels (default 3) */
  int val_cases;           /* validation phantoms (default 4) */
  int val_every;           /* validate every N steps (default 200) */
  int checkpoint_every;    /* default 100 */
  int log_every;           /* a TSV line every N steps (default 10) */
  double max_minutes;      /* > 0: stop (checkpoint, write out) after this wall time */
} TrainerOptions;

/* The defaults above, every string NULL, config zeroed. */
void trainer_options_init (TrainerOptions *o);
/* Frees the strings. */
void trainer_options_clear (TrainerOptions *o);
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (TrainerOptions, trainer_options_clear)

/* For a run resuming from the checkpoint o->resume: takes the run's settings from its
 * optimiser file (seed, planned steps unless o->steps > 0, lr, weight decay, warm-up,
 * clip, removed weight, shift, validation cases, data: phantom or data_dir); o->command
 * becomes "HISTORY && COMMAND". */
gboolean trainer_options_load_checkpoint (TrainerOptions *o, GError **error);

/* OUT.checkpoint.safetensors for @out, and MODEL.optim.safetensors for a model file. */
char *trainer_dup_checkpoint_path (const char *out);
char *trainer_dup_optimizer_path (const char *model);

typedef struct {
  gint64 step;             /* steps done, this one included */
  gint64 steps;            /* planned steps */
  gint64 first_step;       /* the step this run started from (> 0 when resumed) */
  NnLossValue loss;        /* of this step */
  double lr;               /* learning rate of this step */
  gboolean validated;      /* the validation ran after this step */
  double val_dice;         /* the latest validation Dice, -1 before any */
  double seconds;          /* wall time since this run started */
  double total_seconds;    /* the same plus the time of the run's history */
} TrainerProgress;

/* Called after every step, in the thread of trainer_run. */
typedef void (*TrainerProgressFunc) (const TrainerProgress *p, gpointer user_data);

typedef struct {
  gint64 steps;            /* steps done */
  gboolean stopped_early;  /* max_minutes ran out */
  double val_dice;         /* validation of the final network (val_cases > 0), else the latest, or -1 */
} TrainerSummary;

/* Trains as @o says.  @cancellable is checked before every step: a cancelled run writes
 * its checkpoint (resumable), not o->out, and fails with G_IO_ERROR_CANCELLED.  @summary
 * (may be NULL) describes a run that succeeded. */
gboolean trainer_run (const TrainerOptions *o, TrainerProgressFunc progress, gpointer user_data,
                      GCancellable *cancellable, TrainerSummary *summary, GError **error);

G_END_DECLS
