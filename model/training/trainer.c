/* trainer.c: a whole training run with checkpoints and exact resume (see trainer.h). */
#include "trainer.h"

#include "nifti.h"
#include "nn-safetensors.h"
#include "nn-train.h"
#include "phantom.h"
#include "completion.h"
#include "label-table.h"
#include "train-augment.h"
#include "train-data.h"

#include <json-glib/json-glib.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

G_DEFINE_QUARK (trainer-error-quark, trainer_error)

/* validation subjects come from their own seed stream, never used for training */
#define VAL_STREAM 0x56414c49ull   /* "VALI" */

void
trainer_options_init (TrainerOptions *o)
{
  *o = (TrainerOptions) {
    .seed = 1, .threads = 1, .lr = 2e-3, .weight_decay = 1e-4, .warmup = 50, .clip = 5.0,
    .removed_weight = 2.0, .max_shift = 3, .val_cases = 4, .val_every = 200, .checkpoint_every = 100,
    .log_every = 10, .p_real = 0.5,
  };
}

void
trainer_options_clear (TrainerOptions *o)
{
  g_clear_pointer (&o->out, g_free);
  g_clear_pointer (&o->resume, g_free);
  g_clear_pointer (&o->init, g_free);
  g_clear_pointer (&o->data_dir, g_free);
  g_clear_pointer (&o->real, g_free);
  g_clear_pointer (&o->val_real, g_free);
  g_clear_pointer (&o->log_path, g_free);
  g_clear_pointer (&o->command, g_free);
}

static char *
path_with_suffix (const char *path, const char *suffix)
{
  g_autofree char *stem = g_str_has_suffix (path, ".safetensors")
                            ? g_strndup (path, strlen (path) - strlen (".safetensors")) : g_strdup (path);
  return g_strconcat (stem, suffix, NULL);
}

char *
trainer_dup_checkpoint_path (const char *out)
{
  return path_with_suffix (out, ".checkpoint.safetensors");
}

char *
trainer_dup_optimizer_path (const char *model)
{
  return path_with_suffix (model, ".optim.safetensors");
}

static void
meta_int (const NnStFile *f, const char *key, gint64 *var)
{
  const char *v = nn_st_file_get_metadata (f, key);
  if (v)
    *var = g_ascii_strtoll (v, NULL, 10);
}

static void
meta_int32 (const NnStFile *f, const char *key, int *var)
{
  gint64 x = *var;
  meta_int (f, key, &x);
  *var = (int) x;
}

static void
meta_double (const NnStFile *f, const char *key, double *var)
{
  const char *v = nn_st_file_get_metadata (f, key);
  if (v)
    *var = g_ascii_strtod (v, NULL);
}

gboolean
trainer_options_load_checkpoint (TrainerOptions *o, GError **error)
{
  g_return_val_if_fail (o->resume != NULL, FALSE);
  g_autofree char *op = trainer_dup_optimizer_path (o->resume);
  g_autoptr (NnStFile) f = nn_st_file_load (op, error);
  if (f == NULL)
    return FALSE;
  meta_int (f, "seed", &o->seed);
  if (o->steps <= 0)
    meta_int (f, "planned_steps", &o->steps);
  meta_double (f, "lr", &o->lr);
  meta_double (f, "weight_decay", &o->weight_decay);
  meta_double (f, "warmup", &o->warmup);
  meta_double (f, "clip", &o->clip);
  meta_double (f, "removed_weight", &o->removed_weight);
  meta_int32 (f, "shift", &o->max_shift);
  meta_int32 (f, "val_cases", &o->val_cases);
  const char *v = nn_st_file_get_metadata (f, "command");
  if (v)
    {
      g_autofree char *now = o->command;
      o->command = g_strdup_printf ("%s && %s", v, now);
    }
  if ((v = nn_st_file_get_metadata (f, "data")))
    {
      g_clear_pointer (&o->data_dir, g_free);
      o->realistic = g_strcmp0 (nn_st_file_get_metadata (f, "realistic"), "1") == 0;
      o->phantom = *v == '\0' && !o->realistic;
      if (*v)
        o->data_dir = g_strdup (v);
    }
  if (o->realistic)
    {
      g_free (o->real);
      g_free (o->val_real);
      o->real = g_strdup (nn_st_file_get_metadata (f, "real"));
      o->val_real = g_strdup (nn_st_file_get_metadata (f, "val_real"));
      meta_double (f, "p_real", &o->p_real);
      meta_double (f, "p_clean", &o->p_clean);
      meta_double (f, "p_sparse", &o->p_sparse);
    }
  return TRUE;
}

