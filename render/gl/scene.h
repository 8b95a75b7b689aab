/* scene.h: one label map ready to draw, for the window and `anatomy render` alike.
 *
 * Loading is one chain: read the volume (any format label_file_read() knows: NIfTI, NRRD,
 * .seg.nrrd, mask folders), find its label table and label scheme, count the voxels of each
 * label, extract and smooth the organ surfaces, and prepare a renderer mesh of each.
 * It runs on any thread (no GL, no GTK): ar_scene_load() blocks, ar_scene_load_async()
 * runs it in a worker.  A loaded scene is not changed afterwards; it is reference-counted
 * so several views and background jobs can hold it.
 */
#pragma once

#include <gio/gio.h>
#include "label-scheme.h"
#include "label-table.h"
#include "label-volume.h"
#include "mesh.h"
#include "renderer.h"

G_BEGIN_DECLS

/* The most labels a scene shows (each is a row of the window's label list and a draw
 * call per frame: 2,048 take about 3 s to open in the window on llvmpipe, 10^6 would
 * take an hour), and the largest label id (the label counts are one array indexed by id).
 * A volume beyond either is refused with MESH_ERROR_TOO_LARGE; `anatomy mesh` has no such
 * limit. */
#define AR_SCENE_MAX_LABELS 2048
#define AR_SCENE_MAX_LABEL_ID ((1 << 24) - 1)

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
  gboolean find_table;      /* look for the file's label table and resolve its label scheme
                             * (else the scene has neither) */
  const char *scheme;       /* with find_table: the scheme to use (a name, as --scheme), NULL: detect */
  const LabelTable *table;  /* if not NULL, the scene's table is a copy of it (a completion's
                             * output names); find_table is then ignored */
  gint *stage;              /* if not NULL, set (atomically) to each ArSceneStage as it starts */
} ArSceneOptions;

typedef struct {
  gint refs;                /* atomic */
  char *path;
  LabelVolume *volume;
  LabelTable *table;        /* names and colours shown: with find_table the file's names, else
                             * its scheme's (the built-in organs for the 12 classes), else an
                             * empty table; without, a copy of opts->table or NULL */
  GError *table_error;      /* why the file's table could not be used, or NULL */
  LabelTable *names;        /* with find_table: the names the file carries (in it or in a table
                             * beside it), NULL when it has none */
  const LabelScheme *scheme;  /* with find_table: the label scheme of the file's ids, or NULL */
  gboolean by_names;        /* its ids match the scheme through `scheme_names`, not by value */
  LabelTable *segment_ids;  /* a 3D Slicer file's segment IDs when they differ from its names
                             * (label_file_read_full), else NULL */
  const LabelTable *scheme_names; /* with a scheme: the names it was resolved from, `names` or
                             * (when only those follow a scheme) `segment_ids`; else `names` */
  GError *scheme_error;     /* with find_table and no scheme: why (unknown names, ids beyond
                             * the 12 classes without names, ids the forced scheme lacks) */
  char *read_warnings;      /* the reader's notes for the user (one per line), or NULL */
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
/* The same in a worker thread; @opts is copied with its strings and table (its stage
 * pointer must outlive the load). */
void ar_scene_load_async (const char *path, LabelVolume *volume, const ArSceneOptions *opts,
                          GCancellable *cancellable, GAsyncReadyCallback callback,
                          gpointer user_data);
ArScene *ar_scene_load_finish (GAsyncResult *result, GError **error);

ArScene *ar_scene_ref (ArScene *s);
void ar_scene_unref (ArScene *s);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (ArScene, ar_scene_unref)

/* A deep copy of @t (NULL gives NULL). */
LabelTable *ar_scene_table_dup (const LabelTable *t);

/* Whether the scene has a surface of @label. */
gboolean ar_scene_has_label (const ArScene *s, int32_t label);
/* Voxels of @label (0 beyond the histogram). */
int64_t ar_scene_count (const ArScene *s, int32_t label);
/* Hand every mesh of @s to @r (replacing meshes of the same labels; @s NULL: none). */
void ar_scene_add_to_renderer (const ArScene *s, ArRenderer *r);

G_END_DECLS
