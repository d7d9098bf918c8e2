/* digest.c - the quarantine digest (see digest.h): when one is due, the
 * message itself, and the run that claims, renders, saves and marks sent.
 *
 * When.  "daily HH:MM" is a slot in the domain's timezone: a digest is due
 * when the last one was made before the latest slot that has begun, so a
 * run in the slot's minute sends it and a run after a downtime catches up,
 * but one slot never gives two digests.  A mailbox that never had a digest
 * has no downtime to catch up on: it gets its first in the slot's minute.
 * Local time in another zone comes from setting TZ for the moment of the
 * computation and restoring it after (digest_zone_enter/_leave): libc has
 * no per-call zone, and the callers (omamorictl cron, the benchmark) are
 * single-threaded.  Never call these from a threaded program.
 *
 * The message.  Wording is a C table per language (the notices' templates
 * are one text each; a digest is a list in two renderings).  Everything
 * that came with a mail - subject, From, sender - goes through om_sanitize
 * (controls and bidi controls never pass) and is HTML-escaped in the HTML
 * part.  Bodies are base64 in lines of 76, the Subject an RFC 2047 encoded
 * word when it is not ASCII.  Message-ID is <omamori-digest-ID@HOST>: the
 * run after a crash finds a digest saved by the run that died by it.
 */
#include "quarantine/digest.h"
#include "quarantine/doveadm.h"
#include "quarantine/quarantine.h"
#include "store/settings.h"
#include "store/store.h"
#include "lib/log.h"
#include "lib/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define OM_DIGEST_MAX_LISTED 100	/* mails shown; the rest are counted */
#define OM_DIGEST_PENDING_AGE 300	/* seconds before a pending digest is
					   taken for one whose run died */
#define OM_DIGEST_TEXT_MAX 200		/* bytes of a subject, From, sender */
#define OM_DIGEST_REASONS_MAX 1000
#define OM_DIGEST_SEARCH_MAX 4096	/* doveadm search output kept */
#define OM_DIGEST_B64_LINE 76
#define OM_DIGEST_WORD_BYTES 39		/* UTF-8 bytes per encoded word: with
					   "Subject: " a line of 73 */

/* ---- local time in a zone ---- */

struct digest_zone {
	char *saved;		/* TZ before, NULL if it was unset */
	int switched;
};

/* Makes tz the zone of localtime_r/mktime until digest_zone_leave;
   "localtime" (or a name the system lacks) leaves the process's own. */
static void digest_zone_enter(struct digest_zone *z, const char *tz)
{
	const char *old = getenv("TZ");

	z->saved = NULL;
	z->switched = 0;
	if (tz == NULL || strcmp(tz, "localtime") == 0 ||
	    !om_settings_timezone_valid(tz))
		return;
	z->saved = old != NULL ? om_strdup(old) : NULL;
	if (setenv("TZ", tz, 1) < 0) {
		om_free(&z->saved);
		return;
	}
	z->switched = 1;
	tzset();
}

static void digest_zone_leave(struct digest_zone *z)
{
	if (!z->switched)
		return;
	if (z->saved != NULL)
		(void)setenv("TZ", z->saved, 1);
	else
		(void)unsetenv("TZ");
	tzset();
	om_free(&z->saved);
	z->switched = 0;
}

/* A local time as a number that orders like the calendar: minutes, with
   room for every day of a month.  Compared in local terms, an hour that
   occurs twice (DST ends) is still one slot. */
static long long digest_local_key(const struct tm *tm, int hour, int minute)
{
	return ((((long long)tm->tm_year * 13 + tm->tm_mon) * 32 + tm->tm_mday) *
		24 + hour) * 60 + minute;
}

/* Is the daily slot hour:minute due at now (in the zone entered)?  The
   latest slot begun is today's when the local time is past it, else
   yesterday's; due when the last digest was made before that slot (local
   calendar), or - never sent - in the slot's own minute. */
static int digest_daily_slot_due(time_t now, time_t last, int hour, int minute)
{
	struct tm tm, day, at;
	time_t noon;

	if (localtime_r(&now, &tm) == NULL)
		return 0;
	if (last == 0)
		return tm.tm_hour == hour && tm.tm_min == minute;
	day = tm;
	if (tm.tm_hour * 60 + tm.tm_min < hour * 60 + minute) {
		/* yesterday: from its noon, which no DST change moves */
		day.tm_mday -= 1;
		day.tm_hour = 12;
		day.tm_min = day.tm_sec = 0;
		day.tm_isdst = -1;
		if ((noon = mktime(&day)) == (time_t)-1 ||
		    localtime_r(&noon, &day) == NULL)
			return 0;
	}
	if (localtime_r(&last, &at) == NULL)
		return 0;
	return digest_local_key(&at, at.tm_hour, at.tm_min) <
		digest_local_key(&day, hour, minute);
}

static int digest_daily_due(const struct om_digest_schedule *s,
			    const char *tz, time_t now, time_t last)
{
	struct digest_zone z;
	int due;

	digest_zone_enter(&z, tz);
	due = digest_daily_slot_due(now, last, s->hour, s->minute);
	digest_zone_leave(&z);
	return due;
}

