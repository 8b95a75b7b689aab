/* ar-window-test.h: the GUI test-script runner (only with -Dgui_test_hooks=true). */
#pragma once

#include "ar-window.h"

G_BEGIN_DECLS

/* Runs the script at @path against @self (commands: see ar-window-test.c). */
void ar_window_run_test_script (ArWindow *self, const char *path);

G_END_DECLS
