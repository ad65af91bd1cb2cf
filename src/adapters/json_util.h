/* json_util.h: the strict JSON front end the adapters share (implemented in common.c).
 * cJSON is fast but lenient; these helpers add what a network parser needs: UTF-8
 * validation, a cheap depth pre-scan, no trailing data, no control bytes, no NUL in
 * strings, Go-like field lookup, and errors that name the field. */
#ifndef SGW_ADAPTERS_JSON_UTIL_H
#define SGW_ADAPTERS_JSON_UTIL_H
#include <cjson/cJSON.h>
#include <stdint.h>

#include "adapters/adapter.h"
#include "util/arena.h"

/* Labels (or annotations) one signal may carry. Real alerts carry tens; the cap stops a small
 * body from multiplying (N alerts each inheriting C common labels cost N x C entries).
 * A candidate for adapter_limits. */
#define AJSON_MAX_LABELS 512

/* Default limits when a caller passes lim == NULL (the config defaults). */
extern const adapter_limits ajson_default_limits;

/* The common start of both adapters' entry points: resets the outputs, picks the limits
 * and parses the body strictly, with every cJSON allocation of this thread taken from the
 * request's arena a until ajson_end: the tree (and its strings) then live as long as the
 * request and are never freed node by node. Returns 0 with *root, or an error; either way
 * the caller calls ajson_end(root) when done with the tree. */
int ajson_begin(const char *body, size_t len, const adapter_limits **lim, arena *a, sig_signal **out, size_t *n,
                adapter_error *err, cJSON **root);
void ajson_end(cJSON *root);

/* Sets err (may be NULL) and returns st. The message is cut at a UTF-8 boundary. */
int ajson_fail(adapter_error *err, adapter_status st, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Validates body (UTF-8, bytes outside strings, nesting <= max_depth, no NUL) and parses it.
 * On success *root is a cJSON tree the caller must cJSON_Delete; on failure *root is NULL. */
int ajson_parse(const char *body, size_t len, int max_depth, cJSON **root, adapter_error *err);

/* Member lookup with Go encoding/json semantics for struct fields: ASCII case-insensitive,
 * the last matching member wins, JSON null counts as absent (returns NULL). */
const cJSON *ajson_get(const cJSON *obj, const char *name);

/* ajson_get for several names in one pass over obj's members: out[k] = the member names[k]
 * names, with ajson_get's semantics. An adapter reads an object's fields with one walk of its
 * member list instead of one walk per field. */
void ajson_get_many(const cJSON *obj, const char *const *names, size_t n, const cJSON **out);

/* Writes "path.name" (or "name" when path is empty) into buf, for error messages. */
const char *ajson_field(char *buf, size_t n, const char *path, const char *name);

/* Optional string member: absent/null → *out = NULL, 0; not a string → ADAPTER_E_TYPE.
 * *out is borrowed from the cJSON tree. */
int ajson_opt_string(const cJSON *obj, const char *name, const char *path, const char **out,
                     adapter_error *err);

/* The same check of a member already found (v: from ajson_get_many, NULL = absent); name is
 * the member's name, for the message. */
int ajson_string_value(const cJSON *v, const char *path, const char *name, const char **out, adapter_error *err);

/* Optional RFC 3339 member: absent, null or Go's zero time → *ms = 0; a non-string or an
 * unparsable string → ADAPTER_E_TYPE. */
int ajson_opt_time(const cJSON *obj, const char *name, const char *path, int64_t *ms,
                   adapter_error *err);
int ajson_time_value(const cJSON *v, const char *path, const char *name, int64_t *ms, adapter_error *err);

/* Reads an optional object of strings into *out (unsorted; keys and values borrowed from the
 * cJSON tree, which lives in the request's arena as long as they do). Absent or null → empty
 * map. A non-object, or a non-string value, → ADAPTER_E_TYPE naming the field "path.name"
 * (ajson_field; built only for the message) or "path.name.key". */
int ajson_string_map(const cJSON *obj, const char *path, const char *name, arena *a, sig_map *out,
                     adapter_error *err);

/* Bytes of a key worth showing in a message: printf("%.*s", AJSON_KEY(k)). */
#define AJSON_KEY_MAX 64
#define AJSON_KEY(k) (int)ajson_key_len(k), (k)
size_t ajson_key_len(const char *k);

#endif
