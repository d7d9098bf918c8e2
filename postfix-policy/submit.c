/* submit.c - omamori-submit: the submission smtpd's milter, the
 * before-queue path of outbound mail (doc/outbound.md "The two paths").
 *
 * An authenticated sender ({auth_authen}) subscribed to an outbound feature
 * has the mail checked here, while the client waits for the answer to its
 * end of DATA: filter_inline (filter-deliver.c, the very functions
 * omamori-filter runs after the queue) scans it with omamori-scand, hides
 * the To/Cc list, zips the attachments and sends the notices; the changes
 * go back to Postfix as header and body edits, with a seal saying what was
 * done (filter-seal.c), and Postfix queues the message once.  A virus with
 * outbound-virus-action block is a 554 5.7.1 to the client, anything this
 * cannot decide (scand down, the store) a 451 4.x: the client keeps the
 * message and tries again.  Exactly once comes with it: the client hears
 * 250 only after Postfix has committed the queue file.
 *
 * One decider (doc/outbound.md): this checks every subscriber's message,
 * whether or not policyd also FILTERs it to omamori-filter (a hold that
 * may apply, outbound-spam, outbound-path queue: decide/route.h).  The
 * filter verifies the seal and skips what it names, holding or scoring
 * what was checked once.  So a settings change policyd has not seen yet
 * can neither send mail unchecked nor zip it twice.  Where this cannot
 * check (scand down) a message whose route is QUEUE, it leaves it
 * unsealed to the filter instead of a 451, as outbound-path queue asks.
 *
 * Answered SMFIS_ACCEPT at MAIL FROM, with no body sent here: no login, a
 * login without an outbound feature, a braked login (policyd FILTERs its
 * mail to the brake socket, which holds it before any ZIP).
 *
 * A program of its own, like omamori-dedup: libmilter's smfi_main owns the
 * process's signals and makes a thread per connection; omamori-filter has
 * its own model, and a kill -9 of either leaves the other answering.  The
 * checks' code is omamori-filter's, linked in.  Store handles: a small
 * pool shared by the connections' threads (SUBMIT_POOL).
 *
 * SECURITY: starts as root to make its socket (submit_listen, in Postfix's
 * spool), read the link key (web_key_path) and the ZIP key (zip_key_path);
 * the socket becomes root's, group filter_socket_group, mode 0660, so only
 * Postfix and root can connect.  Then it drops to filter_user with
 * filter_group (postdrop) as its only other group, as omamori-filter: its
 * notices go out through the omamori-reinject smtpd in public/.  A
 * message is kept in memory up to scan_max_size bytes and 1000 header
 * fields and recipients; past that it is refused 552 (the after-queue
 * path would refuse it 554 as unscanned, unless scan_limit_action =
 * deliver: doc/outbound.md says the difference).
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <libmilter/mfapi.h>

#include "milter-listen.h"
#include "filter.h"
#include "decide/route.h"
#include "lib/daemon.h"
#include "lib/log.h"
#include "lib/om-config.h"
#include "lib/util.h"
#include "mail/mime.h"
#include "store/settings.h"
#include "store/store.h"

#define SUBMIT_POOL 16		/* store handles shared by the connections */
#define SUBMIT_RCPTS_MAX 1000	/* the recipients of one message kept */
#define SUBMIT_HEADERS_MAX 1000	/* header fields of one message */
#define SUBMIT_EXPIRE_INTERVAL 3600

/* The module's context: set before smfi_main, then the pool's lock
   guards the pool. */
struct submit_daemon {
	struct filter_daemon d;
	pthread_mutex_t lock;
	struct filter_worker workers[SUBMIT_POOL];
	int busy[SUBMIT_POOL];
	pthread_cond_t freed;
	time_t last_expire;
};
static struct submit_daemon submit;

/* One header field as Postfix gave it. */
struct submit_field {
	char *name;
	char *value;		/* after the colon, leading space kept, LF */
};