int om_digest_due(const char *schedule, const char *tz, time_t now,
		  time_t last, long known, int known_on, int force)
{
	struct om_digest_schedule s;

	if (schedule == NULL || om_settings_digest_parse(schedule, &s) < 0)
		(void)om_settings_digest_parse(OM_DEFAULT_DIGEST, &s);
	if (known_on && known > 0)
		return 1;
	switch (s.kind) {
	case OM_DIGEST_OFF:
		return 0;
	case OM_DIGEST_EVERY:
		return force || last == 0 ||
			now - last >= (time_t)s.every_hours * 3600;
	case OM_DIGEST_DAILY:
		return force || digest_daily_due(&s, tz, now, last);
	}
	return 0;
}

/* ---- wording ---- */

struct digest_words {
	const char *lang;
	const char *subject_one, *subject_many;	/* {n} */
	const char *title;
	const char *intro;		/* {n} {since} {mailbox} */
	const char *kept;
	const char *received, *sender, *from, *subject, *why;
	const char *no_subject, *null_sender;
	const char *release, *allow, *open_box;
	const char *admin_only;		/* an admin-only mail's note */
	const char *more;		/* {n} */
	const char *retention;		/* {days} */
	const char *caution;
	const char *support;		/* {support} */
	const char *date_format;
};

static const struct digest_words digest_ja = {
	"ja",
	"【迷惑メール隔離のお知らせ】{n}件",
	"【迷惑メール隔離のお知らせ】{n}件",
	"迷惑メール隔離のお知らせ",
	"{mailbox} 宛てに {since} 以降に届いたメールのうち、"
	"迷惑メールや危険なメールの疑いがある {n} 件を隔離しました。",
	"隔離フォルダに以下のメールを保管しています。"
	"必要なメールは「受信箱に戻す」から受信箱に戻せます。",
	"受信日時", "送信元（エンベロープ）", "差出人", "件名", "隔離の理由",
	"(件名なし)", "(なし)",
	"受信箱に戻す", "差出人を許可して受信箱に戻す", "隔離フォルダを開く",
	"管理者のみが受信箱に戻せます",
	"ほか {n} 件は隔離フォルダでご確認ください。",
	"隔離されたメールは、受信から {days} 日後に自動的に削除されます。",
	"心当たりのないメールは受信箱に戻さず、そのままにしてください。"
	"このお知らせは自動で送信しています。",
	"お問い合わせ: {support}",
	"%Y/%m/%d %H:%M",
};

static const struct digest_words digest_en = {
	"en",
	"Quarantine digest: {n} message",
	"Quarantine digest: {n} messages",
	"Quarantine digest",
	"Of the mail for {mailbox} that arrived since {since}, "
	"{n} looked like spam or dangerous mail and was quarantined.",
	"These messages are kept in your Quarantine folder. "
	"Release the ones you need to your Inbox.",
	"Received", "Envelope sender", "From", "Subject", "Why",
	"(no subject)", "(none)",
	"Release to Inbox", "Release and allow this From address",
	"Open the Quarantine folder",
	"Only your administrator can release this mail",
	"{n} more are in your Quarantine folder.",
	"Quarantined mail is deleted {days} days after it arrived.",
	"If you do not recognise a message, leave it where it is. "
	"This notice was sent automatically.",
	"Support: {support}",
	"%Y-%m-%d %H:%M",
};

static const struct digest_words *digest_words_of(const char *lang)
{
	return lang != NULL && strcmp(lang, "en") == 0 ? &digest_en : &digest_ja;
}

/* Appends text with each {name} of vars (name, value pairs, NULL-ended)
   replaced by its value; an unknown {name} stays as it is. */
static void digest_expand(struct om_buf *out, const char *text,
			  const char *const *vars)
{
	const char *p = text, *open, *close;
	size_t i, len;
	int done;

	while ((open = strchr(p, '{')) != NULL &&
	       (close = strchr(open, '}')) != NULL) {
		om_buf_append(out, p, (size_t)(open - p));
		len = (size_t)(close - open - 1);
		done = 0;
		for (i = 0; vars[i] != NULL && vars[i + 1] != NULL; i += 2) {
			if (strlen(vars[i]) == len &&
			    strncmp(vars[i], open + 1, len) == 0) {
				om_buf_append_str(out, vars[i + 1]);
				done = 1;
				break;
			}
		}
		if (!done)
			om_buf_append(out, open, (size_t)(close + 1 - open));
		p = close + 1;
	}
	om_buf_append_str(out, p);
}

/* ---- encodings ---- */

static const char digest_b64[] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* Appends data in base64, without line breaks (48 bytes at a time, each
   group written in one append). */
static void digest_base64(struct om_buf *out, const unsigned char *p, size_t len)
{
	char q[64];
	size_t i, n;

	while (len >= 3) {
		for (n = 0, i = 0; i + 2 < len && n < sizeof(q); i += 3, n += 4) {
			q[n] = digest_b64[p[i] >> 2];
			q[n + 1] = digest_b64[((p[i] & 3) << 4) | (p[i + 1] >> 4)];
			q[n + 2] = digest_b64[((p[i + 1] & 15) << 2) | (p[i + 2] >> 6)];
			q[n + 3] = digest_b64[p[i + 2] & 63];
		}
		om_buf_append(out, q, n);
		p += i;
		len -= i;
	}
	if (len > 0) {
		q[0] = digest_b64[p[0] >> 2];
		if (len > 1) {
			q[1] = digest_b64[((p[0] & 3) << 4) | (p[1] >> 4)];
			q[2] = digest_b64[(p[1] & 15) << 2];
		} else {
			q[1] = digest_b64[(p[0] & 3) << 4];
			q[2] = '=';
		}
		q[3] = '=';
		om_buf_append(out, q, 4);
	}
}

