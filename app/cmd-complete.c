/* cmd-complete.c: `anatomy complete IN OUT`. */
#include "commands.h"
#include "completion-scheme.h"
#include "label-folder.h"
#include "nifti.h"
#include "strutil.h"

#include <stdio.h>
#include <string.h>

static void
progress_cb (double fraction, const char *stage, gpointer data)
{
  cli_progress ("complete", fraction, stage);
}

/* What --labels asks for: per 12-class class, whether it may be added and on which side. */
typedef struct {
  gboolean selected[LT_N_CLASSES];
  LabelSide side[LT_N_CLASSES];
} LabelRequest;

static void
request_add (LabelRequest *r, int32_t c, LabelSide side)
{
  if (r->selected[c] && r->side[c] != side)
    side = LABEL_SIDE_NONE;   /* both sides asked for, or the whole class */
  r->selected[c] = TRUE;
  r->side[c] = side;
}

/* The class and side of one --labels item: a 12-class id or name, a name of the file's
 * own table or of its scheme.  FALSE with a message for the user. */
static gboolean
parse_label_item (const char *item, CliLabelMap *m, int32_t *cls, LabelSide *side, char **why)
{
  const LabelScheme *s = m->scheme;
  const LabelScheme *b12 = label_scheme_get (LABEL_SCHEME_BENCHMARK12);
  gboolean is_b12 = s == b12;
  char *end = NULL;
  gint64 n = g_ascii_strtoll (item, &end, 10);
  *side = LABEL_SIDE_NONE;
  if (end != item && *end == '\0')
    {
      if (n < 1 || n > LT_N_ORGANS)
        {
          *why = g_strdup_printf ("'%s': a number names one of the 12 classes, 1..12", item);
          return FALSE;
        }
      /* in another scheme the same number may be an id of another organ */
      int32_t other = is_b12 ? (int32_t) n : cli_label_map_class_of (m, (int32_t) n);
      const char *const own = (!is_b12 && lt_table_lookup (cli_label_map_names (m), (int32_t) n))
                              ? lt_table_lookup (cli_label_map_names (m), (int32_t) n)->name : NULL;
      if (!is_b12 && own != NULL && other != n)
        {
          *why = g_strdup_printf ("'%s' is ambiguous in a %s file: class %d is %s, but the file's id %d is %s; "
                                  "give a name", item, label_scheme_get_name (s), (int) n,
                                  lt_default_class_name ((int) n), (int) n, own);
          return FALSE;
        }
      *cls = (int32_t) n;
      return TRUE;
    }
  int32_t c = label_scheme_find_name (b12, item);
  if (c > 0 && c <= LT_N_ORGANS)
    {
      *cls = c;
      return TRUE;
    }
  /* a name of the file (its scheme names, then its display names), as a scheme id */
  int32_t sid = -1;
  const LabelTable *tables[2] = { m->scheme_names, m->table != m->scheme_names ? m->table : NULL };
  for (int t = 0; t < 2 && sid <= 0; t++)
    {
      int32_t own = tables[t] != NULL ? lt_table_find_name (tables[t], item) : -1;
      if (own <= 0)
        continue;
      if (!m->by_names)
        sid = own;
      else if (m->scheme_names != NULL && lt_table_lookup (m->scheme_names, own) != NULL)
        sid = label_scheme_find_name (s, lt_table_lookup (m->scheme_names, own)->name);
    }
  if (sid <= 0)
    sid = label_scheme_find_name (s, item);
  if (sid <= 0)
    {
      *why = g_strdup_printf ("unknown organ '%s' (give one of the 12 classes or a name of the %s scheme)", item,
                              label_scheme_get_name (s));
      return FALSE;
    }
  c = label_scheme_class_of (s, sid);
  if (c <= 0)
    {
      *why = g_strdup_printf ("'%s' is none of the 12 classes the network completes", item);
      return FALSE;
    }
  const LabelSchemeWriteBack *wb = label_scheme_get_write_back (s, c);
  if (wb->kind == LABEL_SCHEME_WRITE_BY_SIDE && (sid == wb->left_id || sid == wb->right_id))
    *side = sid == wb->left_id ? LABEL_SIDE_LEFT : LABEL_SIDE_RIGHT;
  else if (sid != wb->id)
    {
      *why = g_strdup_printf ("'%s' is one part of the %s in %s: the network completes whole organs; use "
                              "--labels %s (written as %d \"%s\")", item, lt_default_class_name (c),
                              label_scheme_get_name (s), lt_default_class_name (c), wb->id, wb->name);
      return FALSE;
    }
  *cls = c;
  return TRUE;
}

