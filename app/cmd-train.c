/* cmd-train.c: `anatomy train`: train a completion network in C (phantoms drawn
 * on the fly or the benchmark layout), with checkpoints and exact resume: the
 * options of trainer_run (trainer.h) and its progress lines. */
#include "commands.h"
#include "nifti.h"
#include "trainer.h"

#include <math.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

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

/* The command line for the provenance, quoted where the shell needs it. */
static char *
command_line (int argc, char **argv)
{
  g_autoptr (GString) s = g_string_new ("anatomy train");
  for (int i = 1; i < argc; i++)
    {
      g_autofree char *q = g_shell_quote (argv[i]);
      g_string_append_printf (s, " %s", strpbrk (argv[i], " '\"$\\") ? q : argv[i]);
    }
  return g_string_free (g_steal_pointer (&s), FALSE);
}

typedef struct {
  gboolean tty;     /* stderr is a terminal: a progress bar, else lines on stdout */
  int log_every;
} Printer;

static void
print_progress (const TrainerProgress *p, gpointer data)
{
  const Printer *pr = data;
  double per_step = p->seconds / (double) (p->step - p->first_step);
  char eta_s[32], el_s[32];
  format_duration (per_step * (double) (p->steps - p->step), eta_s, sizeof eta_s);
  format_duration (p->total_seconds, el_s, sizeof el_s);
  g_autofree char *text = g_strdup_printf ("step %" G_GINT64_FORMAT "/%" G_GINT64_FORMAT
                                           "  loss %.4f (ce %.4f, dice %.4f)  val Dice %.3f  %.2f s/step  ETA %s",
                                           p->step, p->steps, p->loss.total, p->loss.ce, p->loss.dice, p->val_dice,
                                           per_step, eta_s);
  if (pr->tty)
    cli_progress ("train", (double) p->step / p->steps, text);
  if (p->step % pr->log_every == 0 || p->validated || p->step == p->steps)
    {
      if (!pr->tty)
        printf ("%s  elapsed %s\n", text, el_s);
      fflush (stdout);
    }
}

/* the --help text of `anatomy train` */
static const char summary[] =
  "Train a completion network (batch 1, AdamW, loss = cross-entropy + soft Dice over\n"
  "the classes, extra weight on removed organs).  Every sample is a pure function of\n"
  "(seed, step), so a run is deterministic for a seed and thread count, and --resume\n"
  "continues bit for bit.  A checkpoint OUT.checkpoint.safetensors (a usable model)\n"
  "and OUT.checkpoint.optim.safetensors (AdamW moments, step) are written periodically.";

