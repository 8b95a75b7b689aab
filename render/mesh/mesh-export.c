/* mesh-export.c: OBJ (+MTL), binary PLY and binary STL writers.
 *
 * Every file goes through out-file.h (a temporary beside the target, fsync'ed and moved
 * into place), so readers never see a half-written mesh.  Without overwrite, existing
 * targets are refused up front, and the final move itself never replaces a file.
 * Numbers are written in the C locale whatever the process locale.
 */
#include "mesh-private.h"

#include <errno.h>
#include <locale.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "out-file.h"

/* out-file's errors as this module's (their messages name the file). */
static gboolean
mesh_error_from_out_file (GError **error)
{
  if (error && *error && (*error)->domain == OUT_FILE_ERROR)
    {
      (*error)->code = (*error)->code == OUT_FILE_ERROR_EXISTS ? MESH_ERROR_EXISTS : MESH_ERROR_IO;
      (*error)->domain = MESH_ERROR;
    }
  return FALSE;
}

MeshFormat
mesh_format_from_name (const char *s)
{
  if (s == NULL)
    return MESH_FORMAT_AUTO;
  const char *dot = strrchr (s, '.');
  const char *ext = dot ? dot + 1 : s;
  if (g_ascii_strcasecmp (ext, "obj") == 0)
    return MESH_FORMAT_OBJ;
  if (g_ascii_strcasecmp (ext, "ply") == 0)
    return MESH_FORMAT_PLY;
  if (g_ascii_strcasecmp (ext, "stl") == 0)
    return MESH_FORMAT_STL;
  return MESH_FORMAT_AUTO;
}

/* A name usable as OBJ group / material and in file names: [A-Za-z0-9._-], others '_'. */
static char *
safe_name (const LabelTable *t, int32_t id)
{
  char buf[64];
  const char *n = lt_table_get_name (t, id, buf, sizeof buf);
  char *s = g_strdup (n && *n ? n : "label");
  for (char *p = s; *p; p++)
    if (!g_ascii_isalnum (*p) && *p != '.' && *p != '-' && *p != '_')
      *p = '_';
  return s;
}

static void
put_le32 (uint8_t *p, uint32_t v)
{
  p[0] = (uint8_t) v;
  p[1] = (uint8_t) (v >> 8);
  p[2] = (uint8_t) (v >> 16);
  p[3] = (uint8_t) (v >> 24);
}

static void
put_f32 (uint8_t *p, float f)
{
  uint32_t u;
  memcpy (&u, &f, 4);
  put_le32 (p, u);
}

/* ---- OBJ ---- */

/* Decimal text of @v with 4 digits after the point, trailing zeros dropped (the C
 * locale's format, whatever the process locale); returns the end. */
static char *
fmt_fixed4 (char *p, float v)
{
  if (!isfinite (v))
    v = 0;
  double d = v;
  if (d < 0)
    {
      *p++ = '-';
      d = -d;
    }
  uint64_t n = (uint64_t) (d * 10000.0 + 0.5);
  uint64_t ip = n / 10000, fp = n % 10000;
  char tmp[24];
  int k = 0;
  do
    tmp[k++] = (char) ('0' + ip % 10);
  while ((ip /= 10) > 0);
  while (k > 0)
    *p++ = tmp[--k];
  if (fp)
    {
      *p++ = '.';
      char f[4];
      for (int i = 3; i >= 0; i--, fp /= 10)
        f[i] = (char) ('0' + fp % 10);
      int last = 3;
      while (f[last] == '0')
        last--;
      for (int i = 0; i <= last; i++)
        *p++ = f[i];
    }
  return p;
}

static char *
fmt_u64 (char *p, uint64_t v)
{
  char tmp[24];
  int k = 0;
  do
    tmp[k++] = (char) ('0' + v % 10);
  while ((v /= 10) > 0);
  while (k > 0)
    *p++ = tmp[--k];
  return p;
}

