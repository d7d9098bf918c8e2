/* test-config.c - unit tests of config.c: defaults, bounds, clear errors. */
#include "tap.h"
#include "lib/om-config.h"
#include "lib/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct config_case {
	const char *label, *text;
	int ok;
	const char *error_part;	/* what the error must mention */
};

static const struct config_case config_cases[] = {
	{ "empty file gives defaults", "", 1, NULL },
	{ "comments and blanks", "# c\n\n  # d\n", 1, NULL },
	{ "values set", "scand_workers = 8\nlog = stderr\nscand_failure_action = accept\n", 1, NULL },
	{ "unknown parameter", "scand_wrokers = 2\n", 0, "line 1: unknown parameter 'scand_wrokers'" },
	{ "below minimum", "\nscand_workers = 0\n", 0, "line 2: parameter scand_workers: 0 is outside 1..256" },
	{ "not a number", "scan_max_parts = many\n", 0, "'many' is not a number" },
	{ "bad enum", "scand_failure_action = maybe\n", 0, "not one of: tempfail, accept" },
	{ "bad language", "default_language = fr\n", 0, "not one of: ja, en" },
	{ "no equals sign", "store_path /x\n", 0, "expected 'name = value'" },
	{ "outbound_filter set", "outbound_filter = omamori-out:dummy\n", 1, NULL },
	{ "outbound_filter, empty nexthop", "outbound_filter = omamori-out:\n", 1, NULL },
	{ "outbound_filter, an lmtp unix nexthop", "outbound_filter = omamori-out:unix:omamori/filter\n", 1, NULL },
	{ "outbound_filter without ':'", "outbound_filter = omamori-out\n", 0,
	  "parameter outbound_filter: 'omamori-out' is not TRANSPORT:NEXTHOP" },
	{ "outbound_filter, no transport", "outbound_filter = :dummy\n", 0, "is not TRANSPORT:NEXTHOP" },
	{ "outbound_filter, space in nexthop", "outbound_filter = out:a b\n", 0,
	  "nexthop contains a space" },
	{ "idle timeout below minimum", "policyd_idle_timeout = 0\n", 0,
	  "parameter policyd_idle_timeout: 0 is outside 1..86400" },
	{ "inet cap below minimum", "policyd_inet_max_connections = 0\n", 0,
	  "parameter policyd_inet_max_connections: 0 is outside" },
	{ "selftest_smtp IPv4", "selftest_smtp = 127.0.0.1:10025\n", 1, NULL },
	{ "selftest_smtp IPv6", "selftest_smtp = [::1]:25\n", 1, NULL },
	{ "selftest_smtp a name", "selftest_smtp = localhost:25\n", 0,
	  "parameter selftest_smtp: not ADDRESS:PORT" },
	{ "selftest_smtp no port", "selftest_smtp = 127.0.0.1\n", 0,
	  "parameter selftest_smtp: not ADDRESS:PORT" },
	{ "selftest_smtp port 0", "selftest_smtp = 127.0.0.1:0\n", 0,
	  "parameter selftest_smtp: not ADDRESS:PORT" },
	{ "selftest_smtp IPv6 without brackets", "selftest_smtp = ::1:25\n", 0,
	  "parameter selftest_smtp: not ADDRESS:PORT" },
	{ "selftest_timeout below minimum", "selftest_timeout = 4\n", 0,
	  "parameter selftest_timeout: 4 is outside 5..3600" },
	{ "a parameter set twice", "scand_workers = 2\nlog = stderr\nscand_workers = 3\n", 1,
	  NULL },
	{ "a retired parameter", "policyd_max_connections = 100\n", 1, NULL },
};