static gboolean
options_check (const TrainerOptions *o, GError **error)
{
  const char *bad = NULL;
  if (o->out == NULL)
    bad = "no output file";
  else if ((o->phantom ? 1 : 0) + (o->data_dir != NULL ? 1 : 0) + (o->realistic ? 1 : 0) != 1)
    bad = "train on phantoms, on a data folder or on simulated acquisitions: one of them";
  else if (o->resume && o->init)
    bad = "a run resumes a checkpoint or starts from a model's weights, not both";
  else if (!o->realistic && (o->real || o->val_real))
    bad = "real subjects are used only by realistic runs";
  else if (!o->realistic && (o->p_clean > 0 || o->p_sparse > 0))
    bad = "clean phantoms and sparsely labelled inputs are drawn only by realistic runs";
  else if (!(o->p_real >= 0 && o->p_real <= 1))
    bad = "the share of real subjects must be within 0..1";
  else if (!(o->p_clean >= 0 && o->p_clean <= 1))
    bad = "the share of clean phantoms must be within 0..1";
  else if (!(o->p_sparse >= 0 && o->p_sparse <= 1))
    bad = "the share of sparsely labelled inputs must be within 0..1";
  else if (o->threads < 1 || o->threads > 256)
    bad = "threads must be 1..256";
  else if (o->val_every < 1 || o->checkpoint_every < 1 || o->log_every < 1)
    bad = "validation, checkpoint and log intervals must be at least 1";
  else if (o->max_shift < 0 || o->val_cases < 0)
    bad = "shift and validation cases must not be negative";
  if (bad)
    g_set_error (error, TRAINER_ERROR, TRAINER_ERROR_OPTIONS, "invalid training options: %s", bad);
  return bad == NULL;
}

/* The state of one trainer_run. */
typedef struct {
  const TrainerOptions *o;
  gint64 steps;                      /* planned */
  GPtrArray *partials, *completes;   /* char*, one pair per partial volume (--data) */
  TrainSubjects *subjects;           /* realistic: the real training subjects... */
  TrainSubjects *val_subjects;       /* ...and the validation ones */
  TrainAugmentOptions augment;
  double voxel_mm;                   /* the cube's voxel size */
  int n_val;                         /* validation samples */
  NnNet *net;
  NnTrainer *tr;
  int C;                             /* classes */
  int64_t n;                         /* voxels of the grid */
  float *val_input;                  /* (val_cases, C, n) */
  guint8 *val_target, *val_partial;  /* (val_cases, n) */
  guint32 *val_removed;              /* (val_cases) */
  guint8 *pred;                      /* (n) */
  double elapsed_before;             /* training time of the run's history */
  double last_val;                   /* latest validation Dice, -1 before any */
  double loss_sum;                   /* since the last log line */
  int loss_k;
  GTimer *timer;
  FILE *log;
  JsonNode *initial;                 /* fine-tuning: the model started from (provenance) */
} Run;

static void
run_clear (Run *r)
{
  g_clear_pointer (&r->partials, g_ptr_array_unref);
  g_clear_pointer (&r->completes, g_ptr_array_unref);
  g_clear_pointer (&r->subjects, train_subjects_free);
  g_clear_pointer (&r->val_subjects, train_subjects_free);
  g_clear_pointer (&r->tr, nn_trainer_free);
  g_clear_pointer (&r->net, nn_net_free);
  g_clear_pointer (&r->val_input, g_free);
  g_clear_pointer (&r->val_target, g_free);
  g_clear_pointer (&r->val_partial, g_free);
  g_clear_pointer (&r->val_removed, g_free);
  g_clear_pointer (&r->pred, g_free);
  g_clear_pointer (&r->initial, json_node_unref);
  g_clear_pointer (&r->timer, g_timer_destroy);
  g_clear_pointer (&r->log, fclose);
}
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (Run, run_clear)

