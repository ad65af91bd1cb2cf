/* time_interval.h: Alertmanager's time_interval (its configuration's `time_intervals:`
 * entries): times of day, weekdays, days of the month, months and years, each a list of
 * ranges; an empty list puts no condition. Evaluated at a time the caller gives, in UTC or in
 * the interval's `location` (a tz_zone, docs/decisions/019-suppression-rules.md); no clock
 * read here. */
#ifndef SGW_TIME_INTERVAL_H
#define SGW_TIME_INTERVAL_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tz.h"

#define TI_MAX_RANGES 16   /* per field of one interval */

typedef struct ti_range {
    int begin, end;         /* inclusive, except times: minutes of the day [begin, end) */
} ti_range;

typedef enum { TI_TIMES, TI_WEEKDAYS, TI_DAYS_OF_MONTH, TI_MONTHS, TI_YEARS, TI_NFIELDS } ti_field;

typedef struct time_interval {
    ti_range r[TI_NFIELDS][TI_MAX_RANGES];   /* weekdays 0 = sunday; days -31..31 (no 0); months 1..12 */
    size_t   n[TI_NFIELDS];
    const tz_zone *zone;   /* `location`; NULL is UTC. Borrowed (the suppress_set owns zones) */
} time_interval;

/* The YAML key of each field ("times", "weekdays", "days_of_month", "months", "years"). */
extern const char *const time_interval_field_names[TI_NFIELDS];

/* Adds one range of field f (not TI_TIMES) written as Alertmanager writes it: "monday" or
 * "monday:friday"; "1:5", "-3:-1", "15"; "january:march" or "1:3"; "2026" or "2026:2027".
 * Names are ASCII case-insensitive. 0, or SGW_E_INVALID with the reason in err. */
int time_interval_add(time_interval *ti, ti_field f, const char *text, char *err, size_t errlen);

/* Adds one times range: "HH:MM" from 00:00 to 24:00, start before end (a range never wraps
 * midnight: Alertmanager's rule; write two ranges). 0, or SGW_E_INVALID with err. */
int time_interval_add_times(time_interval *ti, const char *start, const char *end, char *err, size_t errlen);

/* A time's calendar fields in one zone, computed once and tested against many intervals. */
typedef struct ti_when {
    int year, month, mday, wday, days_in_month, minute;   /* month 1..12, wday 0 = sunday */
} ti_when;

void time_interval_when(int64_t ms, ti_when *w);                            /* UTC */
void time_interval_when_in(const tz_zone *zone, int64_t ms, ti_when *w);  /* zone's local time; NULL: UTC */

/* true if w lies in ti (every non-empty field has a range holding it). */
bool time_interval_contains(const time_interval *ti, const ti_when *w);

/* Writes range i of field f as text in its canonical form ("monday:friday", "09:00"-"17:00"
 * as two strings for times: out2 gets the end; NULL otherwise). */
void time_interval_range_text(const time_interval *ti, ti_field f, size_t i, char *out, size_t cap, char *out2,
                              size_t cap2);

#endif
