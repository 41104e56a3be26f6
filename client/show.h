/* The human form of a request object (ephssh show, and after approve,
 * deny, ...). */
#ifndef EPHSSH_SHOW_H
#define EPHSSH_SHOW_H

#include <jansson.h>

/* Print request object o on stdout, labelled lines. */
void show_request(const json_t *o, int color);

#endif
