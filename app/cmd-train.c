/* cmd-train.c: `anatomy train`: train a completion network in C (phantoms drawn
 * on the fly or the benchmark layout), with checkpoints and exact resume. */
#include "commands.h"
#include "nifti.h"
#include "nn-net.h"
#include "nn-safetensors.h"
#include "nn-train.h"
#include "phantom.h"
#include "train-data.h"

#include <glib/gstdio.h>
#include <json-glib/json-glib.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* validation subjects come from their own seed stream, never used for training */
#define VAL_STREAM 0x56414c49ull   /* "VALI" */

typedef struct {
  GPtrArray *partial_paths, *complete_paths;   /* char*, one pair per partial */
} DataSet;

static void
dataset_clear (DataSet *d)
{
  g_clear_pointer (&d->partial_paths, g_ptr_array_unref);
  g_clear_pointer (&d->complete_paths, g_ptr_array_unref);
}

static gboolean
dataset_scan (const char *dir, DataSet *d, GError **error)
{
  return train_data_scan_dataset (dir, &d->partial_paths, &d->complete_paths, error);
}

static guint32
labels_mask (const LabelVolume *v)
{
  return phantom_labels_present (v);
}

static gboolean
dataset_sample (const DataSet *d, guint64 seed, guint64 index, const int grid[3], int max_shift, int n_classes,
                float *input, guint8 *target, guint8 *partial_out, guint32 *removed, GError **error)
{
  guint i = (guint) (phantom_derive_seed (seed ^ TRAIN_STREAM_SUBJECT, index) % d->partial_paths->len);
  g_autoptr (LabelVolume) p = nifti_read (g_ptr_array_index (d->partial_paths, i), NULL, error);
  if (p == NULL)
    return FALSE;
  g_autoptr (LabelVolume) c = nifti_read (g_ptr_array_index (d->complete_paths, i), NULL, error);
  if (c == NULL)
    return FALSE;
  *removed = labels_mask (c) & ~labels_mask (p);
  int shift[3];
  train_data_shift (seed, index, max_shift, shift);
  return train_data_encode (p, c, grid, shift, n_classes, input, target, partial_out, error);
}

static char *
optim_path_for (const char *model_path)
{
  g_autofree char *stem = g_str_has_suffix (model_path, ".safetensors")
                            ? g_strndup (model_path, strlen (model_path) - strlen (".safetensors"))
                            : g_strdup (model_path);
  return g_strconcat (stem, ".optim.safetensors", NULL);
}

static char *
checkpoint_path_for (const char *out)
{
  g_autofree char *stem = g_str_has_suffix (out, ".safetensors")
                            ? g_strndup (out, strlen (out) - strlen (".safetensors")) : g_strdup (out);
  return g_strconcat (stem, ".checkpoint.safetensors", NULL);
}

static void
format_duration (double s, char *buf, gsize len)
{
  if (s < 0 || !isfinite (s))
    g_snprintf (buf, len, "?");
  else if (s >= 3600)
    g_snprintf (buf, len, "%dh%02dm", (int) (s / 3600), (int) fmod (s / 60, 60));
  else
    g_snprintf (buf, len, "%dm%02ds", (int) (s / 60), (int) fmod (s, 60));
}

