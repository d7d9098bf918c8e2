/* spam.c - Robinson-Fisher classifier over per-message-distinct tokens.
 *
 * For a token seen in s of Ns spam and h of Nh ham messages:
 *   p = (s/Ns) / (s/Ns + h/Nh);  f = (robs * robx + n * p) / (robs + n)
 * with n = s + h (Robinson's shrinking towards robx for rare tokens).
 * Tokens with |f - 0.5| < min_dev carry no information and are skipped;
 * the rest are combined with Fisher's method:
 *   H = C^-1(-2 sum ln f, 2k), S = C^-1(-2 sum ln (1 - f), 2k),
 *   score = (1 + H - S) / 2.
 * robx and robs are bogofilter's defaults; min_dev is 0.45 (bogofilter's is
 * 0.375): only tokens that are nearly always spam or nearly always ham
 * count.  Tuned on three development splits inside the training set (never
 * on the test set): with the body's word pairs and the Received networks
 * among the tokens, 0.45 separated spam from ham best; together they took
 * the development spam caught at the threshold of 5 from 95.0% to 98.0%
 * at about 0.1% false positives (doc/spam.md has the table).
 *
 * The same tokens are combined three times: the whole message, its headers
 * alone and its body alone, each worth -6.67 .. +9.33 points (BAYES_nn,
 * BAYES_HEAD_nn, BAYES_BODY_nn; see om_spam_bayes_rule).  Spam posted to a mailing list carries the
 * list's hammy headers, which outvote a plainly spammy body in one
 * combination; ham in a spammy design is the reverse.  Three readings let
 * each part speak (measured on a split inside the training set, never on
 * the test set: 92.7% -> 95.1% caught at the same single false positive).
 */
#include "spam/spam.h"
#include "mail/authres.h"
#include "lib/hash.h"
#include "mail/mime.h"
#include "spam/links.h"
#include "spam/phish.h"
#include "spam/rules.h"
#include "spam/spamtable.h"
#include "store/store.h"
#include "spam/tokenize.h"
#include "url/url.h"
#include "lib/util.h"

#include <math.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define OM_SPAM_ROBX 0.52
#define OM_SPAM_ROBS 0.0178
#define OM_SPAM_MIN_DEV 0.45

/* A token's own changes not saved yet. */
struct om_spam_delta {
	long spam, ham;
};

struct om_spam_db {
	struct om_spam_table *table;	/* counts: the store's + own changes */
	struct om_hash *pending;	/* token -> om_spam_delta, not saved yet */
	long nspam, nham;
	long dnspam, dnham;
	long long revision;	/* the store's spam revision we reflect */
	int dirty;
};

struct om_spam_db *om_spam_db_new(void)
{
	struct om_spam_db *db = om_calloc(1, sizeof(*db));

	db->table = om_spam_table_new(0);
	db->pending = om_hash_new(1024);
	db->revision = -1;
	return db;
}

void om_spam_db_free(struct om_spam_db **dbp)
{
	if (*dbp == NULL)
		return;
	om_spam_table_free(&(*dbp)->table);
	om_hash_free(&(*dbp)->pending, free);
	free(*dbp);
	*dbp = NULL;
}

struct om_spam_restoring {
	struct om_spam_table *table;
};

static void om_spam_db_restore(void *context, const char *token, long spam, long ham)
{
	struct om_spam_restoring *r = context;

	om_spam_table_add(r->table, om_spam_table_key(r->table, token), spam, ham);
}

int om_spam_db_load(struct om_spam_db *db, struct om_store *store, char **error_r)
{
	struct om_spam_restoring r = { om_spam_table_new(om_spam_table_count(db->table)) };
	struct om_store_spam_state state;

	if (om_store_spam_load(store, om_spam_db_restore, &r, &state, error_r) < 0) {
		om_spam_table_free(&r.table);
		return -1;
	}
	om_spam_table_free(&db->table);
	db->table = r.table;
	om_hash_free(&db->pending, free);
	db->pending = om_hash_new(1024);
	db->nspam = state.nspam;
	db->nham = state.nham;
	db->dnspam = db->dnham = 0;
	db->revision = state.revision;
	db->dirty = 0;
	return 0;
}

/* Unsaved deltas taken out of a db, with their own copies of the tokens,
   so that the store write can run while learners go on. */
struct om_spam_changes {
	struct om_store_spam_token *rows;
	size_t count;
	long dnspam, dnham;
};

static void om_spam_collect_pending(void *context, const char *token, void *value)
{
	struct om_spam_changes *changes = context;
	const struct om_spam_delta *d = value;

	if (d->spam == 0 && d->ham == 0)
		return;
	changes->rows[changes->count].token = om_strdup(token);
	changes->rows[changes->count].spam = d->spam;
	changes->rows[changes->count].ham = d->ham;
	changes->count++;
}

struct om_spam_changes *om_spam_db_take_changes(struct om_spam_db *db)
{
	struct om_spam_changes *changes;

	if (!db->dirty)
		return NULL;
	changes = om_calloc(1, sizeof(*changes));
	changes->rows = om_calloc(om_hash_count(db->pending) + 1, sizeof(*changes->rows));
	om_hash_each(db->pending, om_spam_collect_pending, changes);
	om_hash_free(&db->pending, free);
	db->pending = om_hash_new(1024);
	changes->dnspam = db->dnspam;
	changes->dnham = db->dnham;
	db->dnspam = db->dnham = 0;
	db->dirty = 0;
	return changes;
}

/* Records deltas as not saved yet (the counts are changed apart). */
static void om_spam_db_pend(struct om_spam_db *db, const char *token, long dspam, long dham)
{
	struct om_spam_delta *d = om_hash_get(db->pending, token);

	if (d == NULL) {
		d = om_calloc(1, sizeof(*d));
		om_hash_set(db->pending, token, d);
	}
	d->spam += dspam;
	d->ham += dham;
	db->dirty = 1;
}