/* The message on one connection (smfi_setpriv). */
struct submit_msg {
	char *login, *sender, *queue_id;
	char **rcpts;
	size_t rcpt_count;
	struct submit_field *fields;
	size_t field_count;
	struct om_buf msg;	/* headers, blank line, body; LF line ends */
	int noreply;		/* the MTA does not wait for our answer to a
				   recipient, a header, the end of the header
				   or a body chunk (kept across messages) */
	int body_started, pending_cr, too_big, too_many;
};

/* ---- the pool of workers (a store handle each) ---- */

static struct filter_worker *submit_worker_get(void)
{
	struct filter_worker *w = NULL;
	int i;

	pthread_mutex_lock(&submit.lock);
	while (w == NULL) {
		for (i = 0; i < SUBMIT_POOL; i++) {
			if (!submit.busy[i]) {
				submit.busy[i] = 1;
				w = &submit.workers[i];
				break;
			}
		}
		if (w == NULL)
			pthread_cond_wait(&submit.freed, &submit.lock);
	}
	pthread_mutex_unlock(&submit.lock);
	return w;
}

static void submit_worker_put(struct filter_worker *w)
{
	pthread_mutex_lock(&submit.lock);
	submit.busy[w->id] = 0;
	pthread_cond_signal(&submit.freed);
	pthread_mutex_unlock(&submit.lock);
}

/* The worker's store, opened on first use; NULL when it cannot be. */
static struct om_store *submit_store(struct filter_worker *w)
{
	const struct om_config *c = submit.d.config;
	char *error = NULL;

	if (w->store == NULL &&
	    om_store_open(c->store_path, 0, c->store_busy_timeout_ms, &w->store,
			  &error) < 0) {
		om_log_error("store: %s", error);
		free(error);
		return NULL;
	}
	return w->store;
}

/* ---- the message's state ---- */

static struct submit_msg *submit_msg(SMFICTX *ctx)
{
	struct submit_msg *m = smfi_getpriv(ctx);

	if (m == NULL) {
		m = calloc(1, sizeof(*m));
		if (m != NULL && smfi_setpriv(ctx, m) != MI_SUCCESS) {
			free(m);
			m = NULL;
		}
		if (m != NULL)
			om_buf_init(&m->msg);
	}
	return m;
}

static void submit_msg_reset(struct submit_msg *m)
{
	size_t i;
	int noreply;

	if (m == NULL)
		return;
	free(m->login);
	free(m->sender);
	free(m->queue_id);
	for (i = 0; i < m->rcpt_count; i++)
		free(m->rcpts[i]);
	free(m->rcpts);
	for (i = 0; i < m->field_count; i++) {
		free(m->fields[i].name);
		free(m->fields[i].value);
	}
	free(m->fields);
	om_buf_free(&m->msg);
	noreply = m->noreply;
	memset(m, 0, sizeof(*m));
	m->noreply = noreply;
	om_buf_init(&m->msg);
}

/* The answer to a step of a message that is not ours to follow (cannot
   happen after MAIL FROM went on): a 4xx, or with no reply agreed,
   none - the end of the message then answers 4xx. */
static sfsistat submit_lost(const struct submit_msg *m)
{
	return m != NULL && m->noreply ? SMFIS_NOREPLY : SMFIS_TEMPFAIL;
}

/* The answer to a recipient, header or body chunk that was kept: none
   when the MTA agreed not to wait for one (each is a round trip less:
   a message of 12 recipients and 10 header fields is 23 fewer). */
static sfsistat submit_next(const struct submit_msg *m)
{
	return m->noreply ? SMFIS_NOREPLY : SMFIS_CONTINUE;
}

/* An address without its angle brackets (allocated). */
static char *submit_address(const char *arg)
{
	size_t n = strlen(arg);

	if (n >= 2 && arg[0] == '<' && arg[n - 1] == '>')
		return om_strndup(arg + 1, n - 2);
	return om_strdup(arg);
}

/* ---- the route (decide/route.h) ---- */

/* The route of recipient rcpt of m, asked of the store as policyd asks
   its snapshot of it. */
