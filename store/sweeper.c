/* store/sweeper.c: every instance's expiry sweeper. A jittered timer runs sweep.lua, which
 * expires at most sweep_batch due ACTIVE sessions per call through the same compare-and-set
 * as every other transition, so any number of concurrent sweepers is safe (each session
 * expires once). When a call comes back full, the next one runs at once; otherwise after
 * sweep_interval_ms +-25% (jitter keeps instances from sweeping in lock step). Every session a
 * sweep expired is handed to the store_on_expired hook (from this reply function, so from the
 * event loop). Sessions expired by other paths are not reported: session create finding the
 * item's lock held by an expired session, and change, file and transfer scripts applying an
 * expiry that is due (those answer ST_STATE_CHANGED with state ERROR, so their caller knows;
 * the net layer also discards staging on cancel and fail).
 * The same tick looks at requested completes a dead instance left unfinished
 * (completions_due.lua) and hands those it claims to the store_on_completion_due hook, and,
 * until it is done, builds the global item name and type indexes of a store made before them
 * (names_build.lua, bounded calls one after the other). */
#include "store/redis.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>
#include <hiredis/hiredis.h>

struct sweeper {
    store_t *st;
    struct event *timer;
    bool in_flight;
    bool due_in_flight;   /* completions_due.lua */
    bool names_built;     /* names_build.lua answered DONE */
    bool names_in_flight;
    unsigned int seed;
    store_sweep_stats_t stats;
};

static void schedule(sweeper_t *sw, bool at_once) {
    const store_config_t *cfg = store_cfg(sw->st);
    int ms = 0;
    if (!at_once) {
        int quarter = cfg->sweep_interval_ms / 4;
        ms = cfg->sweep_interval_ms - quarter + (quarter ? rand_r(&sw->seed) % (2 * quarter + 1) : 0);
    }
    struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
    evtimer_add(sw->timer, &tv);
}

/* {'OK', expired, looked at, expired id, ...}: a full batch means more may be due. */
static void on_swept(store_status_t s, const struct redisReply *r, store_fn_t cb, void *arg) {
    (void)cb;
    sweeper_t *sw = arg;
    int64_t expired = 0, looked = 0;
    sw->in_flight = false;
    sw->stats.sweeps++;
    if (s == ST_OK && reply_i64(r, 1, &expired) == C_OK && reply_i64(r, 2, &looked) == C_OK) {
        sw->stats.expired += (uint64_t)expired;
        const char *id;
        size_t i = 3;
        for (; (id = reply_str(r, i)) != NULL; i++) store_expired(sw->st, id);
        /* each session that ended by expiry is reported by exactly one sweep in the fleet */
        session_state_t to = SESSION_ERROR;
        session_state_parse(expiry_next_state(), &to);
        store_count_transition(to, i - 3);
        store_count_expired(i - 3);
    }
    if (store_closing(sw->st)) return;
    schedule(sw, s == ST_OK && looked >= store_cfg(sw->st)->sweep_batch);
}

/* {'OK', looked at, claimed session id, ...}: each claimed complete is this instance's to run. */
static void on_completions_due(store_status_t s, const struct redisReply *r, store_fn_t cb,
                               void *arg) {
    (void)cb;
    sweeper_t *sw = arg;
    sw->due_in_flight = false;
    if (s != ST_OK) return;
    const char *id;
    for (size_t i = 2; (id = reply_str(r, i)) != NULL; i++) store_completion_due(sw->st, id);
}

/* Requested completes that a dead instance left unfinished (completions_due.lua), looked at in
 * the same tick as expiry. */
