/* fuzz-util.h: what the fuzz targets share (header only: each target is one file): the
 * folder they write in, the first input byte as the form of the input, and the checks of a
 * write + re-read round trip. */
#pragma once

#include "label-volume.h"

#include <glib.h>
#include <glib/gstdio.h>
#include <stdlib.h>
#include <string.h>

/* The folder of the target's files, made on the first call from @tmpl ("fuzz-NAME-XXXXXX");
 * NULL when it cannot be made. */
static inline const char *
fuzz_dir (const char *tmpl)
{
  static char *dir;
  if (dir == NULL)
    dir = g_dir_make_tmp (tmpl, NULL);
  return dir;
}

/* Takes the first byte off @data (@size bytes) and returns it modulo @n_forms: the form
 * the rest is written in; -1 for an empty input. */
static inline int
fuzz_take_form (const guint8 **data, size_t *size, int n_forms)
{
  if (*size == 0)
    return -1;
  int form = (*data)[0] % n_forms;
  (*data)++;
  (*size)--;
  return form;
}

/* The start of a target writing its input to files: takes the form off @data (see
 * fuzz_take_form, @n_forms forms) into *@form, and returns the path of the input in the
 * target's folder (fuzz_dir (@tmpl)), @names[form]; *@side is the path @side_name beside it
 * (for a data file), removed if a previous input left one.  NULL for an empty input. */
static inline char *
fuzz_begin (const char *tmpl, const char *const *names, int n_forms, const char *side_name, const guint8 **data,
            size_t *size, int *form, char **side)
{
  const char *dir = fuzz_dir (tmpl);
  *form = fuzz_take_form (data, size, n_forms);
  if (dir == NULL || *form < 0)
    return NULL;
  *side = g_build_filename (dir, side_name, NULL);
  g_unlink (*side);
  return g_build_filename (dir, names[*form], NULL);
}

/* @path holding the first @head of the @size bytes of @data and @rest (when not NULL) the
 * others: a header and its data file. */
static inline gboolean
fuzz_write_split (const char *path, const char *rest, const guint8 *data, size_t size, size_t head)
{
  head = MIN (head, size);
  if (!g_file_set_contents (path, (const char *) data, (gssize) head, NULL))
    return FALSE;
  return rest == NULL || g_file_set_contents (rest, (const char *) data + head, (gssize) (size - head), NULL);
}

/* The forms a target writes its input in (the first input byte picks one of four): form 1
 * by the target's own @write_compressed, form @split_form as a header and a data file, any
 * other as the bytes are. */
typedef struct {
  const char *tmpl;                /* fuzz_dir's template, "fuzz-NAME-XXXXXX" */
  const char *names[4];            /* the input's name in each form */
  const char *side_name;           /* the data file of the split form */
  int split_form;
  size_t split_at;                 /* the split form's header length, when @header_end is NULL */
  size_t (*header_end) (const guint8 *data, size_t size);
  gboolean (*write_compressed) (const char *path, const guint8 *data, size_t size);
} FuzzForms;

/* The start of a target: takes the form off @data (@size bytes) into *@form (see
 * fuzz_begin; @form may be NULL) and writes the rest in that form of @f.  Returns the path
 * of the input, or NULL for an empty input or one that could not be written. */
static inline char *
fuzz_write_input (const FuzzForms *f, const guint8 **data, size_t *size, int *form)
{
  int taken;
  g_autofree char *side = NULL;
  g_autofree char *path = fuzz_begin (f->tmpl, f->names, 4, f->side_name, data, size, &taken, &side);
  if (form != NULL)
    *form = taken;
  if (path == NULL)
    return NULL;
  gboolean ok;
  if (taken == 1)
    ok = f->write_compressed (path, *data, *size);
  else if (taken == f->split_form)
    ok = fuzz_write_split (path, side, *data, *size,
                           f->header_end != NULL ? f->header_end (*data, *size) : f->split_at);
  else
    ok = fuzz_write_split (path, NULL, *data, *size, *size);
  return ok ? g_steal_pointer (&path) : NULL;
}

/* Our own writer or reader failed on what the reader accepted: says @what and aborts. */
G_GNUC_NORETURN static inline void
fuzz_fail (const char *what, const GError *error)
{
  g_printerr ("%s: %s\n", what, error->message);
  abort ();
}

/* @w, read back from our own file, has the grid, voxel size and voxels of @v. */
static inline void
fuzz_assert_same_voxels (const LabelVolume *v, const LabelVolume *w)
{
  g_assert (w->nx == v->nx && w->ny == v->ny && w->nz == v->nz);
  g_assert (w->bytes_per_voxel == v->bytes_per_voxel);
  g_assert (memcmp (w->data, v->data, (size_t) lv_volume_n_voxels (v) * v->bytes_per_voxel) == 0);
}
