/*
 * hpk_jsonout.h - JSON strings written by hpack (inspect --json, the tuning
 * table, OCI image documents): one escaping rule for all of them.
 */
#ifndef HPK_JSONOUT_H
#define HPK_JSONOUT_H

#include <stddef.h>
#include <stdio.h>

/* s (n bytes) as a JSON string: '"' and '\' escaped, newline and tab as
 * \n and \t, the other C0 controls and DEL as \u00XX, well-formed UTF-8 as
 * it is, and each byte that is not part of well-formed UTF-8 (an entry
 * name may hold any byte but NUL) as \udcXX, a lone low surrogate: the
 * output is JSON whatever s holds, and Python reads the bytes back with
 * .encode("utf-8", "surrogateescape") (its own convention); other readers
 * see U+FFFD or the escape. */
void hpk_json_strn(FILE *f, const char *s, size_t n);
void hpk_json_str(FILE *f, const char *s);

#endif
