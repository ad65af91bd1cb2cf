/* timeutil.h: clocks and RFC 3339 timestamps (UTC, second precision on output). */
#ifndef SGW_TIMEUTIL_H
#define SGW_TIMEUTIL_H
#include <stddef.h>
#include <stdint.h>

int64_t time_now_ms(void);        /* wall clock, ms since the epoch */
int64_t time_mono_ms(void);       /* monotonic, for timeouts and durations */
double  time_mono_s(void);

/* Writes "YYYY-MM-DDTHH:MM:SSZ" (21 bytes with NUL) for a wall-clock ms value. */
void time_format_rfc3339(int64_t ms, char out[32]);

/* Parses an RFC 3339 timestamp ("2026-11-26T21:50:10Z", fractions and offsets allowed).
 * Returns 0 and the UTC time in ms, or SGW_E_INVALID if the text is not RFC 3339.
 * Go's zero time "0001-01-01T00:00:00Z" parses to a value < 0; callers treat it as absent. */
int time_parse_rfc3339(const char *s, size_t len, int64_t *ms_out);

#endif
