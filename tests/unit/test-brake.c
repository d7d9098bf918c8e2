/* test-brake.c - the compromised-account brake's figures (shared/decide/
 * brake.c) over a real store in a temporary directory: a normal day under
 * the floor, a burst over it, a busy history that raises the limit,
 * distinct recipients, a lift learned from the store, finished hours saved
 * (not a braked one) and read back as peaks. */
#include "tap.h"

#include <string.h>
#include <unistd.h>

#include "decide/brake.h"
#include "lib/util.h"
#include "store/store.h"

#define T0 1700006400	/* a whole hour */

static const struct om_brake_limits limits = { 1, 10, 5, 20 };

/* Sends n messages of one recipient each; the number of the message that
   tripped (1..n), or 0. */
static int send_n(struct om_brake *b, const char *login, int n, time_t now,
		  const char *tag)
{
	char instance[64], why[256];
	int i;

	for (i = 1; i <= n; i++) {
		snprintf(instance, sizeof(instance), "%s-%d", tag, i);
		if (om_brake_count(b, login, instance, "friend@far.example", &limits,
				   now, why, sizeof(why)))
			return i;
	}
	return 0;
}

static void history_cb(void *context, const struct om_store_history *h)
{
	char *text = context;
	size_t len = strlen(text);

	snprintf(text + len, 256 - len, "%s=%lld/%lld ", h->login, h->messages,
		 h->recipients);
}

static int trips_written;

static void trip_cb(void *context, const struct om_store_brake *trip)
{
	(void)context;
	if (strcmp(trip->login, "steps@example.jp") == 0)
		trips_written++;
}

/* policyd's store thread: the same work in steps (take, write or read,
   apply); what a failed write took is written next time, once. */
static void test_steps(struct om_store *store)
{
	struct om_brake *b = om_brake_new(14);
	struct om_brake_trips_job *trips;
	struct om_brake_batch *batch;
	struct om_brake_changes *changes = NULL;
	char *error = NULL, text[256] = "";

	TAP_OK(om_brake_load(b, store, T0 + 7300, &error) == 0 &&
	       send_n(b, "steps@example.jp", 6, T0 + 7300, "g") == 6,
	       "steps: a trip");
	trips = om_brake_take_trips(b);
	TAP_OK(trips != NULL && om_brake_take_trips(b) == NULL,
	       "steps: a trip being written is not taken twice");
	om_brake_trips_done(b, &trips, trip_cb, NULL);	/* not written */
	TAP_OK(trips == NULL && trips_written == 0 && om_brake_trips_pending(b),
	       "steps: a trip not written waits for the next take");
	trips = om_brake_take_trips(b);
	TAP_OK(trips != NULL && om_brake_write_trips(store, trips, &error) == 0, "steps: written");
	om_brake_trips_done(b, &trips, trip_cb, NULL);
	TAP_OK(trips_written == 1 && !om_brake_trips_pending(b) &&
	       om_store_brake_list(store, "steps@example.jp", trip_cb, NULL, &error) == 1 &&
	       trips_written == 2,
	       "steps: the trip is in the store, reported once");
	send_n(b, "hist@example.jp", 3, T0 + 7300, "h");
	batch = om_brake_take_batch(b, T0 + 10800 + 10, 0);
	om_brake_batch_done(b, &batch);		/* not written: given back */
	batch = om_brake_take_batch(b, T0 + 10800 + 20, 0);
	TAP_OK(om_brake_write_batch(store, batch, &error) == 0, "steps: the batch written");
	om_brake_batch_done(b, &batch);
	TAP_OK(om_store_history_rows(store, NULL, T0 + 7200, history_cb, text, &error) == 1 &&
	       strcmp(text, "hist@example.jp=3/1 ") == 0,
	       "steps: the hour a failed batch took is saved once (%s)", text);
	TAP_OK(om_store_brake_lift(store, "steps@example.jp", T0 + 10900, &error) == 1 &&
	       om_brake_read_changes(store, om_brake_revision(b), &changes, &error) == 1 &&
	       om_brake_braked(b, "steps@example.jp"), "steps: a lift read, not yet applied");
	om_brake_apply_changes(b, changes);
	om_brake_changes_free(&changes);
	TAP_OK(!om_brake_braked(b, "steps@example.jp") &&
	       om_brake_read_changes(store, om_brake_revision(b), &changes, &error) == 0 &&
	       changes == NULL, "steps: the lift applied; nothing more to read");
	free(error);
	om_brake_free(&b);
}

