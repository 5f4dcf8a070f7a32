/*
 * build.c - the `hpack build` command: its options (after @FILE and
 * hpack.conf, argfile.c), their checks, and the driver: assemble the
 * snapshot (assemble.c), make the runtime (jlink.c), compress, emit DA0 and,
 * with --train or --with-cache, DA1 (train.c), with --tune the fastest
 * (tune.c).
 */
#define _GNU_SOURCE
#include "hpk_build.h"
#include "hpk_variant.h"
#include "hpk_tune.h"
#include "../layout/hpk_kv.h"
#include "../layout/hpk_tree.h"

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>



static const char build_usage[] =
    "usage: hpack build (--runtime DIR | [--jdk DIR] [--add-modules M,...] [--provider-modules auto|none]\n"
    "                                    [--jlink-opt OPT]...)\n"
    "                   [--app-dist DIR|ARCHIVE] (--jar APP.jar | --cp A.jar:B.jar --main-class CLS)\n"
    "                   [--jvm-opt OPT]... [--arg ARG]... -o OUT\n"
    "                   [--train [--train-arg ARG]... [--train-timeout SECS] [--train-exit N]\n"
    "                            [--train-check full|start]\n"
    "                            [--train-ready tcp:[HOST:]PORT|http:URL|log:REGEX]\n"
    "                            [--train-dir DIR]\n"
    "                            [--train-workload 'SHELL COMMAND'] [--keep-da0 PATH]\n"
    "                            [--train-variant large-heap|portable]...]\n"
    "                   [--tune[=startup|server] [--tune-candidate 'OPTS']... [--tune-candidates-only]\n"
    "                           [--tune-rounds N] [--tune-time SECS]]\n"
    "                   [--train-runs N]\n"
    "                   [--with-cache CACHE]... [--pick first|best] [--tuned FILE] [--lock FILE | --locked FILE]\n"
    "                   [--compress zstd[:N]|zlib[:N]|none] [--heal] [--fonts auto|none]\n"
    "\n"
    "  --runtime DIR        Java home to ship (JRE, JDK or jlink image; or a .tar/.tar.gz of one)\n"
    "  --jdk DIR            link the runtime with this JDK's jlink (default: $JAVA_HOME, then\n"
    "                       the newest JDK in /usr/lib/jvm); modules from jdeps\n"
    "  --add-modules M,...  modules to link besides those jdeps finds\n"
    "  --provider-modules auto|none  link the JDK's service providers ordinary apps need and\n"
    "                       jdeps cannot see (auto, the default: jdk.zipfs; jdk.crypto.ec up to\n"
    "                       Java 21; jdk.naming.dns with java.naming; jdk.management with\n"
    "                       java.management; the large jdk.compiler and jdk.localedata are\n"
    "                       said, not linked), or only what jdeps finds and --add-modules names\n"
    "  --jlink-opt OPT      extra jlink option, repeatable\n"
    "  --fonts auto|none    a runtime with java.desktop gets DejaVu's core fonts (lib/fonts) and a\n"
    "                       lib/fontconfig.properties: the JDK draws text with them where the\n"
    "                       host's fontconfig has no fonts (auto, the default), or nothing\n"
    "  --app-dist DIR|ARCH  application distribution (directory, .zip, .tar, .tar.gz), shipped whole\n"
    "                       as the app directory; relative --jar/--cp paths are inside it\n"
    "  --jar JAR            application jar; Main-Class and Class-Path from its manifest\n"
    "  --cp LIST            class path jars, ':'-separated; DIR/* means every jar in DIR\n"
    "  --main-class CLS     main class (overrides the manifest's)\n"
    "  --strict-class-path  refuse to build when a manifest Class-Path entry cannot be packed\n"
    "                       (it names nothing, or a signed jar names a host path); default: warn\n"
    "  --jvm-opt OPT        JVM option, repeatable (e.g. --jvm-opt=-Xmx512m)\n"
    "  --arg ARG            argument given to the app before the user's own, repeatable\n"
    "                       In both, the launcher expands ${HPACK_APP} (the unpacked app directory),\n"
    "                       ${HPACK_RUNTIME}, ${HPACK_EXE} (this artifact) and ${HPACK_CWD}\n"
    "  --env NAME=VALUE     environment variable set for the app and what it runs, expanded the\n"
    "                       same way (e.g. --env 'JAVA_HOME=${HPACK_RUNTIME}'), repeatable\n"
    "  -o, --output OUT     the artifact to write\n"
    "  --train              train a startup cache with DA0 and emit DA1 with it\n"
    "  --train-arg ARG      app argument for the training run only, after the --arg list\n"
    "                       (which the artifact always passes); repeatable\n"
    "  --train-timeout SECS bound the whole training run (default 300)\n"
    "  --train-exit N       the exit status of a training run that did its job (default 0): a\n"
    "                       checker that exits 20 when it finds problems, trained on such a run\n"
    "  --train-check full|start  how DA1 is checked before it is kept: full (default) repeats\n"
    "                       the training run on DA1 with its cache required and requires it to\n"
    "                       end as training did; start only checks that its main class comes\n"
    "                       from the cache (for a training run that cannot be repeated)\n"
    "  --train-ready SPEC   server readiness: tcp:PORT, tcp:HOST:PORT, http:URL or log:REGEX\n"
    "                       (tcp:8080, tcp:127.0.0.1:8080, http:http://127.0.0.1:8080/, log:'Started')\n"
    "  --train-dir DIR      the training run's working directory (default: hpack's own)\n"
    "  --train-workload CMD shell command run against the ready server (HPACK_TRAIN_PORT)\n"
    "  --keep-da0 PATH      also keep DA0 (the artifact without cache) at PATH\n"
    "  --heal               the launcher heals by default: where no carried startup cache applies\n"
    "                       (or none is carried), it records one on the host from a real run\n"
    "                       and uses it from the next start on (HPACK_HEAL=off turns it off)\n"
    "  --train-variant NAME also train that cache variant (AOT caches), repeatable; the launcher\n"
    "                       uses the first cache that applies on its host, the default first:\n"
    "                         large-heap  no compressed oops: hosts with a heap over 32 GB\n"
    "                         portable    no machine code: any CPU of the architecture\n"
    "  --tune[=GOAL]        with --train: also train DA1s with candidate JVM option sets, time\n"
    "                       them on the training workload and keep the fastest, if it beats the\n"
    "                       default beyond its noise (docs/tuning.md). GOAL: startup (the whole\n"
    "                       run; the default) or server (time to ready plus the workload; the\n"
    "                       default with --train-ready). Writes OUT.tuned (the table, the choice)\n"
    "  --tune-candidate OPTS  a candidate of your own, e.g. \"-XX:+UseSerialGC '-Dk=a b'\" (quoted as in\n"
    "                       a shell: two options); repeatable\n"
    "  --tune-candidates-only  only yours, not the curated sets\n"
    "  --tune-rounds N      measured runs of each candidate, alternated (default 5)\n"
    "  --tune-time SECS     bound the whole search (default 600)\n"
    "  --tuned FILE         the choice recorded in FILE (an OUT.tuned): its options before yours;\n"
    "                       with --with-cache, rebuilds the tuned DA1 bit for bit\n"
    "  --train-runs N       train N times (each option set, with --tune), keep the best by the\n"
    "                       same measurement, print the spread between trainings\n"
    "  --with-cache CACHE   emit DA1 from a cache recorded with HPACK_TRAIN=CACHE; repeatable:\n"
    "                       the caches of a DA1 with variants (hpack extract), default first\n"
    "  --pick best|first    with several --with-cache: keep only the fastest on the training\n"
    "                       workload (--train-arg, ...; measured), or the first (unmeasured)\n"
    "  --lock FILE          record every input (entry path, size, mode, XXH3-128) in FILE\n"
    "  --locked FILE        refuse to build if any input differs from FILE, naming it\n"
    "  --compress SPEC      zstd:N (1-19, default zstd:3; from 9, 8 MiB frames: smaller,\n"
    "                       slower to build), zlib:N (1-9) or none\n"
    "  -q, --quiet          only errors\n"
    "  -v, --verbose        explain each step\n";

