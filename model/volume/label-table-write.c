/* label-table-write.c: writing a label table as an ITK-SNAP label description file, and
 * as the Caret XML that TotalSegmentator stores in a NIfTI header extension.
 *
 * The file goes through OutFile (out-file.h): written beside the destination, fsynced, then
 * moved into place, never replacing an existing file unless asked.
 */
#include "label-table.h"
#include "out-file.h"

#include <string.h>

static char *
itksnap_text (const LabelTable *t)
{
  GString *s = g_string_new (NULL);
  g_autofree char *src = g_path_get_basename (t->source != NULL ? t->source : "built-in");

  g_strdelimit (src, "\r\n", ' ');
  g_string_append (s,
    "################################################\n"
    "# ITK-SnAP Label Description File\n");
  g_string_append_printf (s, "# Written by anatomy-reconstruction from %s\n", src);
  g_string_append (s,
    "# File format: \n"
    "# IDX   -R-  -G-  -B-  -A--  VIS MSH  LABEL\n"
    "# Fields: \n"
    "#    IDX:   Zero-based index \n"
    "#    -R-:   Red color component (0..255)\n"
    "#    -G-:   Green color component (0..255)\n"
    "#    -B-:   Blue color component (0..255)\n"
    "#    -A-:   Label transparency (0.00 .. 1.00)\n"
    "#    VIS:   Label visibility (0 or 1)\n"
    "#    MSH:   Label mesh visibility (0 or 1)\n"
    "#  LABEL:   Label description \n"
    "################################################\n");
  for (guint i = 0; i < t->entries->len; i++)
    {
      const LabelEntry *e = &g_array_index (t->entries, LabelEntry, i);
      char alpha[G_ASCII_DTOSTR_BUF_SIZE];
      g_autofree char *name = g_strdup (e->name != NULL ? e->name : "");
      int vis = e->rgba[3] > 0;

      /* The format has no escapes: quotes and line breaks cannot appear in a name. */
      g_strdelimit (name, "\"", '\'');
      g_strdelimit (name, "\r\n\t\f\v", ' ');
      g_ascii_formatd (alpha, sizeof alpha, "%.4f", e->rgba[3] / 255.0);
      g_string_append_printf (s, "%5d %5d %4d %4d %9s %2d %2d    \"%s\"\n",
                              e->id, e->rgba[0], e->rgba[1], e->rgba[2], alpha, vis, vis, name);
    }
  return g_string_free (s, FALSE);
}

static void
set_exists_error (GError **error, const char *path)
{
  g_set_error (error, LT_ERROR, LT_ERROR_IO, "%s: already exists (not overwritten)", path);
}

/* Every failure is LT_ERROR_IO; the message names the file. */
static gboolean
propagate (GError **error, GError *local, const char *path)
{
  if (g_error_matches (local, OUT_FILE_ERROR, OUT_FILE_ERROR_EXISTS))
    set_exists_error (error, path);
  else
    g_set_error_literal (error, LT_ERROR, LT_ERROR_IO, local->message);
  g_error_free (local);
  return FALSE;
}

gboolean
lt_table_save_itksnap_in (OutSet *outputs, const LabelTable *t, const char *path, GError **error)
{
  g_autofree char *text = NULL;
  GError *local = NULL;

  g_return_val_if_fail (t != NULL && path != NULL, FALSE);

  if (t->entries->len == 0)
    {
      g_set_error (error, LT_ERROR, LT_ERROR_EMPTY, "%s: the label table is empty, nothing to write", path);
      return FALSE;
    }
  text = itksnap_text (t);
  OutFile *f = out_set_open (outputs, path, OUT_FILE_PLAIN, &local);
  if (f != NULL && out_file_write (f, text, strlen (text), &local) && out_file_finish (f, &local))
    return TRUE;
  return propagate (error, local, path);
}

gboolean
lt_table_save_itksnap (const LabelTable *t, const char *path, gboolean overwrite, GError **error)
{
  g_autoptr (OutSet) own = out_set_new (overwrite);
  GError *local = NULL;
  if (!lt_table_save_itksnap_in (own, t, path, error))
    return FALSE;
  if (!out_set_commit (own, &local))
    return propagate (error, local, path);
  return TRUE;
}

/* @name as CDATA content: valid UTF-8, control characters (which XML 1.0 forbids) as
 * spaces, and "]]>" split across two sections. */
static void
append_cdata (GString *s, const char *name)
{
  g_autofree char *valid = g_utf8_make_valid (name != NULL ? name : "", -1);
  g_string_append (s, "<![CDATA[");
  for (const char *p = valid; *p != '\0'; p++)
    {
      if (g_str_has_prefix (p, "]]>"))
        {
          g_string_append (s, "]]]]><![CDATA[>");
          p += 2;
        }
      else
        g_string_append_c (s, (guchar) *p < 0x20 ? ' ' : *p);
    }
  g_string_append (s, "]]>");
}

static void
append_unit (GString *s, const char *attr, guint8 v)
{
  char buf[G_ASCII_DTOSTR_BUF_SIZE];
  g_string_append_printf (s, " %s=\"%s\"", attr, g_ascii_formatd (buf, sizeof buf, "%.6g", v / 255.0));
}

char *
lt_table_dup_caret_xml (const LabelTable *t, gsize *len)
{
  GString *s = g_string_new ("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<CaretExtension>\n"
                             "  <VolumeInformation Index=\"0\">\n    <LabelTable>\n");
  for (guint i = 0; i < t->entries->len; i++)
    {
      const LabelEntry *e = &g_array_index (t->entries, LabelEntry, i);
      if (e->id == 0)
        continue;   /* background is implicit, as in TotalSegmentator's files */
      g_string_append_printf (s, "      <Label Key=\"%d\"", e->id);
      append_unit (s, "Red", e->rgba[0]);
      append_unit (s, "Green", e->rgba[1]);
      append_unit (s, "Blue", e->rgba[2]);
      append_unit (s, "Alpha", e->rgba[3]);
      g_string_append_c (s, '>');
      append_cdata (s, e->name);
      g_string_append (s, "</Label>\n");
    }
  g_string_append (s, "    </LabelTable>\n    <VolumeType><![CDATA[Label]]></VolumeType>\n"
                      "  </VolumeInformation>\n</CaretExtension>\n");
  /* spaces up to the extension's 16-byte size (8 header bytes), so that readers that take
   * the whole extension as the XML see no NUL padding */
  while ((s->len + 8) % 16 != 0)
    g_string_append_c (s, ' ');
  if (len != NULL)
    *len = s->len;
  return g_string_free (s, FALSE);
}