int main(void)
{
	char dir[] = "/tmp/om-test-brake-XXXXXX", *path, *error = NULL, why[256],
		text[256] = "", rcpt[64];
	const struct om_store_history busy = { "busy@example.jp", T0 - 7200, 30, 30 };
	struct om_store *store = NULL;
	struct om_brake *b = om_brake_new(14);
	int i, tripped = 0;

	if (mkdtemp(dir) == NULL)
		abort();
	path = om_asprintf("%s/omamori.db", dir);
	if (om_store_open(path, OM_STORE_CREATE, 1000, &store, &error) < 0)
		abort();
	TAP_OK(om_store_history_save(store, &busy, 1, 0, &error) == 0 &&
	       om_brake_load(b, store, T0 + 60, &error) == 0, "history read at start");
	TAP_OK(send_n(b, "new@example.jp", 5, T0 + 60, "a") == 0,
	       "a normal day: 5 messages, the floor, pass");
	TAP_OK(send_n(b, "new@example.jp", 3, T0 + 120, "b") == 1 &&
	       om_brake_braked(b, "new@example.jp"), "the 6th in the hour trips the brake");
	TAP_OK(send_n(b, "busy@example.jp", 40, T0 + 120, "c") == 0 &&
	       !om_brake_braked(b, "busy@example.jp"),
	       "a login whose busiest hour was 30 sends 40 unbraked");
	for (i = 0; i < 25 && !tripped; i++) {
		snprintf(rcpt, sizeof(rcpt), "r%d@far.example", i);
		tripped = om_brake_count(b, "wide@example.jp", "one", rcpt, &limits,
					 T0 + 60, why, sizeof(why));
	}
	TAP_OK(tripped && i == 21, "one message to 21 distinct recipients trips at 21 "
	       "(floor 20): %d", i);
	TAP_OK(om_brake_save_trips(b, store, NULL, NULL, &error) == 2 &&
	       !om_brake_trips_pending(b), "the two trips written once");
	TAP_OK(om_store_brake_lift(store, "new@example.jp", T0 + 200, &error) == 1 &&
	       om_brake_refresh(b, store, &error) == 1 &&
	       !om_brake_braked(b, "new@example.jp") &&
	       om_brake_braked(b, "wide@example.jp"), "a lift is learned from the store");
	TAP_OK(send_n(b, "new@example.jp", 5, T0 + 300, "d") == 0,
	       "after the lift a new sliding hour starts");
	TAP_OK(om_brake_save(b, store, T0 + 3600 + 10, 0, &error) == 0 &&
	       om_store_history_rows(store, NULL, T0, history_cb, text, &error) == 1 &&
	       strcmp(text, "busy@example.jp=40/1 ") == 0,
	       "the hour saved when over, not the braked logins' (%s)", text);
	om_brake_free(&b);
	b = om_brake_new(14);
	text[0] = '\0';
	TAP_OK(om_brake_load(b, store, T0 + 3600 + 20, &error) == 0 &&
	       om_brake_braked(b, "wide@example.jp") && !om_brake_braked(b, "new@example.jp"),
	       "a restart keeps the brakes on");
	TAP_OK(send_n(b, "busy@example.jp", 300, T0 + 3700, "e") == 0 &&
	       send_n(b, "busy@example.jp", 200, T0 + 3700, "f") == 101,
	       "the new peak (40) is read back: limit 400");
	om_brake_free(&b);
	test_steps(store);
	om_store_close(&store);
	unlink(path);
	free(path);
	free(error);
	{
		char *wal = om_asprintf("%s/omamori.db-wal", dir), *shm = om_asprintf("%s/omamori.db-shm", dir);

		unlink(wal);
		unlink(shm);
		free(wal);
		free(shm);
	}
	rmdir(dir);
	return tap_done();
}