static gboolean
write_obj (FILE *f, const char *mtl_name, SurfaceMesh *const *meshes, guint n, const LabelTable *t)
{
  fprintf (f, "# anatomy mesh export: %u surfaces\nmtllib %s\n", n, mtl_name);
  uint64_t base = 1;
  char line[160];
  for (guint i = 0; i < n; i++)
    {
      const SurfaceMesh *m = meshes[i];
      g_autofree char *name = safe_name (t, m->label);
      fprintf (f, "o %s\ng %s\nusemtl %s\n", name, name, name);
      for (int pass = 0; pass < 2; pass++)
        for (uint32_t v = 0; v < m->n_vertices; v++)
          {
            const float *x = (pass ? m->normals : m->positions) + 3 * (gsize) v;
            char *p = line;
            *p++ = 'v';
            if (pass)
              *p++ = 'n';
            for (int d = 0; d < 3; d++)
              {
                *p++ = ' ';
                p = fmt_fixed4 (p, x[d]);
              }
            *p++ = '\n';
            fwrite (line, 1, (size_t) (p - line), f);
          }
      for (uint32_t tr = 0; tr < m->n_triangles; tr++)
        {
          const uint32_t *x = m->indices + 3 * (gsize) tr;
          char *p = line;
          *p++ = 'f';
          for (int c = 0; c < 3; c++)
            {
              *p++ = ' ';
              p = fmt_u64 (p, base + x[c]);
              *p++ = '/';
              *p++ = '/';
              p = fmt_u64 (p, base + x[c]);
            }
          *p++ = '\n';
          fwrite (line, 1, (size_t) (p - line), f);
        }
      base += m->n_vertices;
    }
  return !ferror (f);
}

static gboolean
write_mtl (FILE *f, SurfaceMesh *const *meshes, guint n, const LabelTable *t)
{
  fprintf (f, "# anatomy mesh export: one material per label\n");
  for (guint i = 0; i < n; i++)
    {
      guint8 c[4];
      lt_table_get_color (t, meshes[i]->label, c);
      g_autofree char *name = safe_name (t, meshes[i]->label);
      fprintf (f, "newmtl %s\nKa %.4f %.4f %.4f\nKd %.4f %.4f %.4f\nKs 0.2 0.2 0.2\nNs 20\nd %.4f\nillum 2\n\n",
               name, c[0] / 255.0 * 0.2, c[1] / 255.0 * 0.2, c[2] / 255.0 * 0.2,
               c[0] / 255.0, c[1] / 255.0, c[2] / 255.0, c[3] / 255.0);
    }
  return !ferror (f);
}

/* ---- PLY ---- */

/* Records are encoded into one block and written a block at a time (a call of fwrite per
 * 28-byte record costs more than the encoding). */
#define PLY_BLOCK (1 << 20)

/* Room for a record of @size bytes at the end of @block (@used bytes filled), the block
 * written out first when the record would not fit; NULL when that write fails. */
static uint8_t *
ply_record (FILE *f, uint8_t *block, gsize *used, gsize size)
{
  if (*used + size > PLY_BLOCK)
    {
      if (fwrite (block, 1, *used, f) != *used)
        return NULL;
      *used = 0;
    }
  uint8_t *rec = block + *used;
  *used += size;
  return rec;
}

static gboolean
write_ply (FILE *f, SurfaceMesh *const *meshes, guint n, const LabelTable *t)
{
  uint64_t nv = 0, nt = 0;
  for (guint i = 0; i < n; i++)
    {
      nv += meshes[i]->n_vertices;
      nt += meshes[i]->n_triangles;
    }
  fprintf (f, "ply\nformat binary_little_endian 1.0\ncomment anatomy mesh export\n"
              "element vertex %" G_GUINT64_FORMAT "\n"
              "property float x\nproperty float y\nproperty float z\n"
              "property float nx\nproperty float ny\nproperty float nz\n"
              "property uchar red\nproperty uchar green\nproperty uchar blue\nproperty uchar alpha\n"
              "element face %" G_GUINT64_FORMAT "\n"
              "property list uchar int vertex_indices\nproperty int label\nend_header\n", nv, nt);
  g_autofree uint8_t *block = g_malloc (PLY_BLOCK);
  gsize used = 0;
  /* vertex records: x y z nx ny nz (float32) r g b a (uint8), 28 bytes */
  for (guint i = 0; i < n; i++)
    {
      const SurfaceMesh *m = meshes[i];
      guint8 c[4];
      lt_table_get_color (t, m->label, c);
      for (uint32_t v = 0; v < m->n_vertices; v++)
        {
          uint8_t *rec = ply_record (f, block, &used, 28);
          if (rec == NULL)
            return FALSE;
          for (int d = 0; d < 3; d++)
            {
              put_f32 (rec + 4 * d, m->positions[3 * (gsize) v + d]);
              put_f32 (rec + 12 + 4 * d, m->normals[3 * (gsize) v + d]);
            }
          memcpy (rec + 24, c, 4);
        }
    }
  /* face records: 3 (uint8) a b c label (int32), 17 bytes */
  uint64_t base = 0;
  for (guint i = 0; i < n; i++)
    {
      const SurfaceMesh *m = meshes[i];
      for (uint32_t tr = 0; tr < m->n_triangles; tr++)
        {
          uint8_t *rec = ply_record (f, block, &used, 17);
          if (rec == NULL)
            return FALSE;
          rec[0] = 3;
          for (int c = 0; c < 3; c++)
            put_le32 (rec + 1 + 4 * c, (uint32_t) (base + m->indices[3 * (gsize) tr + c]));
          put_le32 (rec + 13, (uint32_t) m->label);
        }
      base += m->n_vertices;
    }
  if (used > 0 && fwrite (block, 1, used, f) != used)
    return FALSE;
  return !ferror (f);
}

