/* spam.h - the statistical spam classifier: Robinson's per-token
 * probabilities combined with Fisher's chi-square (the method of bogofilter
 * and SpamBayes; doc/spam.md says why), over a token store held in memory
 * and saved to the store in batches.
 */
#ifndef OM_SPAM_H
#define OM_SPAM_H

#include <stddef.h>

#include "spam/rules.h"

struct om_store;
struct om_spam_db;

struct om_spam_db *om_spam_db_new(void);
void om_spam_db_free(struct om_spam_db **db);
/* Loads the token counts from the store (replacing what db holds). */
int om_spam_db_load(struct om_spam_db *db, struct om_store *store,
		    char **error_r);
/* Saves the changes learned since the last load/save, in one transaction
   (as deltas, so concurrent learners add up).  If somebody else saved in
   between, reloads.  Returns 0, 1 reloaded, -1 error. */
int om_spam_db_save(struct om_spam_db *db, struct om_store *store,
		    char **error_r);
/* Saves own changes, or reloads when the store's revision moved.
   Returns 0 nothing to do / saved, 1 reloaded, -1 error. */
int om_spam_db_sync(struct om_spam_db *db, struct om_store *store,
		    char **error_r);

/* The same in steps, for a db that learners share (omamori-scand): take
   the unsaved changes under the lock, write them without it, and on
   failure give them back; load a fresh table without the lock and swap it
   in, carrying over what was learned meanwhile. */
struct om_spam_changes;
/* NULL if nothing is unsaved; db then counts them as saved. */
struct om_spam_changes *om_spam_db_take_changes(struct om_spam_db *db);
int om_spam_changes_save(const struct om_spam_changes *changes,
			 struct om_store *store, long long *before_r,
			 long long *after_r, char **error_r);
void om_spam_db_return_changes(struct om_spam_db *db,
			       const struct om_spam_changes *changes);
void om_spam_changes_free(struct om_spam_changes **changes);
/* After a successful save: 1 if somebody else saved in between (reload),
   else 0 and db reflects the store's new revision. */
int om_spam_db_saved(struct om_spam_db *db, long long before, long long after);
/* 1 if the store holds somebody else's newer save, 0 not, -1 error. */
int om_spam_db_stale(const struct om_spam_db *db, struct om_store *store,
		     char **error_r);
struct om_spam_db *om_spam_db_load_new(struct om_store *store, char **error_r);
/* Adds from's unsaved changes to to (as unsaved there too). */
void om_spam_db_carry_changes(struct om_spam_db *to, const struct om_spam_db *from);

/* Learns a raw message as spam (is_spam) or ham; unlearn removes an
   earlier learning of the same message. */
void om_spam_learn(struct om_spam_db *db, const char *msg, size_t len,
		   int is_spam, int unlearn);
/* The same, and the sender's site into the classifier's memory of the
   sites mail came from (phish: the sites as phish.h reads them; NULL: as
   om_spam_learn).  A From domain that later looks like one ham came from
   without being it (om_spam_sender_lookalike: aoba-shouji.co.jp of
   aoba-shoji.co.jp, sakura-card-jp.example of sakura-card.jp) is
   PHISH_LOOKALIKE_KNOWN: a business partner's or a service's domain
   imitated, as BEC and phishing do.  This is how mailboxes, train and
   learn teach; the prior (below) teaches no senders. */
struct om_phish;
void om_spam_learn_message(struct om_spam_db *db, const struct om_phish *phish,
			   const char *msg, size_t len, int is_spam, int unlearn);
/* The same in two steps, for a table others read while one learns
   (omamori-scand): om_spam_lesson_read does the slow part (the parse, the
   tokens, the sender) without the table; om_spam_lesson_learn puts it in
   (under the caller's write lock: only counting).  The lesson keeps msg's
   parse: msg must outlive it.  The same counts as om_spam_learn_message. */
struct om_spam_lesson;
struct om_spam_lesson *om_spam_lesson_read(const struct om_phish *phish,
					   const char *msg, size_t len);
void om_spam_lesson_learn(struct om_spam_db *db, const struct om_spam_lesson *lesson,
			  int is_spam, int unlearn);
void om_spam_lesson_free(struct om_spam_lesson **lesson);
/* What one mailbox teaches with one message counts once: learns lesson
   as spam or ham for mailbox (its key as lookups fold it) unless the
   mailbox taught this very message (its bytes) so before; one it taught
   as the other is unlearned from that side first (a move out of Junk
   corrects the move into it).  The memory is a key beside the tokens
   (saved, loaded and pruned with them), made of a digest of mailbox and
   message: neither is kept.  Under the caller's write lock, as
   om_spam_lesson_learn; om_spam_lesson_for (without the lock) makes the
   key first, the digest of a message of up to scan_max_size. */
enum om_spam_lesson_outcome {
	OM_SPAM_LESSON_NEW,		/* learned */
	OM_SPAM_LESSON_REPEATED,	/* taught so before: nothing counted */
	OM_SPAM_LESSON_CORRECTED,	/* unlearned from the other side, learned */
};
void om_spam_lesson_for(struct om_spam_lesson *lesson, const char *mailbox);
enum om_spam_lesson_outcome
om_spam_lesson_learn_once(struct om_spam_db *db, struct om_spam_lesson *lesson,
			  const char *mailbox, int is_spam);
