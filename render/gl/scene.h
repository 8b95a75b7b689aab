/* scene.h: one label map ready to draw, for the window and `anatomy render` alike.
 *
 * Loading is one chain: read the volume, find its label table, count the voxels of each
 * label, extract and smooth the organ surfaces, and prepare a renderer mesh of each.
 * It runs on any thread (no GL, no GTK): ar_scene_load() blocks, ar_scene_load_async()
 * runs it in a worker.  A loaded scene is not changed afterwards; it is reference-counted
 * so several views and background jobs can hold it.
 */
#pragma once

#include <gio/gio.h>
#include "label-table.h"
#include "label-volume.h"
#include "mesh.h"
#include "renderer.h"

G_BEGIN_DECLS

/* What the load is doing, for a progress display. */
typedef enum {
  AR_SCENE_STAGE_NONE,
  AR_SCENE_STAGE_READ,      /* reading the file */
  AR_SCENE_STAGE_TABLE,     /* looking for its label table */
  AR_SCENE_STAGE_MESH,      /* extracting and smoothing surfaces */
  AR_SCENE_STAGE_PREPARE,   /* building the renderer meshes */
} ArSceneStage;

typedef struct {
  guint smooth_iterations;  /* Taubin pairs applied to the surfaces (0: raw) */
  gboolean find_table;      /* look for the file's label table (else the scene has none) */
  gint *stage;              /* if not NULL, set (atomically) to each ArSceneStage as it starts */
} ArSceneOptions;

typedef struct {
  gint refs;                /* atomic */
  char *path;
  LabelVolume *volume;
  LabelTable *table;        /* with find_table: the file's table, else the built-in organs */
  GError *table_error;      /* why the file's table could not be used, or NULL */
  char *read_warnings;      /* the reader's sentences for the user (label_file_read), or NULL */
  int64_t *hist;            /* (n_hist) voxels per label */
  int32_t n_hist;
  double ml_per_voxel;
  SurfaceSet *surfaces;     /* smoothed organ surfaces, sorted by label */
  GPtrArray *meshes;        /* ArRenderMesh*, one per surface, same order */
  double ms_read, ms_mesh;  /* time reading (and finding the table), meshing */
} ArScene;

/* Load @path: any label file label_file_read knows (NIfTI, NRRD, .seg.nrrd, a mask
 * folder).  @volume, if not NULL, is taken and used instead of reading the file (a
 * completion result, which keeps its input's name).  @opts may be NULL (no smoothing,
 * no table).  Errors name the file; a cancelled load fails with MESH_ERROR_CANCELLED. */
ArScene *ar_scene_load (const char *path, LabelVolume *volume, const ArSceneOptions *opts,
                        GCancellable *cancellable, GError **error);
/* The same in a worker thread; @opts is copied (its stage pointer must outlive the load). */
void ar_scene_load_async (const char *path, LabelVolume *volume, const ArSceneOptions *opts,
                          GCancellable *cancellable, GAsyncReadyCallback callback,
                          gpointer user_data);
ArScene *ar_scene_load_finish (GAsyncResult *result, GError **error);

ArScene *ar_scene_ref (ArScene *s);
void ar_scene_unref (ArScene *s);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (ArScene, ar_scene_unref)

/* Whether the scene has a surface of @label. */
gboolean ar_scene_has_label (const ArScene *s, int32_t label);
/* Voxels of @label (0 beyond the histogram). */
int64_t ar_scene_count (const ArScene *s, int32_t label);
/* Hand every mesh of @s to @r (replacing meshes of the same labels; @s NULL: none). */
void ar_scene_add_to_renderer (const ArScene *s, ArRenderer *r);

G_END_DECLS
