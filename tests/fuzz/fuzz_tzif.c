/* fuzz_tzif.c: libFuzzer target for the TZif reader (tz.c). A zone file is trusted system
 * data, but a reader that runs at every configuration load must not fault on a damaged one.
 * The input is the file. Checked: a file tz_parse accepts answers offsets within RFC 8536's
 * range at times across and beyond its table, and each next change is after the time asked. */
#include "fuzz_util.h"
#include "tz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char err[256];
    tz_zone *z = tz_parse(data, size, "fuzz", err, sizeof err);
    if (!z) {
        if (!err[0]) fuzz_fail("refused without a reason");
        return 0;
    }
    static const int64_t times[] = {INT64_MIN / 4, -2208988800, 0, 1796594400, 2147483647, 4102444800,
                                    253402300799};
    for (size_t i = 0; i < sizeof times / sizeof times[0]; i++) {
        int32_t off = tz_offset(z, times[i]);
        if (off < -89999 || off > 93599) fuzz_fail("offset %d out of range at %lld", (int)off, (long long)times[i]);
        int64_t next = tz_next_change(z, times[i]);
        if (next <= times[i]) fuzz_fail("next change %lld not after %lld", (long long)next, (long long)times[i]);
    }
    tz_free(z);
    return 0;
}
