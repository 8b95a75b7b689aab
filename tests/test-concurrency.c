/* test-concurrency.c: start and cancel loading, meshing and completion repeatedly and
 * quickly, through the core's public cancellable APIs, with several jobs in flight at once
 * (the way the GUI does it: worker threads, a GCancellable cancelled when the user closes a
 * case or starts another run).  Every job must end either with a valid result or with
 * G_IO_ERROR_CANCELLED, never crash, and leave nothing behind (LeakSanitizer in the ASan
 * build; ThreadSanitizer in build-harden-tsan, see docs/hardening.md).
 */
#include "completion.h"
#include "mesh.h"
#include "nifti.h"
#include "nn-net.h"
#define TEST_UTIL_NN
#include "test-util.h"
#include "phantom.h"

#include <string.h>
#include <glib/gstdio.h>

static char *tmpdir;
static char *volume_path;   /* a phantom written once */
static char *model_path;    /* a small network written once */

typedef enum { JOB_MESH, JOB_COMPLETE } JobKind;

/* One job: a worker thread that loads the volume (and the model), then meshes or
 * completes it with @cancellable.  The harness uses plain threads and g_thread_join, so
 * ThreadSanitizer sees every hand-over (GLib's own locks are not instrumented). */
typedef struct {
  JobKind kind;
  int n_threads;
  GCancellable *cancellable;
  gint done;                 /* atomic: the worker finished */
  gpointer result;           /* SurfaceSet or LabelVolume */
  GError *error;
} Job;

typedef struct {
  int done, ok, cancelled;
} Tally;

static gpointer
job_thread (gpointer data)
{
  Job *job = data;
  g_autoptr (LabelVolume) v = nifti_read (volume_path, NULL, &job->error);
  if (v == NULL)
    goto out;
  if (job->kind == JOB_MESH)
    {
      SurfaceOptions o;
      surface_options_init (&o);
      o.n_threads = job->n_threads;
      o.smooth_iterations = 4;
      SurfaceSet *s = surface_extract (v, &o, job->cancellable, &job->error);
      if (s != NULL)
        g_assert_cmpuint (s->n_meshes, >, 0);
      job->result = s;
    }
  else
    {
      g_autoptr (NnNet) net = nn_net_load (model_path, &job->error);
      if (net == NULL)
        goto out;
      CompletionProbs *kept = NULL;
      CompletionOptions opt = { .n_threads = job->n_threads, .probs_out = &kept };
      LabelVolume *out = completion_run (net, v, &opt, job->cancellable, &job->error);
      if (out == NULL)
        g_assert_null (kept);
      else
        {
          g_assert_nonnull (kept);
          g_assert_cmpint (out->nx, ==, v->nx);
          completion_probs_free (kept);
        }
      job->result = out;
    }
out:
  g_atomic_int_set (&job->done, 1);
  return NULL;
}

/* @rounds rounds of @in_flight jobs of @kind started together, each cancelled after its own
 * random delay in [0, max_delay_us) (the first of a round before it starts); one job in
 * four is never cancelled, so completed results are checked too. */
