/*
 * API routes for accounts, hypervisor servers and discovered machines
 * (api_disc.c, docs/accounts.md), and the periodic discovery.
 */
#ifndef HAVEN_API_DISC_H
#define HAVEN_API_DISC_H

#include "control.h"

void	api_accounts(struct api_req *);
void	api_account_add(struct api_req *);
void	api_account_edit(struct api_req *);
void	api_account_remove(struct api_req *);
void	api_hypervisors(struct api_req *);
void	api_hypervisor_add(struct api_req *);
void	api_hypervisor_get(struct api_req *);
void	api_hypervisor_edit(struct api_req *);
void	api_hypervisor_remove(struct api_req *);
void	api_hypervisor_accept(struct api_req *);
void	api_hypervisor_refresh(struct api_req *);
void	api_vms(struct api_req *);

/*
 * Called from control's periodic timer: starts discovery jobs for the
 * hypervisors whose last attempt is DISC_INTERVAL (15 minutes) old, a
 * few at a time.  The database keeps the times, so a restart of
 * control neither skips nor repeats one.
 */
void	disc_periodic(void);

#endif
