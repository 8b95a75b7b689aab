/* renderer.c: the GL half of the renderer (see renderer.h); the meshes it draws are
 * built in render-mesh.c. */
#include "renderer-private.h"

#include <epoxy/gl.h>
#include <math.h>
#include <string.h>

G_DEFINE_QUARK (ar-renderer-error-quark, ar_renderer_error)

/* ------------------------------------------------------------------------ */
/* GL side */

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
  GHashTable *by_label;     /* label -> GpuMesh* (borrowed): adding n meshes is O(n), not O(n²) */
  GArray *garbage;          /* GLuint names: vao, vbo, ebo, values vbo (or 0) per dead mesh */
  GHashTable *styles;       /* label -> ArLabelStyle* */
  gboolean realized;
  gboolean interactive;
  guint64 budget;           /* triangles allowed while interactive (0: level 1) */
  float drag_scale;         /* resolution scale while interactive (1: full) */
  int level;                /* level of detail of the last draw */
  int samples_wanted, samples;
  float bg_top[3], bg_bottom[3];
  guint64 last_triangles;

  GLuint prog_mesh, prog_comp;
  GLint u_mv, u_proj, u_nmat, u_color, u_highlight, u_pass, u_by_value;
  GLint u_bg_top, u_bg_bottom, u_mode, u_tex0, u_tex1, u_tex2, u_scaled;
  GLuint vao_empty;

  int fb_w, fb_h, fb_samples;   /* size and sample count of the framebuffers below */
  gboolean fb_linear;           /* resolved textures filtered linearly (drawn scaled) */
  GLuint ms_fbo, ms_color, ms_depth;           /* opaque pass */
  GLuint oit_fbo, oit_accum, oit_weight;       /* transparent pass (shares ms_depth) */
  GLuint res_fbo, res_color;                   /* resolved opaque */
  GLuint res_oit_fbo, res_accum, res_weight;   /* resolved transparent */
};

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
  /* the last mesh takes the freed slot (the draw order does not matter: transparency is
   * order-independent) */
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
  r->samples_wanted = MAX (samples, 1);
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

static const char mesh_vs[] =
  "#version 330 core\n"
  "layout(location = 0) in vec3 a_pos;\n"
  "layout(location = 1) in vec3 a_normal;\n"
  "layout(location = 2) in float a_value;\n"
  "uniform mat4 u_mv;\n"
  "uniform mat4 u_proj;\n"
  "uniform mat3 u_nmat;\n"
  "out vec3 v_pos;\n"
  "out vec3 v_normal;\n"
  "out float v_value;\n"
  "void main () {\n"
  "  vec4 p = u_mv * vec4 (a_pos, 1.0);\n"
  "  v_value = a_value;\n"
  "  v_pos = p.xyz;\n"
  "  v_normal = u_nmat * a_normal;\n"
  "  gl_Position = u_proj * p;\n"
  "}\n";

/* Lighting in linear space (colours converted from sRGB), view-space lights:
 * hemisphere ambient (sky above, warm ground bounce), a warm key light from the upper
 * left front, a cool fill from the right, a rim light from behind, Blinn-Phong
 * highlight of the key.  u_pass 0 writes the opaque colour, 1 the weighted-blended
 * OIT accumulation (o0 = premultiplied colour * w, alpha multiplies the revealage;
 * o1.r = alpha * w). */
static const char mesh_fs_head[] =
  "#version 330 core\n"
  "in vec3 v_pos;\n"
  "in vec3 v_normal;\n"
  "in float v_value;\n"
  "uniform int u_by_value;\n"
  "uniform vec4 u_color;\n"
  "uniform float u_highlight;\n"
  "uniform int u_pass;\n"
  "layout(location = 0) out vec4 o0;\n"
  "layout(location = 1) out vec4 o1;\n"
  "vec3 to_linear (vec3 c) { return pow (c, vec3 (2.2)); }\n"
  "vec3 to_srgb (vec3 c) { return pow (clamp (c, 0.0, 1.0), vec3 (1.0 / 2.2)); }\n";
