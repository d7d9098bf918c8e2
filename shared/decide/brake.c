/* brake.c - the compromised-account brake's figures and decision, in
 * memory (brake.h says the rule; doc/outbound.md why).
 *
 * Per login: twelve five-minute slots of messages (the sliding hour), a
 * map of its recipients to the time each was last seen (the sliding
 * hour's distinct recipients, and whether a recipient is new to the clock
 * hour), the clock hour's counts, and the peak hour of its history.  The
 * counts of an hour go to the store when the hour is over (or at exit),
 * unless the login was braked during it.
 */
#include "decide/brake.h"
#include "lib/hash.h"
#include "lib/util.h"
#include "store/store.h"

#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define OM_BRAKE_SLOTS 12
#define OM_BRAKE_SLOT_SECONDS 300
#define OM_BRAKE_HOUR 3600
/* Recipients remembered per login at most: a distinct count beyond it is
   not seen (doc/outbound.md); far above any floor a site sets. */
#define OM_BRAKE_RCPTS_MAX 100000
/* Finished hours waiting to be saved at most (logins x hours). */
#define OM_BRAKE_PENDING_MAX 200000

struct om_brake_login {
	long long slot_start[OM_BRAKE_SLOTS];
	long long slot_messages[OM_BRAKE_SLOTS];
	struct om_hash *rcpts;	/* lower-cased recipient -> last seen */
	char last_instance[64];
	long long hour;		/* the clock hour of the counts below */
	long long hour_messages, hour_recipients;
	long long peak_messages, peak_recipients;
	int braked;		/* its mail is held */
	int trip_saved;		/* the store has the trip */
	int trip_flight;	/* a thread is writing it (om_brake_take_trips) */
	int braked_hour;	/* braked during this clock hour: no history */
	struct om_store_brake trip;	/* the figures of the trip */
};

struct om_brake_row {
	char *login;
	long long hour, messages, recipients;
};

struct om_brake {
	struct om_hash *logins;		/* login -> om_brake_login */
	long history_days;
	struct om_brake_row *pending;	/* finished hours to save */
	size_t pending_count, pending_cap;
	long long peaks_hour;		/* when the peaks were read */
	long long revision;		/* the store's "brake" revision seen */
	int unsaved_trips;
};

static long long om_brake_hour_of(time_t now)
{
	return (long long)now - (long long)now % OM_BRAKE_HOUR;
}

static void om_brake_login_free(void *value)
{
	struct om_brake_login *l = value;

	om_hash_free(&l->rcpts, NULL);
	free(l);
}

struct om_brake *om_brake_new(long history_days)
{
	struct om_brake *b = om_calloc(1, sizeof(*b));

	b->logins = om_hash_new(256);
	b->history_days = history_days;
	b->revision = -1;
	return b;
}

void om_brake_set_history_days(struct om_brake *b, long history_days)
{
	b->history_days = history_days;
}

static void om_brake_pending_clear(struct om_brake *b)
{
	size_t i;

	for (i = 0; i < b->pending_count; i++)
		free(b->pending[i].login);
	b->pending_count = 0;
}

void om_brake_free(struct om_brake **brakep)
{
	struct om_brake *b = *brakep;

	if (b == NULL)
		return;
	om_hash_free(&b->logins, om_brake_login_free);
	om_brake_pending_clear(b);
	free(b->pending);
	free(b);
	*brakep = NULL;
}

size_t om_brake_logins(const struct om_brake *b)
{
	return om_hash_count(b->logins);
}

static struct om_brake_login *om_brake_login(struct om_brake *b, const char *login)
{
	struct om_brake_login *l = om_hash_get(b->logins, login);

	if (l == NULL) {
		l = om_calloc(1, sizeof(*l));
		om_hash_set(b->logins, login, l);
	}
	return l;
}

int om_brake_braked(const struct om_brake *b, const char *login)
{
	const struct om_brake_login *l = om_hash_get(b->logins, login);

	return l != NULL && l->braked;
}