/* Appends text in base64 lines of at most 76 characters. */
static void digest_base64_body(struct om_buf *out, const char *text)
{
	size_t len = strlen(text), i, n;

	for (i = 0; i < len; i += n) {
		n = len - i < 57 ? len - i : 57;	/* 57 bytes: 76 chars */
		digest_base64(out, (const unsigned char *)text + i, n);
		om_buf_append(out, "\n", 1);
	}
}

static int digest_is_ascii(const char *s)
{
	for (; *s != '\0'; s++) {
		if ((unsigned char)*s >= 0x80 || (unsigned char)*s < 0x20)
			return 0;
	}
	return 1;
}

/* Appends text as RFC 2047 encoded words (UTF-8, B), folded between
   words, each cut at a character boundary; plain when ASCII. */
static void digest_encoded_words(struct om_buf *out, const char *text)
{
	size_t len = strlen(text), i = 0, n;

	if (digest_is_ascii(text)) {
		om_buf_append_str(out, text);
		return;
	}
	while (i < len) {
		n = len - i < OM_DIGEST_WORD_BYTES ? len - i : OM_DIGEST_WORD_BYTES;
		while (n > 0 && i + n < len &&
		       ((unsigned char)text[i + n] & 0xc0) == 0x80)
			n--;		/* not inside a character */
		if (n == 0)
			n = 1;
		if (i > 0)
			om_buf_append_str(out, "\n ");
		om_buf_append_str(out, "=?UTF-8?B?");
		digest_base64(out, (const unsigned char *)text + i, n);
		om_buf_append_str(out, "?=");
		i += n;
	}
}

/* The two encoders, for the monthly report's mail (quarantine/report.c) */
void om_digest_base64_body(struct om_buf *out, const char *text)
{
	digest_base64_body(out, text);
}

void om_digest_encoded_words(struct om_buf *out, const char *text)
{
	digest_encoded_words(out, text);
}

static void digest_html_escape(struct om_buf *out, const char *s)
{
	size_t run;

	for (;;) {
		run = strcspn(s, "&<>\"'\n");
		om_buf_append(out, s, run);
		s += run;
		switch (*s) {
		case '\0': return;
		case '&': om_buf_append_str(out, "&amp;"); break;
		case '<': om_buf_append_str(out, "&lt;"); break;
		case '>': om_buf_append_str(out, "&gt;"); break;
		case '"': om_buf_append_str(out, "&quot;"); break;
		case '\'': om_buf_append_str(out, "&#39;"); break;
		default: om_buf_append_str(out, "<br>"); break;	/* '\n' */
		}
		s++;
	}
}

/* ---- the rows a digest lists ---- */

struct digest_item {
	char *id, *sender, *from, *subject, *why;
	char *when;		/* received, in the domain's zone */
	char *token;		/* the mail's link token */
	long long received;
	int admin_only;		/* no release links: the note instead */
};

struct digest_items {
	const char *lang;
	struct digest_item *v;
	size_t n;		/* kept (at most OM_DIGEST_MAX_LISTED) */
	long total;		/* listed by the digest */
	long long oldest;
};

/* A sender's text for the digest: sanitised, its URLs defanged. */
static char *digest_defanged(const char *text)
{
	char *clean = om_sanitize(text, OM_DIGEST_TEXT_MAX), *out;

	out = om_text_defang(clean);
	free(clean);
	return out;
}

static void digest_items_cb(void *context, const struct om_store_quarantined *q)
{
	struct digest_items *items = context;
	struct digest_item *it;
	char *why;

	items->total++;
	if (items->oldest == 0 || q->received < items->oldest)
		items->oldest = q->received;
	if (items->n >= OM_DIGEST_MAX_LISTED)
		return;
	if (items->v == NULL)
		items->v = om_calloc(OM_DIGEST_MAX_LISTED, sizeof(*items->v));
	it = &items->v[items->n++];
	it->id = om_strdup(q->id);
	it->sender = om_sanitize(q->sender, OM_DIGEST_TEXT_MAX);
	/* a sender's URLs in the From name or the subject would be links in
	   omamori's own mail, beside its release links: written defanged */
	it->from = digest_defanged(q->from);
	it->subject = digest_defanged(q->subject);
	it->received = q->received;
	why = om_quarantine_reasons_text(q->reasons, q->score, items->lang);
	it->why = om_sanitize_text(why, OM_DIGEST_REASONS_MAX);
	it->admin_only = q->admin_only;
	free(why);
}

static void digest_items_free(struct digest_items *items)
{
	size_t i;

	for (i = 0; i < items->n; i++) {
		om_free(&items->v[i].id);
		om_free(&items->v[i].sender);
		om_free(&items->v[i].from);
		om_free(&items->v[i].subject);
		om_free(&items->v[i].why);
		om_free(&items->v[i].when);
		om_free(&items->v[i].token);
	}
	om_free(&items->v);
	items->n = 0;
}

/* ---- one digest's message ---- */

