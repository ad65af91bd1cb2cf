/* jpath.h: the small JSON path syntax of mapped webhooks (docs/sources.md, "Any JSON
 * webhook"): dot-separated segments, each an object key or, on an array, a decimal index
 * ("data.alerts", "labels.severity", "items.0.name"). Parsed once from the config, then
 * read against cJSON trees; no allocation when reading. */
#ifndef SGW_UTIL_JPATH_H
#define SGW_UTIL_JPATH_H
#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>

#define JPATH_MAX_SEGS 16
#define JPATH_MAX_LEN  256

typedef struct jpath_seg {
    const char *key;      /* into jpath.text; not NUL-terminated */
    size_t      len;
    long        index;    /* the segment as an array index, or -1 when it is not all digits */
} jpath_seg;

typedef struct jpath {
    char     *text;       /* owned: the path as written; NULL = not set */
    size_t    n;
    jpath_seg seg[JPATH_MAX_SEGS];
} jpath;

/* Parses s into *p (p->text a malloc'd copy, freed by jpath_free). 0, or SGW_E_INVALID with
 * the reason in err: empty, longer than JPATH_MAX_LEN, an empty segment ("a..b", ".a", "a."),
 * more than JPATH_MAX_SEGS segments, an index of more than 9 digits, a control byte. */
int jpath_parse(const char *s, jpath *p, char *err, size_t errlen);

/* Frees p->text and marks p unset. */
void jpath_free(jpath *p);

/* The node p names under root, or NULL when a key is missing, an index is out of range, a
 * segment meets a scalar, or the value is JSON null. A segment of digits indexes an array
 * and names a key of an object; a key is matched exactly, the last duplicate winning
 * (JSON object semantics). Borrowed from the tree. */
const cJSON *jpath_get(const cJSON *root, const jpath *p);

#endif
