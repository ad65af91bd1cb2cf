/* handler.c: see handler.h. Kept in its own translation unit (no LTO) so that callgrind can report the
 * handler's inclusive cost apart from each server's HTTP layer. */
#include "handler.h"

#include <cJSON.h>
#include <stdio.h>

void bench_handle(const char *body, size_t len, bench_reply *out)
{
    cJSON *root = body != NULL ? cJSON_ParseWithLength(body, len) : NULL;
    const cJSON *alerts = cJSON_GetObjectItemCaseSensitive(root, "alerts");
    int n;

    if (!cJSON_IsArray(alerts)) {
        cJSON_Delete(root);
        out->status = 400;
        out->reason = "Bad Request";
        out->len = (size_t)snprintf(out->body, sizeof out->body, "{\"error\":\"not an Alertmanager webhook\"}");
        return;
    }
    n = cJSON_GetArraySize(alerts);
    cJSON_Delete(root);
    out->status = 202;
    out->reason = "Accepted";
    /* 59 bytes for a one-digit count, like the gateway's duplicate reply */
    out->len = (size_t)snprintf(out->body, sizeof out->body,
                                "{\"status\":\"duplicate\",\"results\":[],\"alerts\":%d,\"accepted\":0}", n);
}