struct digest_render {
	const struct om_digest_env *env;
	const struct digest_words *w;
	const char *mailbox;
	long long digest;
	long days;		/* the domain's quarantine retention */
	char *tz;
	char *from;		/* the notice address */
	const char *host;	/* its domain, for the Message-ID */
	char *box_token;
	char *since, *date;	/* formatted in tz */
	struct digest_items items;
};

static void digest_render_free(struct digest_render *r)
{
	digest_items_free(&r->items);
	om_free(&r->tz);
	om_free(&r->from);
	om_free(&r->box_token);
	om_free(&r->since);
	om_free(&r->date);
}

/* 1 if s can stand in a header as it is: printable ASCII, no space. */
static int digest_header_safe(const char *s)
{
	if (*s == '\0')
		return 0;
	for (; *s != '\0'; s++) {
		if ((unsigned char)*s <= 0x20 || (unsigned char)*s >= 0x7f)
			return 0;
	}
	return 1;
}

char *om_digest_sender(const struct om_config *config, const char *mailbox,
		       char **error_r)
{
	const char *at = strrchr(mailbox, '@');
	char *from;

	if (strchr(config->notice_from, '@') != NULL || at == NULL)
		from = om_strdup(config->notice_from);
	else
		from = om_asprintf("%s%s", config->notice_from, at);
	if (!digest_header_safe(from) || !digest_header_safe(mailbox)) {
		free(from);
		*error_r = om_strdup("the mailbox or notice_from cannot stand "
				     "in a header");
		return NULL;
	}
	return from;
}

/* The domain's settings the message needs: retention and timezone. */
static int digest_render_settings(struct digest_render *r, char **error_r)
{
	struct om_store *store = r->env->store;
	char *value;

	value = om_settings_domain_value(store, r->mailbox,
					 OM_SETTING_QUARANTINE_RETENTION, "", error_r);
	if (value == NULL)
		return -1;
	r->days = om_settings_number(value, OM_DEFAULT_QUARANTINE_RETENTION);
	free(value);
	if (r->days < 1 || r->days > 14)
		r->days = OM_DEFAULT_QUARANTINE_RETENTION;
	r->tz = om_settings_domain_value(store, r->mailbox, OM_SETTING_TIMEZONE,
					 "localtime", error_r);
	return r->tz == NULL ? -1 : 0;
}

/* The From address: notice_from, with the mailbox's domain when it has
   none (as the notices of the scanner do). */
static int digest_render_from(struct digest_render *r, char **error_r)
{
	const char *at;

	r->from = om_digest_sender(r->env->config, r->mailbox, error_r);
	if (r->from == NULL)
		return -1;
	at = strrchr(r->from, '@');
	r->host = at != NULL && at[1] != '\0' ? at + 1 : "localhost";
	return 0;
}

/* A token for mailbox: action, message, expires; NULL when it cannot be
   made (a field too long or not text). */
static char *digest_token(const struct digest_render *r, const char *action,
			  const char *message, time_t expires)
{
	struct om_token_claims c;

	memset(&c, 0, sizeof(c));
	if (om_strlcpy(c.mailbox, r->mailbox, sizeof(c.mailbox)) < 0 ||
	    om_strlcpy(c.action, action, sizeof(c.action)) < 0 ||
	    om_strlcpy(c.message, message, sizeof(c.message)) < 0)
		return NULL;
	c.expires = expires;
	return om_token_make(r->env->keys, &c);
}

static int digest_render_tokens(struct digest_render *r, char **error_r)
{
	time_t keep = (time_t)r->days * 86400;
	struct digest_item *it;
	size_t i;

	r->box_token = digest_token(r, "box", "", r->env->now + keep);
	for (i = 0; i < r->items.n && r->box_token != NULL; i++) {
		it = &r->items.v[i];
		/* the mail leaves Quarantine at received + retention anyway */
		it->token = digest_token(r, "mail", it->id,
					 (time_t)it->received + keep);
		if (it->token == NULL)
			break;
	}
	if (r->box_token == NULL || i < r->items.n) {
		*error_r = om_asprintf("cannot make a link token for %s",
				       r->mailbox);
		return -1;
	}
	return 0;
}

static char *digest_time_text(time_t when, const char *format)
{
	char text[64];
	struct tm tm;

	if (localtime_r(&when, &tm) == NULL ||
	    strftime(text, sizeof(text), format, &tm) == 0)
		return om_strdup("?");
	return om_strdup(text);
}

/* An RFC 5322 date (English names whatever the locale). */
char *om_digest_date_header(time_t when)
{
	static const char *const days[] = {
		"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"
	};
	static const char *const months[] = {
		"Jan", "Feb", "Mar", "Apr", "May", "Jun",
		"Jul", "Aug", "Sep", "Oct", "Nov", "Dec"
	};
	char zone[16];
	struct tm tm;

	if (localtime_r(&when, &tm) == NULL || tm.tm_wday < 0 || tm.tm_wday > 6 ||
	    tm.tm_mon < 0 || tm.tm_mon > 11 ||
	    strftime(zone, sizeof(zone), "%z", &tm) == 0)
		return om_strdup("Thu, 01 Jan 1970 00:00:00 +0000");
	return om_asprintf("%s, %02d %s %d %02d:%02d:%02d %s", days[tm.tm_wday],
			   tm.tm_mday, months[tm.tm_mon], tm.tm_year + 1900,
			   tm.tm_hour, tm.tm_min, tm.tm_sec, zone);
}