/* Training sample @index into @input (C, n) and @target (n) labels.  It depends on @index
 * alone, and reads nothing a step changes: the sample thread below calls it. */
static gboolean
run_sample (Run *r, guint64 index, float *input, guint8 *target, guint32 *removed, GError **error)
{
  const TrainerOptions *o = r->o;
  const int *grid = nn_net_get_config (r->net)->grid;
  if (o->realistic)
    return train_augment_sample (r->subjects, &r->augment, (guint64) o->seed, index, -1, grid, r->voxel_mm, r->C,
                                 input, target, NULL, removed, error);
  if (r->partials == NULL)
    return train_data_phantom_sample ((guint64) o->seed, index, grid, o->max_shift, r->C, input, target, NULL,
                                      removed, error);
  guint i = (guint) (phantom_derive_seed ((guint64) o->seed ^ TRAIN_STREAM_SUBJECT, index) % r->partials->len);
  g_autoptr (LabelVolume) p = nifti_read (g_ptr_array_index (r->partials, i), NULL, error);
  if (p == NULL)
    return FALSE;
  g_autoptr (LabelVolume) c = nifti_read (g_ptr_array_index (r->completes, i), NULL, error);
  if (c == NULL)
    return FALSE;
  *removed = phantom_labels_present (c) & ~phantom_labels_present (p);
  int shift[3];
  train_data_shift ((guint64) o->seed, index, o->max_shift, shift);
  return train_data_encode (p, c, grid, shift, r->C, input, target, NULL, error);
}

/* The next step's sample is drawn on a thread of its own while the network takes this
 * step (drawing a realistic sample, 0.2 s, is serial): the samples and so the run are the
 * same as drawing each when it is needed. */
typedef struct {
  Run *r;
  GThread *thread;
  GMutex lock;
  GCond cond;
  guint64 index;        /* the sample asked for */
  gboolean asked;       /* the thread is drawing it */
  gboolean quit;
  gboolean ok;          /* the last drawing succeeded (else error) */
  float *input;
  guint8 *target;
  guint32 removed;
  GError *error;
} SampleAhead;

static gpointer
sample_ahead_thread (gpointer data)
{
  SampleAhead *a = data;
  g_mutex_lock (&a->lock);
  for (;;)
    {
      while (!a->asked && !a->quit)
        g_cond_wait (&a->cond, &a->lock);
      if (a->quit)
        break;
      guint64 index = a->index;
      g_mutex_unlock (&a->lock);
      GError *error = NULL;
      gboolean ok = run_sample (a->r, index, a->input, a->target, &a->removed, &error);
      g_mutex_lock (&a->lock);
      g_clear_error (&a->error);
      a->ok = ok;
      a->error = error;
      a->asked = FALSE;
      g_cond_broadcast (&a->cond);
    }
  g_mutex_unlock (&a->lock);
  return NULL;
}

static gboolean
sample_ahead_start (SampleAhead *a, Run *r, GError **error)
{
  a->r = r;
  g_mutex_init (&a->lock);
  g_cond_init (&a->cond);
  a->input = g_try_new (float, (gsize) r->C * (gsize) r->n);
  a->target = g_try_new (guint8, r->n);
  if (a->input == NULL || a->target == NULL)
    {
      g_set_error (error, TRAINER_ERROR, TRAINER_ERROR_OPTIONS, "not enough memory for the training samples");
      return FALSE;
    }
  a->thread = g_thread_try_new ("training-samples", sample_ahead_thread, a, error);
  return a->thread != NULL;
}

/* Starts drawing sample @index (the previous one has been taken). */
static void
sample_ahead_ask (SampleAhead *a, guint64 index)
{
  g_mutex_lock (&a->lock);
  a->index = index;
  a->asked = TRUE;
  g_cond_broadcast (&a->cond);
  g_mutex_unlock (&a->lock);
}

