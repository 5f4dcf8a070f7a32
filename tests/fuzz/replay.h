/*
 * replay.h - the main() of a fuzz harness built without libFuzzer
 * (-DHPK_FUZZ_REPLAY, make fuzz-regress): every file given on the command
 * line run once through LLVMFuzzerTestOneInput. Included last by each
 * harness.
 */
#ifdef HPK_FUZZ_REPLAY
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

int main(int argc, char **argv)
{
    int n = 0;
    for (int i = 1; i < argc; i++) {
        FILE *fp = fopen(argv[i], "rb");
        if (!fp) {
            perror(argv[i]);
            return 1;
        }
        struct stat st;
        fstat(fileno(fp), &st);
        uint8_t *b = malloc(st.st_size ? (size_t)st.st_size : 1);
        size_t got = fread(b, 1, (size_t)st.st_size, fp);
        fclose(fp);
        LLVMFuzzerTestOneInput(b, got);
        free(b);
        n++;
    }
    printf("fuzz-regress (%s): %d inputs replayed without error\n", argv[0], n);
    return 0;
}
#endif