/* The probability maps of --probabilities: one volume per class in @classes. */
typedef struct {
  const CompletionProbs *probs;
  int classes[COMPLETION_MAX_CLASSES];
  int n;
} ProbMaps;

static void
prob_slice (int64_t t, int64_t k, float *slice, gpointer data)
{
  const ProbMaps *m = data;
  int64_t dims[3];
  completion_probs_get_dims (m->probs, dims);
  for (int64_t j = 0; j < dims[1]; j++)
    completion_probs_row (m->probs, m->classes[t], j, k, slice + j * dims[0]);
}

static gboolean
any_selected (const CompletionOptions *o, int n_classes)
{
  for (int c = 1; c < n_classes; c++)
    if (o->selected[c])
      return TRUE;
  return FALSE;
}

/* the --help text of `anatomy complete` */
static const char summary[] =
  "Complete a partial label map with a 3D network.  IN is any label map (.nii, .nii.gz,\n"
  ".hdr, .nrrd, .seg.nrrd, or a folder of binary masks such as TotalSegmentator's\n"
  "segmentations/) in any label scheme the tool knows (benchmark12, TotalSegmentator\n"
  "v1/v2, AMOS; see --scheme): its ids are mapped to the network's 12 classes.\n"
  "IN is placed in the network's physical frame: through its affine (any orientation), at\n"
  "the network's voxel size (7 mm for the shipped models), positioned by the organs\n"
  "present; the network predicts 13-class probabilities, these come back to IN's own grid\n"
  "(trilinear).  Every voxel labelled in IN keeps its exact value, labels outside the 12\n"
  "classes included; only voxels IN leaves unlabelled may be added to, each taking the\n"
  "most probable of background and the selected organs, except in the slices across the\n"
  "body axis beyond the first and last that hold a label (outside the scan: nothing is\n"
  "known there).  Pieces of an added organ under 10% of its largest piece (6-connected)\n"
  "go back to background.\n"
  "Added voxels are written with IN's own ids: TotalSegmentator's liver as 5 'liver', a\n"
  "kidney split by side into kidney_left/kidney_right (the patient's side of the spine),\n"
  "an organ the scheme splits into parts (lung lobes, vertebrae, ribs) as one new id named\n"
  "'<organ> (completed)'.  A sided name in --labels (kidney_left) completes its class and\n"
  "keeps only that side.  OUT is written in the form its name asks for: NIfTI (names in\n"
  "the header extension), .nrrd, .seg.nrrd (segments), or a folder; from a mask folder IN,\n"
  "a folder OUT gets every mask of IN unchanged plus one <name>.nii.gz per added organ.";

