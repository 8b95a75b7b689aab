/* ar-slice-view.h: 2D slices of the label maps (axial, coronal, sagittal) with the
 * completed organs overlaid; scroll or drag the slider to move through slices. */
#pragma once

#include <gtk/gtk.h>
#include "label-volume.h"
#include "ar-label-panel.h"

G_BEGIN_DECLS

#define AR_TYPE_SLICE_VIEW (ar_slice_view_get_type ())
G_DECLARE_FINAL_TYPE (ArSliceView, ar_slice_view, AR, SLICE_VIEW, GtkBox)

GtkWidget *ar_slice_view_new (void);
/* Borrowed volumes (NULL allowed); the panel gives colours and visibility. */
void ar_slice_view_set_volumes (ArSliceView *self, const LabelVolume *input,
                                const LabelVolume *result, ArLabelPanel *panel);

/* Shows slice @index (clamped; < 0: the middle) across axis @axis (0 axial, 1 coronal,
 * 2 sagittal), as the axis menu and the slider do. */
void ar_slice_view_show_slice (ArSliceView *self, int axis, int64_t index);

/* A value 0..1 at voxel (i, j, k) of the input (e.g. the network's probability). */
typedef float (*ArSliceValueFunc) (int64_t i, int64_t j, int64_t k, gpointer data);
/* Overlays @func's values on the value scale (ar_value_color), translucent where they are
 * low and clear under 0.02; @func NULL: no overlay.  @data must outlive it. */
void ar_slice_view_set_values (ArSliceView *self, ArSliceValueFunc func, gpointer data);

G_END_DECLS
