/* strutil.c: small string helpers (see strutil.h). */
#include "strutil.h"

#include <string.h>

gboolean
str_has_suffix_ci (const char *s, const char *suffix)
{
  size_t n = strlen (s), m = strlen (suffix);
  return n >= m && g_ascii_strcasecmp (s + n - m, suffix) == 0;
}
