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
 * newFileSystem of a zip: ProviderNotFoundException; ToolProvider.
 * getSystemJavaCompiler(): null; com.sun.management.OperatingSystemMXBean,
 * which monitoring libraries look up by name, absent. jlink --bind-services links every provider
 * of every service the modules use, which for java.base (it uses
 * java.util.spi.ToolProvider) is most of the JDK's tools. These rules add
 * the few whose absence breaks ordinary apps: where the module that uses
 * the service is linked and the JDK has the provider (and, for
 * jdk.crypto.ec, still needs it: JDK 22 moved the EC provider into
 * java.base). Each costs little but jdk.compiler (about 8 MB of
 * lib/modules), which only an app that links java.compiler gets.
 */
#include "hpk_build.h"

#include <string.h>

_Static_assert(HPK_PROVIDER_RULES == 5, "the rules' table and HPK_PROVIDER_RULES");

static const struct hpk_provider_rule rules[HPK_PROVIDER_RULES] = {
    {"java.base", "jdk.crypto.ec", 21, "elliptic-curve keys, which most TLS handshakes need"},
    {"java.base", "jdk.zipfs", 0, "zip file systems"},
    {"java.naming", "jdk.naming.dns", 0, "JNDI DNS lookups"},
    {"java.compiler", "jdk.compiler", 0, "the system Java compiler"},
    {"java.management", "jdk.management", 0, "com.sun.management's MXBeans (process CPU load, memory sizes)"},
};

void hpk_provider_modules(struct hpk_strv *mods, const struct hpk_strv *jdk_mods, int major,
                          const struct hpk_provider_rule **added, size_t *n_added)
{
    *n_added = 0;
    /* Until nothing changes: an added module may use a service itself
     * (no rule has one yet, but the table should not have to know). */
    for (int changed = 1; changed;) {
        changed = 0;
        for (size_t i = 0; i < sizeof rules / sizeof rules[0]; i++) {
            const struct hpk_provider_rule *r = &rules[i];
            if ((r->max_major && major > r->max_major) || !hpk_strv_has(mods, r->when) ||
                hpk_strv_has(mods, r->add) || !hpk_strv_has(jdk_mods, r->add))
                continue;
            hpk_strv_push(mods, r->add);
            added[(*n_added)++] = r;
            changed = 1;
        }
    }
}
