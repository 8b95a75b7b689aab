/* strutil.h: small string helpers shared by every layer. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* TRUE when @s ends with @suffix, ASCII case ignored ("scan.NII.GZ" ends with ".nii.gz"). */
gboolean str_has_suffix_ci (const char *s, const char *suffix);

G_END_DECLS
