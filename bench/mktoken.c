/* mktoken.c - the web benchmark's fixtures: a link token made with the
 * key file, as digests make them (shared/crypto/token.h), and optionally
 * the quarantine row the token points at.  Not a tool for admins.
 *
 *   mktoken [-t] [-s STORE] KEYFILE MAILBOX ACTION MESSAGE SECONDS
 *
 * Prints the token for {MAILBOX, ACTION, MESSAGE, now + SECONDS}.  -t
 * prints it tampered instead: one character of its MAC changed (the
 * claims intact), so a server decodes it and must check the MAC to refuse
 * it.  -s STORE (a store_path) also records a quarantined row of MAILBOX
 * with id MESSAGE (om_store_quarantine_add; an existing row stays).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "crypto/token.h"
#include "store/store.h"

static int mk_row(const char *location, const char *mailbox, const char *id)
{
	struct om_store *store;
	struct om_store_quarantined q;
	char *error = NULL;
	int ret;

	if (om_store_open(location, 0, 5000, &store, &error) < 0) {
		fprintf(stderr, "mktoken: %s\n", error);
		free(error);
		return -1;
	}
	memset(&q, 0, sizeof(q));
	q.id = id;
	q.mailbox = mailbox;
	q.received = (long long)time(NULL) - 3600;
	q.sender = "bounce-7781@offers.example.net";
	q.from = "\"Great Offers\" <deals@offers.example.net>";
	q.from_address = "deals@offers.example.net";
	q.subject = "You have won a prize - claim it today";
	q.score = "9.8";
	q.reasons = "BAYES_99 URIBL_BLACK FROM_DISPLAY_MISMATCH";
	q.size = 48213;
	ret = om_store_quarantine_add(store, &q, &error);
	if (ret < 0) {
		fprintf(stderr, "mktoken: %s\n", error);
		free(error);
	}
	om_store_close(&store);
	return ret;
}

int main(int argc, char **argv)
{
	struct om_link_keys keys;
	struct om_token_claims claims;
	const char *store = NULL;
	char *token, *error = NULL, *dot;
	int opt, tamper = 0;

	while ((opt = getopt(argc, argv, "ts:")) != -1) {
		if (opt == 't')
			tamper = 1;
		else if (opt == 's')
			store = optarg;
		else
			goto usage;
	}
	if (argc - optind != 5)
		goto usage;
	argv += optind;
	if (om_link_keys_load(argv[0], OM_LINK_SIGNERS_ALL, &keys, &error) < 0) {
		fprintf(stderr, "mktoken: %s\n", error);
		free(error);
		return 1;
	}
	memset(&claims, 0, sizeof(claims));
	if (strlen(argv[1]) >= sizeof(claims.mailbox) || strlen(argv[2]) >= sizeof(claims.action) ||
	    strlen(argv[3]) >= sizeof(claims.message)) {
		fprintf(stderr, "mktoken: a field is too long\n");
		return 1;
	}
	strcpy(claims.mailbox, argv[1]);
	strcpy(claims.action, argv[2]);
	strcpy(claims.message, argv[3]);
	claims.expires = time(NULL) + atol(argv[4]);
	token = om_token_make(&keys, &claims);
	if (token == NULL) {
		fprintf(stderr, "mktoken: cannot make the token\n");
		return 1;
	}
	if (tamper) {
		/* the MAC's first character: six bits of its first byte (the
		   last one may be only padding bits a decoder ignores) */
		dot = strchr(token, '.');
		if (dot == NULL || dot[1] == '\0') {
			fprintf(stderr, "mktoken: no MAC in the token\n");
			return 1;
		}
		dot[1] = dot[1] == 'A' ? 'B' : 'A';
	}
	if (store != NULL && mk_row(store, argv[1], argv[3]) < 0)
		return 1;
	printf("%s\n", token);
	free(token);
	return 0;
usage:
	fprintf(stderr, "usage: mktoken [-t] [-s STORE] KEYFILE MAILBOX ACTION MESSAGE SECONDS\n");
	return 2;
}
