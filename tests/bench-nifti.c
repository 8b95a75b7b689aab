/* bench-nifti.c: time nifti_read on a file against zlib's own inflate of the same
 * file into one buffer (the floor for any gzip reader).  Prints JSON with the
 * median milliseconds of N runs of each. */
#include "nifti.h"

#include <stdio.h>
#include <stdlib.h>
#include <zlib.h>

static int
cmp_double (const void *a, const void *b)
{
  double x = *(const double *) a, y = *(const double *) b;
  return (x > y) - (x < y);
}

static double
median (double *t, int n)
{
  qsort (t, n, sizeof *t, cmp_double);
  return n % 2 ? t[n / 2] : 0.5 * (t[n / 2 - 1] + t[n / 2]);
}

/* Inflate the whole file with gzread into one buffer (grown if needed); returns bytes. */
static gsize
zlib_inflate_all (const char *path, char **buf, gsize *cap)
{
  gzFile gz = gzopen (path, "rb");
  gsize n = 0;
  if (gz == NULL)
    return 0;
  gzbuffer (gz, 256 * 1024);
  for (;;)
    {
      if (n == *cap)
        {
          *cap = *cap ? *cap * 2 : (64 << 20);
          *buf = g_realloc (*buf, *cap);
        }
      int r = gzread (gz, *buf + n, (unsigned) MIN (*cap - n, (gsize) 1 << 30));
      if (r <= 0)
        break;
      n += r;
    }
  gzclose (gz);
  return n;
}

int
main (int argc, char **argv)
{
  if (argc < 2)
    {
      fprintf (stderr, "usage: bench-nifti FILE [RUNS]\n");
      return 2;
    }
  int runs = argc > 2 ? atoi (argv[2]) : 7;
  runs = CLAMP (runs, 1, 100);
  double *t_ours = g_new (double, runs), *t_zlib = g_new (double, runs);
  char *buf = NULL;
  gsize cap = 0, bytes = 0;
  int64_t voxels = 0;

  /* alternate the two so that machine noise hits both alike */
  for (int r = 0; r < runs; r++)
    {
      gint64 t0 = g_get_monotonic_time ();
      g_autoptr (GError) error = NULL;
      LabelVolume *v = nifti_read (argv[1], NULL, &error);
      t_ours[r] = (g_get_monotonic_time () - t0) / 1000.0;
      if (v == NULL)
        {
          fprintf (stderr, "%s\n", error->message);
          return 1;
        }
      voxels = lv_volume_n_voxels (v);
      lv_volume_free (v);
      /* a fresh buffer each run, as a reader returning new data must use */
      g_clear_pointer (&buf, g_free);
      cap = (gsize) voxels + 4096;
      buf = g_malloc (cap);
      t0 = g_get_monotonic_time ();
      bytes = zlib_inflate_all (argv[1], &buf, &cap);
      t_zlib[r] = (g_get_monotonic_time () - t0) / 1000.0;
    }
  printf ("{\"file\": \"%s\", \"voxels\": %" G_GINT64_FORMAT ", \"bytes\": %zu, \"runs\": %d, "
          "\"ours_ms\": %.3f, \"zlib_inflate_ms\": %.3f}\n",
          argv[1], voxels, bytes, runs, median (t_ours, runs), median (t_zlib, runs));
  g_free (buf);
  g_free (t_ours);
  g_free (t_zlib);
  return 0;
}
