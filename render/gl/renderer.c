/* renderer.c: the GL half of the renderer (see renderer.h); the meshes it draws are
 * built in render-mesh.c. */
#include "renderer-private.h"

#include <epoxy/gl.h>
#include <math.h>
#include <string.h>

G_DEFINE_QUARK (ar-renderer-error-quark, ar_renderer_error)

/* ------------------------------------------------------------------------ */
/* GL side */

/* The composite programs (see comp_fs). */
enum { COMP_PLAIN, COMP_SCALED, COMP_SMOOTH, N_COMP };

typedef struct {
  ArRenderMesh *mesh;
  guint index;              /* in ArRenderer.meshes */
  gboolean uploaded;
  GLuint vao, vbo, vbo_values, ebo;
  /* the EBO holds the full triangles, then every simplified level: level k starts at
   * index offset[k] (in guint32 units) */
  gsize offset[AR_RENDER_MESH_MAX_LOD + 1];
} GpuMesh;

struct _ArRenderer {
  GPtrArray *meshes;        /* GpuMesh*, owned */
  GArray *order;            /* DrawOrder: the meshes nearest first, for the last draw */
  GHashTable *by_label;     /* label -> GpuMesh* (borrowed): adding n meshes is O(n), not O(n²) */
  GArray *garbage;          /* GLuint names: vao, vbo, ebo, values vbo (or 0) per dead mesh */
  GHashTable *styles;       /* label -> ArLabelStyle* */
  gboolean realized;
  gboolean interactive;
  guint64 budget;           /* triangles allowed while interactive (0: level 1) */
  float drag_scale;         /* resolution scale while interactive (1: full) */
  int level;                /* level of detail of the last draw */
  int samples_wanted, samples;
  gboolean smooth_edges;    /* 1 sample and edge smoothing in the composite (software GL) */
  float bg_top[3], bg_bottom[3];
  guint64 last_triangles;

  GLuint prog_mesh, prog_comp[N_COMP];
  GLint u_mv, u_proj, u_nmat, u_color, u_base, u_highlight, u_by_value;
  GLint u_bg_top[N_COMP], u_bg_bottom[N_COMP], u_tex0[N_COMP];
  GLuint vao_empty;

  int fb_w, fb_h, fb_samples;   /* size and sample count of the framebuffers below */
  GLuint ms_fbo, ms_color, ms_depth;           /* the passes (into res_color at 1 sample) */
  GLuint res_fbo, res_color;                   /* resolved */
};

typedef struct {
  float depth;              /* view-space z of the mesh's box centre (larger: nearer) */
  guint index;
} DrawOrder;

static void
gpu_mesh_free (gpointer p)
{
  GpuMesh *g = p;
  ar_render_mesh_unref (g->mesh);
  g_free (g);
}

ArRenderer *
ar_renderer_new (void)
{
  ArRenderer *r = g_new0 (ArRenderer, 1);
  r->meshes = g_ptr_array_new_with_free_func (gpu_mesh_free);
  r->order = g_array_new (FALSE, FALSE, sizeof (DrawOrder));
  r->by_label = g_hash_table_new (g_direct_hash, g_direct_equal);
  r->garbage = g_array_new (FALSE, FALSE, sizeof (GLuint));
  r->styles = g_hash_table_new_full (g_direct_hash, g_direct_equal, NULL, g_free);
  r->samples_wanted = 4;
  r->drag_scale = 1.f;
  const float top[3] = { 0.20f, 0.23f, 0.28f }, bottom[3] = { 0.05f, 0.06f, 0.08f };
  ar_renderer_set_background (r, top, bottom);
  return r;
}

void
ar_renderer_free (ArRenderer *r)
{
  if (!r)
    return;
  /* GL names cannot be deleted without the context; callers unrealize first. */
  g_ptr_array_unref (r->meshes);
  g_array_unref (r->order);
  g_hash_table_unref (r->by_label);
  g_array_unref (r->garbage);
  g_hash_table_unref (r->styles);
  g_free (r);
}

static void
gpu_mesh_release_gl (ArRenderer *r, GpuMesh *g)
{
  if (!g->uploaded)
    return;
  GLuint names[4] = { g->vao, g->vbo, g->ebo, g->vbo_values };
  g_array_append_vals (r->garbage, names, 4);
  g->uploaded = FALSE;
  g->vao = g->vbo = g->ebo = g->vbo_values = 0;
}

void
ar_renderer_set_mesh (ArRenderer *r, ArRenderMesh *m)
{
  GpuMesh *g = g_hash_table_lookup (r->by_label, GINT_TO_POINTER (m->label));
  ar_render_mesh_ref (m);
  if (g)
    {
      /* the label's slot is reused: its GL objects go, the new mesh is uploaded next draw */
      gpu_mesh_release_gl (r, g);
      ar_render_mesh_unref (g->mesh);
      g->mesh = m;
      return;
    }
  g = g_new0 (GpuMesh, 1);
  g->mesh = m;
  g->index = r->meshes->len;
  g_ptr_array_add (r->meshes, g);
  g_hash_table_insert (r->by_label, GINT_TO_POINTER (m->label), g);
}