static enum om_route submit_route(const struct submit_msg *m, const char *rcpt,
				  const char **why_r)
{
	struct filter_worker *w = submit_worker_get();
	struct om_store *store = submit_store(w);
	enum om_route route;

	if (store == NULL) {
		/* cannot decide: the after-queue path, which tempfails */
		*why_r = "store unavailable";
		route = OM_ROUTE_QUEUE;
	} else {
		struct om_settings_source src;
		char *error = NULL;
		int txn = om_store_read_begin(store, &error) == 0;

		/* some thirty settings read: one lock, not one per read */
		free(error);
		om_settings_store_source(store, &src);
		route = om_route_rcpt_conf(&src, submit.d.config->outbound_inline != 0,
					   m->login, m->sender, rcpt, why_r);
		if (txn)
			om_store_read_end(store);
	}
	submit_worker_put(w);
	return route;
}

/* 1 if login is braked now (its brake row: policyd FILTERs its mail to
   the brake socket), 0 not, -1 cannot tell. */
static void submit_brake_cb(void *context, const struct om_store_brake *b)
{
	*(int *)context = b->state == OM_BRAKE_ON;
}

static int submit_braked(const char *login)
{
	struct filter_worker *w = submit_worker_get();
	struct om_store *store = submit_store(w);
	char *error = NULL;
	int braked = 0, ret = 0;

	if (store == NULL) {
		ret = -1;
	} else if (om_store_brake_list(store, login, submit_brake_cb, &braked,
				       &error) < 0) {
		om_log_error("brake of %s: %s", login, error);
		free(error);
		ret = -1;
	} else {
		ret = braked;
	}
	submit_worker_put(w);
	return ret;
}

/* ---- the callbacks ---- */

static sfsistat submit_negotiate(SMFICTX *ctx, unsigned long f0, unsigned long f1,
				 unsigned long f2, unsigned long f3,
				 unsigned long *pf0, unsigned long *pf1,
				 unsigned long *pf2, unsigned long *pf3)
{
	unsigned long need = SMFIF_CHGHDRS | SMFIF_ADDHDRS | SMFIF_CHGBODY;
	unsigned long want = SMFIP_NOCONNECT | SMFIP_NOHELO | SMFIP_NOUNKNOWN |
		SMFIP_NODATA | SMFIP_HDR_LEADSPC;
	/* the steps whose answer is always "go on" (what they find is
	   answered at the end of the message): no reply, when offered */
	unsigned long quiet = SMFIP_NR_RCPT | SMFIP_NR_HDR | SMFIP_NR_EOH | SMFIP_NR_BODY;
	struct submit_msg *m = submit_msg(ctx);

	(void)f2;
	(void)f3;
	if ((f0 & need) != need || (f1 & SMFIP_HDR_LEADSPC) == 0) {
		om_log_error("the MTA does not offer header and body changes with "
			     "header leading space: messages tempfailed");
		return SMFIS_REJECT;
	}
	if (m == NULL)
		return SMFIS_REJECT;	/* milter_default_action: tempfail */
	m->noreply = (f1 & quiet) == quiet;
	*pf0 = need;
	*pf1 = (want | (m->noreply ? quiet : 0)) & f1;
	*pf2 = 0;
	*pf3 = 0;
	return SMFIS_CONTINUE;
}

static sfsistat submit_envfrom(SMFICTX *ctx, char **argv)
{
	struct submit_msg *m = submit_msg(ctx);
	const char *login = smfi_getsymval(ctx, "{auth_authen}"), *why;
	int braked;

	if (m == NULL)
		return SMFIS_TEMPFAIL;
	submit_msg_reset(m);
	/* not authenticated, or no before-queue path configured: nothing of
	   ours (inbound mail, or policyd FILTERs every subscriber) */
	if (login == NULL || *login == '\0' || submit.d.config->outbound_inline == 0)
		return SMFIS_ACCEPT;
	m->login = om_strdup(login);
	m->sender = submit_address(argv[0] != NULL ? argv[0] : "");
	if (submit_route(m, "", &why) == OM_ROUTE_NONE)
		return SMFIS_ACCEPT;	/* no outbound feature: no body here */
	braked = submit_braked(m->login);
	if (braked != 0) {
		/* braked: policyd FILTERs it to the brake socket; cannot
		   tell: the client tries again */
		if (braked < 0) {
			(void)smfi_setreply(ctx, "451", "4.3.0",
					    "outbound check unavailable, try again later");
			return SMFIS_TEMPFAIL;
		}
		return SMFIS_ACCEPT;
	}
	return SMFIS_CONTINUE;
}