/* ... value_color () (ar_value_color_glsl) ... */
static const char mesh_fs_main[] =
  "void main () {\n"
  "  vec3 n = normalize (v_normal);\n"
  "  vec3 v = normalize (-v_pos);\n"
  "  if (dot (n, v) < 0.0) n = -n;\n"
  "  vec3 base = to_linear (u_by_value != 0 ? value_color (v_value) : u_color.rgb);\n"
  "  vec3 sky = vec3 (0.30, 0.33, 0.38), ground = vec3 (0.10, 0.09, 0.08);\n"
  "  vec3 ambient = mix (ground, sky, 0.5 + 0.5 * n.y);\n"
  "  vec3 lk = normalize (vec3 (-0.45, 0.55, 0.70));\n"
  "  vec3 lf = normalize (vec3 (0.75, -0.15, 0.45));\n"
  "  vec3 lr = normalize (vec3 (0.15, 0.35, -0.90));\n"
  "  float dk = max (dot (n, lk), 0.0);\n"
  "  float df = max (dot (n, lf), 0.0);\n"
  "  float fres = pow (1.0 - max (dot (n, v), 0.0), 3.0);\n"
  "  float dr = max (dot (n, lr), 0.0) * fres;\n"
  "  vec3 h = normalize (lk + v);\n"
  "  float spec = pow (max (dot (n, h), 0.0), 40.0) * (0.04 + 0.96 * pow (1.0 - max (dot (h, v), 0.0), 5.0));\n"
  "  vec3 c = base * (ambient + dk * vec3 (1.05, 1.0, 0.92) * 1.15 + df * vec3 (0.55, 0.62, 0.75) * 0.45)\n"
  "         + dr * vec3 (0.75, 0.80, 0.90) * 0.9\n"
  "         + spec * vec3 (1.0) * 0.9;\n"
  "  if (u_highlight > 0.0) {\n"
  "    float glow = pow (1.0 - max (dot (n, v), 0.0), 2.5);\n"
  "    c = mix (c, vec3 (1.0, 0.72, 0.18) * 1.3, u_highlight * clamp (glow * 1.2, 0.0, 0.9));\n"
  "  }\n"
  "  vec3 s = to_srgb (c);\n"
  "  if (u_pass == 0) {\n"
  "    o0 = vec4 (s, 1.0);\n"
  "    o1 = vec4 (0.0);\n"
  "  } else {\n"
  "    float a = u_color.a;\n"
  "    float z = gl_FragCoord.z;\n"
  "    float w = clamp (a * max (1e-2, 3e3 * pow (1.0 - z, 3.0)), 1e-2, 3e3);\n"
  "    o0 = vec4 (s * a * w, a);\n"
  "    o1 = vec4 (a * w, 0.0, 0.0, 0.0);\n"
  "  }\n"
  "}\n";

static const char comp_vs[] =
  "#version 330 core\n"
  "out vec2 v_uv;\n"
  "void main () {\n"
  "  vec2 p = vec2 (float ((gl_VertexID << 1) & 2), float (gl_VertexID & 2));\n"
  "  v_uv = p;\n"
  "  gl_Position = vec4 (p * 2.0 - 1.0, 0.0, 1.0);\n"
  "}\n";

/* u_mode 0: background gradient (drawn into the multisampled buffer first);
 * u_mode 1: composite resolved opaque (tex0) with OIT accum (tex1) and weight (tex2);
 * u_mode 2: copy tex0 (no transparent surfaces). */