/* Adds deltas to db's counts and records them as not saved. */
static void om_spam_db_add_delta(struct om_spam_db *db, const char *token,
				 long dspam, long dham)
{
	om_spam_table_add(db->table, om_spam_table_key(db->table, token), dspam, dham);
	om_spam_db_pend(db, token, dspam, dham);
}

void om_spam_db_return_changes(struct om_spam_db *db,
			       const struct om_spam_changes *changes)
{
	size_t i;

	/* the counts already hold them: only unsaved again */
	for (i = 0; i < changes->count; i++)
		om_spam_db_pend(db, changes->rows[i].token, changes->rows[i].spam,
				changes->rows[i].ham);
	db->dnspam += changes->dnspam;
	db->dnham += changes->dnham;
	db->dirty = 1;
}

int om_spam_changes_save(const struct om_spam_changes *changes,
			 struct om_store *store, long long *before_r,
			 long long *after_r, char **error_r)
{
	return om_store_spam_save(store, changes->rows, changes->count,
				  changes->dnspam, changes->dnham, before_r,
				  after_r, error_r);
}

void om_spam_changes_free(struct om_spam_changes **changesp)
{
	struct om_spam_changes *changes = *changesp;
	size_t i;

	if (changes == NULL)
		return;
	for (i = 0; i < changes->count; i++)
		free((char *)changes->rows[i].token);
	free(changes->rows);
	free(changes);
	*changesp = NULL;
}

int om_spam_db_saved(struct om_spam_db *db, long long before, long long after)
{
	if (before != db->revision)
		return 1;
	db->revision = after;
	return 0;
}

int om_spam_db_stale(const struct om_spam_db *db, struct om_store *store,
		     char **error_r)
{
	long long revision;

	if (om_store_revision(store, "spam", &revision, error_r) < 0)
		return -1;
	return revision != db->revision;
}

struct om_spam_db *om_spam_db_load_new(struct om_store *store, char **error_r)
{
	struct om_spam_db *db = om_spam_db_new();

	if (om_spam_db_load(db, store, error_r) < 0) {
		om_spam_db_free(&db);
		return NULL;
	}
	return db;
}

static void om_spam_carry_token(void *context, const char *token, void *value)
{
	const struct om_spam_delta *d = value;

	if (d->spam != 0 || d->ham != 0)
		om_spam_db_add_delta(context, token, d->spam, d->ham);
}

void om_spam_db_carry_changes(struct om_spam_db *to, const struct om_spam_db *from)
{
	if (!from->dirty)
		return;
	om_hash_each(from->pending, om_spam_carry_token, to);
	to->nspam += from->dnspam;
	to->nham += from->dnham;
	to->dnspam += from->dnspam;
	to->dnham += from->dnham;
	to->dirty = 1;
}

int om_spam_db_save(struct om_spam_db *db, struct om_store *store, char **error_r)
{
	struct om_spam_changes *changes = om_spam_db_take_changes(db);
	long long before, after;

	if (changes == NULL)
		return 0;
	if (om_spam_changes_save(changes, store, &before, &after, error_r) < 0) {
		om_spam_db_return_changes(db, changes);	/* kept for the next try */
		om_spam_changes_free(&changes);
		return -1;
	}
	om_spam_changes_free(&changes);
	if (!om_spam_db_saved(db, before, after))
		return 0;
	return om_spam_db_load(db, store, error_r) < 0 ? -1 : 1;
}

int om_spam_db_sync(struct om_spam_db *db, struct om_store *store, char **error_r)
{
	int stale;

	if (db->dirty)
		return om_spam_db_save(db, store, error_r);
	stale = om_spam_db_stale(db, store, error_r);
	if (stale <= 0)
		return stale;
	return om_spam_db_load(db, store, error_r) < 0 ? -1 : 1;
}

struct om_spam_learning {
	struct om_spam_db *db;
	int is_spam;
	int delta;
	int words_only;
};

/* 1 if token tells what a message says (its text, links, parts and
   Subject) rather than who sent it to whom and through which servers;
   the mark of mail with CJK text goes with its words (the CJK class sizes,
   om_spam_class_sizes). */
static int om_spam_token_is_words(const char *token)
{
	return !om_token_is_header(token) || strncmp(token, "subj:", 5) == 0 ||
		strcmp(token, OM_TOKEN_CJK_MESSAGE) == 0;
}

static void om_spam_learn_token(void *context, const char *token)
{
	struct om_spam_learning *l = context;

	if (l->delta < 0 &&
	    om_spam_table_get(l->db->table, om_spam_table_key(l->db->table, token)) == NULL)
		return;		/* unlearning what was never learned */
	if (l->words_only && !om_spam_token_is_words(token))
		return;
	om_spam_db_add_delta(l->db, token, l->is_spam ? l->delta : 0,
			     l->is_spam ? 0 : l->delta);
}

/* ---- the memory of the sites ham came from ---- */

/* Keys kept beside the tokens (never a token of a scored message):
   - "site@:" the From site as it is ("aoba-shoji.co.jp"), counted for
     ham and for spam: was it this very site?
   - "site#:" its name as it is ("aoba-shoji"), ham only;
   - "site=:" its name as a reader sees it ("aoba-shojl"), ham only: a
     sender's name read the same but written otherwise (aoba-sh0ji) is
     drawn to pass for it (the same name under another suffix is not:
     unearthed.org and unearthed.com, yahoo.ca and yahoo.com are most
     often the same people's);
   - "site~:" that name with one letter left out, ham only: a sender's
     name equal to one of these is a known name with a letter left out;
   - "site^:I:" the name with its letter I left out, ham only: a sender's
     name with its letter I, I - 1 or I + 1 left out equal to one is a
     known name with a letter changed (I) or two swapped (I +/- 1), and
     nothing farther (a letter moved elsewhere is two edits).
   Spam teaches only the first: a lookalike users move into Junk must not
   wear down the keys of the partner it imitates. */