void
ar_renderer_remove_mesh (ArRenderer *r, int32_t label)
{
  GpuMesh *g = g_hash_table_lookup (r->by_label, GINT_TO_POINTER (label));
  if (!g)
    return;
  guint i = g->index;
  g_hash_table_remove (r->by_label, GINT_TO_POINTER (label));
  gpu_mesh_release_gl (r, g);
  /* the last mesh takes the freed slot (each draw sorts its own order) */
  g_ptr_array_remove_index_fast (r->meshes, i);
  if (i < r->meshes->len)
    ((GpuMesh *) r->meshes->pdata[i])->index = i;
}

void
ar_renderer_clear (ArRenderer *r)
{
  for (guint i = 0; i < r->meshes->len; i++)
    gpu_mesh_release_gl (r, r->meshes->pdata[i]);
  g_hash_table_remove_all (r->by_label);
  g_ptr_array_set_size (r->meshes, 0);
}

guint
ar_renderer_get_n_meshes (const ArRenderer *r)
{
  return r->meshes->len;
}

gboolean
ar_renderer_get_bounds (const ArRenderer *r, float min[3], float max[3])
{
  gboolean any = FALSE;
  for (guint i = 0; i < r->meshes->len; i++)
    {
      const ArRenderMesh *m = ((GpuMesh *) r->meshes->pdata[i])->mesh;
      if (m->n_triangles > 0)
        mesh_bounds_add (min, max, &any, m->bmin, m->bmax);
    }
  return any;
}

void
ar_renderer_set_style (ArRenderer *r, int32_t label, const ArLabelStyle *style)
{
  g_hash_table_insert (r->styles, GINT_TO_POINTER (label), g_memdup2 (style, sizeof *style));
}

void
ar_renderer_get_style (const ArRenderer *r, int32_t label, ArLabelStyle *style)
{
  const ArLabelStyle *s = g_hash_table_lookup (r->styles, GINT_TO_POINTER (label));
  if (s)
    *style = *s;
  else
    *style = (ArLabelStyle) { { 0.8f, 0.8f, 0.8f, 1.f }, TRUE, FALSE };
}

void
ar_renderer_set_interactive (ArRenderer *r, gboolean interactive)
{
  r->interactive = interactive;
}

void
ar_renderer_set_triangle_budget (ArRenderer *r, guint64 max_triangles)
{
  r->budget = max_triangles;
}

void
ar_renderer_set_interactive_scale (ArRenderer *r, float scale)
{
  r->drag_scale = CLAMP (scale, 0.25f, 1.f);
}

int
ar_renderer_get_last_level (const ArRenderer *r)
{
  return r->level;
}

void
ar_renderer_set_background (ArRenderer *r, const float top[3], const float bottom[3])
{
  memcpy (r->bg_top, top, sizeof r->bg_top);
  memcpy (r->bg_bottom, bottom, sizeof r->bg_bottom);
}

void
ar_renderer_set_samples (ArRenderer *r, int samples)
{
  r->samples_wanted = MAX (samples, 0);
}

guint64
ar_renderer_get_last_triangles (const ArRenderer *r)
{
  return r->last_triangles;
}

gboolean
ar_renderer_is_realized (const ArRenderer *r)
{
  return r->realized;
}

/* ---- shaders ---- */

/* The surface colour in linear space: u_base (the style's colour, converted on the CPU)
 * or, with u_by_value, the value's colour converted here, per vertex rather than per
 * fragment. */
static const char mesh_vs_head[] =
  "#version 330 core\n"
  "layout(location = 0) in vec3 a_pos;\n"
  "layout(location = 1) in vec3 a_normal;\n"
  "layout(location = 2) in float a_value;\n"
  "uniform mat4 u_mv;\n"
  "uniform mat4 u_proj;\n"
  "uniform mat3 u_nmat;\n"
  "uniform int u_by_value;\n"
  "uniform vec3 u_base;\n"
  "out vec3 v_pos;\n"
  "out vec3 v_normal;\n"
  "out vec3 v_base;\n";
/* ... value_color () (ar_value_color_glsl) ... */
static const char mesh_vs_main[] =
  "void main () {\n"
  "  vec4 p = u_mv * vec4 (a_pos, 1.0);\n"
  "  v_base = u_by_value != 0 ? pow (value_color (a_value), vec3 (2.2)) : u_base;\n"
  "  v_pos = p.xyz;\n"
  "  v_normal = u_nmat * a_normal;\n"
  "  gl_Position = u_proj * p;\n"
  "}\n";

/* Lighting in linear space (v_base), view-space lights:
 * hemisphere ambient (sky above, warm ground bounce), a warm key light from the upper
 * left front, a cool fill from the right, a rim light from behind, Blinn-Phong
 * highlight of the key.  The colour goes out with the surface's alpha (1 when opaque),
 * blended over what lies behind. */
