/* omamori-plugin.h - the omamori mail plugin's per-user state, used by the
 * omamori_deliver plugin (which depends on this one).
 */
#ifndef OMAMORI_PLUGIN_H
#define OMAMORI_PLUGIN_H

struct mail_user;
struct om_config;
struct om_store;

/* What omamori adds to (and takes from) a delivered message's header. */
struct omamori_decoration {
	const char *virus;	/* X-Omamori-Virus value, or NULL */
	const char *spam;	/* X-Omamori-Spam value, or NULL */
	const char *spam_score;	/* set: X-Spam-Flag: YES and X-Spam-Score */
	const char *links;	/* X-Omamori-Links value ("disabled",
				   "rewritten"), or NULL */
	const char *subject;	/* replaces the Subject value, or NULL */
	bool subject_missing;	/* the message has no Subject: add one */
	bool strip_spam_headers;	/* drop every incoming X-Spam-* header */
	/* set for a message saved into Quarantine: X-Omamori-Quarantine-Id
	   (OM_QUARANTINE_ID_LEN lower-case hex digits), the key of its row in
	   the store (store.h) */
	const char *quarantine_id;
	/* omamori's DKIM and DMARC results (issue 15): an
	   Authentication-Results header put above the message's own
	   header fields (below Return-Path and Delivered-To), where a
	   trusted one goes; or NULL */
	const char *auth_results;
	bool auth_results_added;	/* by the filter, once */
	/* the filter replaces the first Subject field alone (a second one
	   passes as it came): done in this pass, and now dropping the first
	   one's continuation lines */
	bool subject_replaced, subject_dropping;
	const char *attachments;	/* X-Omamori-Attachments value, or NULL */
	/* X-Omamori-Spam-Reason value, RFC 2047-encoded already, or NULL */
	const char *spam_reason;
};

struct omamori_user {
	union mail_user_module_context module_ctx;
	struct mail_user *user;
	const char *config_path;
	/* the raw user deliveries substitute rewritten messages through */
	struct mail_user *raw_user;
	/* while a delivery is saved unchanged but for the verdict: what
	   every save of this user adds to the header */
	const struct omamori_decoration *save_decoration;
	/* while Sieve runs inside a delivery: its verdict and spam score
	   (omamori-verdict.h) */
	const char *delivery_verdict;
	const char *delivery_score;
};

extern const char *omamori_plugin_version;

/* The omamori state of user, or NULL when the plugin is not active for it. */
struct omamori_user *omamori_user_get(struct mail_user *user);

/* The configuration and an open store for this process (loaded on first
   use, reloaded when the configuration file changes; omamori-conf-store.h).  Returns 0, or -1
   with *error_r (data stack). */
int omamori_context_get(struct omamori_user *ouser,
			const struct om_config **config_r,
			struct om_store **store_r, const char **error_r);

/* Moves whenever omamori_context_get loaded the configuration anew (and
   reopened the store): what a cache read from the store before is stale. */
unsigned int omamori_context_generation(void);

/* The raw mail user for substituting messages (created on first use). */
struct mail_user *omamori_user_raw(struct omamori_user *ouser);

/* Wraps a save's input so that its header carries the decoration (and no
   sender's X-Omamori-* headers).  deco must outlive the stream.  The
   returned stream must be unreferenced. */
struct istream *omamori_decorated_stream(struct istream *input,
					 const struct omamori_decoration *deco);

/* Expunges from the user's Quarantine folder what arrived more than the
   domain's quarantine-retention days ago (a missing folder is fine). */
void omamori_quarantine_expire(struct mail_user *user, struct om_store *store,
			       const struct om_config *config);

void omamori_plugin_init(struct module *module);
void omamori_plugin_deinit(void);

#endif
