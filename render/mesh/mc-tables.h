/* mc-tables.h: marching-cubes case tables, derived in code at first use.
 *
 * Cube corners are numbered c = x | y << 1 | z << 2 (x, y, z in {0,1}).  Edges are
 * numbered e = axis * 4 + o, where o packs the two other coordinates of the edge
 * (low axis first); edge e joins corners mc_edge_corner[e][0] (coordinate 0 along
 * its axis) and mc_edge_corner[e][1].  A case is the 8-bit mask of "inside" corners.
 *
 * The triangles of each case are derived from the cube's faces: on each face the
 * crossed edges are joined by segments, with the rule that inside corners touching only
 * diagonally are kept apart (6-connected inside, 18-connected outside).  Because that
 * choice depends only on the face's four corners, neighbouring cubes agree on their
 * shared face, so surfaces are closed; every crossed edge lies in exactly one loop, and
 * every loop is triangulated as a fan.  Segments are oriented with the inside on their
 * right seen from outside the cube, which makes the triangles counter-clockwise seen
 * from outside (outward normals).
 */
#pragma once

#include <stdint.h>

#define MC_MAX_TRIS 12

typedef struct {
  uint8_t edge_corner[12][2];
  uint8_t edge_axis[12];
  uint8_t n_tris[256];
  uint8_t tris[256][MC_MAX_TRIS * 3];   /* edge ids, 3 per triangle */
  uint8_t max_tris;                     /* largest n_tris over all cases */
} McTables;

/* Tables built once (thread-safe). */
const McTables *mc_tables_get (void);