static const char mesh_fs[] =
  "#version 330 core\n"
  "in vec3 v_pos;\n"
  "in vec3 v_normal;\n"
  "in vec3 v_base;\n"
  "uniform vec4 u_color;\n"
  "uniform float u_highlight;\n"
  "layout(location = 0) out vec4 o0;\n"
  "vec3 to_srgb (vec3 c) { return pow (clamp (c, 0.0, 1.0), vec3 (1.0 / 2.2)); }\n"
  /* the powers of the lighting are products (llvmpipe computes pow () as exp2 (log2)) */
  "void main () {\n"
  "  vec3 n = normalize (v_normal);\n"
  "  vec3 v = normalize (-v_pos);\n"
  "  if (dot (n, v) < 0.0) n = -n;\n"
  "  vec3 sky = vec3 (0.30, 0.33, 0.38), ground = vec3 (0.10, 0.09, 0.08);\n"
  "  vec3 ambient = mix (ground, sky, 0.5 + 0.5 * n.y);\n"
  "  vec3 lk = normalize (vec3 (-0.45, 0.55, 0.70));\n"
  "  vec3 lf = normalize (vec3 (0.75, -0.15, 0.45));\n"
  "  vec3 lr = normalize (vec3 (0.15, 0.35, -0.90));\n"
  "  float dk = max (dot (n, lk), 0.0);\n"
  "  float df = max (dot (n, lf), 0.0);\n"
  "  float rim = 1.0 - max (dot (n, v), 0.0);\n"
  "  float fres = rim * rim * rim;\n"
  "  float dr = max (dot (n, lr), 0.0) * fres;\n"
  "  vec3 h = normalize (lk + v);\n"
  "  float nh = max (dot (n, h), 0.0), nh2 = nh * nh, nh4 = nh2 * nh2, nh8 = nh4 * nh4;\n"
  "  float nh32 = nh8 * nh8; nh32 *= nh32;\n"
  "  float hv = 1.0 - max (dot (h, v), 0.0), hv2 = hv * hv;\n"
  "  float spec = nh32 * nh8 * (0.04 + 0.96 * hv2 * hv2 * hv);\n"
  "  vec3 c = v_base * (ambient + dk * vec3 (1.05, 1.0, 0.92) * 1.15 + df * vec3 (0.55, 0.62, 0.75) * 0.45)\n"
  "         + dr * vec3 (0.75, 0.80, 0.90) * 0.9\n"
  "         + spec * vec3 (1.0) * 0.9;\n"
  "  if (u_highlight > 0.0) {\n"
  "    float glow = rim * rim * sqrt (rim);\n"
  "    c = mix (c, vec3 (1.0, 0.72, 0.18) * 1.3, u_highlight * clamp (glow * 1.2, 0.0, 0.9));\n"
  "  }\n"
  "  o0 = vec4 (to_srgb (c), u_color.a);\n"
  "}\n";

static const char comp_vs[] =
  "#version 330 core\n"
  "out vec2 v_uv;\n"
  "void main () {\n"
  "  vec2 p = vec2 (float ((gl_VertexID << 1) & 2), float (gl_VertexID & 2));\n"
  "  v_uv = p;\n"
  "  gl_Position = vec4 (p * 2.0 - 1.0, 0.0, 1.0);\n"
  "}\n";

/* The passes leave premultiplied colour over transparent black (tex0; its alpha is the
 * coverage once resolved), which goes over the background gradient here, once per output
 * pixel.  Three programs (llvmpipe runs the code after an early return for every pixel,
 * so the variants are compiled apart):
 * COMP_PLAIN  the scene at the output's size;
 * COMP_SCALED drawn at a lower resolution, read bilinearly;
 * COMP_SMOOTH one sample per pixel, and where the luma changes across the pixel's
 *             corners the colour is averaged along the edge instead (two and four
 *             bilinear taps on a line across the gradient, up to 8 pixels long; the
 *             four-tap mean unless its luma leaves the neighbourhood's range), the
 *             approach of fast approximate anti-aliasing. */
