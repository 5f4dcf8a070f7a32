/*
 * hpk_sha256.h - SHA-256 (FIPS 180-4), for OCI content digests. Small and
 * self-contained: no crypto library for one hash function.
 */
#ifndef HPK_SHA256_H
#define HPK_SHA256_H

#include <stddef.h>
#include <stdint.h>

struct hpk_sha256 {
    uint32_t h[8];
    uint64_t len; /* bytes hashed so far */
    uint8_t buf[64];
    size_t fill;
};

void hpk_sha256_init(struct hpk_sha256 *s);
void hpk_sha256_update(struct hpk_sha256 *s, const void *data, size_t len);
void hpk_sha256_final(struct hpk_sha256 *s, uint8_t out[32]);
/* "sha256:" and 64 lowercase hex digits, NUL-terminated (72 bytes). */
void hpk_sha256_digest(const uint8_t h[32], char out[72]);
void hpk_sha256_buf(const void *data, size_t len, char out[72]);

#endif
