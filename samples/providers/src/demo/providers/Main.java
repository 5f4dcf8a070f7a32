package demo.providers;

import java.lang.management.ManagementFactory;
import java.nio.charset.Charset;
import java.nio.file.FileSystem;
import java.nio.file.FileSystems;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyPairGenerator;
import java.util.Hashtable;
import java.util.Map;
import javax.naming.Context;
import javax.naming.directory.InitialDirContext;
import javax.tools.ToolProvider;

/* Uses six services of the JDK whose providers no class names, so jdeps
 * cannot see them (docs/hpack.1, --provider-modules): one line each, "ok"
 * or what failed. */
public final class Main {
    public static void main(String[] args) throws Exception {
        try {
            KeyPairGenerator.getInstance("EC").initialize(256);
            KeyPairGenerator.getInstance("X25519");
            System.out.println("ec: ok");
        } catch (Exception e) {
            System.out.println("ec: " + e);
        }
        Path zip = Files.createTempFile("providers", ".zip");
        Files.delete(zip);
        try (FileSystem fs = FileSystems.newFileSystem(zip, Map.of("create", "true"))) {
            Files.writeString(fs.getPath("x.txt"), "x");
            System.out.println("zipfs: ok");
        } catch (Exception e) {
            System.out.println("zipfs: " + e);
        } finally {
            Files.deleteIfExists(zip);
        }
        try {
            Hashtable<String, String> env = new Hashtable<>();
            env.put(Context.INITIAL_CONTEXT_FACTORY, "com.sun.jndi.dns.DnsContextFactory");
            env.put(Context.PROVIDER_URL, "dns://127.0.0.1");
            new InitialDirContext(env).close();
            System.out.println("dns: ok");
        } catch (Exception e) {
            System.out.println("dns: " + e);
        }
        System.out.println("compiler: " + (ToolProvider.getSystemJavaCompiler() != null ? "ok" : "none"));
        /* as monitoring libraries do: the extended bean, looked up by name */
        try {
            Class<?> c = Class.forName("com.sun.management.OperatingSystemMXBean");
            Object os = ManagementFactory.getOperatingSystemMXBean();
            System.out.println("management: " + (c.isInstance(os) ? "ok" : "base bean only"));
        } catch (Exception e) {
            System.out.println("management: " + e);
        }
        /* Japanese mail's charset: in jdk.charsets, not in java.base */
        try {
            Charset jis = Charset.forName("ISO-2022-JP");
            String text = "\u65e5\u672c";
            System.out.println("charset: " + (new String(text.getBytes(jis), jis).equals(text) ? "ok" : "wrong text"));
        } catch (Exception e) {
            System.out.println("charset: " + e);
        }
    }
}
