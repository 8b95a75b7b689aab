/* ar-label-panel.h: the organ list of the side panel.
 *
 * The labels of the input are grouped under the benchmark's 12 organ classes (lung ...
 * pulmonary artery) of the file's label scheme, then an "Other labels" group for those
 * that map to none.  A class with several source labels (TotalSegmentator's lung lobes,
 * vertebrae, ribs, left and right kidney) is a group row with an expander over one row
 * per label; a class held by one label of the class's own name (every class of the
 * 12-class scheme, TotalSegmentator's liver) is a single row.  Rows show the colour,
 * the name, the volume in mL (input -> completed) of the class and of each label, a
 * "complete" check box on classes missing from the input (completion adds classes),
 * visibility and opacity.  A file whose scheme is unknown is listed flat, label by
 * label, with a note saying why nothing can be completed.
 *
 * Above the list, a search entry (Ctrl+F) shows only the rows whose names contain its
 * text, and the groups holding them (expanded while searching); two buttons show or
 * hide every organ in the 3D views.
 *
 * Keyboard: Up/Down move between rows; Right or + expands a group, Left or - collapses
 * it (Left on a label goes to its group); Enter expands or collapses; Space ticks a
 * missing class, or shows/hides a label.
 *
 * The panel owns the display state; the window reads it back with
 * ar_label_panel_get_style() whenever "style-changed" is emitted, and the ticked
 * classes with ar_label_panel_dup_requested() on "request-changed".  "scheme-changed"
 * (a scheme name, or NULL: detect) asks for the input to be read in another scheme.
 *
 * Proposals: an organ new in the result can be made a proposal
 * (ar_label_panel_set_proposal); its row then has accept and reject buttons (A and R or
 * Delete on the focused row) and its network's confidence.  A click or key emits
 * "proposal-changed" (label, wanted ArProposal) and changes nothing itself: the owner
 * records the decision and sets it back. */
#pragma once

#include <gtk/gtk.h>
#include "label-scheme.h"
#include "label-table.h"
#include "renderer.h"

G_BEGIN_DECLS

/* The user's decision on an organ a completion added: a proposal until accepted or
 * rejected. */
typedef enum {
  AR_PROPOSAL_NONE,        /* not a proposal (present in the input, or no completion) */
  AR_PROPOSAL_PENDING,
  AR_PROPOSAL_ACCEPTED,
  AR_PROPOSAL_REJECTED,
} ArProposal;

#define AR_TYPE_LABEL_PANEL (ar_label_panel_get_type ())
G_DECLARE_FINAL_TYPE (ArLabelPanel, ar_label_panel, AR, LABEL_PANEL, GtkBox)

GtkWidget *ar_label_panel_new (void);

typedef struct {
  const LabelTable *table;      /* names and colours of the input's ids (copied) */
  const int64_t *hist;          /* (n_hist) the input's voxel counts, index = label */
  int32_t n_hist;
  double ml_per_voxel;          /* counts -> mL */
  const LabelScheme *scheme;    /* the ids' scheme; NULL: unknown, nothing can be completed */
  gboolean by_names;            /* ids map to the scheme by their names in @table */
  const LabelTable *scheme_names; /* if not NULL, the names the scheme knows the ids by (a 3D
                                 * Slicer file's segment IDs), used instead of @table's (copied) */
  const char *no_scheme;        /* with scheme NULL: why (shown), else NULL */
  const char *forced_scheme;    /* the scheme the user chose (a name), NULL: detected */
  const char *warnings;         /* the reader's notes for the user, or NULL */
} ArLabelPanelInput;

/* Rebuild the list for a new input (every class of a known scheme is listed). */
void ar_label_panel_set_input (ArLabelPanel *self, const ArLabelPanelInput *input);
/* The completed volume's counts (NULL: no result) and the names of its ids (@table may
 * be NULL: the input's).  Labels new in the result are listed under their class and
 * marked "newly completed". */
void ar_label_panel_set_result (ArLabelPanel *self, const int64_t *hist, int32_t n_hist,
                                double ml_per_voxel, const LabelTable *table);
/* Style of @label in the input view or (@completed_view) the completed view. */
void ar_label_panel_get_style (ArLabelPanel *self, int32_t label, gboolean completed_view,
                               ArLabelStyle *style);
/* The 12-class organs ticked for completion (array of int32_t, 1..12). */
GArray *ar_label_panel_dup_requested (ArLabelPanel *self);
/* Tick or untick class @klass (1..12) as a click would; FALSE if it cannot be completed
 * (present in the input, or the scheme is unknown). */
gboolean ar_label_panel_set_requested (ArLabelPanel *self, int32_t klass, gboolean requested);
/* Makes @label (new in the result) a proposal in @state, with @confidence (a short text,
 * may be NULL) on its row; AR_PROPOSAL_NONE takes the buttons away.  Styles follow: in
 * the completed view a pending proposal is see-through, a rejected one hidden. */
void ar_label_panel_set_proposal (ArLabelPanel *self, int32_t label, ArProposal state, const char *confidence);
ArProposal ar_label_panel_get_proposal (ArLabelPanel *self, int32_t label);
/* No label is a proposal any more (no signal). */
void ar_label_panel_clear_proposals (ArLabelPanel *self);
/* Labels present in the result but not in the input (array of int32_t). */
GArray *ar_label_panel_dup_new_labels (ArLabelPanel *self);
/* Display name of @label ("" if unknown). */
const char *ar_label_panel_get_name (ArLabelPanel *self, int32_t label);
void ar_label_panel_get_color (ArLabelPanel *self, int32_t label, guint8 rgba[4]);
void ar_label_panel_set_opacity (ArLabelPanel *self, int32_t label, double opacity);
/* Opacity of every label of class @klass (0: the other labels). */
void ar_label_panel_set_class_opacity (ArLabelPanel *self, int32_t klass, double opacity);
/* Expand or collapse the group of @klass (0: other labels); FALSE if it is not a group. */
gboolean ar_label_panel_set_expanded (ArLabelPanel *self, int32_t klass, gboolean expanded);

/* Show or hide every organ in the 3D views, as the panel's buttons do ("style-changed"). */
void ar_label_panel_set_all_visible (ArLabelPanel *self, gboolean visible);
/* Type @text (NULL or "": none) into the search entry; FALSE if the entry is not shown. */
gboolean ar_label_panel_set_search (ArLabelPanel *self, const char *text);
/* Why no organ of the input can be completed (the panel's note says so too), or NULL. */
const char *ar_label_panel_get_completion_problem (ArLabelPanel *self);

/* Choose label scheme @name (NULL: detect) in the panel's chooser, as the user would
 * ("scheme-changed" follows); FALSE for an unknown name. */
gboolean ar_label_panel_choose_scheme (ArLabelPanel *self, const char *name);

/* For tests: the rows as shown, one line each, fields separated by " | ":
 *   kind (group, organ, label, flat) | class | name | volume text | expanded/collapsed/- |
 *   complete: ticked/unticked/- | shown/hidden (row visible) | visible/invisible (eye) */
char *ar_label_panel_dup_rows_text (ArLabelPanel *self);
/* For tests: the widget of @part ("row", "expander", "check", "eye", "accept", "reject") of class @klass's
 * row (@label < 0) or of @label's row, or the panel's "search", "show-all" or "hide-all"
 * (@klass and @label ignored); NULL if there is none. */
GtkWidget *ar_label_panel_get_part (ArLabelPanel *self, int32_t klass, int32_t label, const char *part);

G_END_DECLS
