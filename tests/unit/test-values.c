/* test-values.c - unit tests of values.c: every name of every typed value
 * round trips, and what is no value (none, a word of a newer peer, a word
 * in capitals, a number past the enum) has no name and no value. */
#include "tap.h"
#include "lib/values.h"
#include "lib/util.h"

#include <string.h>

struct value_case {
	const char *kind;
	const char *name;	/* NULL: the value has no name */
	int value;
};

static const struct value_case value_cases[] = {
	{ "verdict", "clean", OM_VERDICT_CLEAN },
	{ "verdict", "virus", OM_VERDICT_VIRUS },
	{ "verdict", "spam", OM_VERDICT_SPAM },
	{ "verdict", "unscanned", OM_VERDICT_UNSCANNED },
	{ "verdict", NULL, OM_VERDICT_NONE },
	{ "verdict", NULL, OM_VERDICT_UNSCANNED + 1 },
	{ "verdict", NULL, -1 },
	{ "action", "deliver", OM_ACTION_DELIVER },
	{ "action", "strip", OM_ACTION_STRIP },
	{ "action", "replace", OM_ACTION_REPLACE },
	{ "action", "quarantine", OM_ACTION_QUARANTINE },
	{ "action", "tempfail", OM_ACTION_TEMPFAIL },
	{ "action", NULL, OM_ACTION_NONE },
	{ "action", "quarantine-admin", OM_ACTION_QUARANTINE_ADMIN },
	{ "action", "discard", OM_ACTION_DISCARD },
	{ "action", NULL, OM_ACTION_DISCARD + 1 },
	{ "spam action", "deliver", OM_SPAM_ACTION_DELIVER },
	{ "spam action", "tag", OM_SPAM_ACTION_TAG },
	{ "spam action", "header", OM_SPAM_ACTION_HEADER },
	{ "spam action", "quarantine", OM_SPAM_ACTION_QUARANTINE },
	{ "spam action", NULL, OM_SPAM_ACTION_NONE },
	{ "spam action", NULL, OM_SPAM_ACTION_QUARANTINE + 1 },
	{ "direction", "in", OM_DIRECTION_IN },
	{ "direction", "out", OM_DIRECTION_OUT },
	{ "direction", NULL, OM_DIRECTION_NONE },
	{ "direction", NULL, OM_DIRECTION_OUT + 1 },
	{ "learn", "spam", OM_LEARN_SPAM },
	{ "learn", "ham", OM_LEARN_HAM },
	{ "learn", NULL, OM_LEARN_NONE },
	{ "learn", NULL, OM_LEARN_HAM + 1 },
};

/* The name of value in kind. */
static const char *name_of(const char *kind, int value)
{
	if (strcmp(kind, "verdict") == 0)
		return om_verdict_name((enum om_verdict)value);
	if (strcmp(kind, "action") == 0)
		return om_action_name((enum om_action)value);
	if (strcmp(kind, "spam action") == 0)
		return om_spam_action_name((enum om_spam_action)value);
	if (strcmp(kind, "direction") == 0)
		return om_direction_name((enum om_direction)value);
	return om_learn_name((enum om_learn)value);
}

/* The value of name in kind, or -1; *value_r is left alone on -1. */
static int value_of(const char *kind, const char *name, int *value_r)
{
	enum om_verdict v = OM_VERDICT_NONE;
	enum om_action a = OM_ACTION_NONE;
	enum om_spam_action s = OM_SPAM_ACTION_NONE;
	enum om_direction d = OM_DIRECTION_NONE;
	enum om_learn l = OM_LEARN_NONE;
	int ret;

	if (strcmp(kind, "verdict") == 0) {
		ret = om_verdict_parse(name, &v);
		*value_r = (int)v;
	} else if (strcmp(kind, "action") == 0) {
		ret = om_action_parse(name, &a);
		*value_r = (int)a;
	} else if (strcmp(kind, "spam action") == 0) {
		ret = om_spam_action_parse(name, &s);
		*value_r = (int)s;
	} else if (strcmp(kind, "direction") == 0) {
		ret = om_direction_parse(name, &d);
		*value_r = (int)d;
	} else {
		ret = om_learn_parse(name, &l);
		*value_r = (int)l;
	}
	return ret;
}

static void test_names(void)
{
	const struct value_case *c;
	const char *name;
	int value;
	size_t i;

	for (i = 0; i < OM_N_ELEMENTS(value_cases); i++) {
		c = &value_cases[i];
		name = name_of(c->kind, c->value);
		if (c->name == NULL) {
			TAP_OK(name == NULL, "%s %d has no name", c->kind, c->value);
			continue;
		}
		TAP_OK(name != NULL && strcmp(name, c->name) == 0 &&
		       value_of(c->kind, c->name, &value) == 0 && value == c->value,
		       "%s %s round trips", c->kind, c->name);
	}
}

static const char *const unknown_words[] = {
	"", "none", "deliver-all", "DELIVER", "Clean", " in", "spam ", "reject",
};

static void test_unknown_words(void)
{
	static const char *const kinds[] = {
		"verdict", "action", "spam action", "direction", "learn"
	};
	size_t i, k;
	int value, refused;

	for (i = 0; i < OM_N_ELEMENTS(unknown_words); i++) {
		refused = 1;
		for (k = 0; k < OM_N_ELEMENTS(kinds); k++) {
			value = 77;
			if (value_of(kinds[k], unknown_words[i], &value) == 0 || value != 0)
				refused = 0;
		}
		TAP_OK(refused, "'%s' is no value of any kind", unknown_words[i]);
	}
	TAP_OK(value_of("action", NULL, &value) < 0, "no name is no value");
}

int main(void)
{
	test_names();
	test_unknown_words();
	return tap_done();
}