static const char comp_fs[] =
  "in vec2 v_uv;\n"
  "uniform vec3 u_bg_top;\n"
  "uniform vec3 u_bg_bottom;\n"
  "uniform sampler2D u_tex0;\n"
  "layout(location = 0) out vec4 o0;\n"
  "vec3 bg;\n"
  "vec3 at (vec2 uv) { vec4 s = texture (u_tex0, uv); return s.rgb + (1.0 - s.a) * bg; }\n"
  "float luma (vec3 c) { return dot (c, vec3 (0.299, 0.587, 0.114)); }\n"
  "void main () {\n"
  "  vec2 d = v_uv - vec2 (0.5, 0.55);\n"
  "  bg = mix (u_bg_bottom, u_bg_top, v_uv.y) * (1.0 - 0.35 * dot (d, d));\n"
  "#if MODE == 1\n"
  "  o0 = vec4 (at (v_uv), 1.0);\n"
  "#else\n"
  "  vec4 s = texelFetch (u_tex0, ivec2 (gl_FragCoord.xy), 0);\n"
  "  vec3 c = s.rgb + (1.0 - s.a) * bg;\n"
  "#if MODE == 2\n"
  "  vec2 px = 1.0 / vec2 (textureSize (u_tex0, 0));\n"
  "  vec2 uv = gl_FragCoord.xy * px;\n"
  "  float nw = luma (at (uv + vec2 (-0.5, 0.5) * px)), ne = luma (at (uv + vec2 (0.5, 0.5) * px));\n"
  "  float sw = luma (at (uv + vec2 (-0.5, -0.5) * px)), se = luma (at (uv + vec2 (0.5, -0.5) * px));\n"
  "  float lc = luma (c);\n"
  "  float lo = min (lc, min (min (nw, ne), min (sw, se))), hi = max (lc, max (max (nw, ne), max (sw, se)));\n"
  "  if (hi - lo >= max (1.0 / 32.0, hi / 16.0)) {\n"
  "    vec2 dir = vec2 ((sw + se) - (nw + ne), (nw + sw) - (ne + se));\n"
  "    float damp = max ((nw + ne + sw + se) * 0.03, 1.0 / 128.0);\n"
  "    dir = clamp (dir / (min (abs (dir.x), abs (dir.y)) + damp), -8.0, 8.0) * px;\n"
  "    vec3 two = 0.5 * (at (uv - dir / 6.0) + at (uv + dir / 6.0));\n"
  "    vec3 four = 0.5 * two + 0.25 * (at (uv - dir * 0.5) + at (uv + dir * 0.5));\n"
  "    float l4 = luma (four);\n"
  "    c = l4 < lo || l4 > hi ? two : four;\n"
  "  }\n"
  "#endif\n"
  "  o0 = vec4 (c, 1.0);\n"
  "#endif\n"
  "}\n";

/* Whether @obj compiled (or with @program, linked).  If not, @error says "Cannot @what"
 * with the compiler's (the linker's) messages, and @obj is deleted: shaders and programs
 * differ only in the GL calls. */
static gboolean
check_built (GLuint obj, gboolean program, const char *what, GError **error)
{
  GLint ok = 0, len = 0;
  if (program)
    glGetProgramiv (obj, GL_LINK_STATUS, &ok);
  else
    glGetShaderiv (obj, GL_COMPILE_STATUS, &ok);
  if (ok)
    return TRUE;
  if (program)
    glGetProgramiv (obj, GL_INFO_LOG_LENGTH, &len);
  else
    glGetShaderiv (obj, GL_INFO_LOG_LENGTH, &len);
  g_autofree char *log = g_malloc0 (MAX (len, 1) + 1);
  if (program)
    glGetProgramInfoLog (obj, len, NULL, log);
  else
    glGetShaderInfoLog (obj, len, NULL, log);
  g_set_error (error, AR_RENDERER_ERROR, AR_RENDERER_ERROR_SHADER, "Cannot %s: %s", what, log);
  if (program)
    glDeleteProgram (obj);
  else
    glDeleteShader (obj);
  return FALSE;
}

static GLuint
compile_shader (GLenum type, const char *src, GError **error)
{
  GLuint s = glCreateShader (type);
  glShaderSource (s, 1, &src, NULL);
  glCompileShader (s);
  const char *what = type == GL_VERTEX_SHADER ? "compile the vertex shader" : "compile the fragment shader";
  return check_built (s, FALSE, what, error) ? s : 0;
}

static GLuint
link_program (const char *vs, const char *fs, GError **error)
{
  GLuint v = compile_shader (GL_VERTEX_SHADER, vs, error);
  if (!v)
    return 0;
  GLuint f = compile_shader (GL_FRAGMENT_SHADER, fs, error);
  if (!f)
    {
      glDeleteShader (v);
      return 0;
    }
  GLuint p = glCreateProgram ();
  glAttachShader (p, v);
  glAttachShader (p, f);
  glLinkProgram (p);
  glDetachShader (p, v);
  glDetachShader (p, f);
  glDeleteShader (v);
  glDeleteShader (f);
  return check_built (p, TRUE, "link the shader program", error) ? p : 0;
}

static void
delete_programs (ArRenderer *r)
{
  glDeleteProgram (r->prog_mesh);
  r->prog_mesh = 0;
  for (int k = 0; k < N_COMP; k++)
    {
      glDeleteProgram (r->prog_comp[k]);
      r->prog_comp[k] = 0;
    }
}

