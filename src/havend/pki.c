#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/core_names.h>
#include <openssl/kdf.h>

#include "log.h"
#include "pki.h"
#include "util.h"

char *
pki_path(const struct haven_conf *conf, const char *name)
{
	return xasprintf("%s/%s", conf->state_dir, name);
}

static int
exists(const char *path)
{
	return access(path, F_OK) == 0;
}

/* The server certificate names: localhost, the listen address, extras. */
static const char **
pki_sans(const struct haven_conf *conf)
{
	const char	**v;
	char		  host[256];
	size_t		  n = 0, i;

	v = xcalloc(conf->server_names.n + 5, sizeof(*v));
	for (i = 0; i < conf->server_names.n; i++)
		v[n++] = xstrdup(conf->server_names.v[i]);
	if (gethostname(host, sizeof(host)) == 0 && host[0] != '\0')
		v[n++] = xstrdup(host);
	v[n++] = xstrdup("localhost");
	v[n++] = xstrdup("127.0.0.1");
	if (strcmp(conf->listen_address, "0.0.0.0") != 0 &&
	    strcmp(conf->listen_address, "::") != 0 &&
	    strcmp(conf->listen_address, "127.0.0.1") != 0)
		v[n++] = xstrdup(conf->listen_address);
	v[n] = NULL;
	return v;
}

static void
sans_free(const char **v)
{
	size_t	i;

	for (i = 0; v[i] != NULL; i++)
		free((char *)v[i]);
	free(v);
}

static int
pki_issue_server(const struct haven_conf *conf, X509 *ca, EVP_PKEY *cakey,
    struct tls_certinfo *info, char **cause)
{
	EVP_PKEY	 *key;
	X509		 *crt;
	const char	**sans;
	char		 *kpath, *cpath, host[256];
	int		  rc = -1;

	if ((key = tls_key_new(cause)) == NULL)
		return -1;
	sans = pki_sans(conf);
	if (conf->server_names.n > 0)
		snprintf(host, sizeof(host), "%s", conf->server_names.v[0]);
	else if (gethostname(host, sizeof(host)) != 0 || host[0] == '\0')
		snprintf(host, sizeof(host), "haven");
	crt = tls_cert_issue(ca, cakey, key, host, sans, (int)conf->cert_days,
	    TLS_CERT_SERVER, cause);
	sans_free(sans);
	if (crt == NULL) {
		EVP_PKEY_free(key);
		return -1;
	}
	kpath = pki_path(conf, "server.key");
	cpath = pki_path(conf, "server.crt");
	/*
	 * Key first, then certificate: a crash between the two leaves a
	 * key that does not match, which the next start detects and
	 * repairs by issuing again (tls_server_ctx checks the pair).
	 */
	if (tls_key_write(kpath, key, cause) == 0 &&
	    tls_cert_write(cpath, crt, cause) == 0) {
		if (info != NULL)
			tls_cert_info(crt, info);
		rc = 0;
	}
	free(kpath);
	free(cpath);
	X509_free(crt);
	EVP_PKEY_free(key);
	return rc;
}

static int
pki_load_ca(const struct haven_conf *conf, X509 **ca, EVP_PKEY **cakey,
    char **cause)
{
	char	*kpath = pki_path(conf, "ca.key");
	char	*cpath = pki_path(conf, "ca.crt");
	int	 rc = -1;

	*ca = NULL;
	*cakey = NULL;
	if ((*cakey = tls_key_read(kpath, cause)) != NULL &&
	    (*ca = tls_cert_read(cpath, cause)) != NULL)
		rc = 0;
	free(kpath);
	free(cpath);
	if (rc == -1) {
		EVP_PKEY_free(*cakey);
		*cakey = NULL;
	}
	return rc;
}

static int
pki_ensure_master(const struct haven_conf *conf, char **cause)
{
	char	*path = pki_path(conf, "master.key");
	uint8_t	 key[32];
	int	 rc = 0;

	if (exists(path))
		rc = check_private_file(path, cause);
	else {
		random_bytes(key, sizeof(key));
		rc = write_file_atomic(path, key, sizeof(key), 0600, cause);
		OPENSSL_cleanse(key, sizeof(key));
		if (rc == 0)
			log_info("created the master key for disk encryption");
	}
	free(path);
	return rc;
}