/* Waits for sample @index (asked before) and copies it out. */
static gboolean
sample_ahead_take (SampleAhead *a, guint64 index, float *input, guint8 *target, guint32 *removed,
                   GError **error)
{
  g_mutex_lock (&a->lock);
  while (a->asked)
    g_cond_wait (&a->cond, &a->lock);
  g_assert (a->index == index);
  gboolean ok = a->ok;
  if (!ok)
    g_propagate_error (error, g_steal_pointer (&a->error));
  g_mutex_unlock (&a->lock);
  if (!ok)
    return FALSE;
  memcpy (input, a->input, (size_t) a->r->C * (size_t) a->r->n * sizeof (float));
  memcpy (target, a->target, (size_t) a->r->n);
  *removed = a->removed;
  return TRUE;
}

/* Stops the thread once the sample it draws, if any, is done. */
static void
sample_ahead_clear (SampleAhead *a)
{
  if (a->thread)
    {
      g_mutex_lock (&a->lock);
      a->quit = TRUE;
      g_cond_broadcast (&a->cond);
      g_mutex_unlock (&a->lock);
      g_thread_join (a->thread);
      a->thread = NULL;
    }
  if (a->r)
    {
      g_mutex_clear (&a->lock);
      g_cond_clear (&a->cond);
    }
  g_clear_pointer (&a->input, g_free);
  g_clear_pointer (&a->target, g_free);
  g_clear_error (&a->error);
}
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (SampleAhead, sample_ahead_clear)

/* Real subjects from a comma-separated list of label maps in the 12 classes. */
static TrainSubjects *
load_subjects (const char *list, GError **error)
{
  g_autoptr (TrainSubjects) subjects = train_subjects_new ();
  g_auto (GStrv) paths = g_strsplit (list ? list : "", ",", -1);
  for (int i = 0; paths[i]; i++)
    {
      if (*paths[i] == '\0')
        continue;
      LabelVolume *v = nifti_read (paths[i], NULL, error);
      if (v == NULL || !train_subjects_add (subjects, v, paths[i], error))
        return NULL;
    }
  return g_steal_pointer (&subjects);
}

static gboolean
run_load_subjects (Run *r, GError **error)
{
  train_augment_options_init (&r->augment);
  r->augment.p_real = r->o->p_real;
  r->augment.p_clean = r->o->p_clean;
  r->augment.p_sparse = r->o->p_sparse;
  return (r->subjects = load_subjects (r->o->real, error)) != NULL
         && (r->val_subjects = load_subjects (r->o->val_real, error)) != NULL;
}

/* The fixed validation phantoms. */
static gboolean
run_make_validation (Run *r, GError **error)
{
  const TrainerOptions *o = r->o;
  const int *grid = nn_net_get_config (r->net)->grid;
  guint n_real = train_subjects_get_n (r->val_subjects);
  r->n_val = o->val_cases + (o->realistic ? (int) n_real * TRAINER_VAL_PER_REAL : 0);
  int k = MAX (r->n_val, 1);
  r->val_input = g_new (float, (int64_t) k * r->C * r->n);
  r->val_target = g_new (guint8, k * r->n);
  r->val_partial = g_new (guint8, k * r->n);
  r->val_removed = g_new0 (guint32, k);
  r->pred = g_new (guint8, r->n);
  TrainAugmentOptions phantoms_only = r->augment;
  phantoms_only.p_real = 0.0;
  for (int i = 0; i < r->n_val; i++)
    {
      float *in = r->val_input + (int64_t) i * r->C * r->n;
      guint8 *tg = r->val_target + i * r->n, *pa = r->val_partial + i * r->n;
      gboolean ok;
      if (!o->realistic)
        ok = train_data_phantom_sample ((guint64) o->seed ^ VAL_STREAM, (guint64) i, grid, 0, r->C, in, tg, pa,
                                        &r->val_removed[i], error);
      else if (i < o->val_cases)
        ok = train_augment_sample (r->val_subjects, &phantoms_only, (guint64) o->seed ^ VAL_STREAM, (guint64) i, -1,
                                   grid, r->voxel_mm, r->C, in, tg, pa, &r->val_removed[i], error);
      else
        ok = train_augment_sample (r->val_subjects, &r->augment, (guint64) o->seed ^ VAL_STREAM, (guint64) i,
                                   (i - o->val_cases) / TRAINER_VAL_PER_REAL, grid, r->voxel_mm, r->C, in, tg, pa,
                                   &r->val_removed[i], error);
      if (!ok)
        return FALSE;
    }
  return TRUE;
}

