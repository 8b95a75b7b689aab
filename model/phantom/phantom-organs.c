/* phantom-organs.c: the organs' shapes.
 *
 * The primitive builders (capsules, Catmull-Rom tubes, tapered and bent noisy
 * ellipsoids) and one builder per soft organ: heart, great vessels, lungs,
 * liver, spleen, stomach, pancreas, kidneys and the autochthon muscles, each
 * placed relative to the skeleton, the diaphragm and the organs built before it.
 */
#include "phantom-private.h"

#include <string.h>

Prim *
ph_organ_add (Organ *o, PrimKind kind)
{
  Prim p;
  memset (&p, 0, sizeof p);
  p.kind = kind;
  g_array_append_val (o->prims, p);
  return &g_array_index (o->prims, Prim, o->prims->len - 1);
}

void
ph_set_bb (Prim *p, double x0, double x1, double y0, double y1, double z0, double z1)
{
  p->bb[0] = (float) x0; p->bb[1] = (float) x1;
  p->bb[2] = (float) y0; p->bb[3] = (float) y1;
  p->bb[4] = (float) z0; p->bb[5] = (float) z1;
}

void
ph_add_capsule (Organ *o, V3 a, V3 b, double ra, double rb, int clip, double gap, double inset)
{
  Prim *p = ph_organ_add (o, P_CAPSULE);
  p->u.cap.a[0] = (float) a.x; p->u.cap.a[1] = (float) a.y; p->u.cap.a[2] = (float) a.z;
  p->u.cap.b[0] = (float) b.x; p->u.cap.b[1] = (float) b.y; p->u.cap.b[2] = (float) b.z;
  p->u.cap.ra = (float) ra;
  p->u.cap.rb = (float) rb;
  p->clip = clip;
  p->clip_gap = (float) gap;
  p->wall_inset = (float) inset;
  double r = MAX (ra, rb);
  ph_set_bb (p, MIN (a.x, b.x) - r, MAX (a.x, b.x) + r, MIN (a.y, b.y) - r, MAX (a.y, b.y) + r,
          MIN (a.z, b.z) - r, MAX (a.z, b.z) + r);
}

/* A tube along the Catmull-Rom spline through @pts with radii @rad. */
void
ph_add_tube (Organ *o, const V3 *pts, const double *rad, int n, int clip, double gap, double inset)
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
          ph_add_capsule (o, prev, q, prev_r, r, clip, gap, inset);
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
  Prim *p = ph_organ_add (o, P_SQ);
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
  ph_set_bb (p, c.x - ext[0], c.x + ext[0], c.y - ext[1], c.y + ext[1], c.z - ext[2], c.z + ext[2]);
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



void
ph_build_heart (Subject *S, Organ *o, HeartInfo *hi)
{
  double s = S->s, f = jfac (S, 0.06);
  double r[3] = { 66 * s * f * jfac (S, 0.05), 52.5 * s * f, 42.5 * s * f * jfac (S, 0.06) };
  V3 axis = vnorm (v3 (-0.58 + jit (S, 0.1), 0.5 + jit (S, 0.1), -0.45 + jit (S, 0.1)));
  V3 e0, e1, e2;
  frame_from (axis, v3 (0, 0, 1), &e0, &e1, &e2);
  double roll = jit (S, 0.25);
  e1 = vrot (e1, e0, roll);
  e2 = vrot (e2, e0, roll);
  double hx = S->cx0 - (20.0 + jit (S, 4)) * s;
  double hy = S->cy0 + (0.26 + jit (S, 0.05)) * S->b0;
  double ext_z = sqrt (pow (r[0] * e0.z, 2) + pow (r[1] * e1.z, 2) + pow (r[2] * e2.z, 2));
  double hz = ph_diaphragm_z (S, hx, hy) + 0.78 * ext_z + jit (S, 5);
  V3 c = v3 (hx, hy, hz);
  add_sq (o, S, c, e0, e1, e2, r, 0.22, 0.0, 0.05, CLIP_ABOVE_DIA | CLIP_WALL, 3.0, 8 * s);
  hi->h = c;
  hi->axis = e0;
  hi->r_long = r[0];
}

