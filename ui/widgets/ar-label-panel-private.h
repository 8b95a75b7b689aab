/* ar-label-panel-private.h: the organ panel's state and the functions its files share:
 * ar-label-panel-model.c (tables, grouping, texts), ar-label-panel-rows.c (row widgets),
 * ar-label-panel-list.c (the list, expanding, keys), ar-label-panel-filter.c (the search
 * entry, show all / hide all) and ar-label-panel.c (scheme chooser, API, class).  Private
 * to those files. */
#pragma once

#include "ar-label-panel.h"

typedef struct {
  int32_t label;
  char *name;
  guint8 rgba[4];
  int32_t klass;                /* 1..12, 0: another label */
  int64_t n_input, n_result;    /* voxels; n_result < 0: no result */
  gboolean visible;
  double opacity;
  /* widgets of its own row (owned by the list box), NULL when it has none */
  GtkWidget *row, *volume_label, *eye, *scale;
  ArProposal proposal;
  char *confidence;             /* the network's confidence in a proposal, or NULL */
  GtkWidget *accept, *reject;   /* a new organ's decision buttons, NULL when it has none */
} Organ;

typedef struct {
  const char *name;             /* the class's name, "Other labels" for [0] */
  guint8 rgba[4];
  int64_t n_input;              /* voxels of the class's labels in the input */
  gboolean requested;           /* ticked for completion */
  gboolean expanded, visible;
  gboolean expanded_before;     /* expanded before a search began */
  double opacity;
  int32_t merged_label;         /* shown as one row with this label (-1: none; 0: the class alone) */
  /* widgets of its row, NULL when it has none */
  GtkWidget *row, *expander, *check, *volume_label, *eye, *scale;
} Group;

/* What a row of the list stands for (GObject data "ar-row" on the GtkListBoxRow, and on
 * each of its controls). */
typedef enum { ROW_GROUP = 1, ROW_LABEL, ROW_FLAT } RowKind;

struct _ArLabelPanel {
  GtkBox parent_instance;
  GtkWidget *list, *summary, *note, *scheme_box, *scheme_dropdown;
  GtkWidget *search, *show_all, *hide_all, *no_match;
  char *filter;                 /* the search text, casefolded ("_" and "-" as spaces); NULL: none */
  const char *cannot_complete;  /* why no organ can be completed (static text), or NULL */
  GtkStringList *scheme_items;
  GArray *organs;               /* Organ, sorted by label */
  GHashTable *index;            /* label -> index in organs + 1 */
  Group groups[LT_N_CLASSES];
  gboolean grouped;             /* a known scheme: labels under their classes */
  int n_present;                /* classes 1..12 with voxels in the input */
  const LabelScheme *scheme;
  gboolean by_names;
  LabelTable *table;            /* the input's names (a copy) */
  LabelTable *scheme_names;     /* the names its ids match the scheme by (a copy), or NULL */
  double ml_in, ml_out;
  gboolean has_result;
  gboolean building;
};

enum { SIGNAL_STYLE_CHANGED, SIGNAL_REQUEST_CHANGED, SIGNAL_SCHEME_CHANGED, SIGNAL_PROPOSAL_CHANGED, N_SIGNALS };
extern guint panel_signals[N_SIGNALS];

/* ar-label-panel-model.c */
void panel_organ_clear (gpointer p);
Organ *panel_find_organ (ArLabelPanel *self, int32_t label);
/* rebuilds the label -> organ index after the organs changed */
void panel_reindex (ArLabelPanel *self);
/* orders Organ by label */
int panel_cmp_organ (gconstpointer a, gconstpointer b);
void panel_add_organ (ArLabelPanel *self, int32_t label, const LabelTable *names, int64_t n_input);
gboolean panel_organ_listed (ArLabelPanel *self, const Organ *o);
gboolean panel_group_completable (ArLabelPanel *self, int32_t k);
/* Class @k has no label in the file's scheme: unlabelled rather than missing, not ticked at first. */
gboolean panel_group_unlabelled (ArLabelPanel *self, int32_t k);
void panel_group_counts (ArLabelPanel *self, int32_t k, int64_t *in, int64_t *out, int *n_listed);
void panel_update_organ_text (ArLabelPanel *self, Organ *o);
void panel_update_group_text (ArLabelPanel *self, int32_t k);
/* the label class @k shows as one row (-1: none; 0: the class alone) */
int32_t panel_merged_label_of (ArLabelPanel *self, int32_t k);

/* ar-label-panel-rows.c: what a row or control stands for */
RowKind panel_tag_kind (gpointer w);
int32_t panel_tag_key (gpointer w);
GtkWidget *panel_build_group_row (ArLabelPanel *self, int32_t k, gboolean reserve);
GtkWidget *panel_build_label_row (ArLabelPanel *self, Organ *o);
GtkWidget *panel_build_flat_row (ArLabelPanel *self, Organ *o);
/* shows @o's proposal state on its buttons and caption */
void panel_update_proposal (ArLabelPanel *self, Organ *o);
/* asks for @o to be accepted (or rejected), or back to pending if it already is */
void panel_decide (ArLabelPanel *self, Organ *o, gboolean accept);

/* ar-label-panel-list.c */
void panel_rebuild (ArLabelPanel *self);
void panel_expander_clicked (GtkButton *b, ArLabelPanel *self);
void panel_row_activated (GtkListBox *box, GtkListBoxRow *row, ArLabelPanel *self);
gboolean panel_key_pressed (GtkEventControllerKey *c, guint keyval, guint keycode, GdkModifierType state,
                            ArLabelPanel *self);

/* ar-label-panel-filter.c */
/* the search entry and the show all / hide all buttons, appended to @box */
void panel_filter_init (ArLabelPanel *self, GtkBox *box);
/* shows the rows that match the search (and the labels of expanded groups) */
void panel_apply_filter (ArLabelPanel *self);
/* after a new input: a search still typed expands the groups with matches */
void panel_filter_input_changed (ArLabelPanel *self);
