/* err.h: the project's error codes. Every fallible function of ours returns 0 (or a
 * non-negative result) on success and one of these negative codes on failure (or a seam's
 * alias of one, such as SINK_E_UNAVAILABLE); where an operator needs the reason, it also
 * writes one sentence into a caller-owned (char *err, size_t errlen) pair, its last two
 * parameters. The adapters' ADAPTER_E_* kinds are the one exception. docs/conventions.md
 * has the whole rule. */
#ifndef SGW_ERR_H
#define SGW_ERR_H

enum {
    SGW_OK = 0,
    SGW_E_INVALID = -1,      /* input that will never succeed: bad config, argument, object */
    SGW_E_UNAVAILABLE = -2,  /* a dependency is down or timed out: the same call may succeed later */
    SGW_E_PROTOCOL = -3,     /* a peer answered something we do not understand */
    SGW_E_NOTFOUND = -4,     /* the thing named does not exist */
    SGW_E_EXISTS = -5,       /* the thing to create already exists */
    SGW_E_IO = -6,           /* a local file system or socket call failed (errno in the message) */
    SGW_E_AGAIN = -7,        /* a try_ call's answer needs I/O: make the asynchronous call */
};

/* A short constant description of code ("unavailable"); "unknown error" for others. */
const char *sgw_strerror(int code);

#endif