void
ph_build_aorta (Subject *S, Organ *o, const HeartInfo *hi)
{
  double s = S->s, f = jfac (S, 0.09);
  V3 pts[16];
  double rad[16];
  int n = 0;
  double z_arch = ph_level_z (S, T_ (3) + 0.8) + jit (S, 8);
  V3 sa = ph_spine_point (S, z_arch);
  V3 root = vadd (vsub (hi->h, vscale (hi->axis, 0.5 * hi->r_long)), v3 (4 * s, 0, 0));
  double y_asc = sa.y + (80.0 + jit (S, 6)) * s, x_asc = sa.x + (20.0 + jit (S, 5)) * s;

  pts[n] = root; rad[n++] = 14 * s * f;
  pts[n] = v3 ((root.x + x_asc) / 2 + 4 * s, (root.y + y_asc) / 2 + 3 * s, root.z + 0.35 * (z_arch - root.z));
  rad[n++] = 15.5 * s * f;
  pts[n] = v3 (x_asc, y_asc - 4 * s, z_arch - 22 * s); rad[n++] = 15 * s * f;
  pts[n] = v3 (sa.x + 2 * s, (y_asc + sa.y) / 2 + 14 * s, z_arch + 4 * s); rad[n++] = 13.5 * s * f;
  pts[n] = v3 (sa.x - 18 * s, sa.y + 22 * s, z_arch - 14 * s); rad[n++] = 12.5 * s * f;
  double dx = (21.0 + jit (S, 3)) * s, dy = (19.0 + jit (S, 3)) * s;
  static const double lev[] = { T_ (5), T_ (7), T_ (9), T_ (11) };
  for (int i = 0; i < 4; i++)
    {
      V3 c = ph_spine_point (S, ph_level_z (S, lev[i]));
      /* moving forwards as it descends towards the hiatus */
      pts[n] = v3 (c.x - dx, c.y + dy * (1 + 0.15 * i), c.z); rad[n++] = (12.3 - 0.3 * i) * s * f;
    }
  static const double lev2[] = { T_ (12) + 0.5, L_ (1) + 0.5, L_ (3), L_ (5) + 1.5 };
  for (int i = 0; i < 4; i++)
    {
      V3 c = ph_spine_point (S, ph_level_z (S, lev2[i]));
      double ay = 12.0 + 0.35 * (lev2[i] - FIRST_T);
      pts[n] = v3 (c.x - (8 - i) * s, c.y + (ay + 17) * s, c.z); rad[n++] = (10.0 - 0.3 * i) * s * f;
    }
  ph_add_tube (o, pts, rad, n, 0, 0, 0);
}

void
ph_build_pulmonary (Subject *S, Organ *o, const HeartInfo *hi)
{
  double s = S->s, f = jfac (S, 0.1);
  V3 h = hi->h;
  V3 start = vadd (vsub (h, vscale (hi->axis, 0.2 * hi->r_long)), v3 (-6 * s, 20 * s, 22 * s));
  double zb = ph_level_z (S, T_ (5) + 0.6) + jit (S, 6);
  V3 sb = ph_spine_point (S, zb);
  V3 bif = v3 (sb.x - (8.0 + jit (S, 4)) * s, sb.y + (50.0 + jit (S, 4)) * s, zb);
  V3 mid = v3 ((start.x + bif.x) / 2 - 6 * s, (start.y + bif.y) / 2 + 6 * s, (start.z + bif.z) / 2);
  {
    V3 p[3] = { start, mid, bif };
    double r[3] = { 13.5 * s * f, 13 * s * f, 12 * s * f };
    ph_add_tube (o, p, r, 3, 0, 0, 0);
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
      ph_add_tube (o, p, r, 4, 0, 0, 0);
      /* lobar branches: up, down, and on the right a middle one forward */
      V3 up = vadd (hil, v3 (side * 14 * s, 4 * s, (38.0 + jit (S, 6)) * s));
      V3 dn = vadd (hil, v3 (side * 16 * s, -14 * s, -(52.0 + jit (S, 8)) * s));
      V3 q1[3] = { hil, vadd (hil, v3 (side * 8 * s, 2 * s, 16 * s)), up };
      V3 q2[3] = { hil, vadd (hil, v3 (side * 10 * s, -6 * s, -22 * s)), dn };
      double rb[3] = { rr * 0.75, rr * 0.6, rr * 0.45 };
      ph_add_tube (o, q1, rb, 3, 0, 0, 0);
      ph_add_tube (o, q2, rb, 3, 0, 0, 0);
      if (side > 0)
        {
          V3 md = vadd (hil, v3 (20 * s, 26 * s, -18 * s));
          V3 q3[2] = { hil, md };
          double r3[2] = { rr * 0.6, rr * 0.45 };
          ph_add_tube (o, q3, r3, 2, 0, 0, 0);
        }
    }
}

