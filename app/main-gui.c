/* main-gui.c: entry point of the desktop application anatomy-reconstruction. */
#include <locale.h>

#include "ar-application.h"
#include "out-file.h"

int
main (int argc, char **argv)
{
  setlocale (LC_ALL, "");
  /* a save interrupted by Ctrl+C or a kill leaves no temporary behind */
  out_file_cleanup_on_signals ();
  g_autoptr (ArApplication) app = ar_application_new ();
  g_application_set_option_context_parameter_string (G_APPLICATION (app), "[FILE…]");
  g_application_set_option_context_summary (G_APPLICATION (app),
                                            "Open NIfTI label maps in 3D, complete missing organs and "
                                            "compare.  Without a file the built-in demo case opens; a file "
                                            "given while the application runs opens in its window (without a "
                                            "session bus, in a window of its own).");
  int status = g_application_run (G_APPLICATION (app), argc, argv);
  if (g_object_get_data (G_OBJECT (app), "ar-test-failed"))
    status = 1;
  return status;
}