#define OM_SPAM_SENDER_SITE "site@:"
#define OM_SPAM_SENDER_LABEL "site#:"
#define OM_SPAM_SENDER_EXACT "site=:"
#define OM_SPAM_SENDER_NEAR "site~:"
#define OM_SPAM_SENDER_AT "site^:"
#define OM_SPAM_SENDER_KEY_MAX (OM_URL_HOST_MAX + 16)
/* a name shorter than this is too close to too many others (phish.c) */
#define OM_SPAM_SENDER_LEARN_MIN 5
/* a word added to a name this long or longer is a cousin of its site
   (sakura-card-jp, payleaf-support); a shorter one is a word that other
   sites combine with theirs (linux-jp is a users' group, not linux.ie) */
#define OM_SPAM_SENDER_BRAND_MIN 7
/* a site this many ham came from is itself, whatever spam also did (a
   free-mail provider); with fewer, only when ham is at least spam (one
   BEC mail moved out of Junk by one user does not vouch for its site) */
#define OM_SPAM_SENDER_TRUSTED_HAM 3

/* key = prefix + name with the letter at skip left out (skip >= len:
   none), "I:" before it for OM_SPAM_SENDER_AT; 0 if it does not fit */
static int om_spam_sender_key(char key[OM_SPAM_SENDER_KEY_MAX], const char *prefix,
			      const char *name, size_t skip)
{
	size_t plen, len = strlen(name);
	int n;

	n = strcmp(prefix, OM_SPAM_SENDER_AT) == 0 ?
		snprintf(key, OM_SPAM_SENDER_KEY_MAX, "%s%zu:", prefix, skip) :
		snprintf(key, OM_SPAM_SENDER_KEY_MAX, "%s", prefix);
	if (n < 0 || (size_t)n + len >= OM_SPAM_SENDER_KEY_MAX)
		return 0;
	plen = (size_t)n;
	if (skip >= len) {
		memcpy(key + plen, name, len + 1);
		return 1;
	}
	memcpy(key + plen, name, skip);
	memcpy(key + plen + skip, name + skip + 1, len - skip);
	return 1;
}

/* key = "site#:" + site's name as it is (its first label); 0 if it does
   not fit */
static int om_spam_sender_label_key(char key[OM_SPAM_SENDER_KEY_MAX], const char *site)
{
	size_t n = strcspn(site, ".");
	int w = snprintf(key, OM_SPAM_SENDER_KEY_MAX, "%s%.*s", OM_SPAM_SENDER_LABEL, (int)n, site);

	return w > 0 && (size_t)w < OM_SPAM_SENDER_KEY_MAX;
}

static const struct om_spam_counts *om_spam_sender_counts(const struct om_spam_db *db,
							  const char *key)
{
	return om_spam_table_get(db->table, om_spam_table_key(db->table, key));
}

/* 1 if key was learned from ham at least as often as from spam */
static int om_spam_sender_known(const struct om_spam_db *db, const char *key)
{
	const struct om_spam_counts *c = om_spam_sender_counts(db, key);

	return c != NULL && c->ham > 0 && c->ham >= c->spam;
}

/* The ham-only keys of a name: the folded name, each one-letter-less
   form without and with its position. */
static void om_spam_learn_sender_name(struct om_spam_db *db, const char *name, int delta)
{
	char key[OM_SPAM_SENDER_KEY_MAX];
	size_t i, len = strlen(name);

	if (len < OM_SPAM_SENDER_LEARN_MIN ||
	    !om_spam_sender_key(key, OM_SPAM_SENDER_EXACT, name, len))
		return;
	om_spam_db_add_delta(db, key, 0, delta);
	for (i = 0; i < len; i++) {
		if (om_spam_sender_key(key, OM_SPAM_SENDER_AT, name, i))
			om_spam_db_add_delta(db, key, 0, delta);
		if (i > 0 && name[i] == name[i - 1])
			continue;	/* "ll": either left out is the same form */
		if (om_spam_sender_key(key, OM_SPAM_SENDER_NEAR, name, i))
			om_spam_db_add_delta(db, key, 0, delta);
	}
}

static void om_spam_learn_sender(struct om_spam_db *db, const struct om_phish_sender *sender,
				 int is_spam, int delta)
{
	char key[OM_SPAM_SENDER_KEY_MAX];
	const struct om_spam_counts *c;

	if (sender->site == NULL ||
	    !om_spam_sender_key(key, OM_SPAM_SENDER_SITE, sender->site, strlen(sender->site)))
		return;
	c = om_spam_sender_counts(db, key);
	if (delta < 0 && (c == NULL || (is_spam ? c->spam : c->ham) == 0))
		return;		/* learned before sites were kept, or unlearned already */
	om_spam_db_add_delta(db, key, is_spam ? delta : 0, is_spam ? 0 : delta);
	if (is_spam)
		return;
	if (om_spam_sender_label_key(key, sender->site))
		om_spam_db_add_delta(db, key, 0, delta);
	if (sender->name != NULL)
		om_spam_learn_sender_name(db, sender->name, delta);
}

/* 1 if "site^:POS:form" was learned from ham */
static int om_spam_sender_at_known(const struct om_spam_db *db, const char *form, size_t pos)
{
	char key[OM_SPAM_SENDER_KEY_MAX];
	int n = snprintf(key, sizeof(key), "%s%zu:%s", OM_SPAM_SENDER_AT, pos, form);

	return n > 0 && (size_t)n < sizeof(key) && om_spam_sender_known(db, key);
}