/* ---- the figures ---- */

/* Keeps an ended hour for the next save; the peak takes it in. */
static void om_brake_hour_over(struct om_brake *b, const char *login,
			       struct om_brake_login *l)
{
	struct om_brake_row *row;

	if (l->hour != 0 && !l->braked_hour &&
	    (l->hour_messages > 0 || l->hour_recipients > 0)) {
		if (l->hour_messages > l->peak_messages)
			l->peak_messages = l->hour_messages;
		if (l->hour_recipients > l->peak_recipients)
			l->peak_recipients = l->hour_recipients;
		if (b->pending_count < OM_BRAKE_PENDING_MAX) {
			if (b->pending_count == b->pending_cap) {
				b->pending_cap = b->pending_cap == 0 ? 64 : b->pending_cap * 2;
				b->pending = om_realloc(b->pending,
							b->pending_cap * sizeof(*b->pending));
			}
			row = &b->pending[b->pending_count++];
			row->login = om_strdup(login);
			row->hour = l->hour;
			row->messages = l->hour_messages;
			row->recipients = l->hour_recipients;
		}
	}
	l->hour_messages = l->hour_recipients = 0;
	l->braked_hour = l->braked;
}

/* Moves l to the clock hour of now. */
static void om_brake_to_hour(struct om_brake *b, const char *login,
			     struct om_brake_login *l, time_t now)
{
	long long hour = om_brake_hour_of(now);

	if (l->hour == hour)
		return;
	om_brake_hour_over(b, login, l);
	l->hour = hour;
}

/* The sliding hour's messages, the current slot counted in *slot_r. */
static long long om_brake_slot_messages(struct om_brake_login *l, time_t now,
					long long **slot_r)
{
	long long start = (long long)now - (long long)now % OM_BRAKE_SLOT_SECONDS;
	size_t i = (size_t)((start / OM_BRAKE_SLOT_SECONDS) % OM_BRAKE_SLOTS);
	long long sum = 0;

	if (l->slot_start[i] != start) {
		l->slot_start[i] = start;
		l->slot_messages[i] = 0;
	}
	*slot_r = &l->slot_messages[i];
	for (i = 0; i < OM_BRAKE_SLOTS; i++) {
		if (l->slot_start[i] > start - OM_BRAKE_HOUR)
			sum += l->slot_messages[i];
	}
	return sum;
}

struct om_brake_prune {
	long long before;
	char **keys;
	size_t count;
};

static void om_brake_prune_collect(void *context, const char *key, void *value)
{
	struct om_brake_prune *p = context;

	if ((long long)(intptr_t)value > p->before)
		return;
	p->keys = om_realloc(p->keys, (p->count + 1) * sizeof(*p->keys));
	p->keys[p->count++] = om_strdup(key);
}

/* Forgets l's recipients last seen an hour ago or more. */
static void om_brake_prune(struct om_brake_login *l, time_t now)
{
	struct om_brake_prune p = { (long long)now - OM_BRAKE_HOUR, NULL, 0 };
	size_t i;

	if (l->rcpts == NULL)
		return;
	om_hash_each(l->rcpts, om_brake_prune_collect, &p);
	for (i = 0; i < p.count; i++) {
		(void)om_hash_delete(l->rcpts, p.keys[i]);
		free(p.keys[i]);
	}
	free(p.keys);
	if (om_hash_count(l->rcpts) == 0)
		om_hash_free(&l->rcpts, NULL);
}

