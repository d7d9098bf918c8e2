/* cmd-scan.c - omamorictl scan: one message through omamori-scand, the
 * result as JSON (or text for people).
 *
 * Goes through the daemon, not a private engine, so what it prints is what
 * a delivery would get: virus and spam checks, the spam verdict for the
 * --mailbox given (its lists, threshold and action), or for the global
 * defaults without one.  Exit status: 0 clean, 1 not clean (virus, spam,
 * unscanned), 2 error.
 */
#include "omamorictl.h"
#include "proto/proto.h"
#include "lib/util.h"

#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct ctl_scan_opts {
	const char *mailbox;
	const char *sender;
	enum om_direction direction;
	const char *output;
	int text;
};

/* "A,B,C" as JSON strings. */
static void ctl_scan_json_rules(struct om_buf *b, const char *rules)
{
	const char *p = rules;
	size_t n;
	char *name;

	while (p != NULL && *p != '\0') {
		n = strcspn(p, ",");
		name = om_strndup(p, n);
		if (p != rules)
			om_buf_append_str(b, ",");
		om_buf_append_json_str(b, name);
		free(name);
		p += n;
		if (*p == ',')
			p++;
	}
}

static void ctl_scan_json(const struct om_scan_result *res)
{
	struct om_buf b;
	size_t i;

	om_buf_init(&b);
	om_buf_append_str(&b, "{\"verdict\":");
	om_buf_append_json_str(&b, om_verdict_name(res->verdict));
	om_buf_append_str(&b, ",\"action\":");
	om_buf_append_json_str(&b, om_action_name(res->action));
	om_buf_append_str(&b, ",\"virus\":");
	om_buf_append_json_str(&b, res->virus);
	om_buf_append_str(&b, ",\"reason\":");
	om_buf_append_json_str(&b, res->reason);
	om_buf_printf(&b, ",\"score\":%s,\"rules\":[",
		      res->spam_score != NULL ? res->spam_score : "null");
	ctl_scan_json_rules(&b, res->spam_rules);
	om_buf_append_str(&b, "],\"spam_action\":");
	om_buf_append_json_str(&b, om_spam_action_name(res->spam_action));
	om_buf_append_str(&b, ",\"listed\":");
	om_buf_append_json_str(&b, res->spam_listed);
	om_buf_append_str(&b, ",\"spam_reason\":");
	om_buf_append_json_str(&b, res->spam_reason);
	om_buf_printf(&b, ",\"message_changed\":%s,\"parts\":[",
		      res->message != NULL ? "true" : "false");
	for (i = 0; i < res->part_count; i++) {
		const struct om_scan_part *p = &res->parts[i];

		om_buf_append_str(&b, i == 0 ? "{\"path\":" : ",{\"path\":");
		om_buf_append_json_str(&b, p->path);
		om_buf_append_str(&b, ",\"type\":");
		om_buf_append_json_str(&b, p->content_type);
		om_buf_append_str(&b, ",\"filename\":");
		om_buf_append_json_str(&b, p->filename);
		om_buf_append_str(&b, ",\"verdict\":");
		om_buf_append_json_str(&b, om_verdict_name(p->verdict));
		om_buf_append_str(&b, ",\"virus\":");
		om_buf_append_json_str(&b, p->virus);
		om_buf_append_str(&b, "}");
	}
	om_buf_append_str(&b, "]}\n");
	fputs(b.data, stdout);
	om_buf_free(&b);
}

/* The spam reasons, one a line (scand joins them with "; "). */
static void ctl_scan_text_reasons(const char *reasons)
{
	const char *p = reasons, *sep;

	while (p != NULL && *p != '\0') {
		sep = strstr(p, "; ");
		printf("%s %.*s\n", p == reasons ? "why:    " : "        ",
		       (int)(sep != NULL ? (size_t)(sep - p) : strlen(p)), p);
		p = sep != NULL ? sep + 2 : NULL;
	}
}

