/* testutil.h: cmocka includes and small helpers shared by the unit tests. */
#ifndef SGW_TESTUTIL_H
#define SGW_TESTUTIL_H
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

/* Reads tests/fixtures/<name> (directory from $SGW_FIXTURES) into a malloc'd, NUL-terminated buffer. */
static inline char *read_fixture(const char *name, size_t *len)
{
    const char *dir = getenv("SGW_FIXTURES");
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir ? dir : "tests/fixtures", name);
    FILE *f = fopen(path, "rb");
    if (!f) { fail_msg("cannot open fixture %s", path); return NULL; }
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)n + 1);
    if (fread(buf, 1, (size_t)n, f) != (size_t)n) fail_msg("short read %s", path);
    buf[n] = '\0';
    fclose(f);
    if (len) *len = (size_t)n;
    return buf;
}
#endif
