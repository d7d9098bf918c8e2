/* report.c - seals for omamori's own reports (see report.h), HMAC-SHA256
 * from libsodium, compared in constant time.
 */
#include "crypto/report.h"
#include "lib/util.h"

#include <ctype.h>
#include <limits.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define OM_REPORT_VERSION "1"

/* The MAC of "1 <time> <rcpt, lower case>". */
static void om_report_mac(const unsigned char key[OM_REPORT_KEY_LEN],
			  const char *rcpt, long long when,
			  unsigned char mac[crypto_auth_hmacsha256_BYTES])
{
	crypto_auth_hmacsha256_state st;
	char head[64];
	size_t i;
	unsigned char c;

	(void)snprintf(head, sizeof(head), OM_REPORT_VERSION " %lld ", when);
	crypto_auth_hmacsha256_init(&st, key, OM_REPORT_KEY_LEN);
	crypto_auth_hmacsha256_update(&st, (const unsigned char *)head, strlen(head));
	for (i = 0; rcpt[i] != '\0'; i++) {
		c = (unsigned char)tolower((unsigned char)rcpt[i]);
		crypto_auth_hmacsha256_update(&st, &c, 1);
	}
	crypto_auth_hmacsha256_final(&st, mac);
}

char *om_report_seal(const unsigned char key[OM_REPORT_KEY_LEN],
		     const char *rcpt, time_t now)
{
	unsigned char mac[crypto_auth_hmacsha256_BYTES];
	char hex[crypto_auth_hmacsha256_BYTES * 2 + 1];

	om_report_mac(key, rcpt, (long long)now, mac);
	sodium_bin2hex(hex, sizeof(hex), mac, sizeof(mac));
	return om_asprintf(OM_REPORT_VERSION " %lld %s", (long long)now, hex);
}

/* Splits a seal, "1 <time> <64 hex digits>" exactly, into its time and
   MAC (the time with the checked parser: it comes in a message).  0 or
   -1. */
static int om_report_parse(const char *value, long long *when_r,
			   unsigned char mac[crypto_auth_hmacsha256_BYTES])
{
	const char *p = value + strlen(OM_REPORT_VERSION " "), *space;
	char digits[24];
	unsigned long when;
	size_t bin_len = 0;

	if (strncmp(value, OM_REPORT_VERSION " ", strlen(OM_REPORT_VERSION " ")) != 0)
		return -1;
	space = strchr(p, ' ');
	if (space == NULL || (size_t)(space - p) >= sizeof(digits))
		return -1;
	memcpy(digits, p, (size_t)(space - p));
	digits[space - p] = '\0';
	if (om_parse_ulong(digits, 0, LONG_MAX, &when) < 0 ||
	    strlen(space + 1) != crypto_auth_hmacsha256_BYTES * 2 ||
	    sodium_hex2bin(mac, crypto_auth_hmacsha256_BYTES, space + 1,
			   crypto_auth_hmacsha256_BYTES * 2, NULL, &bin_len,
			   NULL) != 0 || bin_len != crypto_auth_hmacsha256_BYTES)
		return -1;
	*when_r = (long long)when;
	return 0;
}

int om_report_verify(const unsigned char key[OM_REPORT_KEY_LEN],
		     const char *value, const char *rcpt, time_t now)
{
	unsigned char mac[crypto_auth_hmacsha256_BYTES];
	unsigned char want[crypto_auth_hmacsha256_BYTES];
	long long when;

	if (om_report_parse(value, &when, want) < 0)
		return 0;
	if (when > (long long)now + 60 || (long long)now - when >= OM_REPORT_MAX_AGE)
		return 0;
	om_report_mac(key, rcpt, when, mac);
	return sodium_memcmp(mac, want, sizeof(mac)) == 0;
}