/* Every date of the message, in the domain's zone (one switch). */
static void digest_render_dates(struct digest_render *r)
{
	struct digest_zone z;
	size_t i;

	digest_zone_enter(&z, r->tz);
	for (i = 0; i < r->items.n; i++)
		r->items.v[i].when = digest_time_text((time_t)r->items.v[i].received,
						      r->w->date_format);
	r->since = digest_time_text((time_t)(r->items.oldest != 0 ?
					     r->items.oldest : r->env->now),
				    r->w->date_format);
	r->date = om_digest_date_header(r->env->now);
	digest_zone_leave(&z);
}

/* web_url + path, with the "/" between them once. */
static char *digest_link(const struct digest_render *r, const char *path,
			 const char *token, const char *query)
{
	const char *base = r->env->config->web_url;
	size_t len = strlen(base);

	return om_asprintf("%s%s%s%s%s", base,
			   len > 0 && base[len - 1] == '/' ? "" : "/", path,
			   token, query);
}

static void digest_expand_n(struct om_buf *out, const struct digest_render *r,
			    const char *text, long n)
{
	char num[24], days[24];
	const char *support = r->env->config->brand_support;
	const char *vars[] = {
		"n", num, "since", r->since, "mailbox", r->mailbox,
		"days", days, "support", support, NULL, NULL
	};

	(void)snprintf(num, sizeof(num), "%ld", n);
	(void)snprintf(days, sizeof(days), "%ld", r->days);
	digest_expand(out, text, vars);
}

/* ---- the text part ---- */

static void digest_text_item(struct om_buf *b, const struct digest_render *r,
			     const struct digest_item *it, size_t nr)
{
	const struct digest_words *w = r->w;
	char *release = digest_link(r, "m/", it->token, "?op=release");
	char *allow = digest_link(r, "m/", it->token, "?op=allow");
	const char *p, *eol;

	om_buf_printf(b, "[%zu] %s: %s\n", nr, w->received, it->when);
	om_buf_printf(b, "    %s: %s\n", w->from, *it->from != '\0' ? it->from :
		      w->null_sender);
	om_buf_printf(b, "    %s: %s\n", w->sender, *it->sender != '\0' ?
		      it->sender : w->null_sender);
	om_buf_printf(b, "    %s: %s\n", w->subject, *it->subject != '\0' ?
		      it->subject : w->no_subject);
	om_buf_printf(b, "    %s:\n", w->why);
	for (p = it->why; *p != '\0'; p = *eol != '\0' ? eol + 1 : eol) {
		eol = strchr(p, '\n');
		if (eol == NULL)
			eol = p + strlen(p);
		if (eol > p)
			om_buf_printf(b, "      - %.*s\n", (int)(eol - p), p);
	}
	if (it->admin_only) {
		om_buf_printf(b, "    %s\n\n", w->admin_only);
	} else {
		om_buf_printf(b, "    %s:\n      %s\n", w->release, release);
		om_buf_printf(b, "    %s:\n      %s\n\n", w->allow, allow);
	}
	free(release);
	free(allow);
}

static char *digest_text(const struct digest_render *r)
{
	const struct om_config *config = r->env->config;
	const struct digest_words *w = r->w;
	char *box = digest_link(r, "q/", r->box_token, "");
	struct om_buf b;
	size_t i;

	om_buf_init(&b);
	om_buf_printf(&b, "%s %s\n\n", config->brand_name, w->title);
	digest_expand_n(&b, r, w->intro, r->items.total);
	om_buf_append_str(&b, "\n");
	om_buf_append_str(&b, w->kept);
	om_buf_append_str(&b, "\n\n");
	for (i = 0; i < r->items.n; i++)
		digest_text_item(&b, r, &r->items.v[i], i + 1);
	if (r->items.total > (long)r->items.n) {
		digest_expand_n(&b, r, w->more, r->items.total - (long)r->items.n);
		om_buf_append_str(&b, "\n\n");
	}
	om_buf_printf(&b, "%s:\n  %s\n\n", w->open_box, box);
	digest_expand_n(&b, r, w->retention, 0);
	om_buf_append_str(&b, "\n");
	om_buf_append_str(&b, w->caution);
	om_buf_append_str(&b, "\n");
	if (config->brand_support[0] != '\0') {
		om_buf_printf(&b, "\n%s\n", config->brand_name);
		digest_expand_n(&b, r, w->support, 0);
		om_buf_append_str(&b, "\n");
	}
	free(box);
	return om_buf_steal(&b, NULL);
}

/* ---- the HTML part ---- */

static void digest_html_text(struct om_buf *b, const struct digest_render *r,
			     const char *text, long n)
{
	struct om_buf t;

	om_buf_init(&t);
	digest_expand_n(&t, r, text, n);
	digest_html_escape(b, t.data != NULL ? t.data : "");
	om_buf_free(&t);
}

static void digest_html_row(struct om_buf *b, const char *label,
			    const char *value)
{
	om_buf_append_str(b, "<tr><th style=\"text-align:left;padding-right:1em;"
			  "vertical-align:top\">");
	digest_html_escape(b, label);
	om_buf_append_str(b, "</th><td>");
	digest_html_escape(b, value);
	om_buf_append_str(b, "</td></tr>\n");
}

static void digest_html_link(struct om_buf *b, const char *url,
			     const char *label)
{
	om_buf_append_str(b, "<a href=\"");
	digest_html_escape(b, url);
	om_buf_append_str(b, "\">");
	digest_html_escape(b, label);
	om_buf_append_str(b, "</a>");
}

