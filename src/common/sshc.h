/*
 * A small blocking SSH client over libssh2, for jobs (push install):
 * connect, the host key's SHA-256 fingerprint (checked by the caller
 * before any credential is sent), password or public-key auth, a
 * command with its exit status and output, and an SFTP upload.
 * Every call has a time limit; errors are -1 with a cause.
 */
#ifndef HAVEN_SSHC_H
#define HAVEN_SSHC_H

#include <stddef.h>

struct sshc;

/* TCP connect and SSH handshake with host:port within timeout_s. */
struct sshc	*sshc_connect(const char *host, int port, int timeout_s,
		    char **cause);
/* "SHA256:" + unpadded base64 of the host key's SHA-256, as ssh-keygen -l
 * prints it; and the key's type ("ssh-ed25519", ...). */
const char	*sshc_fingerprint(const struct sshc *);
const char	*sshc_keytype(const struct sshc *);
/* Authenticate user with a password, or with a private key (PEM or
 * OpenSSH format, in memory; passphrase may be NULL). */
int		 sshc_auth_password(struct sshc *, const char *user,
		    const char *password, char **cause);
int		 sshc_auth_key(struct sshc *, const char *user,
		    const char *pem, const char *passphrase, char **cause);
/*
 * Run cmd through the remote user's shell; input (may be NULL) is its
 * stdin, then EOF.  *out gets stdout and stderr together (malloc'd,
 * NUL-terminated, at most 1 MiB kept), *status the exit status (or 255
 * when it died of a signal).  -1 only when the command could not be run
 * or did not finish within timeout_s.
 */
int		 sshc_exec(struct sshc *, const char *cmd, const char *input,
		    int timeout_s, char **out, int *status, char **cause);
/* Write len bytes to path over SFTP with mode, replacing it. */
int		 sshc_upload(struct sshc *, const void *data, size_t len,
		    const char *path, long mode, char **cause);
/* This end's address of the connection (how the machine reaches us),
 * "[v6]" bracketed; malloc'd, NULL if unknown. */
char		*sshc_local_address(const struct sshc *);
void		 sshc_close(struct sshc *);

#endif
