/* point-tree.h: nearest-point queries on a set of 3D points (a k-d tree).
 *
 * The tree is implicit: the points are reordered so that the node of any index range is
 * its middle element, split along the axis of the range's largest extent; no pointers,
 * one array of split axes.  Building is O(n log n), a query about O(log n) when the
 * query lies near the points.  Used by atlas.c (ICP pairs) and surface-distance.c.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef struct {
  float *p;       /* n points (x, y, z), in tree order; owned */
  guint8 *axis;   /* split axis of each node; owned */
  int n;
} PointTree;

/* Builds the tree over @n points (x, y, z) of @points, taking ownership of @points (which
 * is reordered); FALSE (and @points freed) when out of memory.  n = 0 is an empty tree. */
gboolean point_tree_init (PointTree *t, float *points, int n);
void point_tree_clear (PointTree *t);

/* The point nearest to @q: *best (index into t->p) and *best_d2 (squared distance) are
 * improved only; start with *best = -1, *best_d2 = INFINITY, or with a known point to
 * bound the search (warm start). */
void point_tree_nearest (const PointTree *t, const float q[3], int *best, float *best_d2);

/* The same by looking at every point (the reference twin, for tests; ties: the lowest index). */
void point_tree_nearest_ref (const PointTree *t, const float q[3], int *best, float *best_d2);

G_END_DECLS