static void digest_html_item(struct om_buf *b, const struct digest_render *r,
			     const struct digest_item *it)
{
	const struct digest_words *w = r->w;
	char *release = digest_link(r, "m/", it->token, "?op=release");
	char *allow = digest_link(r, "m/", it->token, "?op=allow");

	om_buf_append_str(b, "<table style=\"border-top:1px solid #ccc;"
			  "margin:0.5em 0;padding-top:0.5em\">\n");
	digest_html_row(b, w->received, it->when);
	digest_html_row(b, w->from, *it->from != '\0' ? it->from : w->null_sender);
	digest_html_row(b, w->sender, *it->sender != '\0' ? it->sender :
			w->null_sender);
	digest_html_row(b, w->subject, *it->subject != '\0' ? it->subject :
			w->no_subject);
	digest_html_row(b, w->why, it->why);
	om_buf_append_str(b, "<tr><td></td><td>");
	if (it->admin_only) {
		digest_html_escape(b, w->admin_only);
	} else {
		digest_html_link(b, release, w->release);
		om_buf_append_str(b, " &nbsp;|&nbsp; ");
		digest_html_link(b, allow, w->allow);
	}
	om_buf_append_str(b, "</td></tr>\n</table>\n");
	free(release);
	free(allow);
}

static char *digest_html(const struct digest_render *r)
{
	const struct om_config *config = r->env->config;
	const struct digest_words *w = r->w;
	char *box = digest_link(r, "q/", r->box_token, "");
	struct om_buf b;
	size_t i;

	om_buf_init(&b);
	om_buf_printf(&b, "<!DOCTYPE html>\n<html lang=\"%s\"><head>"
		      "<meta charset=\"utf-8\"><title>", w->lang);
	digest_html_escape(&b, w->title);
	om_buf_append_str(&b, "</title></head>\n<body style=\"font-family:"
			  "sans-serif\">\n");
	/* the ISP's logo, served by omamori-web (a mail client loads it only
	   when the user lets it: the text says everything without it) */
	if (config->brand_logo[0] != '\0') {
		om_buf_append_str(&b, "<p><img src=\"");
		digest_html_escape(&b, config->web_url);
		om_buf_append_str(&b, "logo\" alt=\"\" style=\"max-height:3em\"></p>\n");
	}
	om_buf_append_str(&b, "<h2>");
	digest_html_escape(&b, config->brand_name);
	om_buf_append_str(&b, " ");
	digest_html_escape(&b, w->title);
	om_buf_append_str(&b, "</h2>\n<p>");
	digest_html_text(&b, r, w->intro, r->items.total);
	om_buf_append_str(&b, "<br>\n");
	digest_html_escape(&b, w->kept);
	om_buf_append_str(&b, "</p>\n");
	for (i = 0; i < r->items.n; i++)
		digest_html_item(&b, r, &r->items.v[i]);
	if (r->items.total > (long)r->items.n) {
		om_buf_append_str(&b, "<p>");
		digest_html_text(&b, r, w->more, r->items.total - (long)r->items.n);
		om_buf_append_str(&b, "</p>\n");
	}
	om_buf_append_str(&b, "<p>");
	digest_html_link(&b, box, w->open_box);
	om_buf_append_str(&b, "</p>\n<p style=\"color:#555\">");
	digest_html_text(&b, r, w->retention, 0);
	om_buf_append_str(&b, "<br>\n");
	digest_html_escape(&b, w->caution);
	if (config->brand_support[0] != '\0') {
		om_buf_append_str(&b, "<br>\n");
		digest_html_escape(&b, config->brand_name);
		om_buf_append_str(&b, " ");
		digest_html_text(&b, r, w->support, 0);
	}
	om_buf_append_str(&b, "</p>\n</body></html>\n");
	free(box);
	return om_buf_steal(&b, NULL);
}

/* ---- the message ---- */

static void digest_header_from(struct om_buf *b, const struct digest_render *r)
{
	const char *name = r->env->config->brand_name;
	const char *p;
	int plain = *name != '\0';

	for (p = name; *p != '\0' && plain; p++) {
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		      (*p >= '0' && *p <= '9') || *p == ' ' || *p == '-'))
			plain = 0;
	}
	om_buf_append_str(b, "From: ");
	if (*name != '\0') {
		if (plain)
			om_buf_append_str(b, name);
		else
			digest_encoded_words(b, name);
		om_buf_append_str(b, plain ? " " : "\n ");
	}
	om_buf_printf(b, "<%s>\n", r->from);
}

