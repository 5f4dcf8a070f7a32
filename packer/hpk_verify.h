/*
 * hpk_verify.h - opening and checking artifacts (artifacts.c), shared by
 * the artifact commands and training; running one with its cache required
 * (verifyrun.c).
 */
#ifndef HPK_VERIFY_H
#define HPK_VERIFY_H

#include "hpk_packer.h"
#include "../layout/hpk_config.h"


int hpk_open_artifact(const char *path, struct hpk_artifact *a, struct hpk_perr *e);
void hpk_close_artifact(struct hpk_artifact *a);
/* hpk_config_load (layout/config.c) with the error worded for the packer's
 * commands; free with hpk_config_free() in every case. */
int hpk_artifact_info(const struct hpk_artifact *a, struct hpk_config *in, struct hpk_perr *e);
int hpk_verify_bytes(const struct hpk_artifact *a, struct hpk_perr *e);
/* Run the artifact with its cache required and class-load logging; fail
 * unless its main class is served from the cache (verifyrun.c). */
int hpk_verify_run(const char *artifact, const char *cwd, int argc, char **argv, struct hpk_perr *e);

#endif
