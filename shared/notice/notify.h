/* notify.h - notice templates (templates/<lang>/<name>.txt).
 *
 * A template is UTF-8 text with {{name}} placeholders.  Mail templates start
 * with a "Subject: ..." line and a blank line.  Values are sanitised before
 * they are put in, since most come from the message being reported.
 */
#ifndef OM_NOTIFY_H
#define OM_NOTIFY_H

#include <time.h>

struct om_notify_var {
	const char *name;
	const char *value;
};

/* Renders dir/lang/name.txt with vars (terminated by a {NULL, NULL}).  An
   unknown language falls back to "ja".  Returns an allocated text, or NULL
   with *error_r (allocated). */
char *om_notify_render(const char *dir, const char *lang, const char *name,
		       const struct om_notify_var *vars, char **error_r);

/* The ISP on every notice (omamori.conf's brand_name, brand_support):
   rendered below a notice from templates/<lang>/brand-footer.txt. */
struct om_notify_brand {
	const char *name;
	const char *support;
};

/* om_notify_render, then the brand footer when brand names an ISP (a
   NULL brand or an empty name adds nothing). */
char *om_notify_render_branded(const char *dir, const char *lang,
			       const char *name,
			       const struct om_notify_var *vars,
			       const struct om_notify_brand *brand,
			       char **error_r);

/* Splits a rendered mail template into its subject and body (pointers into
   text, which is modified).  Returns 0, or -1 if there is no Subject line. */
int om_notify_split_mail(char *text, const char **subject_r,
			 const char **body_r);

/* "YYYY/MM/DD HH:MM:SS" in local time, as notices show it (allocated). */
char *om_notify_time_text(time_t when);

/* The notice above a message omamori could not scan whole
   (templates/<lang>/unscanned-notice.txt), or NULL with *error_r. */
char *om_notify_unscanned(const char *dir, const char *lang,
			  const char *reason, time_t now,
			  const struct om_notify_brand *brand, char **error_r);

/* Checks that dir holds every notice template omamori renders, in each
   language (ja, en), readable and within the size a notice may have: a
   daemon that sends notices checks at its start what it would otherwise
   find missing at its first virus or hold.  0, or -1 with *error_r
   naming the first file at fault. */
int om_notify_templates_check(const char *dir, char **error_r);
/* The same, said as a warning in the log with what follows from it
   (consequence), for a daemon at its start. */
void om_notify_templates_warn(const char *dir, const char *consequence);

/* What becomes of a held mail at the end of its hold (the hold-expiry
   setting's send, discard or admin), as a clause of the hold notice's
   sentence in lang ("そのまま送信されます", "it is sent"); a value this
   does not know is given back as it is. */
const char *om_notify_hold_expiry_text(const char *expiry, const char *lang);

/* Substitutes {{name}} in tmpl; unknown names stay as they are. */
char *om_notify_expand(const char *tmpl, const struct om_notify_var *vars);

#endif
