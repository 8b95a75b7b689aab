/* phantom-private.h: what the parts of the phantom generator share (not installed).
 *
 * phantom-skeleton.c draws a subject's parameters and builds its skeleton and
 * diaphragm, phantom-organs.c turns them into the primitives of every organ,
 * phantom-paint.c paints primitives into the label grid through the subject's
 * warp and keeps each organ's main components, and phantom.c holds the public
 * API (parameters, generation, partial versions).  Set-up works in double,
 * painting in float.
 *
 * World frame: millimetres, NIfTI RAS+ (x to the patient's right, y anterior,
 * z superior), the grid centred on the origin.
 */
#pragma once

#include "phantom.h"

#include <math.h>
#include <stdint.h>

G_BEGIN_DECLS

#define RESERVED 255u
#define N_VERT 20            /* C5..C7, T1..T12, L1..L5 */
#define FIRST_T 3            /* index of T1 in the vertebra arrays */
#define FIRST_L 15           /* index of L1 */
#define T_(n) (FIRST_T + (n) - 1)   /* vertebra index of T(n) */
#define L_(n) (FIRST_L + (n) - 1)   /* vertebra index of L(n) */
/* Mean level of the right diaphragm dome: T9 + 0.2 (a fifth of the way to T10's centre). */
#define PH_DOME_LEVEL (T_ (9) + 0.2)

/* ------------------------------------------------------------------------- */
/* Random numbers: splitmix64 seeding, xoshiro256** stream                    */