/* Notes recipient for l: new to the clock hour or not. */
static void om_brake_note_recipient(struct om_brake_login *l, const char *recipient,
				    time_t now)
{
	char key[320], *p;
	void *seen;

	if (*recipient == '\0' || om_strlcpy(key, recipient, sizeof(key)) < 0)
		return;
	for (p = key; *p != '\0'; p++)
		*p = (char)tolower((unsigned char)*p);
	if (l->rcpts == NULL)
		l->rcpts = om_hash_new(16);
	seen = om_hash_get(l->rcpts, key);
	if (seen == NULL && om_hash_count(l->rcpts) >= OM_BRAKE_RCPTS_MAX) {
		om_brake_prune(l, now);
		if (l->rcpts != NULL && om_hash_count(l->rcpts) >= OM_BRAKE_RCPTS_MAX)
			return;
		if (l->rcpts == NULL)
			l->rcpts = om_hash_new(16);
	}
	if (seen == NULL || (long long)(intptr_t)seen < l->hour)
		l->hour_recipients++;
	(void)om_hash_set(l->rcpts, key, (void *)(intptr_t)now);
}

/* The sliding hour's distinct recipients (pruned when over limit, so
   that only those of the last hour count). */
static long long om_brake_distinct(struct om_brake_login *l, long long limit,
				   time_t now)
{
	if (l->rcpts == NULL)
		return 0;
	if ((long long)om_hash_count(l->rcpts) > limit)
		om_brake_prune(l, now);
	return l->rcpts != NULL ? (long long)om_hash_count(l->rcpts) : 0;
}

static long long om_brake_limit(long long floor, long long factor, long long peak)
{
	long long scaled = peak > 0 && factor > 0 && peak <= INT64_MAX / factor ?
		peak * factor : peak > 0 ? INT64_MAX : 0;

	return scaled > floor ? scaled : floor;
}

int om_brake_count(struct om_brake *b, const char *login, const char *instance,
		   const char *recipient, const struct om_brake_limits *lim,
		   time_t now, char *why, size_t why_size)
{
	struct om_brake_login *l = om_brake_login(b, login);
	long long messages, recipients, max_msgs, max_rcpts, *slot;
	int new_message;

	if (l->braked)
		return 0;
	om_brake_to_hour(b, login, l, now);
	messages = om_brake_slot_messages(l, now, &slot);
	new_message = *instance == '\0' || strcmp(l->last_instance, instance) != 0;
	if (new_message) {
		(*slot)++;
		messages++;
		l->hour_messages++;
		(void)om_strlcpy(l->last_instance, instance, sizeof(l->last_instance));
	}
	om_brake_note_recipient(l, recipient, now);
	if (!lim->on)
		return 0;
	max_msgs = om_brake_limit(lim->min_messages, lim->factor, l->peak_messages);
	max_rcpts = om_brake_limit(lim->min_recipients, lim->factor, l->peak_recipients);
	recipients = om_brake_distinct(l, max_rcpts, now);
	if (messages <= max_msgs && recipients <= max_rcpts)
		return 0;
	l->braked = 1;
	l->braked_hour = 1;
	l->trip_saved = 0;
	memset(&l->trip, 0, sizeof(l->trip));
	l->trip.since = (long long)now;
	l->trip.messages = messages;
	l->trip.recipients = recipients;
	l->trip.limit_messages = max_msgs;
	l->trip.limit_recipients = max_rcpts;
	l->trip.peak_messages = l->peak_messages;
	l->trip.peak_recipients = l->peak_recipients;
	b->unsaved_trips = 1;
	snprintf(why, why_size, "brake: %lld messages, %lld distinct recipients in "
		 "the last hour (limits %lld, %lld; peak hour %lld, %lld)", messages,
		 recipients, max_msgs, max_rcpts, l->peak_messages, l->peak_recipients);
	return 1;
}

/* ---- the store ---- */

struct om_brake_load {
	struct om_brake *b;
	int braked;	/* rows are brakes on (else peaks) */
};

static void om_brake_peak_cb(void *context, const struct om_store_history *h)
{
	struct om_brake *b = context;
	struct om_brake_login *l = om_brake_login(b, h->login);

	l->peak_messages = h->messages;
	l->peak_recipients = h->recipients;
}

