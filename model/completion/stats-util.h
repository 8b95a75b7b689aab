/* stats-util.h: the median the atlas fit, the completion frame and `anatomy eval` share
 * (header only). */
#pragma once

#include <stdlib.h>

static inline int
stats_cmp_double (const void *a, const void *b)
{
  double x = *(const double *) a, y = *(const double *) b;
  return (x > y) - (x < y);
}

/* The median of the @n (> 0) values of @v, which it sorts in place. */
static inline double
stats_median_inplace (double *v, int n)
{
  qsort (v, (size_t) n, sizeof *v, stats_cmp_double);
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}