static void check_completions(sweeper_t *sw) {
    static char pull_failed[96];
    if (sw->due_in_flight) return;
    if (!pull_failed[0]) {
        completion_encode(CEV_PULL_FAILED, pull_failed, sizeof(pull_failed));
    }
    const store_config_t *cfg = store_cfg(sw->st);
    session_state_t failed = SESSION_ERROR;
    fsm_apply(SESSION_ACTIVE, EV_FAIL, &failed);
    store_cmd_t c;
    cmd_init(&c, sw->st);
    cmd_key(&c, "completing", (const char *)NULL);
    cmd_arg_i64(&c, cfg->sweep_batch);
    cmd_arg_prefix(&c);
    cmd_arg_i64(&c, cfg->transfer_lease_ms);
    cmd_arg(&c, lapsed_states_arg());
    cmd_arg(&c, pull_failed);
    cmd_arg(&c, session_state_name(failed));
    cmd_arg(&c, pull_lost_message_json());
    cmd_arg_i64(&c, cfg->retention_ms);
    sw->due_in_flight = true;
    store_eval(&c, SCRIPT_COMPLETIONS_DUE, on_completions_due, NULL, sw);
}

/* Items per names_build.lua call: some 5 us each (tests/bench/growth.py), so a call stays
 * well below a millisecond. */
#define NAMES_BUILD_BATCH 64

static void build_names(sweeper_t *sw);

/* {'OK', 'DONE' | 'MORE'}: MORE calls again at once (each call is bounded; other clients run
 * between them); a failure waits for the next tick. */
static void on_names_built(store_status_t s, const struct redisReply *r, store_fn_t cb,
                           void *arg) {
    (void)cb;
    sweeper_t *sw = arg;
    sw->names_in_flight = false;
    const char *state = s == ST_OK ? reply_str(r, 1) : NULL;
    if (state && strcmp(state, "DONE") == 0) {
        sw->names_built = true;
        store_log_at(STORE_LOG_INFO, "item name and type indexes: built");
    } else if (state && strcmp(state, "MORE") == 0 && !store_closing(sw->st)) {
        build_names(sw);
    }
}

static void build_names(sweeper_t *sw) {
    if (sw->names_built || sw->names_in_flight) return;
    store_cmd_t c;
    cmd_init(&c, sw->st);
    cmd_key(&c, "libs", (const char *)NULL);
    cmd_key(&c, "names:built", (const char *)NULL);
    cmd_key(&c, "names:cursor", (const char *)NULL);
    cmd_key(&c, "names:todo", (const char *)NULL);
    cmd_arg_i64(&c, NAMES_BUILD_BATCH);
    cmd_arg_prefix(&c);
    sw->names_in_flight = true;
    store_eval(&c, SCRIPT_NAMES_BUILD, on_names_built, NULL, sw);
}

static void on_timer(evutil_socket_t fd, short what, void *arg) {
    (void)fd;
    (void)what;
    sweeper_t *sw = arg;
    check_completions(sw);
    build_names(sw);
    if (sw->in_flight) return;
    store_cmd_t c;
    cmd_init(&c, sw->st);
    cmd_key(&c, "deadlines", (const char *)NULL);
    cmd_arg_i64(&c, store_cfg(sw->st)->sweep_batch);
    cmd_arg_prefix(&c);
    cmd_arg(&c, expiry_next_state());
    cmd_arg(&c, expiry_message_json());
    cmd_arg_i64(&c, store_cfg(sw->st)->retention_ms);
    sw->in_flight = true;
    store_eval(&c, SCRIPT_SWEEP, on_swept, NULL, sw);
}

sweeper_t *sweeper_new(store_t *st) {
    sweeper_t *sw = calloc(1, sizeof(*sw));
    if (!sw) return NULL;
    sw->st = st;
    sw->seed = (unsigned int)getpid() ^ (unsigned int)(uintptr_t)sw;
    sw->timer = evtimer_new(store_base(st), on_timer, sw);
    if (!sw->timer) { free(sw); return NULL; }
    schedule(sw, false);
    return sw;
}

void sweeper_free(sweeper_t *sw) {
    if (!sw) return;
    event_free(sw->timer);
    free(sw);
}

void sweeper_stats(const sweeper_t *sw, store_sweep_stats_t *out) {
    store_sweep_stats_t none = {0, 0};
    *out = sw ? sw->stats : none;
}
