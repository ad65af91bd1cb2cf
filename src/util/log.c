/* log.c: see log.h. Lines longer than the buffer are cut and marked "truncated":true. */
#include "util/log.h"
#include "util/err.h"
#include "util/jsonw.h"
#include "util/timeutil.h"
#include "util/trace.h"

#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static atomic_int log_level = LOG_INFO;
static atomic_int log_fd = 2;

/* this thread's pending lines (log_buffering) */
static __thread struct {
    bool   on;
    size_t n;
    char   buf[LOG_BATCH_MAX];
} tb;

/* one write(2), not retried: a log line is not worth blocking or looping for */
static void write_once(const char *s, size_t n)
{
    ssize_t w = write(atomic_load(&log_fd), s, n);
    (void)w;   /* nowhere better to report a failed log write */
}

void log_flush(void)
{
    if (tb.n) write_once(tb.buf, tb.n);
    tb.n = 0;
}

void log_buffering(bool on)
{
    if (!on) log_flush();
    tb.on = on;
}

void log_set_level(int level) { atomic_store(&log_level, level); }
int  log_get_level(void) { return atomic_load(&log_level); }
void log_set_fd(int fd) { atomic_store(&log_fd, fd); }

int log_level_parse(const char *s)
{
    static const char *names[] = {"debug", "info", "warn", "error"};
    for (int i = 0; i < 4; i++)
        if (strcmp(s, names[i]) == 0) return i;
    if (strcmp(s, "warning") == 0) return LOG_WARN;
    return SGW_E_INVALID;
}

/* room kept at the end of a line for log_end: the current trace's id, "truncated", "}\n" */
#define LOG_TAIL 128

/* A line stays JSON when it is cut: a field that does not fit is left out whole, except a
 * string value, which is cut between whole characters (never inside an escape or a UTF-8
 * sequence) and closed; after the first cut no more fields are added. */
static size_t room_of(const log_line *l) { return sizeof l->buf - LOG_TAIL - l->n; }

static void put(log_line *l, const char *s, size_t n)
{
    if (n > room_of(l)) {
        n = room_of(l);
        l->truncated = true;
    }
    memcpy(l->buf + l->n, s, n);
    l->n += n;
}

/* JSON-escaped (util/jsonw's escaping), a piece at a time, leaving one byte for the closing
 * quote; the piece that does not fit is shortened to what does */
static void put_escaped(log_line *l, const char *s, size_t n)
{
    char esc[6 * 64 + 1];
    for (size_t i = 0; i < n;) {
        size_t want = n - i < 64 ? n - i : 64, k = want;
        size_t room = room_of(l) > 1 ? room_of(l) - 1 : 0;
        size_t e = json_escape_into(esc, s + i, k);
        while (e > room && k > 0) {
            k--;
            while (k > 0 && ((unsigned char)s[i + k] & 0xC0) == 0x80) k--;   /* not inside a character */
            e = json_escape_into(esc, s + i, k);
        }
        memcpy(l->buf + l->n, esc, e);
        l->n += e;
        if (k < want) {
            l->truncated = true;
            return;
        }
        i += k;
    }
}

/* a field's opening, `,"key` plus open, when it and `then` more bytes fit; else nothing, and
 * the line is cut */
static bool put_key(log_line *l, const char *key, const char *open, size_t open_len, size_t then)
{
    size_t kl = strlen(key);
    if (l->truncated || 2 + kl + open_len + then > room_of(l)) {
        l->truncated = true;
        return false;
    }
    put(l, ",\"", 2);
    put(l, key, kl);
    put(l, open, open_len);
    return true;
}

bool log_begin(log_line *l, int level, const char *msg)
{
    static const char *names[] = {"debug", "info", "warn", "error"};
    if (level < atomic_load(&log_level)) return false;
    l->level = level;
    l->n = 0;
    l->truncated = false;
    l->has_trace = false;
    int64_t ms = time_now_ms();
    char ts[32];
    time_format_rfc3339(ms, ts);
    ts[19] = '\0';   /* drop the Z to add milliseconds */
    l->n = (size_t)snprintf(l->buf, sizeof l->buf, "{\"ts\":\"%s.%03dZ\",\"level\":\"%s\",\"msg\":\"", ts,
                            (int)(ms % 1000), names[level < 0 ? 0 : level > 3 ? 3 : level]);
    put_escaped(l, msg, strlen(msg));
    l->buf[l->n++] = '"';   /* put_escaped left room for it */
    return true;
}

void log_strn(log_line *l, const char *key, const char *value, size_t len)
{
    if (!put_key(l, key, "\":\"", 3, 1)) return;
    if (key[0] == 't' && strcmp(key, "trace_id") == 0) l->has_trace = true;
    if (value) put_escaped(l, value, len);
    l->buf[l->n++] = '"';   /* put_escaped, or put_key, left room for it */
}

void log_str(log_line *l, const char *key, const char *value)
{
    log_strn(l, key, value ? value : "", value ? strlen(value) : 0);
}

void log_int(log_line *l, const char *key, long long value)
{
    char num[32];
    int n = snprintf(num, sizeof num, "%lld", value);
    if (!put_key(l, key, "\":", 2, (size_t)n)) return;   /* the number too: whole or not at all */
    put(l, num, (size_t)n);
}

void log_dbl(log_line *l, const char *key, double value)
{
    char num[48];
    int n = snprintf(num, sizeof num, "%.3f", value);
    if (!put_key(l, key, "\":", 2, (size_t)n)) return;   /* the number too: whole or not at all */
    put(l, num, (size_t)n);
}

void log_end(log_line *l)
{
    const trace_ctx *tc = trace_current();
    if (tc && !l->has_trace) {   /* within LOG_TAIL: 13 + 32 + 1 bytes */
        memcpy(l->buf + l->n, ",\"trace_id\":\"", 13);
        memcpy(l->buf + l->n + 13, tc->trace_id, 32);
        l->buf[l->n + 45] = '"';
        l->n += 46;
    }
    if (l->truncated) {
        memcpy(l->buf + l->n, ",\"truncated\":true", 17);
        l->n += 17;
    }
    l->buf[l->n++] = '}';
    l->buf[l->n++] = '\n';
    if (!tb.on) {
        write_once(l->buf, l->n);
        return;
    }
    _Static_assert(sizeof l->buf <= sizeof tb.buf, "a line always fits an empty buffer");
    if (tb.n + l->n > sizeof tb.buf) log_flush();
    memcpy(tb.buf + tb.n, l->buf, l->n);
    tb.n += l->n;
    if (l->level >= LOG_ERROR) log_flush();   /* an error goes out at once, after what led to it */
}

void log_msg(int level, const char *msg, const char *key, const char *value)
{
    log_line l;
    if (!log_begin(&l, level, msg)) return;
    if (key) log_str(&l, key, value);
    log_end(&l);
}
