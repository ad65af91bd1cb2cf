/* routes.h: the gateway's URL table, declared once: which handler answers which path and
 * method, and which routes the separate metrics listener serves too. */
#ifndef SGW_ROUTES_H
#define SGW_ROUTES_H
#include "gateway.h"

/* Fills w->routes (the listener) and w->mroutes (the metrics listener) from the table,
 * with w's data pointers. main.c and the fuzz harness both serve exactly these. */
void routes_init(worker *w);

#endif
