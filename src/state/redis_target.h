/* redis_target.h: where the Redis store connects, parsed from its URL: one server, or the
 * sentinels to ask for a primary by name; the password and the database. The connection
 * (redis_conn.c) fills in the rest: the keys' prefix and the timeouts. */
#ifndef SGW_STATE_REDIS_TARGET_H
#define SGW_STATE_REDIS_TARGET_H
#include <stdbool.h>
#include <stddef.h>

typedef struct redis_target {
    bool        sentinel;
    char      **hosts;          /* redis: one; sentinel: the sentinels */
    int        *ports;
    int         n_hosts;
    char       *master;         /* sentinel master name */
    char       *password;       /* from redis://:PASSWORD@host… (never logged) */
    int         db;
    const char *prefix;         /* borrowed */
    int         command_timeout_ms;
    int         connect_timeout_ms;
} redis_target;

/* redis://[:password@]HOST[:PORT][/DB]  or  redis-sentinel://[:password@]H1:P1,H2:P2/MASTER[/DB]
 * 0, or SGW_E_INVALID with the reason in err (t is then empty). */
int  redis_target_parse(const char *url, redis_target *t, char *err, size_t errlen);
void redis_target_free(redis_target *t);

#endif
