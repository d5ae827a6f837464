/* havenctl token issue|list|revoke (ctl_token.c, docs/enrollment.md). */
#ifndef CTL_TOKEN_H
#define CTL_TOKEN_H

#include "havenctl.h"

#define CTL_TOKEN_ISSUE_OPTIONS	"[--valid] [--note] [--out]"
#define CTL_TOKEN_ISSUE_USAGE	"[--valid T] [--note TEXT] [--out FILE]"

int	ctl_token_issue(struct ctl *, int, char **);
int	ctl_token_list(struct ctl *, int, char **);
int	ctl_token_revoke(struct ctl *, int, char **);

#endif