static int
pki_ensure_ps(const struct haven_conf *conf, X509 *ca, EVP_PKEY *cakey,
    char **cause)
{
	char		*kpath = pki_path(conf, "ps.key");
	char		*cpath = pki_path(conf, "ps.crt");
	EVP_PKEY	*key = NULL;
	X509		*crt = NULL;
	int		 rc = -1;

	if (exists(kpath) && exists(cpath)) {
		rc = 0;
		goto out;
	}
	if ((key = tls_key_new(cause)) == NULL ||
	    (crt = tls_cert_issue(ca, cakey, key, PKI_PS_PREFIX "local", NULL,
	    PKI_CA_DAYS, TLS_CERT_CLIENT, cause)) == NULL)
		goto out;
	if (tls_key_write(kpath, key, cause) == 0 &&
	    tls_cert_write(cpath, crt, cause) == 0)
		rc = 0;
out:
	X509_free(crt);
	EVP_PKEY_free(key);
	free(kpath);
	free(cpath);
	return rc;
}

int
pki_disk_key(const struct haven_conf *conf, const char *disk_id,
    uint8_t out[32], char **cause)
{
	EVP_KDF		*kdf;
	EVP_KDF_CTX	*kctx;
	OSSL_PARAM	 params[5], *p = params;
	char		*path = pki_path(conf, "master.key"), *master, *info;
	size_t		 len;
	int		 rc = -1;

	if (check_private_file(path, cause) == -1 ||
	    (master = read_file(path, &len, cause)) == NULL) {
		free(path);
		return -1;
	}
	if (len != 32) {
		set_cause(cause, "%s holds %zu bytes, not a 32-byte key: restore "
		    "it from a backup (replicas sealed with another key cannot "
		    "be read)", path, len);
		free(master);
		free(path);
		return -1;
	}
	info = xasprintf("haven-disk-v1%s", disk_id);
	kdf = EVP_KDF_fetch(NULL, "HKDF", NULL);
	kctx = kdf ? EVP_KDF_CTX_new(kdf) : NULL;
	*p++ = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST,
	    (char *)"SHA256", 0);
	*p++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, master, 32);
	*p++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, info,
	    strlen(info));
	*p = OSSL_PARAM_construct_end();
	if (kctx == NULL || EVP_KDF_derive(kctx, out, 32, params) != 1)
		set_cause(cause, "HKDF failed: %s", tls_error());
	else
		rc = 0;
	EVP_KDF_CTX_free(kctx);
	EVP_KDF_free(kdf);
	OPENSSL_cleanse(master, len);
	free(master);
	free(info);
	free(path);
	return rc;
}

int
pki_ensure(const struct haven_conf *conf, char **cause)
{
	X509		*ca = NULL;
	EVP_PKEY	*cakey = NULL;
	SSL_CTX		*ctx;
	char		*kpath, *cpath, *scpath, *skpath, *crlpath, *pp;
	char		*pass = NULL, *why = NULL;
	int		 rc = -1;

	kpath = pki_path(conf, "ca.key");
	cpath = pki_path(conf, "ca.crt");
	scpath = pki_path(conf, "server.crt");
	skpath = pki_path(conf, "server.key");
	crlpath = pki_path(conf, "crl.pem");
	pp = pki_path(conf, "passphrase");

	if (!exists(kpath) && !exists(cpath)) {
		if ((cakey = tls_key_new(cause)) == NULL)
			goto out;
		if ((ca = tls_ca_new(cakey, "Haven site CA", PKI_CA_DAYS,
		    cause)) == NULL)
			goto out;
		if (tls_key_write(kpath, cakey, cause) == -1 ||
		    tls_cert_write(cpath, ca, cause) == -1)
			goto out;
		log_info("created the site CA in %s", conf->state_dir);
	} else {
		if (check_private_file(kpath, cause) == -1)
			goto out;
		if (pki_load_ca(conf, &ca, &cakey, cause) == -1)
			goto out;
	}
	if (!exists(scpath) || !exists(skpath)) {
		if (pki_issue_server(conf, ca, cakey, NULL, cause) == -1)
			goto out;
		log_info("issued the server certificate (%lld days)",
		    conf->cert_days);
	} else if ((ctx = tls_server_ctx(scpath, skpath, cpath, NULL,
	    TLS_VERIFY_NONE, &why)) == NULL) {
		log_warnx("the server certificate cannot be used (%s); "
		    "issuing a new one", why);
		free(why);
		if (pki_issue_server(conf, ca, cakey, NULL, cause) == -1)
			goto out;
	} else
		SSL_CTX_free(ctx);
	if (!exists(crlpath) &&
	    tls_crl_write(crlpath, ca, cakey, NULL, 0, cause) == -1)
		goto out;
	if (pki_ensure_master(conf, cause) == -1 ||
	    pki_ensure_ps(conf, ca, cakey, cause) == -1)
		goto out;
	if (!exists(pp)) {
		if (pki_passphrase_generate(conf, &pass, cause) == -1)
			goto out;
		log_info("generated the enrollment passphrase (show it with "
		    "'havenctl passphrase show')");
		free(pass);
	} else if (check_private_file(pp, cause) == -1)
		goto out;
	rc = 0;
out:
	X509_free(ca);
	EVP_PKEY_free(cakey);
	free(kpath);
	free(cpath);
	free(scpath);
	free(skpath);
	free(crlpath);
	free(pp);
	return rc;
}

