#!/usr/bin/env python3
"""Old launcher against new on the same payload: the unpack of a first start.

  python3 tests/bench-unpack.py extract|first ROUNDS ART_A ART_B...

Runs each artifact in turn, ROUNDS times (alternated, so the load of a shared
machine falls on all alike), each run after removing the previous output and
a sync: `extract` times `ART --hpack-extract DIR` (a first start's unpack,
cache included), `first` a first start `HPACK_CACHE_DIR=DIR ART -e EXPR` (the
Clojure artifact of tests/bench-first.sh). Prints per artifact the medians of
wall and CPU (user + sys, from wait4) and the paired ratios to ART_A (the
median of the per-round ratios). Numbers, not a test.

To give two launchers the same payload, build the second with the first's
cache: `hpack extract OLD -o D` then `hpack build ... --with-cache D/cache/X.aot`
(docs/results.md, "One writer per file").
"""
import os, shutil, statistics, sys, tempfile, time

EXPR = '(println (reduce + (map inc (range 100000))))'

def main():
    if len(sys.argv) < 4 or sys.argv[1] not in ('extract', 'first'):
        sys.exit(__doc__)
    mode, rounds, arts = sys.argv[1], int(sys.argv[2]), [os.path.abspath(a) for a in sys.argv[3:]]
    tmp = tempfile.mkdtemp(prefix='bench-unpack.')
    out = os.path.join(tmp, 'out')
    env = dict(os.environ)
    res = {a: [] for a in arts}
    try:
        for _ in range(rounds):
            for a in arts:
                shutil.rmtree(out, ignore_errors=True)
                os.sync()
                if mode == 'extract':
                    argv = [a, '--hpack-extract', out]
                else:
                    argv, env['HPACK_CACHE_DIR'] = [a, '-e', EXPR], out
                t0 = time.perf_counter()
                pid = os.posix_spawn(a, argv, env, file_actions=[(os.POSIX_SPAWN_OPEN, 1, '/dev/null', os.O_WRONLY, 0)])
                _, status, ru = os.wait4(pid, 0)
                wall = time.perf_counter() - t0
                if status != 0:
                    sys.exit('%s: exit status %d' % (a, status))
                res[a].append((wall, ru.ru_utime + ru.ru_stime))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    base = res[arts[0]]
    print('%s, %d rounds alternated, load average %s' % (mode, rounds, open('/proc/loadavg').read().split()[0]))
    for a in arts:
        v = res[a]
        walls, cpus = [x[0] for x in v], [x[1] for x in v]
        print('%-16s wall %.3f s (min %.3f, max %.3f)  cpu %.3f s  / %s: wall %.2f, cpu %.2f' % (
            os.path.basename(a), statistics.median(walls), min(walls), max(walls), statistics.median(cpus),
            os.path.basename(arts[0]), statistics.median([x[0] / y[0] for x, y in zip(v, base)]),
            statistics.median([x[1] / y[1] for x, y in zip(v, base)])))

main()