static void test_cases(void)
{
	char path[] = "/tmp/om-test-config-XXXXXX";
	struct om_config *config;
	char *error;
	size_t i;
	int fd, ret;

	for (i = 0; i < OM_N_ELEMENTS(config_cases); i++) {
		const struct config_case *c = &config_cases[i];

		strcpy(path, "/tmp/om-test-config-XXXXXX");
		fd = mkstemp(path);
		if (fd < 0 || write(fd, c->text, strlen(c->text)) < 0)
			abort();
		close(fd);
		error = NULL;
		config = NULL;
		ret = om_config_load(path, &config, &error);
		if (c->ok)
			TAP_OK(ret == 0, "config: %s", c->label);
		else
			TAP_OK(ret < 0 && error != NULL && strstr(error, c->error_part) != NULL &&
			       strstr(error, path) != NULL, "config: %s (%s)", c->label,
			       error != NULL ? error : "no error");
		if (ret == 0 && strcmp(c->label, "values set") == 0)
			TAP_OK(config->scand_workers == 8 &&
			       config->scand_failure_action == OM_FAILURE_ACCEPT &&
			       strcmp(config->warnings, "") == 0,
			       "config: values reach the struct, no warning");
		if (ret == 0 && strcmp(c->label, "a retired parameter") == 0)
			TAP_OK(strstr(config->warnings, "line 1: policyd_max_connections is no "
				      "longer used (see policyd_unix_max_connections and "
				      "policyd_inet_max_connections): ignored\n") != NULL,
			       "config: a retired parameter is ignored and said (%s)",
			       config->warnings);
		if (ret == 0 && strcmp(c->label, "a parameter set twice") == 0)
			TAP_OK(config->scand_workers == 3 &&
			       strstr(config->warnings, "line 3: scand_workers is set again "
				      "(first on line 1); the last line counts\n") != NULL &&
			       strstr(config->warnings, path) != NULL &&
			       strstr(config->warnings, "log is set") == NULL,
			       "config: the last line counts, and it is said (%s)",
			       config->warnings);
		om_config_free(&config);
		free(error);
		unlink(path);
	}
}

static void test_defaults_and_missing(void)
{
	struct om_config *config = om_config_defaults();
	char *error = NULL, *dump;

	TAP_OK(config->scan_max_parts == 1000 && config->scand_failure_action == OM_FAILURE_TEMPFAIL,
	       "defaults: tempfail on scanner failure, 1000 parts");
	dump = om_config_dump(config);
	TAP_OK(strstr(dump, "scan_limit_action = quarantine\n") != NULL, "dump lists every parameter");
	free(dump);
	om_config_free(&config);
	TAP_OK(config == NULL, "free sets the pointer to NULL");
	TAP_OK(om_config_load("/nonexistent/omamori.conf", &config, &error) < 0 &&
	       strstr(error, "/nonexistent/omamori.conf") != NULL, "missing file is an error naming it");
	free(error);
}

/* omamori.conf(5): every parameter the dump knows has its entry, with its
   sentence, default and bounds. */
static void test_man_page(void)
{
	struct om_config *config = om_config_defaults();
	char *error = NULL, *man = om_config_man("9.9", &error);
	char *dump = om_config_dump(config), *line, *save = NULL, *eq;
	char want[200];
	int missing = 0, params = 0;

	TAP_OK(man != NULL, "omamori.conf(5) renders: every parameter has its sentence");
	if (man == NULL) {
		fprintf(stderr, "# %s\n", error);
		free(error);
		man = om_strdup("");
	}
	for (line = strtok_r(dump, "\n", &save); line != NULL;
	     line = strtok_r(NULL, "\n", &save)) {
		if ((eq = strstr(line, " = ")) == NULL)
			continue;
		*eq = '\0';
		params++;
		(void)snprintf(want, sizeof(want), ".TP\n.B %s\n", line);
		if (strstr(man, want) == NULL) {
			fprintf(stderr, "# no entry for %s\n", line);
			missing++;
		}
	}
	TAP_OK(params > 50 && missing == 0, "the page has an entry for each of the %d parameters", params);
	TAP_OK(strstr(man, ".B scand_workers\n") != NULL &&
	       strstr(man, "Default: 4. From 1 to 256.") != NULL,
	       "a number's default and bounds come from the parser's table");
	TAP_OK(strstr(man, "One of: tempfail, accept.") != NULL, "a choice's values are listed");
	TAP_OK(strstr(man, ".TH OMAMORI.CONF 5 \"\" \"omamori 9.9\"") != NULL, "the version is on the page");
	TAP_OK(om_config_param_doc("no_such_parameter") == NULL, "an unknown name has no sentence");
	free(man);
	free(dump);
	om_config_free(&config);
}

int main(void)
{
	test_cases();
	test_defaults_and_missing();
	test_man_page();
	return tap_done();
}
