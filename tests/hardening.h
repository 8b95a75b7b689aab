/* hardening.h: what the files of test-hardening share (test-hardening.c: helpers, writers,
 * cancellation, resource limits and the main; hardening-inputs.c: FIFOs, many labels, models,
 * NIfTI, tables and NRRD; hardening-outputs.c: the output rules and no litter). */
#pragma once

#include "completion.h"
#include "label-file.h"
#include "label-table.h"
#include "mesh.h"
#include "nifti.h"
#include "nn-net.h"
#include "nn-safetensors.h"
#include "out-file.h"
#include "phantom.h"
#include "renderer.h"
#include "scene.h"
#define TEST_UTIL_NN
#include "test-util.h"

#include <errno.h>
#include <fcntl.h>
#include <time.h>
#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zlib.h>
#include <gio/gio.h>
#include <json-glib/json-glib.h>
#include <glib/gstdio.h>

/* The outcome of a command run with a deadline. */
typedef struct {
  gboolean finished;   /* FALSE: killed at the deadline */
  int status;          /* wait status */
  char *out, *err;
} CliRun;
void cli_run_clear (CliRun *r);
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (CliRun, cli_run_clear)

typedef struct {
  rlim_t address_space;  /* 0: unlimited */
} ChildLimits;

/* Memory the peak-RSS bounds allow for the sanitizer. */
#if defined(__SANITIZE_ADDRESS__)
#define ASAN_SLACK_MIB 320   /* AddressSanitizer keeps up to 256 MiB of freed memory in quarantine */
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define ASAN_SLACK_MIB 320
#endif
#endif
#ifndef ASAN_SLACK_MIB
#define ASAN_SLACK_MIB 0
#endif

/* helpers (test-hardening.c) */
char *tmp_path (const char *name);
char *dir_listing (const char *dir);
char *fresh_dir (const char *name);
GBytes *read_bytes (const char *path);
LabelTable *make_table (int n);
LabelVolume *ball_volume (int n, int r);
NnNet *tiny_net (int w0, int grid);
/* @path holding ball_volume (@n, @r) as NIfTI / tiny_net (@w0, @grid) as safetensors */
void write_ball (const char *path, int n, int r);
void write_tiny_net (const char *path, int w0, int grid);
GBytes *safetensors_bytes (const char *json, gsize len);

/* hardening-inputs.c */
void run_anatomy (CliRun *r, double seconds, const ChildLimits *limits, ...);
void assert_refused (const CliRun *r, const char *path, const char *what);

/* hardening-outputs.c */
void write_text (const char *path, const char *text);
void assert_text (const char *path, const char *text);

/* the tests of hardening-inputs.c and hardening-outputs.c */
void test_cli_broken_table_beside (void);
void test_cli_complete_outputs (void);
void test_cli_complete_refuses_useless (void);
void test_cli_force_everywhere (void);
void test_cli_interrupted_writes_leave_nothing (void);
void test_cli_mask_folder_outputs (void);
void test_cli_refuses_fifos_and_devices (void);
void test_cli_render_many_labels (void);
void test_cli_render_outputs (void);
void test_model_problems_named (void);
void test_nifti_geometry_warnings (void);
void test_nifti_gzip_trailer (void);
void test_nifti_read_cancelled (void);
void test_nifti_vox_offset_messages (void);
void test_nrrd_rules (void);
void test_out_set_rules (void);
void test_out_file_large_round_trip (void);
void test_readers_refuse_fifos (void);
void test_renderer_many_meshes (void);
void test_scene_label_limits (void);
void test_stale_temporaries_cleaned (void);