static inline guint64
splitmix64 (guint64 *state)
{
  guint64 z = (*state += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

typedef struct {
  guint64 s[4];
} Rng;

static inline void
rng_seed (Rng *r, guint64 seed)
{
  for (int i = 0; i < 4; i++)
    r->s[i] = splitmix64 (&seed);
}

static inline guint64
rotl (guint64 x, int k)
{
  return (x << k) | (x >> (64 - k));
}

static inline guint64
rng_next (Rng *r)
{
  guint64 *s = r->s;
  guint64 result = rotl (s[1] * 5, 7) * 9;
  guint64 t = s[1] << 17;
  s[2] ^= s[0];
  s[3] ^= s[1];
  s[1] ^= s[2];
  s[0] ^= s[3];
  s[2] ^= t;
  s[3] = rotl (s[3], 45);
  return result;
}

/* Uniform in [0, 1). */
static inline double
rng_uniform (Rng *r)
{
  return (double) (rng_next (r) >> 11) * 0x1.0p-53;
}

static inline double
rng_normal (Rng *r)
{
  double u1 = rng_uniform (r), u2 = rng_uniform (r);
  return sqrt (-2.0 * log (1.0 - u1)) * cos (2.0 * G_PI * u2);
}

/* ------------------------------------------------------------------------- */
/* Small vector helpers (double, set-up only)                                 */

typedef struct {
  double x, y, z;
} V3;

static inline V3 v3 (double x, double y, double z) { return (V3) { x, y, z }; }
static inline V3 vadd (V3 a, V3 b) { return v3 (a.x + b.x, a.y + b.y, a.z + b.z); }
static inline V3 vsub (V3 a, V3 b) { return v3 (a.x - b.x, a.y - b.y, a.z - b.z); }
static inline V3 vscale (V3 a, double s) { return v3 (a.x * s, a.y * s, a.z * s); }
static inline double vdot (V3 a, V3 b) { return a.x * b.x + a.y * b.y + a.z * b.z; }
static inline V3 vcross (V3 a, V3 b)
{
  return v3 (a.y * b.z - a.z * b.y, a.z * b.x - a.x * b.z, a.x * b.y - a.y * b.x);
}
static inline V3
vnorm (V3 a)
{
  double l = sqrt (vdot (a, a));
  return l > 0 ? vscale (a, 1.0 / l) : v3 (0, 0, 1);
}
/* Rotate @v about unit axis @k by @ang radians (Rodrigues). */
static inline V3
vrot (V3 v, V3 k, double ang)
{
  double c = cos (ang), s = sin (ang);
  return vadd (vadd (vscale (v, c), vscale (vcross (k, v), s)), vscale (k, vdot (k, v) * (1 - c)));
}

/* ------------------------------------------------------------------------- */
/* The subject                                                                */

#define ZT_STEP 1.0f   /* mm between entries of the z tables */

typedef struct {
  Rng rng;
  double var;              /* variation multiplier */
  double s;                /* overall scale */
  /* spine curve */
  double offx, y0, lean, zmid, kyph, zk, wk, lord, zl, wl, scol_a, scol_wl, scol_ph, ztop;
  double pitch_t, pitch_l;
  double zc[N_VERT];       /* vertebra centres (z) */
  double hh[N_VERT];       /* vertebral body half heights */
  /* cage profile */
  double amax, bmax, post, h_apex, z_t12_bottom;
  /* diaphragm */
  double zr, zl_dome, cx0, cy0, a0, b0, d_r, d_l, d_ap, d_post, u_r, u_l, v_r, v_l;
  /* z tables: spine centre, cage centre and half axes */
  float zt0;
  int zt_n;
  float *t_sx, *t_sy, *t_cx, *t_cy, *t_a, *t_b;
} Subject;

/* A jitter: variation * sd * N(0,1) clipped to +-2.5 sd.  Always draws, so the
 * stream does not depend on the variation. */
static inline double
jit (Subject *S, double sd)
{
  double n = CLAMP (rng_normal (&S->rng), -2.5, 2.5);
  return S->var * sd * n;
}

/* A multiplicative factor exp(jit(sd)). */
static inline double
jfac (Subject *S, double sd)
{
  return exp (jit (S, sd));
}


/* ------------------------------------------------------------------------- */
/* Primitives                                                                 */

enum { CLIP_ABOVE_DIA = 1, CLIP_BELOW_DIA = 2, CLIP_WALL = 4 };

typedef enum {
  P_CAPSULE,     /* segment a-b, radius ra..rb */
  P_SQ,          /* tapered, bent, noisy ellipsoid */
  P_VBODY,       /* vertebral body: elliptic cylinder about the spine tangent */
  P_VRING,       /* vertebral arch: annulus around the canal */
  P_STERNUM,     /* vertical plate at the front of the cage */
  P_LUNGS,       /* inside the cage, above the diaphragm, off the midline */
  P_LIVER,       /* under the right dome, above a tilted floor */
  P_MUSCLE,      /* elliptic column beside the spine (one side) */
} PrimKind;

#define N_NOISE 3

typedef struct {
  PrimKind kind;
  int clip;
  float clip_gap;    /* mm kept from the diaphragm */
  float wall_inset;  /* mm inside the cage outline */
  float bb[6];       /* world bounding box: x0 x1 y0 y1 z0 z1 */
  union {
    struct { float a[3], b[3], ra, rb; } cap;
    struct {
      float c[3], ax[3][3], inv_r[3], rmin, taper, bend;
      float nw[N_NOISE][3], nph[N_NOISE], namp[N_NOISE];
    } sq;
    struct { float c[3], ex[3], ey[3], t[3], ax, ay, hh; } vb;
    struct { float c[3], ey[3], t[3], rin, rout, hh; } vr;
    struct { float z0, z1, zsa, w_top, w_body, w_tip, th; } st;
    struct { float mid, extra, z_ant, z_apex, cx, xa, wa, ya, wb, h, ap_inset; } lu;
    struct {
      float u_tip, thick, v_tilt;
      float nw[N_NOISE][2], nph[N_NOISE], namp[N_NOISE];
    } li;
    struct { int side; float z_top, off_t[2], off_l[2], r_t[2], r_l[2]; } mu;
  } u;
} Prim;

/* Everything the painter needs, in float. */
typedef struct {
  const Subject *S;
  int nx, ny, nz;
  float org[3], sp[3];
  uint8_t *lab;
  /* warp: W_c(i,j,k) = sum_m amp[c][m] * X[c][m][i] * Y[c][m][j] * Z[c][m][k] */
  int n_warp;
  float warp_max[3];      /* bound of the displacement along each axis (mm) */
  float warp_amp[3][3];
  float *wx[3][3], *wy[3][3], *wz[3][3];
  /* diaphragm, float copies */
  float cx0, cy0, ia0, ib0, zr, zl, d_r, d_l, d_ap, d_post, u_r, u_l, v_r, v_l;
} Painter;

/* One label's primitives, painted together; margin: mm it reserves around itself. */
typedef struct {
  GArray *prims;  /* Prim */
  uint8_t label;
  float margin;
} Organ;

/* What the ribs' builder hands on. */
typedef struct {
  double z_st_top, z_sa, z_xs, z_tip;   /* sternum: top, sternal angle, xiphisternal, tip */
} SternumLevels;

/* What the heart's builder hands on to the vessels and lungs. */
typedef struct {
  V3 h, axis;          /* heart centre and long axis (base -> apex) */
  double r_long;
} HeartInfo;

/* ------------------------------------------------------------------------- */
/* phantom-skeleton.c                                                         */

/* Draw the subject's body parameters and vertebra levels from p->seed. */
void ph_subject_init (Subject *S, const PhantomParams *p);
/* Tabulate the spine and cage along z over the painter's grid (plus margins). */
void ph_subject_tables (Subject *S, const Painter *P);
void ph_subject_clear (Subject *S);
/* Cage centre (cx, cy) and half axes (a lateral, b antero-posterior) at height z. */
void ph_cage_at (const Subject *S, double z, double *cx, double *cy, double *a, double *b);
/* Diaphragm surface height at (x, y) (after ph_build_diaphragm). */
double ph_diaphragm_z (const Subject *S, double x, double y);
/* Point of the spine curve (vertebral body centres) at height z. */
V3 ph_spine_point (const Subject *S, double z);
/* z of vertebra index @f (fractional: 3.5 = between T1 and T2 centres). */
double ph_level_z (const Subject *S, double f);
void ph_build_spine (Subject *S, Organ *o);
void ph_build_ribs (Subject *S, Organ *o, SternumLevels *sl);
void ph_build_diaphragm (Subject *S);

/* ------------------------------------------------------------------------- */
/* phantom-organs.c                                                           */

/* Append a zeroed primitive of @kind to @o. */
Prim *ph_organ_add (Organ *o, PrimKind kind);
void ph_set_bb (Prim *p, double x0, double x1, double y0, double y1, double z0, double z1);
/* Capsule from a (radius ra) to b (radius rb); clip flags, diaphragm gap and wall inset in mm. */
void ph_add_capsule (Organ *o, V3 a, V3 b, double ra, double rb, int clip, double gap, double inset);
/* A tube along the Catmull-Rom spline through @pts with radii @rad. */
void ph_add_tube (Organ *o, const V3 *pts, const double *rad, int n, int clip, double gap, double inset);
void ph_build_heart (Subject *S, Organ *o, HeartInfo *hi);
void ph_build_aorta (Subject *S, Organ *o, const HeartInfo *hi);
void ph_build_pulmonary (Subject *S, Organ *o, const HeartInfo *hi);
void ph_build_lungs (Subject *S, Organ *o, const HeartInfo *hi);
void ph_build_liver (Subject *S, Organ *o);
void ph_build_spleen (Subject *S, Organ *o);
void ph_build_stomach (Subject *S, Organ *o);
void ph_build_pancreas (Subject *S, Organ *o);
void ph_build_kidneys (Subject *S, Organ *o);
void ph_build_muscles (Subject *S, Organ *o);

/* ------------------------------------------------------------------------- */
/* phantom-paint.c                                                            */

/* Draw the smooth random warp (three separable sine products per axis). */
void ph_painter_warp (Painter *P, Subject *S);
void ph_painter_clear (Painter *P);
/* Paint an organ's voxels, keep its main component(s), then reserve its margin. */
void ph_paint_organ (Painter *P, Organ *o);

G_END_DECLS