static const char comp_fs[] =
  "#version 330 core\n"
  "in vec2 v_uv;\n"
  "uniform int u_mode;\n"
  "uniform vec3 u_bg_top;\n"
  "uniform vec3 u_bg_bottom;\n"
  "uniform sampler2D u_tex0;\n"
  "uniform sampler2D u_tex1;\n"
  "uniform sampler2D u_tex2;\n"
  "uniform int u_scaled;\n"
  "layout(location = 0) out vec4 o0;\n"
  "vec4 fetch (sampler2D t, ivec2 p) {\n"
  "  return u_scaled != 0 ? texture (t, v_uv) : texelFetch (t, p, 0);\n"
  "}\n"
  "void main () {\n"
  "  if (u_mode == 0) {\n"
  "    vec2 d = v_uv - vec2 (0.5, 0.55);\n"
  "    float vignette = 1.0 - 0.35 * dot (d, d);\n"
  "    o0 = vec4 (mix (u_bg_bottom, u_bg_top, v_uv.y) * vignette, 1.0);\n"
  "    return;\n"
  "  }\n"
  "  ivec2 p = ivec2 (gl_FragCoord.xy);\n"
  "  vec3 opaque = fetch (u_tex0, p).rgb;\n"
  "  if (u_mode == 2) { o0 = vec4 (opaque, 1.0); return; }\n"
  "  vec4 acc = fetch (u_tex1, p);\n"
  "  float wsum = fetch (u_tex2, p).r;\n"
  "  float reveal = clamp (acc.a, 0.0, 1.0);\n"
  "  vec3 avg = acc.rgb / max (wsum, 1e-5);\n"
  "  o0 = vec4 (mix (avg, opaque, reveal), 1.0);\n"
  "}\n";

/* The compiler's (or with @program, the linker's) messages about @obj. */
static char *
info_log (GLuint obj, gboolean program)
{
  GLint len = 0;
  if (program)
    glGetProgramiv (obj, GL_INFO_LOG_LENGTH, &len);
  else
    glGetShaderiv (obj, GL_INFO_LOG_LENGTH, &len);
  char *log = g_malloc0 (MAX (len, 1) + 1);
  if (program)
    glGetProgramInfoLog (obj, len, NULL, log);
  else
    glGetShaderInfoLog (obj, len, NULL, log);
  return log;
}

static GLuint
compile_shader (GLenum type, const char *src, GError **error)
{
  GLuint s = glCreateShader (type);
  glShaderSource (s, 1, &src, NULL);
  glCompileShader (s);
  GLint ok = 0;
  glGetShaderiv (s, GL_COMPILE_STATUS, &ok);
  if (!ok)
    {
      g_autofree char *log = info_log (s, FALSE);
      g_set_error (error, AR_RENDERER_ERROR, AR_RENDERER_ERROR_SHADER,
                   "Cannot compile the %s shader: %s",
                   type == GL_VERTEX_SHADER ? "vertex" : "fragment", log);
      glDeleteShader (s);
      return 0;
    }
  return s;
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
  GLint ok = 0;
  glGetProgramiv (p, GL_LINK_STATUS, &ok);
  if (!ok)
    {
      g_autofree char *log = info_log (p, TRUE);
      g_set_error (error, AR_RENDERER_ERROR, AR_RENDERER_ERROR_SHADER,
                   "Cannot link the shader program: %s", log);
      glDeleteProgram (p);
      return 0;
    }
  return p;
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
  g_autofree char *mesh_fs = g_strconcat (mesh_fs_head, value_fn, mesh_fs_main, NULL);
  r->prog_mesh = link_program (mesh_vs, mesh_fs, error);
  if (!r->prog_mesh)
    return FALSE;
  r->prog_comp = link_program (comp_vs, comp_fs, error);
  if (!r->prog_comp)
    {
      glDeleteProgram (r->prog_mesh);
      r->prog_mesh = 0;
      return FALSE;
    }
  r->u_mv = glGetUniformLocation (r->prog_mesh, "u_mv");
  r->u_proj = glGetUniformLocation (r->prog_mesh, "u_proj");
  r->u_nmat = glGetUniformLocation (r->prog_mesh, "u_nmat");
  r->u_color = glGetUniformLocation (r->prog_mesh, "u_color");
  r->u_highlight = glGetUniformLocation (r->prog_mesh, "u_highlight");
  r->u_by_value = glGetUniformLocation (r->prog_mesh, "u_by_value");
  r->u_pass = glGetUniformLocation (r->prog_mesh, "u_pass");
  r->u_mode = glGetUniformLocation (r->prog_comp, "u_mode");
  r->u_bg_top = glGetUniformLocation (r->prog_comp, "u_bg_top");
  r->u_bg_bottom = glGetUniformLocation (r->prog_comp, "u_bg_bottom");
  r->u_tex0 = glGetUniformLocation (r->prog_comp, "u_tex0");
  r->u_tex1 = glGetUniformLocation (r->prog_comp, "u_tex1");
  r->u_tex2 = glGetUniformLocation (r->prog_comp, "u_tex2");
  r->u_scaled = glGetUniformLocation (r->prog_comp, "u_scaled");
  glGenVertexArrays (1, &r->vao_empty);
  GLint max_samples = 1;
  glGetIntegerv (GL_MAX_SAMPLES, &max_samples);
  r->samples = CLAMP (r->samples_wanted, 1, MAX (max_samples, 1));
  r->realized = TRUE;
  return TRUE;
}

