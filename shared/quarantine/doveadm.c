/* doveadm.c - runs Dovecot's doveadm for what omamori does to mail.
 *
 * posix_spawn (no shell, nothing but dup2 between fork and exec, so it is
 * safe in omamori-web's threads); stdin, stdout and stderr are pipes served
 * by one poll loop, so neither side can block on a full pipe.  What doveadm
 * prints is bounded: past max_output the rest is read and dropped, and the
 * call fails saying so.  Callers ignore SIGPIPE (a doveadm that exits
 * before reading its input must not kill them).
 */
#include "quarantine/doveadm.h"
#include "lib/util.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

#define OM_DOVEADM_STDERR_MAX 2048

struct om_doveadm_child {
	pid_t pid;
	int in, out, err;		/* our ends, -1 when closed */
};

struct om_doveadm_buf {
	char *data;
	size_t len, max;
	int overflow;
};

/* argv: doveadm, -c CONF, the command, -S SOCKET (mail commands), the
   rest.  Returns -1 when there are too many arguments. */
static int om_doveadm_argv(const struct om_config *config, int mail_command,
			   const char *const *args, char **argv, size_t size)
{
	size_t n = 0, i;

	argv[n++] = config->doveadm_path;
	if (config->dovecot_config[0] != '\0') {
		argv[n++] = "-c";
		argv[n++] = config->dovecot_config;
	}
	if (args[0] == NULL)
		return -1;
	argv[n++] = (char *)args[0];
	if (mail_command && config->doveadm_socket[0] != '\0') {
		argv[n++] = "-S";
		argv[n++] = config->doveadm_socket;
	}
	for (i = 1; args[i] != NULL; i++) {
		if (n + 1 >= size)
			return -1;
		argv[n++] = (char *)args[i];
	}
	argv[n] = NULL;
	return 0;
}

static void om_doveadm_close(int *fd)
{
	if (*fd >= 0) {
		(void)close(*fd);
		*fd = -1;
	}
}

/* Starts doveadm with three pipes; 0, or -1 with *error_r. */
static int om_doveadm_spawn(char **argv, struct om_doveadm_child *child,
			    char **error_r)
{
	int fds[3][2] = { { -1, -1 }, { -1, -1 }, { -1, -1 } };
	posix_spawn_file_actions_t actions;
	int i, err;

	for (i = 0; i < 3; i++) {
		if (pipe2(fds[i], O_CLOEXEC) < 0) {
			*error_r = om_asprintf("doveadm: pipe: %s", strerror(errno));
			goto fail;
		}
	}
	if ((err = posix_spawn_file_actions_init(&actions)) != 0) {
		*error_r = om_asprintf("doveadm: %s", strerror(err));
		goto fail;
	}
	err = posix_spawn_file_actions_adddup2(&actions, fds[0][0], 0);
	if (err == 0)
		err = posix_spawn_file_actions_adddup2(&actions, fds[1][1], 1);
	if (err == 0)
		err = posix_spawn_file_actions_adddup2(&actions, fds[2][1], 2);
	if (err == 0)
		err = posix_spawn(&child->pid, argv[0], &actions, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&actions);
	if (err != 0) {
		*error_r = om_asprintf("cannot run %s: %s", argv[0], strerror(err));
		goto fail;
	}
	(void)close(fds[0][0]);
	(void)close(fds[1][1]);
	(void)close(fds[2][1]);
	child->in = fds[0][1];
	child->out = fds[1][0];
	child->err = fds[2][0];
	return 0;
fail:
	for (i = 0; i < 3; i++) {
		om_doveadm_close(&fds[i][0]);
		om_doveadm_close(&fds[i][1]);
	}
	return -1;
}

/* Reads what fd has into buf (bounded); closes fd at its end. */
static void om_doveadm_read(int *fd, struct om_doveadm_buf *buf)
{
	char chunk[4096];
	ssize_t n = read(*fd, chunk, sizeof(chunk));
	size_t room;

	if (n < 0 && (errno == EINTR || errno == EAGAIN))
		return;
	if (n <= 0) {
		om_doveadm_close(fd);
		return;
	}
	room = buf->max - buf->len;
	if ((size_t)n > room) {
		buf->overflow = 1;
		n = (ssize_t)room;
	}
	if (buf->data != NULL && n > 0) {
		memcpy(buf->data + buf->len, chunk, (size_t)n);
		buf->len += (size_t)n;
	}
}

