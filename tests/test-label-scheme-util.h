/* test-label-scheme-util.h: what the two parts of the label-scheme test share: the
 * expected mapping, written from TotalSegmentator's map_to_binary.py ranges independently
 * of the data files, the schemes by name, and the real label maps of ../shared/real. */
#pragma once

#include "label-scheme.h"

typedef struct {
  int32_t first, last, organ;
} Range;

extern const Range v2_ranges[11];
extern const Range v1_ranges[12];
extern const Range amos_ranges[6];

/* The organ of @id by the @n ranges @r (0 outside them). */
int32_t expected_organ (const Range *r, gsize n, int32_t id);
/* The scheme called @name, which must exist. */
const LabelScheme *get (const char *name);
/* ../shared/real/@name, or $AR_REAL_DIR/@name (to free). */
char *real_path (const char *name);
/* The real file @name, or NULL after marking the test skipped. */
char *real_file_or_skip (const char *name);

/* test-label-scheme-detect.c: detection, unnamed volumes and resolving, mapping volumes */
void test_detect_tables (void);
void test_detect_names (void);
void test_detect_caret_xml (void);
void test_detect_real_nifti (void);
void test_unnamed (void);
void test_resolve (void);
void test_map_synthetic (void);
void test_map_real_s0004 (void);
void test_map_real_other (void);
