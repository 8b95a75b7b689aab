/* ar-window-private.h: ArWindow internals shared by its concern files
 * (ar-window.c: UI and actions; ar-window-test.c: the hidden test script runner). */
#pragma once

#include "ar-window.h"
#include "ar-completion.h"
#include "ar-label-panel.h"
#include "ar-slice-view.h"
#include "ar-view.h"
#include "label-table.h"
#include "mesh.h"

G_BEGIN_DECLS

/* A loaded label map with its surfaces, ready to draw. */
typedef struct {
  char *path;
  LabelVolume *volume;
  SurfaceSet *surfaces;
  GPtrArray *meshes;        /* ArRenderMesh* */
  int64_t *hist;            /* voxel count per label */
  int32_t n_hist;
  double ml_per_voxel;
  LabelTable *table;        /* input only: names and colours */
  double ms_read, ms_mesh;
} ArScene;

void ar_scene_free (ArScene *s);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (ArScene, ar_scene_free)

struct _ArWindow {
  GtkApplicationWindow parent_instance;

  /* template */
  GtkWidget *subtitle, *save_button, *complete_button, *network_dropdown, *slices_button;
  GtkWidget *progress_revealer, *progress_label, *progress_bar, *cancel_button;
  GtkWidget *paned, *views_box, *result_title, *result_placeholder, *legend_box;
  GtkWidget *slice_revealer, *menu_button;
  ArLabelPanel *label_panel;
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
  char *job_text;

  ArScene *input;
  ArScene *results[AR_N_NETWORKS + 1];   /* index AR_N_NETWORKS: a result loaded from a file */
  int shown_result;                       /* index into results, -1: none */
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

/* Called by the test runner. */
gboolean ar_window_is_busy (ArWindow *self);
void ar_window_show_result (ArWindow *self, int index);
gboolean ar_window_save_result_to (ArWindow *self, const char *path, GError **error);

G_END_DECLS
