/* worker-pool.c: the worker pool (see worker-pool.h).
 *
 * Workers wait for the job generation to change.  A worker that wakes registers itself
 * (inside++) under the lock, takes tasks until none is left, then leaves (inside--).
 * The caller waits only until every task is done; the next job is set up only once no
 * worker is inside, so a late worker can never take a task of the wrong job.
 */
#include "worker-pool.h"

struct _WorkerPool {
  int n_threads;
  GThread **workers;        /* n_threads - 1 */
  GMutex lock;
  GCond start_cond;         /* generation changed or quit */
  GCond done_cond;          /* a task finished or a worker left */
  guint64 generation;
  gboolean quit;
  int inside;               /* workers inside the current job */
  WorkerTaskFunc fn;
  void *data;
  int64_t n_tasks;
  int64_t next_task;        /* atomic */
  int64_t done_tasks;       /* atomic */
};

typedef struct {
  WorkerPool *pool;
  int index;
} WorkerArg;

/* Takes tasks until none is left; TRUE when this thread finished the job's last task. */
static gboolean
pool_work (WorkerPool *pool, int thread)
{
  gboolean last = FALSE;
  for (;;)
    {
      int64_t t = __atomic_fetch_add (&pool->next_task, 1, __ATOMIC_RELAXED);
      if (t >= pool->n_tasks)
        break;
      pool->fn (t, thread, pool->data);
      if (__atomic_add_fetch (&pool->done_tasks, 1, __ATOMIC_ACQ_REL) == pool->n_tasks)
        last = TRUE;
    }
  return last;
}

static gpointer
pool_worker (gpointer p)
{
  WorkerArg *arg = p;
  WorkerPool *pool = arg->pool;
  int index = arg->index;
  guint64 seen = 0;

  g_free (arg);
  g_mutex_lock (&pool->lock);
  for (;;)
    {
      while (pool->generation == seen && !pool->quit)
        g_cond_wait (&pool->start_cond, &pool->lock);
      if (pool->quit)
        break;
      seen = pool->generation;
      pool->inside++;
      g_mutex_unlock (&pool->lock);
      gboolean last = pool_work (pool, index);
      g_mutex_lock (&pool->lock);
      pool->inside--;
      if (last || pool->inside == 0)
        g_cond_broadcast (&pool->done_cond);
    }
  g_mutex_unlock (&pool->lock);
  return NULL;
}

WorkerPool *
worker_pool_new (int n_threads)
{
  WorkerPool *pool = g_new0 (WorkerPool, 1);

  if (n_threads <= 0)
    n_threads = (int) g_get_num_processors ();
  pool->n_threads = CLAMP (n_threads, 1, 256);
  g_mutex_init (&pool->lock);
  g_cond_init (&pool->start_cond);
  g_cond_init (&pool->done_cond);
  pool->workers = g_new0 (GThread *, pool->n_threads);
  for (int i = 1; i < pool->n_threads; i++)
    {
      WorkerArg *arg = g_new (WorkerArg, 1);
      arg->pool = pool;
      arg->index = i;
      pool->workers[i - 1] = g_thread_new ("worker", pool_worker, arg);
    }
  return pool;
}

void
worker_pool_free (WorkerPool *pool)
{
  if (pool == NULL)
    return;
  g_mutex_lock (&pool->lock);
  pool->quit = TRUE;
  g_cond_broadcast (&pool->start_cond);
  g_mutex_unlock (&pool->lock);
  for (int i = 1; i < pool->n_threads; i++)
    g_thread_join (pool->workers[i - 1]);
  g_free (pool->workers);
  g_mutex_clear (&pool->lock);
  g_cond_clear (&pool->start_cond);
  g_cond_clear (&pool->done_cond);
  g_free (pool);
}

int
worker_pool_get_n_threads (const WorkerPool *pool)
{
  return pool ? pool->n_threads : 1;
}

void
worker_pool_run (WorkerPool *pool, int64_t n_tasks, WorkerTaskFunc fn, void *data)
{
  if (n_tasks <= 0)
    return;
  if (pool == NULL || pool->n_threads == 1 || n_tasks == 1)
    {
      for (int64_t t = 0; t < n_tasks; t++)
        fn (t, 0, data);
      return;
    }
  g_mutex_lock (&pool->lock);
  while (pool->inside > 0)   /* late workers of the previous job */
    g_cond_wait (&pool->done_cond, &pool->lock);
  pool->fn = fn;
  pool->data = data;
  pool->n_tasks = n_tasks;
  pool->next_task = 0;
  pool->done_tasks = 0;
  pool->generation++;
  g_cond_broadcast (&pool->start_cond);
  g_mutex_unlock (&pool->lock);

  pool_work (pool, 0);

  g_mutex_lock (&pool->lock);
  while (__atomic_load_n (&pool->done_tasks, __ATOMIC_ACQUIRE) < n_tasks)
    g_cond_wait (&pool->done_cond, &pool->lock);
  g_mutex_unlock (&pool->lock);
}
