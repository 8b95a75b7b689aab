/* ar-window.h: the main window: organ panel, linked Input / Completed 3D views,
 * slice view, background loading and completion. */
#pragma once

#include <gtk/gtk.h>

G_BEGIN_DECLS

#define AR_TYPE_WINDOW (ar_window_get_type ())
G_DECLARE_FINAL_TYPE (ArWindow, ar_window, AR, WINDOW, GtkApplicationWindow)

ArWindow *ar_window_new (GtkApplication *app);
/* Load a label map in the background (cancels whatever was loading). */
void ar_window_open (ArWindow *self, GFile *file);
/* Load the built-in demo case; FALSE (with an error dialog) if it is not installed. */
gboolean ar_window_open_demo (ArWindow *self);
/* Load a completed label map to compare with the input (same grid). */
void ar_window_load_result (ArWindow *self, GFile *file);
/* Snapshot the window (or only the 3D views) in-process to a PNG. */
gboolean ar_window_save_screenshot (ArWindow *self, gboolean views_only, const char *path,
                                    GError **error);
G_END_DECLS
