/* jpath.c: parse and read the mapped webhooks' JSON paths; see jpath.h. */
#include "util/jpath.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/err.h"
#include "util/xalloc.h"

static void point_segments(jpath *p)
{
    size_t k = 0;
    const char *s = p->text;
    while (k < p->n) {
        const char *dot = strchr(s, '.');
        size_t len = dot ? (size_t)(dot - s) : strlen(s);
        p->seg[k].key = s;
        p->seg[k].len = len;
        k++;
        s += len + 1;
    }
}

int jpath_parse(const char *s, jpath *p, char *err, size_t errlen)
{
    memset(p, 0, sizeof *p);
    size_t len = strlen(s);
    if (len == 0) return snprintf(err, errlen, "an empty path"), SGW_E_INVALID;
    if (len > JPATH_MAX_LEN)
        return snprintf(err, errlen, "a path longer than %d bytes", JPATH_MAX_LEN), SGW_E_INVALID;
    size_t n = 0, seglen = 0, digits = 0;
    for (size_t i = 0; i <= len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '.' || c == '\0') {
            if (seglen == 0)
                return snprintf(err, errlen, "'%s' has an empty segment (dot-separated keys and indexes)", s),
                       SGW_E_INVALID;
            if (n == JPATH_MAX_SEGS)
                return snprintf(err, errlen, "'%s' has more than %d segments", s, JPATH_MAX_SEGS), SGW_E_INVALID;
            if (digits == seglen && seglen > 9)
                return snprintf(err, errlen, "'%s' has an index of more than 9 digits", s), SGW_E_INVALID;
            p->seg[n].index = -1;
            if (digits == seglen) {
                long v = 0;
                for (size_t j = i - seglen; j < i; j++) v = v * 10 + (s[j] - '0');
                p->seg[n].index = v;
            }
            n++;
            seglen = digits = 0;
            continue;
        }
        if (c < 0x20 || c == 0x7f)
            return snprintf(err, errlen, "a path with a control character"), SGW_E_INVALID;
        seglen++;
        digits += c >= '0' && c <= '9';
    }
    p->text = xstrdup(s);
    p->n = n;
    point_segments(p);
    return 0;
}

void jpath_free(jpath *p)
{
    free(p->text);
    memset(p, 0, sizeof *p);
}

const cJSON *jpath_get(const cJSON *root, const jpath *p)
{
    const cJSON *node = root;
    for (size_t k = 0; node && k < p->n; k++) {
        const jpath_seg *sg = &p->seg[k];
        if (cJSON_IsArray(node)) {
            const cJSON *c = NULL;
            if (sg->index >= 0) {
                long i = 0;
                for (c = node->child; c && i < sg->index; c = c->next) i++;
            }
            node = c;
        } else if (cJSON_IsObject(node)) {
            const cJSON *found = NULL;
            for (const cJSON *c = node->child; c; c = c->next)
                if (c->string && strncmp(c->string, sg->key, sg->len) == 0 && c->string[sg->len] == '\0') found = c;
            node = found;
        } else {
            node = NULL;
        }
    }
    return node && !cJSON_IsNull(node) ? node : NULL;
}
