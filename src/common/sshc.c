/*
 * Blocking SSH client for job processes (libssh2, see sshc.h).  Jobs
 * are forked processes, so blocking here is fine; libssh2's session
 * timeout bounds every call.
 */
#include <sys/types.h>
#include <sys/socket.h>

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <libssh2.h>
#include <libssh2_sftp.h>
#include <openssl/evp.h>

#include "sshc.h"
#include "util.h"

#define SSHC_OUT_MAX	(1 << 20)

struct sshc {
	int		 fd;
	LIBSSH2_SESSION	*s;
	char		*host;
	char		 fp[80];
	const char	*keytype;
	int		 timeout_s;
};

static const char *
sshc_err(struct sshc *c)
{
	char	*msg = NULL;

	libssh2_session_last_error(c->s, &msg, NULL, 0);
	return msg != NULL && *msg != '\0' ? msg : "unknown error";
}

static int
sshc_tcp(const char *host, int port, int timeout_s, char **cause)
{
	struct addrinfo	 hints, *res, *ai;
	struct pollfd	 pfd;
	char		 serv[16];
	int		 fd = -1, rc, err = 0, flags;
	socklen_t	 len;

	memset(&hints, 0, sizeof(hints));
	hints.ai_socktype = SOCK_STREAM;
	snprintf(serv, sizeof(serv), "%d", port);
	if ((rc = getaddrinfo(host, serv, &hints, &res)) != 0) {
		set_cause(cause, "cannot resolve %s: %s", host,
		    gai_strerror(rc));
		return -1;
	}
	for (ai = res; ai != NULL; ai = ai->ai_next) {
		if ((fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC,
		    ai->ai_protocol)) == -1) {
			err = errno;
			continue;
		}
		flags = fcntl(fd, F_GETFL);
		fcntl(fd, F_SETFL, flags | O_NONBLOCK);
		if (connect(fd, ai->ai_addr, ai->ai_addrlen) == -1 &&
		    errno != EINPROGRESS) {
			err = errno;
			close(fd);
			fd = -1;
			continue;
		}
		pfd.fd = fd;
		pfd.events = POLLOUT;
		if (poll(&pfd, 1, timeout_s * 1000) != 1) {
			err = ETIMEDOUT;
			close(fd);
			fd = -1;
			continue;
		}
		len = sizeof(err);
		getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
		if (err != 0) {
			close(fd);
			fd = -1;
			continue;
		}
		fcntl(fd, F_SETFL, flags);
		break;
	}
	freeaddrinfo(res);
	if (fd == -1)
		set_cause(cause, "cannot connect to %s port %d: %s", host, port,
		    strerror(err ? err : ECONNREFUSED));
	return fd;
}

struct sshc *
sshc_connect(const char *host, int port, int timeout_s, char **cause)
{
	static const char *const types[] = { "unknown", "ssh-rsa",
	    "ssh-dss", "ecdsa-sha2-nistp256", "ecdsa-sha2-nistp384",
	    "ecdsa-sha2-nistp521", "ssh-ed25519" };
	struct sshc	*c;
	const char	*hash, *key;
	unsigned char	 b64[64];
	size_t		 klen;
	int		 type, n;

	if (libssh2_init(0) != 0) {
		set_cause(cause, "libssh2_init failed");
		return NULL;
	}
	c = xcalloc(1, sizeof(*c));
	c->fd = -1;
	c->timeout_s = timeout_s;
	c->host = xstrdup(host);
	if ((c->fd = sshc_tcp(host, port, timeout_s, cause)) == -1)
		goto fail;
	if ((c->s = libssh2_session_init()) == NULL) {
		set_cause(cause, "libssh2_session_init failed");
		goto fail;
	}
	libssh2_session_set_blocking(c->s, 1);
	libssh2_session_set_timeout(c->s, (long)timeout_s * 1000);
	if (libssh2_session_handshake(c->s, c->fd) != 0) {
		set_cause(cause, "SSH handshake with %s port %d failed: %s",
		    host, port, sshc_err(c));
		goto fail;
	}
	hash = libssh2_hostkey_hash(c->s, LIBSSH2_HOSTKEY_HASH_SHA256);
	key = libssh2_session_hostkey(c->s, &klen, &type);
	if (hash == NULL || key == NULL) {
		set_cause(cause, "%s sent no host key", host);
		goto fail;
	}
	n = EVP_EncodeBlock(b64, (const unsigned char *)hash, 32);
	while (n > 0 && b64[n - 1] == '=')
		b64[--n] = '\0';
	snprintf(c->fp, sizeof(c->fp), "SHA256:%s", b64);
	c->keytype = type >= 0 && (size_t)type < nitems(types) ? types[type] :
	    "unknown";
	return c;
fail:
	sshc_close(c);
	return NULL;
}