int
cmd_train (int argc, char **argv)
{
  g_autofree char *arch_s = NULL, *out = NULL, *data_dir = NULL, *resume = NULL, *widths = NULL, *log_path = NULL;
  gboolean use_phantom = FALSE;
  gint64 seed = 1, steps = 0;
  int epochs = 0, grid = 64, threads = 1, blocks = 0, max_shift = 3, val_cases = 4, val_every = 200;
  int ckpt_every = 100, log_every = 10;
  double lr = 2e-3, wd = 1e-4, removed_weight = 2.0, warmup = 50, max_minutes = 0, clip = 5.0;
  GOptionEntry entries[] = {
    { "arch", 'a', 0, G_OPTION_ARG_STRING, &arch_s, "unet, unet-skip or googlenet-skip", "ARCH" },
    { "phantom", 0, 0, G_OPTION_ARG_NONE, &use_phantom, "Draw fresh phantom subjects and partial versions every step", NULL },
    { "data", 'd', 0, G_OPTION_ARG_FILENAME, &data_dir, "Benchmark layout (complete/, incomplete/)", "DIR" },
    { "out", 'o', 0, G_OPTION_ARG_FILENAME, &out, "Trained model to write (.safetensors)", "FILE" },
    { "grid", 'g', 0, G_OPTION_ARG_INT, &grid, "Network grid edge (default 64)", "N" },
    { "steps", 0, 0, G_OPTION_ARG_INT64, &steps, "Training steps (batch 1; default 2000)", "N" },
    { "epochs", 0, 0, G_OPTION_ARG_INT, &epochs, "With --data: passes over the partial volumes", "N" },
    { "threads", 't', 0, G_OPTION_ARG_INT, &threads, "Threads (default 1; results depend on it)", "N" },
    { "resume", 'r', 0, G_OPTION_ARG_FILENAME, &resume, "Continue from a checkpoint (FILE and FILE's .optim.safetensors)", "FILE" },
    { "seed", 's', 0, G_OPTION_ARG_INT64, &seed, "Seed of initial weights and of every sample (default 1)", "S" },
    { "widths", 'w', 0, G_OPTION_ARG_STRING, &widths, "Channels per level (default: the architecture's shipped widths)", "LIST" },
    { "blocks", 'b', 0, G_OPTION_ARG_INT, &blocks, "Units per level and side (default 2)", "N" },
    { "lr", 0, 0, G_OPTION_ARG_DOUBLE, &lr, "Peak learning rate (AdamW, cosine decay; default 2e-3)", "LR" },
    { "weight-decay", 0, 0, G_OPTION_ARG_DOUBLE, &wd, "AdamW weight decay on convolution weights (default 1e-4)", "WD" },
    { "warmup", 0, 0, G_OPTION_ARG_DOUBLE, &warmup, "Linear warm-up steps (default 50)", "N" },
    { "clip", 0, 0, G_OPTION_ARG_DOUBLE, &clip, "Gradient norm limit (default 5, 0 = none)", "X" },
    { "removed-weight", 0, 0, G_OPTION_ARG_DOUBLE, &removed_weight, "Extra cross-entropy weight of removed-organ voxels (default 2)", "X" },
    { "shift", 0, 0, G_OPTION_ARG_INT, &max_shift, "Augmentation: random translation up to N voxels (default 3)", "N" },
    { "val-cases", 0, 0, G_OPTION_ARG_INT, &val_cases, "Validation phantoms (default 4)", "N" },
    { "val-every", 0, 0, G_OPTION_ARG_INT, &val_every, "Validate every N steps (default 200)", "N" },
    { "checkpoint-every", 0, 0, G_OPTION_ARG_INT, &ckpt_every, "Checkpoint every N steps (default 100)", "N" },
    { "log", 0, 0, G_OPTION_ARG_FILENAME, &log_path, "Append step, loss, validation Dice to this TSV file", "FILE" },
    { "log-every", 0, 0, G_OPTION_ARG_INT, &log_every, "Progress line every N steps when not on a terminal (default 10)", "N" },
    { "max-minutes", 0, 0, G_OPTION_ARG_DOUBLE, &max_minutes, "Stop (checkpoint and write FILE) after this wall time", "M" },
    { NULL },
  };
  const char *summary =
    "Train a completion network (batch 1, AdamW, loss = cross-entropy + soft Dice over\n"
    "the classes, extra weight on removed organs).  Every sample is a pure function of\n"
    "(seed, step), so a run is deterministic for a seed and thread count, and --resume\n"
    "continues bit for bit.  A checkpoint OUT.checkpoint.safetensors (a usable model)\n"
    "and OUT.checkpoint.optim.safetensors (AdamW moments, step) are written periodically.";
  g_autofree char *cmdline = NULL;
  {
    g_autoptr (GString) s = g_string_new ("anatomy train");
    for (int i = 1; i < argc; i++)
      {
        g_autofree char *q = g_shell_quote (argv[i]);
        g_string_append_printf (s, " %s", strpbrk (argv[i], " '\"$\\") ? q : argv[i]);
      }
    cmdline = g_string_free (g_steal_pointer (&s), FALSE);
  }
  if (!cli_parse_options (&argc, &argv, NULL, summary, entries))
    return CLI_EXIT_USAGE;
  if (out == NULL)
    return cli_fail ("--out FILE is required");
  /* resume: the run's settings come from the checkpoint (a new --steps extends the run) */
  double elapsed_before = 0.0, best_val = -1.0;
  if (resume)
    {
      g_autoptr (GError) e = NULL;
      g_autofree char *op = optim_path_for (resume);
      g_autoptr (NnStFile) of = nn_st_file_load (op, &e);
      if (of == NULL)
        return cli_fail ("%s", e->message);
      const char *v;
#define GET_INT(key, var) if ((v = nn_st_file_get_metadata (of, key))) var = g_ascii_strtoll (v, NULL, 10)
#define GET_DBL(key, var) if ((v = nn_st_file_get_metadata (of, key))) var = g_ascii_strtod (v, NULL)
      GET_INT ("seed", seed);
      if (steps <= 0)
        GET_INT ("planned_steps", steps);
      GET_DBL ("lr", lr);
      GET_DBL ("weight_decay", wd);
      GET_DBL ("warmup", warmup);
      GET_DBL ("clip", clip);
      GET_DBL ("removed_weight", removed_weight);
      GET_INT ("shift", max_shift);
      GET_INT ("val_cases", val_cases);
      GET_DBL ("elapsed_s", elapsed_before);
      GET_DBL ("best_val_dice", best_val);
      if ((v = nn_st_file_get_metadata (of, "command")))
        {
          g_autofree char *old = cmdline;
          cmdline = g_strdup_printf ("%s && %s", v, old);
        }
#undef GET_INT
#undef GET_DBL
      if ((v = nn_st_file_get_metadata (of, "data")))
        {
          g_clear_pointer (&data_dir, g_free);
          use_phantom = *v == '\0';
          if (!use_phantom)
            data_dir = g_strdup (v);
        }
    }
  if (use_phantom == (data_dir != NULL))
    return cli_fail ("give exactly one of --phantom and --data DIR");
  if (threads < 1 || threads > 256 || val_every < 1 || ckpt_every < 1 || log_every < 1 || max_shift < 0
      || val_cases < 0)
    return cli_fail ("invalid --threads, --val-every, --checkpoint-every, --log-every, --shift or --val-cases");

  g_autoptr (GError) error = NULL;
  DataSet ds = { 0 };
  if (data_dir && !dataset_scan (data_dir, &ds, &error))
    return cli_fail ("%s", error->message);
  if (steps <= 0)
    steps = epochs > 0 && data_dir ? (gint64) epochs * ds.partial_paths->len : 2000;

  g_autoptr (NnNet) net = NULL;
  if (resume)
    {
      net = nn_net_load (resume, &error);
      if (net == NULL)
        return cli_fail ("%s", error->message);
    }
  else
    {
      NnConfig cfg;
      if (!cli_network_config (arch_s, widths, blocks, grid, &cfg))
        return 1;
      net = nn_net_new (&cfg, &error);
      if (net == NULL)
        return cli_fail ("%s", error->message);
      nn_net_init_random (net, (guint64) seed);
    }
  const NnConfig *cfg = nn_net_get_config (net);
  const int *g3 = cfg->grid;
  const int C = cfg->n_classes;
  const int64_t n = (int64_t) g3[0] * g3[1] * g3[2];
  g_autoptr (NnTrainer) tr = nn_trainer_new (net, g3[2], g3[1], g3[0], threads, &error);
  if (tr == NULL)
    return cli_fail ("%s", error->message);

  /* resume: AdamW moments and the step counter */
  if (resume)
    {
      g_autofree char *op = optim_path_for (resume);
      if (!nn_trainer_load_optimizer (tr, op, NULL, &error))
        return cli_fail ("%s", error->message);
    }

  /* validation set: fixed phantoms from their own seed stream */
  g_autofree float *vin = g_new (float, (int64_t) MAX (val_cases, 1) * C * n);
  g_autofree guint8 *vtgt = g_new (guint8, MAX (val_cases, 1) * n), *vpart = g_new (guint8, MAX (val_cases, 1) * n);
  g_autofree guint32 *vrem = g_new0 (guint32, MAX (val_cases, 1));
  for (int i = 0; i < val_cases; i++)
    if (!train_data_phantom_sample ((guint64) seed ^ VAL_STREAM, (guint64) i, g3, 0, C, vin + (int64_t) i * C * n,
                                    vtgt + i * n, vpart + i * n, &vrem[i], &error))
      return cli_fail ("%s", error->message);

  FILE *log = NULL;
  if (log_path)
    {
      gboolean fresh = !g_file_test (log_path, G_FILE_TEST_EXISTS);
      log = fopen (log_path, "a");
      if (log == NULL)
        return cli_fail ("cannot open %s for appending", log_path);
      if (fresh)
        fprintf (log, "step\tloss\tce\tdice_loss\tval_removed_dice\tlr\telapsed_s\n");
    }

  NnLossParams lp;
  nn_loss_params_init (&lp);
  lp.removed_weight = (float) removed_weight;
  NnStepParams sp = { .weight_decay = (float) wd, .clip_norm = clip };
  nn_adam_params_init (&sp.adam);
  g_autofree guint8 *target = g_new (guint8, n), *partial = g_new (guint8, n), *pred = g_new (guint8, n);
  g_autoptr (GTimer) timer = g_timer_new ();
  g_autofree char *ckpt = checkpoint_path_for (out);
  g_autofree char *ckpt_optim = optim_path_for (ckpt);
  double loss_avg = 0.0, last_val = best_val;
  int loss_k = 0;
  gint64 start_step = nn_trainer_get_step (tr);
  gboolean tty = isatty (STDERR_FILENO);
  gboolean stopped_early = FALSE;

  /* validation: mean removed-organ Dice of the merged prediction, eval-mode BatchNorm */
#define VALIDATE()                                                                                 \
  do {                                                                                             \
    double s = 0.0;                                                                                \
    int k = 0;                                                                                     \
    for (int i = 0; i < val_cases; i++)                                                            \
      {                                                                                            \
        memcpy (nn_trainer_get_input (tr), vin + (int64_t) i * C * n, (size_t) (C * n) * sizeof (float)); \
        nn_trainer_forward (tr, FALSE, FALSE);                                                     \
        train_data_predict (nn_trainer_get_output (tr), C, n, vpart + i * n, pred);                \
        double dd = train_data_removed_dice (pred, vtgt + i * n, n, vrem[i]);                      \
        if (dd >= 0)                                                                               \
          {                                                                                        \
            s += dd;                                                                               \
            k++;                                                                                   \
          }                                                                                        \
      }                                                                                            \
    last_val = k ? s / k : -1.0;                                                                   \
  } while (0)

#define SAVE_STATE(path_model, path_optim, final)                                                  \
  do {                                                                                             \
    g_autoptr (JsonBuilder) jb = json_builder_new ();                                             \
    json_builder_begin_object (jb);                                                                \
    json_builder_set_member_name (jb, "tool"); json_builder_add_string_value (jb, "anatomy train"); \
    /* a resumed run lists every command of its history, joined with " && " */                 \
    json_builder_set_member_name (jb, "command"); json_builder_add_string_value (jb, cmdline);    \
    json_builder_set_member_name (jb, "trained"); json_builder_add_boolean_value (jb, TRUE);      \
    json_builder_set_member_name (jb, "final"); json_builder_add_boolean_value (jb, (final));     \
    json_builder_set_member_name (jb, "seed"); json_builder_add_int_value (jb, seed);             \
    json_builder_set_member_name (jb, "steps"); json_builder_add_int_value (jb, nn_trainer_get_step (tr)); \
    json_builder_set_member_name (jb, "planned_steps"); json_builder_add_int_value (jb, steps);   \
    json_builder_set_member_name (jb, "threads"); json_builder_add_int_value (jb, threads);       \
    json_builder_set_member_name (jb, "data"); json_builder_add_string_value (jb, data_dir ? data_dir : "phantom (fresh subject and partial version every step)"); \
    json_builder_set_member_name (jb, "validation"); json_builder_add_string_value (jb, "mean removed-organ Dice on val-cases phantoms of seed stream seed^0x56414c49, eval-mode BatchNorm, merged like completion"); \
    json_builder_set_member_name (jb, "val_removed_dice"); json_builder_add_double_value (jb, last_val); \
    json_builder_set_member_name (jb, "val_cases"); json_builder_add_int_value (jb, val_cases);   \
    json_builder_set_member_name (jb, "train_loss"); json_builder_add_double_value (jb, loss_k ? loss_avg / loss_k : -1); \
    json_builder_set_member_name (jb, "lr"); json_builder_add_double_value (jb, lr);              \
    json_builder_set_member_name (jb, "weight_decay"); json_builder_add_double_value (jb, wd);    \
    json_builder_set_member_name (jb, "removed_weight"); json_builder_add_double_value (jb, removed_weight); \
    json_builder_set_member_name (jb, "shift"); json_builder_add_int_value (jb, max_shift);       \
    json_builder_set_member_name (jb, "training_seconds"); json_builder_add_double_value (jb, elapsed_before + g_timer_elapsed (timer, NULL)); \
    g_autoptr (GDateTime) now = g_date_time_new_now_utc ();                                      \
    g_autofree char *date = g_date_time_format_iso8601 (now);                                    \
    json_builder_set_member_name (jb, "date"); json_builder_add_string_value (jb, date);          \
    json_builder_end_object (jb);                                                                  \
    g_autoptr (JsonGenerator) jg = json_generator_new ();                                         \
    g_autoptr (JsonNode) jroot = json_builder_get_root (jb);                                      \
    json_generator_set_root (jg, jroot);                                                           \
    g_autofree char *prov = json_generator_to_data (jg, NULL);                                    \
    nn_net_set_metadata (net, "provenance", prov);                                                \
    if (!nn_net_save (net, (path_model), TRUE, &error))                                           \
      return cli_fail ("%s", error->message);                                                      \
    if ((path_optim) != NULL)                                                                      \
      {                                                                                            \
        g_autofree char *s_seed = g_strdup_printf ("%" G_GINT64_FORMAT, seed);                    \
        g_autofree char *s_el = g_strdup_printf ("%.3f", elapsed_before + g_timer_elapsed (timer, NULL)); \
        g_autofree char *s_best = g_strdup_printf ("%.6f", last_val);                             \
        g_autofree char *s_steps = g_strdup_printf ("%" G_GINT64_FORMAT, steps);                 \
        g_autofree char *s_lr = g_strdup_printf ("%.17g", lr), *s_wd = g_strdup_printf ("%.17g", wd); \
        g_autofree char *s_wu = g_strdup_printf ("%.17g", warmup), *s_clip = g_strdup_printf ("%.17g", clip); \
        g_autofree char *s_rw = g_strdup_printf ("%.17g", removed_weight);                       \
        g_autofree char *s_shift = g_strdup_printf ("%d", max_shift), *s_vc = g_strdup_printf ("%d", val_cases); \
        const char *kv[] = { "seed", s_seed, "elapsed_s", s_el, "best_val_dice", s_best, "command", cmdline, \
                             "planned_steps", s_steps, "lr", s_lr, "weight_decay", s_wd, "warmup", s_wu,  \
                             "clip", s_clip, "removed_weight", s_rw, "shift", s_shift, "val_cases", s_vc, \
                             "data", data_dir ? data_dir : "", NULL };                             \
        if (!nn_trainer_save_optimizer (tr, (path_optim), kv, &error))                             \
          return cli_fail ("%s", error->message);                                                  \
      }                                                                                            \
  } while (0)

  while (nn_trainer_get_step (tr) < steps)
    {
      gint64 step = nn_trainer_get_step (tr);
      guint32 removed = 0;
      float *input = nn_trainer_get_input (tr);
      gboolean ok = data_dir
        ? dataset_sample (&ds, (guint64) seed, (guint64) step, g3, max_shift, C, input, target, partial, &removed, &error)
        : train_data_phantom_sample ((guint64) seed, (guint64) step, g3, max_shift, C, input, target, partial,
                                     &removed, &error);
      if (!ok)
        return cli_fail ("%s", error->message);
      /* linear warm-up, then cosine decay to 1/20 of the peak */
      double f = step < warmup ? (step + 1) / warmup
                               : 0.05 + 0.95 * 0.5 * (1.0 + cos (G_PI * (step - warmup) / MAX (1.0, steps - warmup)));
      sp.lr = (float) (lr * f);
      NnLossValue lv = nn_trainer_step (tr, target, removed, &lp, &sp);
      loss_avg += lv.total;
      loss_k++;
      gint64 done = nn_trainer_get_step (tr);
      gboolean do_val = val_cases > 0 && (done % val_every == 0 || done == steps);
      if (do_val)
        {
          VALIDATE ();
          best_val = MAX (best_val, last_val);
        }
      double el = g_timer_elapsed (timer, NULL);
      double eta = el / (double) (done - start_step) * (double) (steps - done);
      char eta_s[32], el_s[32];
      format_duration (eta, eta_s, sizeof eta_s);
      format_duration (elapsed_before + el, el_s, sizeof el_s);
      g_autofree char *text = g_strdup_printf ("step %" G_GINT64_FORMAT "/%" G_GINT64_FORMAT
                                               "  loss %.4f (ce %.4f, dice %.4f)  val Dice %.3f  %.2f s/step  ETA %s",
                                               done, steps, lv.total, lv.ce, lv.dice, last_val,
                                               el / (double) (done - start_step), eta_s);
      if (tty)
        cli_progress ("train", (double) done / steps, text);
      if (done % log_every == 0 || do_val || done == steps)
        {
          if (!tty)
            printf ("%s  elapsed %s\n", text, el_s);
          fflush (stdout);
        }
      if (log && (done % log_every == 0 || do_val))
        {
          char vs[32] = "";
          if (do_val)
            g_snprintf (vs, sizeof vs, "%.4f", last_val);
          fprintf (log, "%" G_GINT64_FORMAT "\t%.5f\t%.5f\t%.5f\t%s\t%.6g\t%.1f\n", done, loss_avg / loss_k,
                   lv.ce, lv.dice, vs, sp.lr, elapsed_before + el);
          fflush (log);
          loss_avg = 0.0;
          loss_k = 0;
        }
      gboolean out_of_time = max_minutes > 0 && el > max_minutes * 60.0;
      if (done % ckpt_every == 0 || done == steps || out_of_time)
        SAVE_STATE (ckpt, ckpt_optim, FALSE);
      if (out_of_time && done < steps)
        {
          stopped_early = TRUE;
          break;
        }
    }
  if (tty)
    cli_progress_done ();
  if (val_cases > 0)
    VALIDATE ();
  SAVE_STATE (out, NULL, !stopped_early);
  printf ("wrote %s after %" G_GINT64_FORMAT " steps%s: validation removed-organ Dice %.4f\n", out,
          nn_trainer_get_step (tr), stopped_early ? " (stopped by --max-minutes)" : "", last_val);
  if (log)
    fclose (log);
  dataset_clear (&ds);
  return 0;
}
