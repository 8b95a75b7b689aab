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

G_END_DECLS
