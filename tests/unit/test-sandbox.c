/* test-sandbox - the sandbox hook's command (scan/sandbox.h): the verdict
 * words, the file's hash, and real commands (shell scripts the test
 * writes, started without a shell by omamori): the file on stdin and in
 * OMAMORI_SANDBOX_FILE, each answer, a failure, a timeout, a relative
 * path; the private directory gone afterwards. */
#include "tap.h"
#include "scan/sandbox.h"
#include "lib/util.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static char dir[] = "/tmp/om-test-sandbox-XXXXXX";

static char *script(const char *name, const char *body)
{
	char *path = om_asprintf("%s/%s", dir, name);
	FILE *f = fopen(path, "w");

	if (f == NULL || fprintf(f, "#!/bin/sh\n%s\n", body) < 0 || fclose(f) != 0 ||
	    chmod(path, 0755) < 0)
		abort();
	return path;
}

/* Entries of the scratch directory other than the scripts'. */
static int leftovers(const char *tmp)
{
	struct dirent *e;
	DIR *d = opendir(tmp);
	int n = 0;

	if (d == NULL)
		abort();
	while ((e = readdir(d)) != NULL)
		n += strncmp(e->d_name, "omamori-sandbox-", 16) == 0;
	(void)closedir(d);
	return n;
}

/* sandbox_max_concurrent: the gate's slots. */
static void test_gate(void)
{
	struct om_sandbox_gate *gate = om_sandbox_gate_new(2);

	TAP_OK(om_sandbox_gate_enter(gate) == 1 && om_sandbox_gate_enter(gate) == 1,
	       "gate: two runs of two enter");
	TAP_OK(om_sandbox_gate_enter(gate) == 0, "gate: a third waits (not entered)");
	om_sandbox_gate_leave(gate);
	TAP_OK(om_sandbox_gate_enter(gate) == 1, "gate: a slot given back is taken again");
	TAP_OK(om_sandbox_gate_enter(gate) == 0, "gate: and then full again");
	om_sandbox_gate_leave(gate);
	om_sandbox_gate_leave(gate);
	om_sandbox_gate_free(&gate);
	TAP_OK(gate == NULL, "gate: freed");
}

int main(void)
{
	char hash[OM_SANDBOX_HASH_LEN + 1], *error = NULL, *s, *tmp, *cmd;
	const char data[] = "MZ sample";
	enum om_sandbox_verdict v;
	time_t start;

	if (mkdtemp(dir) == NULL)
		abort();
	tmp = om_asprintf("%s/tmp", dir);
	if (mkdir(tmp, 0700) < 0)
		abort();
	test_gate();
	om_sandbox_hash("", 0, hash);
	TAP_OK(strcmp(hash, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855") == 0,
	       "hash: SHA-256 in hex");
	TAP_OK(om_sandbox_verdict_parse("Malicious", 9) == OM_SANDBOX_MALICIOUS &&
	       om_sandbox_verdict_parse("clean", 5) == OM_SANDBOX_CLEAN &&
	       om_sandbox_verdict_parse("cleanx", 6) == OM_SANDBOX_FAILED &&
	       om_sandbox_verdict_parse("", 0) == OM_SANDBOX_FAILED, "verdict words");
	om_sandbox_hash(data, sizeof(data) - 1, hash);
	/* stdin, the file and the hash must agree: then malicious */
	s = script("check", "in=$(cat); f=$(cat \"$OMAMORI_SANDBOX_FILE\")\n"
		   "[ \"$in\" = 'MZ sample' ] && [ \"$f\" = \"$in\" ] && "
		   "[ \"$OMAMORI_SANDBOX_NAME\" = 'a.exe' ] && "
		   "[ ${#OMAMORI_SANDBOX_SHA256} = 64 ] && echo '  malicious extra' && exit 0\n"
		   "echo clean");
	v = om_sandbox_run(s, "a.exe", hash, data, sizeof(data) - 1, 5, tmp, &error);
	TAP_OK(v == OM_SANDBOX_MALICIOUS, "the file on stdin and as a path: %s",
	       om_sandbox_verdict_word(v));
	TAP_OK(leftovers(tmp) == 0, "the private directory is removed");
	free(s);
	s = script("pending", "cat >/dev/null; touch \"$OMAMORI_SANDBOX_FILE.more\"; echo pending");
	TAP_OK(om_sandbox_run(s, NULL, hash, data, 9, 5, tmp, &error) == OM_SANDBOX_PENDING &&
	       leftovers(tmp) == 0, "pending; files the command left are removed too");
	free(s);
	s = script("fail", "echo malicious; exit 3");
	TAP_OK(om_sandbox_run(s, NULL, hash, data, 9, 5, tmp, &error) == OM_SANDBOX_FAILED &&
	       strstr(error, "status 3") != NULL, "a failing command fails");
	om_free(&error);
	free(s);
	s = script("garbage", "echo maybe");
	TAP_OK(om_sandbox_run(s, NULL, hash, data, 9, 5, tmp, &error) == OM_SANDBOX_FAILED &&
	       strstr(error, "'maybe'") != NULL, "an unknown answer fails");
	om_free(&error);
	free(s);
	s = script("slow", "sleep 30; echo clean");
	start = time(NULL);
	v = om_sandbox_run(s, NULL, hash, data, 9, 1, tmp, &error);
	TAP_OK(v == OM_SANDBOX_FAILED && time(NULL) - start <= 3 &&
	       strstr(error, "no answer") != NULL, "a timeout kills it");
	om_free(&error);
	free(s);
	cmd = om_strdup("sandbox-tool --x");
	TAP_OK(om_sandbox_run(cmd, NULL, hash, data, 9, 1, tmp, &error) == OM_SANDBOX_FAILED &&
	       strstr(error, "absolute path") != NULL, "a relative command is refused");
	om_free(&error);
	free(cmd);
	s = script("args", "[ \"$1\" = '--mode' ] && [ \"$2\" = 'x;y' ] && echo unknown");
	cmd = om_asprintf("%s --mode x;y", s);
	TAP_OK(om_sandbox_run(cmd, NULL, hash, data, 9, 5, tmp, &error) == OM_SANDBOX_UNKNOWN,
	       "arguments split on blanks, no shell");
	om_free(&error);
	free(cmd);
	free(s);
	TAP_OK(om_sandbox_url_check("http://127.0.0.1:8080/a", &error) == 0 &&
	       om_sandbox_url_check("https://localhost/a", &error) == 0 &&
	       om_sandbox_url_check("http://[::1]:9/", &error) == 0, "loopback URLs taken");
	TAP_OK(om_sandbox_url_check("http://192.0.2.1/a", &error) < 0, "another host refused");
	om_free(&error);
	TAP_OK(om_sandbox_url_check("http://127.0.0.1.evil.example/", &error) < 0, "a look-alike refused");
	om_free(&error);
	TAP_OK(om_sandbox_url_check("file:///etc/passwd", &error) < 0, "file: refused");
	om_free(&error);
	free(tmp);
	return tap_done();
}
