/*
 * hpk_verify.h - shared helpers of the artifact commands and training.
 */
#ifndef HPK_VERIFY_H
#define HPK_VERIFY_H

#include "hpk_packer.h"
#include "../layout/hpk_kv.h"

struct hpk_artifact_info {
    char *conf;
    size_t conf_len;
    struct hpk_launch launch;
    const char *cache_kind, *launcher_version;
    const struct hpk_entry *cache;
    char *prov;
    size_t prov_len;
    const char *prov_base, *prov_kind, *prov_runtime;
    int cache_bound;
};

int hpk_open_artifact(const char *path, struct hpk_artifact *a, struct hpk_perr *e);
void hpk_close_artifact(struct hpk_artifact *a);
int hpk_artifact_info(const struct hpk_artifact *a, struct hpk_artifact_info *in, struct hpk_perr *e);
void hpk_artifact_info_free(struct hpk_artifact_info *in);
int hpk_verify_bytes(const struct hpk_artifact *a, struct hpk_perr *e);
/* Run the artifact with its cache required and class-load logging; fail
 * unless its main class is served from the cache (train.c). */
int hpk_verify_run(const char *artifact, const char *cwd, int argc, char **argv, struct hpk_perr *e);

#endif
