/* web-auth.h - a mailbox's password, checked by Dovecot's own auth service
 * over a client socket of its auth service: omamori-web never stores a second
 * password, and a password change or a locked account in Dovecot holds
 * here at once.
 */
#ifndef WEB_AUTH_H
#define WEB_AUTH_H

/* Asks Dovecot (socket_path: omamori.conf's dovecot_auth_socket) whether
   password is user's, as service "omamori-web", without the client's
   address (Dovecot's per-address penalty would hit every user behind
   the proxy; the caller logs the address and brakes guessing).  1 yes
   (*user_r: the user name Dovecot knows, allocated), 0 no, -1 could not
   ask (*error_r allocated): the auth service is down, too slow (10 s) or
   answers what we do not understand. */
int web_auth_check(const char *socket_path, const char *user,
		   const char *password, char **user_r, char **error_r);

#endif
