/* phantom-skeleton.c: a subject's parameters and skeleton.
 *
 * Draws the body's size and proportions from the subject's random stream, the
 * spine curve (kyphosis, lordosis, a little scoliosis) with its vertebra
 * levels, the rib cage's profile along z, and builds the primitives of the
 * spine (bodies, arches, processes), the ribs with their cartilages and the
 * sternum, and the two diaphragm domes that the organs are placed against.
 */
#include "phantom-private.h"

#include <string.h>

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
  /* a cone more than a barrel: narrow at the first ribs, widest and deepest at the lower
   * ribs (u = 0.95, about T12), the depth growing to the last (the anterior chest wall
   * slopes forwards going down); the abdomen below narrows a little */
  if (u < 0.95)
    {
      double t = 1 - u / 0.95;
      fa = 1 - 0.55 * t * t;
      fb = 1 - 0.62 * t * t;
    }
  else
    {
      fa = 1 - 0.06 * CLAMP ((u - 0.95) / 0.3, 0.0, 1.0) - 0.08 * CLAMP ((u - 1.0) / 0.5, 0.0, 1.0);
      fb = 1 - 0.05 * CLAMP ((u - 1.0) / 0.5, 0.0, 1.0);
    }
  *a = S->amax * fa * cap;
  *b = S->bmax * fb * cap;
}

void
ph_cage_at (const Subject *S, double z, double *cx, double *cy, double *a, double *b)
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
  ph_cage_at (S, z, &cx, &cy, &a, &b);
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
double
ph_diaphragm_z (const Subject *S, double x, double y)
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

V3
ph_spine_point (const Subject *S, double z)
{
  return v3 (spine_x (S, z), spine_y (S, z), z);
}

void
ph_subject_init (Subject *S, const PhantomParams *p)
{
  memset (S, 0, sizeof *S);
  rng_seed (&S->rng, p->seed);
  S->var = p->variation;

  double s = S->s = jfac (S, 0.05);
  double wx = jfac (S, 0.05), wy = jfac (S, 0.06), hz = jfac (S, 0.04);

  /* mean pitch (vertebral body + disc) of the thoracic and of the lumbar vertebrae */
  S->pitch_t = 23.0 * s * hz * jfac (S, 0.02);
  S->pitch_l = 32.5 * s * hz * jfac (S, 0.03);
  /* thoracic pitches grow caudally, from 0.78 (T1) to 1.22 (T12) of their mean, as in
   * real spines (centre distances about 19 mm at T1-T2, 30 mm at T11-T12) */
  double pitch[N_VERT];
  for (int i = FIRST_T; i < N_VERT; i++)
    pitch[i] = i < FIRST_L ? S->pitch_t * (0.78 + 0.04 * (i - FIRST_T)) : S->pitch_l;
  /* anchored at the T10 centre, so bigger bodies grow both ways out of the field of view */
  double above_t10 = 0.5 * pitch[T_ (10)];
  for (int i = FIRST_T; i < T_ (10); i++)
    above_t10 += pitch[i];
  S->ztop = -38.0 + above_t10 + jit (S, 8);
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
      S->zc[i] = z - 0.5 * pitch[i];
      S->hh[i] = 0.5 * pitch[i] - (i < FIRST_L ? 2.6 : 4.5) * s;
      z -= pitch[i];
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

  S->amax = 142.0 * s * wx * jfac (S, 0.03);
  S->bmax = 114.0 * s * wy * jfac (S, 0.04);
  S->post = 45.0 * s;
  S->h_apex = 60.0 * s;
}

void
ph_subject_tables (Subject *S, const Painter *P)
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
      ph_cage_at (S, z, &cx, &cy, &a, &b);
      S->t_sx[i] = (float) spine_x (S, z);
      S->t_sy[i] = (float) spine_y (S, z);
      S->t_cx[i] = (float) cx;
      S->t_cy[i] = (float) cy;
      S->t_a[i] = (float) a;
      S->t_b[i] = (float) b;
    }
}

void
ph_subject_clear (Subject *S)
{
  g_free (S->t_sx);
  g_free (S->t_sy);
  g_free (S->t_cx);
  g_free (S->t_cy);
  g_free (S->t_a);
  g_free (S->t_b);
}

/* z of vertebra index @f (fractional: 3.5 = between T1 and T2 centres). */
double
ph_level_z (const Subject *S, double f)
{
  int i = CLAMP ((int) floor (f), 0, N_VERT - 2);
  double w = f - i;
  return S->zc[i] + w * (S->zc[i + 1] - S->zc[i]);
}

