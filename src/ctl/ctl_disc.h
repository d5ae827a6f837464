/*
 * havenctl account|hypervisor|vm: accounts, hypervisor servers and the
 * machines discovered on them (ctl_disc.c, docs/accounts.md).
 */
#ifndef CTL_DISC_H
#define CTL_DISC_H

#include "havenctl.h"

/*
 * As a ctl_cmd's option: the handler takes several options and parses
 * them itself (ctl_run hands it every argument after the command).
 */
#define CTL_OWN_OPTIONS	"*"

#define CTL_ACCOUNT_ADD_USAGE	"NAME --kind vsphere|libvirt|push " \
	"[--user U] [--secret-file F] [--auth ssh-key|password|none] [--sudo]"
#define CTL_ACCOUNT_EDIT_USAGE	"NAME [--user U] [--secret-file F] " \
	"[--auth ssh-key|password|none] [--sudo|--no-sudo]"
#define CTL_HV_ADD_USAGE	"NAME --kind vsphere --address A [--port P] " \
	"--account ACC [--thumbprint T] | NAME --kind libvirt --uri URI " \
	"[--account ACC]"
#define CTL_HV_EDIT_USAGE	"NAME [--address A] [--port P] [--uri URI] " \
	"[--account ACC]"
#define CTL_HV_ACCEPT_USAGE	"NAME [--thumbprint T]"
#define CTL_VM_LIST_USAGE	"[--hypervisor NAME] [--present]"

int	ctl_account_add(struct ctl *, int, char **);
int	ctl_account_edit(struct ctl *, int, char **);
int	ctl_account_list(struct ctl *, int, char **);
int	ctl_account_remove(struct ctl *, int, char **);
int	ctl_hypervisor_add(struct ctl *, int, char **);
int	ctl_hypervisor_edit(struct ctl *, int, char **);
int	ctl_hypervisor_accept(struct ctl *, int, char **);
int	ctl_hypervisor_list(struct ctl *, int, char **);
int	ctl_hypervisor_show(struct ctl *, int, char **);
int	ctl_hypervisor_refresh(struct ctl *, int, char **);
int	ctl_hypervisor_remove(struct ctl *, int, char **);
int	ctl_vm_list(struct ctl *, int, char **);

#endif
