/* sandbox.c - the sandbox hook's command (sandbox.h).
 *
 * The command runs with posix_spawn (scand is threaded: no fork of a
 * threaded process), without a shell, in its own process group so a
 * timeout kills it and whatever it started; its standard input is the
 * file, written into a fresh 0700 directory that is removed afterwards;
 * its standard output is read through a pipe, at most OM_SANDBOX_OUT_MAX
 * bytes kept.  Its environment is only what it needs.  sandbox_url is
 * the same exchange over HTTP to this machine (libcurl): a POST, the
 * first word of a 200 answer.
 */
#include "scan/sandbox.h"
#include "lib/util.h"

#include <curl/curl.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <glib.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define OM_SANDBOX_OUT_MAX 256
#define OM_SANDBOX_ARGS_MAX 32
#define OM_SANDBOX_NAME_MAX 200

void om_sandbox_hash(const char *data, size_t len, char hex[OM_SANDBOX_HASH_LEN + 1])
{
	gchar *sum = g_compute_checksum_for_data(G_CHECKSUM_SHA256,
						 (const guchar *)(data != NULL ? data : ""),
						 len);

	if (sum == NULL || om_strlcpy(hex, sum, OM_SANDBOX_HASH_LEN + 1) < 0)
		abort();
	g_free(sum);
}

const char *om_sandbox_verdict_word(enum om_sandbox_verdict v)
{
	static const char *const words[] = { "pending", "clean", "malicious",
					     "unknown", "failed" };

	return v <= OM_SANDBOX_FAILED ? words[v] : "failed";
}

enum om_sandbox_verdict om_sandbox_verdict_parse(const char *word, size_t len)
{
	enum om_sandbox_verdict v;
	const char *w;

	for (v = OM_SANDBOX_PENDING; v < OM_SANDBOX_FAILED; v++) {
		w = om_sandbox_verdict_word(v);
		if (strlen(w) == len && strncasecmp(w, word, len) == 0)
			return v;
	}
	return OM_SANDBOX_FAILED;
}

/* Removes dir and the plain files the command may have left in it. */
static void om_sandbox_cleanup(const char *dir)
{
	struct dirent *e;
	char *path;
	DIR *d = opendir(dir);

	if (d != NULL) {
		while ((e = readdir(d)) != NULL) {
			if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
				continue;
			path = om_asprintf("%s/%s", dir, e->d_name);
			(void)unlink(path);
			free(path);
		}
		(void)closedir(d);
	}
	(void)rmdir(dir);
}

/* Writes data as path (a new file, 0600).  0 or -1. */
static int om_sandbox_write(const char *path, const char *data, size_t len,
			    char **error_r)
{
	ssize_t n;
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);

	if (fd < 0) {
		*error_r = om_asprintf("sandbox: %s: %s", path, strerror(errno));
		return -1;
	}
	while (len > 0) {
		n = write(fd, data, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			*error_r = om_asprintf("sandbox: %s: %s", path, strerror(errno));
			(void)close(fd);
			return -1;
		}
		data += n;
		len -= (size_t)n;
	}
	if (close(fd) < 0) {
		*error_r = om_asprintf("sandbox: %s: %s", path, strerror(errno));
		return -1;
	}
	return 0;
}

static long long om_sandbox_now_ms(void)
{
	struct timespec ts;

	if (clock_gettime(CLOCK_MONOTONIC, &ts) < 0)
		return 0;
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Reads the child's output until EOF or the deadline: 0, or -1 on the
   timeout. */
static int om_sandbox_read(int fd, long long deadline, char *out, size_t *out_len)
{
	char buf[512];
	struct pollfd p;
	long long left;
	ssize_t n;
	int ret;

	for (;;) {
		left = deadline - om_sandbox_now_ms();
		if (left <= 0)
			return -1;
		p.fd = fd;
		p.events = POLLIN;
		p.revents = 0;
		ret = poll(&p, 1, (int)(left > 1000 ? 1000 : left));
		if (ret < 0 && errno != EINTR)
			return -1;
		if (ret <= 0)
			continue;
		n = read(fd, buf, sizeof(buf));
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n <= 0)
			return 0;
		if (*out_len < OM_SANDBOX_OUT_MAX - 1) {
			size_t take = (size_t)n;

			if (take > OM_SANDBOX_OUT_MAX - 1 - *out_len)
				take = OM_SANDBOX_OUT_MAX - 1 - *out_len;
			memcpy(out + *out_len, buf, take);
			*out_len += take;
		}
	}
}

