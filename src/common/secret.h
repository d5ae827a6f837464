/*
 * Stored secrets (hypervisor and push-install credentials) encrypted at
 * rest: AES-256-GCM under a key only havend can read, a random 96-bit
 * nonce per secret, and the owner's name (the account name) as AAD, so
 * a sealed secret copied onto another account does not open.
 *
 * The key is STATE_DIR/secrets.key: 32 random bytes, mode 0600, made on
 * first use.  The sealed form is text, for a database column:
 *
 *	"hv1:" base64(nonce[12] | ciphertext | tag[16])
 *
 * Losing the key file loses the secrets (they must be entered again);
 * the database alone, or a dump of it, never reveals them.
 */
#ifndef HAVEN_SECRET_H
#define HAVEN_SECRET_H

#include <stddef.h>
#include <stdint.h>

#define SECRET_KEYLEN	32
#define SECRET_MAX	65536		/* bytes of clear text */
#define SECRET_KEYFILE	"secrets.key"

/*
 * The key of state_dir.  create: make it (and state_dir) when missing;
 * otherwise a missing key is an error that says what it means.
 */
int	 secret_key_load(const char *state_dir, int create,
	    uint8_t key[SECRET_KEYLEN], char **cause);

/* Seal len bytes of plain with aad; the sealed text is malloc'd. */
char	*secret_seal(const uint8_t key[SECRET_KEYLEN], const char *aad,
	    const void *plain, size_t len, char **cause);
/*
 * Open a sealed text; the clear text is malloc'd and NUL-terminated
 * (*len, which may be NULL, excludes the NUL).  Free it with
 * secret_free().  Fails for a wrong key, a wrong aad or any change.
 */
char	*secret_open(const uint8_t key[SECRET_KEYLEN], const char *aad,
	    const char *sealed, size_t *len, char **cause);

/* Both in one: load (or make) the key of state_dir, seal or open. */
char	*secret_encrypt(const char *state_dir, const char *aad,
	    const char *plain, char **cause);
char	*secret_decrypt(const char *state_dir, const char *aad,
	    const char *sealed, char **cause);

/* Wipe and free a clear text (NULL is fine). */
void	 secret_free(char *);

#endif