int
cmd_complete (int argc, char **argv)
{
  g_autofree char *model = NULL, *labels = NULL, *probs = NULL, *scheme_name = NULL, *table_path = NULL;
  gboolean force = FALSE, keep_fragments = FALSE;
  int threads = 0;
  g_auto (GStrv) files = NULL;
  g_autofree char *schemes = label_scheme_dup_names ();
  g_autofree char *scheme_help = g_strdup_printf (
    "Label scheme of IN (%s; default: detected from its names; a file without names must hold only 0..12)", schemes);
  GOptionEntry entries[] = {
    { "model", 'm', 0, G_OPTION_ARG_STRING, &model,
      "Network: unet, unet-skip, googlenet-skip (data/models/NAME.safetensors) or a .safetensors file "
      "(default unet-skip, the best on real label maps: docs/results.md)", "MODEL" },
    { "labels", 'l', 0, G_OPTION_ARG_STRING, &labels,
      "Organs that may be added, comma-separated: class names or ids 1..12 (liver, 8, rib cage), names of IN's "
      "scheme (kidney_left: one side only), or 'all' (default: the classes absent from IN that its scheme "
      "labels: no pulmonary artery for a TotalSegmentator v2 file, only abdominal organs for AMOS)", "NAMES" },
    { "scheme", 's', 0, G_OPTION_ARG_STRING, &scheme_name, scheme_help, "NAME" },
    { "table", 0, 0, G_OPTION_ARG_FILENAME, &table_path,
      "Label table naming IN's labels (default: one beside IN, else the names IN carries)", "TABLE" },
    { "probabilities", 'p', 0, G_OPTION_ARG_FILENAME, &probs,
      "Also write the network's probability of each organ that may be added at every voxel of IN: "
      "float32 0..1, one volume per organ in class order (4D NIfTI when several; the order is printed and "
      "in the header's description)", "P.nii.gz" },
    { "threads", 't', 0, G_OPTION_ARG_INT, &threads, "Worker threads (default: all processors)", "N" },
    { "keep-fragments", 0, 0, G_OPTION_ARG_NONE, &keep_fragments,
      "Keep small disconnected pieces of added organs (by default a piece under 10% of its organ's "
      "largest is dropped)", NULL },
    { "force", 'f', 0, G_OPTION_ARG_NONE, &force, "Replace OUT (and P) if they exist", NULL },
    { G_OPTION_REMAINING, 0, 0, G_OPTION_ARG_FILENAME_ARRAY, &files, NULL, NULL },
    { NULL },
  };
  if (!cli_parse_options (&argc, &argv, "IN OUT", summary, entries))
    return CLI_EXIT_USAGE;
  if (files == NULL || g_strv_length (files) != 2)
    return cli_fail ("complete needs IN and OUT (see 'anatomy complete --help')");
  if (threads < 0 || threads > 256)
    return cli_fail ("--threads must be in 0..256");
  LabelFileFormat out_format = label_file_format_from_path (files[1]);
  if (probs && !str_has_suffix_ci (probs, ".nii") && !str_has_suffix_ci (probs, ".nii.gz"))
    return cli_fail ("%s: unknown output format (P is NIfTI: use .nii or .nii.gz)", probs);
  /* OUT and P, checked before any work: neither is IN (nor one of its masks, a detached
   * header's data file, the table or the model), they differ, an existing one only with
   * --force; all are written before any is moved into place */
  const char *inputs[] = { files[0], NULL };
  g_autoptr (OutSet) outputs = cli_outputs_new (force, inputs);
  out_set_add_input (outputs, model);
  out_set_add_input (outputs, table_path);
  if (!cli_outputs_reserve_label_map (outputs, files[1]) || (probs && !cli_outputs_reserve (outputs, probs)))
    return 1;

  g_autoptr (GError) error = NULL;
  g_auto (CliLabelMap) m = { 0 };
  if (!cli_label_map_read (&m, files[0], table_path, 0, &error))
    return cli_fail ("%s", error->message);
  out_set_add_input (outputs, m.table_file);   /* a table found beside IN */
  if (!cli_label_map_resolve (&m, scheme_name, &error))
    return cli_fail ("%s", error->message);

  g_autofree char *path = cli_find_model (model ? model : "unet-skip", &error);
  if (path == NULL)
    return cli_fail ("%s", error->message);
  g_autoptr (NnNet) net = nn_net_load (path, &error);
  if (net == NULL)
    return cli_fail ("%s", error->message);
  const NnConfig *cfg = nn_net_get_config (net);
  const int n_classes = MIN (cfg->n_classes, LT_N_CLASSES);

  CompletionSource src = { .scheme = m.scheme, .table = m.scheme_names, .by_names = m.by_names, .path = files[0] };
  LabelRequest req = { { FALSE } };
  g_autofree char *default_note = NULL;   /* with the default --labels: what it chose */
  if (labels && g_ascii_strcasecmp (labels, "all") != 0)
    {
      g_auto (GStrv) items = g_strsplit (labels, ",", -1);
      int n_items = 0;
      for (int i = 0; items[i]; i++)
        {
          char *item = g_strstrip (items[i]);
          int32_t c;
          LabelSide side;
          g_autofree char *why = NULL;
          if (*item == '\0')
            return cli_fail ("--labels has an empty item");
          if (!parse_label_item (item, &m, &c, &side, &why))
            return cli_fail ("%s", why);
          if (c >= n_classes)
            return cli_fail ("the model knows %d classes: it cannot add %s", n_classes - 1, item);
          request_add (&req, c, side);
          n_items++;
        }
      if (n_items == 0)
        return cli_fail ("--labels names no organ");
    }
  else if (labels == NULL)
    {
      /* default: the classes absent from the input (those present are complete) that its
       * scheme labels (one it cannot label is not missing, only unlabelled) */
      g_autoptr (LabelVolume) mapped = completion_source_map (&src, m.volume, &error);
      if (mapped == NULL)
        return cli_fail ("%s", error->message);
      int32_t n_hist;
      g_autofree int64_t *hist = lv_volume_histogram (mapped, &n_hist);
      g_autoptr (GString) chosen = g_string_new (NULL), unlabelled = g_string_new (NULL);
      for (int c = 1; c < n_classes; c++)
        if (c >= n_hist || hist[c] == 0)
          {
            req.selected[c] = label_scheme_labels_organ (m.scheme, c);
            GString *to = req.selected[c] ? chosen : unlabelled;
            g_string_append_printf (to, "%s%s", to->len ? ", " : "", lt_default_class_name (c));
          }
      if (chosen->len == 0 && unlabelled->len)
        return cli_fail ("%s: every organ its label scheme (%s) labels is present; nothing to complete "
                         "(use --labels to name organs it does not label)", files[0], label_scheme_get_name (m.scheme));
      if (chosen->len == 0)
        return cli_fail ("%s: every organ the model knows is present; nothing to complete "
                         "(use --labels to name organs to grow anyway)", files[0]);
      default_note = g_strdup_printf ("  organs absent from the input, completed: %s%s%s\n", chosen->str,
                                      unlabelled->len ? "; not labelled by its scheme, so left out (--labels adds them): "
                                                      : "", unlabelled->str);
    }
  CompletionOptions opt = { .n_threads = threads, .progress = progress_cb, .keep_fragments = keep_fragments };
  for (int c = 1; c < n_classes; c++)
    opt.selected[c] = req.selected[c];
  src.only_side = req.side;

  g_autoptr (CompletionProbs) kept = NULL;
  int64_t added[COMPLETION_MAX_CLASSES] = { 0 };
  opt.probs_out = &kept;
  opt.added = added;
  gint64 t0 = g_get_monotonic_time ();
  g_autoptr (LabelTable) out_table = NULL;
  g_autoptr (LabelVolume) out = completion_run_in_scheme (net, &src, m.volume, &opt, &out_table, NULL, &error);
  cli_progress_done ();
  if (out == NULL && g_error_matches (error, COMPLETION_ERROR, COMPLETION_ERROR_INPUT))
    return cli_fail ("%s: %s", files[0], error->message);   /* what is wrong with IN */
  if (out == NULL)
    return cli_fail ("%s", error->message);
  double secs = (g_get_monotonic_time () - t0) / 1e6;

  /* the names to write: none for a benchmark file that had none; a 3D Slicer file keeps
   * its segment names and IDs */
  gboolean plain_b12 = m.table == NULL && strcmp (label_scheme_get_name (m.scheme), LABEL_SCHEME_BENCHMARK12) == 0;
  g_autoptr (LabelTable) names = NULL;
  g_autoptr (LabelTable) segment_ids = NULL;
  if (!plain_b12 && m.segment_ids != NULL && m.scheme_names == m.segment_ids && out_format == LABEL_FILE_FORMAT_SEG_NRRD)
    {
      names = lt_table_new (m.table->source);
      segment_ids = lt_table_new (m.segment_ids->source);
      for (guint i = 0; i < out_table->entries->len; i++)
        {
          const LabelEntry *e = &g_array_index (out_table->entries, LabelEntry, i);
          const LabelEntry *shown = lt_table_lookup (m.table, e->id);
          lt_table_set (names, e->id, shown ? shown->name : e->name, shown ? shown->rgba : e->rgba);
          lt_table_set (segment_ids, e->id, e->name, e->rgba);
        }
    }
  else if (!plain_b12)
    {
      /* the file's own names (display names of a .seg.nrrd too), then the new ones */
      names = cli_label_map_dup_output_names (&m, m.table, out_format);
      if (names == NULL)
        names = lt_table_new (out_table->source);
      for (guint i = 0; i < out_table->entries->len; i++)
        {
          const LabelEntry *e = &g_array_index (out_table->entries, LabelEntry, i);
          if (lt_table_lookup (names, e->id) == NULL)
            lt_table_set (names, e->id, e->name, e->rgba);
        }
      if (out_format == LABEL_FILE_FORMAT_SEG_NRRD && m.segment_ids != NULL)
        {
          /* the segments keep their IDs; an added one takes the scheme's name */
          segment_ids = cli_label_map_dup_output_names (&m, m.segment_ids, LABEL_FILE_FORMAT_SEG_NRRD);
          for (guint i = 0; i < out_table->entries->len; i++)
            {
              const LabelEntry *e = &g_array_index (out_table->entries, LabelEntry, i);
              if (lt_table_lookup (segment_ids, e->id) == NULL && lt_table_lookup (m.table, e->id) == NULL)
                lt_table_set (segment_ids, e->id, e->name, e->rgba);
            }
        }
    }
  else if (out_format == LABEL_FILE_FORMAT_FOLDER || out_format == LABEL_FILE_FORMAT_SEG_NRRD)
    names = lt_table_new_default ();

  LabelFileWriteOptions wo = { .like_path = files[0], .like = m.volume, .segment_ids = segment_ids };
  ProbMaps maps = { kept };
  GString *order = g_string_new ("probabilities of");
  for (int c = 1; c < n_classes; c++)
    if (opt.selected[c] || !any_selected (&opt, n_classes))
      {
        maps.classes[maps.n++] = c;
        g_string_append_printf (order, "%s %s", maps.n > 1 ? "," : "", lt_default_class_name (c));
      }
  g_autofree char *descrip = g_string_free (order, FALSE);
  if (!label_file_write_full_in (outputs, out, names, files[1], &wo, &error)
      || (probs && !nifti_write_float_in (outputs, m.volume, maps.n, descrip, prob_slice, &maps, probs, &error)))
    return cli_fail_output (error);
  if (cli_outputs_commit (outputs) != 0)
    return 1;

  printf ("%s: completed with %s (%s, grid %d×%d×%d) in %.2f s; scheme %s\n", files[1], nn_arch_to_string (cfg->arch),
          path, cfg->grid[0], cfg->grid[1], cfg->grid[2], secs, label_scheme_get_name (m.scheme));
  if (probs)
    printf ("%s: %s (volume 1..%d)\n", probs, descrip, maps.n);
  if (default_note)
    fputs (default_note, stdout);
  /* what was added, by the output's own ids and names */
  g_autoptr (GHashTable) counts = g_hash_table_new_full (NULL, NULL, NULL, g_free);
  const int64_t n = lv_volume_n_voxels (out);
  for (int64_t i = 0; i < n; i++)
    {
      int32_t l = lv_volume_get_index (out, i);
      if (l == 0 || lv_volume_get_index (m.volume, i) != 0)
        continue;
      int64_t *cnt = g_hash_table_lookup (counts, GINT_TO_POINTER (l));
      if (cnt == NULL)
        {
          cnt = g_new0 (int64_t, 1);
          g_hash_table_insert (counts, GINT_TO_POINTER (l), cnt);
        }
      (*cnt)++;
    }
  g_autoptr (GArray) ids = lv_ids_of_set (counts, TRUE);
  const LabelTable *shown = names != NULL ? names : out_table;
  for (guint i = 0; i < ids->len; i++)
    {
      int32_t l = g_array_index (ids, int32_t, i);
      int64_t cnt = *(int64_t *) g_hash_table_lookup (counts, GINT_TO_POINTER (l));
      char buf[64];
      int32_t c = label_scheme_class_of (m.scheme, l);
      if (m.by_names && out_table != NULL && lt_table_lookup (out_table, l) != NULL)
        c = label_scheme_class_of (m.scheme, label_scheme_find_name (m.scheme, lt_table_lookup (out_table, l)->name));
      const CompletionConfidence *cc = completion_probs_get_confidence (kept, c);
      printf ("  added %6d %-28s class %-18s %10" G_GINT64_FORMAT " voxels  %10.1f mL  mean p %.2f, %4.1f%% < 0.5\n",
              l, lt_table_get_name (shown, l, buf, sizeof buf), c > 0 ? lt_default_class_name (c) : "?", cnt,
              cnt * lv_volume_voxel_mm3 (out) / 1000.0, cc->mean, 100.0 * cc->below_half);
    }
  if (ids->len == 0)
    printf ("  nothing added (the network found no voxels of the selected organs in the free space)\n");
  return 0;
}
