/* ar-window-private.h: ArWindow internals shared by its concern files: ar-window.c (core
 * and lifecycle), ar-window-load.c (files and background work), ar-window-actions.c
 * (actions and menus), ar-window-compare.c (comparison), ar-window-table.c (the
 * comparison table) and ui/testing/ar-window-test.c
 * (the hidden test script runner). */
#pragma once

#include "ar-window.h"
#include "ar-completion.h"
#include "ar-label-panel.h"
#include "ar-slice-view.h"
#include "ar-view.h"
#include "label-table.h"
#include "mesh.h"
#include "metrics.h"
#include "organ-metrics.h"
#include "scene.h"

G_BEGIN_DECLS

/* A label map shown beside the input (a network's result, one loaded from a file, the
 * reference): its scene and what the window learnt about it. */
typedef struct {
  gint refs;                /* atomic: a metrics worker may hold results too */
  ArScene *scene;
  /* overlap, volume difference and HD95 against the reference (computed once per
   * reference, see reference_serial), index = label */
  OrganMetrics *metrics;
  int32_t n_metrics;
  guint metrics_serial;
  guint metrics_pending;    /* reference_serial a worker is computing metrics for, 0: none */
  char *metrics_error;      /* why there are no metrics (e.g. another grid) */
  GArray *request;          /* network results: the organs (int32) it was asked to add */
  /* network results (ar-window-review.c): the probabilities behind it, and per organ it
   * added (by label) the user's decision (ArProposal) and its 12-class class, with the
   * decisions' undo history; NULL for other results */
  CompletionProbs *probs;
  GHashTable *decisions, *classes;
  GArray *undo;
} ArResult;

/* Slots of ArWindow.results: one per network, a completed map loaded from a file, and
 * the reference (ground truth) label map. */
#define AR_RESULT_FILE NN_N_ARCHS
#define AR_RESULT_REFERENCE (NN_N_ARCHS + 1)
#define AR_N_RESULTS (NN_N_ARCHS + 2)
/* Compare-all grid: the input and one view per network. */
#define AR_N_GRID_VIEWS (1 + NN_N_ARCHS)
/* Triangles drawn in all visible 3D views together while the user drags. */
#define AR_DRAG_TRIANGLE_BUDGET 60000

/* A new result holding @scene (taken). */
ArResult *ar_result_new (ArScene *scene);
ArResult *ar_result_ref (ArResult *r);
void ar_result_unref (ArResult *r);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (ArResult, ar_result_unref)

/* A background load started by the window, handed to its callback as the user data
 * (the callback frees it; finish with ar_scene_load_finish). */
typedef struct {
  ArWindow *self;           /* a reference, held until the load is done */
  char *path;
  char *scheme;             /* the label scheme asked for (inputs), NULL: detected */
  GCancellable *job;
} ArLoadJob;
void ar_load_job_free (ArLoadJob *j);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (ArLoadJob, ar_load_job_free)

struct _ArWindow {
  GtkApplicationWindow parent_instance;

  /* template */
  GtkWidget *subtitle, *save_button, *complete_button, *network_dropdown, *slices_button;
  GtkWidget *progress_revealer, *progress_label, *progress_bar, *cancel_button;
  GtkWidget *paned, *views_box, *result_title, *result_placeholder, *legend_box;
  GtkWidget *slice_revealer, *menu_button;
  GtkWidget *views_stack, *grid_box, *metrics_revealer, *metrics_grid, *metrics_heading;
  GtkWidget *compare_button, *metrics_button, *reference_button;
  ArLabelPanel *label_panel;
  GtkDropTarget *drop_target;     /* files and folders dropped on the window */
  ArView *view_input, *view_result;
  ArSliceView *slice_view;
  GMenu *recent_menu;

  ArCamera camera;
  GCancellable *cancellable;      /* the window's: cancelled on close */
  GCancellable *job_cancellable;  /* the current background job's (child of the above) */
  guint progress_timer;
  gint job_stage;                 /* atomic, written by the worker */
  gint job_permille;              /* atomic: completion progress from the worker */
  int job_network;                /* network of the running completion */
  GArray *job_request;            /* the organs it was asked to add */
  CompletionProbs *job_probs;     /* the probabilities of the completion being meshed */
  gboolean confidence_colours;    /* win.confidence: colour proposals by probability */
  const CompletionProbs *overlay_probs;   /* the slice view's probability overlay */
  int32_t overlay_classes[LT_N_CLASSES];
  int n_overlay;
  char *job_text;

