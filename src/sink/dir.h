/* dir.h: the directory sink (embedded mode): each RemediationRequest is one JSON manifest
 * <dir>/<namespace>/<name>.json that `kubectl apply -f` accepts. */
#ifndef SGW_SINK_DIR_H
#define SGW_SINK_DIR_H
#include <uv.h>

#include "sink/sink.h"

/* Creates dir if needed. Returns NULL with a message when it is not a writable directory. */
sink *sink_dir_open(uv_loop_t *loop, const char *dir, char *err, size_t errlen);

#endif