const char *
sshc_fingerprint(const struct sshc *c)
{
	return c->fp;
}

const char *
sshc_keytype(const struct sshc *c)
{
	return c->keytype;
}

/* What the server offers, for a refusal that says why. */
static char *
sshc_methods(struct sshc *c, const char *user)
{
	char	*m = libssh2_userauth_list(c->s, user, strlen(user));

	return xstrdup(m != NULL ? m : "none");
}

int
sshc_auth_password(struct sshc *c, const char *user, const char *password,
    char **cause)
{
	char	*methods;
	int	 rc;

	methods = sshc_methods(c, user);
	if (strstr(methods, "password") == NULL) {
		set_cause(cause, "%s does not take passwords (it offers: %s)",
		    c->host, methods);
		free(methods);
		return -1;
	}
	free(methods);
	rc = libssh2_userauth_password(c->s, user, password);
	if (rc == 0)
		return 0;
	if (rc == LIBSSH2_ERROR_AUTHENTICATION_FAILED ||
	    rc == LIBSSH2_ERROR_PASSWORD_EXPIRED)
		set_cause(cause, "%s refused the password of user '%s'%s",
		    c->host, user, rc == LIBSSH2_ERROR_PASSWORD_EXPIRED ?
		    " (it has expired)" : "");
	else
		set_cause(cause, "password authentication on %s failed: %s",
		    c->host, sshc_err(c));
	return -1;
}

int
sshc_auth_key(struct sshc *c, const char *user, const char *pem,
    const char *passphrase, char **cause)
{
	char	*methods;
	int	 rc;

	methods = sshc_methods(c, user);
	if (strstr(methods, "publickey") == NULL) {
		set_cause(cause, "%s does not take keys (it offers: %s)",
		    c->host, methods);
		free(methods);
		return -1;
	}
	free(methods);
	rc = libssh2_userauth_publickey_frommemory(c->s, user, strlen(user),
	    NULL, 0, pem, strlen(pem), passphrase);
	if (rc == 0)
		return 0;
	if (rc == LIBSSH2_ERROR_PUBLICKEY_UNVERIFIED ||
	    rc == LIBSSH2_ERROR_AUTHENTICATION_FAILED)
		set_cause(cause, "%s refused the key of user '%s' (is its "
		    "public half in ~%s/.ssh/authorized_keys?%s)", c->host,
		    user, user, strstr(pem, "BEGIN RSA PRIVATE KEY") != NULL ?
		    " An RSA key needs rsa-sha2 signatures, which OpenSSH 8.8 "
		    "and later require and libssh2 before 1.11 lacks: an "
		    "ed25519 or ECDSA key works with both" : "");
	else
		set_cause(cause, "key authentication on %s failed: %s "
		    "(the account's secret must be an unencrypted private key "
		    "in PEM or OpenSSH format)", c->host, sshc_err(c));
	return -1;
}

static void
out_add(char **out, size_t *len, const char *buf, ssize_t n)
{
	if (n <= 0 || *len + (size_t)n > SSHC_OUT_MAX)
		return;
	*out = xrealloc(*out, *len + (size_t)n + 1);
	memcpy(*out + *len, buf, (size_t)n);
	*len += (size_t)n;
	(*out)[*len] = '\0';
}

