/* tsan-glib-shim.c: make GLib's synchronisation visible to ThreadSanitizer.
 *
 * Linked only into tests of a -Db_sanitize=thread build (tests/meson.build).  Debian's GLib
 * is not instrumented, and on Linux GMutex/GCond are futex-based, so ThreadSanitizer sees
 * neither the locks of the core's worker pools (model/nn-ops.c) nor the hand-over of jobs
 * through a GThreadPool (render/mesh.c): every access they order is reported as a race.
 * This file interposes the GLib entry points the core calls (the executable's definitions
 * win over libglib's), calls the real ones through dlsym (RTLD_NEXT), and tells
 * ThreadSanitizer what they guarantee with __tsan_acquire/__tsan_release:
 *   unlock/wait releases the mutex, lock/trylock/wait-return acquires it;
 *   pushing a job releases it, the pool worker acquires it before running the job.
 * Only ordering that GLib really provides is declared, so real races are still reported.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dlfcn.h>
#include <glib.h>
#include <sanitizer/tsan_interface.h>

/* The real function, looked up once; atomic because any thread may be first. */
#define REAL(ret, name, args)                                                   \
  static ret (*cached_##name) args;                                             \
  ret (*real_##name) args = __atomic_load_n (&cached_##name, __ATOMIC_ACQUIRE); \
  if (real_##name == NULL)                                                      \
    {                                                                           \
      real_##name = (ret (*) args) dlsym (RTLD_NEXT, #name);                    \
      __atomic_store_n (&cached_##name, real_##name, __ATOMIC_RELEASE);         \
    }

void
g_mutex_lock (GMutex *m)
{
  REAL (void, g_mutex_lock, (GMutex *));
  real_g_mutex_lock (m);
  __tsan_acquire (m);
}

gboolean
g_mutex_trylock (GMutex *m)
{
  REAL (gboolean, g_mutex_trylock, (GMutex *));
  gboolean ok = real_g_mutex_trylock (m);
  if (ok)
    __tsan_acquire (m);
  return ok;
}

void
g_mutex_unlock (GMutex *m)
{
  REAL (void, g_mutex_unlock, (GMutex *));
  __tsan_release (m);
  real_g_mutex_unlock (m);
}

void
g_cond_wait (GCond *c, GMutex *m)
{
  REAL (void, g_cond_wait, (GCond *, GMutex *));
  __tsan_release (m);
  real_g_cond_wait (c, m);
  __tsan_acquire (m);
}

gboolean
g_cond_wait_until (GCond *c, GMutex *m, gint64 end_time)
{
  REAL (gboolean, g_cond_wait_until, (GCond *, GMutex *, gint64));
  __tsan_release (m);
  gboolean r = real_g_cond_wait_until (c, m, end_time);
  __tsan_acquire (m);
  return r;
}

/* GThreadPool: the job pointer is the synchronisation address. */
typedef struct {
  GFunc func;
  gpointer user_data;
} PoolWrap;

static void
pool_trampoline (gpointer data, gpointer user)
{
  PoolWrap *w = user;
  __tsan_acquire (data);
  w->func (data, w->user_data);
}

GThreadPool *
g_thread_pool_new (GFunc func, gpointer user_data, gint max_threads, gboolean exclusive, GError **error)
{
  REAL (GThreadPool *, g_thread_pool_new, (GFunc, gpointer, gint, gboolean, GError **));
  /* the pools of the core live until exit: the wrapper does too */
  PoolWrap *w = g_new (PoolWrap, 1);
  w->func = func;
  w->user_data = user_data;
  GThreadPool *p = real_g_thread_pool_new (pool_trampoline, w, max_threads, exclusive, error);
  if (p == NULL)
    g_free (w);
  return p;
}

gboolean
g_thread_pool_push (GThreadPool *pool, gpointer data, GError **error)
{
  REAL (gboolean, g_thread_pool_push, (GThreadPool *, gpointer, GError **));
  __tsan_release (data);
  return real_g_thread_pool_push (pool, data, error);
}

/* g_once (): the initialiser's writes must happen before the READY status is seen.  The
 * g_once macro reads the status with an (instrumented) atomic load; GLib stores it
 * uninstrumented, so release on that address from inside the initialiser, just before
 * GLib publishes it.  The initialiser runs in the calling thread: a thread-local holds it. */
typedef struct {
  GThreadFunc func;
  gpointer arg;
  GOnce *once;
} OnceCall;

static __thread OnceCall once_call;

static gpointer
once_trampoline (gpointer unused)
{
  OnceCall c = once_call;
  gpointer r = c.func (c.arg);
  __tsan_release ((void *) &c.once->status);
  return r;
}

gpointer
g_once_impl (GOnce *once, GThreadFunc func, gpointer arg)
{
  REAL (gpointer, g_once_impl, (GOnce *, GThreadFunc, gpointer));
  once_call = (OnceCall) { func, arg, once };
  gpointer r = real_g_once_impl (once, once_trampoline, NULL);
  __tsan_acquire ((void *) &once->status);
  return r;
}