static void om_brake_zero_peak(void *context, const char *key, void *value)
{
	struct om_brake_login *l = value;

	(void)context;
	(void)key;
	l->peak_messages = l->peak_recipients = 0;
}

/* The peaks of the hours before the current one, within history_days;
   each login's own hours that ended since count as well (hour_over). */
static int om_brake_read_peaks(struct om_brake *b, struct om_store *store,
			       time_t now, char **error_r)
{
	long long hour = om_brake_hour_of(now);

	om_hash_each(b->logins, om_brake_zero_peak, NULL);
	if (om_store_history_peaks(store, hour - b->history_days * 86400LL, hour,
				   om_brake_peak_cb, b, error_r) < 0)
		return -1;
	b->peaks_hour = hour;
	return 0;
}

struct om_brake_on {
	struct om_hash *on;	/* login -> (void *)1 */
};

static void om_brake_on_cb(void *context, const struct om_store_brake *row)
{
	struct om_brake_on *on = context;

	(void)om_hash_set(on->on, row->login, (void *)1);
}

struct om_brake_apply {
	struct om_brake *b;
	struct om_hash *on;
};

/* A login in memory: lifted (its trip in the store, no longer on) starts
   a new sliding hour. */
static void om_brake_apply_lift(void *context, const char *key, void *value)
{
	struct om_brake_apply *a = context;
	struct om_brake_login *l = value;

	if (!l->braked || !l->trip_saved || om_hash_get(a->on, key) != NULL)
		return;
	l->braked = 0;
	memset(l->slot_start, 0, sizeof(l->slot_start));
	memset(l->slot_messages, 0, sizeof(l->slot_messages));
	om_hash_free(&l->rcpts, NULL);
	l->last_instance[0] = '\0';
}

/* A login braked in the store: braked here too (a restart, another
   policyd). */
static void om_brake_apply_on(void *context, const char *key, void *value)
{
	struct om_brake_apply *a = context;
	struct om_brake_login *l = om_brake_login(a->b, key);

	(void)value;
	if (!l->braked) {
		l->braked = 1;
		l->braked_hour = 1;
	}
	l->trip_saved = 1;
}

int om_brake_refresh(struct om_brake *b, struct om_store *store, char **error_r)
{
	struct om_brake_on on;
	struct om_brake_apply apply;
	long long revision;

	if (om_store_revision(store, "brake", &revision, error_r) < 0)
		return -1;
	if (revision == b->revision)
		return 0;
	on.on = om_hash_new(16);
	if (om_store_brake_list(store, NULL, om_brake_on_cb, &on, error_r) < 0) {
		om_hash_free(&on.on, NULL);
		return -1;
	}
	apply.b = b;
	apply.on = on.on;
	om_hash_each(b->logins, om_brake_apply_lift, &apply);
	om_hash_each(on.on, om_brake_apply_on, &apply);
	om_hash_free(&on.on, NULL);
	b->revision = revision;
	return 1;
}

int om_brake_load(struct om_brake *b, struct om_store *store, time_t now,
		  char **error_r)
{
	if (om_brake_read_peaks(b, store, now, error_r) < 0)
		return -1;
	return om_brake_refresh(b, store, error_r) < 0 ? -1 : 0;
}

int om_brake_trips_pending(const struct om_brake *b)
{
	return b->unsaved_trips;
}

struct om_brake_trips {
	struct om_brake *b;
	struct om_store *store;
	om_brake_trip_cb *cb;
	void *context;
	int written, failed;
	char *error;
};

static void om_brake_trip_write(void *context, const char *key, void *value)
{
	struct om_brake_trips *t = context;
	struct om_brake_login *l = value;

	if (!l->braked || l->trip_saved || t->error != NULL)
		return;
	l->trip.login = key;
	if (om_store_brake_trip(t->store, &l->trip, &t->error) < 0) {
		t->failed = 1;
		l->trip.login = NULL;
		return;
	}
	l->trip_saved = 1;
	t->written++;
	if (t->cb != NULL)
		t->cb(t->context, &l->trip);
	l->trip.login = NULL;
}

