/* API routes the admin UI needs beyond havenctl's (api_ui.c). */
#ifndef HAVEN_API_UI_H
#define HAVEN_API_UI_H

#include "control.h"

void	api_passphrase_reveal(struct api_req *);
void	api_password_change(struct api_req *);
void	api_alerts(struct api_req *);
void	api_storage(struct api_req *);
void	api_metrics(struct api_req *);

/* In control.c beside api_reply: a reply that is not JSON (/metrics).
 * Ends the request and frees r. */
void	api_reply_text(struct api_req *, int status, const char *type,
	    const char *text);

#endif
