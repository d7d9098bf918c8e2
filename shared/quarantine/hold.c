/* hold.c - the client half of omamori-filter's control socket (hold.h):
 * release or discard a held outbound message.  The server half is
 * postfix-policy/filter-hold.c.
 */
#include "quarantine/hold.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "lib/util.h"
#include "store/store.h"

int om_hold_id_valid(const char *id)
{
	size_t len = strlen(id);

	return len > 0 && len <= OM_HOLD_ID_MAX &&
		strspn(id, "0123456789abcdefghijklmnopqrstuvwxyz"
		       "ABCDEFGHIJKLMNOPQRSTUVWXYZ-") == len;
}

static int om_hold_connect(const char *path, char **error_r)
{
	union {
		struct sockaddr sa;
		struct sockaddr_un un;
	} addr;
	int fd;

	memset(&addr, 0, sizeof(addr));
	addr.un.sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(addr.un.sun_path)) {
		*error_r = om_asprintf("filter_control %s: path too long", path);
		return -1;
	}
	memcpy(addr.un.sun_path, path, strlen(path) + 1);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		*error_r = om_asprintf("socket: %s", strerror(errno));
		return -1;
	}
	if (connect(fd, &addr.sa, sizeof(addr.un)) < 0) {
		*error_r = om_asprintf("omamori-filter (%s): %s", path, strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}

/* Reads one line (LF-terminated, at most OM_HOLD_LINE_MAX) by the
   deadline; 0 or -1. */
static int om_hold_read_line(int fd, char *line, size_t size, uint64_t deadline,
			     char **error_r)
{
	struct pollfd pfd = { fd, POLLIN, 0 };
	size_t len = 0;
	uint64_t now;
	ssize_t n;

	for (;;) {
		now = om_now_ms();
		if (now >= deadline) {
			*error_r = om_strdup("omamori-filter did not answer in time");
			return -1;
		}
		if (poll(&pfd, 1, (int)(deadline - now)) < 0 && errno != EINTR) {
			*error_r = om_asprintf("poll: %s", strerror(errno));
			return -1;
		}
		n = read(fd, line + len, size - 1 - len);
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n <= 0) {
			*error_r = om_strdup("omamori-filter closed the connection");
			return -1;
		}
		len += (size_t)n;
		line[len] = '\0';
		if (memchr(line, '\n', len) != NULL) {
			line[strcspn(line, "\r\n")] = '\0';
			return 0;
		}
		if (len >= size - 1) {
			*error_r = om_strdup("omamori-filter's answer is too long");
			return -1;
		}
	}
}

static int om_hold_send(const struct om_config *config, char *req,
			enum om_hold_answer *answer_r, char **text_r, char **error_r);

int om_hold_request(const struct om_config *config, enum om_hold_op op,
		    const char *id, enum om_hold_answer *answer_r,
		    char **text_r, char **error_r)
{
	*answer_r = OM_HOLD_ANSWER_NONE;
	*text_r = NULL;
	if (!om_hold_id_valid(id)) {
		*error_r = om_strdup("not a hold id");
		return -1;
	}
	return om_hold_send(config, om_asprintf("%s %s\n", op == OM_HOLD_OP_RELEASE ?
						"RELEASE" : op == OM_HOLD_OP_DISCARD ?
						"DISCARD" : "ZIPPASS", id),
			    answer_r, text_r, error_r);
}

/* An address fit for one word of a request line. */
static int om_hold_address_ok(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > 254 || strchr(s, '@') == NULL)
		return 0;
	for (; *s != '\0'; s++) {
		if ((unsigned char)*s <= ' ' || *s == 0x7f)
			return 0;
	}
	return 1;
}

int om_hold_portal_code(const struct om_config *config, const char *id,
			const char *recipient, enum om_hold_answer *answer_r,
			char **text_r, char **error_r)
{
	*answer_r = OM_HOLD_ANSWER_NONE;
	*text_r = NULL;
	if (!om_hold_id_valid(id) || !om_hold_address_ok(recipient)) {
		*error_r = om_strdup("not a portal id or address");
		return -1;
	}
	return om_hold_send(config, om_asprintf("PORTALCODE %s %s\n", id, recipient),
			    answer_r, text_r, error_r);
}

int om_hold_admin_request(const struct om_config *config, int release, const char *id,
			  const char *admin, enum om_hold_answer *answer_r,
			  char **text_r, char **error_r)
{
	*answer_r = OM_HOLD_ANSWER_NONE;
	*text_r = NULL;
	if (!om_hold_id_valid(id) || !om_hold_address_ok(admin)) {
		*error_r = om_strdup("not a hold id or address");
		return -1;
	}
	return om_hold_send(config, om_asprintf("%s %s %s\n", release ? "ADMIN-RELEASE" :
						"ADMIN-DISCARD", id, admin),
			    answer_r, text_r, error_r);
}

/* Sends req (freed) and reads the one answer line. */
static int om_hold_send(const struct om_config *config, char *req,
			enum om_hold_answer *answer_r, char **text_r, char **error_r)
{
	char line[OM_HOLD_LINE_MAX + 1];
	size_t done = 0, len;
	ssize_t n;
	int fd;

	fd = om_hold_connect(config->filter_control, error_r);
	if (fd < 0) {
		free(req);
		return -1;
	}
	len = strlen(req);
	while (done < len) {
		n = write(fd, req + done, len - done);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			*error_r = om_asprintf("omamori-filter: write: %s", strerror(errno));
			free(req);
			close(fd);
			return -1;
		}
		done += (size_t)n;
	}
	free(req);
	if (om_hold_read_line(fd, line, sizeof(line), om_now_ms() + OM_HOLD_TIMEOUT_MS,
			      error_r) < 0) {
		close(fd);
		return -1;
	}
	close(fd);
	if (strncmp(line, "OK", 2) == 0 && (line[2] == ' ' || line[2] == '\0')) {
		*answer_r = OM_HOLD_ANSWER_DONE;
		*text_r = om_strdup(line[2] == ' ' ? line + 3 : "");
	} else if (strncmp(line, "ASKED ", 6) == 0) {
		*answer_r = OM_HOLD_ANSWER_ASKED;
		*text_r = om_strdup(line + 6);
	} else if (strncmp(line, "STATE ", 6) == 0) {
		*answer_r = OM_HOLD_ANSWER_STATE;
		*text_r = om_strdup(line + 6);
	} else if (strncmp(line, "FAIL ", 5) == 0) {
		*answer_r = OM_HOLD_ANSWER_FAIL;
		*text_r = om_strdup(line + 5);
	} else {
		*error_r = om_strdup("omamori-filter's answer is not understood");
		return -1;
	}
	return 0;
}

static void om_hold_state_cb(void *context, const struct om_store_hold *h)
{
	*(enum om_hold_state *)context = h->state;
}

int om_hold_zip_gate(struct om_store *store, const char *id, const char **why_r,
		     char **error_r)
{
	enum om_hold_state state = OM_HOLD_NONE;

	*why_r = NULL;
	if (om_store_hold_list(store, OM_HOLD_BY_ID, id, 0, om_hold_state_cb, &state,
			       error_r) < 0)
		return -1;
	switch (state) {
	case OM_HOLD_NONE:
	case OM_HOLD_SENT:
		break;
	case OM_HOLD_DISCARDED:
		*why_r = "cancelled";
		break;
	case OM_HOLD_HELD:
	case OM_HOLD_SENDING:
	case OM_HOLD_ADMIN:
	case OM_HOLD_RELEASE_ASKED:
	case OM_HOLD_DISCARD_ASKED:
	default:
		*why_r = "held";
		break;
	}
	return 0;
}
