/* report.c - seals for omamori's own reports (see report.h), HMAC-SHA256
 * from libsodium, compared in constant time.
 */
#include "crypto/report.h"
#include "lib/util.h"

#include <ctype.h>
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

int om_report_verify(const unsigned char key[OM_REPORT_KEY_LEN],
		     const char *value, const char *rcpt, time_t now)
{
	unsigned char mac[crypto_auth_hmacsha256_BYTES];
	unsigned char want[crypto_auth_hmacsha256_BYTES];
	char hex[crypto_auth_hmacsha256_BYTES * 2 + 1], tail;
	long long when;
	size_t bin_len = 0;

	if (sscanf(value, OM_REPORT_VERSION " %lld %64s %c", &when, hex, &tail) != 2 ||
	    strlen(hex) != sizeof(hex) - 1 ||
	    sodium_hex2bin(want, sizeof(want), hex, strlen(hex), NULL,
			   &bin_len, NULL) != 0 || bin_len != sizeof(want))
		return 0;
	if (when > (long long)now + 60 || (long long)now - when >= OM_REPORT_MAX_AGE)
		return 0;
	om_report_mac(key, rcpt, when, mac);
	return sodium_memcmp(mac, want, sizeof(mac)) == 0;
}
