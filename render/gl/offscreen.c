/* offscreen.c: EGL surfaceless context and a minimal PNG encoder (see offscreen.h). */
#include "offscreen.h"
#include "out-file.h"

#include <epoxy/egl.h>
#include <epoxy/gl.h>
#include <gio/gio.h>
#include <string.h>
#include <zlib.h>

G_DEFINE_QUARK (ar-offscreen-error-quark, ar_offscreen_error)

#ifndef EGL_PLATFORM_SURFACELESS_MESA
#define EGL_PLATFORM_SURFACELESS_MESA 0x31DD
#endif

struct _ArOffscreen {
  EGLDisplay dpy;
  EGLContext ctx;
  int width, height;
  GLuint fbo, color;
  char *description;
};

static EGLDisplay
get_display (GError **error)
{
  EGLDisplay dpy = EGL_NO_DISPLAY;
  /* Client extensions tell whether platform displays are available. */
  const char *ext = eglQueryString (EGL_NO_DISPLAY, EGL_EXTENSIONS);
  if (ext && strstr (ext, "EGL_MESA_platform_surfaceless"))
    {
      /* epoxy resolves the core EGL 1.5 entry point only for a known display, so use
       * the EXT one (part of every client that has platform displays). */
      if (strstr (ext, "EGL_EXT_platform_base"))
        dpy = eglGetPlatformDisplayEXT (EGL_PLATFORM_SURFACELESS_MESA, EGL_DEFAULT_DISPLAY, NULL);
    }
  if (dpy == EGL_NO_DISPLAY)
    {
      /* Fall back to the default display with the surfaceless platform forced. */
      g_setenv ("EGL_PLATFORM", "surfaceless", FALSE);
      dpy = eglGetDisplay (EGL_DEFAULT_DISPLAY);
    }
  if (dpy == EGL_NO_DISPLAY)
    g_set_error (error, AR_OFFSCREEN_ERROR, AR_OFFSCREEN_ERROR_EGL,
                 "No EGL display (surfaceless platform unavailable)");
  return dpy;
}