static sfsistat submit_envrcpt(SMFICTX *ctx, char **argv)
{
	struct submit_msg *m = smfi_getpriv(ctx);
	char *rcpt;

	if (m == NULL || m->login == NULL)
		return submit_lost(m);
	rcpt = submit_address(argv[0] != NULL ? argv[0] : "");
	if (m->rcpt_count >= SUBMIT_RCPTS_MAX) {
		free(rcpt);
		m->too_many = 1;
		return submit_next(m);
	}
	m->rcpts = om_realloc(m->rcpts, (m->rcpt_count + 1) * sizeof(*m->rcpts));
	m->rcpts[m->rcpt_count++] = rcpt;
	return submit_next(m);
}

/* 1 when some recipient's route is QUEUE: policyd most likely FILTERs the
   message to omamori-filter too, which checks what is not sealed.  Asked
   only when the checks here could not be made (the route depends on a
   recipient through its domain alone: one decision per domain in a row). */
static int submit_after_queue(struct submit_msg *m)
{
	const char *why, *last = NULL;
	size_t i;

	for (i = 0; i < m->rcpt_count; i++) {
		if (last != NULL &&
		    strcasecmp(last, om_settings_domain_of(m->rcpts[i])) == 0)
			continue;
		last = om_settings_domain_of(m->rcpts[i]);
		if (submit_route(m, m->rcpts[i], &why) != OM_ROUTE_INLINE) {
			om_log_debug("from=<%s> to=<%s>: also after the queue (%s)",
				     m->sender, m->rcpts[i], why);
			return 1;
		}
	}
	return 0;
}

/* Appends text with CRLF made LF (the filter's code works on LF). */
static void submit_append_lf(struct om_buf *b, const char *text, size_t len)
{
	size_t i, start = 0;

	for (i = 0; i < len; i++) {
		if (text[i] == '\r' && i + 1 < len && text[i + 1] == '\n') {
			om_buf_append(b, text + start, i - start);
			start = i + 1;
		}
	}
	om_buf_append(b, text + start, len - start);
}

static int submit_over(struct submit_msg *m, size_t more)
{
	if (m->msg.len + more > (size_t)submit.d.config->scan_max_size)
		m->too_big = 1;
	return m->too_big;
}

static sfsistat submit_header(SMFICTX *ctx, char *name, char *value)
{
	struct submit_msg *m = smfi_getpriv(ctx);
	struct submit_field *f;
	struct om_buf v;

	if (m == NULL || m->login == NULL)
		return submit_lost(m);
	if (submit_over(m, strlen(name) + strlen(value) + 2))
		return submit_next(m);
	if (m->field_count >= SUBMIT_HEADERS_MAX) {
		m->too_big = 1;
		return submit_next(m);
	}
	om_buf_init(&v);
	submit_append_lf(&v, value, strlen(value));
	if (v.data == NULL)
		om_buf_append_str(&v, "");
	m->fields = om_realloc(m->fields, (m->field_count + 1) * sizeof(*m->fields));
	f = &m->fields[m->field_count++];
	f->name = om_strdup(name);
	f->value = v.data;
	om_buf_printf(&m->msg, "%s:%s\n", f->name, f->value);
	return submit_next(m);
}

static sfsistat submit_eoh(SMFICTX *ctx)
{
	struct submit_msg *m = smfi_getpriv(ctx);

	if (m == NULL || m->login == NULL)
		return submit_lost(m);
	om_buf_append_str(&m->msg, "\n");
	m->body_started = 1;
	return submit_next(m);
}

