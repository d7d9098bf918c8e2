/* values.c - names of the typed values (see values.h).
 *
 * One table per enum, indexed by the value; index 0 (none) has no name.
 * Looking a name up is a walk over four or five words.
 */
#include "lib/values.h"
#include "lib/util.h"

#include <string.h>

static const char *const om_verdict_names[] = {
	[OM_VERDICT_CLEAN] = "clean",
	[OM_VERDICT_VIRUS] = "virus",
	[OM_VERDICT_SPAM] = "spam",
	[OM_VERDICT_UNSCANNED] = "unscanned",
};

static const char *const om_action_names[] = {
	[OM_ACTION_DELIVER] = "deliver",
	[OM_ACTION_STRIP] = "strip",
	[OM_ACTION_REPLACE] = "replace",
	[OM_ACTION_QUARANTINE] = "quarantine",
	[OM_ACTION_TEMPFAIL] = "tempfail",
	[OM_ACTION_QUARANTINE_ADMIN] = "quarantine-admin",
	[OM_ACTION_DISCARD] = "discard",
};

static const char *const om_spam_action_names[] = {
	[OM_SPAM_ACTION_DELIVER] = "deliver",
	[OM_SPAM_ACTION_TAG] = "tag",
	[OM_SPAM_ACTION_HEADER] = "header",
	[OM_SPAM_ACTION_QUARANTINE] = "quarantine",
};

static const char *const om_direction_names[] = {
	[OM_DIRECTION_IN] = "in",
	[OM_DIRECTION_OUT] = "out",
};

static const char *const om_learn_names[] = {
	[OM_LEARN_SPAM] = "spam",
	[OM_LEARN_HAM] = "ham",
};

static const char *const om_url_kind_names[] = {
	[OM_URL_KIND_URL] = "url",
	[OM_URL_KIND_HOST] = "host",
	[OM_URL_KIND_DOMAIN] = "domain",
};

static const char *const om_url_verdict_names[] = {
	[OM_URL_VERDICT_WARN] = "warn",
	[OM_URL_VERDICT_BLOCK] = "block",
};

static const char *const om_ar_result_names[] = {
	[OM_AR_PASS] = "pass",
	[OM_AR_FAIL] = "fail",
	[OM_AR_SOFTFAIL] = "softfail",
	[OM_AR_NEUTRAL] = "neutral",
	[OM_AR_NONE] = "none",
	[OM_AR_TEMPERROR] = "temperror",
	[OM_AR_PERMERROR] = "permerror",
	[OM_AR_POLICY] = "policy",
};

static const char *const om_links_done_names[] = {
	[OM_LINKS_DONE_DISABLED] = "disabled",
	[OM_LINKS_DONE_REWRITTEN] = "rewritten",
};

/* names[value], or NULL for 0 and anything past the table. */
static const char *om_values_name(const char *const *names, size_t count,
				  long value)
{
	if (value <= 0 || (unsigned long)value >= count)
		return NULL;
	return names[value];
}

/* The index of name in names[1..count), or -1. */
static int om_values_find(const char *const *names, size_t count,
			  const char *name)
{
	size_t i;

	if (name == NULL)
		return -1;
	for (i = 1; i < count; i++) {
		if (names[i] != NULL && strcmp(names[i], name) == 0)
			return (int)i;
	}
	return -1;
}

const char *om_verdict_name(enum om_verdict verdict)
{
	return om_values_name(om_verdict_names, OM_N_ELEMENTS(om_verdict_names),
			      (long)verdict);
}

const char *om_action_name(enum om_action action)
{
	return om_values_name(om_action_names, OM_N_ELEMENTS(om_action_names),
			      (long)action);
}

const char *om_spam_action_name(enum om_spam_action action)
{
	return om_values_name(om_spam_action_names,
			      OM_N_ELEMENTS(om_spam_action_names), (long)action);
}

const char *om_direction_name(enum om_direction direction)
{
	return om_values_name(om_direction_names, OM_N_ELEMENTS(om_direction_names),
			      (long)direction);
}

const char *om_learn_name(enum om_learn learn)
{
	return om_values_name(om_learn_names, OM_N_ELEMENTS(om_learn_names),
			      (long)learn);
}

int om_verdict_parse(const char *name, enum om_verdict *verdict_r)
{
	int i = om_values_find(om_verdict_names, OM_N_ELEMENTS(om_verdict_names), name);

	if (i < 0)
		return -1;
	*verdict_r = (enum om_verdict)i;
	return 0;
}

int om_action_parse(const char *name, enum om_action *action_r)
{
	int i = om_values_find(om_action_names, OM_N_ELEMENTS(om_action_names), name);

	if (i < 0)
		return -1;
	*action_r = (enum om_action)i;
	return 0;
}

int om_spam_action_parse(const char *name, enum om_spam_action *action_r)
{
	int i = om_values_find(om_spam_action_names,
			       OM_N_ELEMENTS(om_spam_action_names), name);

	if (i < 0)
		return -1;
	*action_r = (enum om_spam_action)i;
	return 0;
}

int om_direction_parse(const char *name, enum om_direction *direction_r)
{
	int i = om_values_find(om_direction_names,
			       OM_N_ELEMENTS(om_direction_names), name);

	if (i < 0)
		return -1;
	*direction_r = (enum om_direction)i;
	return 0;
}

int om_learn_parse(const char *name, enum om_learn *learn_r)
{
	int i = om_values_find(om_learn_names, OM_N_ELEMENTS(om_learn_names), name);

	if (i < 0)
		return -1;
	*learn_r = (enum om_learn)i;
	return 0;
}

const char *om_url_kind_name(enum om_url_kind kind)
{
	return om_values_name(om_url_kind_names, OM_N_ELEMENTS(om_url_kind_names),
			      (long)kind);
}

const char *om_url_verdict_name(enum om_url_verdict verdict)
{
	return om_values_name(om_url_verdict_names,
			      OM_N_ELEMENTS(om_url_verdict_names), (long)verdict);
}

int om_url_kind_parse(const char *name, enum om_url_kind *kind_r)
{
	int i = om_values_find(om_url_kind_names, OM_N_ELEMENTS(om_url_kind_names),
			       name);

	if (i < 0)
		return -1;
	*kind_r = (enum om_url_kind)i;
	return 0;
}

int om_url_verdict_parse(const char *name, enum om_url_verdict *verdict_r)
{
	int i = om_values_find(om_url_verdict_names,
			       OM_N_ELEMENTS(om_url_verdict_names), name);

	if (i < 0)
		return -1;
	*verdict_r = (enum om_url_verdict)i;
	return 0;
}

const char *om_ar_result_name(enum om_ar_result result)
{
	return om_values_name(om_ar_result_names, OM_N_ELEMENTS(om_ar_result_names),
			      (long)result);
}

int om_ar_result_parse(const char *name, enum om_ar_result *result_r)
{
	int i = om_values_find(om_ar_result_names, OM_N_ELEMENTS(om_ar_result_names),
			       name);

	if (i < 0)
		return -1;
	*result_r = (enum om_ar_result)i;
	return 0;
}

const char *om_links_done_name(enum om_links_done done)
{
	return om_values_name(om_links_done_names, OM_N_ELEMENTS(om_links_done_names),
			      (long)done);
}

int om_links_done_parse(const char *name, enum om_links_done *done_r)
{
	int i = om_values_find(om_links_done_names, OM_N_ELEMENTS(om_links_done_names),
			       name);

	if (i < 0)
		return -1;
	*done_r = (enum om_links_done)i;
	return 0;
}