/* Waits for pid until the deadline, then kills its group: its status, or
   -1 when it had to be killed. */
static int om_sandbox_wait(pid_t pid, long long deadline, int *status_r)
{
	pid_t got;

	for (;;) {
		got = waitpid(pid, status_r, WNOHANG);
		if (got == pid)
			return 0;
		if (got < 0 && errno != EINTR)
			return -1;
		if (om_sandbox_now_ms() >= deadline)
			break;
		(void)usleep(10000);
	}
	(void)kill(-pid, SIGKILL);
	(void)kill(pid, SIGKILL);
	while (waitpid(pid, status_r, 0) < 0 && errno == EINTR)
		;
	return -1;
}

/* The command's argv (blanks separate, no quoting): a copy in *copy_r. */
static size_t om_sandbox_argv(const char *command, char **copy_r,
			      char *argv[OM_SANDBOX_ARGS_MAX + 1])
{
	char *save = NULL, *w;
	size_t n = 0;

	*copy_r = om_strdup(command);
	for (w = strtok_r(*copy_r, " \t", &save); w != NULL && n < OM_SANDBOX_ARGS_MAX;
	     w = strtok_r(NULL, " \t", &save))
		argv[n++] = w;
	argv[n] = NULL;
	return n;
}

/* Spawns the command, stdin the file, stdout the pipe's write end. */
static int om_sandbox_spawn(char *const argv[], char *const envp[], const char *path,
			    int out_fd, pid_t *pid_r, char **error_r)
{
	static const int defaults[] = { SIGPIPE, SIGHUP, SIGTERM, SIGINT, SIGCHLD,
					SIGUSR1, SIGUSR2, SIGALRM };
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t attr;
	sigset_t none, def;
	size_t i;
	int ret;

	if (posix_spawn_file_actions_init(&fa) != 0)
		abort();
	if (posix_spawnattr_init(&attr) != 0)
		abort();
	(void)sigemptyset(&none);
	(void)sigemptyset(&def);
	for (i = 0; i < OM_N_ELEMENTS(defaults); i++)
		(void)sigaddset(&def, defaults[i]);
	ret = posix_spawn_file_actions_addopen(&fa, 0, path, O_RDONLY, 0);
	if (ret == 0)
		ret = posix_spawn_file_actions_adddup2(&fa, out_fd, 1);
	if (ret == 0)
		ret = posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP |
					       POSIX_SPAWN_SETSIGMASK |
					       POSIX_SPAWN_SETSIGDEF);
	if (ret == 0)
		ret = posix_spawnattr_setpgroup(&attr, 0);
	if (ret == 0)
		ret = posix_spawnattr_setsigmask(&attr, &none);
	if (ret == 0)
		ret = posix_spawnattr_setsigdefault(&attr, &def);
	if (ret == 0)
		ret = posix_spawn(pid_r, argv[0], &fa, &attr, argv, envp);
	(void)posix_spawn_file_actions_destroy(&fa);
	(void)posix_spawnattr_destroy(&attr);
	if (ret != 0) {
		*error_r = om_asprintf("sandbox: %s: %s", argv[0], strerror(ret));
		return -1;
	}
	return 0;
}

/* The verdict the output and status say. */
static enum om_sandbox_verdict om_sandbox_answer(const char *out, size_t out_len,
						 int status, char **error_r)
{
	enum om_sandbox_verdict v;
	size_t i = 0, start;

	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		*error_r = om_asprintf("sandbox: the command ended with status %d",
				       WIFEXITED(status) ? WEXITSTATUS(status) : -1);
		return OM_SANDBOX_FAILED;
	}
	while (i < out_len && (out[i] == ' ' || out[i] == '\t' || out[i] == '\n' ||
			       out[i] == '\r'))
		i++;
	start = i;
	while (i < out_len && out[i] != ' ' && out[i] != '\t' && out[i] != '\n' &&
	       out[i] != '\r')
		i++;
	v = om_sandbox_verdict_parse(out + start, i - start);
	if (v == OM_SANDBOX_FAILED) {
		char *word = om_strndup(out + start, i - start);

		*error_r = om_asprintf("sandbox: the command answered '%s'", word);
		free(word);
	}
	return v;
}