/* Mean removed-organ Dice of the merged prediction over the validation phantoms,
 * eval-mode BatchNorm, into r->last_val. */
static void
run_validate (Run *r)
{
  double s = 0.0;
  int k = 0;
  for (int i = 0; i < r->n_val; i++)
    {
      memcpy (nn_trainer_get_input (r->tr), r->val_input + (int64_t) i * r->C * r->n,
              (size_t) (r->C * r->n) * sizeof (float));
      nn_trainer_forward (r->tr, FALSE, FALSE);
      train_data_predict (nn_trainer_get_output (r->tr), r->C, r->n, r->val_partial + i * r->n, r->pred);
      double d = train_data_removed_dice (r->pred, r->val_target + i * r->n, r->n, r->val_removed[i]);
      if (!isnan (d))
        {
          s += d;
          k++;
        }
    }
  r->last_val = k ? s / k : -1.0;
}

static gboolean
run_open_log (Run *r, GError **error)
{
  const char *path = r->o->log_path;
  if (path == NULL)
    return TRUE;
  gboolean fresh = !g_file_test (path, G_FILE_TEST_EXISTS);
  r->log = fopen (path, "a");
  if (r->log == NULL)
    {
      g_set_error (error, TRAINER_ERROR, TRAINER_ERROR_IO, "cannot open %s for appending", path);
      return FALSE;
    }
  if (fresh)
    fprintf (r->log, "step\tloss\tce\tdice_loss\tval_removed_dice\tlr\telapsed_s\n");
  return TRUE;
}

static void
json_member_string (JsonBuilder *b, const char *key, const char *value)
{
  json_builder_set_member_name (b, key);
  json_builder_add_string_value (b, value);
}

static void
json_member_int (JsonBuilder *b, const char *key, gint64 value)
{
  json_builder_set_member_name (b, key);
  json_builder_add_int_value (b, value);
}

static void
json_member_double (JsonBuilder *b, const char *key, double value)
{
  json_builder_set_member_name (b, key);
  json_builder_add_double_value (b, value);
}

