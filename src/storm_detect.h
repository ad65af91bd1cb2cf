/* storm_detect.h: storm detection without folding, for the kubernaut.ai contract (its RR
 * has no storm fields; docs/decisions/014-storms-in-kubernaut-ai.md). Counts the RRs created
 * per alert name and namespace in this process; more than threshold in window is a storm,
 * reported once per window (metric and log line), and every signal still gets its own RR.
 * Thread-safe (one mutex; each call is short). */
#ifndef SGW_STORM_DETECT_H
#define SGW_STORM_DETECT_H
#include <stdbool.h>
#include <stdint.h>

/* An RR was created for alert name in namespace at now_ms. true when this creation starts
 * a storm (more than threshold within window_ms, first time in this window). */
bool storm_detect_note(const char *name, const char *namespace, int64_t now_ms, int threshold, int64_t window_ms);

/* Frees the table (at exit). */
void storm_detect_clear(void);

#endif
