/* metrics.h: Prometheus text exposition (format 0.0.4) without a client library (none is
 * packaged for C). Families are declared once; a series is "name{labels}" created on first
 * use. Counters and histograms are kept per thread (an update takes only the thread's own,
 * uncontended mutex), gauges in one shared table; the exposition sums over the threads. */
#ifndef SGW_METRICS_H
#define SGW_METRICS_H
#include <stddef.h>

typedef enum { M_COUNTER, M_GAUGE, M_HISTOGRAM } metric_type;

void metrics_init(void);
void metrics_free(void);

/* labels: preformatted `key="value",key2="value2"` (values must be escaped: use
 * metrics_label_escape for anything that came from input), or "" for none. */
void metrics_add(const char *name, const char *labels, double v);     /* counter / gauge */
void metrics_set(const char *name, const char *labels, double v);     /* gauge */
void metrics_observe(const char *name, const char *labels, double v); /* histogram */

/* Escapes a label value (\\, \", \n) into out (cap bytes). */
void metrics_label_escape(const char *in, char *out, size_t cap);

/* Whole exposition as malloc'd text. */
char *metrics_render(size_t *len);

#endif