enum om_sandbox_verdict om_sandbox_run(const char *command, const char *name,
				       const char *hash, const char *data, size_t len,
				       long timeout, const char *temp_dir,
				       char **error_r)
{
	char *argv[OM_SANDBOX_ARGS_MAX + 1], *copy = NULL, *dir, *path, *envp[6];
	const char *base = temp_dir != NULL ? temp_dir : getenv("TMPDIR");
	char out[OM_SANDBOX_OUT_MAX], *clean_name;
	enum om_sandbox_verdict v = OM_SANDBOX_FAILED;
	size_t out_len = 0, i;
	long long deadline;
	int fds[2], status = 0, timed_out;
	pid_t pid;

	if (om_sandbox_argv(command, &copy, argv) == 0 || argv[0][0] != '/') {
		*error_r = om_strdup("sandbox: sandbox_command must start with an absolute path");
		free(copy);
		return OM_SANDBOX_FAILED;
	}
	dir = om_asprintf("%s/omamori-sandbox-XXXXXX",
			  base != NULL && base[0] == '/' ? base : "/tmp");
	if (mkdtemp(dir) == NULL) {
		*error_r = om_asprintf("sandbox: %s: %s", dir, strerror(errno));
		free(dir);
		free(copy);
		return OM_SANDBOX_FAILED;
	}
	path = om_asprintf("%s/sample", dir);
	clean_name = om_sanitize(name != NULL ? name : "", OM_SANDBOX_NAME_MAX);
	envp[0] = om_strdup("PATH=/usr/local/bin:/usr/bin:/bin");
	envp[1] = om_asprintf("OMAMORI_SANDBOX_FILE=%s", path);
	envp[2] = om_asprintf("OMAMORI_SANDBOX_NAME=%s", clean_name);
	envp[3] = om_asprintf("OMAMORI_SANDBOX_SHA256=%s", hash);
	envp[4] = om_strdup("LANG=C.UTF-8");
	envp[5] = NULL;
	free(clean_name);
	if (om_sandbox_write(path, data, len, error_r) == 0) {
		if (pipe2(fds, O_CLOEXEC) < 0) {
			*error_r = om_asprintf("sandbox: pipe: %s", strerror(errno));
		} else {
			deadline = om_sandbox_now_ms() + (long long)timeout * 1000;
			if (om_sandbox_spawn(argv, envp, path, fds[1], &pid, error_r) == 0) {
				(void)close(fds[1]);
				timed_out = om_sandbox_read(fds[0], deadline, out, &out_len) < 0;
				(void)close(fds[0]);
				timed_out |= om_sandbox_wait(pid, deadline, &status) < 0;
				if (timed_out)
					*error_r = om_asprintf("sandbox: no answer in %ld seconds",
							       timeout);
				else
					v = om_sandbox_answer(out, out_len, status, error_r);
			} else {
				(void)close(fds[0]);
				(void)close(fds[1]);
			}
		}
	}
	om_sandbox_cleanup(dir);
	for (i = 0; envp[i] != NULL; i++)
		free(envp[i]);
	free(path);
	free(dir);
	free(copy);
	return v;
}

/* ---- sandbox_url ---- */

void om_sandbox_http_init(void)
{
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		abort();
}

int om_sandbox_url_check(const char *url, char **error_r)
{
	char *scheme = NULL, *host = NULL;
	CURLU *u = curl_url();
	int ok;

	if (u == NULL)
		abort();
	ok = curl_url_set(u, CURLUPART_URL, url, 0) == CURLUE_OK &&
		curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) == CURLUE_OK &&
		curl_url_get(u, CURLUPART_HOST, &host, 0) == CURLUE_OK &&
		(strcmp(scheme, "http") == 0 || strcmp(scheme, "https") == 0) &&
		(strcmp(host, "127.0.0.1") == 0 || strcmp(host, "[::1]") == 0 ||
		 strcasecmp(host, "localhost") == 0);
	curl_free(scheme);
	curl_free(host);
	curl_url_cleanup(u);
	if (!ok)
		*error_r = om_asprintf("sandbox_url '%s': not http(s) to 127.0.0.1, [::1] "
				       "or localhost", url);
	return ok ? 0 : -1;
}