gboolean
ar_renderer_realize (ArRenderer *r, GError **error)
{
  if (r->realized)
    return TRUE;
  if (epoxy_gl_version () < 33 && !epoxy_is_desktop_gl ())
    {
      /* GLES 3.2 would do too, but the shaders are written for GLSL 3.30 core. */
    }
  if (epoxy_is_desktop_gl () && epoxy_gl_version () < 33)
    {
      g_set_error (error, AR_RENDERER_ERROR, AR_RENDERER_ERROR_CONTEXT,
                   "OpenGL 3.3 is needed, this context has %d.%d",
                   epoxy_gl_version () / 10, epoxy_gl_version () % 10);
      return FALSE;
    }
  g_autofree char *value_fn = ar_value_color_glsl ();
  g_autofree char *mesh_vs = g_strconcat (mesh_vs_head, value_fn, mesh_vs_main, NULL);
  r->prog_mesh = link_program (mesh_vs, mesh_fs, error);
  if (!r->prog_mesh)
    return FALSE;
  for (int k = 0; k < N_COMP; k++)
    {
      g_autofree char *fs = g_strdup_printf ("#version 330 core\n#define MODE %d\n%s", k, comp_fs);
      r->prog_comp[k] = link_program (comp_vs, fs, error);
      if (!r->prog_comp[k])
        {
          delete_programs (r);
          return FALSE;
        }
      r->u_bg_top[k] = glGetUniformLocation (r->prog_comp[k], "u_bg_top");
      r->u_bg_bottom[k] = glGetUniformLocation (r->prog_comp[k], "u_bg_bottom");
      r->u_tex0[k] = glGetUniformLocation (r->prog_comp[k], "u_tex0");
    }
  r->u_mv = glGetUniformLocation (r->prog_mesh, "u_mv");
  r->u_proj = glGetUniformLocation (r->prog_mesh, "u_proj");
  r->u_nmat = glGetUniformLocation (r->prog_mesh, "u_nmat");
  r->u_color = glGetUniformLocation (r->prog_mesh, "u_color");
  r->u_base = glGetUniformLocation (r->prog_mesh, "u_base");
  r->u_highlight = glGetUniformLocation (r->prog_mesh, "u_highlight");
  r->u_by_value = glGetUniformLocation (r->prog_mesh, "u_by_value");
  glGenVertexArrays (1, &r->vao_empty);
  GLint max_samples = 1;
  glGetIntegerv (GL_MAX_SAMPLES, &max_samples);
  /* Automatic: llvmpipe's multisampling costs about 2.3 times a frame of the demo
   * (2 or 4 samples alike); smoothing the edges in the composite costs a few percent. */
  const char *gl_renderer = (const char *) glGetString (GL_RENDERER);
  gboolean software = gl_renderer && (strstr (gl_renderer, "llvmpipe") || strstr (gl_renderer, "softpipe")
                                      || strstr (gl_renderer, "swrast"));
  int wanted = r->samples_wanted > 0 ? r->samples_wanted : software ? 1 : 4;
  r->smooth_edges = r->samples_wanted == 0 && software;
  r->samples = CLAMP (wanted, 1, MAX (max_samples, 1));
  r->realized = TRUE;
  return TRUE;
}

static void
delete_framebuffers (ArRenderer *r)
{
  GLuint fbos[2] = { r->ms_fbo, r->res_fbo };
  GLuint rbs[2] = { r->ms_color, r->ms_depth };
  glDeleteFramebuffers (2, fbos);
  glDeleteRenderbuffers (2, rbs);
  glDeleteTextures (1, &r->res_color);
  r->ms_fbo = r->res_fbo = 0;
  r->ms_color = r->ms_depth = 0;
  r->res_color = 0;
  r->fb_w = r->fb_h = 0;
}

static void
collect_garbage (ArRenderer *r)
{
  for (guint i = 0; i + 3 < r->garbage->len; i += 4)
    {
      GLuint *n = &g_array_index (r->garbage, GLuint, i);
      glDeleteVertexArrays (1, &n[0]);
      glDeleteBuffers (3, &n[1]);
    }
  g_array_set_size (r->garbage, 0);
}

void
ar_renderer_unrealize (ArRenderer *r)
{
  if (!r->realized)
    return;
  for (guint i = 0; i < r->meshes->len; i++)
    gpu_mesh_release_gl (r, r->meshes->pdata[i]);
  collect_garbage (r);
  delete_framebuffers (r);
  delete_programs (r);
  glDeleteVertexArrays (1, &r->vao_empty);
  r->vao_empty = 0;
  r->realized = FALSE;
}

static GLuint
make_rb (int samples, GLenum format, int w, int h)
{
  GLuint rb;
  glGenRenderbuffers (1, &rb);
  glBindRenderbuffer (GL_RENDERBUFFER, rb);
  if (samples > 1)
    glRenderbufferStorageMultisample (GL_RENDERBUFFER, samples, format, w, h);
  else
    glRenderbufferStorage (GL_RENDERBUFFER, format, w, h);
  return rb;
}

static GLuint
make_tex (GLenum internal, GLenum format, GLenum type, int w, int h)
{
  GLuint t;
  glGenTextures (1, &t);
  glBindTexture (GL_TEXTURE_2D, t);
  glTexImage2D (GL_TEXTURE_2D, 0, internal, w, h, 0, format, type, NULL);
  glTexParameteri (GL_TEXTURE_2D, GL_TEXTURE_MIN_FILTER, GL_LINEAR);
  glTexParameteri (GL_TEXTURE_2D, GL_TEXTURE_MAG_FILTER, GL_LINEAR);
  glTexParameteri (GL_TEXTURE_2D, GL_TEXTURE_WRAP_S, GL_CLAMP_TO_EDGE);
  glTexParameteri (GL_TEXTURE_2D, GL_TEXTURE_WRAP_T, GL_CLAMP_TO_EDGE);
  return t;
}