/* 1 if name is a name ham came from with a letter left out or added, a
   letter changed, or two neighbours swapped (or both changed) */
static int om_spam_sender_one_edit(const struct om_spam_db *db, const char *name)
{
	char key[OM_SPAM_SENDER_KEY_MAX], form[OM_SPAM_SENDER_KEY_MAX];
	size_t i, len = strlen(name);

	/* a letter left out: name is one of the known one-letter-less forms */
	if (om_spam_sender_key(key, OM_SPAM_SENDER_NEAR, name, len) &&
	    om_spam_sender_known(db, key))
		return 1;
	for (i = 0; i < len; i++) {
		/* a letter added: name without its letter i is a known name */
		if (om_spam_sender_key(key, OM_SPAM_SENDER_EXACT, name, i) &&
		    om_spam_sender_known(db, key))
			return 1;
		/* changed in place (i) or swapped with a neighbour (i +/- 1) */
		if (om_spam_sender_key(form, "", name, i) &&
		    (om_spam_sender_at_known(db, form, i) ||
		     (i > 0 && om_spam_sender_at_known(db, form, i - 1)) ||
		     om_spam_sender_at_known(db, form, i + 1)))
			return 1;
	}
	return 0;
}

/* 1 if name reads as a known name: then 1 in *alike_r if site's name is
   written otherwise (aoba-sh0ji, rnicrosoft: letters drawn to pass for
   the known ones), 0 if it is the same name under another suffix (the
   same people's: unearthed.org and unearthed.com) */
static int om_spam_sender_reads_known(const struct om_spam_db *db, const char *site,
				      const char *name, int *alike_r)
{
	char key[OM_SPAM_SENDER_KEY_MAX];

	*alike_r = 0;
	if (!om_spam_sender_key(key, OM_SPAM_SENDER_EXACT, name, strlen(name)) ||
	    !om_spam_sender_known(db, key))
		return 0;
	*alike_r = site == NULL || !om_spam_sender_label_key(key, site) ||
		!om_spam_sender_known(db, key);
	return 1;
}

/* 1 if name is a known name of OM_SPAM_SENDER_BRAND_MIN letters or more
   with a word added before or after it ("sakura-card-jp") */
static int om_spam_sender_word_added(const struct om_spam_db *db, const char *name)
{
	char key[OM_SPAM_SENDER_KEY_MAX], *cut;
	const char *seg, *end;
	int like = 0;

	for (seg = name; !like && seg != NULL; seg = end != NULL ? end + 1 : NULL) {
		end = strchr(seg, '-');
		if (seg == name && end == NULL)
			break;	/* one word */
		cut = end != NULL ? om_asprintf("%.*s%s", (int)(seg - name), name, end + 1) :
			om_strndup(name, (size_t)(seg - name - 1));
		like = strlen(cut) >= OM_SPAM_SENDER_BRAND_MIN &&
			om_spam_sender_key(key, OM_SPAM_SENDER_EXACT, cut, strlen(cut)) &&
			om_spam_sender_known(db, key);
		free(cut);
	}
	return like;
}

/* 1 if worn (a host's labels before its site) ends in a site ham came
   from, as it is: towa-sys.co.jp of towa-sys.co.jp.mail-gw.example (a
   partner's own name alone, as in towa-sys.cybozu.example, is a tenant of
   a service, not worn) */
static int om_spam_sender_wears(const struct om_spam_db *db, const char *worn)
{
	char key[OM_SPAM_SENDER_KEY_MAX];
	const char *p, *dot;

	for (p = worn; p != NULL; p = dot != NULL ? dot + 1 : NULL) {
		dot = strchr(p, '.');
		if (dot != NULL &&	/* a site has two labels at least */
		    om_spam_sender_key(key, OM_SPAM_SENDER_SITE, p, strlen(p)) &&
		    om_spam_sender_known(db, key))
			return 1;
	}
	return 0;
}

/* 1 if ham came from site itself: at least as often as spam, or often
   enough to be a real correspondent however much spam also comes from it
   (a free-mail provider) */
static int om_spam_sender_itself(const struct om_spam_db *db, const char *site)
{
	char key[OM_SPAM_SENDER_KEY_MAX];
	const struct om_spam_counts *c;

	if (!om_spam_sender_key(key, OM_SPAM_SENDER_SITE, site, strlen(site)))
		return 0;
	c = om_spam_sender_counts(db, key);
	return c != NULL && c->ham > 0 &&
		(c->ham >= c->spam || c->ham >= OM_SPAM_SENDER_TRUSTED_HAM);
}

int om_spam_sender_lookalike(const struct om_spam_db *db, const char *site,
			     const char *name, const char *worn)
{
	int alike;

	if (site != NULL && om_spam_sender_itself(db, site))
		return 0;
	if (name != NULL && om_spam_sender_reads_known(db, site, name, &alike))
		return alike;	/* no edit from the name it reads as */
	if (name != NULL &&
	    (om_spam_sender_one_edit(db, name) || om_spam_sender_word_added(db, name)))
		return 1;
	return worn != NULL && om_spam_sender_wears(db, worn);
}

/* The message counts of one learning of delta (+1, or -1 to unlearn). */
static void om_spam_learn_counted(struct om_spam_db *db, int is_spam, int delta)
{
	long *n = is_spam ? &db->nspam : &db->nham;

	*n = *n + delta < 0 ? 0 : *n + delta;
	if (is_spam)
		db->dnspam += delta;
	else
		db->dnham += delta;
	db->dirty = 1;
}


