/* log.h: JSON-lines logging, one write(2) per line, safe from any thread.
 *   log_line l;
 *   if (log_begin(&l, LOG_INFO, "signal created")) { log_str(&l, "fingerprint", fp); log_end(&l); }
 * Secrets are never passed here: the Authorization header is not a field anywhere. */
#ifndef SGW_LOG_H
#define SGW_LOG_H
#include <stdbool.h>
#include <stddef.h>

enum { LOG_DEBUG = 0, LOG_INFO = 1, LOG_WARN = 2, LOG_ERROR = 3 };

typedef struct log_line {
    char   buf[4096];
    size_t n;
    bool   truncated;
} log_line;

void log_set_level(int level);
int  log_get_level(void);
void log_set_fd(int fd);                     /* default 2 (stderr) */
int  log_level_parse(const char *s);         /* "debug".."error" → level, -1 if unknown */

bool log_begin(log_line *l, int level, const char *msg);   /* false: level disabled, skip */
void log_str(log_line *l, const char *key, const char *value);
void log_strn(log_line *l, const char *key, const char *value, size_t len);
void log_int(log_line *l, const char *key, long long value);
void log_dbl(log_line *l, const char *key, double value);
void log_end(log_line *l);

/* One-liner for messages with at most one string field. */
void log_msg(int level, const char *msg, const char *key, const char *value);

#endif