int
cmd_train (int argc, char **argv)
{
  g_auto (TrainerOptions) o = { 0 };
  trainer_options_init (&o);
  g_autofree char *arch_s = NULL, *widths = NULL;
  int grid = 0, blocks = 0;   /* 0: not given (grid 64) */
  gboolean force = FALSE;
  g_auto (GStrv) real = NULL, val_real = NULL;   /* each given as often as wanted */
  GOptionEntry entries[] = {
    { "arch", 'a', 0, G_OPTION_ARG_STRING, &arch_s, "unet, unet-skip or googlenet-skip", "ARCH" },
    { "phantom", 0, 0, G_OPTION_ARG_NONE, &o.phantom, "Draw fresh phantom subjects and partial versions every step", NULL },
    { "data", 'd', 0, G_OPTION_ARG_FILENAME, &o.data_dir, "Benchmark layout (complete/, incomplete/)", "DIR" },
    { "realistic", 0, 0, G_OPTION_ARG_NONE, &o.realistic, "Simulated acquisitions of fresh phantoms and --real subjects (fields of view, voxel sizes, deformations, segmentation faults; see docs/training.md)", NULL },
    { "real", 0, 0, G_OPTION_ARG_FILENAME_ARRAY, &real, "With --realistic: real training subjects, label maps in the 12 classes (repeat it, or separate them by commas)", "FILES" },
    { "val-real", 0, 0, G_OPTION_ARG_FILENAME_ARRAY, &val_real, "With --realistic: real subjects held out for validation, 3 samples each (repeat it, or separate them by commas)", "FILES" },
    { "p-real", 0, 0, G_OPTION_ARG_DOUBLE, &o.p_real, "With --realistic: share of samples from real subjects (default 0.5)", "P" },
    { "p-clean", 0, 0, G_OPTION_ARG_DOUBLE, &o.p_clean, "With --realistic: share of the phantom samples acquired as the benchmark's phantoms are: whole, 3.5 mm voxels, undeformed, without segmentation faults (default 0)", "P" },
    { "p-sparse", 0, 0, G_OPTION_ARG_DOUBLE, &o.p_sparse, "With --realistic: share of samples whose input lacks what sparser sources leave unlabelled: the autochthon muscles, or spine, rib cage and muscles, or everything but the abdominal organs (as AMOS); the target keeps them (default 0)", "P" },
    { "out", 'o', 0, G_OPTION_ARG_FILENAME, &o.out, "Trained model to write (.safetensors)", "FILE" },
    { "force", 'f', 0, G_OPTION_ARG_NONE, &force,
      "Replace FILE (and, without --resume, its checkpoints) if they exist (resuming FILE's own "
      "checkpoint continues FILE)", NULL },
    { "grid", 'g', 0, G_OPTION_ARG_INT, &grid, "Network grid edge (default 64)", "N" },
    { "steps", 0, 0, G_OPTION_ARG_INT64, &o.steps, "Training steps (batch 1; default 2000)", "N" },
    { "epochs", 0, 0, G_OPTION_ARG_INT, &o.epochs, "With --data: passes over the partial volumes", "N" },
    { "threads", 't', 0, G_OPTION_ARG_INT, &o.threads, "Threads of the network (default 1; results depend on it); one more draws the next sample meanwhile", "N" },
    { "resume", 'r', 0, G_OPTION_ARG_FILENAME, &o.resume, "Continue from a checkpoint (FILE and FILE's .optim.safetensors)", "FILE" },
    { "init", 0, 0, G_OPTION_ARG_FILENAME, &o.init, "Start from this model's network and weights (fine-tuning: fresh optimiser, step 0; --arch, --widths, --blocks and --grid come from it)", "MODEL" },
    { "seed", 's', 0, G_OPTION_ARG_INT64, &o.seed, "Seed of initial weights and of every sample (default 1)", "S" },
    { "widths", 'w', 0, G_OPTION_ARG_STRING, &widths, "Channels per level (default: the architecture's shipped widths)", "LIST" },
    { "blocks", 'b', 0, G_OPTION_ARG_INT, &blocks, "Units per level and side (default 2)", "N" },
    { "lr", 0, 0, G_OPTION_ARG_DOUBLE, &o.lr, "Peak learning rate (AdamW, cosine decay; default 2e-3)", "LR" },
    { "weight-decay", 0, 0, G_OPTION_ARG_DOUBLE, &o.weight_decay, "AdamW weight decay on convolution weights (default 1e-4)", "WD" },
    { "warmup", 0, 0, G_OPTION_ARG_DOUBLE, &o.warmup, "Linear warm-up steps (default 50)", "N" },
    { "clip", 0, 0, G_OPTION_ARG_DOUBLE, &o.clip, "Gradient norm limit (default 5, 0 = none)", "X" },
    { "removed-weight", 0, 0, G_OPTION_ARG_DOUBLE, &o.removed_weight, "Extra cross-entropy weight of removed-organ voxels (default 2)", "X" },
    { "shift", 0, 0, G_OPTION_ARG_INT, &o.max_shift, "Augmentation: random translation up to N voxels (default 3)", "N" },
    { "val-cases", 0, 0, G_OPTION_ARG_INT, &o.val_cases, "Validation phantoms (default 4)", "N" },
    { "val-every", 0, 0, G_OPTION_ARG_INT, &o.val_every, "Validate every N steps (default 200)", "N" },
    { "checkpoint-every", 0, 0, G_OPTION_ARG_INT, &o.checkpoint_every, "Checkpoint every N steps (default 100)", "N" },
    { "log", 0, 0, G_OPTION_ARG_FILENAME, &o.log_path, "Append step, loss, validation Dice to this TSV file", "FILE" },
    { "log-every", 0, 0, G_OPTION_ARG_INT, &o.log_every, "Progress line every N steps when not on a terminal (default 10)", "N" },
    { "max-minutes", 0, 0, G_OPTION_ARG_DOUBLE, &o.max_minutes, "Stop (checkpoint and write FILE) after this wall time", "M" },
    { NULL },
  };
  o.command = command_line (argc, argv);
  if (!cli_parse_options (&argc, &argv, NULL, summary, entries))
    return CLI_EXIT_USAGE;
  if (real)
    o.real = g_strjoinv (",", real);
  if (val_real)
    o.val_real = g_strjoinv (",", val_real);
  if (o.out == NULL)
    return cli_fail ("--out FILE is required");
  g_autoptr (GError) error = NULL;
  /* resume: the run's settings come from the checkpoint (a new --steps extends the run) */
  if (o.resume && !trainer_options_load_checkpoint (&o, &error))
    return cli_fail ("%s", error->message);
  if ((o.phantom ? 1 : 0) + (o.data_dir ? 1 : 0) + (o.realistic ? 1 : 0) != 1)
    return cli_fail ("give exactly one of --phantom, --data DIR and --realistic");
  if (o.threads < 1 || o.threads > 256 || o.val_every < 1 || o.checkpoint_every < 1 || o.log_every < 1
      || o.max_shift < 0 || o.val_cases < 0)
    return cli_fail ("invalid --threads, --val-every, --checkpoint-every, --log-every, --shift or --val-cases");
  if (o.resume && o.init)
    return cli_fail ("give --resume CHECKPOINT or --init MODEL, not both");
  if (o.init && (arch_s || widths || blocks || grid))
    return cli_fail ("--init MODEL gives the network: --arch, --widths, --blocks and --grid do not apply");
  if (!o.resume && !o.init && !cli_network_config (arch_s, widths, blocks, grid ? grid : 64, &o.config))
    return 1;

  /* FILE (and its checkpoints, which a resumed run continues) is checked before training:
   * never an input, replaced only with --force, or when the run resumes from FILE's own
   * checkpoint (a run stopped by --max-minutes wrote FILE: the resumed run continues it) */
  g_autofree char *ckpt = trainer_dup_checkpoint_path (o.out);
  g_autofree char *ckpt_optim = trainer_dup_optimizer_path (ckpt);
  g_autofree char *resume_optim = o.resume ? trainer_dup_optimizer_path (o.resume) : NULL;
  gboolean own_run = FALSE;
  if (o.resume)
    {
      g_autoptr (GFile) a = g_file_new_for_path (o.resume);
      g_autoptr (GFile) b = g_file_new_for_path (ckpt);
      own_run = g_file_equal (a, b);
    }
  const char *inputs[] = { o.init ? o.init : o.resume, resume_optim, NULL };
  g_autoptr (OutSet) outputs = cli_outputs_new (force || own_run, inputs);
  g_auto (GStrv) real_paths = g_strsplit (o.real ? o.real : "", ",", -1);
  g_auto (GStrv) val_paths = g_strsplit (o.val_real ? o.val_real : "", ",", -1);
  for (int i = 0; real_paths[i]; i++)
    nifti_add_inputs (outputs, real_paths[i]);
  for (int i = 0; val_paths[i]; i++)
    nifti_add_inputs (outputs, val_paths[i]);
  if (!cli_outputs_reserve (outputs, o.out)
      || (!o.resume && (!cli_outputs_reserve (outputs, ckpt) || !cli_outputs_reserve (outputs, ckpt_optim))))
    return 1;

  Printer printer = { .tty = isatty (STDERR_FILENO), .log_every = o.log_every };
  TrainerSummary done;
  gboolean ok = trainer_run (&o, print_progress, &printer, NULL, &done, &error);
  cli_progress_done ();
  if (!ok)
    return cli_fail ("%s", error->message);
  printf ("wrote %s after %" G_GINT64_FORMAT " steps%s: validation removed-organ Dice %.4f\n", o.out, done.steps,
          done.stopped_early ? " (stopped by --max-minutes)" : "", done.val_dice);
  return 0;
}
