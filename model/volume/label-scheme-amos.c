/* label-scheme-amos.c: the AMOS 2022 scheme (15 abdominal organs) as data.
 *
 * Ids and names are those of the AMOS 2022 challenge's dataset.json (Ji et al.,
 * "AMOS: A Large-Scale Abdominal Multi-Organ Benchmark for Versatile Medical Image
 * Segmentation", NeurIPS 2022; data CC BY 4.0, zenodo.org/records/7262581).  Its
 * dataset.json spells id 8 "arota": we name it "aorta" and keep the misspelling as
 * an alias so that tables copied from it are still recognised.  Aliases also hold
 * the TotalSegmentator-style spellings ("kidney_right", "inferior_vena_cava").
 *
 * Benchmark classes: spleen, both kidneys, liver, stomach, aorta and pancreas; AMOS
 * has no lung, heart, spine, rib cage, autochthon or pulmonary artery.
 */
#include "label-scheme-private.h"

#define NONE 0

static const LabelSchemeRow amos15_rows[] = {
  {  1, "spleen",              LT_SPLEEN,   NULL },
  {  2, "right kidney",        LT_KIDNEY,   "kidney right|kidney(r)" },
  {  3, "left kidney",         LT_KIDNEY,   "kidney left|kidney(l)" },
  {  4, "gall bladder",        NONE,        "gallbladder" },
  {  5, "esophagus",           NONE,        "oesophagus" },
  {  6, "liver",               LT_LIVER,    NULL },
  {  7, "stomach",             LT_STOMACH,  NULL },
  {  8, "aorta",               LT_AORTA,    "arota" },
  {  9, "postcava",            NONE,        "inferior vena cava|ivc" },
  { 10, "pancreas",            LT_PANCREAS, NULL },
  { 11, "right adrenal gland", NONE,        "adrenal gland right|adrenal(r)" },
  { 12, "left adrenal gland",  NONE,        "adrenal gland left|adrenal(l)" },
  { 13, "duodenum",            NONE,        NULL },
  { 14, "bladder",             NONE,        "urinary bladder" },
  { 15, "prostate/uterus",     NONE,        "prostate or uterus|prostate,uterus" },
};

const LabelSchemeData label_scheme_amos15_data = {
  .name = LABEL_SCHEME_AMOS15,
  .other_names = "amos|amos22|amos2022",
  .title = "AMOS 2022 (15 abdominal organs, dataset.json)",
  .rows = amos15_rows,
  .n_rows = G_N_ELEMENTS (amos15_rows),
};