void om_spam_learn_message(struct om_spam_db *db, const struct om_phish *phish,
			   const char *msg, size_t len, int is_spam, int unlearn)
{
	struct om_spam_lesson *lesson = om_spam_lesson_read(phish, msg, len);

	om_spam_lesson_learn(db, lesson, is_spam, unlearn);
	om_spam_lesson_free(&lesson);
}

/* The key of what one mailbox taught with one message: never a token of
   a scored message, as the site keys above */
#define OM_SPAM_LESSON_PREFIX "lesson@:"
#define OM_SPAM_LESSON_DIGEST 16
#define OM_SPAM_LESSON_KEY_MAX (sizeof(OM_SPAM_LESSON_PREFIX) + 2 * OM_SPAM_LESSON_DIGEST)

struct om_spam_lesson {
	struct om_buf tokens;	/* each token and its NUL, in the order read */
	struct om_mime_msg *parsed;
	struct om_phish_sender sender;
	int sender_read, has_sender;
	const char *msg;	/* the caller's, for the lesson's key */
	size_t len;
	char key[OM_SPAM_LESSON_KEY_MAX];	/* om_spam_lesson_for; "" until then */
	char key_mailbox[OM_ADDRESS_KEY_MAX];	/* the mailbox it is for */
};

static void om_spam_lesson_token(void *context, const char *token)
{
	struct om_spam_lesson *lesson = context;

	om_buf_append(&lesson->tokens, token, strlen(token) + 1);
}

struct om_spam_lesson *om_spam_lesson_read(const struct om_phish *phish,
					   const char *msg, size_t len)
{
	struct om_spam_lesson *lesson = om_calloc(1, sizeof(*lesson));
	char *error = NULL;

	lesson->msg = msg;
	lesson->len = len;
	om_buf_init(&lesson->tokens);
	if (phish == NULL) {
		om_tokenize_message(msg, len, om_spam_lesson_token, lesson);
		return lesson;
	}
	lesson->parsed = om_mime_parse(msg, len, &error);
	free(error);
	om_tokenize_parsed(lesson->parsed, msg, len, om_spam_lesson_token, lesson);
	lesson->has_sender = om_phish_sender_read(phish, lesson->parsed, &lesson->sender);
	lesson->sender_read = 1;
	return lesson;
}

void om_spam_lesson_learn(struct om_spam_db *db, const struct om_spam_lesson *lesson,
			  int is_spam, int unlearn)
{
	struct om_spam_learning l = { db, is_spam, unlearn ? -1 : 1, 0 };
	const char *p = lesson->tokens.data, *end = p + lesson->tokens.len;

	for (; p != NULL && p < end; p += strlen(p) + 1)
		om_spam_learn_token(&l, p);
	if (lesson->has_sender)
		om_spam_learn_sender(db, &lesson->sender, is_spam, l.delta);
	om_spam_learn_counted(db, is_spam, l.delta);
}

void om_spam_lesson_for(struct om_spam_lesson *lesson, const char *mailbox)
{
	unsigned char digest[OM_SPAM_LESSON_DIGEST];
	char folded[OM_ADDRESS_KEY_MAX];
	crypto_generichash_state state;

	if (om_address_key(mailbox, folded, sizeof(folded)) < 0)
		(void)om_strlcpy(folded, mailbox, sizeof(folded));	/* cut: still one key */
	if (lesson->key[0] != '\0' && strcmp(lesson->key_mailbox, folded) == 0)
		return;
	/* key = "lesson@:" + hex of BLAKE2b-128(folded mailbox, NUL, message) */
	(void)crypto_generichash_init(&state, NULL, 0, sizeof(digest));
	(void)crypto_generichash_update(&state, (const unsigned char *)folded,
					strlen(folded) + 1);
	(void)crypto_generichash_update(&state, (const unsigned char *)lesson->msg,
					lesson->len);
	(void)crypto_generichash_final(&state, digest, sizeof(digest));
	memcpy(lesson->key, OM_SPAM_LESSON_PREFIX, sizeof(OM_SPAM_LESSON_PREFIX) - 1);
	(void)sodium_bin2hex(lesson->key + sizeof(OM_SPAM_LESSON_PREFIX) - 1,
			     2 * OM_SPAM_LESSON_DIGEST + 1, digest, sizeof(digest));
	memcpy(lesson->key_mailbox, folded, sizeof(folded));
}

enum om_spam_lesson_outcome
om_spam_lesson_learn_once(struct om_spam_db *db, struct om_spam_lesson *lesson,
			  const char *mailbox, int is_spam)
{
	const char *key;
	const struct om_spam_counts *c;
	int taught_spam, taught_ham;

	om_spam_lesson_for(lesson, mailbox);	/* done already when asked before */
	key = lesson->key;
	c = om_spam_table_get(db->table, om_spam_table_key(db->table, key));
	taught_spam = c != NULL && c->spam > 0;
	taught_ham = c != NULL && c->ham > 0;
	if (is_spam ? taught_spam : taught_ham)
		return OM_SPAM_LESSON_REPEATED;
	if (is_spam ? taught_ham : taught_spam) {
		om_spam_lesson_learn(db, lesson, !is_spam, 1);
		om_spam_db_add_delta(db, key, is_spam ? 0 : -1, is_spam ? -1 : 0);
	}
	om_spam_lesson_learn(db, lesson, is_spam, 0);
	om_spam_db_add_delta(db, key, is_spam ? 1 : 0, is_spam ? 0 : 1);
	return (is_spam ? taught_ham : taught_spam) ? OM_SPAM_LESSON_CORRECTED :
		OM_SPAM_LESSON_NEW;
}

