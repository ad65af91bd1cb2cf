/* signature.h: HMAC-SHA256 signatures of webhook bodies, as Grafana Alerting's webhook
 * contact point makes them (grafana/alerting http/hmac.go): the lowercase hex
 * HMAC-SHA256 of the body, or of "<timestamp>:<body>" when a timestamp header is sent. */
#ifndef SGW_SIGNATURE_H
#define SGW_SIGNATURE_H
#include <stddef.h>
#include <stdint.h>

typedef struct signature_key signature_key;

/* Reads the secret of the file at path (borrowed; one line, its trailing newline and
 * blanks dropped); refuses a file group or others may read, or an empty one. key_name is
 * the config key, for the message. Returns the key (owned: signature_key_free) or NULL with
 * the reason in err. */
signature_key *signature_key_load(const char *path, const char *key_name, char *err, size_t errlen);
void signature_key_free(signature_key *k);

/* 0 if sig_hex (borrowed, NUL-terminated; hex of either case) is the HMAC-SHA256 under k of
 * timestamp ":" body (timestamp NULL: of body alone); SGW_E_INVALID otherwise, also for a
 * NULL or malformed sig_hex. The digests are compared in constant time. */
int signature_verify(const signature_key *k, const char *timestamp, const char *body, size_t len,
                     const char *sig_hex);

/* The hex signature (65 bytes with the NUL) of body under k, as Grafana computes it: for
 * tests and tools. */
void signature_compute(const signature_key *k, const char *timestamp, const char *body, size_t len, char out[65]);

/* For tests: a key from bytes (copied). */
signature_key *signature_key_new(const void *secret, size_t len);

#endif
