/* strutil.c: small string helpers (see strutil.h). */
#include "strutil.h"

#include <string.h>

gboolean
str_has_suffix_ci (const char *s, const char *suffix)
{
  size_t n = strlen (s), m = strlen (suffix);
  return n >= m && g_ascii_strcasecmp (s + n - m, suffix) == 0;
}

int
str_json_nesting (const char *json, gsize len, int limit)
{
  int depth = 0, deepest = 0;
  gboolean in_string = FALSE;

  for (gsize i = 0; i < len; i++)
    {
      char c = json[i];
      if (in_string)
        {
          if (c == '\\')
            i++;                /* the escaped character cannot end the string */
          else if (c == '"')
            in_string = FALSE;
          continue;
        }
      if (c == '"')
        in_string = TRUE;
      else if (c == '[' || c == '{')
        {
          if (++depth > deepest && (deepest = depth) > limit)
            return limit + 1;
        }
      else if ((c == ']' || c == '}') && depth > 0)
        depth--;
    }
  return deepest;
}