const char *om_spam_lesson_outcome_name(enum om_spam_lesson_outcome outcome)
{
	switch (outcome) {
	case OM_SPAM_LESSON_NEW: return "new";
	case OM_SPAM_LESSON_REPEATED: return "repeated";
	case OM_SPAM_LESSON_CORRECTED: return "corrected";
	}
	return "?";
}

void om_spam_lesson_free(struct om_spam_lesson **lesson)
{
	struct om_spam_lesson *l = *lesson;

	if (l == NULL)
		return;
	*lesson = NULL;
	if (l->sender_read)
		om_phish_sender_free(&l->sender);
	om_mime_free(&l->parsed);
	om_buf_free(&l->tokens);
	free(l);
}

void om_spam_learn(struct om_spam_db *db, const char *msg, size_t len,
		   int is_spam, int unlearn)
{
	om_spam_learn_message(db, NULL, msg, len, is_spam, unlearn);
}

void om_spam_learn_words(struct om_spam_db *db, const char *msg, size_t len,
			 int is_spam, int unlearn)
{
	struct om_spam_learning l = { db, is_spam, unlearn ? -1 : 1, 1 };

	om_tokenize_message(msg, len, om_spam_learn_token, &l);
	om_spam_learn_counted(db, is_spam, l.delta);
}

/* Inverse chi-square survival function for even degrees of freedom. */
static double om_chi2q(double x2, int df)
{
	double m = x2 / 2.0, sum, term;
	int i;

	sum = term = exp(-m);
	for (i = 1; i < df / 2; i++) {
		term *= m / i;
		sum += term;
	}
	return sum < 1.0 ? sum : 1.0;
}

/* Fisher's sums over the tokens of one reading. */
struct om_spam_evidence {
	double ln_f, ln_1f;
	int k;
};

/* A token waiting for its lookup: its key's slot was prefetched when it
   came, and it is scored OM_SPAM_LOOKAHEAD tokens later, in the order the
   tokens came (so the Fisher sums add up exactly as one by one). */
#define OM_SPAM_LOOKAHEAD 8
struct om_spam_pending {
	uint64_t key;
	unsigned int header:1, cjk:1, has_text:1;
	char text[OM_SPAM_TOP_TOKEN_MAX];	/* for the report's top words */
};

struct om_spam_scoring {
	struct om_spam_pending pending[OM_SPAM_LOOKAHEAD];
	size_t pending_first, pending_count;	/* a ring */
	const struct om_spam_db *db;
	int cjk_looked;			/* cjk_spam, cjk_ham read */
	long cjk_spam, cjk_ham;		/* messages that could hold CJK tokens */
	struct om_spam_evidence all, head, body;
	int cjk_evidence;		/* CJK tokens that told */
	struct om_spam_report *report;	/* NULL: no words kept */
};

/* Keeps token among the report's strongest spam words: a plain body word
   or word pair (no colon: no header, link or form token), printable. */
static void om_spam_keep_top(struct om_spam_report *report, const char *token,
			     double f)
{
	size_t len = strlen(token), i, j;
	const unsigned char *p;

	if (f < 0.9 || len < 2 || len >= OM_SPAM_TOP_TOKEN_MAX ||
	    strchr(token, ':') != NULL)
		return;
	for (p = (const unsigned char *)token; *p != '\0'; p++) {
		if (*p < 0x20 || *p == 0x7f || *p == '"' || *p == ';' || *p == '\\')
			return;
	}
	for (i = 0; i < OM_SPAM_TOP_TOKENS; i++) {
		if (strcmp(report->top_tokens[i], token) == 0)
			return;
		if (report->top_tokens[i][0] == '\0' || f > report->top_f[i])
			break;
	}
	if (i == OM_SPAM_TOP_TOKENS)
		return;
	for (j = OM_SPAM_TOP_TOKENS - 1; j > i; j--) {
		memcpy(report->top_tokens[j], report->top_tokens[j - 1],
		       OM_SPAM_TOP_TOKEN_MAX);
		report->top_f[j] = report->top_f[j - 1];
	}
	memcpy(report->top_tokens[i], token, len + 1);
	report->top_f[i] = f;
}

/* One token's evidence into a reading: ln f and ln (1 - f), worked out
   once by the caller for the two readings a token goes into. */
static void om_spam_evidence_add(struct om_spam_evidence *ev, double ln_f, double ln_1f)
{
	ev->ln_f += ln_f;
	ev->ln_1f += ln_1f;
	ev->k++;
}

/* The numbers of spam and ham a token's counts are set against.  A CJK
   token can only occur in mail with CJK text, so its share is taken among
   those (the OM_TOKEN_CJK_MESSAGE counts), not among all mail: trained on
   the English corpus plus 20 Japanese ham and 20 spam, a bigram seen once
   in each would otherwise be read as 2.2 times more frequent in spam (20
   of 1434 spam against 20 of 3103 ham), and every Japanese notice leaned
   spam.  A table learned before the token existed has no counts for it
   and keeps the totals. */
static void om_spam_class_sizes(struct om_spam_scoring *sc, int cjk,
				long *nspam_r, long *nham_r)
{
	const struct om_spam_counts *c;

	*nspam_r = sc->db->nspam;
	*nham_r = sc->db->nham;
	if (!cjk)
		return;
	if (!sc->cjk_looked) {
		c = om_spam_table_get(sc->db->table, om_spam_table_key(sc->db->table,
								      OM_TOKEN_CJK_MESSAGE));
		if (c != NULL) {
			sc->cjk_spam = (long)c->spam;
			sc->cjk_ham = (long)c->ham;
		}
		sc->cjk_looked = 1;
	}
	if (sc->cjk_spam > 0 && sc->cjk_ham > 0) {
		*nspam_r = sc->cjk_spam;
		*nham_r = sc->cjk_ham;
	}
}