  ArScene *input;
  char *scheme_request;                   /* the scheme chosen for the input, NULL: detected */
  ArResult *results[AR_N_RESULTS];        /* see AR_RESULT_FILE, AR_RESULT_REFERENCE */
  int shown_result;                       /* index into results, -1: none */
  guint reference_serial;                 /* bumped whenever the reference changes */
  GCancellable *reference_job;            /* loading the reference (no progress bar) */
  guint metrics_jobs;                     /* overlap computations running in workers */
  gboolean metrics_present_shown;         /* the table's "Present in the input" rows unfolded */

  /* compare all */
  gboolean comparing;
  guint compare_pending;                  /* bit per network still to run */
  char *net_error[NN_N_ARCHS];         /* why a network's completion failed */
  ArView *grid_views[AR_N_GRID_VIEWS];
  GtkWidget *grid_titles[AR_N_GRID_VIEWS], *grid_notes[AR_N_GRID_VIEWS];
  gboolean result_unsaved;
  gboolean close_confirmed;

  gboolean presenting;
  guint turntable_tick;
  gint64 turntable_last;

  GtkWidget *error_dialog;        /* the last error dialog, if open */
  char *last_error;

  /* timing */
  gint64 t_created;
  gint64 t_loaded;
  double first_frame_ms;

  /* test script runner */
  gpointer test;
};

/* ArWindow.job_stage: a load's ArSceneStage, or completing with a network. */
#define AR_JOB_COMPLETING (AR_SCENE_STAGE_PREPARE + 1)

/* ar-window.c: core */
void ar_window_show_error (ArWindow *self, const char *primary, const GError *error);
/* Start a job with the progress bar (cancelling the one running); returns its cancellable. */
GCancellable *ar_window_begin_job (ArWindow *self, const char *what);
/* The job of @job is done (nothing happens if a newer job runs). */
void ar_window_end_job (ArWindow *self, GCancellable *job);
void ar_window_apply_styles (ArWindow *self);
/* A disc of @rgba's colour, @size pixels wide; @ringed adds the ring of a new organ. */
GtkWidget *ar_window_swatch_new (const guint8 rgba[4], int size, gboolean ringed);
/* Why no organ of the input can be completed (its label scheme is unknown), for people;
 * NULL when its scheme is known. */
char *ar_window_dup_scheme_problem (ArWindow *self);
/* Hands the input's labels, scheme and volumes to the organ panel. */
void ar_window_show_input_organs (ArWindow *self);
/* The camera frames the input's surfaces. */
void ar_window_frame_input (ArWindow *self);
/* A network's cached result exists and was computed for the organs ticked now. */
gboolean ar_window_result_is_current (ArWindow *self, NnArch net);
/* The scene in result slot @index; NULL when the slot is empty or @index < 0. */
ArScene *ar_window_get_result_scene (ArWindow *self, int index);

/* ar-window-load.c: files and background work */
/* Load @path (or mesh @volume, taken, under its name) in a worker as the window does:
 * smoothed surfaces, with the file's label table and label scheme if @find_table (the
 * scheme named @scheme, NULL: detected), or a copy of @table if not NULL; @stage
 * (atomic, may be NULL) follows the ArSceneStage.  @callback gets a new ArLoadJob
 * holding @job. */
void ar_window_load_scene_async (ArWindow *self, const char *path, LabelVolume *volume,
                                 gboolean find_table, const char *scheme, const LabelTable *table,
                                 GCancellable *job, gint *stage, GAsyncReadyCallback callback);
/* Read the input again in label scheme @scheme (NULL: detect). */
void ar_window_reload_input (ArWindow *self, const char *scheme);
void ar_window_start_completion (ArWindow *self, NnArch net);

/* ar-window-actions.c: actions, file choosers, presentation, recent files */
typedef enum {
  AR_CHOOSE_OPEN, AR_CHOOSE_OPEN_FOLDER, AR_CHOOSE_RESULT, AR_CHOOSE_REFERENCE, AR_CHOOSE_SAVE,
  AR_CHOOSE_MESH, AR_CHOOSE_SHOT, AR_CHOOSE_METRICS
} ArChooseKind;
/* Adds the win.* actions and the recent-files menu. */
void ar_window_actions_init (ArWindow *self);
void ar_window_update_actions (ArWindow *self);
/* Opens the file chooser for @kind; the answer is acted on when it comes. */
void ar_window_choose (ArWindow *self, ArChooseKind kind);

