/*
 * hpack.c - the `hpack` command: a git-style table of subcommands.
 */
#define _GNU_SOURCE
#include "hpk_build.h"
#include "hpk_cmds.h"

#include <locale.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct cmd {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *summary;
};

static int cmd_help(int argc, char **argv);
static int cmd_version(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    printf("hpack %s (payload format %u)\n", HPK_VERSION, HPK_LAYOUT_VERSION);
    return 0;
}

static const struct cmd commands[] = {
    {"build", hpk_cmd_build, "pack a Java runtime and an app into one executable (DA0, or DA1 with --train)"},
    {"inspect", hpk_cmd_inspect, "show an artifact's table, hashes, cache provenance and exec line"},
    {"hash", hpk_cmd_hash, "print an artifact's base or full hash"},
    {"verify", hpk_cmd_verify, "check every byte of an artifact; with --run, that its cache applies"},
    {"diff", hpk_cmd_diff, "compare two artifacts entry by entry"},
    {"extract", hpk_cmd_extract, "write an artifact's payload as a directory, tar or zip"},
    {"image", hpk_cmd_image, "make a reproducible OCI image archive that runs an artifact"},
    {"install", hpk_cmd_install, "unpack an artifact into the system store, for every user"},
    {"uninstall", hpk_cmd_uninstall, "remove an artifact's tree from the system store"},
    {"store", hpk_cmd_store, "list the system store, or remove what no tree uses (gc)"},
    {"help", cmd_help, "show help for a command"},
    {"version", cmd_version, "print the version"},
};

static void usage(FILE *f)
{
    fprintf(f, "usage: hpack [--version] [--help] COMMAND [ARGS]\n\n"
               "hpack packs a Java runtime, an application's jars and its JVM options into one\n"
               "executable file that starts fast and is bit-for-bit reproducible.\n\ncommands:\n");
    for (size_t i = 0; i < sizeof commands / sizeof *commands; i++)
        fprintf(f, "  %-10s %s\n", commands[i].name, commands[i].summary);
    fprintf(f, "\nSee 'hpack help COMMAND' or 'hpack COMMAND --help'; man hpack.\n");
}

static const struct cmd *find(const char *name)
{
    for (size_t i = 0; i < sizeof commands / sizeof *commands; i++)
        if (strcmp(commands[i].name, name) == 0) return &commands[i];
    return NULL;
}

static int cmd_help(int argc, char **argv)
{
    if (argc < 2) {
        usage(stdout);
        return 0;
    }
    const struct cmd *c = find(argv[1]);
    if (!c) {
        fprintf(stderr, "hpack: no such command '%s'\n", argv[1]);
        return HPK_ST_USAGE;
    }
    char *av[] = {(char *)c->name, "--help", NULL};
    return c->run(2, av);
}

int main(int argc, char **argv)
{
    /* Names in archives and jars are UTF-8 (zip's flag, pax headers):
     * libarchive hands them over in the locale's characters, so the same
     * bytes whatever locale hpack runs in. The rest stays "C". */
    if (!setlocale(LC_CTYPE, "C.UTF-8")) setlocale(LC_CTYPE, "C.utf8");
    if (argc < 2) {
        usage(stderr);
        return HPK_ST_USAGE;
    }
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        usage(stdout);
        return 0;
    }
    if (!strcmp(argv[1], "--version")) return cmd_version(argc, argv);
    const struct cmd *c = find(argv[1]);
    if (!c) {
        fprintf(stderr, "hpack: '%s' is not a command (see hpack --help)\n", argv[1]);
        return HPK_ST_USAGE;
    }
    /* getopt_long names the program by argv[0] in its messages
     * ("unrecognized option"): make that "hpack build", not "build". */
    char name[64];
    snprintf(name, sizeof name, "hpack %s", argv[1]);
    argv[1] = name;
    int r = c->run(argc - 1, argv + 1);
    hpk_tmp_cleanup();
    return r;
}
