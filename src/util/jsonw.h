/* jsonw.h: JSON text of a fixed shape written straight into a request's arena (the
 * gateway's replies). No tree, no allocation per value, no printf: the reply of a 50-alert
 * webhook cost ~380,000 instructions through a cJSON tree and cJSON_PrintUnformatted.
 * Strings are escaped as cJSON prints them: '"', '\\' and control characters; every other
 * byte is copied (the gateway's strings are valid UTF-8: bodies are validated on input). */
#ifndef SGW_UTIL_JSONW_H
#define SGW_UTIL_JSONW_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/arena.h"

typedef struct jsonw {
    arena *a;
    char  *buf;   /* NUL-terminated after every call */
    size_t len, cap;
} jsonw;

void jw_init(jsonw *w, arena *a, size_t cap_hint);
void jw_raw(jsonw *w, const char *s, size_t n);
#define jw_lit(w, lit) jw_raw((w), "" lit, sizeof("" lit) - 1)   /* string literals only */
void jw_str(jsonw *w, const char *s);                  /* "s", escaped; NULL is "" */
void jw_i64(jsonw *w, int64_t v);
void jw_bool(jsonw *w, bool v);
/* ,"key":"value"; the leading comma only when `comma`. key: a string literal that needs no
 * escaping (written as one piece with its quotes and colon, not escaped per call). */
#define jw_kstr(w, comma, key, value) jw_kstr_raw((w), (comma), "\"" key "\":", sizeof("\"" key "\":") - 1, (value))
void jw_kstr_raw(jsonw *w, bool comma, const char *quoted_key, size_t n, const char *value);

/* Escapes s into out (room for 6 bytes per input byte + 1 assumed); returns the length. */
size_t json_escape_into(char *out, const char *s, size_t n);

#endif