static char *digest_message(const struct digest_render *r)
{
	char *text = digest_text(r), *html = digest_html(r);
	struct om_buf b, subject;

	om_buf_init(&b);
	om_buf_init(&subject);
	digest_expand_n(&subject, r, r->items.total == 1 ? r->w->subject_one :
			r->w->subject_many, r->items.total);
	digest_header_from(&b, r);
	om_buf_printf(&b, "To: <%s>\n", r->mailbox);
	om_buf_append_str(&b, "Subject: ");
	digest_encoded_words(&b, subject.data);
	om_buf_printf(&b, "\nDate: %s\n", r->date);
	om_buf_printf(&b, "Message-ID: <omamori-digest-%lld@%s>\n", r->digest,
		      r->host);
	om_buf_printf(&b, "X-Omamori-Digest: %lld\n", r->digest);
	om_buf_printf(&b, "Auto-Submitted: auto-generated\n"
		      "Content-Language: %s\nMIME-Version: 1.0\n"
		      "Content-Type: multipart/alternative;\n"
		      " boundary=\"=_omamori-digest-%lld\"\n\n", r->w->lang,
		      r->digest);
	/* "=_" never occurs in base64, so the bodies cannot hold the boundary */
	om_buf_printf(&b, "--=_omamori-digest-%lld\n"
		      "Content-Type: text/plain; charset=utf-8\n"
		      "Content-Transfer-Encoding: base64\n\n", r->digest);
	digest_base64_body(&b, text);
	om_buf_printf(&b, "\n--=_omamori-digest-%lld\n"
		      "Content-Type: text/html; charset=utf-8\n"
		      "Content-Transfer-Encoding: base64\n\n", r->digest);
	digest_base64_body(&b, html);
	om_buf_printf(&b, "\n--=_omamori-digest-%lld--\n", r->digest);
	om_buf_free(&subject);
	free(text);
	free(html);
	return om_buf_steal(&b, NULL);
}

/* Renders digest; *total_r is how many rows it lists (0: they were all
   released or deleted since the claim). */
static char *digest_render_count(const struct om_digest_env *env,
				 long long digest, const char *mailbox,
				 const char *lang, long *total_r, char **error_r)
{
	struct digest_render r;
	char *message = NULL;

	memset(&r, 0, sizeof(r));
	r.env = env;
	r.w = digest_words_of(lang);
	r.mailbox = mailbox;
	r.digest = digest;
	r.items.lang = r.w->lang;
	if (digest_render_from(&r, error_r) == 0 &&
	    digest_render_settings(&r, error_r) == 0 &&
	    om_store_digest_items(env->store, digest, digest_items_cb, &r.items,
				  error_r) >= 0 &&
	    digest_render_tokens(&r, error_r) == 0) {
		digest_render_dates(&r);
		message = digest_message(&r);
		*total_r = r.items.total;
	}
	digest_render_free(&r);
	return message;
}

char *om_digest_render(const struct om_digest_env *env, long long digest,
		       const char *mailbox, const char *lang, char **error_r)
{
	long total = 0;

	return digest_render_count(env, digest, mailbox, lang, &total, error_r);
}

/* ---- saving through doveadm ---- */

/* The Message-ID's unique part, searched as a substring of the header:
   it finds the digest whatever notice_from was when it was made. */
static char *digest_msgid_part(long long digest)
{
	return om_asprintf("<omamori-digest-%lld@", digest);
}

/* Is digest in mailbox's INBOX already?  1, 0, or -1. */
static int digest_find(const struct om_digest_env *env, const char *mailbox,
		       long long digest, char **error_r)
{
	char *part = digest_msgid_part(digest), *output = NULL;
	const char *args[] = {
		"search", "-u", mailbox, "mailbox", "INBOX",
		"header", "Message-ID", part, NULL
	};
	int ret;

	ret = om_doveadm_run(env->config, 1, args, NULL, 0, &output,
			     OM_DIGEST_SEARCH_MAX, error_r);
	free(part);
	if (ret != 0) {
		if (ret > 0 && *error_r == NULL)
			*error_r = om_asprintf("doveadm search exited %d", ret);
		free(output);
		return -1;
	}
	ret = output != NULL && output[strspn(output, " \t\r\n")] != '\0';
	free(output);
	return ret;
}

int om_digest_save_inbox(const struct om_config *config, const char *mailbox,
			 const char *message, char **error_r)
{
	const char *args[] = { "save", "-u", mailbox, "-m", "INBOX", NULL };
	int ret;

	ret = om_doveadm_run(config, 1, args, message, strlen(message),
			     NULL, 0, error_r);
	if (ret == 0)
		return 0;
	if (ret > 0 && *error_r == NULL)
		*error_r = om_asprintf("doveadm save exited %d", ret);
	return -1;
}

/* The mailbox's language: its domain's setting, else the site's. */
static char *digest_lang(const struct om_digest_env *env, const char *mailbox,
			 char **error_r)
{
	return om_settings_domain_value(env->store, mailbox, "language",
					env->config->default_language, error_r);
}

/* Renders and saves a claimed digest, then marks it sent.  find: look in
   INBOX first (a pending digest whose run died).  1 saved, 0 nothing to
   save (marked sent all the same), -1 error (left pending). */
static int digest_deliver(const struct om_digest_env *env, long long digest,
			  const char *mailbox, int find, char **error_r)
{
	char *lang, *message = NULL;
	long total = 0;
	int found = 0, ret = 0;

	if (find && (found = digest_find(env, mailbox, digest, error_r)) < 0)
		return -1;
	if (!found) {
		if ((lang = digest_lang(env, mailbox, error_r)) == NULL)
			return -1;
		message = digest_render_count(env, digest, mailbox, lang, &total,
					      error_r);
		free(lang);
		if (message == NULL)
			return -1;
		if (total > 0 && om_digest_save_inbox(env->config, mailbox, message,
						      error_r) < 0) {
			free(message);
			return -1;
		}
		ret = total > 0;
		free(message);
	}
	if (om_store_digest_sent(env->store, digest, (long long)env->now,
				 error_r) < 0)
		return -1;
	return ret;
}

