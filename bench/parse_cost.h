/* parse_cost.h: what the adapters' parse-cost drivers (bench/<source>/parse_cost.c) share. */
#ifndef SGW_BENCH_PARSE_COST_H
#define SGW_BENCH_PARSE_COST_H
#include <stdio.h>
#include <stdlib.h>

/* The whole file, NUL-terminated, its length in *len; NULL if it cannot be opened. */
static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    *len = (size_t)ftell(f);
    rewind(f);
    char *b = malloc(*len + 1);
    if (fread(b, 1, *len, f) != *len) *len = 0;
    b[*len] = '\0';
    fclose(f);
    return b;
}

#endif