/* ---- STL ---- */

static gboolean
write_stl (FILE *f, SurfaceMesh *const *meshes, guint n, const LabelTable *t)
{
  uint64_t nt = 0;
  for (guint i = 0; i < n; i++)
    nt += meshes[i]->n_triangles;
  uint8_t head[84] = { 0 };
  char title[80];
  memset (title, ' ', sizeof title);
  int len = g_snprintf (title, sizeof title, "anatomy mesh export: %u surfaces", n);
  memcpy (head, title, (size_t) MIN (len, 79));
  put_le32 (head + 80, (uint32_t) nt);
  if (fwrite (head, 84, 1, f) != 1)
    return FALSE;
  uint8_t rec[50] = { 0 };
  for (guint i = 0; i < n; i++)
    {
      const SurfaceMesh *m = meshes[i];
      for (uint32_t tr = 0; tr < m->n_triangles; tr++)
        {
          const uint32_t *x = m->indices + 3 * (gsize) tr;
          const float *p[3] = { m->positions + 3 * (gsize) x[0], m->positions + 3 * (gsize) x[1],
                                m->positions + 3 * (gsize) x[2] };
          float u[3], w[3], nn[3];
          for (int d = 0; d < 3; d++)
            {
              u[d] = p[1][d] - p[0][d];
              w[d] = p[2][d] - p[0][d];
            }
          nn[0] = u[1] * w[2] - u[2] * w[1];
          nn[1] = u[2] * w[0] - u[0] * w[2];
          nn[2] = u[0] * w[1] - u[1] * w[0];
          float l = sqrtf (nn[0] * nn[0] + nn[1] * nn[1] + nn[2] * nn[2]);
          for (int d = 0; d < 3; d++)
            {
              put_f32 (rec + 4 * d, l > 0 ? nn[d] / l : 0.0f);
              for (int c = 0; c < 3; c++)
                put_f32 (rec + 12 + 12 * c + 4 * d, p[c][d]);
            }
          if (fwrite (rec, 50, 1, f) != 1)
            return FALSE;
        }
    }
  return !ferror (f);
}

/* "dir/name.ext" -> "dir/name" (a dot in a folder name is not an extension). */
static char *
path_without_extension (const char *path)
{
  const char *dot = strrchr (path, '.');
  const char *slash = strrchr (path, '/');
  return dot && (!slash || dot > slash) ? g_strndup (path, (gsize) (dot - path)) : g_strdup (path);
}

/* Write one file (and for OBJ its MTL) holding @meshes, as outputs of @set (finished,
 * not moved into place). */