void
ph_build_lungs (Subject *S, Organ *o, const HeartInfo *hi)
{
  double s = S->s, cx, cy, a, b;
  Prim *p = ph_organ_add (o, P_LUNGS);
  p->u.lu.mid = (float) ((8.0 + jit (S, 2)) * s);
  p->u.lu.extra = (float) ((14.0 + jit (S, 4)) * s);
  p->u.lu.z_ant = (float) (hi->h.z + 0.3 * hi->r_long);
  ph_cage_at (S, S->ztop, &cx, &cy, &a, &b);
  /* the apices reach about the level of the first thoracic vertebra's body */
  p->u.lu.z_apex = (float) (S->zc[FIRST_T] + (4.0 + jit (S, 5)) * s);
  p->u.lu.cx = (float) cx;
  p->u.lu.xa = (float) (0.45 * a);
  p->u.lu.wa = (float) (0.5 * S->amax);
  p->u.lu.ya = (float) (cy - 0.15 * b);
  p->u.lu.wb = (float) (0.9 * S->bmax);
  p->u.lu.h = (float) (35.0 * s);
  p->u.lu.ap_inset = (float) (16.0 * s);
  p->clip = CLIP_ABOVE_DIA | CLIP_WALL;
  p->clip_gap = (float) (4.0 * S->s);
  p->wall_inset = (float) (7.5 * S->s);
  double zlo = S->zr - S->d_r - S->d_ap * 1.5 - S->d_post * 1.5;
  /* inside the cage: at most amax from its centre, which follows the spine's scoliosis */
  double half_x = S->amax + 2 * fabs (S->scol_a) + 1;
  ph_set_bb (p, S->cx0 - half_x, S->cx0 + half_x, S->cy0 - 1.6 * S->bmax,
          S->cy0 + 1.6 * S->bmax, zlo, S->ztop + S->h_apex + 5);
}

void
ph_build_liver (Subject *S, Organ *o)
{
  double s = S->s;
  Prim *p = ph_organ_add (o, P_LIVER);
  p->u.li.u_tip = (float) (-0.95 + jit (S, 0.08));
  p->u.li.thick = (float) ((150.0 + jit (S, 15)) * s);
  p->u.li.v_tilt = (float) (-0.2 + jit (S, 0.06));
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
  p->wall_inset = (float) (11.0 * s);
  /* inside the cage (see the lungs) and within 0.9 b0 of the cage centre front to back */
  double half_x = S->amax + 2 * fabs (S->scol_a) + 1, half_y = 0.9 * S->b0 + 1;
  ph_set_bb (p, S->cx0 - half_x, S->cx0 + half_x, S->cy0 - half_y, S->cy0 + half_y,
          S->zr - 260 * s, S->zr + 5);
}

void
ph_build_spleen (Subject *S, Organ *o)
{
  double s = S->s, f = jfac (S, 0.12);
  double r[3] = { 76 * s * f * jfac (S, 0.06), 27 * s * f, 50 * s * f * jfac (S, 0.06) };
  V3 c = v3 (S->cx0 - (0.64 + jit (S, 0.04)) * S->a0, S->cy0 - (0.48 + jit (S, 0.06)) * S->b0,
             S->zl_dome - (48.0 + jit (S, 8)) * s);
  /* long axis along the tenth rib: from posterior-superior-medial to anterior-inferior-lateral */
  V3 ax = vnorm (v3 (-0.55 + jit (S, 0.1), 0.62 + jit (S, 0.1), -0.55 + jit (S, 0.12)));
  /* thickness axis points medially (hilum side) */
  V3 e0, e1, e2;
  frame_from (ax, v3 (1, 0.25, 0), &e0, &e1, &e2);
  add_sq (o, S, c, e0, e1, e2, r, 0.1, 0.35, 0.06, CLIP_BELOW_DIA | CLIP_WALL, 4.0 * s, 8.5 * s);
}

void
ph_build_stomach (Subject *S, Organ *o)
{
  double s = S->s, f = jfac (S, 0.15);
  double A = S->a0, B = S->b0, zl = S->zl_dome;
  V3 pts[5] = {
    v3 (S->cx0 - 0.40 * A, S->cy0 + 0.00 * B, zl - 44 * s),
    v3 (S->cx0 - 0.45 * A, S->cy0 + 0.36 * B, zl - 78 * s),
    v3 (S->cx0 - 0.28 * A, S->cy0 + 0.62 * B, zl - 110 * s),
    v3 (S->cx0 + 0.10 * A, S->cy0 + 0.68 * B, zl - 118 * s),
    v3 (S->cx0 + 0.32 * A, S->cy0 + 0.50 * B, zl - 98 * s),
  };
  double rad[5] = { 27.5 * s * f, 26 * s * f, 21.5 * s * f, 16 * s * f, 10.5 * s * f };
  double drop = jit (S, 12) * s;
  for (int i = 0; i < 5; i++)
    pts[i] = vadd (pts[i], v3 (jit (S, 7) * s, jit (S, 7) * s, jit (S, 7) * s + (i > 0 ? drop : 0)));
  ph_add_tube (o, pts, rad, 5, CLIP_BELOW_DIA | CLIP_WALL, 4.0 * s, 8.5 * s);
}

