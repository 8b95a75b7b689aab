/* test-nrrd-util.h: what the parts of test-nrrd share: the temporary folder, files written
 * by hand (plain or gzip), reads that must fail or succeed, a test volume and its checks;
 * and the cases each part defines (test-nrrd.c registers them all). */
#pragma once

#include "label-file.h"
#include "nifti.h"
#include "nrrd.h"
#include "out-file.h"

#include <glib.h>

extern char *tmpdir;

/* tmpdir/@name (to free) */
char *tmp_path (const char *name);
/* tmpdir/@name holding the @len bytes of @data; its path (to free) */
char *write_file (const char *name, const void *data, gsize len);
/* @n bytes as one gzip member (level 6). */
GByteArray *gzip_bytes (const void *data, gsize n);
/* A file of @header followed by @data (gzip-compressed here when @gz). */
char *write_nrrd (const char *name, const char *header, const void *data, gsize n, gboolean gz);
/* The error of nrrd_read on @path, which must give neither volume nor table. */
GError *read_error (const char *path, const NrrdReadOptions *opt);
/* nrrd_read must fail on @path with @code, naming @path (or @named) and saying @words. */
void expect_error (const char *path, int code, const char *words, const char *named);
/* nrrd_read of @path, which must succeed. */
LabelVolume *read_ok (const char *path, LabelTable **t, NrrdReadInfo *info);
/* A 23×17×11 volume with an oblique, anisotropic, shifted affine (RAS) and a pattern of
 * labels up to @max_label (negative ones too when @negative). */
LabelVolume *make_volume (int bpv, int32_t max_label, gboolean negative);
/* same size and voxels, affines within @tol */
void assert_same_volume (const LabelVolume *a, const LabelVolume *b, double tol);
/* the affine of @v is @want (within @tol) over a last row 0 0 0 1 */
void assert_affine (const LabelVolume *v, const double want[3][4], double tol);

/* test-nrrd-read.c: geometry, types and encodings, detached headers, hostile input */
void test_lps_vs_nifti (void);
void test_spaces (void);
void test_oblique (void);
void test_types_encodings (void);
void test_detached (void);
void test_hostile (void);

/* test-nrrd-segments.c: 3D Slicer segmentations */
void test_slicer_3d (void);
void test_slicer_layers (void);
void test_real_slicer (void);
