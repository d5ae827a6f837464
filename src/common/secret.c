/*
 * Secrets at rest (secret.h).  The key file is created with link(2) from
 * a private temporary file, so two processes making it at once end up
 * with the same key and nobody ever reads a half-written one.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "secret.h"
#include "util.h"

#define SECRET_PREFIX	"hv1:"
#define SECRET_NONCE	12
#define SECRET_TAG	16

static int
secret_key_read(const char *path, uint8_t key[SECRET_KEYLEN], char **cause)
{
	char	*why = NULL, *data;
	size_t	 len;

	if (check_private_file(path, &why) == -1 ||
	    (data = read_file(path, &len, &why)) == NULL) {
		set_cause(cause, "cannot use the secrets key: %s", why);
		free(why);
		return -1;
	}
	if (len != SECRET_KEYLEN) {
		set_cause(cause, "the secrets key %s is %zu bytes, not %d: it "
		    "is damaged; restore it from a backup (without it the "
		    "stored account secrets cannot be read and must be "
		    "entered again)", path, len, SECRET_KEYLEN);
		OPENSSL_cleanse(data, len);
		free(data);
		return -1;
	}
	memcpy(key, data, SECRET_KEYLEN);
	OPENSSL_cleanse(data, len);
	free(data);
	return 0;
}

static int
secret_key_create(const char *dir, const char *path, char **cause)
{
	uint8_t	 key[SECRET_KEYLEN];
	char	*tmp;
	int	 fd, rc = -1, dfd;

	if (mkdir_p(dir, 0700, cause) == -1)
		return -1;
	tmp = xasprintf("%s.tmp.%d", path, (int)getpid());
	(void)unlink(tmp);
	if ((fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC,
	    0600)) == -1) {
		set_cause(cause, "cannot create the secrets key %s: %s", tmp,
		    strerror(errno));
		free(tmp);
		return -1;
	}
	random_bytes(key, sizeof(key));
	if (write(fd, key, sizeof(key)) != (ssize_t)sizeof(key) ||
	    fsync(fd) == -1) {
		set_cause(cause, "cannot write the secrets key %s: %s", tmp,
		    strerror(errno));
		close(fd);
		goto out;
	}
	close(fd);
	/* Whoever links first wins; the loser reads the winner's key. */
	if (link(tmp, path) == -1 && errno != EEXIST) {
		set_cause(cause, "cannot create the secrets key %s: %s", path,
		    strerror(errno));
		goto out;
	}
	if ((dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) != -1) {
		(void)fsync(dfd);
		close(dfd);
	}
	rc = 0;
out:
	OPENSSL_cleanse(key, sizeof(key));
	(void)unlink(tmp);
	free(tmp);
	return rc;
}

int
secret_key_load(const char *state_dir, int create, uint8_t key[SECRET_KEYLEN],
    char **cause)
{
	struct stat	 st;
	char		*path;
	int		 rc = -1;

	if (state_dir == NULL || *state_dir == '\0') {
		set_cause(cause, "no state_dir is configured for the secrets "
		    "key");
		return -1;
	}
	path = xasprintf("%s/%s", state_dir, SECRET_KEYFILE);
	if (stat(path, &st) == -1) {
		if (errno != ENOENT) {
			set_cause(cause, "cannot use the secrets key %s: %s",
			    path, strerror(errno));
			goto out;
		}
		if (!create) {
			set_cause(cause, "the secrets key %s is missing: the "
			    "stored account secrets cannot be read; restore "
			    "the file from a backup, or enter the accounts' "
			    "secrets again (havenctl account edit NAME "
			    "--secret-file FILE)", path);
			goto out;
		}
		if (secret_key_create(state_dir, path, cause) == -1)
			goto out;
	}
	rc = secret_key_read(path, key, cause);
out:
	free(path);
	return rc;
}

char *
secret_seal(const uint8_t key[SECRET_KEYLEN], const char *aad,
    const void *plain, size_t len, char **cause)
{
	EVP_CIPHER_CTX	*ctx = NULL;
	uint8_t		*raw;
	char		*out = NULL;
	size_t		 rawlen = SECRET_NONCE + len + SECRET_TAG;
	size_t		 plen = strlen(SECRET_PREFIX);
	int		 n;

	if (len > SECRET_MAX) {
		set_cause(cause, "the secret is longer than %d bytes",
		    SECRET_MAX);
		return NULL;
	}
	raw = xmalloc(rawlen);
	random_bytes(raw, SECRET_NONCE);
	if ((ctx = EVP_CIPHER_CTX_new()) == NULL ||
	    !EVP_EncryptInit_ex2(ctx, EVP_aes_256_gcm(), key, raw, NULL) ||
	    !EVP_EncryptUpdate(ctx, NULL, &n, (const uint8_t *)aad,
	    (int)strlen(aad)) ||
	    (len > 0 && !EVP_EncryptUpdate(ctx, raw + SECRET_NONCE, &n,
	    plain, (int)len)) ||
	    !EVP_EncryptFinal_ex(ctx, raw + SECRET_NONCE + len, &n) ||
	    !EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, SECRET_TAG,
	    raw + SECRET_NONCE + len)) {
		set_cause(cause, "cannot encrypt the secret (OpenSSL "
		    "AES-256-GCM failed)");
		goto out;
	}
	out = xmalloc(plen + 4 * ((rawlen + 2) / 3) + 1);
	memcpy(out, SECRET_PREFIX, plen);
	EVP_EncodeBlock((uint8_t *)out + plen, raw, (int)rawlen);