int om_brake_save_trips(struct om_brake *b, struct om_store *store,
			om_brake_trip_cb *cb, void *context, char **error_r)
{
	struct om_brake_trips t = { b, store, cb, context, 0, 0, NULL };

	if (!b->unsaved_trips)
		return 0;
	om_hash_each(b->logins, om_brake_trip_write, &t);
	if (t.error != NULL) {
		*error_r = t.error;
		return -1;
	}
	b->unsaved_trips = 0;
	return t.written;
}

struct om_brake_sweep {
	struct om_brake *b;
	time_t now;
	int final;
	char **idle;
	size_t idle_count;
};

/* Every login: the hour moved on (or, final, ends now), old recipients
   forgotten; a login with nothing left to remember is dropped. */
static void om_brake_sweep_one(void *context, const char *key, void *value)
{
	struct om_brake_sweep *s = context;
	struct om_brake_login *l = value;
	long long *slot;

	if (s->final)
		om_brake_hour_over(s->b, key, l);
	else
		om_brake_to_hour(s->b, key, l, s->now);
	om_brake_prune(l, s->now);
	if (!s->final && !l->braked && l->rcpts == NULL && l->hour_messages == 0 &&
	    l->peak_messages == 0 && l->peak_recipients == 0 &&
	    om_brake_slot_messages(l, s->now, &slot) == 0) {
		s->idle = om_realloc(s->idle, (s->idle_count + 1) * sizeof(*s->idle));
		s->idle[s->idle_count++] = om_strdup(key);
	}
}

int om_brake_save(struct om_brake *b, struct om_store *store, time_t now,
		  int final, char **error_r)
{
	struct om_brake_sweep s = { b, now, final, NULL, 0 };
	struct om_store_history *rows;
	size_t i;
	int ret = 0;

	om_hash_each(b->logins, om_brake_sweep_one, &s);
	for (i = 0; i < s.idle_count; i++) {
		om_brake_login_free(om_hash_delete(b->logins, s.idle[i]));
		free(s.idle[i]);
	}
	free(s.idle);
	if (b->pending_count > 0) {
		rows = om_calloc(b->pending_count, sizeof(*rows));
		for (i = 0; i < b->pending_count; i++) {
			rows[i].login = b->pending[i].login;
			rows[i].hour = b->pending[i].hour;
			rows[i].messages = b->pending[i].messages;
			rows[i].recipients = b->pending[i].recipients;
		}
		ret = om_store_history_save(store, rows, b->pending_count,
					    om_brake_hour_of(now) -
					    b->history_days * 86400LL, error_r);
		free(rows);
		if (ret < 0)
			return -1;
		om_brake_pending_clear(b);
	}
	/* once an hour: the peaks again, so that hours older than the
	   history leave them */
	if (!final && b->peaks_hour != om_brake_hour_of(now) &&
	    om_brake_read_peaks(b, store, now, error_r) < 0)
		return -1;
	return 0;
}

/* ---- the same, read and written away from the decisions (policyd's
   store thread): take in memory, write or read with the store alone,
   apply in memory ---- */

struct om_brake_changes {
	long long revision;
	struct om_hash *on;	/* login -> (void *)1 */
};

void om_brake_changes_free(struct om_brake_changes **changesp)
{
	struct om_brake_changes *ch = *changesp;

	if (ch == NULL)
		return;
	om_hash_free(&ch->on, NULL);
	free(ch);
	*changesp = NULL;
}

long long om_brake_revision(const struct om_brake *b)
{
	return b->revision;
}

int om_brake_read_changes(struct om_store *store, long long since,
			  struct om_brake_changes **changes_r, char **error_r)
{
	struct om_brake_changes *ch;
	struct om_brake_on on;
	long long revision;