static void
delete_framebuffers (ArRenderer *r)
{
  GLuint fbos[4] = { r->ms_fbo, r->oit_fbo, r->res_fbo, r->res_oit_fbo };
  GLuint rbs[5] = { r->ms_color, r->ms_depth, r->oit_accum, r->oit_weight, 0 };
  GLuint texs[3] = { r->res_color, r->res_accum, r->res_weight };
  glDeleteFramebuffers (4, fbos);
  glDeleteRenderbuffers (4, rbs);
  glDeleteTextures (3, texs);
  r->ms_fbo = r->oit_fbo = r->res_fbo = r->res_oit_fbo = 0;
  r->ms_color = r->ms_depth = r->oit_accum = r->oit_weight = 0;
  r->res_color = r->res_accum = r->res_weight = 0;
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
  glDeleteProgram (r->prog_mesh);
  glDeleteProgram (r->prog_comp);
  glDeleteVertexArrays (1, &r->vao_empty);
  r->prog_mesh = r->prog_comp = r->vao_empty = 0;
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
  glTexParameteri (GL_TEXTURE_2D, GL_TEXTURE_MIN_FILTER, GL_NEAREST);
  glTexParameteri (GL_TEXTURE_2D, GL_TEXTURE_MAG_FILTER, GL_NEAREST);
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

static gboolean
ensure_framebuffers (ArRenderer *r, int w, int h, gboolean linear, GError **error)
{
  /* No multisampling while the user drags: it costs about its factor on llvmpipe. */
  int s = r->interactive ? 1 : r->samples;
  if (r->fb_w == w && r->fb_h == h && r->fb_samples == s && r->fb_linear == linear && r->ms_fbo)
    return TRUE;
  delete_framebuffers (r);
  r->ms_color = make_rb (s, GL_RGBA8, w, h);
  r->ms_depth = make_rb (s, GL_DEPTH_COMPONENT24, w, h);
  r->oit_accum = make_rb (s, GL_RGBA16F, w, h);
  r->oit_weight = make_rb (s, GL_R16F, w, h);
  glBindRenderbuffer (GL_RENDERBUFFER, 0);

  glGenFramebuffers (1, &r->ms_fbo);
  glBindFramebuffer (GL_FRAMEBUFFER, r->ms_fbo);
  glFramebufferRenderbuffer (GL_FRAMEBUFFER, GL_COLOR_ATTACHMENT0, GL_RENDERBUFFER, r->ms_color);
  glFramebufferRenderbuffer (GL_FRAMEBUFFER, GL_DEPTH_ATTACHMENT, GL_RENDERBUFFER, r->ms_depth);
  if (!check_fbo ("multisampled", error))
    goto fail;

  glGenFramebuffers (1, &r->oit_fbo);
  glBindFramebuffer (GL_FRAMEBUFFER, r->oit_fbo);
  glFramebufferRenderbuffer (GL_FRAMEBUFFER, GL_COLOR_ATTACHMENT0, GL_RENDERBUFFER, r->oit_accum);
  glFramebufferRenderbuffer (GL_FRAMEBUFFER, GL_COLOR_ATTACHMENT1, GL_RENDERBUFFER, r->oit_weight);
  glFramebufferRenderbuffer (GL_FRAMEBUFFER, GL_DEPTH_ATTACHMENT, GL_RENDERBUFFER, r->ms_depth);
  if (!check_fbo ("transparency", error))
    goto fail;

  r->res_color = make_tex (GL_RGBA8, GL_RGBA, GL_UNSIGNED_BYTE, w, h);
  glGenFramebuffers (1, &r->res_fbo);
  glBindFramebuffer (GL_FRAMEBUFFER, r->res_fbo);
  glFramebufferTexture2D (GL_FRAMEBUFFER, GL_COLOR_ATTACHMENT0, GL_TEXTURE_2D, r->res_color, 0);
  if (!check_fbo ("resolve", error))
    goto fail;

  r->res_accum = make_tex (GL_RGBA16F, GL_RGBA, GL_FLOAT, w, h);
  r->res_weight = make_tex (GL_R16F, GL_RED, GL_FLOAT, w, h);
  glGenFramebuffers (1, &r->res_oit_fbo);
  glBindFramebuffer (GL_FRAMEBUFFER, r->res_oit_fbo);
  glFramebufferTexture2D (GL_FRAMEBUFFER, GL_COLOR_ATTACHMENT0, GL_TEXTURE_2D, r->res_accum, 0);
  glFramebufferTexture2D (GL_FRAMEBUFFER, GL_COLOR_ATTACHMENT1, GL_TEXTURE_2D, r->res_weight, 0);
  if (!check_fbo ("transparency resolve", error))
    goto fail;
  if (linear)
    {
      GLuint texs[3] = { r->res_color, r->res_accum, r->res_weight };
      for (int i = 0; i < 3; i++)
        {
          glBindTexture (GL_TEXTURE_2D, texs[i]);
          glTexParameteri (GL_TEXTURE_2D, GL_TEXTURE_MIN_FILTER, GL_LINEAR);
          glTexParameteri (GL_TEXTURE_2D, GL_TEXTURE_MAG_FILTER, GL_LINEAR);
        }
    }
  glBindTexture (GL_TEXTURE_2D, 0);
  r->fb_w = w;
  r->fb_h = h;
  r->fb_samples = s;
  r->fb_linear = linear;
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

static void
draw_meshes (ArRenderer *r, gboolean transparent)
{
  for (guint i = 0; i < r->meshes->len; i++)
    {
      GpuMesh *g = r->meshes->pdata[i];
      ArLabelStyle st;
      ar_renderer_get_style (r, g->mesh->label, &st);
      if (!mesh_drawn (r, g))
        continue;
      gboolean is_transparent = st.rgba[3] < 0.995f;
      if (is_transparent != transparent)
        continue;
      glUniform4fv (r->u_color, 1, st.rgba);
      glUniform1f (r->u_highlight, st.highlight ? 1.f : 0.f);
      glUniform1i (r->u_by_value, st.by_value && g->mesh->values ? 1 : 0);
      glBindVertexArray (g->vao);
      int level = MIN (r->level, g->mesh->n_lod);
      guint32 nt = ar_render_mesh_get_n_triangles_level (g->mesh, level);
      glDrawElements (GL_TRIANGLES, (GLsizei) nt * 3, GL_UNSIGNED_INT,
                      (void *) (g->offset[level] * sizeof (guint32)));
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
  if (!ensure_framebuffers (r, width, height, scaled, error))
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

  /* 1. Background + opaque surfaces into the multisampled buffer. */
  glBindFramebuffer (GL_FRAMEBUFFER, r->ms_fbo);
  GLenum one[1] = { GL_COLOR_ATTACHMENT0 };
  glDrawBuffers (1, one);
  glDisable (GL_BLEND);
  glDisable (GL_DEPTH_TEST);
  glDepthMask (GL_TRUE);
  glClearDepth (1.0);
  glClear (GL_DEPTH_BUFFER_BIT);
  glUseProgram (r->prog_comp);
  glUniform1i (r->u_mode, 0);
  glUniform1i (r->u_scaled, 0);
  glUniform3fv (r->u_bg_top, 1, r->bg_top);
  glUniform3fv (r->u_bg_bottom, 1, r->bg_bottom);
  glBindVertexArray (r->vao_empty);
  glDrawArrays (GL_TRIANGLES, 0, 3);

  glEnable (GL_DEPTH_TEST);
  glDepthFunc (GL_LESS);
  glUseProgram (r->prog_mesh);
  glUniformMatrix4fv (r->u_mv, 1, GL_FALSE, (float *) mv);
  glUniformMatrix4fv (r->u_proj, 1, GL_FALSE, (float *) proj);
  glUniformMatrix3fv (r->u_nmat, 1, GL_FALSE, (float *) nmat);
  glUniform1i (r->u_pass, 0);
  draw_meshes (r, FALSE);

  /* 2. Transparent surfaces: weighted blended OIT against the opaque depth. */
  if (any_transparent)
    {
      glBindFramebuffer (GL_FRAMEBUFFER, r->oit_fbo);
      GLenum two[2] = { GL_COLOR_ATTACHMENT0, GL_COLOR_ATTACHMENT1 };
      glDrawBuffers (2, two);
      const float clear0[4] = { 0.f, 0.f, 0.f, 1.f }, clear1[4] = { 0.f, 0.f, 0.f, 0.f };
      glClearBufferfv (GL_COLOR, 0, clear0);
      glClearBufferfv (GL_COLOR, 1, clear1);
      glDepthMask (GL_FALSE);
      glEnable (GL_BLEND);
      /* rgb add (sum of weighted premultiplied colours / weights), alpha multiplies
       * by (1 - a) (revealage). */
      glBlendFuncSeparate (GL_ONE, GL_ONE, GL_ZERO, GL_ONE_MINUS_SRC_ALPHA);
      glUniform1i (r->u_pass, 1);
      draw_meshes (r, TRUE);
      glDisable (GL_BLEND);
      glDepthMask (GL_TRUE);
    }
  glDisable (GL_DEPTH_TEST);

  /* 3. Resolve the samples. */
  glBindFramebuffer (GL_READ_FRAMEBUFFER, r->ms_fbo);
  glReadBuffer (GL_COLOR_ATTACHMENT0);
  glBindFramebuffer (GL_DRAW_FRAMEBUFFER, r->res_fbo);
  glDrawBuffers (1, one);
  glBlitFramebuffer (0, 0, width, height, 0, 0, width, height, GL_COLOR_BUFFER_BIT, GL_NEAREST);
  if (any_transparent)
    {
      glBindFramebuffer (GL_READ_FRAMEBUFFER, r->oit_fbo);
      glBindFramebuffer (GL_DRAW_FRAMEBUFFER, r->res_oit_fbo);
      for (int a = 0; a < 2; a++)
        {
          GLenum att = GL_COLOR_ATTACHMENT0 + a;
          GLenum bufs[2] = { a == 0 ? att : GL_NONE, a == 1 ? att : GL_NONE };
          glReadBuffer (att);
          glDrawBuffers (2, bufs);
          glBlitFramebuffer (0, 0, width, height, 0, 0, width, height, GL_COLOR_BUFFER_BIT,
                             GL_NEAREST);
        }
    }

  /* 4. Composite into the caller's framebuffer. */
  glBindFramebuffer (GL_FRAMEBUFFER, target_fbo);
  glViewport (0, 0, out_w, out_h);
  glUseProgram (r->prog_comp);
  glUniform1i (r->u_mode, any_transparent ? 1 : 2);
  glUniform1i (r->u_scaled, scaled);
  glUniform1i (r->u_tex0, 0);
  glUniform1i (r->u_tex1, 1);
  glUniform1i (r->u_tex2, 2);
  glActiveTexture (GL_TEXTURE0);
  glBindTexture (GL_TEXTURE_2D, r->res_color);
  glActiveTexture (GL_TEXTURE1);
  glBindTexture (GL_TEXTURE_2D, r->res_accum);
  glActiveTexture (GL_TEXTURE2);
  glBindTexture (GL_TEXTURE_2D, r->res_weight);
  glBindVertexArray (r->vao_empty);
  glDrawArrays (GL_TRIANGLES, 0, 3);
  glBindVertexArray (0);
  for (int t = 2; t >= 0; t--)
    {
      glActiveTexture (GL_TEXTURE0 + t);
      glBindTexture (GL_TEXTURE_2D, 0);
    }
  glUseProgram (0);
  return TRUE;
}