enum {
    O_RUNTIME = 1000, O_JAR, O_CP, O_MAIN, O_JVM, O_ARG, O_ENV, O_TRAIN, O_TRAIN_ARG, O_TRAIN_TIMEOUT,
    O_TRAIN_READY, O_TRAIN_WORKLOAD, O_KEEP_DA0, O_WITH_CACHE, O_HELP, O_LOCK, O_LOCKED, O_JDK, O_ADD_MODULES, O_PROVIDER_MODULES, O_FONTS, O_JLINK_OPT,
    O_APP_DIST, O_COMPRESS, O_STRICT_CP, O_HEAL, O_TRAIN_DIR, O_TUNE, O_TUNE_CAND, O_TUNE_ONLY, O_TUNE_ROUNDS, O_TUNE_TIME,
    O_TUNED, O_TRAIN_RUNS, O_PICK, O_TRAIN_VARIANT, O_TRAIN_EXIT, O_TRAIN_CHECK
};

/* A ${HPACK_...} the launcher would not expand is a typo: say so now. */
/* A bad value as its error quotes it: its first SHOWN bytes, escaped (a
 * byte may take four), "..." when cut: one line, whatever it holds. */
#define SHOWN 100
static const char *shown(char out[4 * SHOWN + 4], const char *v)
{
    size_t n = strlen(v);
    hpk_layout_path_text(out, 4 * SHOWN + 1, v, n < SHOWN ? n : SHOWN);
    if (n > SHOWN) strcat(out, "...");
    return out;
}

