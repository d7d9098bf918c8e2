/* links-bench.c - bench/links' two halves (issue 15), not a tool for admins.
 *
 *   links-bench rewrite DIR MAX KEYFILE
 *       reads up to MAX files of DIR that have an HTML part, then times the
 *       link step as scand runs it on each: parse (GMime), the banner and
 *       every link disabled (libxml2 for HTML), written again; then the
 *       same with every link rewritten through the gate (a U1 token signed
 *       per link with KEYFILE).  Prints messages/s, links/message, RSS.
 *   links-bench token KEYFILE MAILBOX URL
 *       prints the gate's token for URL (as scand makes it), for the
 *       click benchmark.
 */
#include "crypto/token.h"
#include "lib/util.h"
#include "mail/linkrw.h"
#include "mail/mime.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

struct lb_gate {
	struct om_link_keys keys;
	size_t made;
};

static char *lb_gate_url(void *context, const char *url)
{
	struct lb_gate *g = context;
	struct om_token_url link;
	char *token, *gate;

	memset(&link, 0, sizeof(link));
	if (om_strlcpy(link.url, url, sizeof(link.url)) < 0)
		return NULL;
	(void)om_strlcpy(link.mailbox, "user1@example.test", sizeof(link.mailbox));
	(void)om_strlcpy(link.message, "bench@example.test", sizeof(link.message));
	link.expires = time(NULL) + 86400;
	token = om_token_url_make(&g->keys, &link);
	if (token == NULL)
		return NULL;
	gate = om_asprintf("https://web.example/u/%s", token);
	free(token);
	g->made++;
	return gate;
}

static double lb_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static long lb_rss_kb(void)
{
	FILE *f = fopen("/proc/self/status", "r");
	char line[256];
	long kb = -1;

	if (f == NULL)
		return -1;
	while (fgets(line, sizeof(line), f) != NULL) {
		if (strncmp(line, "VmHWM:", 6) == 0)
			kb = atol(line + 6);
	}
	fclose(f);
	return kb;
}

struct lb_mail {
	char *data;
	size_t len;
};

static size_t lb_load(const char *dir, size_t max, struct lb_mail **mails_r, size_t *bytes_r)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	struct lb_mail *mails = om_calloc(max, sizeof(*mails));
	size_t n = 0;
	char *path, *data, *error = NULL;
	size_t len;

	*bytes_r = 0;
	while (d != NULL && n < max && (e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.')
			continue;
		path = om_asprintf("%s/%s", dir, e->d_name);
		if (om_read_file(path, 4 * 1024 * 1024, &data, &len, &error) == 0 &&
		    strcasestr(data, "text/html") != NULL) {
			mails[n].data = data;
			mails[n++].len = len;
			*bytes_r += len;
		} else if (error == NULL) {
			free(data);
		}
		om_free(&error);
		free(path);
	}
	if (d != NULL)
		closedir(d);
	*mails_r = mails;
	return n;
}

static double lb_run(struct lb_mail *mails, size_t n, const struct om_linkrw *rw,
		     size_t *links_r)
{
	struct om_mime_msg *msg;
	struct om_buf out;
	char *error = NULL;
	double start = lb_now();
	size_t i;

	*links_r = 0;
	om_buf_init(&out);
	for (i = 0; i < n; i++) {
		msg = om_mime_parse(mails[i].data, mails[i].len, &error);
		om_free(&error);
		if (msg == NULL)
			continue;
		*links_r += om_linkrw_message(msg, rw);
		om_buf_reset(&out);
		om_mime_write(msg, &out);
		om_mime_free(&msg);
	}
	om_buf_free(&out);
	return lb_now() - start;
}

static int lb_rewrite(const char *dir, size_t max, const char *keyfile)
{
	struct lb_gate gate;
	struct om_linkrw rw = { OM_LINKS_DISABLE, "<ISP> 注意！なりすましメールの可能性があります。",
				lb_gate_url, &gate };
	struct lb_mail *mails;
	size_t n, bytes, links, i;
	char *error = NULL;
	double secs;
	long rss;

	memset(&gate, 0, sizeof(gate));
	if (om_link_keys_load(keyfile, OM_LINK_SIGNERS_ALL, &gate.keys, &error) < 0) {
		fprintf(stderr, "links-bench: %s\n", error);
		return 2;
	}
	om_mime_global_init();
	n = lb_load(dir, max, &mails, &bytes);
	printf("HTML mails: %zu (%.1f MB)\n", n, (double)bytes / 1e6);
	(void)lb_run(mails, n < 50 ? n : 50, &rw, &links);	/* warm */
	secs = lb_run(mails, n, &rw, &links);
	printf("disable (banner, links defanged): %.0f messages/s, %.1f MB/s, %.1f links/message\n",
	       (double)n / secs, (double)bytes / 1e6 / secs, n > 0 ? (double)links / (double)n : 0.0);
	rw.mode = OM_LINKS_REWRITE;
	rw.banner = NULL;
	secs = lb_run(mails, n, &rw, &links);
	printf("rewrite (through the gate, a signed token a link): %.0f messages/s, %.1f MB/s, "
	       "%.1f links/message\n", (double)n / secs, (double)bytes / 1e6 / secs,
	       n > 0 ? (double)links / (double)n : 0.0);
	rss = lb_rss_kb();
	printf("peak RSS: %.1f MB (the mails held in memory: %.1f MB)\n",
	       (double)rss / 1024.0, (double)bytes / 1e6);
	for (i = 0; i < n; i++)
		free(mails[i].data);
	free(mails);
	return 0;
}

static int lb_token(const char *keyfile, const char *mailbox, const char *url)
{
	struct om_link_keys keys;
	struct om_token_url link;
	char *error = NULL, *token;

	if (om_link_keys_load(keyfile, OM_LINK_SIGNERS_ALL, &keys, &error) < 0) {
		fprintf(stderr, "links-bench: %s\n", error);
		return 2;
	}
	memset(&link, 0, sizeof(link));
	if (om_strlcpy(link.url, url, sizeof(link.url)) < 0 ||
	    om_strlcpy(link.mailbox, mailbox, sizeof(link.mailbox)) < 0)
		return 2;
	link.expires = time(NULL) + 86400;
	token = om_token_url_make(&keys, &link);
	if (token == NULL)
		return 2;
	printf("%s\n", token);
	free(token);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 5 && strcmp(argv[1], "rewrite") == 0)
		return lb_rewrite(argv[2], (size_t)atol(argv[3]), argv[4]);
	if (argc == 5 && strcmp(argv[1], "token") == 0)
		return lb_token(argv[2], argv[3], argv[4]);
	fprintf(stderr, "usage: links-bench rewrite DIR MAX KEYFILE | token KEYFILE MAILBOX URL\n");
	return 2;
}