int
pki_renew_server(const struct haven_conf *conf, struct tls_certinfo *info,
    char **cause)
{
	X509		*ca;
	EVP_PKEY	*cakey;
	int		 rc;

	if (pki_load_ca(conf, &ca, &cakey, cause) == -1)
		return -1;
	rc = pki_issue_server(conf, ca, cakey, info, cause);
	X509_free(ca);
	EVP_PKEY_free(cakey);
	return rc;
}

int
pki_passphrase_read(const struct haven_conf *conf, char **out, char **cause)
{
	char	*path = pki_path(conf, "passphrase"), *s;
	size_t	 len;

	*out = NULL;
	if (check_private_file(path, cause) == -1 ||
	    (s = read_file(path, &len, cause)) == NULL) {
		free(path);
		return -1;
	}
	free(path);
	while (len > 0 && (s[len - 1] == '\n' || s[len - 1] == '\r'))
		s[--len] = '\0';
	*out = s;
	return 0;
}

int
pki_passphrase_generate(const struct haven_conf *conf, char **out,
    char **cause)
{
	/* 32 symbols without look-alikes (0/O, 1/I): 5 bits each. */
	static const char	 alphabet[] = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789";
	uint8_t			 rnd[20];
	char			 pass[32], *path, *line;
	size_t			 i, n = 0;
	int			 rc;

	random_bytes(rnd, sizeof(rnd));
	for (i = 0; i < sizeof(rnd); i++) {
		if (i > 0 && i % 4 == 0)
			pass[n++] = '-';
		pass[n++] = alphabet[rnd[i] & 31];
	}
	pass[n] = '\0';
	path = pki_path(conf, "passphrase");
	line = xasprintf("%s\n", pass);
	rc = write_file_atomic(path, line, strlen(line), 0600, cause);
	free(line);
	free(path);
	if (rc == -1)
		return -1;
	*out = xstrdup(pass);
	return 0;
}

json_t *
pki_certinfo_json(const struct tls_certinfo *ci)
{
	char	 nb[32], na[32], *warn = NULL;
	int64_t	 left = ci->not_after - now_unix();
	long	 days = (long)(left / 86400);
	json_t	*o;

	fmt_time(ci->not_before, nb, sizeof(nb));
	fmt_time(ci->not_after, na, sizeof(na));
	if (left <= 0)
		warn = xasprintf("the certificate expired on %s: agents and "
		    "browsers will refuse it; renew it now with 'havenctl "
		    "cert renew'", na);
	else if (days < PKI_WARN_DAYS)
		warn = xasprintf("the certificate expires in %ld day%s (%s): "
		    "renew it with 'havenctl cert renew'", days,
		    days == 1 ? "" : "s", na);
	o = json_pack("{s:s, s:s, s:s, s:s, s:s, s:I, s:s?}", "subject",
	    ci->subject_cn, "serial", ci->serial, "fingerprint",
	    ci->fingerprint, "not_before", nb, "not_after", na, "days_left",
	    (json_int_t)(left > 0 ? days : 0), "warning", warn);
	free(warn);
	return o;
}