/* Scores one token that waited in the ring. */
static void om_spam_score_pending(struct om_spam_scoring *sc,
				  const struct om_spam_pending *t)
{
	const struct om_spam_counts *c;
	double ps, ph, p, f, ln_f, ln_1f;
	long n, nspam, nham;

	c = om_spam_table_get(sc->db->table, t->key);
	if (c == NULL)
		return;
	n = (long)c->spam + (long)c->ham;
	if (n == 0)
		return;
	om_spam_class_sizes(sc, t->cjk, &nspam, &nham);
	ps = (double)c->spam / (double)nspam;
	ph = (double)c->ham / (double)nham;
	p = ps / (ps + ph);
	f = (OM_SPAM_ROBS * OM_SPAM_ROBX + (double)n * p) / (OM_SPAM_ROBS + (double)n);
	if (fabs(f - 0.5) < OM_SPAM_MIN_DEV)
		return;
	if (f < 1e-6)
		f = 1e-6;
	if (f > 1.0 - 1e-6)
		f = 1.0 - 1e-6;
	ln_f = log(f);
	ln_1f = log(1.0 - f);
	om_spam_evidence_add(&sc->all, ln_f, ln_1f);
	om_spam_evidence_add(t->header ? &sc->head : &sc->body, ln_f, ln_1f);
	if (t->cjk)
		sc->cjk_evidence++;
	if (sc->report != NULL && t->has_text)
		om_spam_keep_top(sc->report, t->text, f);
}

/* Scores the oldest waiting token. */
static void om_spam_score_oldest(struct om_spam_scoring *sc)
{
	om_spam_score_pending(sc, &sc->pending[sc->pending_first]);
	sc->pending_first = (sc->pending_first + 1) % OM_SPAM_LOOKAHEAD;
	sc->pending_count--;
}

/* The tokenizer's callback: the token's key is made and its slot
   prefetched now, the lookup done OM_SPAM_LOOKAHEAD tokens later (the
   table's lookups were cache misses, 8% of a scan: issue 22). */
static void om_spam_score_token(void *context, const char *token)
{
	struct om_spam_scoring *sc = context;
	struct om_spam_pending *t;
	size_t len;

	if (sc->db->nspam == 0 || sc->db->nham == 0)
		return;
	if (sc->pending_count == OM_SPAM_LOOKAHEAD)
		om_spam_score_oldest(sc);
	t = &sc->pending[(sc->pending_first + sc->pending_count) % OM_SPAM_LOOKAHEAD];
	t->key = om_spam_table_key(sc->db->table, token);
	om_spam_table_prefetch(sc->db->table, t->key);
	t->header = om_token_is_header(token) != 0;
	t->cjk = om_token_is_cjk(token) != 0;
	len = strlen(token);
	/* the report keeps no longer token (om_spam_keep_top) */
	t->has_text = len < OM_SPAM_TOP_TOKEN_MAX;
	if (t->has_text)
		memcpy(t->text, token, len + 1);
	sc->pending_count++;
}

/* Scores every token still waiting, in order. */
static void om_spam_score_flush(struct om_spam_scoring *sc)
{
	while (sc->pending_count > 0)
		om_spam_score_oldest(sc);
}

static double om_spam_combine(const struct om_spam_evidence *ev);

/* Robinson's geometric-mean combination: the balance of the telling
   tokens rather than the strength of the strongest.  Japanese mail learned
   from a few dozen examples carries strong, nearly random evidence on both
   sides (bigrams seen once); chi-square calls all of it unsure, where the
   balance still leans the right way (doc/spam.md, issue 19). */
static double om_spam_combine_geo(const struct om_spam_evidence *ev)
{
	double spam, ham;

	if (ev->k == 0)
		return 0.5;
	spam = 1.0 - exp(ev->ln_1f / ev->k);
	ham = 1.0 - exp(ev->ln_f / ev->k);
	if (spam + ham <= 0.0)
		return 0.5;
	return (1.0 + (spam - ham) / (spam + ham)) / 2.0;
}

/* Reading 0 (all tokens), 1 (header) or 2 (body) of the message: Fisher's
   chi-square, but the geometric mean for the whole and the body of mail in
   which CJK tokens told (its header tokens are the English corpus's too:
   chi-square keeps them). */
static double om_spam_combine_reading(const struct om_spam_scoring *sc,
				      const struct om_spam_evidence *ev, int reading)
{
	if (sc->cjk_evidence > 0 && reading != 1)
		return om_spam_combine_geo(ev);
	return om_spam_combine(ev);
}

static double om_spam_combine(const struct om_spam_evidence *ev)
{
	double h, s;

	if (ev->k == 0)
		return 0.5;
	h = om_chi2q(-2.0 * ev->ln_f, 2 * ev->k);	/* evidence of ham */
	s = om_chi2q(-2.0 * ev->ln_1f, 2 * ev->k);	/* evidence of spam */
	return (1.0 + h - s) / 2.0;
}

double om_spam_score(const struct om_spam_db *db, const char *msg, size_t len)
{
	struct om_spam_scoring sc;

	memset(&sc, 0, sizeof(sc));
	sc.db = db;
	om_tokenize_message(msg, len, om_spam_score_token, &sc);
	om_spam_score_flush(&sc);
	return om_spam_combine(&sc.all);
}

/* One reading's probability as points: OM_SPAM_BAYES_POINTS times the
   cube root of 2p - 1 (0 at 0.5, +-8 at the ends: chi-square combining
   pushes most mail to the ends, the cube root spreads the middle where spam
   with some ham-like text lands), plus OM_SPAM_BAYES_LEAN_POINTS when the
   reading has evidence at all.  Mail that leaves the classifier unsure is
   spam more often than ham (SpamAssassin scores its BAYES_50 +0.8 for the
   same reason): on the dev split, 4 points for three unsure readings put
   the threshold of 5 where 0.1% of ham is above it.  Named by bucket like
   SpamAssassin's BAYES_nn rules.  weight scales the reading's points
   (OM_SPAM_CJK_HEADER_WEIGHT). */