static char *
run_provenance (const Run *r, gboolean final, double seconds)
{
  const TrainerOptions *o = r->o;
  g_autoptr (JsonBuilder) b = json_builder_new ();
  json_builder_begin_object (b);
  json_member_string (b, "tool", "anatomy train");
  /* a resumed run lists every command of its history, joined with " && " */
  json_member_string (b, "command", o->command ? o->command : "");
  json_builder_set_member_name (b, "trained");
  json_builder_add_boolean_value (b, TRUE);
  json_builder_set_member_name (b, "final");
  json_builder_add_boolean_value (b, final);
  json_member_int (b, "seed", o->seed);
  json_member_int (b, "steps", nn_trainer_get_step (r->tr));
  json_member_int (b, "planned_steps", r->steps);
  json_member_int (b, "threads", o->threads);
  if (o->realistic)
    {
      g_autofree char *data = g_strdup_printf ("simulated acquisitions (train-augment) of fresh phantoms (%.0f %% "
                                               "of them clean) and, %.0f %% of samples, the real subjects %s; "
                                               "%.0f %% of inputs sparsely labelled",
                                               100 * o->p_clean, 100 * o->p_real,
                                               o->real && *o->real ? o->real : "(none)", 100 * o->p_sparse);
      json_member_string (b, "data", data);
      json_member_string (b, "validation_subjects", o->val_real ? o->val_real : "");
      json_member_string (b, "validation", "mean removed-organ Dice on simulated acquisitions of seed stream "
                                           "seed^0x56414c49: val-cases phantoms and 3 of each validation subject, "
                                           "eval-mode BatchNorm, merged like completion");
    }
  else
    {
      json_member_string (b, "data", o->data_dir ? o->data_dir : "phantom (fresh subject and partial version every step)");
      json_member_string (b, "validation", "mean removed-organ Dice on val-cases phantoms of seed stream "
                                           "seed^0x56414c49, eval-mode BatchNorm, merged like completion");
    }
  if (r->initial)
    {
      json_builder_set_member_name (b, "initial_weights");
      json_builder_add_value (b, json_node_copy (r->initial));
    }
  json_member_double (b, "val_removed_dice", r->last_val);
  json_member_int (b, "val_cases", o->val_cases);
  json_member_double (b, "train_loss", r->loss_k ? r->loss_sum / r->loss_k : -1);
  json_member_double (b, "lr", o->lr);
  json_member_double (b, "weight_decay", o->weight_decay);
  json_member_double (b, "removed_weight", o->removed_weight);
  json_member_int (b, "shift", o->max_shift);
  json_member_double (b, "training_seconds", seconds);
  g_autoptr (GDateTime) now = g_date_time_new_now_utc ();
  g_autofree char *date = g_date_time_format_iso8601 (now);
  json_member_string (b, "date", date);
  json_builder_end_object (b);
  g_autoptr (JsonGenerator) gen = json_generator_new ();
  g_autoptr (JsonNode) root = json_builder_get_root (b);
  json_generator_set_root (gen, root);
  return json_generator_to_data (gen, NULL);
}

/* The network (with its provenance) to @model_path and, if @optim_path is not NULL,
 * the optimiser state with the run's settings to @optim_path. */
static gboolean
run_save (Run *r, const char *model_path, const char *optim_path, gboolean final, GError **error)
{
  const TrainerOptions *o = r->o;
  g_autofree char *prov = run_provenance (r, final, r->elapsed_before + g_timer_elapsed (r->timer, NULL));
  nn_net_set_metadata (r->net, "provenance", prov);
  if (!nn_net_save (r->net, model_path, TRUE, error))
    return FALSE;
  if (optim_path == NULL)
    return TRUE;
  g_autofree char *seed = g_strdup_printf ("%" G_GINT64_FORMAT, o->seed);
  g_autofree char *elapsed = g_strdup_printf ("%.3f", r->elapsed_before + g_timer_elapsed (r->timer, NULL));
  /* the latest validation Dice (named best_val_dice in the files) */
  g_autofree char *val = g_strdup_printf ("%.6f", r->last_val);
  g_autofree char *steps = g_strdup_printf ("%" G_GINT64_FORMAT, r->steps);
  g_autofree char *lr = g_strdup_printf ("%.17g", o->lr), *wd = g_strdup_printf ("%.17g", o->weight_decay);
  g_autofree char *warmup = g_strdup_printf ("%.17g", o->warmup), *clip = g_strdup_printf ("%.17g", o->clip);
  g_autofree char *rw = g_strdup_printf ("%.17g", o->removed_weight);
  g_autofree char *shift = g_strdup_printf ("%d", o->max_shift), *vc = g_strdup_printf ("%d", o->val_cases);
  g_autofree char *p_real = g_strdup_printf ("%.17g", o->p_real);
  g_autofree char *p_clean = g_strdup_printf ("%.17g", o->p_clean);
  g_autofree char *p_sparse = g_strdup_printf ("%.17g", o->p_sparse);
  const char *kv[] = { "seed", seed, "elapsed_s", elapsed, "best_val_dice", val,
                       "command", o->command ? o->command : "", "planned_steps", steps, "lr", lr,
                       "weight_decay", wd, "warmup", warmup, "clip", clip, "removed_weight", rw, "shift", shift,
                       "val_cases", vc, "data", o->data_dir ? o->data_dir : "",
                       "realistic", o->realistic ? "1" : "0", "real", o->real ? o->real : "",
                       "val_real", o->val_real ? o->val_real : "", "p_real", p_real, "p_clean", p_clean,
                       "p_sparse", p_sparse, NULL };
  return nn_trainer_save_optimizer (r->tr, optim_path, kv, error);
}