static const char *bad_variable(const char *s)
{
    static const char *const known[] = {"APP}", "RUNTIME}", "EXE}", "CWD}", NULL};
    for (const char *p = s; (p = strstr(p, "${HPACK_")); p++) {
        int ok = 0;
        for (int i = 0; known[i]; i++) ok |= !strncmp(p + 8, known[i], strlen(known[i]));
        if (!ok) return p;
    }
    return NULL;
}


static void build_free(struct hpk_build *b)
{
    struct hpk_strv *lists[] = {&b->cp,          &b->jvm_opts,   &b->args,         &b->train_args, &b->train_variants,
                                &b->more_caches, &b->cp_paths,   &b->cp_hosts,     &b->jlink_opts, &b->jdeps_inputs,
                                &b->jdeps_names, &b->tune_cands, &b->jlink_used, &b->env};
    for (size_t i = 0; i < sizeof lists / sizeof *lists; i++) hpk_strv_free(lists[i]);
    char *strings[] = {b->closure, b->resolved_main, b->modules, b->said_modules, b->jlinked, b->fail_detail};
    for (size_t i = 0; i < sizeof strings / sizeof *strings; i++) free(strings[i]);
}

const struct option hpk_build_options[] = {
    {"runtime", required_argument, NULL, O_RUNTIME},
    {"app-dist", required_argument, NULL, O_APP_DIST},
    {"jar", required_argument, NULL, O_JAR},
    {"cp", required_argument, NULL, O_CP},
    {"class-path", required_argument, NULL, O_CP},
    {"main-class", required_argument, NULL, O_MAIN},
    {"jvm-opt", required_argument, NULL, O_JVM},
    {"arg", required_argument, NULL, O_ARG},
    {"env", required_argument, NULL, O_ENV},
    {"output", required_argument, NULL, 'o'},
    {"train", no_argument, NULL, O_TRAIN},
    {"train-arg", required_argument, NULL, O_TRAIN_ARG},
    {"train-timeout", required_argument, NULL, O_TRAIN_TIMEOUT},
    {"train-exit", required_argument, NULL, O_TRAIN_EXIT},
    {"train-check", required_argument, NULL, O_TRAIN_CHECK},
    {"train-ready", required_argument, NULL, O_TRAIN_READY},
    {"train-workload", required_argument, NULL, O_TRAIN_WORKLOAD},
    {"train-dir", required_argument, NULL, O_TRAIN_DIR},
    {"train-variant", required_argument, NULL, O_TRAIN_VARIANT},
    {"keep-da0", required_argument, NULL, O_KEEP_DA0},
    {"with-cache", required_argument, NULL, O_WITH_CACHE},
    {"lock", required_argument, NULL, O_LOCK},
    {"jdk", required_argument, NULL, O_JDK},
    {"add-modules", required_argument, NULL, O_ADD_MODULES},
    {"provider-modules", required_argument, NULL, O_PROVIDER_MODULES},
    {"fonts", required_argument, NULL, O_FONTS},
    {"jlink-opt", required_argument, NULL, O_JLINK_OPT},
    {"locked", required_argument, NULL, O_LOCKED},
    {"compress", required_argument, NULL, O_COMPRESS},
    {"strict-class-path", no_argument, NULL, O_STRICT_CP},
    {"heal", no_argument, NULL, O_HEAL},
    {"tune", optional_argument, NULL, O_TUNE},
    {"tune-candidate", required_argument, NULL, O_TUNE_CAND},
    {"tune-candidates-only", no_argument, NULL, O_TUNE_ONLY},
    {"tune-rounds", required_argument, NULL, O_TUNE_ROUNDS},
    {"tune-time", required_argument, NULL, O_TUNE_TIME},
    {"tuned", required_argument, NULL, O_TUNED},
    {"train-runs", required_argument, NULL, O_TRAIN_RUNS},
    {"pick", required_argument, NULL, O_PICK},
    {"quiet", no_argument, NULL, 'q'},
    {"verbose", no_argument, NULL, 'v'},
    {"help", no_argument, NULL, O_HELP},
    {0, 0, 0, 0},
};

static int build_cmd(int argc, char **argv);

int hpk_cmd_build(int argc, char **argv)
{
    struct hpk_strv args;
    struct hpk_err ae;
    if (hpk_expand_args(argc, argv, hpk_build_options, HPK_BUILD_SHORTOPTS, &args, &ae) != 0) {
        fprintf(stderr, "hpack build: %s\n", ae.msg);
        hpk_strv_free(&args);
        return ae.code;
    }
    int st = build_cmd((int)args.n, args.v);
    hpk_strv_free(&args);
    return st;
}