int
sshc_exec(struct sshc *c, const char *cmd, const char *input, int timeout_s,
    char **out, int *status, char **cause)
{
	LIBSSH2_CHANNEL	*ch;
	char		 buf[16384], *sig = NULL;
	size_t		 len = 0, off, ilen;
	ssize_t		 n, m;
	time_t		 end = time(NULL) + timeout_s;
	int		 rc = -1;

	*out = xstrdup("");
	*status = 255;
	libssh2_session_set_timeout(c->s, (long)timeout_s * 1000);
	if ((ch = libssh2_channel_open_session(c->s)) == NULL) {
		set_cause(cause, "cannot open a session on %s: %s", c->host,
		    sshc_err(c));
		goto done;
	}
	libssh2_channel_handle_extended_data2(ch, LIBSSH2_CHANNEL_EXTENDED_DATA_MERGE);
	if (libssh2_channel_exec(ch, cmd) != 0) {
		set_cause(cause, "cannot run a command on %s: %s", c->host,
		    sshc_err(c));
		goto done;
	}
	if (input != NULL) {
		ilen = strlen(input);
		for (off = 0; off < ilen; off += (size_t)m)
			if ((m = libssh2_channel_write(ch, input + off,
			    ilen - off)) < 0) {
				set_cause(cause, "writing to a command on %s "
				    "failed: %s", c->host, sshc_err(c));
				goto done;
			}
	}
	libssh2_channel_send_eof(ch);
	for (;;) {
		n = libssh2_channel_read(ch, buf, sizeof(buf));
		if (n > 0) {
			out_add(out, &len, buf, n);
			continue;
		}
		if (n == 0 && libssh2_channel_eof(ch))
			break;
		if (n < 0 && n != LIBSSH2_ERROR_EAGAIN) {
			set_cause(cause, "%s on %s: %s", n ==
			    LIBSSH2_ERROR_TIMEOUT ? "a command timed out" :
			    "reading a command's output failed", c->host,
			    sshc_err(c));
			goto done;
		}
		if (time(NULL) > end) {
			set_cause(cause, "a command on %s did not finish "
			    "within %d s", c->host, timeout_s);
			goto done;
		}
	}
	libssh2_channel_close(ch);
	libssh2_channel_wait_closed(ch);
	*status = libssh2_channel_get_exit_status(ch);
	libssh2_channel_get_exit_signal(ch, &sig, NULL, NULL, NULL, NULL,
	    NULL);
	if (sig != NULL) {
		*status = 255;
		free(sig);
	}
	rc = 0;
done:
	if (ch != NULL)
		libssh2_channel_free(ch);
	libssh2_session_set_timeout(c->s, (long)c->timeout_s * 1000);
	return rc;
}

int
sshc_upload(struct sshc *c, const void *data, size_t len, const char *path,
    long mode, char **cause)
{
	LIBSSH2_SFTP		*sftp;
	LIBSSH2_SFTP_HANDLE	*h = NULL;
	const char		*p = data;
	size_t			 off = 0;
	ssize_t			 n;
	int			 rc = -1;

	if ((sftp = libssh2_sftp_init(c->s)) == NULL) {
		set_cause(cause, "SFTP is not available on %s: %s", c->host,
		    sshc_err(c));
		return -1;
	}
	h = libssh2_sftp_open(sftp, path, LIBSSH2_FXF_WRITE |
	    LIBSSH2_FXF_CREAT | LIBSSH2_FXF_TRUNC, mode);
	if (h == NULL) {
		set_cause(cause, "cannot create %s on %s over SFTP (error "
		    "%lu)", path, c->host, libssh2_sftp_last_error(sftp));
		goto out;
	}
	while (off < len) {
		if ((n = libssh2_sftp_write(h, p + off, len - off)) < 0) {
			set_cause(cause, "writing %s on %s over SFTP failed: "
			    "%s", path, c->host, sshc_err(c));
			goto out;
		}
		off += (size_t)n;
	}
	rc = 0;
out:
	if (h != NULL && libssh2_sftp_close(h) != 0 && rc == 0) {
		set_cause(cause, "closing %s on %s over SFTP failed", path,
		    c->host);
		rc = -1;
	}
	libssh2_sftp_shutdown(sftp);
	return rc;
}

char *
sshc_local_address(const struct sshc *c)
{
	struct sockaddr_storage	 ss;
	socklen_t		 len = sizeof(ss);
	char			 host[NI_MAXHOST];

	if (getsockname(c->fd, (struct sockaddr *)&ss, &len) == -1 ||
	    getnameinfo((struct sockaddr *)&ss, len, host, sizeof(host), NULL,
	    0, NI_NUMERICHOST) != 0)
		return NULL;
	if (ss.ss_family == AF_INET6)
		return xasprintf("[%s]", host);
	return xstrdup(host);
}

void
sshc_close(struct sshc *c)
{
	if (c == NULL)
		return;
	if (c->s != NULL) {
		libssh2_session_disconnect(c->s, "done");
		libssh2_session_free(c->s);
	}
	if (c->fd != -1)
		close(c->fd);
	free(c->host);
	free(c);
}