	*changes_r = NULL;
	if (om_store_revision(store, "brake", &revision, error_r) < 0)
		return -1;
	if (revision == since)
		return 0;
	on.on = om_hash_new(16);
	if (om_store_brake_list(store, NULL, om_brake_on_cb, &on, error_r) < 0) {
		om_hash_free(&on.on, NULL);
		return -1;
	}
	ch = om_calloc(1, sizeof(*ch));
	ch->revision = revision;
	ch->on = on.on;
	*changes_r = ch;
	return 1;
}

void om_brake_apply_changes(struct om_brake *b, const struct om_brake_changes *ch)
{
	struct om_brake_apply apply = { b, ch->on };

	om_hash_each(b->logins, om_brake_apply_lift, &apply);
	om_hash_each(ch->on, om_brake_apply_on, &apply);
	b->revision = ch->revision;
}

struct om_brake_trips_job {
	struct om_store_brake *trips;	/* logins allocated */
	size_t count, written;
};

static void om_brake_trip_take(void *context, const char *key, void *value)
{
	struct om_brake_trips_job *t = context;
	struct om_brake_login *l = value;

	if (!l->braked || l->trip_saved || l->trip_flight)
		return;
	t->trips = om_realloc(t->trips, (t->count + 1) * sizeof(*t->trips));
	t->trips[t->count] = l->trip;
	t->trips[t->count].login = om_strdup(key);
	t->count++;
	l->trip_flight = 1;
}

struct om_brake_trips_job *om_brake_take_trips(struct om_brake *b)
{
	struct om_brake_trips_job *t;

	if (!b->unsaved_trips)
		return NULL;
	b->unsaved_trips = 0;
	t = om_calloc(1, sizeof(*t));
	om_hash_each(b->logins, om_brake_trip_take, t);
	if (t->count == 0) {
		free(t);
		return NULL;
	}
	return t;
}

int om_brake_write_trips(struct om_store *store, struct om_brake_trips_job *t,
			 char **error_r)
{
	for (t->written = 0; t->written < t->count; t->written++) {
		if (om_store_brake_trip(store, &t->trips[t->written], error_r) < 0)
			return -1;
	}
	return 0;
}

void om_brake_trips_done(struct om_brake *b, struct om_brake_trips_job **tp,
			 om_brake_trip_cb *cb, void *context)
{
	struct om_brake_trips_job *t = *tp;
	struct om_brake_login *l;
	size_t i;

	for (i = 0; i < t->count; i++) {
		l = om_hash_get(b->logins, t->trips[i].login);
		if (l != NULL)
			l->trip_flight = 0;
		if (i < t->written) {
			if (l != NULL && l->braked && l->trip.since == t->trips[i].since)
				l->trip_saved = 1;
			if (cb != NULL)
				cb(context, &t->trips[i]);
		} else if (l != NULL && l->braked && !l->trip_saved) {
			b->unsaved_trips = 1;	/* the next take writes it */
		}
	}
	om_brake_trips_free(tp);
}

void om_brake_trips_free(struct om_brake_trips_job **tp)
{
	struct om_brake_trips_job *t = *tp;
	size_t i;

	if (t == NULL)
		return;
	for (i = 0; i < t->count; i++)
		free((char *)t->trips[i].login);
	free(t->trips);
	free(t);
	*tp = NULL;
}

struct om_brake_batch {
	struct om_brake_row *rows;	/* finished hours, logins allocated */
	size_t count;
	long long expire_before;
	long long hour;			/* the hour taken at */
	int read_peaks;			/* and read the peaks before it */
	long long peaks_since;
	int written, peaks_read;
	struct om_brake_row *peaks;	/* the peaks read */
	size_t peak_count;
};

static void om_brake_batch_rows_free(struct om_brake_row *rows, size_t count)
{
	size_t i;

	for (i = 0; i < count; i++)
		free(rows[i].login);
	free(rows);
}

