/* redis_target.c: a Redis URL (redis:// or redis-sentinel://) parsed into where to connect;
 * see redis_target.h. No I/O: main.c checks a configured URL with it before any worker starts. */
#include "state/redis_target.h"
#include "util/err.h"
#include "util/xalloc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void target_clear(redis_target *t)
{
    for (int i = 0; i < t->n_hosts; i++) free(t->hosts[i]);
    free(t->hosts);
    free(t->ports);
    free(t->password);
    free(t->master);
    memset(t, 0, sizeof *t);
}

static int add_hostport(redis_target *t, const char *hp, size_t len, char *err, size_t errlen)
{
    char buf[300];
    if (len == 0 || len >= sizeof buf) {
        snprintf(err, errlen, "bad host:port '%.*s'", (int)len, hp);
        return SGW_E_INVALID;
    }
    memcpy(buf, hp, len);
    buf[len] = '\0';
    char *colon = strrchr(buf, ':');
    int port = 6379;
    if (colon && (buf[0] != '[' || colon > strchr(buf, ']'))) {
        *colon = '\0';
        char *end;
        long p = strtol(colon + 1, &end, 10);
        if (*end || p < 1 || p > 65535) {
            snprintf(err, errlen, "bad port in '%.*s'", (int)len, hp);
            return SGW_E_INVALID;
        }
        port = (int)p;
    }
    char *host = buf;
    if (host[0] == '[') {
        host++;
        char *rb = strchr(host, ']');
        if (rb) *rb = '\0';
    }
    if (!*host) {
        snprintf(err, errlen, "empty host in '%.*s'", (int)len, hp);
        return SGW_E_INVALID;
    }
    t->hosts = xrealloc(t->hosts, (size_t)(t->n_hosts + 1) * sizeof *t->hosts);
    t->ports = xrealloc(t->ports, (size_t)(t->n_hosts + 1) * sizeof *t->ports);
    t->hosts[t->n_hosts] = xstrdup(host);
    t->ports[t->n_hosts] = port;
    t->n_hosts++;
    return 0;
}

int redis_target_parse(const char *url, redis_target *t, char *err, size_t errlen)
{
    memset(t, 0, sizeof *t);
    const char *rest;
    if (!strncmp(url, "redis://", 8)) rest = url + 8;
    else if (!strncmp(url, "redis-sentinel://", 17)) {
        rest = url + 17;
        t->sentinel = true;
    } else {
        snprintf(err, errlen, "not a redis:// or redis-sentinel:// URL");
        return SGW_E_INVALID;
    }
    /* [user][:password]@ */
    const char *at = strchr(rest, '@');
    const char *slash = strchr(rest, '/');
    if (at && (!slash || at < slash)) {
        const char *colon = memchr(rest, ':', (size_t)(at - rest));
        const char *pw = colon ? colon + 1 : rest;
        t->password = xstrndup(pw, (size_t)(at - pw));
        rest = at + 1;
        slash = strchr(rest, '/');
    }
    const char *hosts_end = slash ? slash : rest + strlen(rest);
    const char *p = rest;
    while (p < hosts_end) {
        const char *comma = memchr(p, ',', (size_t)(hosts_end - p));
        const char *e = comma ? comma : hosts_end;
        if (add_hostport(t, p, (size_t)(e - p), err, errlen) < 0) goto fail;
        p = comma ? comma + 1 : hosts_end;
    }
    if (t->n_hosts == 0) {
        snprintf(err, errlen, "no host");
        goto fail;
    }
    if (t->sentinel) {
        if (!slash || !slash[1]) {
            snprintf(err, errlen, "redis-sentinel:// needs /MASTERNAME");
            goto fail;
        }
        const char *m = slash + 1;
        const char *m_end = strchr(m, '/');
        t->master = xstrndup(m, m_end ? (size_t)(m_end - m) : strlen(m));
        if (m_end && m_end[1]) t->db = atoi(m_end + 1);
    } else {
        if (t->n_hosts != 1) {
            snprintf(err, errlen, "redis:// takes one host (use redis-sentinel:// for several)");
            goto fail;
        }
        if (slash && slash[1]) {
            char *end;
            long db = strtol(slash + 1, &end, 10);
            if (*end || db < 0 || db > 1000) {
                snprintf(err, errlen, "bad database number '%s'", slash + 1);
                goto fail;
            }
            t->db = (int)db;
        }
    }
    return 0;
fail:
    target_clear(t);
    return SGW_E_INVALID;
}

void redis_target_free(redis_target *t) { target_clear(t); }
