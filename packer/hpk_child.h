/*
 * hpk_child.h - running a child process (child.c): the one way the packer
 * starts a program (the training run and its workload, the verification run,
 * jdeps, jlink, java --list-modules).
 *
 * Every child runs in its own process group, registered with the interrupt
 * registry (hpk_fork_group, util.c): an interrupted hpack kills the group
 * and removes its temporaries; a timeout kills the group (hpk_child_kill),
 * so a JVM's own children go too.
 */
#ifndef HPK_CHILD_H
#define HPK_CHILD_H

#include <sys/types.h>

struct hpk_child {
    pid_t pid;       /* -1 before the start and once reaped */
    int out;         /* read end of its stdout+stderr, -1 once at end of file */
    int status;      /* its wait status, once reaped */
    char line[8192]; /* the line being assembled for the line callback */
    size_t ll;
};

/* Called for each full line of output; nonzero means "this is the line
 * the caller waits for" (hpk_child_pump returns 1). */
typedef int (*hpk_child_line_fn)(void *ctx, const char *line);

/* Start argv[0] (a path: no PATH search) with env (NULL: ours), in cwd (NULL:
 * ours), stdin from /dev/null, stdout and stderr into c->out. 0, or -1 with
 * errno set. */
int hpk_child_start(struct hpk_child *c, char *const *argv, char *const *env, const char *cwd);

/* Read what is available once (blocking if nothing is): copy it to logfd if
 * >= 0 and to our stderr if echo, call fn for each full line. 1 if fn said
 * so for a line, else 0. At end of file c->out is closed and set to -1. */
int hpk_child_pump(struct hpk_child *c, int echo, int logfd, hpk_child_line_fn fn, void *ctx);

/* Read what is available once (blocking if nothing is) and append it to
 * *buf (grown, kept NUL-terminated; *len bytes). The count read; 0 at end of
 * file (c->out closed and -1); -1 if interrupted (try again). */
long hpk_child_read(struct hpk_child *c, char **buf, size_t *len);

/* What is left in its output without waiting for writers that keep the
 * pipe open (a workload's background children); then close it. */
void hpk_child_drain(struct hpk_child *c, int echo, int logfd, hpk_child_line_fn fn, void *ctx);

/* Reap it if it has ended (c->status set, c->pid -1): 1 if so, else 0. */
int hpk_child_done(struct hpk_child *c);

/* Stop its whole group: SIGTERM, `grace` seconds for the leader to end,
 * then SIGKILL to what is left; reaps it. */
void hpk_child_kill(struct hpk_child *c, double grace);

/* Wait for it to end (its output must be read to the end first, or not be
 * written to). The exit code: its status, or 128 + the signal. */
int hpk_child_wait(struct hpk_child *c);

/* Close its output, if still open. */
void hpk_child_close(struct hpk_child *c);

/* An exit code from a wait status: the status, or 128 + the signal. */
int hpk_child_code(int status);

/* Run argv to its end in the environment env (NULL: ours), its stdout and
 * stderr captured into *out (NUL terminated, NULL if out of memory). The
 * exit code, or -1 if it could not be started. */
int hpk_child_capture_env(char *const *argv, char *const *env, char **out);

/* An environment: ours minus HPACK_*, plus `extra` ("K=V", NULL-ended).
 * Free the array (not the strings) with free(). */
char **hpk_child_env(char *const *extra);

/* The environment of the JDK's own tools (jdeps, jlink): ours minus
 * HPACK_*, the locale (LANG, LANGUAGE, LC_*) and the JVM option variables
 * (JAVA_TOOL_OPTIONS, JDK_JAVA_OPTIONS, _JAVA_OPTIONS), plus LC_ALL=C.UTF-8.
 * jlink's default CDS archive differs with the locale's charset (an archive
 * dumped under C.UTF-8 is other bytes than under C), and the runtime is an
 * input hpack promises to reproduce whatever the build host's locale.
 * Free the array with free(). */
char **hpk_child_env_jdk(void);
/* Whether this host has the C.UTF-8 locale (glibc 2.35 and later build it
 * in): without it the tools fall back to C, whose archive is other bytes. */
int hpk_child_has_c_utf8(void);

#endif
