/* strutil.h: small string helpers shared by every layer. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* TRUE when @s ends with @suffix, ASCII case ignored ("scan.NII.GZ" ends with ".nii.gz"). */
gboolean str_has_suffix_ci (const char *s, const char *suffix);

/* How deeply the arrays and objects of the JSON text @json (@len bytes) nest, counting
 * brackets outside strings, in one pass that stops as soon as the depth exceeds @limit
 * (then @limit + 1 is returned).  Meant to refuse hostile nesting before a recursive
 * parser (json-glib) runs out of stack; the text need not be valid JSON. */
int str_json_nesting (const char *json, gsize len, int limit);

G_END_DECLS