static sfsistat submit_body(SMFICTX *ctx, unsigned char *chunk, size_t len)
{
	struct submit_msg *m = smfi_getpriv(ctx);
	const char *p = (const char *)chunk;

	if (m == NULL || m->login == NULL)
		return submit_lost(m);
	if (submit_over(m, len))
		return submit_next(m);
	/* a CR at the end of the last chunk and LF at the start of this */
	if (m->pending_cr) {
		m->pending_cr = 0;
		if (len > 0 && p[0] == '\n') {
			om_buf_append_str(&m->msg, "\n");
			p++;
			len--;
		} else {
			om_buf_append_str(&m->msg, "\r");
		}
	}
	if (len > 0 && p[len - 1] == '\r') {
		m->pending_cr = 1;
		len--;
	}
	submit_append_lf(&m->msg, p, len);
	return submit_next(m);
}

/* ---- the answer: header and body edits ---- */

/* Splits a LF message's header into fields (pointers into copies). */
static size_t submit_parse_fields(const char *msg, size_t len, struct submit_field **out,
				  const char **body_r)
{
	const char *p = msg, *end = msg + len, *colon, *q, *nl;
	struct submit_field *f = NULL;
	size_t n = 0;

	while (p < end && *p != '\n') {
		q = p;
		for (;;) {
			nl = memchr(q, '\n', (size_t)(end - q));
			q = nl != NULL ? nl + 1 : end;
			if (q >= end || (*q != ' ' && *q != '\t'))
				break;
		}
		colon = memchr(p, ':', (size_t)(q - p));
		if (colon != NULL) {
			f = om_realloc(f, (n + 1) * sizeof(*f));
			f[n].name = om_strndup(p, (size_t)(colon - p));
			/* the value without the field's own last LF */
			f[n].value = om_strndup(colon + 1, (size_t)(q - colon - 1) -
						(q[-1] == '\n' ? 1 : 0));
			n++;
		}
		p = q;
	}
	if (p < end && *p == '\n')
		p++;
	*body_r = p;
	*out = f;
	return n;
}

static void submit_fields_free(struct submit_field *f, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		free(f[i].name);
		free(f[i].value);
	}
	free(f);
}

/* The index (1-based) of the k-th field named name in list, 0 if fewer. */
static size_t submit_nth(const struct submit_field *list, size_t n, const char *name,
			 size_t k, size_t *at_r)
{
	size_t i, seen = 0;

	for (i = 0; i < n; i++) {
		if (strcasecmp(list[i].name, name) == 0 && ++seen == k) {
			*at_r = i;
			return seen;
		}
	}
	return 0;
}

static size_t submit_count(const struct submit_field *list, size_t n, const char *name)
{
	size_t i, c = 0;

	for (i = 0; i < n; i++)
		c += strcasecmp(list[i].name, name) == 0;
	return c;
}

/* The edits of one field name: the k-th old field changed to the k-th
   new, the extra old ones deleted (the last first), the extra new ones
   added.  0 or -1. */
static int submit_edit_name(SMFICTX *ctx, const struct submit_field *old, size_t nold,
			    const struct submit_field *new, size_t nnew, const char *name)
{
	size_t a = submit_count(old, nold, name), b = submit_count(new, nnew, name);
	size_t k, i = 0, j = 0;

	for (k = 1; k <= a && k <= b; k++) {
		(void)submit_nth(old, nold, name, k, &i);
		(void)submit_nth(new, nnew, name, k, &j);
		if (strcmp(old[i].value, new[j].value) != 0 &&
		    smfi_chgheader(ctx, (char *)name, (int)k, new[j].value) != MI_SUCCESS)
			return -1;
	}
	for (k = a; k > b; k--) {
		if (smfi_chgheader(ctx, (char *)name, (int)k, NULL) != MI_SUCCESS)
			return -1;
	}
	for (k = a + 1; k <= b; k++) {
		(void)submit_nth(new, nnew, name, k, &j);
		if (smfi_addheader(ctx, new[j].name, new[j].value) != MI_SUCCESS)
			return -1;
	}
	return 0;
}

