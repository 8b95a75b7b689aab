/* offscreen.h: headless OpenGL through EGL (surfaceless platform, via epoxy) and PNG output.
 *
 * ar_offscreen_new() makes an OpenGL 3.3+ core context current on the calling thread
 * with no window system (EGL_PLATFORM_SURFACELESS_MESA), and a colour framebuffer of
 * the requested size to draw into; ar_offscreen_read_rgba() reads it back top row
 * first.  Used by `anatomy render` and the renderer tests.
 */
#pragma once

#include <glib.h>
#include "out-file.h"
#include <stdint.h>

G_BEGIN_DECLS

#define AR_OFFSCREEN_ERROR (ar_offscreen_error_quark ())
GQuark ar_offscreen_error_quark (void);

typedef enum {
  AR_OFFSCREEN_ERROR_EGL,   /* no EGL display, config or context */
  AR_OFFSCREEN_ERROR_GL,    /* framebuffer creation failed */
  AR_OFFSCREEN_ERROR_IO,    /* cannot write the image */
  AR_OFFSCREEN_ERROR_INVALID, /* bad size */
} ArOffscreenError;

typedef struct _ArOffscreen ArOffscreen;

/* Width and height in 1..16384. */
ArOffscreen *ar_offscreen_new (int width, int height, GError **error);
void ar_offscreen_free (ArOffscreen *o);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (ArOffscreen, ar_offscreen_free)
/* The framebuffer to draw into (bound by ar_offscreen_new). */
guint ar_offscreen_get_fbo (const ArOffscreen *o);
/* "OpenGL 4.5 (Core Profile) Mesa ... / llvmpipe" */
const char *ar_offscreen_get_description (const ArOffscreen *o);
/* Read the framebuffer: (height, width, 4) bytes RGBA, top row first. */
guint8 *ar_offscreen_read_rgba (ArOffscreen *o);

/* Write an 8-bit RGBA image, (height, width, 4) bytes top row first, as PNG
 * (atomically: temporary file then rename; an existing file is not replaced). */
gboolean ar_png_write_rgba (const char *path, const guint8 *rgba, int width, int height,
                            GError **error);
/* The same as one output of @outputs, a command's OutSet (out-file.h), committed by its owner. */
gboolean ar_png_write_rgba_in (OutSet *outputs, const char *path, const guint8 *rgba, int width, int height,
                               GError **error);

G_END_DECLS