/* ---- the run ---- */

struct digest_todo {
	long long id;		/* pending digests */
	char *mailbox;
	long count, known;	/* due mailboxes */
};

struct digest_todos {
	struct digest_todo *v;
	size_t n, cap;
};

static struct digest_todo *digest_todo_add(struct digest_todos *t,
					   const char *mailbox)
{
	struct digest_todo *todo;

	if (t->n == t->cap) {
		t->cap = t->cap == 0 ? 64 : t->cap * 2;
		t->v = om_realloc(t->v, t->cap * sizeof(*t->v));
	}
	todo = &t->v[t->n++];
	memset(todo, 0, sizeof(*todo));
	todo->mailbox = om_strdup(mailbox);
	return todo;
}

static void digest_todos_free(struct digest_todos *t)
{
	size_t i;

	for (i = 0; i < t->n; i++)
		free(t->v[i].mailbox);
	om_free(&t->v);
	t->n = t->cap = 0;
}

static void digest_pending_cb(void *context, const struct om_store_digest *d)
{
	digest_todo_add(context, d->mailbox)->id = d->id;
}

static void digest_due_cb(void *context, const char *mailbox, long count,
			  long known)
{
	struct digest_todo *todo = digest_todo_add(context, mailbox);

	todo->count = count;
	todo->known = known;
}

/* Keeps the first error of the run, logs every one. */
static void digest_failed(char **first_r, const char *mailbox, char *error)
{
	char *clean = om_sanitize(mailbox, 320);

	om_log_error("digest: mailbox=%s: %s", clean,
		     error != NULL ? error : "failed");
	if (*first_r == NULL)
		*first_r = om_asprintf("digest for %s: %s", clean,
				       error != NULL ? error : "failed");
	free(clean);
	free(error);
}

/* Finishes the digests a run that died left pending. */
static int digest_finish_pending(const struct om_digest_env *env, long *sent_r,
				 char **first_r)
{
	struct digest_todos t;
	char *error = NULL;
	size_t i;
	int ret;

	memset(&t, 0, sizeof(t));
	if (om_store_digest_pending(env->store, (long long)env->now -
				    OM_DIGEST_PENDING_AGE, digest_pending_cb,
				    &t, &error) < 0) {
		digest_failed(first_r, "(pending)", error);
		digest_todos_free(&t);
		return -1;
	}
	for (i = 0; i < t.n; i++) {
		error = NULL;
		ret = digest_deliver(env, t.v[i].id, t.v[i].mailbox, 1, &error);
		if (ret < 0)
			digest_failed(first_r, t.v[i].mailbox, error);
		else
			*sent_r += ret;
	}
	digest_todos_free(&t);
	return 0;
}

/* Is mailbox's digest due?  1, 0, or -1 with *error_r. */
static int digest_mailbox_due(const struct om_digest_env *env,
			      const struct digest_todo *todo, char **error_r)
{
	char *schedule, *tz = NULL, *known_on = NULL;
	long long last = 0;
	int ret = -1;

	schedule = om_settings_domain_value(env->store, todo->mailbox,
					    OM_SETTING_DIGEST, OM_DEFAULT_DIGEST,
					    error_r);
	if (schedule != NULL)
		tz = om_settings_domain_value(env->store, todo->mailbox,
					      OM_SETTING_TIMEZONE, "localtime",
					      error_r);
	if (tz != NULL)
		known_on = om_settings_domain_value(env->store, todo->mailbox,
						    OM_SETTING_DIGEST_KNOWN_SENDERS,
						    "off", error_r);
	if (known_on != NULL &&
	    om_store_digest_last(env->store, todo->mailbox, &last, error_r) == 0)
		ret = om_digest_due(schedule, tz, env->now, (time_t)last,
				    todo->known, strcmp(known_on, "on") == 0,
				    env->force);
	free(schedule);
	free(tz);
	free(known_on);
	return ret;
}

/* One due mailbox: claim, render, save, mark sent.  1 sent, 0 not. */
static int digest_mailbox(const struct om_digest_env *env,
			  const struct digest_todo *todo, char **error_r)
{
	long long digest = 0;
	int ret;

	if ((ret = digest_mailbox_due(env, todo, error_r)) <= 0)
		return ret;
	ret = om_store_digest_claim(env->store, todo->mailbox,
				    (long long)env->now, &digest, error_r);
	if (ret <= 0)
		return ret;
	return digest_deliver(env, digest, todo->mailbox, 0, error_r);
}

int om_digest_run(const struct om_digest_env *env, long *sent_r,
		  char **error_r)
{
	struct digest_todos t;
	char *error = NULL, *first = NULL;
	size_t i;
	int ret;

	*sent_r = 0;
	(void)digest_finish_pending(env, sent_r, &first);
	memset(&t, 0, sizeof(t));
	if (om_store_digest_due(env->store, digest_due_cb, &t, &error) < 0)
		digest_failed(&first, "(due)", error);
	else {
		for (i = 0; i < t.n; i++) {
			error = NULL;
			ret = digest_mailbox(env, &t.v[i], &error);
			if (ret < 0)
				digest_failed(&first, t.v[i].mailbox, error);
			else
				*sent_r += ret;
		}
	}
	digest_todos_free(&t);
	if (first == NULL)
		return 0;
	*error_r = first;
	return -1;
}
