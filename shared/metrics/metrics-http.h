/* metrics-http.h - the /metrics endpoint of a daemon (libmicrohttpd on a
 * thread of its own): GET /metrics answers the registry's exposition,
 * another path 404, another method 405.
 */
#ifndef OM_METRICS_HTTP_H
#define OM_METRICS_HTTP_H

struct om_metrics;
struct om_metrics_server;

/* The socket of a *_metrics_listen value: "" or "off" (none: *fd_r -1),
   "IPV4:PORT" or "[IPV6]:PORT".  An address other than loopback
   (127.0.0.0/8, ::1) is refused unless allow_remote.  Returns 0 (bound and
   listening, or off), -1 for a value refused (*error_r: the daemon must
   not start), -2 when the address could not be bound (*error_r: the
   daemon runs on without metrics; mail never waits for them). */
int om_metrics_listen(const char *listen, int allow_remote, int *fd_r,
		      char **error_r);

/* Serves m on fd (taken over) until stopped; 0, or -1 with *error_r. */
int om_metrics_serve(struct om_metrics *m, int fd,
		     struct om_metrics_server **server_r, char **error_r);
void om_metrics_server_stop(struct om_metrics_server **server);

/* om_metrics_listen then om_metrics_serve, for a daemon that needs no
   privilege drop between: a refused value is -1, an address in use is
   logged and 0 with *server_r NULL. */
int om_metrics_start(struct om_metrics *m, const char *what,
		     const char *listen, int allow_remote,
		     struct om_metrics_server **server_r, char **error_r);

#endif
