/* phantom.c: procedural torso phantoms (see phantom.h and docs/phantom.md).
 *
 * Building a subject has three stages:
 *  1. draw the subject's parameters from a xoshiro256** stream and derive the
 *     skeleton (spine curve, vertebrae, cage profile, ribs, sternum), the
 *     diaphragm domes and every organ's implicit shape from them (double);
 *  2. paint the organs in priority order (bone first, lungs last): each voxel
 *     samples its position through a smooth random warp and takes the label of
 *     the first organ whose shape contains it; an organ also reserves a thin
 *     margin around itself that later organs may not claim (float);
 *  3. keep, per organ, its largest 6-connected component (one per side for the
 *     paired lungs, kidneys and autochthon muscles).
 *
 * World frame: millimetres, NIfTI RAS+ (x to the patient's right, y anterior,
 * z superior), the grid centred on the origin.
 */
#include "phantom.h"
#include "label-table.h"

#include <math.h>
#include <string.h>

G_DEFINE_QUARK (phantom-error-quark, phantom_error)

#define RESERVED 255u
#define N_VERT 20            /* C5..C7, T1..T12, L1..L5 */
#define FIRST_T 3            /* index of T1 in the vertebra arrays */
#define FIRST_L 15           /* index of L1 */

/* ------------------------------------------------------------------------- */
/* Random numbers: splitmix64 seeding, xoshiro256** stream                    */

