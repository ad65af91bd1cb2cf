/* err.c: names of the project's error codes (err.h). */
#include "util/err.h"

const char *sgw_strerror(int code)
{
    switch (code) {
    case SGW_OK: return "ok";
    case SGW_E_INVALID: return "invalid";
    case SGW_E_UNAVAILABLE: return "unavailable";
    case SGW_E_PROTOCOL: return "protocol error";
    case SGW_E_NOTFOUND: return "not found";
    case SGW_E_EXISTS: return "already exists";
    case SGW_E_IO: return "i/o error";
    case SGW_E_AGAIN: return "try again asynchronously";
    }
    return "unknown error";
}