/* The --tune options (docs/tuning.md); 0, or -1 with the reason printed. */
static int tune_opt(struct hpk_build *b, int c, const char *arg)
{
    char why[200], *end;
    struct hpk_strv tmp = {0};
    double v;
    switch (c) {
    case O_TUNE:
        b->tune = !arg ? HPK_TUNE_AUTO : !strcmp(arg, "startup") ? HPK_TUNE_STARTUP : !strcmp(arg, "server") ? HPK_TUNE_SERVER : -1;
        if (b->tune < 0) {
            fprintf(stderr, "hpack build: --tune=%s: expected startup or server\n", arg);
            return -1;
        }
        return 0;
    case O_TUNE_CAND: {
        int bad = hpk_tune_split(arg, &tmp, why, sizeof why);
        hpk_strv_free(&tmp);
        if (bad) {
            fprintf(stderr, "hpack build: --tune-candidate '%s': %s (JVM options separated by blanks, quoted as in a shell)\n", arg, why);
            return -1;
        }
        hpk_strv_push(&b->tune_cands, arg);
        break;
    }
    case O_TUNE_ONLY: b->tune_only = 1; break;
    default: /* O_TUNE_ROUNDS, O_TUNE_TIME */
        v = strtod(arg, &end);
        if (*end || v <= 0 || (c == O_TUNE_ROUNDS && (v != (int)v || v > 64))) {
            fprintf(stderr, "hpack build: --%s %s: expected %s\n", c == O_TUNE_ROUNDS ? "tune-rounds" : "tune-time", arg,
                    c == O_TUNE_ROUNDS ? "a whole number from 1 to 64" : "a positive number of seconds");
            return -1;
        }
        if (c == O_TUNE_ROUNDS) b->tune_rounds = (int)v;
        else b->tune_time = v;
        b->tune_set |= 2; /* also for --train-runs and several --with-cache */
        return 0;
    }
    b->tune_set |= 1;
    return 0;
}

/* --tune's goal, and --tuned's options: the recorded choice's go first, as
 * --tune put them, so the user's own --jvm-opts after them still win. 0, or
 * the exit status with the reason printed. */
static int tune_check(struct hpk_build *b)
{
    if ((b->tune && !b->train) || ((b->tune_set & 1) && !b->tune)) {
        fprintf(stderr, "hpack build: %s\n", b->tune ? "--tune needs --train (it measures trained DA1s)" : "--tune-* need --tune");
        return HPK_ST_USAGE;
    }
    /* --train-runs N and several --with-cache: the same measurement, over
     * trainings or given caches instead of option sets. */
    /* --pick first: the first cache alone, as if given alone. */
    if (b->pick_first) hpk_strv_free(&b->more_caches);
    if (!b->tune && (b->train_runs > 1 || (b->more_caches.n && b->pick_best))) b->tune = HPK_TUNE_AUTO, b->tune_only = 1;
    if (b->tune_set && !b->tune) {
        fprintf(stderr, "hpack build: --tune-* need --tune (or --train-runs N, or several --with-cache with --pick best)\n");
        return HPK_ST_USAGE;
    }
    if (b->tune == HPK_TUNE_AUTO) b->tune = b->train_ready ? HPK_TUNE_SERVER : HPK_TUNE_STARTUP;
    if (b->tune == HPK_TUNE_SERVER && !b->train_ready) {
        fprintf(stderr, "hpack build: --tune=server needs --train-ready (it times the run to ready and the workload)\n");
        return HPK_ST_USAGE;
    }
    if (!b->tuned) return 0;
    if (b->tune) {
        fprintf(stderr, "hpack build: --tuned replays a choice; --tune makes one: give one of them\n");
        return HPK_ST_USAGE;
    }
    struct hpk_strv all = {0};
    struct hpk_err te;
    if (hpk_tune_read_choice(b->tuned, &all, &te) != 0) {
        fprintf(stderr, "hpack build: %s\n", te.msg);
        hpk_strv_free(&all);
        return te.code;
    }
    for (size_t i = 0; i < b->jvm_opts.n; i++) hpk_strv_push(&all, b->jvm_opts.v[i]);
    hpk_strv_free(&b->jvm_opts);
    b->jvm_opts = all;
    return 0;
}

/* An option getopt refused, in one line: the 90 lines of the usage after
 * it would push the line that says what is wrong out of view. */
static int opt_error(int c, char **argv)
{
    const char *arg = argv[optind - 1];
    int len = (int)strcspn(arg, "=");
    if (c == ':') /* "--cp" or "-o" last, with nothing after it */
        fprintf(stderr, "hpack build: %s needs a value (see hpack build --help)\n", arg);
    else if (optopt && !strncmp(arg, "--", 2) && arg[len]) /* "--train=1": a known one given a value */
        fprintf(stderr, "hpack build: %.*s takes no value (see hpack build --help)\n", len, arg);
    else if (optopt > 32 && optopt < 127)
        fprintf(stderr, "hpack build: unknown option -%c (see hpack build --help)\n", optopt);
    else /* a long one, or the start of several (--tra) */
        fprintf(stderr, "hpack build: unknown or ambiguous option %.*s (see hpack build --help)\n", len, arg);
    return HPK_ST_USAGE;
}