static guint64
splitmix64 (guint64 *state)
{
  guint64 z = (*state += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

guint64
phantom_derive_seed (guint64 seed, guint64 index)
{
  guint64 s = seed ^ (index * 0xd1b54a32d192ed03ull);
  splitmix64 (&s);
  return splitmix64 (&s);
}

typedef struct {
  guint64 s[4];
} Rng;

static void
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

static guint64
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
static double
rng_uniform (Rng *r)
{
  return (double) (rng_next (r) >> 11) * 0x1.0p-53;
}

static double
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
static V3
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
static double
jit (Subject *S, double sd)
{
  double n = CLAMP (rng_normal (&S->rng), -2.5, 2.5);
  return S->var * sd * n;
}

/* A multiplicative factor exp(jit(sd)). */
static double
jfac (Subject *S, double sd)
{
  return exp (jit (S, sd));
}

static double
spine_x (const Subject *S, double z)
{
  return S->offx + S->scol_a * sin (2 * G_PI * (z - S->ztop) / S->scol_wl + S->scol_ph);
}

static double
spine_y (const Subject *S, double z)
{
  double a = (z - S->zk) / S->wk, b = (z - S->zl) / S->wl;
  return S->y0 + S->lean * (z - S->zmid) - S->kyph * exp (-a * a) + S->lord * exp (-b * b);
}

static V3
spine_tangent (const Subject *S, double z)
{
  double h = 1.0;
  return vnorm (v3 ((spine_x (S, z + h) - spine_x (S, z - h)) / (2 * h),
                    (spine_y (S, z + h) - spine_y (S, z - h)) / (2 * h), 1.0));
}

/* Cage half axes at height z: a (lateral) and b (antero-posterior). */
static void
cage_axes (const Subject *S, double z, double *a, double *b)
{
  double len = S->ztop - S->z_t12_bottom;
  double u = (S->ztop - z) / len;
  double fa, fb, cap = 1.0;

  if (u < 0)
    {
      double t = -u * len / S->h_apex;
      cap = t < 1 ? sqrt (1 - t * t) : 0;
      u = 0;
    }
  if (u < 0.6)
    fa = 1 - 0.55 * (1 - u / 0.6) * (1 - u / 0.6);
  else
    fa = 1 - 0.06 * MIN ((u - 0.6) / 0.4, 1.0) - 0.08 * CLAMP ((u - 1.0) / 0.5, 0.0, 1.0);
  if (u < 0.7)
    fb = 1 - 0.62 * (1 - u / 0.7) * (1 - u / 0.7);
  else
    fb = 1 - 0.05 * CLAMP ((u - 1.0) / 0.5, 0.0, 1.0);
  *a = S->amax * fa * cap;
  *b = S->bmax * fb * cap;
}

static void
cage_at (const Subject *S, double z, double *cx, double *cy, double *a, double *b)
{
  double a_ = 0, b_ = 0, bfull;
  cage_axes (S, z, &a_, &b_);
  /* The centre follows the spine; its posterior edge stays S->post behind
   * the vertebral bodies (the apex cap shrinks about the full-size centre). */
  {
    double za = MIN (z, S->ztop), dummy;
    cage_axes (S, za, &dummy, &bfull);
  }
  *cx = spine_x (S, z);
  *cy = spine_y (S, z) - S->post + bfull;
  *a = a_;
  *b = b_;
}

/* Point on the cage outline at height z, angle phi (-pi/2 posterior, 0
 * lateral, pi/2 anterior) on side (+1 right, -1 left).  The posterior half is
 * a superellipse of exponent 3 (flatter back), the anterior half an ellipse. */
static V3
cage_point (const Subject *S, double z, double phi, int side, double inset)
{
  double cx, cy, a, b;
  cage_at (S, z, &cx, &cy, &a, &b);
  a -= inset;
  b -= inset;
  double c = cos (phi), s = sin (phi), X, Y;
  if (s < 0)
    {
      X = copysign (pow (fabs (c), 2.0 / 3.0), c);
      Y = -pow (fabs (s), 2.0 / 3.0);
    }
  else
    {
      X = c;
      Y = s;
    }
  return v3 (cx + side * a * X, cy + b * Y, z);
}

/* Diaphragm surface height at (x, y). */
static double
diaphragm_z (const Subject *S, double x, double y)
{
  double u = (x - S->cx0) / S->a0, v = (y - S->cy0) / S->b0;
  double ur = (u - S->u_r) / 0.62, ul = (u + S->u_l) / 0.6;
  double vr = (v - S->v_r) / 0.95, vl = (v - S->v_l) / 0.95;
  double dr = S->zr - S->d_r * ur * ur - S->d_ap * vr * vr;
  double dl = S->zl_dome - S->d_l * ul * ul - S->d_ap * vl * vl;
  double d = MAX (dr, dl);
  double p = MAX (0.0, -v - 0.1);
  return d - S->d_post * p * p;
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
    struct { float mid, extra, z_ant, z_apex, cx, xa, wa, ya, wb, h; } lu;
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
  float warp_max;
  float warp_amp[3][3];
  float *wx[3][3], *wy[3][3], *wz[3][3];
  /* diaphragm, float copies */
  float cx0, cy0, ia0, ib0, zr, zl, d_r, d_l, d_ap, d_post, u_r, u_l, v_r, v_l;
} Painter;

static inline float
zt_lookup (const Painter *P, const float *tab, float z)
{
  const Subject *S = P->S;
  float f = (z - S->zt0) / ZT_STEP;
  if (f <= 0)
    return tab[0];
  if (f >= S->zt_n - 1)
    return tab[S->zt_n - 1];
  int i = (int) f;
  float w = f - i;
  return tab[i] + w * (tab[i + 1] - tab[i]);
}

static inline float
dia_z (const Painter *P, float x, float y)
{
  float u = (x - P->cx0) * P->ia0, v = (y - P->cy0) * P->ib0;
  float ur = (u - P->u_r) * (1.0f / 0.62f), ul = (u + P->u_l) * (1.0f / 0.6f);
  float vr = (v - P->v_r) * (1.0f / 0.95f), vl = (v - P->v_l) * (1.0f / 0.95f);
  float dr = P->zr - P->d_r * ur * ur - P->d_ap * vr * vr;
  float dl = P->zl - P->d_l * ul * ul - P->d_ap * vl * vl;
  float d = dr > dl ? dr : dl;
  float p = -v - 0.1f;
  if (p > 0)
    d -= P->d_post * p * p;
  return d;
}

/* Approximate signed distance (mm) to the inside of the cage outline shrunk by @inset. */
static inline float
wall_dist (const Painter *P, float x, float y, float z, float inset)
{
  float a = zt_lookup (P, P->S->t_a, z) - inset, b = zt_lookup (P, P->S->t_b, z) - inset;
  if (a < 1.0f || b < 1.0f)
    return 1e6f;
  float dx = (x - zt_lookup (P, P->S->t_cx, z)) / a, dy = (y - zt_lookup (P, P->S->t_cy, z)) / b;
  float m = a < b ? a : b;
  if (dy < 0)
    {
      float ax = fabsf (dx), ay = -dy;
      return (ax * ax * ax + ay * ay * ay - 1.0f) * (1.0f / 3.0f) * m;
    }
  return (dx * dx + dy * dy - 1.0f) * 0.5f * m;
}

static inline float
seg_dist (const float a[3], const float b[3], float ra, float rb, float x, float y, float z)
{
  float ab[3] = { b[0] - a[0], b[1] - a[1], b[2] - a[2] };
  float ap[3] = { x - a[0], y - a[1], z - a[2] };
  float l2 = ab[0] * ab[0] + ab[1] * ab[1] + ab[2] * ab[2];
  float t = l2 > 0 ? (ap[0] * ab[0] + ap[1] * ab[1] + ap[2] * ab[2]) / l2 : 0;
  t = t < 0 ? 0 : t > 1 ? 1 : t;
  float d[3] = { ap[0] - t * ab[0], ap[1] - t * ab[1], ap[2] - t * ab[2] };
  return sqrtf (d[0] * d[0] + d[1] * d[1] + d[2] * d[2]) - (ra + t * (rb - ra));
}

/* Signed distance-like value of a primitive (negative inside), before clipping. */
static float
prim_shape (const Painter *P, const Prim *pr, float x, float y, float z)
{
  switch (pr->kind)
    {
    case P_CAPSULE:
      return seg_dist (pr->u.cap.a, pr->u.cap.b, pr->u.cap.ra, pr->u.cap.rb, x, y, z);

    case P_SQ:
      {
        const __typeof__ (pr->u.sq) *q = &pr->u.sq;
        float d[3] = { x - q->c[0], y - q->c[1], z - q->c[2] }, u[3];
        for (int a = 0; a < 3; a++)
          u[a] = (q->ax[a][0] * d[0] + q->ax[a][1] * d[1] + q->ax[a][2] * d[2]) * q->inv_r[a];
        float tf = 1.0f - q->taper * u[0];
        if (tf < 0.2f)
          tf = 0.2f;
        float u1 = (u[1] - q->bend * u[0] * u[0]) / tf, u2 = u[2] / tf;
        float f = sqrtf (u[0] * u[0] + u1 * u1 + u2 * u2);
        float n = 0;
        for (int m = 0; m < N_NOISE; m++)
          n += q->namp[m] * sinf (q->nw[m][0] * u[0] + q->nw[m][1] * u[1] + q->nw[m][2] * u[2]
                                  + q->nph[m]);
        return (f - 1.0f - n) * q->rmin;
      }

    case P_VBODY:
      {
        const __typeof__ (pr->u.vb) *q = &pr->u.vb;
        float d[3] = { x - q->c[0], y - q->c[1], z - q->c[2] };
        float h = d[0] * q->t[0] + d[1] * q->t[1] + d[2] * q->t[2];
        float rx = (d[0] * q->ex[0] + d[1] * q->ex[1] + d[2] * q->ex[2]) / q->ax;
        float ry = (d[0] * q->ey[0] + d[1] * q->ey[1] + d[2] * q->ey[2]) / q->ay;
        float dr = (sqrtf (rx * rx + ry * ry) - 1.0f) * (q->ax < q->ay ? q->ax : q->ay);
        float dh = fabsf (h) - q->hh;
        return dr > dh ? dr : dh;
      }

    case P_VRING:
      {
        const __typeof__ (pr->u.vr) *q = &pr->u.vr;
        float d[3] = { x - q->c[0], y - q->c[1], z - q->c[2] };
        float h = d[0] * q->t[0] + d[1] * q->t[1] + d[2] * q->t[2];
        float r[3] = { d[0] - h * q->t[0], d[1] - h * q->t[1], d[2] - h * q->t[2] };
        float rl = sqrtf (r[0] * r[0] + r[1] * r[1] + r[2] * r[2]);
        float v = rl - q->rout, w = q->rin - rl, dh = fabsf (h) - q->hh;
        float m = v > w ? v : w;
        return m > dh ? m : dh;
      }

    case P_STERNUM:
      {
        const __typeof__ (pr->u.st) *q = &pr->u.st;
        if (z > q->z1 + 10 || z < q->z0 - 10)
          return 10.0f;
        float cx = zt_lookup (P, P->S->t_cx, z);
        float cy = zt_lookup (P, P->S->t_cy, z) + zt_lookup (P, P->S->t_b, z) + 2.0f;
        float w;
        if (z > q->zsa)
          w = q->w_body + (q->w_top - q->w_body) * (z - q->zsa) / (q->z1 - q->zsa);
        else
          w = q->w_tip + (q->w_body - q->w_tip) * (z - q->z0) / (q->zsa - q->z0);
        float dx = (x - cx) / w, dy = (y - cy) / q->th;
        float dz = z > q->z1 ? z - q->z1 : z < q->z0 ? q->z0 - z : 0;
        float dd = (dx * dx * dx * dx + dy * dy - 1.0f) * 0.5f * q->th;
        return dd > dz ? dd : dz;
      }

    case P_LUNGS:
      {
        const __typeof__ (pr->u.lu) *q = &pr->u.lu;
        float sx = zt_lookup (P, P->S->t_sx, z), sy = zt_lookup (P, P->S->t_sy, z);
        float mid = q->mid;
        /* the superior mediastinum in front of the spine is wider */
        if (y > sy + 15.0f && z > q->z_ant)
          {
            float f = (z - q->z_ant) * (1.0f / 30.0f), g = (y - sy - 15.0f) * (1.0f / 25.0f);
            mid += q->extra * (f < 1 ? f : 1) * (g < 1 ? g : 1);
          }
        float d = mid - fabsf (x - sx);
        /* one apex dome per lung */
        float ax = (fabsf (x - q->cx) - q->xa) / q->wa, ay = (y - q->ya) / q->wb;
        float dt = z - (q->z_apex - q->h * (ax * ax + ay * ay));
        return d > dt ? d : dt;
      }

    case P_LIVER:
      {
        const __typeof__ (pr->u.li) *q = &pr->u.li;
        float u = (x - P->cx0) * P->ia0, v = (y - P->cy0) * P->ib0;
        /* the floor: deepest on the right, rising to the left tip, a little
         * deeper behind (bare area) than in front (costal margin) */
        float t = (u - q->u_tip) / (0.35f - q->u_tip);
        t = t < 0 ? 0 : t > 1 ? 1 : t;
        float n = 0;
        for (int m = 0; m < N_NOISE; m++)
          n += q->namp[m] * sinf (q->nw[m][0] * u + q->nw[m][1] * v + q->nph[m]);
        float lat = u < 0 ? 0 : u > 1 ? 1 : u;
        float depth = q->thick * t * (0.88f + 0.22f * lat) * (1.0f - q->v_tilt * v) * (1.0f + n);
        float d = (P->zr - depth) - z;
        /* the left lobe lies in front of the stomach */
        if (u < 0.1f)
          {
            float vmin = -0.55f + 1.3f * (0.1f - u);
            float dl = (vmin - v) * 80.0f;
            d = d > dl ? d : dl;
          }
        /* no liver behind the caval / aortic region next to the spine */
        float sx = zt_lookup (P, P->S->t_sx, z), sy = zt_lookup (P, P->S->t_sy, z);
        float a1 = 22.0f - fabsf (x - sx - 4.0f), a2 = sy + 30.0f - y;
        float dr = a1 < a2 ? a1 : a2;
        return d > dr ? d : dr;
      }

    case P_MUSCLE:
      {
        const __typeof__ (pr->u.mu) *q = &pr->u.mu;
        const Subject *S = P->S;
        float sx = zt_lookup (P, S->t_sx, z), sy = zt_lookup (P, S->t_sy, z);
        /* thoracic -> lumbar blend */
        float f = (float) ((S->zc[FIRST_L - 3] - z) / (S->zc[FIRST_L + 1] - S->zc[FIRST_L - 3]));
        f = f < 0 ? 0 : f > 1 ? 1 : f;
        float ox = q->off_t[0] + f * (q->off_l[0] - q->off_t[0]);
        float oy = q->off_t[1] + f * (q->off_l[1] - q->off_t[1]);
        float rx = q->r_t[0] + f * (q->r_l[0] - q->r_t[0]);
        float ry = q->r_t[1] + f * (q->r_l[1] - q->r_t[1]);
        float dx = (x - (sx + q->side * ox)) / rx, dy = (y - (sy - oy)) / ry;
        float m = rx < ry ? rx : ry;
        float d = (sqrtf (dx * dx + dy * dy) - 1.0f) * m;
        float dt = z - q->z_top;
        return d > dt ? d : dt;
      }
    }
  return 1e6f;
}

static inline float
prim_dist (const Painter *P, const Prim *pr, float x, float y, float z, float limit)
{
  float d = prim_shape (P, pr, x, y, z);
  if (d >= limit)
    return d;
  if (pr->clip & CLIP_ABOVE_DIA)
    {
      float c = dia_z (P, x, y) + pr->clip_gap - z;
      d = d > c ? d : c;
    }
  if (pr->clip & CLIP_BELOW_DIA)
    {
      float c = z - (dia_z (P, x, y) - pr->clip_gap);
      d = d > c ? d : c;
    }
  if ((pr->clip & CLIP_WALL) && d < limit)
    {
      float c = wall_dist (P, x, y, z, pr->wall_inset);
      d = d > c ? d : c;
    }
  return d;
}

/* Paint one primitive: label where inside and free (phase 0), or reserve free
 * voxels within @margin mm (phase 1). */
static void
paint_prim (Painter *P, const Prim *pr, uint8_t label, int phase, float margin)
{
  float limit = phase == 0 ? 0.0f : margin;
  float pad = limit + P->warp_max + 1.0f;
  int lo[3], hi[3];
  int dims[3] = { P->nx, P->ny, P->nz };
  for (int a = 0; a < 3; a++)
    {
      lo[a] = (int) floorf ((pr->bb[2 * a] - pad - P->org[a]) / P->sp[a]);
      hi[a] = (int) ceilf ((pr->bb[2 * a + 1] + pad - P->org[a]) / P->sp[a]);
      lo[a] = MAX (lo[a], 0);
      hi[a] = MIN (hi[a], dims[a] - 1);
      if (lo[a] > hi[a])
        return;
    }
  float yz[3][3];
  for (int k = lo[2]; k <= hi[2]; k++)
    for (int j = lo[1]; j <= hi[1]; j++)
      {
        for (int c = 0; c < 3; c++)
          for (int m = 0; m < P->n_warp; m++)
            yz[c][m] = P->warp_amp[c][m] * P->wy[c][m][j] * P->wz[c][m][k];
        float by = P->org[1] + j * P->sp[1], bz = P->org[2] + k * P->sp[2];
        uint8_t *row = P->lab + ((size_t) k * P->ny + j) * P->nx;
        for (int i = lo[0]; i <= hi[0]; i++)
          {
            uint8_t cur = row[i];
            if (cur != 0)
              continue;
            float w[3] = { 0, 0, 0 };
            for (int c = 0; c < 3; c++)
              for (int m = 0; m < P->n_warp; m++)
                w[c] += yz[c][m] * P->wx[c][m][i];
            float x = P->org[0] + i * P->sp[0] + w[0];
            float d = prim_dist (P, pr, x, by + w[1], bz + w[2], limit);
            if (d < limit)
              row[i] = phase == 0 ? label : RESERVED;
          }
      }
}

/* ------------------------------------------------------------------------- */
/* Building primitives                                                        */

typedef struct {
  GArray *prims;  /* Prim */
  uint8_t label;
  float margin;
} Organ;

static Prim *
organ_add (Organ *o, PrimKind kind)
{
  Prim p;
  memset (&p, 0, sizeof p);
  p.kind = kind;
  g_array_append_val (o->prims, p);
  return &g_array_index (o->prims, Prim, o->prims->len - 1);
}

static void
set_bb (Prim *p, double x0, double x1, double y0, double y1, double z0, double z1)
{
  p->bb[0] = (float) x0; p->bb[1] = (float) x1;
  p->bb[2] = (float) y0; p->bb[3] = (float) y1;
  p->bb[4] = (float) z0; p->bb[5] = (float) z1;
}

static void
add_capsule (Organ *o, V3 a, V3 b, double ra, double rb, int clip, double gap, double inset)
{
  Prim *p = organ_add (o, P_CAPSULE);
  p->u.cap.a[0] = (float) a.x; p->u.cap.a[1] = (float) a.y; p->u.cap.a[2] = (float) a.z;
  p->u.cap.b[0] = (float) b.x; p->u.cap.b[1] = (float) b.y; p->u.cap.b[2] = (float) b.z;
  p->u.cap.ra = (float) ra;
  p->u.cap.rb = (float) rb;
  p->clip = clip;
  p->clip_gap = (float) gap;
  p->wall_inset = (float) inset;
  double r = MAX (ra, rb);
  set_bb (p, MIN (a.x, b.x) - r, MAX (a.x, b.x) + r, MIN (a.y, b.y) - r, MAX (a.y, b.y) + r,
          MIN (a.z, b.z) - r, MAX (a.z, b.z) + r);
}

/* A tube along the Catmull-Rom spline through @pts with radii @rad. */
static void
add_tube (Organ *o, const V3 *pts, const double *rad, int n, int clip, double gap, double inset)
{
  V3 prev = pts[0];
  double prev_r = rad[0];
  for (int i = 0; i + 1 < n; i++)
    {
      V3 p0 = pts[MAX (i - 1, 0)], p1 = pts[i], p2 = pts[i + 1], p3 = pts[MIN (i + 2, n - 1)];
      double len = sqrt (vdot (vsub (p2, p1), vsub (p2, p1)));
      int steps = MAX (2, (int) ceil (len / 6.0));
      for (int st = 1; st <= steps; st++)
        {
          double t = (double) st / steps, t2 = t * t, t3 = t2 * t;
          V3 q = vscale (vadd (vadd (vscale (p1, 2),
                                     vscale (vsub (p2, p0), t)),
                               vadd (vscale (vadd (vsub (vscale (p0, 2), vscale (p1, 5)),
                                                   vsub (vscale (p2, 4), p3)), t2),
                                     vscale (vadd (vsub (vscale (p1, 3), p0),
                                                   vsub (p3, vscale (p2, 3))), t3))),
                         0.5);
          double r = rad[i] + (rad[i + 1] - rad[i]) * t;
          add_capsule (o, prev, q, prev_r, r, clip, gap, inset);
          prev = q;
          prev_r = r;
        }
    }
}

static void
sq_noise (Subject *S, Prim *p, double amp)
{
  for (int m = 0; m < N_NOISE; m++)
    {
      V3 w = vnorm (v3 (rng_normal (&S->rng), rng_normal (&S->rng), rng_normal (&S->rng)));
      double f = 1.5 + 2.0 * rng_uniform (&S->rng);
      p->u.sq.nw[m][0] = (float) (w.x * f);
      p->u.sq.nw[m][1] = (float) (w.y * f);
      p->u.sq.nw[m][2] = (float) (w.z * f);
      p->u.sq.nph[m] = (float) (2 * G_PI * rng_uniform (&S->rng));
      p->u.sq.namp[m] = (float) (S->var * amp * rng_uniform (&S->rng));
    }
}

/* A (tapered, bent, noisy) ellipsoid with axes e0, e1, e2 (orthonormal) and radii r. */
static Prim *
add_sq (Organ *o, Subject *S, V3 c, V3 e0, V3 e1, V3 e2, const double r[3], double taper,
        double bend, double noise, int clip, double gap, double inset)
{
  Prim *p = organ_add (o, P_SQ);
  V3 e[3] = { e0, e1, e2 };
  p->u.sq.c[0] = (float) c.x; p->u.sq.c[1] = (float) c.y; p->u.sq.c[2] = (float) c.z;
  double ext[3] = { 0, 0, 0 };
  for (int a = 0; a < 3; a++)
    {
      p->u.sq.ax[a][0] = (float) e[a].x;
      p->u.sq.ax[a][1] = (float) e[a].y;
      p->u.sq.ax[a][2] = (float) e[a].z;
      p->u.sq.inv_r[a] = (float) (1.0 / r[a]);
      double ea[3] = { e[a].x, e[a].y, e[a].z };
      for (int w = 0; w < 3; w++)
        ext[w] += (r[a] * ea[w]) * (r[a] * ea[w]);
    }
  p->u.sq.rmin = (float) MIN (r[0], MIN (r[1], r[2]));
  p->u.sq.taper = (float) taper;
  p->u.sq.bend = (float) bend;
  sq_noise (S, p, noise);
  p->clip = clip;
  p->clip_gap = (float) gap;
  p->wall_inset = (float) inset;
  double grow = 1.0 + fabs (taper) + fabs (bend) + 3 * noise;
  for (int w = 0; w < 3; w++)
    ext[w] = sqrt (ext[w]) * grow;
  set_bb (p, c.x - ext[0], c.x + ext[0], c.y - ext[1], c.y + ext[1], c.z - ext[2], c.z + ext[2]);
  return p;
}

/* An orthonormal frame whose first axis is @a, the second as close to @hint as possible. */
static void
frame_from (V3 a, V3 hint, V3 *e0, V3 *e1, V3 *e2)
{
  *e0 = vnorm (a);
  *e1 = vnorm (vsub (hint, vscale (*e0, vdot (hint, *e0))));
  *e2 = vcross (*e0, *e1);
}

static V3
spine_point (const Subject *S, double z)
{
  return v3 (spine_x (S, z), spine_y (S, z), z);
}

/* ------------------------------------------------------------------------- */
/* Subject parameters and skeleton                                            */

static void
subject_init (Subject *S, const PhantomParams *p)
{
  memset (S, 0, sizeof *S);
  rng_seed (&S->rng, p->seed);
  S->var = p->variation;

  double s = S->s = jfac (S, 0.05);
  double wx = jfac (S, 0.05), wy = jfac (S, 0.06), hz = jfac (S, 0.04);

  S->pitch_t = 23.0 * s * hz * jfac (S, 0.02);
  S->pitch_l = 29.5 * s * hz * jfac (S, 0.03);
  /* anchored at the T10 centre, so bigger bodies grow both ways out of the field of view */
  S->ztop = -38.0 + 9.5 * S->pitch_t + jit (S, 8);
  S->offx = jit (S, 5);
  S->y0 = -55.0 * s * wy + jit (S, 6);

  /* vertebra centres: C5..C7 above T1 */
  double pc = 18.0 * s * hz;
  double z = S->ztop;
  for (int i = FIRST_T - 1; i >= 0; i--)
    {
      S->zc[i] = z + pc * (FIRST_T - i - 0.5);
      S->hh[i] = 0.5 * pc - 2.5 * s;
    }
  for (int i = FIRST_T; i < N_VERT; i++)
    {
      double pitch = i < FIRST_L ? S->pitch_t : S->pitch_l;
      S->zc[i] = z - 0.5 * pitch;
      S->hh[i] = 0.5 * pitch - (i < FIRST_L ? 2.6 : 4.0) * s;
      z -= pitch;
      if (i == FIRST_L - 1)
        S->z_t12_bottom = z;
    }
  S->zmid = S->zc[FIRST_T + 8];
  S->lean = jit (S, 0.04);
  S->kyph = (16.0 + jit (S, 5)) * s;
  S->zk = S->zc[FIRST_T + 6] + jit (S, 15);
  S->wk = 120.0 * s;
  S->lord = (10.0 + jit (S, 4)) * s;
  S->zl = S->zc[FIRST_L + 2];
  S->wl = 70.0 * s;
  S->scol_a = jit (S, 3.5);
  S->scol_wl = 420.0 * s + jit (S, 80);
  S->scol_ph = 2 * G_PI * rng_uniform (&S->rng);

  S->amax = 134.0 * s * wx * jfac (S, 0.03);
  S->bmax = 92.0 * s * wy * jfac (S, 0.04);
  S->post = 37.0 * s;
  S->h_apex = 60.0 * s;
}

static void
subject_tables (Subject *S, const Painter *P)
{
  double zlo = P->org[2] - 80.0, zhi = P->org[2] + P->nz * P->sp[2] + 80.0;
  S->zt0 = (float) zlo;
  S->zt_n = (int) ceil ((zhi - zlo) / ZT_STEP) + 1;
  float **tabs[6] = { &S->t_sx, &S->t_sy, &S->t_cx, &S->t_cy, &S->t_a, &S->t_b };
  for (int t = 0; t < 6; t++)
    *tabs[t] = g_new (float, S->zt_n);
  for (int i = 0; i < S->zt_n; i++)
    {
      double z = zlo + i * ZT_STEP, cx, cy, a, b;
      cage_at (S, z, &cx, &cy, &a, &b);
      S->t_sx[i] = (float) spine_x (S, z);
      S->t_sy[i] = (float) spine_y (S, z);
      S->t_cx[i] = (float) cx;
      S->t_cy[i] = (float) cy;
      S->t_a[i] = (float) a;
      S->t_b[i] = (float) b;
    }
}

static void
subject_clear (Subject *S)
{
  g_free (S->t_sx);
  g_free (S->t_sy);
  g_free (S->t_cx);
  g_free (S->t_cy);
  g_free (S->t_a);
  g_free (S->t_b);
}

/* z of vertebra index @f (fractional: 3.5 = between T1 and T2 centres). */
static double
level_z (const Subject *S, double f)
{
  int i = CLAMP ((int) floor (f), 0, N_VERT - 2);
  double w = f - i;
  return S->zc[i] + w * (S->zc[i + 1] - S->zc[i]);
}

#define T_(n) (FIRST_T + (n) - 1)   /* vertebra index of T(n) */
#define L_(n) (FIRST_L + (n) - 1)

static void
build_spine (Subject *S, Organ *o)
{
  double s = S->s;
  for (int i = 0; i < N_VERT; i++)
    {
      double z = S->zc[i];
      V3 c = spine_point (S, z), t = spine_tangent (S, z);
      V3 ex = vnorm (vsub (v3 (1, 0, 0), vscale (t, t.x)));
      V3 ey = vcross (t, ex);
      gboolean lumbar = i >= FIRST_L, cerv = i < FIRST_T;
      double ax = s * (cerv ? 11.0 + i : 15.0 + 0.6 * (i - FIRST_T)) * (1 + jit (S, 0.03));
      double ay = s * (cerv ? 8.5 + 0.8 * i : 12.0 + 0.35 * (i - FIRST_T)) * (1 + jit (S, 0.03));
      double hh = S->hh[i];

      Prim *p = organ_add (o, P_VBODY);
      for (int a = 0; a < 3; a++)
        {
          double cv[3] = { c.x, c.y, c.z }, exv[3] = { ex.x, ex.y, ex.z };
          double eyv[3] = { ey.x, ey.y, ey.z }, tv[3] = { t.x, t.y, t.z };
          p->u.vb.c[a] = (float) cv[a];
          p->u.vb.ex[a] = (float) exv[a];
          p->u.vb.ey[a] = (float) eyv[a];
          p->u.vb.t[a] = (float) tv[a];
        }
      p->u.vb.ax = (float) ax;
      p->u.vb.ay = (float) ay;
      p->u.vb.hh = (float) hh;
      double r = MAX (ax, ay) + hh;
      set_bb (p, c.x - r, c.x + r, c.y - r, c.y + r, c.z - r, c.z + r);

      /* arch around the canal */
      double rin = s * (cerv ? 6.5 : 7.0), rout = s * (cerv ? 11.0 : lumbar ? 14.0 : 12.5);
      V3 cc = vsub (c, vscale (ey, ay + rin + 1.0 * s));
      p = organ_add (o, P_VRING);
      for (int a = 0; a < 3; a++)
        {
          double cv[3] = { cc.x, cc.y, cc.z }, eyv[3] = { ey.x, ey.y, ey.z };
          double tv[3] = { t.x, t.y, t.z };
          p->u.vr.c[a] = (float) cv[a];
          p->u.vr.ey[a] = (float) eyv[a];
          p->u.vr.t[a] = (float) tv[a];
        }
      p->u.vr.rin = (float) rin;
      p->u.vr.rout = (float) rout;
      p->u.vr.hh = (float) (hh * 0.7);
      r = rout + hh;
      set_bb (p, cc.x - r, cc.x + r, cc.y - r, cc.y + r, cc.z - r, cc.z + r);

      /* spinous process: down and back in the thorax, straight back in the loins */
      double sp_len = s * (cerv ? 22 : lumbar ? 27 : 30), sp_down = s * (cerv ? 6 : lumbar ? 4 : 16);
      double sp_r = s * (lumbar ? 5.0 : 3.8);
      V3 a0 = vsub (cc, vscale (ey, rin + 2 * s));
      V3 a1 = vsub (vsub (cc, vscale (ey, sp_len)), vscale (t, sp_down));
      add_capsule (o, a0, a1, sp_r, sp_r * 0.8, 0, 0, 0);

      /* transverse processes */
      for (int side = -1; side <= 1; side += 2)
        {
          double len = s * (cerv ? 20 : lumbar ? 34 : 26);
          V3 b0 = vadd (cc, vscale (ex, side * (rin + 1 * s)));
          V3 b1 = vadd (vadd (cc, vscale (ex, side * len)),
                        vscale (ey, lumbar ? 2 * s : -5 * s));
          b1 = vadd (b1, vscale (t, lumbar ? 0 : 2 * s));
          add_capsule (o, b0, b1, s * (lumbar ? 3.6 : 4.2), s * (lumbar ? 3.2 : 4.5), 0, 0, 0);
        }
    }
}

typedef struct {
  double z_st_top, z_sa, z_xs, z_tip;   /* sternum: top, sternal angle, xiphisternal, tip */
} SternumLevels;

static void
build_ribs (Subject *S, Organ *o, SternumLevels *sl)
{
  double s = S->s;
  static const double phi_end_deg[12] = { 55, 58, 60, 62, 62, 60, 58, 40, 28, 15, -15, -38 };
  double drop_f = jfac (S, 0.08);
  double phi0 = -78.0 * G_PI / 180.0;
  double rr = 4.3 * s, rc = 3.6 * s;

  sl->z_st_top = level_z (S, T_ (2) + 0.6) + jit (S, 5);
  sl->z_sa = level_z (S, T_ (4) + 0.6) + jit (S, 5);
  sl->z_xs = level_z (S, T_ (9)) + jit (S, 6);
  sl->z_tip = sl->z_xs - (28.0 + jit (S, 6)) * s;

  for (int r = 0; r < 12; r++)
    {
      double zp = S->zc[T_ (r + 1)];
      double drop = S->pitch_t * (1.5 + 1.6 * MIN (1.0, r / 5.0)) * drop_f * (1 + jit (S, 0.04));
      double phi_end = (phi_end_deg[r] + jit (S, 4)) * G_PI / 180.0;
      double z_att = r == 0 ? sl->z_st_top - 10 * s
                   : sl->z_sa + (r - 1) / 5.0 * (sl->z_xs - sl->z_sa);
      for (int side = -1; side <= 1; side += 2)
        {
          V3 c = spine_point (S, zp);
          V3 pts[64];
          double rad[64];
          int n = 0;
          /* head beside the body, tubercle at the transverse process */
          pts[n] = v3 (c.x + side * 14 * s, c.y - 4 * s, zp + 2 * s); rad[n++] = rr * 0.9;
          pts[n] = v3 (c.x + side * 27 * s, c.y - 27 * s, zp); rad[n++] = rr;
          int n_arc = 14;
          double zend = 0;
          for (int k = 0; k <= n_arc; k++)
            {
              double phi = phi0 + (phi_end - phi0) * k / n_arc;
              double tt = (phi - phi0) / (G_PI / 2 - phi0);
              double zz = zp - 4 * s - drop * pow (MAX (tt, 0.0), 1.4);
              pts[n] = cage_point (S, zz, phi, side, 0);
              rad[n++] = rr;
              zend = zz;
            }
          add_tube (o, pts, rad, n, 0, 0, 0);

          /* costal cartilage: ribs 1-7 to the sternum, 8-10 a short way up */
          if (r < 10)
            {
              double phi_st = r < 7 ? (82.0 * G_PI / 180.0) : phi_end + 14.0 * G_PI / 180.0;
              double z_to = r < 7 ? z_att : zend + 0.8 * S->pitch_t;
              V3 cp[8];
              double cr[8];
              int m = 0;
              for (int k = 0; k <= 5; k++)
                {
                  double phi = phi_end + (phi_st - phi_end) * k / 5.0;
                  double zz = zend + (z_to - zend) * (k / 5.0);
                  cp[m] = cage_point (S, zz, phi, side, 0);
                  cr[m++] = k == 0 ? rr : rc;
                }
              add_tube (o, cp, cr, m, 0, 0, 0);
            }
        }
    }

  /* sternum: manubrium, body, xiphoid (folded into the rib cage label) */
  Prim *p = organ_add (o, P_STERNUM);
  p->u.st.z0 = (float) sl->z_tip;
  p->u.st.z1 = (float) sl->z_st_top;
  p->u.st.zsa = (float) sl->z_sa;
  p->u.st.w_top = (float) (26 * s);
  p->u.st.w_body = (float) (15 * s * jfac (S, 0.08));
  p->u.st.w_tip = (float) (7 * s);
  p->u.st.th = (float) (5.5 * s);
  double cx, cy, a, b;
  cage_at (S, sl->z_sa, &cx, &cy, &a, &b);
  set_bb (p, cx - 40 * s, cx + 40 * s, cy - 2 * S->bmax, cy + 2 * S->bmax,
          sl->z_tip - 10, sl->z_st_top + 10);
}

static void
build_diaphragm (Subject *S)
{
  double s = S->s;
  S->zr = level_z (S, T_ (9) + 0.7) + jit (S, 0.4 * S->pitch_t);
  S->zl_dome = S->zr - (14.0 + jit (S, 6)) * s;
  double cx, cy, a, b;
  cage_at (S, S->zr, &cx, &cy, &a, &b);
  S->cx0 = cx;
  S->cy0 = cy;
  S->a0 = a;
  S->b0 = b;
  S->d_r = (55.0 + jit (S, 8)) * s;
  S->d_l = (55.0 + jit (S, 8)) * s;
  S->d_ap = (34.0 + jit (S, 6)) * s;
  S->d_post = (48.0 + jit (S, 8)) * s;
  S->u_r = 0.42 + jit (S, 0.05);
  S->u_l = 0.45 + jit (S, 0.05);
  S->v_r = 0.1 + jit (S, 0.06);
  S->v_l = 0.0 + jit (S, 0.06);
}

/* ------------------------------------------------------------------------- */
/* Soft organs                                                                */

typedef struct {
  V3 h, axis;          /* heart centre and long axis (base -> apex) */
  double r_long;
} HeartInfo;

static void
build_heart (Subject *S, Organ *o, HeartInfo *hi)
{
  double s = S->s, f = jfac (S, 0.08);
  double r[3] = { 68 * s * f * jfac (S, 0.05), 54 * s * f, 44 * s * f * jfac (S, 0.06) };
  V3 axis = vnorm (v3 (-0.58 + jit (S, 0.1), 0.5 + jit (S, 0.1), -0.45 + jit (S, 0.1)));
  V3 e0, e1, e2;
  frame_from (axis, v3 (0, 0, 1), &e0, &e1, &e2);
  double roll = jit (S, 0.25);
  e1 = vrot (e1, e0, roll);
  e2 = vrot (e2, e0, roll);
  double hx = S->cx0 - (20.0 + jit (S, 4)) * s;
  double hy = S->cy0 + (0.34 + jit (S, 0.05)) * S->b0;
  double ext_z = sqrt (pow (r[0] * e0.z, 2) + pow (r[1] * e1.z, 2) + pow (r[2] * e2.z, 2));
  double hz = diaphragm_z (S, hx, hy) + 0.78 * ext_z + jit (S, 5);
  V3 c = v3 (hx, hy, hz);
  add_sq (o, S, c, e0, e1, e2, r, 0.22, 0.0, 0.05, CLIP_ABOVE_DIA | CLIP_WALL, 3.0, 8 * s);
  hi->h = c;
  hi->axis = e0;
  hi->r_long = r[0];
}

static void
build_aorta (Subject *S, Organ *o, const HeartInfo *hi)
{
  double s = S->s, f = jfac (S, 0.09);
  V3 pts[16];
  double rad[16];
  int n = 0;
  double z_arch = level_z (S, T_ (3) + 0.8) + jit (S, 8);
  V3 sa = spine_point (S, z_arch);
  V3 root = vadd (vsub (hi->h, vscale (hi->axis, 0.5 * hi->r_long)), v3 (4 * s, 0, 0));
  double y_asc = sa.y + (80.0 + jit (S, 6)) * s, x_asc = sa.x + (20.0 + jit (S, 5)) * s;

  pts[n] = root; rad[n++] = 14 * s * f;
  pts[n] = v3 ((root.x + x_asc) / 2 + 4 * s, (root.y + y_asc) / 2 + 3 * s, root.z + 0.35 * (z_arch - root.z));
  rad[n++] = 15.5 * s * f;
  pts[n] = v3 (x_asc, y_asc - 4 * s, z_arch - 22 * s); rad[n++] = 15 * s * f;
  pts[n] = v3 (sa.x + 2 * s, (y_asc + sa.y) / 2 + 14 * s, z_arch + 4 * s); rad[n++] = 13.5 * s * f;
  pts[n] = v3 (sa.x - 18 * s, sa.y + 22 * s, z_arch - 14 * s); rad[n++] = 12.5 * s * f;
  double dx = (21.0 + jit (S, 3)) * s, dy = (14.0 + jit (S, 3)) * s;
  static const double lev[] = { T_ (5), T_ (7), T_ (9), T_ (11) };
  for (int i = 0; i < 4; i++)
    {
      V3 c = spine_point (S, level_z (S, lev[i]));
      pts[n] = v3 (c.x - dx, c.y + dy, c.z); rad[n++] = (11.5 - 0.3 * i) * s * f;
    }
  static const double lev2[] = { T_ (12) + 0.5, L_ (1) + 0.5, L_ (3), L_ (5) + 1.5 };
  for (int i = 0; i < 4; i++)
    {
      V3 c = spine_point (S, level_z (S, lev2[i]));
      double ay = 12.0 + 0.35 * (lev2[i] - FIRST_T);
      pts[n] = v3 (c.x - (8 - i) * s, c.y + (ay + 13) * s, c.z); rad[n++] = (10.0 - 0.3 * i) * s * f;
    }
  add_tube (o, pts, rad, n, 0, 0, 0);
}

static void
build_pulmonary (Subject *S, Organ *o, const HeartInfo *hi)
{
  double s = S->s, f = jfac (S, 0.1);
  V3 h = hi->h;
  V3 start = vadd (vsub (h, vscale (hi->axis, 0.2 * hi->r_long)), v3 (-6 * s, 20 * s, 22 * s));
  double zb = level_z (S, T_ (5) + 0.6) + jit (S, 6);
  V3 sb = spine_point (S, zb);
  V3 bif = v3 (sb.x - (8.0 + jit (S, 4)) * s, sb.y + (50.0 + jit (S, 4)) * s, zb);
  V3 mid = v3 ((start.x + bif.x) / 2 - 6 * s, (start.y + bif.y) / 2 + 6 * s, (start.z + bif.z) / 2);
  {
    V3 p[3] = { start, mid, bif };
    double r[3] = { 13.5 * s * f, 13 * s * f, 12 * s * f };
    add_tube (o, p, r, 3, 0, 0, 0);
  }
  double hw = S->amax;
  for (int side = -1; side <= 1; side += 2)
    {
      double rr = (side > 0 ? 10.0 : 9.5) * s * f;
      double reach = (side > 0 ? 0.42 : 0.36) * hw * (1 + jit (S, 0.06));
      V3 p1 = v3 (bif.x + side * 0.45 * reach, sb.y + (side > 0 ? 42 : 34) * s, zb - (side > 0 ? 8 : 0) * s);
      V3 hil = v3 (sb.x + side * reach, sb.y + (side > 0 ? 40 : 28) * s, zb - (side > 0 ? 12 : 4) * s + jit (S, 5));
      V3 p[4] = { bif, p1, hil, vadd (hil, v3 (side * 8 * s, 0, -4 * s)) };
      double r[4] = { rr, rr, rr * 0.9, rr * 0.8 };
      add_tube (o, p, r, 4, 0, 0, 0);
      /* lobar branches: up, down, and on the right a middle one forward */
      V3 up = vadd (hil, v3 (side * 14 * s, 4 * s, (38.0 + jit (S, 6)) * s));
      V3 dn = vadd (hil, v3 (side * 16 * s, -14 * s, -(52.0 + jit (S, 8)) * s));
      V3 q1[3] = { hil, vadd (hil, v3 (side * 8 * s, 2 * s, 16 * s)), up };
      V3 q2[3] = { hil, vadd (hil, v3 (side * 10 * s, -6 * s, -22 * s)), dn };
      double rb[3] = { rr * 0.75, rr * 0.6, rr * 0.45 };
      add_tube (o, q1, rb, 3, 0, 0, 0);
      add_tube (o, q2, rb, 3, 0, 0, 0);
      if (side > 0)
        {
          V3 md = vadd (hil, v3 (20 * s, 26 * s, -18 * s));
          V3 q3[2] = { hil, md };
          double r3[2] = { rr * 0.6, rr * 0.45 };
          add_tube (o, q3, r3, 2, 0, 0, 0);
        }
    }
}

static void
build_lungs (Subject *S, Organ *o, const HeartInfo *hi)
{
  double s = S->s, cx, cy, a, b;
  Prim *p = organ_add (o, P_LUNGS);
  p->u.lu.mid = (float) ((12.0 + jit (S, 2)) * s);
  p->u.lu.extra = (float) ((14.0 + jit (S, 4)) * s);
  p->u.lu.z_ant = (float) (hi->h.z + 0.3 * hi->r_long);
  cage_at (S, S->ztop, &cx, &cy, &a, &b);
  p->u.lu.z_apex = (float) (S->ztop + (32.0 + jit (S, 5)) * s);
  p->u.lu.cx = (float) cx;
  p->u.lu.xa = (float) (0.45 * a);
  p->u.lu.wa = (float) (0.5 * S->amax);
  p->u.lu.ya = (float) (cy - 0.15 * b);
  p->u.lu.wb = (float) (0.9 * S->bmax);
  p->u.lu.h = (float) (35.0 * s);
  p->clip = CLIP_ABOVE_DIA | CLIP_WALL;
  p->clip_gap = (float) (4.0 * S->s);
  p->wall_inset = (float) (7.5 * S->s);
  double zlo = S->zr - S->d_r - S->d_ap * 1.5 - S->d_post * 1.5;
  set_bb (p, S->cx0 - 1.3 * S->amax, S->cx0 + 1.3 * S->amax, S->cy0 - 1.6 * S->bmax,
          S->cy0 + 1.6 * S->bmax, zlo, S->ztop + S->h_apex + 5);
}

static void
build_liver (Subject *S, Organ *o)
{
  double s = S->s;
  Prim *p = organ_add (o, P_LIVER);
  p->u.li.u_tip = (float) (-0.62 + jit (S, 0.08));
  p->u.li.thick = (float) ((122.0 + jit (S, 14)) * s);
  p->u.li.v_tilt = (float) (0.15 + jit (S, 0.06));
  for (int m = 0; m < N_NOISE; m++)
    {
      double a = 2 * G_PI * rng_uniform (&S->rng), fr = 2.0 + 2.5 * rng_uniform (&S->rng);
      p->u.li.nw[m][0] = (float) (cos (a) * fr);
      p->u.li.nw[m][1] = (float) (sin (a) * fr);
      p->u.li.nph[m] = (float) (2 * G_PI * rng_uniform (&S->rng));
      p->u.li.namp[m] = (float) (S->var * 0.07 * rng_uniform (&S->rng));
    }
  p->clip = CLIP_BELOW_DIA | CLIP_WALL;
  p->clip_gap = (float) (4.0 * s);
  p->wall_inset = (float) (8.5 * s);
  set_bb (p, S->cx0 - 1.2 * S->amax, S->cx0 + 1.2 * S->amax, S->cy0 - 1.4 * S->bmax,
          S->cy0 + 1.4 * S->bmax, S->zr - 260 * s, S->zr + 5);
}

static void
build_spleen (Subject *S, Organ *o)
{
  double s = S->s, f = jfac (S, 0.16);
  double r[3] = { 58 * s * f * jfac (S, 0.06), 25 * s * f, 36 * s * f * jfac (S, 0.06) };
  V3 c = v3 (S->cx0 - (0.64 + jit (S, 0.04)) * S->a0, S->cy0 - (0.48 + jit (S, 0.06)) * S->b0,
             S->zl_dome - (48.0 + jit (S, 8)) * s);
  /* long axis along the tenth rib: from posterior-superior to anterior-inferior */
  V3 ax = vnorm (v3 (-0.15 + jit (S, 0.1), 0.72 + jit (S, 0.1), -0.55 + jit (S, 0.12)));
  /* thickness axis points medially (hilum side) */
  V3 e0, e1, e2;
  frame_from (ax, v3 (1, 0.25, 0), &e0, &e1, &e2);
  add_sq (o, S, c, e0, e1, e2, r, 0.1, 0.35, 0.06, CLIP_BELOW_DIA | CLIP_WALL, 4.0 * s, 8.5 * s);
}

static void
build_stomach (Subject *S, Organ *o)
{
  double s = S->s, f = jfac (S, 0.15);
  double A = S->a0, B = S->b0, zl = S->zl_dome;
  V3 pts[5] = {
    v3 (S->cx0 - 0.40 * A, S->cy0 - 0.10 * B, zl - 30 * s),
    v3 (S->cx0 - 0.45 * A, S->cy0 + 0.18 * B, zl - 72 * s),
    v3 (S->cx0 - 0.28 * A, S->cy0 + 0.45 * B, zl - 110 * s),
    v3 (S->cx0 + 0.02 * A, S->cy0 + 0.52 * B, zl - 118 * s),
    v3 (S->cx0 + 0.20 * A, S->cy0 + 0.34 * B, zl - 98 * s),
  };
  double rad[5] = { 33 * s * f, 31 * s * f, 26 * s * f, 19 * s * f, 12 * s * f };
  double drop = jit (S, 12) * s;
  for (int i = 0; i < 5; i++)
    pts[i] = vadd (pts[i], v3 (jit (S, 7) * s, jit (S, 7) * s, jit (S, 7) * s + (i > 0 ? drop : 0)));
  add_tube (o, pts, rad, 5, CLIP_BELOW_DIA | CLIP_WALL, 4.0 * s, 8.5 * s);
}

static void
build_pancreas (Subject *S, Organ *o)
{
  double s = S->s, f = jfac (S, 0.12);
  double zp = level_z (S, L_ (1) + 0.2) + 0.5 * (S->zr - level_z (S, T_ (9) + 0.7))
              + jit (S, 0.35 * S->pitch_l);
  V3 sp = spine_point (S, zp);
  V3 pts[5] = {
    v3 (sp.x + 30 * s, sp.y + 56 * s, zp - 22 * s),
    v3 (sp.x + 16 * s, sp.y + 62 * s, zp - 4 * s),
    v3 (sp.x - 8 * s, sp.y + 64 * s, zp + 4 * s),
    v3 (sp.x - 40 * s, sp.y + 54 * s, zp + 12 * s),
    v3 (S->cx0 - 0.6 * S->a0, S->cy0 - 0.18 * S->b0, zp + 30 * s),
  };
  double rad[5] = { 17 * s * f, 13 * s * f, 11.5 * s * f, 11 * s * f, 9.5 * s * f };
  for (int i = 0; i < 5; i++)
    pts[i] = vadd (pts[i], v3 (jit (S, 5) * s, jit (S, 5) * s, jit (S, 6) * s));
  add_tube (o, pts, rad, 5, CLIP_BELOW_DIA | CLIP_WALL, 4.0 * s, 8.5 * s);
}

static void
build_kidneys (Subject *S, Organ *o)
{
  double s = S->s, f = jfac (S, 0.07);
  /* beside L1-L2, pushed down half as far as the diaphragm sits low */
  double dome_shift = S->zr - level_z (S, T_ (9) + 0.7);
  double zl = level_z (S, L_ (1) + 0.2) + 0.5 * dome_shift + jit (S, 0.3 * S->pitch_l);
  double dz_right = (14.0 + jit (S, 8)) * s;
  for (int side = -1; side <= 1; side += 2)
    {
      double z = side > 0 ? zl - dz_right : zl;
      V3 sp = spine_point (S, z);
      double g = f * jfac (S, 0.05);
      double r[3] = { 54 * s * g, 26 * s * g, 21 * s * g };
      V3 c = v3 (sp.x + side * (50.0 + jit (S, 5)) * s, sp.y + (4.0 + jit (S, 5)) * s, z);
      /* long axis: upper pole medial and posterior */
      V3 ax = vnorm (v3 (-side * (0.22 + jit (S, 0.06)), -0.18 + jit (S, 0.06), 1));
      /* second axis: towards the hilum, medial and turned anteriorly */
      double turn = (35.0 + jit (S, 8)) * G_PI / 180.0;
      V3 hint = v3 (-side * cos (turn), sin (turn), 0);
      V3 e0, e1, e2;
      frame_from (ax, hint, &e0, &e1, &e2);
      add_sq (o, S, c, e0, e1, e2, r, 0.05, 0.3, 0.04, CLIP_BELOW_DIA, 3.0 * s, 0);
    }
}

static void
build_muscles (Subject *S, Organ *o)
{
  double s = S->s, f = jfac (S, 0.1);
  for (int side = -1; side <= 1; side += 2)
    {
      double g = f * jfac (S, 0.04);
      Prim *p = organ_add (o, P_MUSCLE);
      p->u.mu.side = side;
      p->u.mu.z_top = (float) (S->ztop + 60 * s);
      p->u.mu.off_t[0] = (float) (29 * s);
      p->u.mu.off_t[1] = (float) (55 * s);
      p->u.mu.off_l[0] = (float) (33 * s);
      p->u.mu.off_l[1] = (float) (52 * s);
      p->u.mu.r_t[0] = (float) (19 * s * g);
      p->u.mu.r_t[1] = (float) (16 * s * g);
      p->u.mu.r_l[0] = (float) (26 * s * g);
      p->u.mu.r_l[1] = (float) (22 * s * g);
      double x = S->offx + side * 32 * s;
      set_bb (p, x - 45 * s, x + 45 * s, S->y0 - 130 * s, S->y0 + 10 * s,
              -1e4, S->ztop + 60 * s);
    }
}

/* ------------------------------------------------------------------------- */
/* Warp                                                                       */

static void
painter_warp (Painter *P, Subject *S)
{
  P->n_warp = 3;
  int dims[3] = { P->nx, P->ny, P->nz };
  float amp_total = (float) (S->var * (2.0 + 3.0 * rng_uniform (&S->rng)) * S->s);
  P->warp_max = 0;
  for (int c = 0; c < 3; c++)
    {
      float sum = 0;
      for (int m = 0; m < P->n_warp; m++)
        {
          float *tabs[3];
          for (int a = 0; a < 3; a++)
            {
              double wl = 250.0 + 350.0 * rng_uniform (&S->rng);
              double ph = 2 * G_PI * rng_uniform (&S->rng);
              float *t = g_new (float, dims[a]);
              for (int i = 0; i < dims[a]; i++)
                t[i] = (float) sin (2 * G_PI * (P->org[a] + i * P->sp[a]) / wl + ph);
              tabs[a] = t;
            }
          P->wx[c][m] = tabs[0];
          P->wy[c][m] = tabs[1];
          P->wz[c][m] = tabs[2];
          P->warp_amp[c][m] = amp_total * (float) (0.5 + 0.5 * rng_uniform (&S->rng));
          sum += fabsf (P->warp_amp[c][m]);
        }
      P->warp_max = MAX (P->warp_max, sum);
    }
}

static void
painter_clear (Painter *P)
{
  for (int c = 0; c < 3; c++)
    for (int m = 0; m < P->n_warp; m++)
      {
        g_free (P->wx[c][m]);
        g_free (P->wy[c][m]);
        g_free (P->wz[c][m]);
      }
}

/* ------------------------------------------------------------------------- */
/* Connectivity                                                               */

/* Keep the largest 6-connected component of @label; for the paired organs
 * (lung, kidney, autochthon) the largest on each side of @mid_x (world x of
 * the midline), judged by component centroid.  Spine and rib cage are left
 * alone.  lab is (nz, ny, nx). */
static void
keep_main_components (uint8_t *lab, int nx, int ny, int nz, const float org[3],
                      const float sp[3], float mid_x, uint8_t label)
{
  if (label == LT_SPINE || label == LT_RIB_CAGE)
    return;
  size_t n = (size_t) nx * ny * nz;
  int32_t *comp = g_new0 (int32_t, n);
  GArray *queue = g_array_new (FALSE, FALSE, sizeof (guint32));
  GArray *sizes = g_array_new (FALSE, FALSE, sizeof (gint64));
  GArray *labels = g_array_new (FALSE, FALSE, sizeof (uint8_t));
  GArray *sides = g_array_new (FALSE, FALSE, sizeof (int8_t));
  gint64 zero = 0;
  uint8_t z8 = 0;
  int8_t s8 = 0;

  /* component 0 = none */
  g_array_append_val (sizes, zero);
  g_array_append_val (labels, z8);
  g_array_append_val (sides, s8);

  for (size_t v = 0; v < n; v++)
    {
      uint8_t l = lab[v];
      if (l != label || comp[v] != 0)
        continue;
      int32_t id = (int32_t) sizes->len;
      gint64 count = 0;
      double sum_x = 0;
      g_array_set_size (queue, 0);
      guint32 v32 = (guint32) v;
      g_array_append_val (queue, v32);
      comp[v] = id;
      for (guint q = 0; q < queue->len; q++)
        {
          guint32 w = g_array_index (queue, guint32, q);
          int i = (int) (w % nx), j = (int) ((w / nx) % ny), k = (int) (w / ((size_t) nx * ny));
          count++;
          sum_x += i;
          guint32 nb[6];
          int m = 0;
          if (i > 0) nb[m++] = w - 1;
          if (i + 1 < nx) nb[m++] = w + 1;
          if (j > 0) nb[m++] = w - nx;
          if (j + 1 < ny) nb[m++] = w + nx;
          if (k > 0) nb[m++] = w - (guint32) (nx * ny);
          if (k + 1 < nz) nb[m++] = w + (guint32) (nx * ny);
          for (int a = 0; a < m; a++)
            if (lab[nb[a]] == l && comp[nb[a]] == 0)
              {
                comp[nb[a]] = id;
                g_array_append_val (queue, nb[a]);
              }
        }
      int8_t side = (org[0] + sp[0] * (sum_x / count)) >= mid_x ? 1 : 0;
      g_array_append_val (sizes, count);
      g_array_append_val (labels, l);
      g_array_append_val (sides, side);
    }

  /* best component per (label, side) */
  gint64 best_size[LT_N_CLASSES][2];
  int32_t best_id[LT_N_CLASSES][2];
  memset (best_size, 0, sizeof best_size);
  memset (best_id, 0, sizeof best_id);
  for (guint c = 1; c < sizes->len; c++)
    {
      uint8_t l = g_array_index (labels, uint8_t, c);
      gboolean paired = l == LT_LUNG || l == LT_KIDNEY || l == LT_AUTOCHTHON;
      int sd = paired ? g_array_index (sides, int8_t, c) : 0;
      gint64 sz = g_array_index (sizes, gint64, c);
      if (l < LT_N_CLASSES && sz > best_size[l][sd])
        {
          best_size[l][sd] = sz;
          best_id[l][sd] = (int32_t) c;
        }
    }
  for (size_t v = 0; v < n; v++)
    {
      int32_t c = comp[v];
      if (c == 0)
        continue;
      uint8_t l = lab[v];
      if (c != best_id[l][0] && c != best_id[l][1])
        lab[v] = 0;
    }
  g_array_unref (queue);
  g_array_unref (sizes);
  g_array_unref (labels);
  g_array_unref (sides);
  g_free (comp);
}

/* ------------------------------------------------------------------------- */
/* Public API                                                                 */

void
phantom_params_init (PhantomParams *p)
{
  memset (p, 0, sizeof *p);
  p->seed = 0;
  p->grid[0] = p->grid[1] = p->grid[2] = PHANTOM_DEFAULT_GRID;
  p->variation = 1.0;
}

/* Paint an organ's voxels, keep its main component(s), then reserve its margin. */
static void
paint_organ (Painter *P, Organ *o)
{
  for (guint i = 0; i < o->prims->len; i++)
    paint_prim (P, &g_array_index (o->prims, Prim, i), o->label, 0, 0);
  keep_main_components (P->lab, P->nx, P->ny, P->nz, P->org, P->sp, (float) P->S->offx, o->label);
  if (o->margin > 0)
    for (guint i = 0; i < o->prims->len; i++)
      paint_prim (P, &g_array_index (o->prims, Prim, i), o->label, 1, o->margin);
}

LabelVolume *
phantom_generate (const PhantomParams *p, GError **error)
{
  PhantomParams def;
  if (p == NULL)
    {
      phantom_params_init (&def);
      p = &def;
    }
  for (int a = 0; a < 3; a++)
    if (p->grid[a] < 8 || p->grid[a] > 1024)
      {
        g_set_error (error, PHANTOM_ERROR, PHANTOM_ERROR_INVALID,
                     "phantom: grid size %d along axis %d is outside 8..1024", p->grid[a], a);
        return NULL;
      }
  if (!(p->variation >= 0 && p->variation <= 2))
    {
      g_set_error (error, PHANTOM_ERROR, PHANTOM_ERROR_INVALID,
                   "phantom: variation %g is outside 0..2", p->variation);
      return NULL;
    }
  double sp[3];
  for (int a = 0; a < 3; a++)
    {
      sp[a] = p->spacing[a] > 0 ? p->spacing[a] : PHANTOM_DEFAULT_FOV_MM / p->grid[a];
      if (!(sp[a] >= 0.05 && sp[a] <= 50))
        {
          g_set_error (error, PHANTOM_ERROR, PHANTOM_ERROR_INVALID,
                       "phantom: spacing %g mm along axis %d is outside 0.05..50", sp[a], a);
          return NULL;
        }
    }

  g_autoptr (GError) local = NULL;
  LabelVolume *v = lv_volume_new (p->grid[0], p->grid[1], p->grid[2], sp, 1, &local);
  if (v == NULL)
    {
      g_set_error (error, PHANTOM_ERROR, PHANTOM_ERROR_MEMORY, "phantom: %s", local->message);
      return NULL;
    }
  double aff[4][4] = { { 0 } };
  for (int a = 0; a < 3; a++)
    {
      aff[a][a] = sp[a];
      aff[a][3] = -0.5 * (p->grid[a] - 1) * sp[a];
    }
  aff[3][3] = 1;
  lv_volume_set_affine (v, aff);

  Subject S;
  subject_init (&S, p);

  Painter P;
  memset (&P, 0, sizeof P);
  P.S = &S;
  P.nx = p->grid[0];
  P.ny = p->grid[1];
  P.nz = p->grid[2];
  for (int a = 0; a < 3; a++)
    {
      P.org[a] = (float) aff[a][3];
      P.sp[a] = (float) sp[a];
    }
  P.lab = v->data;
  subject_tables (&S, &P);

  /* The organs, built in a fixed order (the random stream depends on it) and
   * painted in priority order. */
  enum { O_SPINE, O_RIBS, O_AORTA, O_PA, O_HEART, O_MUSCLE, O_KIDNEY, O_PANCREAS, O_LIVER,
         O_SPLEEN, O_STOMACH, O_LUNG, O_N };
  static const struct { uint8_t label; float margin; } spec[O_N] = {
    [O_SPINE] = { LT_SPINE, 1.5f }, [O_RIBS] = { LT_RIB_CAGE, 1.5f },
    [O_AORTA] = { LT_AORTA, 1.0f }, [O_PA] = { LT_PULMONARY_ARTERY, 1.0f },
    [O_HEART] = { LT_HEART, 2.5f }, [O_MUSCLE] = { LT_AUTOCHTHON, 0.0f },
    [O_KIDNEY] = { LT_KIDNEY, 2.5f }, [O_LIVER] = { LT_LIVER, 2.5f },
    [O_SPLEEN] = { LT_SPLEEN, 2.5f }, [O_PANCREAS] = { LT_PANCREAS, 2.0f },
    [O_STOMACH] = { LT_STOMACH, 2.0f }, [O_LUNG] = { LT_LUNG, 0.0f },
  };
  Organ org[O_N];
  for (int i = 0; i < O_N; i++)
    {
      org[i].prims = g_array_new (FALSE, TRUE, sizeof (Prim));
      org[i].label = spec[i].label;
      org[i].margin = spec[i].margin * (float) S.s;
    }
  SternumLevels sl;
  HeartInfo hi;
  build_spine (&S, &org[O_SPINE]);
  build_ribs (&S, &org[O_RIBS], &sl);
  build_diaphragm (&S);
  /* diaphragm as floats for the painter */
  P.cx0 = (float) S.cx0; P.cy0 = (float) S.cy0;
  P.ia0 = (float) (1.0 / S.a0); P.ib0 = (float) (1.0 / S.b0);
  P.zr = (float) S.zr; P.zl = (float) S.zl_dome;
  P.d_r = (float) S.d_r; P.d_l = (float) S.d_l; P.d_ap = (float) S.d_ap; P.d_post = (float) S.d_post;
  P.u_r = (float) S.u_r; P.u_l = (float) S.u_l; P.v_r = (float) S.v_r; P.v_l = (float) S.v_l;
  build_heart (&S, &org[O_HEART], &hi);
  build_aorta (&S, &org[O_AORTA], &hi);
  build_pulmonary (&S, &org[O_PA], &hi);
  build_lungs (&S, &org[O_LUNG], &hi);
  build_liver (&S, &org[O_LIVER]);
  build_spleen (&S, &org[O_SPLEEN]);
  build_stomach (&S, &org[O_STOMACH]);
  build_pancreas (&S, &org[O_PANCREAS]);
  build_kidneys (&S, &org[O_KIDNEY]);
  build_muscles (&S, &org[O_MUSCLE]);
  painter_warp (&P, &S);

  for (int i = 0; i < O_N; i++)
    paint_organ (&P, &org[i]);

  uint8_t *lab = v->data;
  size_t n = (size_t) P.nx * P.ny * P.nz;
  for (size_t i = 0; i < n; i++)
    if (lab[i] == RESERVED)
      lab[i] = 0;

  for (int i = 0; i < O_N; i++)
    g_array_unref (org[i].prims);
  painter_clear (&P);
  subject_clear (&S);
  return v;
}

guint32
phantom_labels_present (const LabelVolume *v)
{
  guint32 mask = 0;
  int64_t n = lv_volume_n_voxels (v);
  if (v->bytes_per_voxel == 1)
    {
      const uint8_t *d = v->data;
      gboolean seen[256] = { FALSE };
      for (int64_t i = 0; i < n; i++)
        seen[d[i]] = TRUE;
      for (int l = 1; l < 32; l++)
        if (seen[l])
          mask |= 1u << l;
      return mask;
    }
  for (int64_t i = 0; i < n; i++)
    {
      int32_t l = lv_volume_get_index (v, i);
      if (l >= 1 && l < 32)
        mask |= 1u << l;
    }
  return mask;
}

guint32
phantom_draw_removal (guint32 present_mask, guint64 seed)
{
  int cand[32], n = 0;
  for (int l = 1; l < 32; l++)
    if ((present_mask & PHANTOM_SOFT_ORGANS_MASK) & (1u << l))
      cand[n++] = l;
  if (n == 0)
    return 0;
  Rng r;
  rng_seed (&r, seed);
  int kmax = MAX (1, MIN (PHANTOM_MAX_REMOVED, n - 1));
  int k = 1 + (int) (rng_next (&r) % (guint64) kmax);
  guint32 mask = 0;
  for (int i = 0; i < k; i++)
    {
      int j = i + (int) (rng_next (&r) % (guint64) (n - i));
      int t = cand[i];
      cand[i] = cand[j];
      cand[j] = t;
      mask |= 1u << cand[i];
    }
  return mask;
}

LabelVolume *
phantom_remove_labels (const LabelVolume *complete, guint32 mask, GError **error)
{
  g_return_val_if_fail (complete != NULL, NULL);
  LabelVolume *out = lv_volume_dup (complete);
  if (out == NULL)
    {
      g_set_error (error, PHANTOM_ERROR, PHANTOM_ERROR_MEMORY,
                   "phantom: cannot allocate a partial volume");
      return NULL;
    }
  int64_t n = lv_volume_n_voxels (out);
  for (int64_t i = 0; i < n; i++)
    {
      int32_t l = lv_volume_get_index (out, i);
      if (l >= 1 && l < 32 && (mask & (1u << l)))
        lv_volume_set_index (out, i, 0);
    }
  return out;
}

LabelVolume *
phantom_make_partial (const LabelVolume *complete, guint64 seed, guint32 *removed_mask_out,
                      GError **error)
{
  g_return_val_if_fail (complete != NULL, NULL);
  guint32 mask = phantom_draw_removal (phantom_labels_present (complete), seed);
  LabelVolume *out = phantom_remove_labels (complete, mask, error);
  if (out != NULL && removed_mask_out != NULL)
    *removed_mask_out = mask;
  return out;
}