/* Feeds input and collects output until doveadm closes both. */
static void om_doveadm_pump(struct om_doveadm_child *child, const char *input,
			    size_t input_len, struct om_doveadm_buf *out,
			    struct om_doveadm_buf *err)
{
	size_t sent = 0;
	ssize_t n;

	if (input == NULL || input_len == 0)
		om_doveadm_close(&child->in);
	while (child->out >= 0 || child->err >= 0) {
		struct pollfd pfd[3] = {
			{ child->out, POLLIN, 0 }, { child->err, POLLIN, 0 },
			{ child->in, POLLOUT, 0 },
		};

		if (poll(pfd, child->in >= 0 ? 3 : 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (pfd[0].revents != 0)
			om_doveadm_read(&child->out, out);
		if (pfd[1].revents != 0)
			om_doveadm_read(&child->err, err);
		if (child->in >= 0 && pfd[2].revents != 0) {
			n = write(child->in, input + sent, input_len - sent);
			if (n > 0)
				sent += (size_t)n;
			if ((n < 0 && errno != EINTR && errno != EAGAIN) ||
			    sent == input_len)
				om_doveadm_close(&child->in);
		}
	}
	om_doveadm_close(&child->in);
	om_doveadm_close(&child->out);
	om_doveadm_close(&child->err);
}

/* The last non-empty line of doveadm's stderr, for an error message. */
static const char *om_doveadm_last_line(struct om_doveadm_buf *err)
{
	char *end, *start;

	err->data[err->len] = '\0';
	end = err->data + err->len;
	while (end > err->data && (end[-1] == '\n' || end[-1] == '\r'))
		*--end = '\0';
	start = strrchr(err->data, '\n');
	return start != NULL ? start + 1 : err->data;
}

/* Waits for the child; its exit status, or -1 with *error_r. */
static int om_doveadm_wait(pid_t pid, const char *command, char **error_r)
{
	int status;

	while (waitpid(pid, &status, 0) < 0) {
		if (errno != EINTR) {
			*error_r = om_asprintf("doveadm %s: wait: %s", command,
					       strerror(errno));
			return -1;
		}
	}
	if (WIFEXITED(status))
		return WEXITSTATUS(status);
	*error_r = om_asprintf("doveadm %s killed by signal %d", command,
			       WIFSIGNALED(status) ? WTERMSIG(status) : 0);
	return -1;
}

int om_doveadm_run(const struct om_config *config, int mail_command,
		   const char *const *args, const char *input, size_t input_len,
		   char **output_r, size_t max_output, char **error_r)
{
	char *argv[OM_DOVEADM_MAX_ARGS + 8];
	char errbuf[OM_DOVEADM_STDERR_MAX + 1];
	struct om_doveadm_child child = { -1, -1, -1, -1 };
	struct om_doveadm_buf out = { NULL, 0, max_output, 0 };
	struct om_doveadm_buf err = { errbuf, 0, OM_DOVEADM_STDERR_MAX, 0 };
	int status;

	if (output_r != NULL) {
		*output_r = NULL;
		out.data = om_malloc(max_output + 1);
	} else {
		out.max = 0;
	}
	if (config->doveadm_path[0] != '/' ||
	    om_doveadm_argv(config, mail_command, args, argv,
			    OM_N_ELEMENTS(argv)) < 0) {
		*error_r = om_asprintf("doveadm: doveadm_path '%s' is not absolute, "
				       "or too many arguments", config->doveadm_path);
		free(out.data);
		return -1;
	}
	if (om_doveadm_spawn(argv, &child, error_r) < 0) {
		free(out.data);
		return -1;
	}
	om_doveadm_pump(&child, input, input_len, &out, &err);
	status = om_doveadm_wait(child.pid, args[0], error_r);
	if (status > 0)
		*error_r = om_asprintf("doveadm %s failed (exit status %d): %s",
				       args[0], status, om_doveadm_last_line(&err));
	else if (status == 0 && out.overflow && output_r != NULL) {
		*error_r = om_asprintf("doveadm %s printed more than %zu bytes",
				       args[0], max_output);
		status = -1;
	}
	if (status == 0 && output_r != NULL) {
		out.data[out.len] = '\0';
		*output_r = out.data;
	} else {
		free(out.data);
	}
	return status;
}
