/* ar-label-panel.h: the organ list of the side panel.
 *
 * One row per organ: colour swatch, name, volume in mL (input -> completed), a
 * "complete" check box (only for organs missing from the input), visibility and
 * opacity.  The panel owns the per-organ display state; the window reads it back
 * with ar_label_panel_get_style() whenever "style-changed" is emitted. */
#pragma once

#include <gtk/gtk.h>
#include "label-table.h"
#include "renderer.h"

G_BEGIN_DECLS

#define AR_TYPE_LABEL_PANEL (ar_label_panel_get_type ())
G_DECLARE_FINAL_TYPE (ArLabelPanel, ar_label_panel, AR, LABEL_PANEL, GtkBox)

GtkWidget *ar_label_panel_new (void);

/* Rebuild the rows.  @hist (n_hist counts, index = label) are the input's voxel counts;
 * @ml_per_voxel converts counts to mL.  With @all_table_entries every entry of @table is
 * listed (the organ scheme), otherwise only labels present in the input. */
void ar_label_panel_set_input (ArLabelPanel *self, const LabelTable *table,
                               const int64_t *hist, int32_t n_hist, double ml_per_voxel,
                               gboolean all_table_entries);
/* The completed volume's counts (NULL: no result).  Labels new in the result are
 * marked "newly completed". */
void ar_label_panel_set_result (ArLabelPanel *self, const int64_t *hist, int32_t n_hist,
                                double ml_per_voxel);
/* Style of @label in the input view or (@completed_view) the completed view. */
void ar_label_panel_get_style (ArLabelPanel *self, int32_t label, gboolean completed_view,
                               ArLabelStyle *style);
/* Labels whose "complete" box is ticked (array of int32_t). */
GArray *ar_label_panel_dup_requested (ArLabelPanel *self);
/* Tick or untick @label's "complete" box, as a click would; FALSE if the organ is not
 * listed or is present in the input (nothing to complete). */
gboolean ar_label_panel_set_requested (ArLabelPanel *self, int32_t label, gboolean requested);
/* Labels present in the result but not in the input (array of int32_t). */
GArray *ar_label_panel_dup_new_labels (ArLabelPanel *self);
/* Display name of @label. */
const char *ar_label_panel_get_name (ArLabelPanel *self, int32_t label);
void ar_label_panel_get_color (ArLabelPanel *self, int32_t label, guint8 rgba[4]);
void ar_label_panel_set_opacity (ArLabelPanel *self, int32_t label, double opacity);

G_END_DECLS
