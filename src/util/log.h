/* log.h: JSON-lines logging, safe from any thread: one write(2) per line, or, on a thread that
 * asked for it (the workers), one write(2) per LOG_BATCH_MAX bytes of whole lines, made by
 * log_flush() once per event-loop iteration.
 *   log_line l;
 *   if (log_begin(&l, LOG_INFO, "signal created")) { log_str(&l, "fingerprint", fp); log_end(&l); }
 * A line written while the thread has a current trace (util/trace.h trace_current: set by
 * the code that works for one request) carries its "trace_id", unless the line names one
 * itself (log_str(&l, "trace_id", …)), which wins.
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
    bool   has_trace;     /* a "trace_id" field was written */
    int    level;
} log_line;

void log_set_level(int level);
int  log_get_level(void);
void log_set_fd(int fd);                     /* default 2 (stderr) */
int  log_level_parse(const char *s);         /* "debug".."error" → level, SGW_E_INVALID if unknown */

bool log_begin(log_line *l, int level, const char *msg);   /* false: level disabled, skip */
void log_str(log_line *l, const char *key, const char *value);
void log_strn(log_line *l, const char *key, const char *value, size_t len);
void log_int(log_line *l, const char *key, long long value);
void log_dbl(log_line *l, const char *key, double value);
void log_end(log_line *l);

/* Buffering for this thread (an event-loop worker): log_end appends the line to the thread's
 * buffer; log_flush() writes the buffer, whole lines only, at most LOG_BATCH_MAX bytes per
 * write(2) (PIPE_BUF: a write to a pipe that size is never interleaved with another
 * thread's). A line that does not fit the rest of the buffer flushes it first. The worker
 * calls log_flush before its loop would block, so a line waits at most one iteration; an
 * error line (and what the thread logged before it) is written at once.
 * log_buffering(false) flushes and turns it off. */
#define LOG_BATCH_MAX 4096
void log_buffering(bool on);
void log_flush(void);

/* One-liner for messages with at most one string field. */
void log_msg(int level, const char *msg, const char *key, const char *value);

#endif