/* Options into b. Single-valued options: the last one counts, so the
 * command line overrides ./hpack.conf (read first). -1 to go on, else the
 * exit status (--help: 0). */
static int parse_opts(struct hpk_build *b, int argc, char **argv)
{
    int c;
    optind = 1;
    opterr = 0; /* opt_error says it */
    while ((c = getopt_long(argc, argv, ":" HPK_BUILD_SHORTOPTS, hpk_build_options, NULL)) != -1) {
        switch (c) {
        case O_RUNTIME: b->runtime = optarg; break;
        case O_APP_DIST: b->app_dist = optarg; break;
        case O_JAR: b->jar = optarg; break;
        case O_CP: hpk_strv_push(&b->cp, optarg); break;
        case O_MAIN: b->main_class = optarg; break;
        case O_JVM: hpk_strv_push(&b->jvm_opts, optarg); break;
        case O_ARG: hpk_strv_push(&b->args, optarg); break;
        case O_ENV: {
            const char *why = hpk_launch_env_why(optarg);
            if (why) {
                char t[4 * SHOWN + 4];
                fprintf(stderr, "hpack build: --env %s: %s\n", shown(t, optarg), why);
                return HPK_ST_USAGE;
            }
            hpk_strv_push(&b->env, optarg);
            break;
        }
        case 'o': b->output = optarg; break;
        case O_TRAIN: b->train = 1; break;
        case O_TRAIN_ARG: hpk_strv_push(&b->train_args, optarg); b->have_train_args = 1; break;
        case O_TRAIN_TIMEOUT: {
            char *end;
            b->train_timeout = strtod(optarg, &end);
            if (*end || b->train_timeout <= 0) {
                fprintf(stderr, "hpack build: --train-timeout %s: expected a positive number of seconds\n", optarg);
                return HPK_ST_USAGE;
            }
            break;
        }
        case O_TRAIN_EXIT: {
            char *end;
            long v = strtol(optarg, &end, 10);
            if (!*optarg || *end || v < 0 || v > 255) {
                fprintf(stderr, "hpack build: --train-exit %s: expected an exit status, 0 to 255\n", optarg);
                return HPK_ST_USAGE;
            }
            b->train_exit = (int)v;
            break;
        }
        case O_TRAIN_CHECK:
            if (strcmp(optarg, "full") != 0 && strcmp(optarg, "start") != 0) {
                fprintf(stderr, "hpack build: --train-check %s: expected full or start\n", optarg);
                return HPK_ST_USAGE;
            }
            b->train_check = !strcmp(optarg, "start") ? 2 : 1;
            break;
        case O_TRAIN_READY: b->train_ready = optarg; break;
        case O_TRAIN_WORKLOAD: b->train_workload = optarg; break;
        case O_TRAIN_DIR: b->train_dir = optarg; break;
        case O_KEEP_DA0: b->keep_da0 = optarg; break;
        case O_WITH_CACHE: /* repeated: a DA1's variants, or with --pick candidates (tune.c) */
            if (!b->with_cache) b->with_cache = optarg;
            else hpk_strv_push(&b->more_caches, optarg);
            break;
        case O_TRAIN_VARIANT: hpk_strv_push(&b->train_variants, optarg); break;
        case O_TRAIN_RUNS: {
            char *end;
            long v = strtol(optarg, &end, 10);
            if (*end || v < 1 || v > 8) {
                fprintf(stderr, "hpack build: --train-runs %s: expected a whole number from 1 to 8\n", optarg);
                return HPK_ST_USAGE;
            }
            b->train_runs = (int)v;
            break;
        }
        case O_PICK:
            if (strcmp(optarg, "first") && strcmp(optarg, "best")) {
                fprintf(stderr, "hpack build: --pick %s: expected first or best\n", optarg);
                return HPK_ST_USAGE;
            }
            b->pick_first = !strcmp(optarg, "first");
            b->pick_best = !b->pick_first;
            break;
        case O_LOCK: b->lock = optarg; break;
        case O_JDK: b->jdk = optarg; break;
        case O_ADD_MODULES: b->add_modules = optarg; break;
        case O_PROVIDER_MODULES:
            if (strcmp(optarg, "auto") && strcmp(optarg, "none")) {
                fprintf(stderr, "hpack build: --provider-modules %s: expected auto or none\n", optarg);
                return HPK_ST_USAGE;
            }
            b->no_provider_modules = !strcmp(optarg, "none");
            b->provider_modules_given = 1;
            break;
        case O_FONTS:
            if (strcmp(optarg, "auto") && strcmp(optarg, "none")) {
                fprintf(stderr, "hpack build: --fonts %s: expected auto or none\n", optarg);
                return HPK_ST_USAGE;
            }
            b->no_fonts = !strcmp(optarg, "none");
            break;
        case O_JLINK_OPT: hpk_strv_push(&b->jlink_opts, optarg); break;
        case O_LOCKED: b->locked = optarg; break;
        case O_COMPRESS:
            if (hpk_compress_parse(optarg, &hpk_compress_opt) != 0) {
                fprintf(stderr, "hpack build: --compress %s: expected zstd[:1-19], zlib[:1-9] or none\n", optarg);
                return HPK_ST_USAGE;
            }
            break;
        case O_STRICT_CP: b->strict_cp = 1; break;
        case O_HEAL: b->heal = 1; break;
        case O_TUNE: case O_TUNE_CAND: case O_TUNE_ONLY: case O_TUNE_ROUNDS: case O_TUNE_TIME:
            if (tune_opt(b, c, optarg) != 0) return HPK_ST_USAGE;
            break;
        case O_TUNED: b->tuned = optarg; break;
        case 'q': hpk_verbose = 0; break;
        case 'v': hpk_verbose = 2; break;
        case O_HELP: fputs(build_usage, stdout); return 0;
        default: return opt_error(c, argv);
        }
    }
    return -1;
}