/* A fine-tuned network's provenance names the model it started from, with that model's
 * own provenance: taken from the --init model, or kept from a resumed checkpoint. */
static void
run_keep_lineage (Run *r)
{
  if (!r->o->init && !r->o->resume)
    return;
  const char *prov = nn_net_get_metadata (r->net, "provenance");
  g_autoptr (JsonParser) parser = json_parser_new ();
  JsonNode *root = prov && json_parser_load_from_data (parser, prov, -1, NULL) ? json_parser_get_root (parser) : NULL;
  JsonObject *obj = root && JSON_NODE_HOLDS_OBJECT (root) ? json_node_get_object (root) : NULL;
  if (r->o->init)
    {
      JsonObject *initial = json_object_new ();
      json_object_set_string_member (initial, "file", r->o->init);
      if (obj)
        json_object_set_object_member (initial, "provenance", json_object_ref (obj));
      r->initial = json_node_init_object (json_node_alloc (), initial);
      json_object_unref (initial);
    }
  else if (r->o->resume && obj && json_object_has_member (obj, "initial_weights"))
    r->initial = json_node_copy (json_object_get_member (obj, "initial_weights"));
}

/* The network and trainer: the checkpoint's (AdamW moments, step, history), a model's
 * weights with a fresh trainer (init), or a fresh seeded one. */
static gboolean
run_make_network (Run *r, GError **error)
{
  const TrainerOptions *o = r->o;
  if (o->resume || o->init)
    r->net = nn_net_load (o->resume ? o->resume : o->init, error);
  else
    {
      /* a fresh network records the physical frame it learns in */
      NnConfig cfg = o->config;
      if (cfg.voxel_mm <= 0)
        cfg.voxel_mm = (float) (COMPLETION_DEFAULT_CUBE_MM / cfg.grid[0]);
      if ((r->net = nn_net_new (&cfg, error)) != NULL)
        nn_net_init_random (r->net, (guint64) o->seed);
    }
  if (r->net == NULL)
    return FALSE;
  run_keep_lineage (r);
  const NnConfig *cfg = nn_net_get_config (r->net);
  r->C = cfg->n_classes;
  r->n = (int64_t) cfg->grid[0] * cfg->grid[1] * cfg->grid[2];
  r->voxel_mm = completion_voxel_mm (cfg);
  r->tr = nn_trainer_new (r->net, cfg->grid[2], cfg->grid[1], cfg->grid[0], o->threads, error);
  if (r->tr == NULL)
    return FALSE;
  if (o->resume)
    {
      g_autofree char *op = trainer_dup_optimizer_path (o->resume);
      g_autoptr (GHashTable) meta = NULL;
      if (!nn_trainer_load_optimizer (r->tr, op, &meta, error))
        return FALSE;
      const char *v;
      if ((v = g_hash_table_lookup (meta, "elapsed_s")))
        r->elapsed_before = g_ascii_strtod (v, NULL);
      if ((v = g_hash_table_lookup (meta, "best_val_dice")))
        r->last_val = g_ascii_strtod (v, NULL);
    }
  return TRUE;
}

/* Linear warm-up, then cosine decay to 1/20 of the peak. */
static double
lr_factor (gint64 step, double warmup, gint64 steps)
{
  return step < warmup ? (step + 1) / warmup
                       : 0.05 + 0.95 * 0.5 * (1.0 + cos (G_PI * (step - warmup) / MAX (1.0, steps - warmup)));
}

