/* worker-pool.h: a pool of worker threads that runs numbered tasks.
 *
 * The calling thread takes part as thread 0; workers 1..n-1 sleep between jobs.  A job
 * hands its tasks out one at a time (an atomic counter), so a slow or late thread never
 * holds the others up, and worker_pool_run() returns as soon as every task has finished:
 * it never waits for a worker that has not woken up yet.  Running a job allocates
 * nothing.  One job at a time: a pool is driven by one thread at a time.
 */
#pragma once

#include <glib.h>
#include <stdint.h>

G_BEGIN_DECLS

typedef struct _WorkerPool WorkerPool;

/* fn (task, thread, data) for every task; thread (0..n_threads-1) names the per-thread
 * scratch a call may use: no two calls run at once with the same thread number. */
typedef void (*WorkerTaskFunc) (int64_t task, int thread, void *data);

/* @n_threads counts the calling thread; 0 = the number of processors (at most 256). */
WorkerPool *worker_pool_new (int n_threads);
void worker_pool_free (WorkerPool *pool);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (WorkerPool, worker_pool_free)

int worker_pool_get_n_threads (const WorkerPool *pool); /* 1 for a NULL pool */

/* Runs tasks 0..n_tasks-1 and returns when all are done; a NULL pool runs them in order
 * on the calling thread. */
void worker_pool_run (WorkerPool *pool, int64_t n_tasks, WorkerTaskFunc fn, void *data);

G_END_DECLS
