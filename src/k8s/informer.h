/* informer.h: a list+watch driver for one collection of the Kubernetes API (one resource
 * path, optionally narrowed by a label or field selector) that hands its owner every
 * object and every change, so that the owner can keep a cache equal to the server's.
 * It lists (paginated), then watches from the list's resourceVersion and again from the
 * last one it saw; it lists again when the server has forgotten that version (410); it
 * backs off on errors. One informer belongs to one k8s_client and its loop. */
#ifndef SGW_K8S_INFORMER_H
#define SGW_K8S_INFORMER_H
#include <stdint.h>

#include <cJSON.h>

#include "k8s/client.h"

typedef struct k8s_informer k8s_informer;

typedef enum k8s_informer_event {
    K8S_INFORMER_LIST_BEGIN,   /* a complete list follows (obj NULL): drop what you hold, or
                                  mark it, and keep only what LIST_ITEM brings back */
    K8S_INFORMER_LIST_ITEM,    /* obj: one object of that list */
    K8S_INFORMER_LIST_END,     /* obj NULL: the owner now holds the server's state */
    K8S_INFORMER_ADDED,        /* obj: a watch event's object */
    K8S_INFORMER_MODIFIED,
    K8S_INFORMER_DELETED,      /* obj: the object's last state */
} k8s_informer_event;

/* obj is borrowed, valid during the call. The callback runs on the client's loop, never
 * inside k8s_informer_new or k8s_informer_start. It may make requests and may call
 * k8s_informer_free (nothing more is delivered then); it must not free the client.
 * Order: events come in the server's order, each resourceVersion later than the one
 * before; a list's items come between its LIST_BEGIN and LIST_END within one callback of
 * the loop (no watch event in between), and the events after it are those after the
 * list's resourceVersion. Take ADDED and MODIFIED alike as "the object is now this": an
 * ADDED may name an object the list brought (a server whose pages are not one snapshot). */
typedef void (*k8s_informer_cb)(k8s_informer_event ev, const cJSON *obj, void *ctx);

typedef struct k8s_informer_opts {
    const char *path;              /* the collection, e.g. "/apis/G/V/namespaces/NS/remediationrequests"; copied */
    const char *label_selector;    /* NULL or "" = none; copied */
    const char *field_selector;    /* likewise */
    const char *name;              /* for readiness: "RR cache"; NULL = "cache of <path>"; copied */
    int page_size;                 /* list limit per page; 0 = 500 */
    int watch_timeout_s;           /* a watch's timeoutSeconds is drawn from [n, 2n); 0 = 300 */
    int idle_timeout_ms;           /* a watch silent this long is hung: watch again; 0 = 60 s
                                      more than the watch's timeoutSeconds; < 0 = none */
    int backoff_ms;                /* first delay after an error, doubling; 0 = 200 */
    int backoff_max_ms;            /* 0 = 5000 */
    int notfound_retry_ms;         /* the list answered 404 (no such resource): 0 = 30000 */
} k8s_informer_opts;

/* Counters since k8s_informer_new; readable from any thread (for metrics). */
typedef struct k8s_informer_stats {
    uint64_t lists;      /* complete lists delivered (LIST_END) */
    uint64_t relists;    /* lists started because the watch's resourceVersion was gone (410) */
    uint64_t watches;    /* watches started */
    uint64_t events;     /* ADDED, MODIFIED and DELETED delivered */
    uint64_t bookmarks;  /* BOOKMARK events (they move the resourceVersion only) */
    uint64_t errors;     /* failed list pages and watches that ended otherwise than normally */
} k8s_informer_stats;

/* An informer on client c (which must outlive it), not yet started; o's strings are
 * copied. NULL with the reason in err when o is unusable (no path, a path not starting
 * with "/" or holding a query). */
k8s_informer *k8s_informer_new(k8s_client *c, const k8s_informer_opts *o, k8s_informer_cb cb, void *ctx,
                               char *err, size_t errlen);

/* Starts listing; the first callback comes later, from the loop. Once only. */
void k8s_informer_start(k8s_informer *inf);

/* Stops inf: no callback runs after this returns (from inside a callback: after that
 * callback). Its watch is cancelled; its memory goes once the calls it has on the client
 * have answered, so k8s_client_free may follow at once. inf may be NULL. */
void k8s_informer_free(k8s_informer *inf);

/* 1 once a first complete list was delivered (it stays so: later errors leave the owner
 * with a stale cache, not an empty one); else 0 with the reason in why, e.g.
 * "RR cache not synced: <error>" or "the API server does not serve <path>: is the CRD
 * installed?". Any thread (util/health.h). */
int k8s_informer_synced(k8s_informer *inf, char *why, size_t cap);

/* Any thread. */
void k8s_informer_stats_get(k8s_informer *inf, k8s_informer_stats *out);

/* The resourceVersion the next watch starts from ("" before the first list). Borrowed,
 * valid until the loop runs again; the loop's thread only. */
const char *k8s_informer_resource_version(const k8s_informer *inf);

#endif