static gboolean
write_one (OutSet *set, const char *path, MeshFormat fmt, SurfaceMesh *const *meshes, guint n,
           const MeshExportOptions *opts, GError **error)
{
  g_autofree char *mtl_path = NULL;
  if (fmt == MESH_FORMAT_OBJ)
    {
      g_autofree char *stem = path_without_extension (path);
      mtl_path = g_strconcat (stem, ".mtl", NULL);
    }
  /* the MTL, opened second, is moved into place before the OBJ that names it */
  OutFile *o = out_set_open (set, path, OUT_FILE_PLAIN, error);
  if (!o)
    return mesh_error_from_out_file (error);
  OutFile *mtl = NULL;
  if (mtl_path && !(mtl = out_set_open (set, mtl_path, OUT_FILE_PLAIN, error)))
    return mesh_error_from_out_file (error);
  FILE *f = out_file_get_stream (o), *fm = mtl ? out_file_get_stream (mtl) : NULL;
  gboolean ok = f && (!mtl || fm);
  errno = 0;
  if (ok)
    switch (fmt)
      {
      case MESH_FORMAT_OBJ:
        {
          g_autofree char *mtl_base = g_path_get_basename (mtl_path);
          ok = write_obj (f, mtl_base, meshes, n, opts->table) && write_mtl (fm, meshes, n, opts->table);
        }
        break;
      case MESH_FORMAT_PLY:
        ok = write_ply (f, meshes, n, opts->table);
        break;
      default:
        ok = write_stl (f, meshes, n, opts->table);
        break;
      }
  if (!ok)
    {
      g_set_error (error, MESH_ERROR, MESH_ERROR_IO, "Cannot write %s: %s", path,
                   g_strerror (errno ? errno : EIO));
      return FALSE;
    }
  /* closed now: a thousand per-label files do not hold a thousand descriptors */
  if ((mtl && !out_file_finish (mtl, error)) || !out_file_finish (o, error))
    return mesh_error_from_out_file (error);
  return TRUE;
}

gboolean
mesh_export (const SurfaceSet *set, const char *path, const MeshExportOptions *opts_in,
             GError **error)
{
  MeshExportOptions opts = { 0 };
  if (opts_in)
    opts = *opts_in;
  MeshFormat fmt = opts.format != MESH_FORMAT_AUTO ? opts.format : mesh_format_from_name (path);
  if (fmt == MESH_FORMAT_AUTO)
    {
      g_set_error (error, MESH_ERROR, MESH_ERROR_INVALID,
                   "Cannot tell the mesh format of %s: use .obj, .ply or .stl", path);
      return FALSE;
    }
  if (set->n_meshes == 0)
    {
      g_set_error (error, MESH_ERROR, MESH_ERROR_INVALID, "Nothing to write to %s: no surfaces", path);
      return FALSE;
    }
  static const char *const exts[] = { "", "obj", "ply", "stl" };

  /* the list of target files */
  GPtrArray *targets = g_ptr_array_new_with_free_func (g_free);
  if (opts.per_label)
    {
      g_autofree char *stem = path_without_extension (path);
      g_autoptr (GHashTable) used = g_hash_table_new (g_str_hash, g_str_equal);
      for (guint i = 0; i < set->n_meshes; i++)
        {
          g_autofree char *name = safe_name (opts.table, set->meshes[i]->label);
          char *p = g_strdup_printf ("%s_%s.%s", stem, name, exts[fmt]);
          if (g_hash_table_contains (used, p))
            {
              g_free (p);
              p = g_strdup_printf ("%s_%s_%d.%s", stem, name, set->meshes[i]->label, exts[fmt]);
            }
          g_hash_table_add (used, p);
          g_ptr_array_add (targets, p);
        }
    }
  else
    g_ptr_array_add (targets, g_strdup (path));

  /* every file is checked (exists, is an input or another output) when it is opened, and
   * none is moved into place before all are written */
  g_autoptr (OutSet) own = opts.outputs ? NULL : out_set_new (opts.overwrite);
  OutSet *outputs = opts.outputs ? opts.outputs : own;

  /* numbers in the C locale */
  locale_t c_loc = newlocale (LC_NUMERIC_MASK, "C", (locale_t) 0);
  locale_t old = c_loc ? uselocale (c_loc) : (locale_t) 0;
  gboolean ok = TRUE;
  if (opts.per_label)
    for (guint i = 0; ok && i < set->n_meshes; i++)
      ok = write_one (outputs, targets->pdata[i], fmt, &set->meshes[i], 1, &opts, error);
  else
    ok = write_one (outputs, path, fmt, set->meshes, set->n_meshes, &opts, error);
  /* all files written: into place together */
  if (ok && own && !out_set_commit (own, error))
    ok = mesh_error_from_out_file (error);
  if (c_loc)
    {
      uselocale (old);
      freelocale (c_loc);
    }
  g_ptr_array_unref (targets);
  return ok;
}