/* Two outputs named alike, or the same existing file by two names. */
static int same_output(const char *a, const char *b)
{
    struct stat sa, sb;
    return a && b && (!strcmp(a, b) || (stat(a, &sa) == 0 && stat(b, &sb) == 0 && sa.st_dev == sb.st_dev &&
                                        sa.st_ino == sb.st_ino));
}

/* What getopt cannot see: missing, unknown and conflicting options. 0, or
 * the usage status with the reason printed. */
static int check_opts(const struct hpk_build *b, int argc, char **argv)
{
    const char *missing = !b->output ? "-o" : (!b->jar && !b->cp.n) ? "--jar or --cp" : NULL;
    if (optind < argc) {
        fprintf(stderr, "hpack build: unexpected argument '%s' (app arguments go in --arg)\n", argv[optind]);
        return HPK_ST_USAGE;
    }
    if (missing) {
        fprintf(stderr, "hpack build: missing %s (see hpack build --help)\n", missing);
        return HPK_ST_USAGE;
    }
    static const char *const expanded[] = {"--jvm-opt", "--arg", "--env"};
    for (int w = 0; w < 3; w++) {
        const struct hpk_strv *v = w == 2 ? &b->env : w ? &b->args : &b->jvm_opts;
        for (size_t i = 0; i < v->n; i++) {
            const char *bad = bad_variable(v->v[i]);
            if (bad) {
                char t[4 * SHOWN + 4], var[4 * 16 + 1];
                hpk_layout_path_text(var, sizeof var, bad, strnlen(bad, 16));
                fprintf(stderr, "hpack build: %s %s: unknown variable %s... (known: ${HPACK_APP}, ${HPACK_RUNTIME}, "
                        "${HPACK_EXE}, ${HPACK_CWD})\n", expanded[w], shown(t, v->v[i]), var);
                return HPK_ST_USAGE;
            }
        }
    }
    if (b->runtime && (b->jdk || b->add_modules || b->jlink_opts.n || b->provider_modules_given)) {
        fprintf(stderr, "hpack build: --runtime excludes --jdk, --add-modules, --provider-modules and --jlink-opt\n");
        return HPK_ST_USAGE;
    }
    const char *twice = same_output(b->output, b->keep_da0) ? "-o and --keep-da0"
                      : same_output(b->output, b->lock)     ? "-o and --lock"
                      : same_output(b->keep_da0, b->lock)   ? "--keep-da0 and --lock" : NULL;
    if (twice) {
        fprintf(stderr, "hpack build: %s name the same file\n", twice);
        return HPK_ST_USAGE;
    }
    if (b->lock && b->locked) {
        fprintf(stderr, "hpack build: --lock and --locked exclude each other\n");
        return HPK_ST_USAGE;
    }
    if (b->train && b->with_cache) {
        fprintf(stderr, "hpack build: --train and --with-cache exclude each other\n");
        return HPK_ST_USAGE;
    }
    /* Several --with-cache are measured on the training workload. */
    int measure_caches = b->more_caches.n && b->pick_best;
    const char *needs_train = b->keep_da0 ? "--keep-da0" : measure_caches ? NULL
                              : b->have_train_args ? "--train-arg" : b->train_ready ? "--train-ready"
                              : b->train_workload ? "--train-workload" : b->train_dir ? "--train-dir"
                              : b->train_runs > 1 ? "--train-runs" : b->train_variants.n ? "--train-variant" : NULL;
    if (!b->train && needs_train) {
        fprintf(stderr, "hpack build: %s needs --train%s\n", needs_train,
                b->with_cache && !b->keep_da0 ? " (or several --with-cache with --pick best)" : "");
        return HPK_ST_USAGE;
    }
    if (!b->train && b->train_check) {
        fprintf(stderr, "hpack build: --train-check needs --train\n");
        return HPK_ST_USAGE;
    }
    if (b->train_ready && hpk_ready_parse(b->train_ready, NULL) != 0) {
        fprintf(stderr, "hpack build: --train-ready %s: expected tcp:PORT, tcp:HOST:PORT, http:URL or log:REGEX, e.g. "
                "tcp:8080, tcp:127.0.0.1:8080, http:http://127.0.0.1:8080/health, log:'Started in'\n", b->train_ready);
        return HPK_ST_USAGE;
    }
    struct stat tst;
    const char *why = !b->train_dir ? NULL : stat(b->train_dir, &tst) != 0 ? strerror(errno) : !S_ISDIR(tst.st_mode) ? "not a directory" : NULL;
    if (why) {
        fprintf(stderr, "hpack build: --train-dir %s: %s\n", b->train_dir, why);
        return HPK_ST_USAGE;
    }
    for (size_t i = 0; i < b->train_variants.n; i++) {
        if (!hpk_variant_find(b->train_variants.v[i])) {
            fprintf(stderr, "hpack build: --train-variant %s: unknown variant; known:", b->train_variants.v[i]);
            for (size_t k = 0; hpk_variant_at(k); k++) fprintf(stderr, " %s", hpk_variant_at(k)->name);
            fputc('\n', stderr);
            return HPK_ST_USAGE;
        }
        for (size_t k = 0; k < i; k++)
            if (!strcmp(b->train_variants.v[k], b->train_variants.v[i])) {
                fprintf(stderr, "hpack build: --train-variant %s given twice\n", b->train_variants.v[i]);
                return HPK_ST_USAGE;
            }
    }
    if (b->train_workload && !b->train_ready) {
        fprintf(stderr, "hpack build: --train-workload needs --train-ready (when to start it)\n");
        return HPK_ST_USAGE;
    }
    /* A tuned or picked DA1 carries one cache; variants are several. */
    if (b->train_variants.n && (b->tune || b->train_runs > 1 || b->pick_first || b->pick_best)) {
        fprintf(stderr, "hpack build: --train-variant cannot be combined with --tune, --train-runs or --pick\n");
        return HPK_ST_USAGE;
    }
    return 0;
}

