/* ar-application.h: the GtkApplication of anatomy-reconstruction. */
#pragma once

#include <gtk/gtk.h>

G_BEGIN_DECLS

#define AR_APPLICATION_ID "io.github.anatomyreconstruction.AnatomyReconstruction"
#define AR_TYPE_APPLICATION (ar_application_get_type ())
G_DECLARE_FINAL_TYPE (ArApplication, ar_application, AR, APPLICATION, GtkApplication)

ArApplication *ar_application_new (void);

G_END_DECLS