/* 1 if name was met before index i in list (case-insensitive). */
static int submit_seen_before(const struct submit_field *list, size_t i, const char *name)
{
	size_t k;

	for (k = 0; k < i; k++) {
		if (strcasecmp(list[k].name, name) == 0)
			return 1;
	}
	return 0;
}

/* Replaces the body, LF made CRLF, in chunks.  0 or -1. */
static int submit_replace_body(SMFICTX *ctx, const char *body, size_t len)
{
	struct om_buf b;
	size_t i;
	int ret = 0;

	om_buf_init(&b);
	for (i = 0; i < len; i++) {
		if (body[i] == '\n' && (i == 0 || body[i - 1] != '\r'))
			om_buf_append(&b, "\r\n", 2);
		else
			om_buf_append(&b, body + i, 1);
	}
	if (b.len == 0)
		om_buf_append_str(&b, "");
	for (i = 0; i < b.len && ret == 0; i += 65536) {
		if (smfi_replacebody(ctx, (unsigned char *)b.data + i,
				     (int)(b.len - i > 65536 ? 65536 : b.len - i)) != MI_SUCCESS)
			ret = -1;
	}
	if (b.len == 0 && smfi_replacebody(ctx, (unsigned char *)"", 0) != MI_SUCCESS)
		ret = -1;
	om_buf_free(&b);
	return ret;
}

/* Gives Postfix the rewrite as edits of what it has.  0 or -1. */
static int submit_apply(SMFICTX *ctx, struct submit_msg *m, const struct om_buf *out)
{
	struct submit_field *old = NULL, *new = NULL;
	const char *old_body, *new_body;
	size_t nold, nnew, i;
	int ret = 0;

	nold = submit_parse_fields(m->msg.data, m->msg.len, &old, &old_body);
	nnew = submit_parse_fields(out->data, out->len, &new, &new_body);
	for (i = 0; i < nold && ret == 0; i++) {
		if (!submit_seen_before(old, i, old[i].name))
			ret = submit_edit_name(ctx, old, nold, new, nnew, old[i].name);
	}
	for (i = 0; i < nnew && ret == 0; i++) {
		if (!submit_seen_before(new, i, new[i].name) &&
		    submit_count(old, nold, new[i].name) == 0)
			ret = submit_edit_name(ctx, old, nold, new, nnew, new[i].name);
	}
	if (ret == 0 &&
	    ((size_t)(m->msg.data + m->msg.len - old_body) != (size_t)(out->data + out->len - new_body) ||
	     memcmp(old_body, new_body, (size_t)(out->data + out->len - new_body)) != 0))
		ret = submit_replace_body(ctx, new_body, (size_t)(out->data + out->len - new_body));
	submit_fields_free(old, nold);
	submit_fields_free(new, nnew);
	return ret;
}

/* smfi_setreply from a reply text "X.Y.Z text" (no '%': libmilter's
   format). */
static void submit_setreply(SMFICTX *ctx, int code, const char *text)
{
	char rcode[8], xcode[16], *msg, *p;
	const char *sp = strchr(text, ' ');

	snprintf(rcode, sizeof(rcode), "%d", code);
	if (sp != NULL && (size_t)(sp - text) < sizeof(xcode) && text[0] == rcode[0] &&
	    text[1] == '.') {
		snprintf(xcode, sizeof(xcode), "%.*s", (int)(sp - text), text);
		msg = om_strdup(sp + 1);
	} else {
		snprintf(xcode, sizeof(xcode), "%c.0.0", rcode[0]);
		msg = om_strdup(text);
	}
	for (p = msg; *p != '\0'; p++) {
		if (*p == '%' || (unsigned char)*p < 0x20)
			*p = '?';
	}
	if (smfi_setreply(ctx, rcode, xcode, msg) != MI_SUCCESS)
		om_log_warn("smfi_setreply failed: the MTA's own text is given");
	free(msg);
}