out:
	EVP_CIPHER_CTX_free(ctx);
	OPENSSL_cleanse(raw, rawlen);
	free(raw);
	return out;
}

char *
secret_open(const uint8_t key[SECRET_KEYLEN], const char *aad,
    const char *sealed, size_t *lenp, char **cause)
{
	EVP_CIPHER_CTX	*ctx = NULL;
	const char	*b64;
	uint8_t		*raw = NULL;
	char		*plain = NULL;
	size_t		 blen, rawlen = 0, len, pad = 0;
	int		 n, ok;

	if (sealed == NULL || strncmp(sealed, SECRET_PREFIX,
	    strlen(SECRET_PREFIX)) != 0) {
		set_cause(cause, "the stored secret is not in a known format");
		return NULL;
	}
	b64 = sealed + strlen(SECRET_PREFIX);
	blen = strlen(b64);
	if (blen % 4 != 0 || blen == 0 || strspn(b64, "ABCDEFGHIJKLMNOPQRSTUV"
	    "WXYZabcdefghijklmnopqrstuvwxyz0123456789+/=") != blen) {
		set_cause(cause, "the stored secret is damaged (not base64)");
		return NULL;
	}
	while (pad < 2 && b64[blen - 1 - pad] == '=')
		pad++;
	raw = xmalloc(blen / 4 * 3);
	if ((n = EVP_DecodeBlock(raw, (const uint8_t *)b64, (int)blen)) < 0 ||
	    (size_t)n < pad) {
		set_cause(cause, "the stored secret is damaged (not base64)");
		goto out;
	}
	rawlen = (size_t)n - pad;
	if (rawlen < SECRET_NONCE + SECRET_TAG) {
		set_cause(cause, "the stored secret is damaged (too short)");
		goto out;
	}
	len = rawlen - SECRET_NONCE - SECRET_TAG;
	plain = xmalloc(len + 1);
	ok = (ctx = EVP_CIPHER_CTX_new()) != NULL &&
	    EVP_DecryptInit_ex2(ctx, EVP_aes_256_gcm(), key, raw, NULL) &&
	    EVP_DecryptUpdate(ctx, NULL, &n, (const uint8_t *)aad,
	    (int)strlen(aad)) &&
	    (len == 0 || EVP_DecryptUpdate(ctx, (uint8_t *)plain, &n,
	    raw + SECRET_NONCE, (int)len)) &&
	    EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, SECRET_TAG,
	    raw + SECRET_NONCE + len) &&
	    EVP_DecryptFinal_ex(ctx, (uint8_t *)plain + len, &n) == 1;
	if (!ok) {
		set_cause(cause, "the stored secret of '%s' does not decrypt: "
		    "the secrets key was replaced or the database row was "
		    "changed; enter the secret again (havenctl account edit "
		    "%s --secret-file FILE)", aad, aad);
		OPENSSL_cleanse(plain, len + 1);
		free(plain);
		plain = NULL;
		goto out;
	}
	plain[len] = '\0';
	if (lenp != NULL)
		*lenp = len;
out:
	EVP_CIPHER_CTX_free(ctx);
	if (raw != NULL) {
		OPENSSL_cleanse(raw, blen / 4 * 3);
		free(raw);
	}
	return plain;
}

char *
secret_encrypt(const char *state_dir, const char *aad, const char *plain,
    char **cause)
{
	uint8_t	 key[SECRET_KEYLEN];
	char	*out;

	if (secret_key_load(state_dir, 1, key, cause) == -1)
		return NULL;
	out = secret_seal(key, aad, plain, strlen(plain), cause);
	OPENSSL_cleanse(key, sizeof(key));
	return out;
}

char *
secret_decrypt(const char *state_dir, const char *aad, const char *sealed,
    char **cause)
{
	uint8_t	 key[SECRET_KEYLEN];
	char	*out;

	if (secret_key_load(state_dir, 0, key, cause) == -1)
		return NULL;
	out = secret_open(key, aad, sealed, NULL, cause);
	OPENSSL_cleanse(key, sizeof(key));
	return out;
}

void
secret_free(char *s)
{
	if (s == NULL)
		return;
	OPENSSL_cleanse(s, strlen(s));
	free(s);
}
