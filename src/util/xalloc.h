/* xalloc.h: allocation wrappers that abort on out-of-memory.
 * A gateway that cannot allocate a few hundred bytes cannot answer honestly either; one
 * place that aborts (with a message) beats a NULL check at every call site. */
#ifndef SGW_XALLOC_H
#define SGW_XALLOC_H
#include <stddef.h>

void *xmalloc(size_t n);
void *xcalloc(size_t count, size_t size);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);

#endif
