/* yamlguard.c: see yamlguard.h. */
#include "util/yamlguard.h"
#include "util/err.h"
#include "util/utf8.h"
#include "util/xalloc.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int yaml_guard_file(const char *path, char *err, size_t errlen)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return SGW_E_IO;
    }
    size_t cap = 4u << 20, n = 0;
    char *buf = xmalloc(cap + 1);
    n = fread(buf, 1, cap + 1, f);
    fclose(f);
    int rc = 0;
    if (n > cap) {
        snprintf(err, errlen, "%s: larger than 4 MiB", path);
        rc = SGW_E_INVALID;
        goto out;
    }
    size_t bad;
    if (!utf8_valid(buf, n, &bad)) {
        size_t line = 1;
        for (size_t i = 0; i < bad; i++) line += buf[i] == '\n';
        snprintf(err, errlen, "%s:%zu: not valid UTF-8", path, line);
        rc = SGW_E_INVALID;
        goto out;
    }
    size_t line = 1;
    bool at_start = true;
    for (size_t i = 0; i < n; i++) {
        char c = buf[i];
        if (c == '\t') {
            snprintf(err, errlen, "%s:%zu: tab character (indent YAML with spaces)", path, line);
            rc = SGW_E_INVALID;
            goto out;
        }
        if (at_start && c == '%') {
            snprintf(err, errlen, "%s:%zu: YAML directives (%%...) are not supported", path, line);
            rc = SGW_E_INVALID;
            goto out;
        }
        at_start = c == '\n';
        line += c == '\n';
    }
out:
    free(buf);
    return rc;
}
