/* The site PKI on the configuration server: files in state_dir. */
#ifndef HAVEN_PKI_H
#define HAVEN_PKI_H

#include <jansson.h>

#include "conf.h"
#include "tls.h"

#define PKI_CA_DAYS		3650
#define PKI_CLIENT_DAYS		1095
#define PKI_WARN_DAYS		60

/* state_dir/name, malloc'd. */
char	*pki_path(const struct haven_conf *, const char *name);
/* First start: CA, server certificate, empty CRL, passphrase. */
int	 pki_ensure(const struct haven_conf *, char **cause);
/* A new server key and certificate from the site CA. */
int	 pki_renew_server(const struct haven_conf *, struct tls_certinfo *,
	    char **cause);
int	 pki_passphrase_read(const struct haven_conf *, char **out,
	    char **cause);
int	 pki_passphrase_generate(const struct haven_conf *, char **out,
	    char **cause);
/*
 * The key a disk's records are sealed with: HKDF-SHA256 of the site's
 * master key (state_dir/master.key) with the disk id as info.
 */
int	 pki_disk_key(const struct haven_conf *, const char *disk_id,
	    uint8_t key[32], char **cause);
/* The local process server's client certificate (CN "ps-local"), which
 * its drain presents to the master target. */
#define PKI_PS_PREFIX	"ps-"

/* Subject, serial, fingerprint, times, days_left and a warning from
 * PKI_WARN_DAYS before expiry. */
json_t	*pki_certinfo_json(const struct tls_certinfo *);

#endif
