/*
 * One-time enrollment tokens: their text form (token.h).  Issuing,
 * storing and consuming them is the configuration server's business
 * (src/havend/db_ops_token.c, enroll.c, api_token.c, job_push.c).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "token.h"
#include "util.h"

static int
is_lower_hex(const char *s, size_t n)
{
	size_t	i;

	for (i = 0; i < n; i++)
		if (!((s[i] >= '0' && s[i] <= '9') ||
		    (s[i] >= 'a' && s[i] <= 'f')))
			return 0;
	return 1;
}

void
token_generate(char id[TOKEN_ID_HEX + 1], char token[TOKEN_LEN + 1])
{
	uint8_t	 rid[TOKEN_ID_HEX / 2], sec[TOKEN_SECRET_HEX / 2];
	char	 shex[TOKEN_SECRET_HEX + 1];

	random_bytes(rid, sizeof(rid));
	random_bytes(sec, sizeof(sec));
	hex_encode(rid, sizeof(rid), id);
	hex_encode(sec, sizeof(sec), shex);
	snprintf(token, TOKEN_LEN + 1, "%s%s.%s", TOKEN_PREFIX, id, shex);
	OPENSSL_cleanse(sec, sizeof(sec));
	OPENSSL_cleanse(shex, sizeof(shex));
}

int
token_parse(const char *text, size_t len, char id[TOKEN_ID_HEX + 1])
{
	const size_t	pl = strlen(TOKEN_PREFIX);

	while (len > 0 && (text[len - 1] == '\n' || text[len - 1] == '\r'))
		len--;
	if (len != TOKEN_LEN || strncmp(text, TOKEN_PREFIX, pl) != 0 ||
	    !is_lower_hex(text + pl, TOKEN_ID_HEX) ||
	    text[pl + TOKEN_ID_HEX] != '.' ||
	    !is_lower_hex(text + pl + TOKEN_ID_HEX + 1, TOKEN_SECRET_HEX))
		return -1;
	memcpy(id, text + pl, TOKEN_ID_HEX);
	id[TOKEN_ID_HEX] = '\0';
	return 0;
}

int
token_id_ok(const char *id)
{
	return id != NULL && strlen(id) == TOKEN_ID_HEX &&
	    is_lower_hex(id, TOKEN_ID_HEX);
}