ArOffscreen *
ar_offscreen_new (int width, int height, GError **error)
{
  if (width < 1 || height < 1 || width > 16384 || height > 16384)
    {
      g_set_error (error, AR_OFFSCREEN_ERROR, AR_OFFSCREEN_ERROR_INVALID,
                   "Image size %dx%d is out of range (1..16384)", width, height);
      return NULL;
    }
  g_autoptr (ArOffscreen) o = g_new0 (ArOffscreen, 1);
  o->width = width;
  o->height = height;
  o->dpy = get_display (error);
  if (o->dpy == EGL_NO_DISPLAY)
    return NULL;
  EGLint major = 0, minor = 0;
  if (!eglInitialize (o->dpy, &major, &minor))
    {
      g_set_error (error, AR_OFFSCREEN_ERROR, AR_OFFSCREEN_ERROR_EGL,
                   "Cannot initialise EGL (error 0x%04x)", eglGetError ());
      o->dpy = EGL_NO_DISPLAY;
      return NULL;
    }
  if (!eglBindAPI (EGL_OPENGL_API))
    {
      g_set_error (error, AR_OFFSCREEN_ERROR, AR_OFFSCREEN_ERROR_EGL,
                   "EGL has no desktop OpenGL (error 0x%04x)", eglGetError ());
      return NULL;
    }
  /* A config is optional with EGL_KHR_no_config_context; choose one anyway when possible. */
  EGLConfig cfg = NULL;
  EGLint n_cfg = 0;
  const EGLint cfg_attr[] = {
    EGL_RENDERABLE_TYPE, EGL_OPENGL_BIT, EGL_RED_SIZE, 8, EGL_GREEN_SIZE, 8,
    EGL_BLUE_SIZE, 8, EGL_NONE,
  };
  if (!eglChooseConfig (o->dpy, cfg_attr, &cfg, 1, &n_cfg) || n_cfg < 1)
    cfg = NULL;
  static const EGLint versions[][2] = { { 4, 5 }, { 3, 3 } };
  for (gsize i = 0; i < G_N_ELEMENTS (versions) && o->ctx == EGL_NO_CONTEXT; i++)
    {
      const EGLint ctx_attr[] = {
        EGL_CONTEXT_MAJOR_VERSION, versions[i][0], EGL_CONTEXT_MINOR_VERSION, versions[i][1],
        EGL_CONTEXT_OPENGL_PROFILE_MASK, EGL_CONTEXT_OPENGL_CORE_PROFILE_BIT, EGL_NONE,
      };
      o->ctx = eglCreateContext (o->dpy, cfg, EGL_NO_CONTEXT, ctx_attr);
    }
  if (o->ctx == EGL_NO_CONTEXT)
    {
      g_set_error (error, AR_OFFSCREEN_ERROR, AR_OFFSCREEN_ERROR_EGL,
                   "Cannot create an OpenGL 3.3 core context (EGL error 0x%04x)", eglGetError ());
      return NULL;
    }
  if (!eglMakeCurrent (o->dpy, EGL_NO_SURFACE, EGL_NO_SURFACE, o->ctx))
    {
      g_set_error (error, AR_OFFSCREEN_ERROR, AR_OFFSCREEN_ERROR_EGL,
                   "Cannot make the surfaceless context current (EGL error 0x%04x)",
                   eglGetError ());
      return NULL;
    }
  o->description = g_strdup_printf ("OpenGL %s / %s", (const char *) glGetString (GL_VERSION),
                                    (const char *) glGetString (GL_RENDERER));
  glGenRenderbuffers (1, &o->color);
  glBindRenderbuffer (GL_RENDERBUFFER, o->color);
  glRenderbufferStorage (GL_RENDERBUFFER, GL_RGBA8, width, height);
  glGenFramebuffers (1, &o->fbo);
  glBindFramebuffer (GL_FRAMEBUFFER, o->fbo);
  glFramebufferRenderbuffer (GL_FRAMEBUFFER, GL_COLOR_ATTACHMENT0, GL_RENDERBUFFER, o->color);
  GLenum st = glCheckFramebufferStatus (GL_FRAMEBUFFER);
  if (st != GL_FRAMEBUFFER_COMPLETE)
    {
      g_set_error (error, AR_OFFSCREEN_ERROR, AR_OFFSCREEN_ERROR_GL,
                   "Cannot create a %dx%d framebuffer (status 0x%04x)", width, height, st);
      return NULL;
    }
  return g_steal_pointer (&o);
}

void
ar_offscreen_free (ArOffscreen *o)
{
  if (!o)
    return;
  if (o->dpy != EGL_NO_DISPLAY)
    {
      if (o->ctx != EGL_NO_CONTEXT)
        {
          if (eglGetCurrentContext () == o->ctx)
            {
              glDeleteFramebuffers (1, &o->fbo);
              glDeleteRenderbuffers (1, &o->color);
            }
          eglMakeCurrent (o->dpy, EGL_NO_SURFACE, EGL_NO_SURFACE, EGL_NO_CONTEXT);
          eglDestroyContext (o->dpy, o->ctx);
        }
      eglTerminate (o->dpy);
    }
  g_free (o->description);
  g_free (o);
}

guint
ar_offscreen_get_fbo (const ArOffscreen *o)
{
  return o->fbo;
}

const char *
ar_offscreen_get_description (const ArOffscreen *o)
{
  return o->description;
}

guint8 *
ar_offscreen_read_rgba (ArOffscreen *o)
{
  gsize row = (gsize) o->width * 4;
  guint8 *px = g_malloc (row * o->height);
  g_autofree guint8 *tmp = g_malloc (row);
  glBindFramebuffer (GL_READ_FRAMEBUFFER, o->fbo);
  glReadBuffer (GL_COLOR_ATTACHMENT0);
  glPixelStorei (GL_PACK_ALIGNMENT, 1);
  glReadPixels (0, 0, o->width, o->height, GL_RGBA, GL_UNSIGNED_BYTE, px);
  /* GL's first row is the bottom one. */
  for (int y = 0; y < o->height / 2; y++)
    {
      guint8 *a = px + row * y, *b = px + row * (o->height - 1 - y);
      memcpy (tmp, a, row);
      memcpy (a, b, row);
      memcpy (b, tmp, row);
    }
  return px;
}