static gboolean
check_fbo (const char *what, GError **error)
{
  GLenum st = glCheckFramebufferStatus (GL_FRAMEBUFFER);
  if (st != GL_FRAMEBUFFER_COMPLETE)
    {
      g_set_error (error, AR_RENDERER_ERROR, AR_RENDERER_ERROR_FRAMEBUFFER,
                   "The %s framebuffer is incomplete (status 0x%04x)", what, st);
      return FALSE;
    }
  return TRUE;
}

/* A framebuffer of one colour attachment (a texture when @texture) and @depth. */
static GLuint
make_fbo (GLuint color, gboolean texture, GLuint depth)
{
  GLuint fbo;
  glGenFramebuffers (1, &fbo);
  glBindFramebuffer (GL_FRAMEBUFFER, fbo);
  if (texture)
    glFramebufferTexture2D (GL_FRAMEBUFFER, GL_COLOR_ATTACHMENT0, GL_TEXTURE_2D, color, 0);
  else
    glFramebufferRenderbuffer (GL_FRAMEBUFFER, GL_COLOR_ATTACHMENT0, GL_RENDERBUFFER, color);
  if (depth)
    glFramebufferRenderbuffer (GL_FRAMEBUFFER, GL_DEPTH_ATTACHMENT, GL_RENDERBUFFER, depth);
  return fbo;
}

/* The passes draw into a multisampled renderbuffer, resolved into the texture that the
 * composite reads; with one sample (while dragging) they draw into that texture. */
static gboolean
ensure_framebuffers (ArRenderer *r, int w, int h, GError **error)
{
  /* No multisampling while the user drags: it costs about its factor on llvmpipe. */
  int s = r->interactive ? 1 : r->samples;
  if (r->fb_w == w && r->fb_h == h && r->fb_samples == s && r->ms_fbo)
    return TRUE;
  delete_framebuffers (r);
  r->ms_depth = make_rb (s, GL_DEPTH_COMPONENT24, w, h);
  r->res_color = make_tex (GL_RGBA8, GL_RGBA, GL_UNSIGNED_BYTE, w, h);
  if (s > 1)
    {
      r->ms_color = make_rb (s, GL_RGBA8, w, h);
      r->ms_fbo = make_fbo (r->ms_color, FALSE, r->ms_depth);
      if (!check_fbo ("multisampled", error))
        goto fail;
      r->res_fbo = make_fbo (r->res_color, TRUE, 0);
      if (!check_fbo ("resolve", error))
        goto fail;
    }
  else
    {
      r->ms_fbo = make_fbo (r->res_color, TRUE, r->ms_depth);
      if (!check_fbo ("scene", error))
        goto fail;
    }
  glBindRenderbuffer (GL_RENDERBUFFER, 0);
  glBindTexture (GL_TEXTURE_2D, 0);
  r->fb_w = w;
  r->fb_h = h;
  r->fb_samples = s;
  return TRUE;

fail:
  delete_framebuffers (r);
  return FALSE;
}

static void
upload_mesh (GpuMesh *g)
{
  const ArRenderMesh *m = g->mesh;
  glGenVertexArrays (1, &g->vao);
  glBindVertexArray (g->vao);
  glGenBuffers (1, &g->vbo);
  glBindBuffer (GL_ARRAY_BUFFER, g->vbo);
  glBufferData (GL_ARRAY_BUFFER, (GLsizeiptr) m->n_vertices * 6 * sizeof (float), m->vertices,
                GL_STATIC_DRAW);
  glEnableVertexAttribArray (0);
  glVertexAttribPointer (0, 3, GL_FLOAT, GL_FALSE, 6 * sizeof (float), (void *) 0);
  glEnableVertexAttribArray (1);
  glVertexAttribPointer (1, 3, GL_FLOAT, GL_FALSE, 6 * sizeof (float),
                         (void *) (3 * sizeof (float)));
  if (m->values)
    {
      glGenBuffers (1, &g->vbo_values);
      glBindBuffer (GL_ARRAY_BUFFER, g->vbo_values);
      glBufferData (GL_ARRAY_BUFFER, (GLsizeiptr) m->n_vertices * sizeof (float), m->values, GL_STATIC_DRAW);
      glEnableVertexAttribArray (2);
      glVertexAttribPointer (2, 1, GL_FLOAT, GL_FALSE, sizeof (float), (void *) 0);
    }
  /* Full triangles, then each simplified level, in one element buffer. */
  gsize total = (gsize) m->n_triangles * 3;
  for (int k = 0; k < m->n_lod; k++)
    total += (gsize) m->n_triangles_lod[k] * 3;
  glGenBuffers (1, &g->ebo);
  glBindBuffer (GL_ELEMENT_ARRAY_BUFFER, g->ebo);
  glBufferData (GL_ELEMENT_ARRAY_BUFFER, (GLsizeiptr) (MAX (total, 1) * sizeof (guint32)), NULL,
                GL_STATIC_DRAW);
  gsize at = 0;
  g->offset[0] = 0;
  glBufferSubData (GL_ELEMENT_ARRAY_BUFFER, 0, (GLsizeiptr) m->n_triangles * 3 * sizeof (guint32),
                   m->indices);
  at += (gsize) m->n_triangles * 3;
  for (int k = 0; k < m->n_lod; k++)
    {
      g->offset[k + 1] = at;
      glBufferSubData (GL_ELEMENT_ARRAY_BUFFER, (GLintptr) (at * sizeof (guint32)),
                       (GLsizeiptr) m->n_triangles_lod[k] * 3 * sizeof (guint32), m->indices_lod[k]);
      at += (gsize) m->n_triangles_lod[k] * 3;
    }
  glBindVertexArray (0);
  g->uploaded = TRUE;
}