static void
run_rounds (JobKind kind, int rounds, int in_flight, int max_delay_us)
{
  Tally t = { 0 };
  for (int r = 0; r < rounds; r++)
    {
      Job jobs[8] = { { 0 } };
      GThread *threads[8];
      gint64 cancel_at[8];
      gint64 t0 = g_get_monotonic_time ();
      g_assert_cmpint (in_flight, <=, 8);
      for (int i = 0; i < in_flight; i++)
        {
          jobs[i].kind = kind;
          jobs[i].n_threads = 1 + (i + r) % 2;
          jobs[i].cancellable = g_cancellable_new ();
          cancel_at[i] = (i + r) % 4 == 3 ? G_MAXINT64 : t0 + g_test_rand_int_range (0, max_delay_us);
          /* the first job of a round is cancelled before it starts, so that every run has
           * cancelled jobs however fast the machine finishes the others */
          if (i == 0 && cancel_at[i] != G_MAXINT64)
            g_cancellable_cancel (jobs[i].cancellable);
          threads[i] = g_thread_new ("job", job_thread, &jobs[i]);
        }
      /* cancel each at its time, until every job has finished */
      for (;;)
        {
          gint64 now = g_get_monotonic_time ();
          int running = 0;
          for (int i = 0; i < in_flight; i++)
            {
              if (now >= cancel_at[i])
                g_cancellable_cancel (jobs[i].cancellable);
              running += !g_atomic_int_get (&jobs[i].done);
            }
          if (running == 0)
            break;
          g_usleep (200);
        }
      for (int i = 0; i < in_flight; i++)
        {
          g_thread_join (threads[i]);
          if (jobs[i].result != NULL)
            {
              g_assert_no_error (jobs[i].error);
              t.ok++;
              if (kind == JOB_MESH)
                surface_set_free (jobs[i].result);
              else
                lv_volume_free (jobs[i].result);
            }
          else
            {
              /* surface_extract reports cancellation in its own domain (mesh.h) */
              if (kind == JOB_MESH)
                g_assert_error (jobs[i].error, MESH_ERROR, MESH_ERROR_CANCELLED);
              else
                g_assert_error (jobs[i].error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
              g_assert_true (g_cancellable_is_cancelled (jobs[i].cancellable));
              g_clear_error (&jobs[i].error);
              t.cancelled++;
            }
          g_object_unref (jobs[i].cancellable);
          t.done++;
        }
    }
  g_test_message ("%s: %d jobs, %d completed, %d cancelled", kind == JOB_MESH ? "load+mesh" : "load+complete",
                  t.done, t.ok, t.cancelled);
  g_assert_cmpint (t.done, ==, rounds * in_flight);
  g_assert_cmpint (t.ok, >, 0);
  g_assert_cmpint (t.cancelled, >, 0);
}

/* Rounds scale with CONCURRENCY_SCALE (default 1.0; the ThreadSanitizer run uses less). */
static int
scaled (int n)
{
  const char *s = g_getenv ("CONCURRENCY_SCALE");
  double f = s ? g_ascii_strtod (s, NULL) : 1.0;
  return MAX (4, (int) (n * (f > 0 ? f : 1.0)));
}

static void
test_mesh_cancel (void)
{
  run_rounds (JOB_MESH, scaled (12), 3, 40000);
}

static void
test_complete_cancel (void)
{
  run_rounds (JOB_COMPLETE, scaled (10), 2, 60000);
}

/* Cancelling from another thread exactly while the workers run (no main loop involved). */
typedef struct {
  GCancellable *c;
  int delay_us;
} Canceller;

static gpointer
canceller_thread (gpointer data)
{
  Canceller *k = data;
  g_usleep (k->delay_us);
  g_cancellable_cancel (k->c);
  return NULL;
}

static void
test_surface_cancel_from_thread (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (LabelVolume) v = nifti_read (volume_path, NULL, &error);
  g_assert_no_error (error);
  SurfaceOptions o;
  surface_options_init (&o);
  o.n_threads = 2;
  int ok = 0, cancelled = 0;
  for (int i = 0; i < scaled (20); i++)
    {
      Canceller k = { g_cancellable_new (), (i % 10) * 700 };
      if (k.delay_us == 0)
        g_cancellable_cancel (k.c);   /* already cancelled when it starts */
      GThread *th = g_thread_new ("cancel", canceller_thread, &k);
      SurfaceSet *s = surface_extract (v, &o, k.c, &error);
      g_thread_join (th);
      if (s != NULL)
        ok++;
      else
        {
          /* surface_extract reports cancellation in its own domain (mesh.h) */
          g_assert_error (error, MESH_ERROR, MESH_ERROR_CANCELLED);
          g_clear_error (&error);
          cancelled++;
        }
      surface_set_free (s);
      g_object_unref (k.c);
    }
  g_test_message ("surface_extract cancelled from a thread: %d completed, %d cancelled", ok, cancelled);
  g_assert_cmpint (cancelled, >, 0);
}

static const TestCase test_cases[] = {
  { "/concurrency/load-mesh-cancel", test_mesh_cancel },
  { "/concurrency/load-complete-cancel", test_complete_cancel },
  { "/concurrency/surface-cancel-from-thread", test_surface_cancel_from_thread },
};

/* tmpdir/phantom.nii.gz (48³) and tmpdir/net.safetensors (a small random U-Net + skip) */
static void
write_inputs (void)
{
  volume_path = g_build_filename (tmpdir, "phantom.nii.gz", NULL);
  model_path = g_build_filename (tmpdir, "net.safetensors", NULL);

  g_autoptr (GError) error = NULL;
  PhantomParams pp;
  phantom_params_init (&pp);
  pp.grid[0] = pp.grid[1] = pp.grid[2] = 48;
  g_autoptr (LabelVolume) v = phantom_generate (&pp, &error);
  g_assert_no_error (error);
  g_assert_true (nifti_write (v, volume_path, 0, &error));
  NnConfig cfg;
  test_small_config (&cfg, NN_ARCH_UNET_SKIP, 2, 4, 16);
  g_autoptr (NnNet) net = test_random_net (&cfg, 3);
  g_assert_true (nn_net_save (net, model_path, FALSE, &error));
}

TEST_UTIL_MAIN_TMPDIR (test_cases, "test-concurrency-XXXXXX", write_inputs)