/* Forgets the old ZIP passwords once an hour (omamori-filter's sweep does
   it too: both are harmless together). */
static void submit_expire(void)
{
	time_t now = time(NULL);
	int run;

	pthread_mutex_lock(&submit.lock);
	run = now - submit.last_expire >= SUBMIT_EXPIRE_INTERVAL;
	if (run)
		submit.last_expire = now;
	pthread_mutex_unlock(&submit.lock);
	if (run)
		filter_spool_expire(&submit.d);
}

static sfsistat submit_eom(SMFICTX *ctx)
{
	struct submit_msg *m = smfi_getpriv(ctx);
	struct filter_envelope env;
	struct filter_reply reply = { 0, NULL };
	struct filter_worker *w;
	const char *qid = smfi_getsymval(ctx, "i");
	struct om_buf out;
	sfsistat ret;

	if (m == NULL || m->login == NULL)
		return SMFIS_TEMPFAIL;
	if (m->too_big || m->too_many) {
		om_log_warn("from=<%s>: over scan_max_size or %d recipients: refused",
			    m->sender, SUBMIT_RCPTS_MAX);
		submit_setreply(ctx, 552, "5.3.4 Message too big or too many recipients "
				"for the outbound check");
		submit_msg_reset(m);
		return SMFIS_REJECT;
	}
	if (m->pending_cr)
		om_buf_append_str(&m->msg, "\r");
	if (!m->body_started)
		om_buf_append_str(&m->msg, "\n");
	submit_expire();
	memset(&env, 0, sizeof(env));
	env.queue_id = (char *)(qid != NULL ? qid : "");
	env.xforward = (char *)"";
	env.sender = m->sender;
	env.rcpts = m->rcpts;
	env.rcpt_count = m->rcpt_count;
	env.body_8bit = 1;
	om_buf_init(&out);
	w = submit_worker_get();
	filter_inline(w, &env, m->msg.data, m->msg.len, &out, &reply);
	submit_worker_put(w);
	if (reply.code == 250) {
		ret = SMFIS_CONTINUE;
		if (out.len > 0 && submit_apply(ctx, m, &out) < 0) {
			om_log_error("%s: the MTA refused the edits: tempfailed",
				     qid != NULL ? qid : "-");
			submit_setreply(ctx, 451, "4.3.0 outbound check failed, try again later");
			ret = SMFIS_TEMPFAIL;
		}
	} else if (reply.code < 500 && submit_after_queue(m)) {
		/* cannot check now, and the message goes after the queue: left
		   unsealed to omamori-filter, which checks it all (the sender's
		   mail waits in the queue rather than in the mail program) */
		om_log_warn("%s: from=<%s>: not checked before the queue (%s): left to "
			    "omamori-filter", qid != NULL ? qid : "-", m->sender,
			    reply.text != NULL ? reply.text : "");
		ret = SMFIS_CONTINUE;
	} else {
		submit_setreply(ctx, reply.code, reply.text != NULL ? reply.text : "");
		ret = reply.code >= 500 ? SMFIS_REJECT : SMFIS_TEMPFAIL;
	}
	if (out.data != NULL)
		explicit_bzero(out.data, out.len);
	om_buf_free(&out);
	free(reply.text);
	submit_msg_reset(m);
	return ret;
}

static sfsistat submit_abort(SMFICTX *ctx)
{
	submit_msg_reset(smfi_getpriv(ctx));
	return SMFIS_CONTINUE;
}

static sfsistat submit_close(SMFICTX *ctx)
{
	struct submit_msg *m = smfi_getpriv(ctx);

	submit_msg_reset(m);
	if (m != NULL)
		om_buf_free(&m->msg);
	free(m);
	(void)smfi_setpriv(ctx, NULL);
	return SMFIS_CONTINUE;
}

