/*
 * hpk_verify.h - opening and checking artifacts (artifacts.c), shared by
 * the artifact commands and training; running one with its cache required
 * (verifyrun.c).
 */
#ifndef HPK_VERIFY_H
#define HPK_VERIFY_H

#include "hpk_packer.h"
#include "../layout/hpk_config.h"


int hpk_open_artifact(const char *path, struct hpk_artifact *a, struct hpk_err *e);
void hpk_close_artifact(struct hpk_artifact *a);
/* The artifact commands' own steps, reporting on stderr themselves:
 * hpk_cmd_usage for an option getopt_long returned that the command does
 * not take, or a wrong operand count (c 'h', --help: the usage on stdout,
 * 0; else on stderr, HPK_ST_USAGE); hpk_cmd_open opens the artifact named
 * on the command line (0, or "hpack: FILE: why" and HPK_ST_ARTIFACT);
 * hpk_cmd_fail reports e as "hpack: CMD: why" and returns its status. */
int hpk_cmd_usage(const char *usage, int c);
int hpk_cmd_open(const char *path, struct hpk_artifact *a);
/* The options of a command that takes only [--json] and `operands`
 * operands (from optind on): -1 to go on, else the status to exit with. */
int hpk_cmd_json_args(int argc, char **argv, const char *usage, int operands, int *json);
int hpk_cmd_fail(const char *cmd, const struct hpk_err *e);
/* hpk_config_load (layout/config.c) with the error worded for the packer's
 * commands; free with hpk_config_free() in every case. */
int hpk_artifact_info(const struct hpk_artifact *a, struct hpk_config *in, struct hpk_err *e);
int hpk_verify_bytes(const struct hpk_artifact *a, struct hpk_err *e);
/* Run the artifact with its cache required and class-load logging; fail
 * unless its main class is served from the cache (verifyrun.c). variant:
 * NULL, or the one cache to use ("default" or a variant's name:
 * HPACK_AOT_VARIANT). */
int hpk_verify_run(const char *artifact, const char *cwd, const char *variant, int argc, char **argv, struct hpk_err *e);
/* The proof that a run used the artifact's startup cache, shared with the
 * check run of a build (trainrun.c): the logging to ask the JVM for (log),
 * the line it prints when the main class comes from the cache (want), and
 * the JVM's lines that explain a refused cache (why). hpk_proof_plan reads
 * the artifact; hpk_proof_line takes each line of the run's output (1: the
 * proof was just seen); hpk_proof_verdict fails unless it was, naming
 * variant (NULL: the startup cache), and notes it if it was. */
struct hpk_proof {
    char want[1100];
    int hit;
    char why[2048];
    const char *log;
};
int hpk_proof_plan(const char *artifact, struct hpk_proof *v, struct hpk_err *e);
int hpk_proof_line(struct hpk_proof *v, const char *line);
/* 1 if line is of the logging the proof asks for (info level; tags class,
 * aot or cds), however the JVM padded its fields: not the app's output. */
int hpk_proof_logged(const char *line);
int hpk_proof_verdict(const struct hpk_proof *v, const char *variant, struct hpk_err *e);

#endif
