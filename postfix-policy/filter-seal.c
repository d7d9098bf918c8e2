/* filter-seal.c - what the before-queue path did, told to the after-queue
 * path (doc/outbound.md "One decider").
 *
 * omamori-submit checks every outbound subscriber's mail before the queue
 * (virus, Bcc, ZIP) whatever policyd decides, and says so in the message:
 * "X-Omamori-Out-Checked: QID DONE KEY 1 TIME MAC".  QID is Postfix's
 * queue id of that very message, DONE the checks made ("virus,bcc,zip",
 * "-"), KEY the before-queue key (its ZIP password's and a hold's id),
 * and "1 TIME MAC" a report seal (crypto/report.h: HMAC-SHA256 under the
 * site's report key, two days) over "out-checked QID SENDER DONE KEY".
 * When policyd FILTERs the message to omamori-filter (a hold, outbound
 * spam, a settings change it has not seen yet), the filter verifies the
 * seal against the queue id Postfix gives it (XFORWARD IDENT) and the
 * envelope sender, and skips what DONE names: nothing is zipped twice,
 * and nothing goes out with neither path's checks.  A sender cannot make
 * a seal (the key), nor reuse one (another message has another queue id).
 */
#include "filter.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/report.h"
#include "lib/log.h"
#include "lib/util.h"
#include "store/store.h"

#define FILTER_SEAL_TOKEN_MAX 128	/* bytes of QID, DONE or KEY */

/* The report key into w (read once per worker).  0 or -1. */
static int filter_seal_key(struct filter_worker *w)
{
	char *error = NULL;

	if (w->have_report_key)
		return 0;
	if (w->store == NULL ||
	    om_store_secret(w->store, OM_REPORT_KEY_NAME, w->report_key,
			    sizeof(w->report_key), &error) < 0) {
		om_log_warn("outbound seal: no report key (%s): the after-queue path "
			    "checks again", error != NULL ? error : "no store");
		free(error);
		return -1;
	}
	w->have_report_key = 1;
	return 0;
}

static char *filter_seal_subject(const char *qid, const char *sender, const char *done,
				 const char *key)
{
	return om_asprintf("out-checked %s %s %s %s", qid, *sender != '\0' ? sender : "<>",
			   done, key);
}

static void filter_seal_done_text(unsigned int done, char *out, size_t size)
{
	(void)snprintf(out, size, "%s%s%s%s%s",
		       (done & FILTER_DONE_VIRUS) != 0 ? "virus" : "",
		       (done & FILTER_DONE_VIRUS) != 0 && (done & ~FILTER_DONE_VIRUS) != 0 ?
		       "," : "",
		       (done & FILTER_DONE_BCC) != 0 ? "bcc" : "",
		       (done & FILTER_DONE_BCC) != 0 && (done & FILTER_DONE_ZIP) != 0 ? "," : "",
		       (done & FILTER_DONE_ZIP) != 0 ? "zip" : "");
	if (*out == '\0')
		(void)snprintf(out, size, "-");
}

char *filter_seal_make(struct filter_worker *w, const char *qid, const char *sender,
		       unsigned int done, const char *key)
{
	char text[32], *subject, *seal, *header;

	if (*qid == '\0' || strcmp(qid, "-") == 0 || filter_seal_key(w) < 0)
		return NULL;
	filter_seal_done_text(done, text, sizeof(text));
	subject = filter_seal_subject(qid, sender, text, key);
	seal = om_report_seal(w->report_key, subject, time(NULL));
	free(subject);
	if (seal == NULL)
		return NULL;
	header = om_asprintf("%s: %s %s %s %s\n", FILTER_SEAL_HEADER, qid, text, key, seal);
	free(seal);
	return header;
}

/* The next space-separated token of *p into out (bounded).  0 or -1. */
static int filter_seal_token(const char **p, char *out, size_t size)
{
	size_t n;

	*p += strspn(*p, " \t");
	n = strcspn(*p, " \t");
	if (n == 0 || n >= size)
		return -1;
	memcpy(out, *p, n);
	out[n] = '\0';
	*p += n;
	return 0;
}

static unsigned int filter_seal_done_parse(const char *text)
{
	unsigned int done = 0;
	char copy[FILTER_SEAL_TOKEN_MAX], *word, *save = NULL;

	if (strcmp(text, "-") == 0)
		return 0;
	(void)snprintf(copy, sizeof(copy), "%s", text);
	for (word = strtok_r(copy, ",", &save); word != NULL;
	     word = strtok_r(NULL, ",", &save)) {
		if (strcmp(word, "virus") == 0)
			done |= FILTER_DONE_VIRUS;
		else if (strcmp(word, "bcc") == 0)
			done |= FILTER_DONE_BCC;
		else if (strcmp(word, "zip") == 0)
			done |= FILTER_DONE_ZIP;
	}
	return done;
}

int filter_seal_check(struct filter_worker *w, const char *value, const char *qid,
		      const char *sender, unsigned int *done_r, char **key_r)
{
	char sqid[FILTER_SEAL_TOKEN_MAX], done[FILTER_SEAL_TOKEN_MAX];
	char key[FILTER_SEAL_TOKEN_MAX], *subject;
	const char *p = value;
	int ok;

	*done_r = 0;
	*key_r = NULL;
	if (filter_seal_token(&p, sqid, sizeof(sqid)) < 0 ||
	    filter_seal_token(&p, done, sizeof(done)) < 0 ||
	    filter_seal_token(&p, key, sizeof(key)) < 0)
		return 0;
	p += strspn(p, " \t");
	if (strcmp(sqid, qid) != 0 || filter_seal_key(w) < 0)
		return 0;
	subject = filter_seal_subject(sqid, sender, done, key);
	ok = om_report_verify(w->report_key, p, subject, time(NULL));
	free(subject);
	if (!ok)
		return 0;
	*done_r = filter_seal_done_parse(done);
	*key_r = om_strdup(key);
	return 1;
}