gboolean
trainer_run (const TrainerOptions *o, TrainerProgressFunc progress, gpointer user_data,
             GCancellable *cancellable, TrainerSummary *summary, GError **error)
{
  if (!options_check (o, error))
    return FALSE;
  g_auto (Run) r = { .o = o, .steps = o->steps, .last_val = -1.0 };
  if (o->data_dir && !train_data_scan_dataset (o->data_dir, &r.partials, &r.completes, error))
    return FALSE;
  if (o->realistic && !run_load_subjects (&r, error))
    return FALSE;
  if (r.steps <= 0)
    r.steps = o->epochs > 0 && o->data_dir ? (gint64) o->epochs * r.partials->len : 2000;
  if (!run_make_network (&r, error) || !run_make_validation (&r, error) || !run_open_log (&r, error))
    return FALSE;

  NnLossParams lp;
  nn_loss_params_init (&lp);
  lp.removed_weight = (float) o->removed_weight;
  lp.or_class = LT_PULMONARY_ARTERY;
  NnStepParams sp = { .weight_decay = (float) o->weight_decay, .clip_norm = o->clip };
  nn_adam_params_init (&sp.adam);
  g_autofree guint8 *target = g_new (guint8, r.n);
  g_autofree char *ckpt = trainer_dup_checkpoint_path (o->out);
  g_autofree char *ckpt_optim = trainer_dup_optimizer_path (ckpt);
  r.timer = g_timer_new ();
  gint64 first_step = nn_trainer_get_step (r.tr);
  gboolean stopped_early = FALSE;
  g_auto (SampleAhead) ahead = { 0 };
  if (first_step < r.steps)
    {
      if (!sample_ahead_start (&ahead, &r, error))
        return FALSE;
      sample_ahead_ask (&ahead, (guint64) first_step);
    }
  while (nn_trainer_get_step (r.tr) < r.steps)
    {
      if (g_cancellable_is_cancelled (cancellable))
        {
          if (!run_save (&r, ckpt, ckpt_optim, FALSE, error))
            return FALSE;
          g_cancellable_set_error_if_cancelled (cancellable, error);
          return FALSE;
        }
      gint64 step = nn_trainer_get_step (r.tr);
      guint32 removed = 0;
      if (!sample_ahead_take (&ahead, (guint64) step, nn_trainer_get_input (r.tr), target, &removed, error))
        return FALSE;
      if (step + 1 < r.steps)
        sample_ahead_ask (&ahead, (guint64) step + 1);
      sp.lr = (float) (o->lr * lr_factor (step, o->warmup, r.steps));
      NnLossValue lv = nn_trainer_step (r.tr, target, removed, &lp, &sp);
      r.loss_sum += lv.total;
      r.loss_k++;
      gint64 done = nn_trainer_get_step (r.tr);
      gboolean validated = o->val_cases > 0 && (done % o->val_every == 0 || done == r.steps);
      if (validated)
        run_validate (&r);
      double el = g_timer_elapsed (r.timer, NULL);
      if (progress)
        {
          TrainerProgress p = { .step = done, .steps = r.steps, .first_step = first_step, .loss = lv, .lr = sp.lr,
                                .validated = validated, .val_dice = r.last_val, .seconds = el,
                                .total_seconds = r.elapsed_before + el };
          progress (&p, user_data);
        }
      if (r.log && (done % o->log_every == 0 || validated))
        {
          char vs[32] = "";
          if (validated)
            g_snprintf (vs, sizeof vs, "%.4f", r.last_val);
          fprintf (r.log, "%" G_GINT64_FORMAT "\t%.5f\t%.5f\t%.5f\t%s\t%.6g\t%.1f\n", done, r.loss_sum / r.loss_k,
                   lv.ce, lv.dice, vs, sp.lr, r.elapsed_before + el);
          fflush (r.log);
          r.loss_sum = 0.0;
          r.loss_k = 0;
        }
      gboolean out_of_time = o->max_minutes > 0 && el > o->max_minutes * 60.0;
      if ((done % o->checkpoint_every == 0 || done == r.steps || out_of_time)
          && !run_save (&r, ckpt, ckpt_optim, FALSE, error))
        return FALSE;
      if (out_of_time && done < r.steps)
        {
          stopped_early = TRUE;
          break;
        }
    }
  if (o->val_cases > 0)
    run_validate (&r);
  if (!run_save (&r, o->out, NULL, !stopped_early, error))
    return FALSE;
  if (summary)
    *summary = (TrainerSummary) { .steps = nn_trainer_get_step (r.tr), .stopped_early = stopped_early,
                                  .val_dice = r.last_val };
  return TRUE;
}