static gboolean
mesh_drawn (ArRenderer *r, const GpuMesh *g)
{
  ArLabelStyle st;
  ar_renderer_get_style (r, g->mesh->label, &st);
  return st.visible && st.rgba[3] > 0.004f && g->mesh->n_triangles > 0;
}

/* The finest level whose visible triangles fit the budget (the coarsest if none does). */
static int
choose_level (ArRenderer *r)
{
  if (!r->interactive)
    return 0;
  if (r->budget == 0)
    return 1;
  for (int level = 0; level <= AR_RENDER_MESH_MAX_LOD; level++)
    {
      guint64 n = 0;
      for (guint i = 0; i < r->meshes->len; i++)
        {
          const GpuMesh *g = r->meshes->pdata[i];
          if (mesh_drawn (r, g))
            n += ar_render_mesh_get_n_triangles_level (g->mesh, level);
        }
      if (n <= r->budget)
        return level;
    }
  return AR_RENDER_MESH_MAX_LOD;
}

static int
nearer_first (gconstpointer a, gconstpointer b)
{
  float da = ((const DrawOrder *) a)->depth, db = ((const DrawOrder *) b)->depth;
  return (da < db) - (da > db);
}

static void
sort_front_to_back (ArRenderer *r, mat4 view)
{
  g_array_set_size (r->order, r->meshes->len);
  for (guint i = 0; i < r->meshes->len; i++)
    {
      const ArRenderMesh *m = ((GpuMesh *) r->meshes->pdata[i])->mesh;
      float depth = view[3][2];
      for (int a = 0; a < 3; a++)
        depth += view[a][2] * 0.5f * (m->bmin[a] + m->bmax[a]);
      g_array_index (r->order, DrawOrder, i) = (DrawOrder) { depth, i };
    }
  g_array_sort (r->order, nearer_first);
}

/* The opaque meshes in the order of the last sort, or the transparent ones in reverse;
 * @count: add their triangles to last_triangles. */
static void
draw_meshes (ArRenderer *r, gboolean transparent, gboolean count)
{
  guint n = r->order->len;
  for (guint i = 0; i < n; i++)
    {
      guint at = transparent ? n - 1 - i : i;
      GpuMesh *g = r->meshes->pdata[g_array_index (r->order, DrawOrder, at).index];
      ArLabelStyle st;
      ar_renderer_get_style (r, g->mesh->label, &st);
      if (!mesh_drawn (r, g))
        continue;
      gboolean is_transparent = st.rgba[3] < 0.995f;
      if (is_transparent != transparent)
        continue;
      glUniform4fv (r->u_color, 1, st.rgba);
      float base[3];
      for (int c = 0; c < 3; c++)
        base[c] = powf (st.rgba[c], 2.2f);
      glUniform3fv (r->u_base, 1, base);
      glUniform1f (r->u_highlight, st.highlight ? 1.f : 0.f);
      glUniform1i (r->u_by_value, st.by_value && g->mesh->values ? 1 : 0);
      glBindVertexArray (g->vao);
      int level = MIN (r->level, g->mesh->n_lod);
      guint32 nt = ar_render_mesh_get_n_triangles_level (g->mesh, level);
      glDrawElements (GL_TRIANGLES, (GLsizei) nt * 3, GL_UNSIGNED_INT,
                      (void *) (g->offset[level] * sizeof (guint32)));
      if (count)
        r->last_triangles += nt;
    }
  glBindVertexArray (0);
}

