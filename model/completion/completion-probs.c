/* completion-probs.c: the network's probabilities behind a completion (see
 * completion-probs.h). */
#include "completion-probs.h"

#include <string.h>

#define MAX_CLASSES 64

struct _CompletionProbs {
  CompletionFrame frame;
  int C;                        /* the network's classes */
  int n_kept;
  int slot[MAX_CLASSES];        /* class -> its plane in probs, or -1 */
  float *probs;                 /* (n_kept, D, H, W) */
  int64_t dims[3];
  CompletionConfidence confidence[MAX_CLASSES];
};

CompletionProbs *
completion_probs_new (const CompletionFrame *f, const float *probs, int C, const gboolean *keep,
                      const LabelVolume *input)
{
  g_return_val_if_fail (C > 0 && C <= MAX_CLASSES, NULL);
  const gsize plane = (gsize) f->grid[0] * f->grid[1] * f->grid[2];
  int slot[MAX_CLASSES], n_kept = 0;
  for (int c = 0; c < C; c++)
    slot[c] = keep == NULL || keep[c] ? n_kept++ : -1;
  float *copy = g_try_new (float, MAX ((gsize) n_kept * plane, 1));
  if (copy == NULL)
    return NULL;
  for (int c = 0; c < C; c++)
    if (slot[c] >= 0)
      memcpy (copy + (gsize) slot[c] * plane, probs + (gsize) c * plane, plane * sizeof (float));
  CompletionProbs *p = g_new0 (CompletionProbs, 1);
  p->frame = *f;
  p->C = C;
  p->n_kept = n_kept;
  memcpy (p->slot, slot, (gsize) C * sizeof (int));
  p->probs = copy;
  p->dims[0] = input->nx;
  p->dims[1] = input->ny;
  p->dims[2] = input->nz;
  return p;
}

void
completion_probs_free (CompletionProbs *p)
{
  if (p == NULL)
    return;
  g_free (p->probs);
  g_free (p);
}

int
completion_probs_get_n_classes (const CompletionProbs *p)
{
  return p->C;
}

void
completion_probs_get_dims (const CompletionProbs *p, int64_t dims[3])
{
  memcpy (dims, p->dims, sizeof p->dims);
}

float
completion_probs_at (const CompletionProbs *p, int c, double i, double j, double k)
{
  if (c < 0 || c >= p->C || p->slot[c] < 0)
    return 0.0f;
  float v;
  completion_frame_probs_at (&p->frame, p->probs, p->n_kept, &p->slot[c], 1, i, j, k, &v);
  return v;
}

void
completion_probs_row (const CompletionProbs *p, int c, int64_t j, int64_t k, float *row)
{
  for (int64_t i = 0; i < p->dims[0]; i++)
    row[i] = completion_probs_at (p, c, (double) i, (double) j, (double) k);
}

void
completion_probs_measure (CompletionProbs *p, const LabelVolume *free_of, const LabelVolume *out)
{
  double sum[MAX_CLASSES] = { 0 };
  int64_t low[MAX_CLASSES] = { 0 };
  memset (p->confidence, 0, sizeof p->confidence);
  int64_t idx = 0;
  for (int64_t k = 0; k < out->nz; k++)
    for (int64_t j = 0; j < out->ny; j++)
      for (int64_t i = 0; i < out->nx; i++, idx++)
        {
          int32_t c = lv_volume_get_index (out, idx);
          if (c <= 0 || c >= p->C || p->slot[c] < 0 || lv_volume_get_index (free_of, idx) != 0)
            continue;
          float v = completion_probs_at (p, c, (double) i, (double) j, (double) k);
          p->confidence[c].voxels++;
          sum[c] += v;
          low[c] += v < 0.5f;
        }
  for (int c = 0; c < p->C; c++)
    if (p->confidence[c].voxels > 0)
      {
        p->confidence[c].mean = sum[c] / (double) p->confidence[c].voxels;
        p->confidence[c].below_half = (double) low[c] / (double) p->confidence[c].voxels;
      }
}

const CompletionConfidence *
completion_probs_get_confidence (const CompletionProbs *p, int c)
{
  static const CompletionConfidence none = { 0 };
  return c >= 0 && c < p->C ? &p->confidence[c] : &none;
}
