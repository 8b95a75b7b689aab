/* nn-simd-private.h: the explicit vector types of the engine's batch-norm and loss loops
 * (nn-backward.c, nn-loss.c). */
#pragma once

/* Explicit vectors for the batch-norm and loss loops: at -O2 the compiler neither
 * reorders floating-point sums nor vectorises loops of unknown length by itself.  Sums
 * run in 8 double lanes, row arithmetic in 16 float lanes. */
#define BW_VL 16
typedef float bw_vf __attribute__ ((vector_size (BW_VL * sizeof (float)), aligned (4), may_alias));
typedef float bw_vf8 __attribute__ ((vector_size (8 * sizeof (float)), aligned (4), may_alias));
typedef double bw_vd8 __attribute__ ((vector_size (8 * sizeof (double))));

static inline double
bw_vd8_sum (bw_vd8 v)
{
  double s = 0.0;
  for (int l = 0; l < 8; l++)
    s += v[l];
  return s;
}