void
ph_build_spine (Subject *S, Organ *o)
{
  double s = S->s;
  for (int i = 0; i < N_VERT; i++)
    {
      double z = S->zc[i];
      V3 c = ph_spine_point (S, z), t = spine_tangent (S, z);
      V3 ex = vnorm (vsub (v3 (1, 0, 0), vscale (t, t.x)));
      V3 ey = vcross (t, ex);
      gboolean lumbar = i >= FIRST_L, cerv = i < FIRST_T;
      double ax = s * (cerv ? 11.0 + i : 15.0 + 0.6 * (i - FIRST_T)) * (1 + jit (S, 0.03));
      double ay = s * (cerv ? 8.5 + 0.8 * i : 12.0 + 0.35 * (i - FIRST_T)) * (1 + jit (S, 0.03));
      double hh = S->hh[i];

      Prim *p = ph_organ_add (o, P_VBODY);
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
      ph_set_bb (p, c.x - r, c.x + r, c.y - r, c.y + r, c.z - r, c.z + r);

      /* arch around the canal */
      double rin = s * (cerv ? 6.5 : 7.0), rout = s * (cerv ? 11.0 : lumbar ? 16.5 : 12.5);
      V3 cc = vsub (c, vscale (ey, ay + rin + 1.0 * s));
      p = ph_organ_add (o, P_VRING);
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
      p->u.vr.hh = (float) (hh * 0.85);
      r = rout + hh;
      ph_set_bb (p, cc.x - r, cc.x + r, cc.y - r, cc.y + r, cc.z - r, cc.z + r);

      /* spinous process: down and back in the thorax, straight back in the loins, where it
       * is a tall plate (three capsules one above the other) */
      double sp_len = s * (cerv ? 22 : lumbar ? 35 : 30), sp_down = s * (cerv ? 6 : lumbar ? 4 : 16);
      double sp_r = s * (lumbar ? 5.0 : 3.8);
      for (int layer = lumbar ? -1 : 0; layer <= (lumbar ? 1 : 0); layer++)
        {
          V3 up = vscale (t, layer * 7.0 * s);
          V3 a0 = vadd (vsub (cc, vscale (ey, rin + 2 * s)), up);
          V3 a1 = vadd (vsub (vsub (cc, vscale (ey, sp_len)), vscale (t, sp_down)), up);
          ph_add_capsule (o, a0, a1, sp_r, sp_r * 0.8, 0, 0, 0);
        }

      /* transverse processes (flat plates in the loins: two capsules one above the other) */
      for (int side = -1; side <= 1; side += 2)
        for (int layer = lumbar ? -1 : 0; layer <= (lumbar ? 1 : 0); layer += 2)
          {
            double len = s * (cerv ? 20 : lumbar ? 38 : 26);
            V3 up = vscale (t, layer * 3.5 * s);
            V3 b0 = vadd (vadd (cc, vscale (ex, side * (rin + 1 * s))), up);
            V3 b1 = vadd (vadd (cc, vscale (ex, side * len)),
                          vscale (ey, lumbar ? 2 * s : -5 * s));
            b1 = vadd (vadd (b1, vscale (t, lumbar ? 0 : 2 * s)), up);
            ph_add_capsule (o, b0, b1, s * (lumbar ? 3.6 : 4.2), s * (lumbar ? 3.2 : 4.5), 0, 0, 0);
          }
    }
}

void
ph_build_ribs (Subject *S, Organ *o, SternumLevels *sl)
{
  double s = S->s;
  static const double phi_end_deg[12] = { 55, 58, 60, 62, 62, 60, 58, 40, 28, 15, -15, -38 };
  double drop_f = jfac (S, 0.08);
  double phi0 = -78.0 * G_PI / 180.0;
  double rr = 4.3 * s, rc = 3.6 * s;

  sl->z_st_top = ph_level_z (S, T_ (2) + 0.6) + jit (S, 5);
  sl->z_sa = ph_level_z (S, T_ (4) + 0.6) + jit (S, 5);
  sl->z_xs = ph_level_z (S, T_ (9)) + jit (S, 6);
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
          V3 c = ph_spine_point (S, zp);
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
          ph_add_tube (o, pts, rad, n, 0, 0, 0);

          /* costal cartilage: ribs 1-7 to the sternum, 8-10 forwards and up towards the
           * cartilage above (the costal margin) */
          if (r < 10)
            {
              static const double phi_margin_deg[3] = { 74, 64, 52 };
              double phi_st = (r < 7 ? 82.0 : phi_margin_deg[r - 7]) * G_PI / 180.0;
              double z_to = r < 7 ? z_att : zend + (1.0 + 0.15 * (r - 7)) * S->pitch_t;
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
              ph_add_tube (o, cp, cr, m, 0, 0, 0);
            }
        }
    }

  /* sternum: manubrium, body, xiphoid (folded into the rib cage label) */
  Prim *p = ph_organ_add (o, P_STERNUM);
  p->u.st.z0 = (float) sl->z_tip;
  p->u.st.z1 = (float) sl->z_st_top;
  p->u.st.zsa = (float) sl->z_sa;
  p->u.st.w_top = (float) (26 * s);
  p->u.st.w_body = (float) (15 * s * jfac (S, 0.08));
  p->u.st.w_tip = (float) (7 * s);
  p->u.st.th = (float) (5.5 * s);
  double cx, cy, a, b;
  ph_cage_at (S, sl->z_sa, &cx, &cy, &a, &b);
  ph_set_bb (p, cx - 40 * s, cx + 40 * s, cy - 2 * S->bmax, cy + 2 * S->bmax,
          sl->z_tip - 10, sl->z_st_top + 10);
}

void
ph_build_diaphragm (Subject *S)
{
  double s = S->s;
  S->zr = ph_level_z (S, PH_DOME_LEVEL) + jit (S, 0.4 * S->pitch_t);
  S->zl_dome = S->zr - (14.0 + jit (S, 6)) * s;
  double cx, cy, a, b;
  ph_cage_at (S, S->zr, &cx, &cy, &a, &b);
  S->cx0 = cx;
  S->cy0 = cy;
  S->a0 = a;
  S->b0 = b;
  S->d_r = (55.0 + jit (S, 8)) * s;
  S->d_l = (55.0 + jit (S, 8)) * s;
  /* shallow in front (the lungs end near the xiphoid), deep recesses behind */
  S->d_ap = (18.0 + jit (S, 5)) * s;
  S->d_post = (70.0 + jit (S, 10)) * s;
  S->u_r = 0.42 + jit (S, 0.05);
  S->u_l = 0.45 + jit (S, 0.05);
  S->v_r = 0.1 + jit (S, 0.06);
  S->v_l = 0.0 + jit (S, 0.06);
}