static void ctl_scan_text(const struct om_scan_result *res)
{
	size_t i;

	/* the decoder let no result without both through */
	printf("verdict: %s\naction:  %s\n", om_verdict_name(res->verdict),
	       om_action_name(res->action));
	if (res->virus != NULL)
		printf("virus:   %s\n", res->virus);
	if (res->reason != NULL)
		printf("reason:  %s\n", res->reason);
	if (res->spam_score != NULL)
		printf("score:   %s (%s)\n", res->spam_score,
		       res->spam_rules != NULL ? res->spam_rules : "");
	if (res->spam_action != OM_SPAM_ACTION_NONE)
		printf("spam:    %s\n", om_spam_action_name(res->spam_action));
	if (res->spam_listed != NULL)
		printf("listed:  %s\n", res->spam_listed);
	ctl_scan_text_reasons(res->spam_reason);
	for (i = 0; i < res->part_count; i++) {
		const struct om_scan_part *p = &res->parts[i];

		printf("  part %-6s %-9s %-30s %s%s%s\n", p->path,
		       om_verdict_name(p->verdict),
		       p->content_type != NULL ? p->content_type : "-",
		       p->filename != NULL ? p->filename : "",
		       p->virus != NULL ? " " : "",
		       p->virus != NULL ? p->virus : "");
	}
}

/* The exit status of a verdict: 0 only for clean. */
static enum ctl_exit ctl_scan_exit(enum om_verdict verdict)
{
	switch (verdict) {
	case OM_VERDICT_CLEAN:
		return CTL_EXIT_OK;
	case OM_VERDICT_VIRUS:
	case OM_VERDICT_SPAM:
	case OM_VERDICT_UNSCANNED:
		return CTL_EXIT_NOT_CLEAN;
	case OM_VERDICT_NONE:
		break;
	}
	return CTL_EXIT_ERROR;
}

static int ctl_scan_write_output(const char *path,
				 const struct om_scan_result *res,
				 const char *original, size_t original_len)
{
	const char *data = res->message != NULL ? res->message : original;
	size_t len = res->message != NULL ? res->message_len : original_len;
	FILE *f = fopen(path, "w");

	if (f == NULL)
		return ctl_error("cannot write %s", path);
	if (fwrite(data, 1, len, f) != len || fclose(f) != 0)
		return ctl_error("cannot write %s", path);
	return 0;
}

static int ctl_scan_parse(int argc, char **argv, struct ctl_scan_opts *opts)
{
	static const struct option longopts[] = {
		{ "mailbox", required_argument, NULL, 'm' },
		{ "sender", required_argument, NULL, 's' },
		{ "direction", required_argument, NULL, 'd' },
		{ "text", no_argument, NULL, 't' },
		{ "output", required_argument, NULL, 'o' },
		{ NULL, 0, NULL, 0 }
	};
	int c;

	optind = 1;
	while ((c = getopt_long(argc, argv, "+m:s:d:to:", longopts, NULL)) != -1) {
		switch (c) {
		case 'm': opts->mailbox = optarg; break;
		case 's': opts->sender = optarg; break;
		case 'd':
			if (om_direction_parse(optarg, &opts->direction) < 0)
				return ctl_error("--direction must be in or out"), -1;
			break;
		case 't': opts->text = 1; break;
		case 'o': opts->output = optarg; break;
		default: return -1;
		}
	}
	return optind == argc - 1 ? optind : -1;
}

int ctl_cmd_scan(struct ctl *ctl, int argc, char **argv)
{
	struct ctl_scan_opts opts = { "", "", OM_DIRECTION_IN, NULL, 0 };
	struct om_scan_request req;
	struct om_scan_result res;
	char *data = NULL, *error = NULL;
	size_t len;
	int idx, ret;

	/* getopt wants argv[0] to be the command name */
	idx = ctl_scan_parse(argc + 1, argv - 1, &opts);
	if (idx < 0)
		return ctl_error("usage: scan [--mailbox ADDR] [--sender ADDR] [--direction in|out] "
				 "[--text] [-o OUT] FILE|-");
	if (om_read_file(argv[idx - 1], (size_t)ctl->config->scan_max_size,
			 &data, &len, &error) < 0) {
		return ctl_fail(error);
	}
	memset(&req, 0, sizeof(req));
	req.session_id = (char *)"omamorictl";
	req.mailbox = (char *)opts.mailbox;
	req.direction = opts.direction;
	req.mail_from = (char *)opts.sender;
	req.checks = OM_CHECK_VIRUS | OM_CHECK_SPAM;
	req.message = data;
	req.message_len = len;
	if (om_scand_scan(ctl->config->scand_socket,
			  (int)ctl->config->scan_timeout_ms, &req, &res,
			  &error) < 0) {
		ret = ctl_error("%s", error);
		free(error);
		free(data);
		return ret;
	}
	if (opts.text)
		ctl_scan_text(&res);
	else
		ctl_scan_json(&res);
	ret = ctl_scan_exit(res.verdict);
	if (opts.output != NULL &&
	    ctl_scan_write_output(opts.output, &res, data, len) != 0)
		ret = CTL_EXIT_ERROR;
	om_scan_result_free(&res);
	free(data);
	return ret;
}
