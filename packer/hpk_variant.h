/*
 * hpk_variant.h - the named startup cache variants of `hpack build
 * --train-variant` (variant.c).
 */
#ifndef HPK_VARIANT_H
#define HPK_VARIANT_H

#include <stddef.h>

struct hpk_variant {
    const char *name;               /* as given to --train-variant, recorded as `variant` */
    const char *what;               /* one line for help and messages */
    const char *const *opts;        /* JVM options it is trained and run with (NULL-ended);
                                     * recorded as `variant.jvm`, in order */
    const char *check_key, *check_value; /* the provenance record training must have written */
};

/* The variant of that name, or NULL. */
const struct hpk_variant *hpk_variant_find(const char *name);
/* The i-th known variant (for help texts), or NULL past the last. */
const struct hpk_variant *hpk_variant_at(size_t i);

#endif