/* ---- PNG ---- */

static void
put_be32 (GByteArray *out, guint32 v)
{
  guint8 b[4] = { v >> 24, v >> 16, v >> 8, v };
  g_byte_array_append (out, b, 4);
}

static void
put_chunk (GByteArray *out, const char type[4], const guint8 *data, gsize len)
{
  put_be32 (out, (guint32) len);
  gsize start = out->len;
  g_byte_array_append (out, (const guint8 *) type, 4);
  if (len)
    g_byte_array_append (out, data, (guint) len);
  uLong crc = crc32 (0L, out->data + start, (uInt) (len + 4));
  put_be32 (out, (guint32) crc);
}

gboolean
ar_png_write_rgba (const char *path, const guint8 *rgba, int width, int height, GError **error)
{
  g_autoptr (OutSet) own = out_set_new (FALSE);
  g_autoptr (GError) local = NULL;
  if (!ar_png_write_rgba_in (own, path, rgba, width, height, error))
    return FALSE;
  if (!out_set_commit (own, &local))
    {
      g_set_error (error, AR_OFFSCREEN_ERROR, AR_OFFSCREEN_ERROR_IO, "Cannot write %s: %s", path, local->message);
      return FALSE;
    }
  return TRUE;
}

gboolean
ar_png_write_rgba_in (OutSet *outputs, const char *path, const guint8 *rgba, int width, int height,
                      GError **error)
{
  if (width < 1 || height < 1)
    {
      g_set_error (error, AR_OFFSCREEN_ERROR, AR_OFFSCREEN_ERROR_INVALID,
                   "Cannot write %s: empty image", path);
      return FALSE;
    }
  /* Raw scanlines, each with filter byte: 2 (Up) compresses rendered images well. */
  gsize row = (gsize) width * 4, raw_len = (row + 1) * height;
  g_autofree guint8 *raw = g_malloc (raw_len);
  for (int y = 0; y < height; y++)
    {
      guint8 *dst = raw + (row + 1) * y;
      const guint8 *cur = rgba + row * y, *up = y ? rgba + row * (y - 1) : NULL;
      dst[0] = 2;
      for (gsize x = 0; x < row; x++)
        dst[1 + x] = (guint8) (cur[x] - (up ? up[x] : 0));
    }
  uLongf zlen = compressBound (raw_len);
  g_autofree guint8 *z = g_malloc (zlen);
  if (compress2 (z, &zlen, raw, raw_len, 6) != Z_OK)
    {
      g_set_error (error, AR_OFFSCREEN_ERROR, AR_OFFSCREEN_ERROR_IO,
                   "Cannot write %s: compression failed", path);
      return FALSE;
    }
  g_autoptr (GByteArray) out = g_byte_array_sized_new (zlen + 64);
  static const guint8 sig[8] = { 0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n' };
  g_byte_array_append (out, sig, 8);
  guint8 ihdr[13] = {
    width >> 24, width >> 16, width >> 8, width,
    height >> 24, height >> 16, height >> 8, height,
    8, 6, 0, 0, 0, /* 8 bits, RGBA, deflate, adaptive filters, no interlace */
  };
  put_chunk (out, "IHDR", ihdr, sizeof ihdr);
  put_chunk (out, "IDAT", z, zlen);
  put_chunk (out, "IEND", NULL, 0);
  g_autoptr (GError) local = NULL;
  OutFile *f = out_set_open (outputs, path, OUT_FILE_PLAIN, &local);
  if (f == NULL || !out_file_write (f, out->data, out->len, &local) || !out_file_finish (f, &local))
    {
      /* the message names the file already */
      g_set_error_literal (error, AR_OFFSCREEN_ERROR, AR_OFFSCREEN_ERROR_IO, local->message);
      return FALSE;
    }
  return TRUE;
}