gboolean
ar_renderer_draw (ArRenderer *r, const ArCamera *cam, int width, int height,
                  guint target_fbo, GError **error)
{
  g_return_val_if_fail (r->realized, FALSE);
  width = MAX (width, 1);
  height = MAX (height, 1);
  collect_garbage (r);
  for (guint i = 0; i < r->meshes->len; i++)
    {
      GpuMesh *g = r->meshes->pdata[i];
      if (!g->uploaded)
        upload_mesh (g);
    }
  /* While dragging the scene may be drawn at a lower resolution and scaled up
   * (bilinear) in the composite: llvmpipe's cost here is mostly per pixel. */
  int out_w = width, out_h = height;
  gboolean scaled = r->interactive && r->drag_scale < 0.999f;
  if (scaled)
    {
      width = MAX (1, (int) ceilf (width * r->drag_scale));
      height = MAX (1, (int) ceilf (height * r->drag_scale));
    }
  if (!ensure_framebuffers (r, width, height, error))
    return FALSE;
  r->last_triangles = 0;
  r->level = choose_level (r);

  gboolean any_transparent = FALSE;
  for (guint i = 0; i < r->meshes->len; i++)
    {
      ArLabelStyle st;
      ar_renderer_get_style (r, ((GpuMesh *) r->meshes->pdata[i])->mesh->label, &st);
      if (st.visible && st.rgba[3] > 0.004f && st.rgba[3] < 0.995f)
        any_transparent = TRUE;
    }

  mat4 view, proj, mv;
  mat3 nmat;
  ar_camera_get_view (cam, view);
  ar_camera_get_projection (cam, (float) width / (float) height, proj);
  glm_mat4_copy (view, mv);
  glm_mat4_pick3 (view, nmat); /* rotation only: the view matrix is rigid */

  glViewport (0, 0, width, height);
  glDisable (GL_SCISSOR_TEST);
  glDisable (GL_CULL_FACE);

  /* 1. Opaque surfaces into the multisampled buffer, nearest first so that the depth
   * test spares the shading of what they hide. */
  glBindFramebuffer (GL_FRAMEBUFFER, r->ms_fbo);
  GLenum one[1] = { GL_COLOR_ATTACHMENT0 };
  glDrawBuffers (1, one);
  glDisable (GL_BLEND);
  glDisable (GL_DEPTH_TEST);
  glDepthMask (GL_TRUE);
  glClearDepth (1.0);
  glClearColor (0.f, 0.f, 0.f, 0.f);
  glClear (GL_COLOR_BUFFER_BIT | GL_DEPTH_BUFFER_BIT);

  glEnable (GL_DEPTH_TEST);
  glDepthFunc (GL_LESS);
  glUseProgram (r->prog_mesh);
  glUniformMatrix4fv (r->u_mv, 1, GL_FALSE, (float *) mv);
  glUniformMatrix4fv (r->u_proj, 1, GL_FALSE, (float *) proj);
  glUniformMatrix3fv (r->u_nmat, 1, GL_FALSE, (float *) nmat);
  sort_front_to_back (r, view);
  draw_meshes (r, FALSE, TRUE);

  /* 2. Transparent surfaces blended over the opaque ones (tested against their depth,
   * not writing it): premultiplied colour, alpha accumulating the coverage.  The far
   * sides of all of them first, then the near sides (the triangles are counter-clockwise
   * seen from outside), each time farthest mesh first; while interactive only the near
   * sides. */
  if (any_transparent)
    {
      glDepthMask (GL_FALSE);
      glEnable (GL_BLEND);
      glBlendFuncSeparate (GL_SRC_ALPHA, GL_ONE_MINUS_SRC_ALPHA, GL_ONE, GL_ONE_MINUS_SRC_ALPHA);
      glEnable (GL_CULL_FACE);
      glFrontFace (GL_CCW);
      if (!r->interactive)
        {
          glCullFace (GL_FRONT);
          draw_meshes (r, TRUE, FALSE);
        }
      glCullFace (GL_BACK);
      draw_meshes (r, TRUE, TRUE);
      glDisable (GL_CULL_FACE);
      glDisable (GL_BLEND);
      glDepthMask (GL_TRUE);
    }
  glDisable (GL_DEPTH_TEST);

  /* 3. Resolve the samples (with one sample the passes drew into the texture). */
  if (r->fb_samples > 1)
    {
      glBindFramebuffer (GL_READ_FRAMEBUFFER, r->ms_fbo);
      glBindFramebuffer (GL_DRAW_FRAMEBUFFER, r->res_fbo);
      glBlitFramebuffer (0, 0, width, height, 0, 0, width, height, GL_COLOR_BUFFER_BIT, GL_NEAREST);
    }

  /* 4. Composite into the caller's framebuffer, over the background. */
  glBindFramebuffer (GL_FRAMEBUFFER, target_fbo);
  glViewport (0, 0, out_w, out_h);
  int k = scaled ? COMP_SCALED : r->smooth_edges && !r->interactive ? COMP_SMOOTH : COMP_PLAIN;
  glUseProgram (r->prog_comp[k]);
  glUniform3fv (r->u_bg_top[k], 1, r->bg_top);
  glUniform3fv (r->u_bg_bottom[k], 1, r->bg_bottom);
  glUniform1i (r->u_tex0[k], 0);
  glActiveTexture (GL_TEXTURE0);
  glBindTexture (GL_TEXTURE_2D, r->res_color);
  glBindVertexArray (r->vao_empty);
  glDrawArrays (GL_TRIANGLES, 0, 3);
  glBindVertexArray (0);
  glBindTexture (GL_TEXTURE_2D, 0);
  glUseProgram (0);
  return TRUE;
}