const char *om_spam_lesson_outcome_name(enum om_spam_lesson_outcome outcome);
/* 1 if no ham came from site (om_phish_sender: the From site as it is;
   may be NULL) but it looks like a site ham came from (at least as often
   as spam): its name (folded; may be NULL) is such a site's name under
   another public suffix or with letters drawn alike (aoba-sh0ji.com for
   aoba-shoji.co.jp), one edit from one (a letter left out, added or
   changed, two neighbours swapped), or one of 7 letters or more with a
   word added (sakura-card-jp); or worn (the host's labels before its
   site; may be NULL) ends in such a site, as it is
   (towa-sys.co.jp.mail-gw.example). */
int om_spam_sender_lookalike(const struct om_spam_db *db, const char *site,
			     const char *name, const char *worn);
/* The same, but only the tokens of what the message says (its text,
   links, parts and Subject), none of its header tokens of who sent it to
   whom through which servers: how a prior learned from someone else's
   mail (omamorictl prior, the shipped Japanese set) is learned, so that
   only its words, not its senders, recipients and relays, carry over. */
void om_spam_learn_words(struct om_spam_db *db, const char *msg, size_t len,
			 int is_spam, int unlearn);
/* The message's spam probability, 0.0 (ham) .. 1.0 (spam). */
double om_spam_score(const struct om_spam_db *db, const char *msg, size_t len);
/* Each of the classifier's three readings (whole message, headers, body)
   adds OM_SPAM_BAYES_POINTS * cbrt(2p - 1) to the score, plus
   OM_SPAM_BAYES_LEAN_POINTS once it has any evidence at all: so from
   -6.67 (sure ham) to +9.33 (sure spam) each, and +4 in all for mail that
   leaves every reading unsure.  With the default threshold of 5 the
   classifier alone calls a message spam once its readings lean to spam at
   all: one reading at p 0.501 beside two unsure ones is enough. */
#define OM_SPAM_BAYES_POINTS 8.0
#define OM_SPAM_BAYES_LEAN_POINTS (4.0 / 3.0)
/* The header reading of mail in which CJK tokens told counts half: its
   tokens are the English corpus's MIME form (a Japanese charset, base64:
   spam's in that corpus, every notice's in Japan) and the few Japanese
   mails a site has learned whole (their senders' and recipients' names,
   seen once each); the words, read through the shipped prior too, tell
   more.  On the Japanese train half's cross-validation (doc/spam.md, issue
   19 seventh round) false positives 8 -> 5 (20 + 20) and 10 -> 4 (2/3 of
   the half), one spam fewer caught; the SA split unchanged. */
#define OM_SPAM_CJK_HEADER_WEIGHT 0.5
/* an administrator's block list is a verdict, whatever the words say */
#define OM_SPAM_URL_BLOCKED_POINTS 10.0

struct om_spam_check_settings {
	/* which Authentication-Results are our MTA's (mail/authres.h): the
	   ids (space-separated; NULL: none trusted) */
	const char *trusted_authserv_id;
	/* nonzero if a link's host is on a url-block list (may be NULL);
	   asked of every link of the message (links.h), once per host */
	int (*url_blocked)(void *context, const char *host);
	void *context;
	/* Received headers of our MTAs above the sender's (0: 1) */
	unsigned int authserv_hops;
	/* the phishing-shape rules (phish.h; NULL: off) and the recipient
	   mailbox lookalikes are compared with (NULL: the To address) */
	const struct om_phish *phish;
	const char *recipient;
	/* addresses the recipient has written to (the store's
	   correspondents; NULL: none known): their lookalikes */
	const char *const *correspondents;
	size_t correspondent_count;
};

/* The classifier's strongest spam words a reason may quote (issue 19). */
#define OM_SPAM_TOP_TOKENS 3
#define OM_SPAM_TOP_TOKEN_MAX 48	/* bytes of one, UTF-8 */

struct om_spam_report {
	double score;		/* sum of the rules' points */
	double probability;	/* the classifier's, 0.5 when it knows nothing */
	int trained;		/* the classifier has seen spam and ham */
	struct om_rules_result rules;
	/* the body words (no header, link or form tokens) that leaned most
	   to spam, strongest first; "" for none */
	char top_tokens[OM_SPAM_TOP_TOKENS][OM_SPAM_TOP_TOKEN_MAX];
	double top_f[OM_SPAM_TOP_TOKENS];
};

/* Scores a raw message: rules, links, classifier; parses it once. */
void om_spam_check(const struct om_spam_db *db, const char *msg, size_t len,
		   const struct om_spam_check_settings *set,
		   struct om_spam_report *report);

/* The same for a message already parsed (parsed may be NULL). */
struct om_mime_msg;
void om_spam_check_parsed(const struct om_spam_db *db, struct om_mime_msg *parsed,
			  const char *msg, size_t len,
			  const struct om_spam_check_settings *set,
			  struct om_spam_report *report);

/* Messages learned so far. */
/* How many tokens the table holds (the classifier's size). */
size_t om_spam_db_tokens(const struct om_spam_db *db);
void om_spam_db_counts(const struct om_spam_db *db, long *spam_r, long *ham_r);

#endif
