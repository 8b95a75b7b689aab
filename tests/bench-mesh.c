/* bench-mesh.c: time surface extraction (and smoothing) of a label map.
 *
 * Usage: bench-mesh FILE.nii[.gz] [--runs N] [--threads T] [--smooth S] [--upsample F]
 * Prints one line per measurement: "name median_s min_s triangles" (machine-readable,
 * read by bench_mesh.py which times VTK in the same run). */
#include "mesh-private.h"
#include "nifti.h"

#include <stdio.h>
#include <stdlib.h>

static int
cmp_d (const void *a, const void *b)
{
  double x = *(const double *) a, y = *(const double *) b;
  return (x > y) - (x < y);
}

static LabelVolume *
upsample (const LabelVolume *v, int f)
{
  double sp[3] = { v->spacing[0] / f, v->spacing[1] / f, v->spacing[2] / f };
  g_autoptr (GError) error = NULL;
  LabelVolume *u = lv_volume_new (v->nx * f, v->ny * f, v->nz * f, sp, v->bytes_per_voxel, &error);
  if (!u)
    return NULL;
  for (int64_t k = 0; k < u->nz; k++)
    for (int64_t j = 0; j < u->ny; j++)
      for (int64_t i = 0; i < u->nx; i++)
        lv_volume_set (u, i, j, k, lv_volume_get (v, i / f, j / f, k / f));
  double a[4][4];
  memcpy (a, v->affine, sizeof a);
  for (int r = 0; r < 3; r++)
    {
      for (int c = 0; c < 3; c++)
        a[r][c] = v->affine[r][c] / f;
      /* voxel centre of the new grid: old index (i + 0.5) / f - 0.5 */
      for (int c = 0; c < 3; c++)
        a[r][3] += v->affine[r][c] * (0.5 / f - 0.5);
    }
  lv_volume_set_affine (u, a);
  return u;
}

static void
run (const char *name, const LabelVolume *v, const SurfaceOptions *o, int runs)
{
  double *t = g_new (double, runs);
  guint64 ntri = 0;
  for (int r = 0; r < runs; r++)
    {
      g_autoptr (GError) error = NULL;
      gint64 t0 = g_get_monotonic_time ();
      SurfaceSet *s = surface_extract (v, o, NULL, &error);
      t[r] = (g_get_monotonic_time () - t0) / 1e6;
      if (!s)
        {
          fprintf (stderr, "bench-mesh: %s\n", error->message);
          exit (1);
        }
      ntri = surface_set_n_triangles (s);
      surface_set_free (s);
    }
  qsort (t, runs, sizeof (double), cmp_d);
  printf ("%s %.5f %.5f %" G_GUINT64_FORMAT "\n", name, t[runs / 2], t[0], ntri);
  fflush (stdout);
  g_free (t);
}

int
main (int argc, char **argv)
{
  int runs = 7, threads = 0, smooth = 10, up = 1;
  GOptionEntry entries[] = {
    { "runs", 0, 0, G_OPTION_ARG_INT, &runs, "Runs per measurement (median reported)", "N" },
    { "threads", 0, 0, G_OPTION_ARG_INT, &threads, "Threads (0: all cores)", "T" },
    { "smooth", 0, 0, G_OPTION_ARG_INT, &smooth, "Smoothing iterations for the smoothed run", "S" },
    { "upsample", 0, 0, G_OPTION_ARG_INT, &up, "Nearest-neighbour upsampling factor", "F" },
    { NULL }
  };
  g_autoptr (GOptionContext) ctx = g_option_context_new ("FILE - time surface extraction");
  g_option_context_add_main_entries (ctx, entries, NULL);
  g_autoptr (GError) error = NULL;
  if (!g_option_context_parse (ctx, &argc, &argv, &error) || argc != 2 || runs < 1 || up < 1)
    {
      fprintf (stderr, "bench-mesh: %s\n", error ? error->message : "give one FILE");
      return 2;
    }
  g_autoptr (LabelVolume) v = nifti_read (argv[1], NULL, &error);
  if (!v)
    {
      fprintf (stderr, "bench-mesh: %s\n", error->message);
      return 1;
    }
  if (up > 1)
    {
      LabelVolume *u = upsample (v, up);
      lv_volume_free (v);
      v = u;
    }
  SurfaceOptions o;
  surface_options_init (&o);
  o.n_threads = threads;
  run ("extract", v, &o, runs);
  o.n_threads = 1;
  run ("extract-1thread", v, &o, runs);
  o.n_threads = threads;
  o.smooth_iterations = smooth;
  run ("extract+smooth", v, &o, runs);
  return 0;
}