static void om_spam_bayes_rule(const char *name_prefix, double p, int evidence,
			       double weight, struct om_rules_result *rules)
{
	static const int buckets[] = { 0, 5, 20, 40, 50, 60, 80, 95, 99 };
	char name[OM_RULE_NAME_MAX];
	size_t i;
	int b = 0;

	for (i = 0; i < OM_N_ELEMENTS(buckets); i++) {
		if (p * 100.0 >= (double)buckets[i])
			b = buckets[i];
	}
	snprintf(name, sizeof(name), "%s_%02d", name_prefix, b);
	om_rules_add(rules, name, !evidence ? 0.0 : weight *
		     (OM_SPAM_BAYES_POINTS * cbrt(2.0 * p - 1.0) + OM_SPAM_BAYES_LEAN_POINTS));
}

/* PHISH_LOOKALIKE_KNOWN: From's site looks like one ham came from, when
   no other lookalike rule has said so already; and PHISH_BEC_SHAPE when a
   lookalike of any kind comes with a Reply-To on free mail. */
static void om_spam_check_sender(const struct om_spam_db *db, const struct om_phish *phish,
				 const struct om_phish_sender *sender,
				 struct om_rules_result *rules)
{
	int lookalike = om_rules_fired(rules, "PHISH_LOOKALIKE") ||
		om_rules_fired(rules, "PHISH_LOOKALIKE_PARTNER");

	/* a free-mail provider is itself: its users' names are not its */
	if (!lookalike && sender->site != NULL && !om_phish_freemail(phish, sender->site)) {
		lookalike = om_spam_sender_lookalike(db, sender->site, sender->name,
						     sender->worn);
		if (lookalike)
			om_rules_add(rules, "PHISH_LOOKALIKE_KNOWN",
				     OM_PHISH_LOOKALIKE_KNOWN_POINTS);
	}
	if (lookalike && om_rules_fired(rules, "PHISH_FREEMAIL_REPLYTO"))
		om_rules_add(rules, "PHISH_BEC_SHAPE", OM_PHISH_BEC_SHAPE_POINTS);
}

void om_spam_check(const struct om_spam_db *db, const char *msg, size_t len,
		   const struct om_spam_check_settings *set,
		   struct om_spam_report *report)
{
	struct om_mime_msg *parsed;
	char *error = NULL;

	parsed = om_mime_parse(msg, len, &error);
	free(error);
	om_spam_check_parsed(db, parsed, msg, len, set, report);
	om_mime_free(&parsed);
}

void om_spam_check_parsed(const struct om_spam_db *db, struct om_mime_msg *parsed,
			  const char *msg, size_t len,
			  const struct om_spam_check_settings *set,
			  struct om_spam_report *report)
{
	struct om_spam_scoring sc;
	struct om_authres auth;
	struct om_authres_trust trust = { NULL, 1 };
	int url_blocked = 0;

	memset(&sc, 0, sizeof(sc));
	sc.db = db;
	memset(report, 0, sizeof(*report));
	sc.report = report;
	if (set != NULL) {
		trust.ids = set->trusted_authserv_id;
		if (set->authserv_hops > 0)
			trust.hops = set->authserv_hops;
	}
	(void)om_authres_check(msg, len, &trust, &auth, NULL);
	if (parsed != NULL) {
		om_rules_check_headers(parsed, &auth, &report->rules);
		om_rules_check_body(parsed, &report->rules);
	}
	om_tokenize_parsed(parsed, msg, len, om_spam_score_token, &sc);
	om_spam_score_flush(&sc);
	report->probability = om_spam_combine_reading(&sc, &sc.all, 0);
	report->trained = db->nspam > 0 && db->nham > 0;
	if (report->trained) {
		om_spam_bayes_rule("BAYES", report->probability, sc.all.k > 0, 1.0,
				   &report->rules);
		om_spam_bayes_rule("BAYES_HEAD", om_spam_combine_reading(&sc, &sc.head, 1), sc.head.k > 0,
				   sc.cjk_evidence > 0 ? OM_SPAM_CJK_HEADER_WEIGHT : 1.0,
				   &report->rules);
		om_spam_bayes_rule("BAYES_BODY", om_spam_combine_reading(&sc, &sc.body, 2), sc.body.k > 0,
				   1.0, &report->rules);
	}
	/* every link, in a pass of its own: the tokens stop at their cap */
	if (set != NULL && set->url_blocked != NULL)
		url_blocked = om_links_each(parsed, msg, len, set->url_blocked,
					    set->context);
	if (url_blocked)
		om_rules_add(&report->rules, "URL_BLOCKLISTED", OM_SPAM_URL_BLOCKED_POINTS);
	if (set != NULL && set->phish != NULL && parsed != NULL) {
		struct om_phish_sender sender;

		om_phish_check(set->phish, parsed, set->recipient, set->correspondents,
			       set->correspondent_count, &report->rules, &sender);
		om_spam_check_sender(db, set->phish, &sender, &report->rules);
		om_phish_sender_free(&sender);
	}
	report->score = report->rules.points;
}

size_t om_spam_db_tokens(const struct om_spam_db *db)
{
	return om_spam_table_count(db->table);
}

void om_spam_db_counts(const struct om_spam_db *db, long *spam_r, long *ham_r)
{
	*spam_r = db->nspam;
	*ham_r = db->nham;
}