void om_brake_batch_free(struct om_brake_batch **batchp)
{
	struct om_brake_batch *batch = *batchp;

	if (batch == NULL)
		return;
	om_brake_batch_rows_free(batch->rows, batch->count);
	om_brake_batch_rows_free(batch->peaks, batch->peak_count);
	free(batch);
	*batchp = NULL;
}

struct om_brake_batch *om_brake_take_batch(struct om_brake *b, time_t now, int final)
{
	struct om_brake_sweep s = { b, now, final, NULL, 0 };
	struct om_brake_batch *batch = om_calloc(1, sizeof(*batch));
	size_t i;

	om_hash_each(b->logins, om_brake_sweep_one, &s);
	for (i = 0; i < s.idle_count; i++) {
		om_brake_login_free(om_hash_delete(b->logins, s.idle[i]));
		free(s.idle[i]);
	}
	free(s.idle);
	/* the rows move into the batch (given back if it fails) */
	batch->rows = b->pending;
	batch->count = b->pending_count;
	b->pending = NULL;
	b->pending_count = b->pending_cap = 0;
	batch->hour = om_brake_hour_of(now);
	batch->expire_before = batch->hour - b->history_days * 86400LL;
	batch->read_peaks = !final && b->peaks_hour != batch->hour;
	batch->peaks_since = batch->expire_before;
	return batch;
}

static void om_brake_batch_peak(void *context, const struct om_store_history *h)
{
	struct om_brake_batch *batch = context;
	struct om_brake_row *row;

	batch->peaks = om_realloc(batch->peaks, (batch->peak_count + 1) *
				  sizeof(*batch->peaks));
	row = &batch->peaks[batch->peak_count++];
	row->login = om_strdup(h->login);
	row->hour = 0;
	row->messages = h->messages;
	row->recipients = h->recipients;
}

int om_brake_write_batch(struct om_store *store, struct om_brake_batch *batch,
			 char **error_r)
{
	struct om_store_history *rows;
	size_t i;
	int ret;

	if (batch->count > 0) {
		rows = om_calloc(batch->count, sizeof(*rows));
		for (i = 0; i < batch->count; i++) {
			rows[i].login = batch->rows[i].login;
			rows[i].hour = batch->rows[i].hour;
			rows[i].messages = batch->rows[i].messages;
			rows[i].recipients = batch->rows[i].recipients;
		}
		ret = om_store_history_save(store, rows, batch->count,
					    batch->expire_before, error_r);
		free(rows);
		if (ret < 0)
			return -1;
	}
	batch->written = 1;
	if (batch->read_peaks) {
		if (om_store_history_peaks(store, batch->peaks_since, batch->hour,
					   om_brake_batch_peak, batch, error_r) < 0)
			return -1;
		batch->peaks_read = 1;
	}
	return 0;
}

void om_brake_batch_done(struct om_brake *b, struct om_brake_batch **batchp)
{
	struct om_brake_batch *batch = *batchp;
	struct om_brake_row *row;
	struct om_brake_login *l;
	size_t i;

	if (!batch->written) {
		/* given back, for the next batch (bounded as hour_over is) */
		for (i = 0; i < batch->count; i++) {
			if (b->pending_count >= OM_BRAKE_PENDING_MAX)
				break;
			if (b->pending_count == b->pending_cap) {
				b->pending_cap = b->pending_cap == 0 ? 64 : b->pending_cap * 2;
				b->pending = om_realloc(b->pending,
							b->pending_cap * sizeof(*b->pending));
			}
			row = &b->pending[b->pending_count++];
			*row = batch->rows[i];
			batch->rows[i].login = NULL;
		}
	}
	if (batch->peaks_read) {
		om_hash_each(b->logins, om_brake_zero_peak, NULL);
		for (i = 0; i < batch->peak_count; i++) {
			l = om_brake_login(b, batch->peaks[i].login);
			l->peak_messages = batch->peaks[i].messages;
			l->peak_recipients = batch->peaks[i].recipients;
		}
		b->peaks_hour = batch->hour;
	}
	om_brake_batch_free(batchp);
}
