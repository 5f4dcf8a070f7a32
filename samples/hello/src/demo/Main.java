package demo;

import java.time.Duration;
import java.time.LocalDate;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.logging.Logger;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;
import java.util.stream.IntStream;

/**
 * A small app that touches a realistic spread of the JDK (collections,
 * streams and lambdas, regex, java.time, logging, String.format), so that a
 * startup cache has something to save. Prints its arguments one per line,
 * bracketed, so tests can check that spaces and quotes arrive intact.
 * "--exit N" exits with status N; "--cwd" prints the working directory;
 * "--env NAME" prints the environment variable NAME.
 */
public final class Main {
    private static final Logger LOG = Logger.getLogger(Main.class.getName());

    public static void main(String[] args) {
        List<String> words = new ArrayList<>(List.of("hermetic", "packager", "for", "java", "startup", "cache"));
        Map<Integer, List<String>> byLength = words.stream().collect(Collectors.groupingBy(String::length, TreeMap::new, Collectors.toList()));
        Map<String, Integer> counts = new ConcurrentHashMap<>();
        Pattern p = Pattern.compile("([a-z])\\1|a[a-z]e");
        for (String w : words) {
            Matcher m = p.matcher(w);
            counts.merge(m.find() ? "match" : "plain", 1, Integer::sum);
        }
        long sum = IntStream.rangeClosed(1, 1000).filter(i -> i % 7 == 0).asLongStream().sum();
        Duration d = Duration.ofMillis(sum);
        LocalDate date = LocalDate.of(2026, 1, 1).plusDays(sum % 365);
        LOG.fine("computed " + sum);
        System.out.println("Hello from hpack!");
        System.out.println(String.format("groups=%s counts=%s sum=%d duration=%s date=%s",
                byLength, new TreeMap<>(counts), sum, d, date));
        int exit = 0;
        for (int i = 0; i < args.length; i++) {
            if (args[i].equals("--exit") && i + 1 < args.length) {
                exit = Integer.parseInt(args[++i]);
            } else if (args[i].equals("--cwd")) {
                System.out.println("cwd=" + System.getProperty("user.dir"));
            } else if (args[i].equals("--env") && i + 1 < args.length) {
                String k = args[++i];
                System.out.println(k + "=" + System.getenv(k));
            } else if (args[i].equals("--prop") && i + 1 < args.length) {
                String k = args[++i];
                System.out.println(k + "=" + System.getProperty(k));
            } else if (args[i].equals("--mark") && i + 1 < args.length) {
                // A run that cannot be repeated: the second in the same place fails.
                java.io.File f = new java.io.File(args[++i]);
                try {
                    if (!f.createNewFile()) {
                        System.out.println(f + " exists: ran here before");
                        exit = 3;
                    }
                } catch (java.io.IOException e) {
                    throw new RuntimeException(e);
                }
            } else if (args[i].equals("--stdin")) {
                try {
                    System.out.println("stdin=" + new String(System.in.readAllBytes()).trim());
                } catch (java.io.IOException e) {
                    throw new RuntimeException(e);
                }
            }
            System.out.println("arg[" + args[i] + "]");
        }
        System.exit(exit);
    }
}
