/* driver.c: the metrics updates of one duplicate request (what pipeline.c and redis.c call
 * per request), made by T threads at once; prints ns per request. Linked against one
 * version of src/metrics.c by bench/s8-metrics.sh. */
#include "metrics.h"

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static long per_thread;

static void *run(void *arg)
{
    (void)arg;
    for (long i = 0; i < per_thread; i++) {
        metrics_add("gateway_signals_received_total", "source_type=\"prometheus\",severity=\"critical\"", 1);
        metrics_add("gateway_auth_total", "result=\"allowed\"", 1);
        metrics_observe("gateway_redis_decide_batch_requests", "", 8);
        metrics_observe("gateway_store_duration_seconds", "op=\"decide\"", 0.0007);
        metrics_add("gateway_signals_total", "source=\"prometheus\",outcome=\"duplicate\"", 1);
        metrics_add("gateway_http_requests_total", "endpoint=\"/api/v1/signals/prometheus\",method=\"POST\",status=\"202\"", 1);
        metrics_observe("gateway_http_request_duration_seconds", "endpoint=\"/api/v1/signals/prometheus\",method=\"POST\",status=\"202\"", 0.0011);
    }
    return NULL;
}

int main(int argc, char **argv)
{
    int threads = argc > 1 ? atoi(argv[1]) : 1;
    per_thread = argc > 2 ? atol(argv[2]) : 1000000;
    metrics_init();
    pthread_t th[64];
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (int t = 0; t < threads && t < 64; t++) pthread_create(&th[t], NULL, run, NULL);
    for (int t = 0; t < threads && t < 64; t++) pthread_join(th[t], NULL);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double ns = (double)(t1.tv_sec - t0.tv_sec) * 1e9 + (double)(t1.tv_nsec - t0.tv_nsec);
    size_t len;
    char *text = metrics_render(&len);   /* and the totals must be exact */
    char want[64];
    snprintf(want, sizeof want, "gateway_auth_total{result=\"allowed\"} %ld\n", per_thread * threads);
    int ok = text && strstr(text, want) != NULL;
    free(text);
    printf("%d\t%.1f\t%s\n", threads, ns / (double)(per_thread * threads), ok ? "exact" : "WRONG");
    return ok ? 0 : 1;
}
