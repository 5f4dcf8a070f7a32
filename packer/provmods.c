/*
 * provmods.c - the JDK modules that provide services an app's modules use,
 * which jdeps cannot see (hpack build --jdk, jlink.c).
 *
 * jdeps lists the modules whose classes an app names. A service provider is
 * named by nobody: the JDK finds it with ServiceLoader at run time. So a
 * runtime linked from jdeps' modules alone starts and runs, and lacks it
 * silently until the code that needs it runs. Measured with a runtime of
 * jdeps' modules, OpenJDK 17: KeyPairGenerator "EC" and "X25519" not
 * available (so no TLS handshake with most servers); FileSystems.
 * newFileSystem of a zip: ProviderNotFoundException; a JNDI DNS context:
 * NoInitialContextException; com.sun.management.OperatingSystemMXBean,
 * which monitoring libraries look up by name: absent; ToolProvider.
 * getSystemJavaCompiler(): null; a German date in English.
 *
 * jlink --bind-services links every provider of every service the modules
 * use, and java.base uses java.util.spi.ToolProvider: most of the JDK's
 * tools. These rules take the few whose absence breaks ordinary apps,
 * where the module that uses the service is linked and the JDK has the
 * provider (and, for jdk.crypto.ec, still needs it: JDK 22 moved the EC
 * provider into java.base). The small ones (85-205 KB of lib/modules
 * each) are linked. The large ones are said, with how to link them: the
 * system compiler (jdk.compiler, 19 MB of runtime with its ct.sym) would
 * grow Tomcat's and Maven's artifacts by a fifth, and Tomcat compiles JSPs
 * with JDT, not with it; all the locales' data (jdk.localedata, 27 MB)
 * would double a small runtime; the charsets java.base lacks
 * (jdk.charsets: ISO-2022-JP, which Japanese mail uses, EBCDIC; 1.1 MB
 * deflated) would grow every artifact by 2-3% for what few apps read. A rule looks at every module linked, not
 * only at jdeps' list, which leaves out what a listed module requires
 * (java.sql.rowset brings java.naming).
 */
#include "hpk_build.h"

#include <string.h>

static const struct hpk_provider_rule rules[] = {
    {"java.base", "jdk.crypto.ec", 21, 0, "elliptic-curve keys, which most TLS handshakes need", NULL},
    {"java.base", "jdk.zipfs", 0, 0, "zip file systems", NULL},
    {"java.naming", "jdk.naming.dns", 0, 0, "JNDI DNS lookups", NULL},
    {"java.management", "jdk.management", 0, 0, "com.sun.management's MXBeans: process CPU load, memory sizes", NULL},
    {"java.compiler", "jdk.compiler", 0, 1,
     "15 MB on Java 17, 19 MB on 25: ToolProvider.getSystemJavaCompiler() returns null without it", NULL},
    {"java.base", "jdk.charsets", 0, 1,
     "1.1 MB: about 110 more charsets, ISO-2022-JP and the EBCDIC code pages among them; Charset.forName throws "
     "UnsupportedCharsetException for those without it",
     NULL},
    {"java.base", "jdk.localedata", 0, 1,
     "22 MB on Java 17, 27 MB on 25: other locales get English formats, names and sort order (Collator) without it",
     ", with --jlink-opt=--include-locales=en,de,... only those locales"},
};
/* Callers size their arrays by it; a rule left out would be all zeros. */
_Static_assert(sizeof rules / sizeof rules[0] == HPK_PROVIDER_RULES, "the rules' table and HPK_PROVIDER_RULES");

static int linked_has(const struct hpk_strv *mods, const struct hpk_strv *linked, const char *m)
{
    return hpk_strv_has(mods, m) || hpk_strv_has(linked, m);
}

void hpk_provider_modules(struct hpk_strv *mods, const struct hpk_strv *linked, const struct hpk_strv *jdk_mods,
                          int major, const struct hpk_provider_rule **added, size_t *n_added,
                          const struct hpk_provider_rule **said, size_t *n_said)
{
    *n_added = *n_said = 0;
    /* Until nothing changes: an added module may use a service itself
     * (no rule has one yet, but the table should not have to know; what
     * an added module requires is linked already for every rule here). */
    for (int changed = 1; changed;) {
        changed = 0;
        for (size_t i = 0; i < HPK_PROVIDER_RULES; i++) {
            const struct hpk_provider_rule *r = &rules[i];
            if (r->large || (r->max_major && major > r->max_major) || !linked_has(mods, linked, r->when) ||
                linked_has(mods, linked, r->add) || !hpk_strv_has(jdk_mods, r->add))
                continue;
            hpk_strv_push(mods, r->add);
            added[(*n_added)++] = r;
            changed = 1;
        }
    }
    for (size_t i = 0; i < HPK_PROVIDER_RULES; i++) {
        const struct hpk_provider_rule *r = &rules[i];
        if (r->large && linked_has(mods, linked, r->when) && !linked_has(mods, linked, r->add) &&
            hpk_strv_has(jdk_mods, r->add))
            said[(*n_said)++] = r;
    }
}