/* ar-window-compare.c: compare-all grid, reference, comparison table */
void ar_window_compare_init (ArWindow *self);
void ar_window_compare_input_changed (ArWindow *self);  /* a new input: results are gone */
void ar_window_compare_result_changed (ArWindow *self, int index);
void ar_window_compare_completion_failed (ArWindow *self, NnArch net, const GError *error);
void ar_window_compare_next (ArWindow *self);            /* run the next queued network */
void ar_window_compare_request_changed (ArWindow *self); /* other organs ticked */
void ar_window_load_reference (ArWindow *self, GFile *file);
/* The reference that goes with @input_path by name, or NULL. */
char *ar_window_guess_reference (const char *input_path);
/* Titles and notes of the grid cells (after the results or their metrics changed). */
void ar_window_compare_update_grid (ArWindow *self);
/* Every 3D view (pair and grid) in *n; mapped ones are visible. */
ArView **ar_window_get_views (ArWindow *self, guint *n);
void ar_window_update_budgets (ArWindow *self);
extern const GActionEntry ar_window_compare_actions[];
extern const gsize ar_window_n_compare_actions;

/* ar-window-table.c: the comparison table (per organ against the reference) */
void ar_window_table_init (ArWindow *self);     /* its actions (copy-metrics, save-metrics) */
/* Rebuilds the table, and starts computing the metrics it lacks. */
void ar_window_table_update (ArWindow *self);
/* @s has metrics against the current reference. */
gboolean ar_window_metrics_ready (ArWindow *self, const ArResult *s);
/* The comparison table as text: its heading, then one line per row, cells separated by
 * " | " (folded rows included). */
char *ar_window_dup_metrics_text (ArWindow *self);
/* The table as CSV (see ar-window-table.c), NULL when there is none. */
char *ar_window_dup_metrics_csv (ArWindow *self);
/* Writes the CSV to @path (never over an input; over an existing file only with @overwrite). */
gboolean ar_window_save_metrics_csv (ArWindow *self, const char *path, gboolean overwrite, GError **error);
/* Folds or unfolds the organs present in the input. */
void ar_window_table_show_present (ArWindow *self, gboolean shown);

/* ar-window-review.c: proposals, confidence, what is saved */
void ar_window_review_init (ArWindow *self);
/* A network's new result @r: its added organs become pending proposals, coloured by
 * @probs (taken, may be NULL) for the confidence colouring. */
void ar_window_review_adopt (ArWindow *self, ArResult *r, CompletionProbs *probs);
ArProposal ar_window_review_get (ArResult *r, int32_t label);
/* The shown result's proposals to the panel and the legend (after it is shown). */
void ar_window_review_show (ArWindow *self);
/* Sets @st->by_value of @label in the completed view: the confidence colouring. */
void ar_window_review_style (ArWindow *self, int32_t label, ArLabelStyle *st);
/* The volume to save from @r: the result without the added organs not accepted
 * (*n_left_out of them). */
LabelVolume *ar_window_review_dup_saved (ArWindow *self, const ArResult *r, int *n_left_out);
/* For tests: "label | name | pending/accepted/rejected | voxels | mean p | share < 0.5",
 * one line per proposal of the shown result. */
char *ar_window_review_dup_text (ArWindow *self);

/* Called by the test runner. */
gboolean ar_window_is_busy (ArWindow *self);
void ar_window_show_result (ArWindow *self, int index);
gboolean ar_window_save_result_to (ArWindow *self, const char *path, GError **error);
/* Export Meshes: the shown result's meshes (else the input's) to @path, each named by its
 * label's name in the source scheme. */
gboolean ar_window_export_meshes_to (ArWindow *self, const char *path, GError **error);
/* An OutSet (out-file.h) for a save from the window: every file shown (input and its
 * table, results, reference) is an input, so never replaced; other files are replaced
 * when @overwrite (the file chooser asked).  Free with out_set_free. */
OutSet *ar_window_outputs_new (ArWindow *self, gboolean overwrite);

G_END_DECLS