static int build_cmd(int argc, char **argv)
{
    struct hpk_build b;
    memset(&b, 0, sizeof b);
    b.train_timeout = 300;
    b.tune_rounds = HPK_TUNE_ROUNDS;
    b.tune_time = HPK_TUNE_TIME;
    b.train_runs = 1;
    int st = parse_opts(&b, argc, argv);
    if (st < 0 && (st = check_opts(&b, argc, argv)) == 0 && (st = tune_check(&b)) == 0) st = hpk_build_run(&b);
    build_free(&b);
    return st;
}

/* An output that is also an input (`-o app.jar` after `--jar app.jar`: a
 * slip of tab completion) would be replaced by the artifact, and the input
 * lost. By device and inode, so that another name of the file is caught. */
static int output_not_input(const struct hpk_build *b, const struct hpk_snapshot *s, const char *out,
                            const char *what, struct hpk_err *e)
{
    struct stat o, st;
    if (stat(out, &o) != 0) return 0; /* a new file */
    const char *hit = NULL;
    for (size_t i = 0; !hit && i < s->n; i++)
        if (s->items[i].source && s->items[i].id.dev == o.st_dev && s->items[i].id.ino == o.st_ino)
            hit = s->items[i].source;
    const char *named[] = {b->runtime, b->app_dist, b->locked, b->tuned, b->with_cache};
    for (size_t i = 0; !hit && i < sizeof named / sizeof *named + b->more_caches.n; i++) {
        const char *p = i < sizeof named / sizeof *named ? named[i] : b->more_caches.v[i - sizeof named / sizeof *named];
        if (p && stat(p, &st) == 0 && st.st_dev == o.st_dev && st.st_ino == o.st_ino) hit = p;
    }
    return hit ? hpk_fail(e, HPK_ST_OUTPUT, "%s: the %s is an input (%s); give another name, or the input is lost",
                          out, what, hit)
               : 0;
}