static struct smfiDesc submit_desc = {
	.xxfi_name = "omamori-submit",
	.xxfi_version = SMFI_VERSION,
	.xxfi_flags = SMFIF_CHGHDRS | SMFIF_ADDHDRS | SMFIF_CHGBODY,
	.xxfi_envfrom = submit_envfrom,
	.xxfi_envrcpt = submit_envrcpt,
	.xxfi_header = submit_header,
	.xxfi_eoh = submit_eoh,
	.xxfi_body = submit_body,
	.xxfi_eom = submit_eom,
	.xxfi_abort = submit_abort,
	.xxfi_close = submit_close,
	.xxfi_negotiate = submit_negotiate,
};

/* ---- start ---- */

/* After the drop: omamori-filter's spool (ZIP passwords), ours to write. */
static int submit_open_spool(struct filter_daemon *d, char **error_r)
{
	const char *dir = d->config->filter_spool;
	struct stat st;

	d->spool_fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (d->spool_fd < 0) {
		*error_r = om_asprintf("filter_spool %s: %s", dir, strerror(errno));
		return -1;
	}
	if (fstat(d->spool_fd, &st) < 0 || st.st_uid != geteuid() ||
	    (st.st_mode & 077) != 0) {
		*error_r = om_asprintf("filter_spool %s: must be owned by %s and "
				       "mode 0700", dir, d->config->filter_user);
		return -1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	const char *config_path = OM_DEFAULT_CONFIG_PATH;
	struct om_config *config = NULL;
	struct om_store *store = NULL;
	char *error = NULL;
	int c, ret, i;

	while ((c = getopt(argc, argv, "c:fv")) != -1) {
		switch (c) {
		case 'c': config_path = optarg; break;
		case 'f': break;	/* always in the foreground (systemd) */
		case 'v': om_log_set_verbose(1); break;
		default:
			fprintf(stderr, "usage: omamori-submit [-c config] [-f] [-v]\n");
			return 2;
		}
	}
	if (om_config_load(config_path, &config, &error) < 0)
		om_fatal("%s", error);
	om_log_open("omamori-submit", strcmp(config->log, "syslog") == 0);
	om_config_log_warnings(config);
	submit.d.config = config;
	submit.d.listen_fd = submit.d.brake_fd = submit.d.spool_fd = -1;
	if (pthread_mutex_init(&submit.lock, NULL) != 0 ||
	    pthread_cond_init(&submit.freed, NULL) != 0)
		om_fatal("pthread init failed");
	for (i = 0; i < SUBMIT_POOL; i++) {
		submit.workers[i].daemon = &submit.d;
		submit.workers[i].id = (unsigned int)i;
		submit.workers[i].listen_fd = -1;
	}
	submit.last_expire = time(NULL);
	if (smfi_register(submit_desc) != MI_SUCCESS)
		om_fatal("smfi_register failed");
	if (om_milter_listen("submit_listen", config->submit_listen,
			     config->filter_socket_group, &error) < 0 ||
	    filter_link_setup(&submit.d, &error) < 0 ||
	    filter_zip_setup(&submit.d, &error) < 0 ||
	    om_daemon_drop_privileges_groups(config->filter_user, config->filter_group,
					     &error) < 0 ||
	    submit_open_spool(&submit.d, &error) < 0 ||
	    om_store_open(config->store_path, 0, config->store_busy_timeout_ms, &store,
			  &error) < 0)
		om_fatal("%s", error);
	om_store_close(&store);
	om_mime_global_init();
	om_log_info("ready: listen=%s reinject=%s spool=%s outbound_inline=%ld",
		    config->submit_listen, config->filter_reinject, config->filter_spool,
		    config->outbound_inline);
	if (config->outbound_inline == 0)
		om_log_warn("outbound_inline = 0: every message is passed untouched "
			    "(policyd FILTERs all outbound subscribers' mail)");
	ret = smfi_main();
	om_log_info("stopped");
	for (i = 0; i < SUBMIT_POOL; i++) {
		filter_smtp_conn_close(&submit.workers[i].reinject);
		om_store_close(&submit.workers[i].store);
	}
	close(submit.d.spool_fd);
	om_config_free(&config);
	return ret == MI_SUCCESS ? 0 : 1;
}