void
ph_build_pancreas (Subject *S, Organ *o)
{
  double s = S->s, f = jfac (S, 0.12);
  double zp = ph_level_z (S, L_ (1) + 0.2) + 0.5 * (S->zr - ph_level_z (S, PH_DOME_LEVEL))
              + jit (S, 0.35 * S->pitch_l);
  V3 sp = ph_spine_point (S, zp);
  V3 pts[5] = {
    v3 (sp.x + 30 * s, sp.y + 63 * s, zp - 35 * s),
    v3 (sp.x + 16 * s, sp.y + 69 * s, zp - 4 * s),
    v3 (sp.x - 8 * s, sp.y + 71 * s, zp + 4 * s),
    v3 (sp.x - 40 * s, sp.y + 61 * s, zp + 12 * s),
    v3 (S->cx0 - 0.6 * S->a0, S->cy0 - 0.18 * S->b0, zp + 30 * s),
  };
  double rad[5] = { 16 * s * f, 12 * s * f, 10.5 * s * f, 10 * s * f, 9 * s * f };
  for (int i = 0; i < 5; i++)
    pts[i] = vadd (pts[i], v3 (jit (S, 5) * s, jit (S, 5) * s, jit (S, 6) * s));
  ph_add_tube (o, pts, rad, 5, CLIP_BELOW_DIA | CLIP_WALL, 4.0 * s, 8.5 * s);
}

void
ph_build_kidneys (Subject *S, Organ *o)
{
  double s = S->s, f = jfac (S, 0.07);
  /* beside L1-L2, pushed down half as far as the diaphragm sits low */
  double dome_shift = S->zr - ph_level_z (S, PH_DOME_LEVEL);
  double zl = ph_level_z (S, L_ (1) + 0.7) + 0.5 * dome_shift + jit (S, 0.3 * S->pitch_l);
  double dz_right = (5.0 + jit (S, 10)) * s;
  for (int side = -1; side <= 1; side += 2)
    {
      double z = side > 0 ? zl - dz_right : zl;
      V3 sp = ph_spine_point (S, z);
      double g = f * jfac (S, 0.05);
      double r[3] = { 54 * s * g, 28 * s * g, 22.5 * s * g };
      V3 c = v3 (sp.x + side * (68.0 + jit (S, 6)) * s, sp.y + (-4.0 + jit (S, 5)) * s, z);
      /* long axis: upper pole medial and posterior */
      V3 ax = vnorm (v3 (-side * (0.32 + jit (S, 0.07)), -0.26 + jit (S, 0.07), 1));
      /* second axis: towards the hilum, medial and turned anteriorly */
      double turn = (35.0 + jit (S, 8)) * G_PI / 180.0;
      V3 hint = v3 (-side * cos (turn), sin (turn), 0);
      V3 e0, e1, e2;
      frame_from (ax, hint, &e0, &e1, &e2);
      add_sq (o, S, c, e0, e1, e2, r, 0.05, 0.3, 0.04, CLIP_BELOW_DIA, 3.0 * s, 0);
    }
}

void
ph_build_muscles (Subject *S, Organ *o)
{
  double s = S->s, f = jfac (S, 0.1);
  for (int side = -1; side <= 1; side += 2)
    {
      double g = f * jfac (S, 0.04);
      Prim *p = ph_organ_add (o, P_MUSCLE);
      p->u.mu.side = side;
      p->u.mu.z_top = (float) (S->ztop + 60 * s);
      p->u.mu.off_t[0] = (float) (21 * s);
      p->u.mu.off_t[1] = (float) (42 * s);
      p->u.mu.off_l[0] = (float) (39 * s);
      p->u.mu.off_l[1] = (float) (50 * s);
      p->u.mu.r_t[0] = (float) (13 * s * g);
      p->u.mu.r_t[1] = (float) (11 * s * g);
      p->u.mu.r_l[0] = (float) (29 * s * g);
      p->u.mu.r_l[1] = (float) (21 * s * g);
      double x = S->offx + side * 32 * s;
      ph_set_bb (p, x - 45 * s, x + 45 * s, S->y0 - 130 * s, S->y0 + 10 * s,
              -1e4, S->ztop + 60 * s);
    }
}