int hpk_build_run(struct hpk_build *b)
{
    struct hpk_err e = {0};
    struct hpk_snapshot s;
    struct hpk_payload_buf p;
    memset(&p, 0, sizeof p);
    struct hpk_elf_out out = {.fd = -1};
    double t0 = hpk_now();
    int st = HPK_ST_OK;
    memset(&s, 0, sizeof s);
    if (hpk_output_check(b->output, "output", &e) != 0 || (b->keep_da0 && hpk_output_check(b->keep_da0, "--keep-da0", &e) != 0) ||
        (b->lock && hpk_output_check(b->lock, "lock", &e) != 0))
        goto fail;
    struct stat cst;
    for (size_t i = 0; b->with_cache && i <= b->more_caches.n; i++) {
        const char *wc = i ? b->more_caches.v[i - 1] : b->with_cache;
        const char *why = stat(wc, &cst) != 0 ? strerror(errno) : !S_ISREG(cst.st_mode) ? "not a file" : NULL;
        if (why) {
            hpk_fail(&e, HPK_ST_TRAIN, "%s: cannot read the startup cache (--with-cache): %s", wc, why);
            goto fail;
        }
    }
    hpk_step_begin("reading the application");
    if (hpk_assemble_app(b, &s, &e) != 0) goto fail;
    hpk_step_end();
    if (!b->runtime) {
        char dir[PATH_MAX];
        int r = hpk_stage_jdeps_inputs(b, &s, dir, sizeof dir, &e);
        if (r == 0) r = hpk_jlink_runtime(b, &e);
        if (*dir) hpk_tmp_rm_tree(dir);
        if (r != 0) goto fail;
    }
    hpk_step_begin("reading %s", b->runtime);
    /* The runtime's big files are hashed as they are compressed (zstd):
     * read once, not twice. */
    s.hash_in_payload = hpk_compress_opt.codec == HPK_CODEC_ZSTD;
    if (hpk_assemble_runtime(b, &s, &e) != 0) goto fail;
    s.hash_in_payload = 0;
    hpk_step_end();
    hpk_info("read %zu entries in %.2f s", s.n, hpk_now() - t0);
    if (b->locked) hpk_snapshot_hash_all(&s);
    if (b->locked && hpk_lock_check(&s, b->locked, &e) != 0) goto fail;
    if (output_not_input(b, &s, b->output, "output", &e) != 0 ||
        (b->keep_da0 && output_not_input(b, &s, b->keep_da0, "--keep-da0 file", &e) != 0) ||
        (b->lock && output_not_input(b, &s, b->lock, "--lock file", &e) != 0))
        goto fail;
    /* A plain build writes the artifact while it compresses (elfout.c);
     * training and tuning make DA0 and DA1 from the payload in memory. */
    int direct = !b->tune && !b->train && !b->with_cache;
    if (direct && hpk_elf_open(b->output, &out, &e) != 0) goto fail;
    hpk_step_begin("compressing %zu entries", s.n);
    if ((direct ? hpk_payload_stream(&p, s.items, s.n, hpk_elf_write, &out, &e)
                : hpk_payload_build(&p, s.items, s.n, &e)) != 0) {
        if (p.sink_err) hpk_fail(&e, HPK_ST_OUTPUT, "%s: cannot write: %s", b->output, strerror(p.sink_err));
        goto fail;
    }
    hpk_step_end();
    char hex[33], size[32];
    hpk_hash_hex(p.base_hash, hex);
    if (b->tune) {
        if (hpk_tune_and_emit(b, &s, &p, &e) != 0) goto fail;
    } else if (b->train || b->with_cache) {
        if (hpk_train_and_emit(b, &s, &p, &e) != 0) goto fail;
    } else {
        int werr = hpk_elf_write(&out, hpk_payload_at(&p, p.flushed), p.len - p.flushed, p.flushed);
        if (werr) {
            hpk_fail(&e, HPK_ST_OUTPUT, "%s: cannot write: %s", b->output, strerror(werr));
            goto fail;
        }
        if (hpk_elf_commit(&out, p.len, &e) != 0) goto fail;
        struct stat sb;
        hpk_human_size(size, sizeof size, stat(b->output, &sb) == 0 ? (double)sb.st_size : 0);
        hpk_note("wrote %s (%s, Java %s, main class %s) in %.2f s; base %s", b->output, size, s.runtime_version,
                 b->resolved_main, hpk_now() - t0, hex);
    }
    if (b->lock && hpk_lock_write(&s, b->lock, &e) != 0) goto fail;
    goto done;
fail:
    hpk_elf_abort(&out);
    hpk_step_abort();
    if (b->fail_detail) fputs(b->fail_detail, stderr);
    /* Noted at the start of a long build (or not at all, with -q), and what
     * a failed training run most often lacks (an NPE from
     * getSystemJavaCompiler(), an unknown charset): said next to the failure. */
    if (b->training_failed && b->said_modules)
        fprintf(stderr, "hpack: not linked, if the app needs one: %s (--add-modules M links M)\n", b->said_modules);
    fprintf(stderr, "hpack: %s\n", e.msg);
    st = e.code ? e.code : HPK_ST_FAIL;
done:
    hpk_payload_buf_free(&p);
    hpk_snapshot_free(&s);
    return st;
}

