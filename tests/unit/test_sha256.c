/*
 * test_sha256.c - cmocka unit tests for packer/sha256.c (OCI digests):
 * the FIPS 180-4 example vectors, a million 'a's, and every split of the
 * input across update calls (the block-boundary cases 55, 56, 63, 64, 65).
 *
 *   make build/test_sha256 && build/test_sha256
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "../../packer/hpk_sha256.h"

static void digest_of(const void *data, size_t len, char out[72]) { hpk_sha256_buf(data, len, out); }

static void test_fips_vectors(void **state)
{
    (void)state;
    char d[72];
    digest_of("", 0, d);
    assert_string_equal(d, "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    digest_of("abc", 3, d);
    assert_string_equal(d, "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    const char *two = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
    digest_of(two, strlen(two), d);
    assert_string_equal(d, "sha256:248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
}

static void test_million_a(void **state)
{
    (void)state;
    struct hpk_sha256 s;
    uint8_t h[32], chunk[1000];
    char d[72];
    memset(chunk, 'a', sizeof chunk);
    hpk_sha256_init(&s);
    for (int i = 0; i < 1000; i++) hpk_sha256_update(&s, chunk, sizeof chunk);
    hpk_sha256_final(&s, h);
    hpk_sha256_digest(h, d);
    assert_string_equal(d, "sha256:cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

/* Any split of the input over two updates gives the one-call digest. */
static void test_splits(void **state)
{
    (void)state;
    static const size_t lens[] = {1, 55, 56, 57, 63, 64, 65, 127, 128, 129, 300};
    uint8_t buf[300];
    for (size_t i = 0; i < sizeof buf; i++) buf[i] = (uint8_t)(i * 31 + 7);
    for (size_t k = 0; k < sizeof lens / sizeof *lens; k++) {
        char whole[72];
        digest_of(buf, lens[k], whole);
        for (size_t cut = 0; cut <= lens[k]; cut++) {
            struct hpk_sha256 s;
            uint8_t h[32];
            char d[72];
            hpk_sha256_init(&s);
            hpk_sha256_update(&s, buf, cut);
            hpk_sha256_update(&s, buf + cut, lens[k] - cut);
            hpk_sha256_final(&s, h);
            hpk_sha256_digest(h, d);
            assert_string_equal(d, whole);
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fips_vectors),
        cmocka_unit_test(test_million_a),
        cmocka_unit_test(test_splits),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
