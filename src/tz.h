/* tz.h: a time zone read from a compiled zone file (TZif, RFC 8536: the system's
 * /usr/share/zoneinfo), for turning a UTC time into that zone's local time without the
 * process-wide TZ. A zone is immutable once loaded, so any thread may read it without a
 * lock; docs/decisions/019-suppression-rules.md says why this and not a library. */
#ifndef SGW_TZ_H
#define SGW_TZ_H
#include <stddef.h>
#include <stdint.h>

#define TZ_DIR "/usr/share/zoneinfo"

typedef struct tz_zone tz_zone;

/* The zone named name (an IANA name such as "Europe/Berlin"; "UTC" too) from TZ_DIR. Names
 * with "..", a leading '/', or other than [A-Za-z0-9/_+-] are refused, as are files that are
 * not TZif. Owned by the caller (tz_free). NULL with the reason in err. */
tz_zone *tz_load(const char *name, char *err, size_t errlen);

/* The same from the file at path (borrowed), data[0..n) for tz_parse. */
tz_zone *tz_load_file(const char *path, const char *name, char *err, size_t errlen);
tz_zone *tz_parse(const unsigned char *data, size_t n, const char *name, char *err, size_t errlen);

void tz_free(tz_zone *z);   /* NULL is fine */

const char *tz_name(const tz_zone *z);   /* as given to tz_load; borrowed from z */

/* The offset from UTC, in seconds east, in z at t (seconds since the epoch, UTC; |t| below
 * 2^61, far beyond any year a time_interval can name). */
int32_t tz_offset(const tz_zone *z, int64_t t);

/* The first time after t (strictly) at which z's offset may change (a transition of the file
 * may keep the offset); INT64_MAX if never. */
int64_t tz_next_change(const tz_zone *z, int64_t t);

#endif