struct om_sandbox_body {
	char data[OM_SANDBOX_OUT_MAX];
	size_t len;
};

static size_t om_sandbox_body_cb(char *ptr, size_t size, size_t n, void *context)
{
	struct om_sandbox_body *b = context;
	size_t len = size * n, take = len;

	if (take > sizeof(b->data) - 1 - b->len)
		take = sizeof(b->data) - 1 - b->len;
	memcpy(b->data + b->len, ptr, take);
	b->len += take;
	return len;
}

enum om_sandbox_verdict om_sandbox_post(const char *url, const char *name,
					const char *hash, const char *data, size_t len,
					long timeout, char **error_r)
{
	struct om_sandbox_body body;
	struct curl_slist *headers = NULL;
	char *h_name, *h_hash, *clean;
	long status = 0;
	CURLcode rc;
	CURL *c;

	if (om_sandbox_url_check(url, error_r) < 0)
		return OM_SANDBOX_FAILED;
	c = curl_easy_init();
	if (c == NULL)
		abort();
	memset(&body, 0, sizeof(body));
	clean = om_sanitize(name != NULL ? name : "", OM_SANDBOX_NAME_MAX);
	h_name = om_asprintf("X-Omamori-Name: %s", clean);
	h_hash = om_asprintf("X-Omamori-SHA256: %s", hash);
	free(clean);
	headers = curl_slist_append(headers, "Content-Type: application/octet-stream");
	headers = curl_slist_append(headers, h_name);
	headers = curl_slist_append(headers, h_hash);
	headers = curl_slist_append(headers, "Expect:");
	if (headers == NULL)
		abort();
	(void)curl_easy_setopt(c, CURLOPT_URL, url);
	(void)curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
	(void)curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
	(void)curl_easy_setopt(c, CURLOPT_NOPROXY, "*");
	(void)curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	(void)curl_easy_setopt(c, CURLOPT_TIMEOUT, timeout);
	(void)curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers);
	(void)curl_easy_setopt(c, CURLOPT_POSTFIELDS, data);
	(void)curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
	(void)curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, om_sandbox_body_cb);
	(void)curl_easy_setopt(c, CURLOPT_WRITEDATA, &body);
	rc = curl_easy_perform(c);
	if (rc == CURLE_OK)
		(void)curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
	curl_easy_cleanup(c);
	curl_slist_free_all(headers);
	free(h_name);
	free(h_hash);
	if (rc != CURLE_OK) {
		*error_r = om_asprintf("sandbox: %s: %s", url, curl_easy_strerror(rc));
		return OM_SANDBOX_FAILED;
	}
	if (status != 200) {
		*error_r = om_asprintf("sandbox: %s: HTTP %ld", url, status);
		return OM_SANDBOX_FAILED;
	}
	return om_sandbox_answer(body.data, body.len, 0, error_r);
}

/* ---- the cap on runs at once ---- */

struct om_sandbox_gate {
	pthread_mutex_t lock;
	unsigned int running;
	unsigned int max;
};

struct om_sandbox_gate *om_sandbox_gate_new(unsigned int max)
{
	struct om_sandbox_gate *gate = om_calloc(1, sizeof(*gate));

	if (pthread_mutex_init(&gate->lock, NULL) != 0)
		abort();
	gate->max = max > 0 ? max : 1;
	return gate;
}

void om_sandbox_gate_free(struct om_sandbox_gate **gate)
{
	if (*gate == NULL)
		return;
	(void)pthread_mutex_destroy(&(*gate)->lock);
	free(*gate);
	*gate = NULL;
}

int om_sandbox_gate_enter(struct om_sandbox_gate *gate)
{
	int entered = 0;

	pthread_mutex_lock(&gate->lock);
	if (gate->running < gate->max) {
		gate->running++;
		entered = 1;
	}
	pthread_mutex_unlock(&gate->lock);
	return entered;
}

void om_sandbox_gate_leave(struct om_sandbox_gate *gate)
{
	pthread_mutex_lock(&gate->lock);
	if (gate->running > 0)
		gate->running--;
	pthread_mutex_unlock(&gate->lock);
}
