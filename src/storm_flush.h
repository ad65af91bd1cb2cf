/* storm_flush.h: keeps storm RRs current. A storm window's count and resources grow in the
 * store as alerts fold into it; a flush claims the windows due for an update (at most one
 * writer per window, by a short lease) and rewrites their RRs through the sink. */
#ifndef SGW_STORM_FLUSH_H
#define SGW_STORM_FLUSH_H
#include "gateway.h"

/* Starts one flush on w's store and sink unless one is still running (w->flushing); runs
 * on w's loop (worker 0's timer in main.c). */
void storm_flush(worker *w);

#endif
