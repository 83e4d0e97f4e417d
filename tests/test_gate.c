/* The write gate on its own: a waiter that has been first in line past the
 * overtaking bound is handed the gate directly (a newcomer cannot take it),
 * and that clock starts at the front of the line; parked (async) waiters
 * are always handed it directly (one that is first is never overtaken);
 * waiters are served in arrival order; the next waiter is woken to poll
 * when the gate changes hands while holds are brief, and sleeps while they
 * are long, when a release leaves the napping first waiter alone; a
 * polling newcomer does not keep a release from waking the first waiter;
 * it excludes under a hammer. */
#include <pthread.h>
#include <string.h>

#include "engine/gate.h"
#include "testutil.h"

typedef struct waiter_thread {
    dbc_gate *g;
    int rc;
    int owner;
} waiter_thread;

static void *wait_main(void *arg) {
    waiter_thread *w = arg;
    w->rc = dbc_gate_acquire(w->g, &w->owner, 5000);
    return NULL;
}

static int queued(dbc_gate *g) {
    uv_mutex_lock(&g->lock);
    int n = g->waiters.count;
    uv_mutex_unlock(&g->lock);
    return n;
}

/* A new gate, held by *a. */
static void init_held(dbc_gate *g, int *a) {
    tu_ok(dbc_gate_init(g));
    tu_ok(dbc_gate_acquire(g, a, 0));
}

/* Starts a thread that waits for the gate (5 s) and returns once the line
 * holds `line` waiters. */
static void start_waiter(dbc_gate *g, waiter_thread *w, pthread_t *th,
                         int line) {
    *w = (waiter_thread){.g = g, .rc = 99};
    assert_int_equal(pthread_create(th, NULL, wait_main, w), 0);
    while (queued(g) < line)
        uv_sleep(1);
}

static void test_long_waiter_is_handed_the_gate(void **state) {
    (void)state;
    dbc_gate g;
    int a, c;
    init_held(&g, &a);
    waiter_thread b;
    pthread_t th;
    start_waiter(&g, &b, &th, 1);
    uv_sleep(20); /* well past the 5 ms a newcomer may overtake */
    dbc_gate_release(&g, &a);
    /* Handed to b at release: a newcomer cannot take it, even before b
     * has woken up. */
    assert_int_equal(dbc_gate_try(&g, &c), 1);
    pthread_join(th, NULL);
    assert_int_equal(b.rc, 0);
    assert_ptr_equal(g.owner, &b.owner);
    dbc_gate_release(&g, &b.owner);
    assert_int_equal(dbc_gate_try(&g, &c), 0);
    dbc_gate_release(&g, &c);
    assert_int_equal(dbc_gate_waits(&g), 1);
    dbc_gate_destroy(&g);
}

typedef struct parked {
    dbc_waiter w; /* first */
    int readies;
} parked;

static void parked_ready(dbc_waiter *w, void *resource) {
    (void)resource;
    ((parked *)(void *)w)->readies++;
}

static void test_parked_waiter_handed_directly_fifo(void **state) {
    (void)state;
    dbc_gate g;
    int a, c;
    parked p1 = {.w = {.ready = parked_ready}}, p2 = {.w = {.ready = parked_ready}};
    init_held(&g, &a);
    assert_int_equal(dbc_gate_acquire_or_park(&g, &p1, &p1.w), 1);
    assert_int_equal(dbc_gate_acquire_or_park(&g, &p2, &p2.w), 1);
    /* a newcomer never overtakes a parked waiter */
    assert_int_equal(dbc_gate_try(&g, &c), 1);
    dbc_gate_release(&g, &a);
    assert_int_equal(p1.readies, 1);
    assert_int_equal(p2.readies, 0);
    assert_ptr_equal(g.owner, &p1);
    dbc_gate_release(&g, &p1);
    assert_int_equal(p2.readies, 1);
    assert_ptr_equal(g.owner, &p2);
    /* unpark after the hand-over says so */
    assert_int_equal(dbc_gate_unpark(&g, &p2.w), 0);
    dbc_gate_release(&g, &p2);
    assert_null(g.owner);
    dbc_gate_destroy(&g);
}

static void test_sync_waiter_then_parked_in_order(void **state) {
    (void)state;
    dbc_gate g;
    int a;
    parked p = {.w = {.ready = parked_ready}};
    init_held(&g, &a);
    waiter_thread b;
    pthread_t th;
    start_waiter(&g, &b, &th, 1); /* b waits (sync); p parks behind it */
    assert_int_equal(dbc_gate_acquire_or_park(&g, &p, &p.w), 1);
    dbc_gate_release(&g, &a); /* b may now take it */
    pthread_join(th, NULL);
    assert_int_equal(b.rc, 0);
    assert_int_equal(p.readies, 0);
    dbc_gate_release(&g, &b.owner); /* the parked one is next */
    assert_int_equal(p.readies, 1);
    assert_ptr_equal(g.owner, &p);
    dbc_gate_release(&g, &p);
    dbc_gate_destroy(&g);
}

static uint64_t polls(dbc_gate *g) {
    uv_mutex_lock(&g->lock);
    uint64_t n = g->polls;
    uv_mutex_unlock(&g->lock);
    return n;
}

static const void *owner_of(dbc_gate *g) {
    uv_mutex_lock(&g->lock);
    const void *o = g->owner;
    uv_mutex_unlock(&g->lock);
    return o;
}

/* b and c queue behind a; when b gets the gate and leaves the line, c (now
 * first) is woken to poll for b's release instead of sleeping until then. */
static void test_next_waiter_polls_when_the_gate_changes_hands(void **state) {
    (void)state;
    dbc_gate g;
    int a;
    init_held(&g, &a);
    waiter_thread b, c;
    pthread_t tb, tc;
    start_waiter(&g, &b, &tb, 1);
    start_waiter(&g, &c, &tc, 2);
    uv_sleep(5); /* b's poll (300 us) is over: both sleep */
    uint64_t before = polls(&g);
    uv_mutex_lock(&g.lock);
    g.taken_at = uv_hrtime(); /* count a's hold as brief: polling pays */
    uv_mutex_unlock(&g.lock);
    dbc_gate_release(&g, &a);
    while (owner_of(&g) != &b.owner)
        uv_sleep(1);
    pthread_join(tb, NULL);
    assert_int_equal(b.rc, 0);
    for (int i = 0; i < 5000 && polls(&g) == before; i++)
        uv_sleep(1); /* c polls once b's leaving the line wakes it */
    assert_true(polls(&g) > before);
    dbc_gate_release(&g, &b.owner);
    pthread_join(tc, NULL);
    assert_int_equal(c.rc, 0);
    assert_ptr_equal(g.owner, &c.owner);
    dbc_gate_release(&g, &c.owner);
    dbc_gate_destroy(&g);
}

/* Owners that hold the gate long (commits waiting for the disk): a waiter
 * sleeps until the release instead of polling. */
static void test_long_holds_make_waiters_sleep(void **state) {
    (void)state;
    dbc_gate g;
    int a;
    init_held(&g, &a);
    uv_mutex_lock(&g.lock);
    g.hold_ns = 1000000; /* 1 ms on average */
    uv_mutex_unlock(&g.lock);
    uint64_t before = polls(&g);
    waiter_thread b;
    pthread_t tb;
    start_waiter(&g, &b, &tb, 1);
    uv_sleep(2);
    assert_int_equal(polls(&g), before);
    dbc_gate_release(&g, &a);
    pthread_join(tb, NULL);
    assert_int_equal(b.rc, 0);
    assert_int_equal(polls(&g), before);
    assert_ptr_equal(g.owner, &b.owner);
    dbc_gate_release(&g, &b.owner);
    dbc_gate_destroy(&g);
}

static uint64_t wakeups(dbc_gate *g) {
    uv_mutex_lock(&g->lock);
    uint64_t n = g->wakeups;
    uv_mutex_unlock(&g->lock);
    return n;
}

static void set_hold(dbc_gate *g, uint64_t ns) {
    uv_mutex_lock(&g->lock);
    g->hold_ns = ns;
    uv_mutex_unlock(&g->lock);
}

/* Owners that hold the gate long (commits waiting for the disk) and write
 * again at once: a release does not wake the first waiter -- it naps and
 * looks by itself --, so the releasing thread takes the gate back without
 * a system call in between; when no one takes it back, the napping waiter
 * finds it free by itself. */
static void test_release_leaves_a_napping_waiter_asleep(void **state) {
    (void)state;
    dbc_gate g;
    int a;
    init_held(&g, &a);
    g.barge_ns = (uint64_t)60 * 1000000000u; /* b is never due here */
    set_hold(&g, 200000); /* 200 us on average: b naps 400 us at a time */
    waiter_thread b;
    pthread_t tb;
    start_waiter(&g, &b, &tb, 1);
    uint64_t before = wakeups(&g);
    bool mine = true;
    for (int i = 0; i < 50 && mine; i++) { /* a commits and writes again */
        set_hold(&g, 200000);
        dbc_gate_release(&g, &a);
        /* b's nap may end just then: then it is b's, and rightly so */
        mine = dbc_gate_try(&g, &a) == 0;
    }
    assert_int_equal(wakeups(&g), before);
    if (mine) {
        set_hold(&g, 200000);
        dbc_gate_release(&g, &a); /* and now a is done */
    }
    pthread_join(tb, NULL);
    assert_int_equal(b.rc, 0);
    assert_ptr_equal(owner_of(&g), &b.owner);
    assert_int_equal(wakeups(&g), before); /* b found it by itself */
    dbc_gate_release(&g, &b.owner);
    dbc_gate_destroy(&g);
}

static uint64_t naps(dbc_gate *g) {
    uv_mutex_lock(&g->lock);
    uint64_t n = g->naps;
    uv_mutex_unlock(&g->lock);
    return n;
}

/* Long holds: when the first waiter (b) takes the gate and leaves the
 * line, the next (c) is woken to become the napping first -- so that the
 * release after b's transaction need not wake it either. */
static void test_next_waiter_naps_when_the_first_leaves(void **state) {
    (void)state;
    dbc_gate g;
    int a;
    init_held(&g, &a);
    g.barge_ns = (uint64_t)60 * 1000000000u; /* no one is ever due here */
    set_hold(&g, 200000);
    waiter_thread b, c;
    pthread_t tb, tc;
    start_waiter(&g, &b, &tb, 1);
    start_waiter(&g, &c, &tc, 2);
    set_hold(&g, 200000);
    dbc_gate_release(&g, &a); /* b, napping, finds it free by itself */
    pthread_join(tb, NULL);
    assert_int_equal(b.rc, 0);
    uint64_t before = naps(&g);
    for (int i = 0; i < 2000 && naps(&g) == before; i++)
        uv_sleep(1); /* c naps once b's leaving the line wakes it */
    assert_true(naps(&g) > before);
    uint64_t woken = wakeups(&g);
    set_hold(&g, 200000);
    dbc_gate_release(&g, &b.owner);
    pthread_join(tc, NULL);
    assert_int_equal(c.rc, 0);
    assert_ptr_equal(owner_of(&g), &c.owner);
    assert_int_equal(wakeups(&g), woken); /* c found it by itself */
    dbc_gate_release(&g, &c.owner);
    dbc_gate_destroy(&g);
}

/* The overtaking bound counts from when a waiter becomes first in line:
 * c, which waited behind p, starts its clock when p is handed the gate --
 * counted from its queueing, every waiter behind the first would be due at
 * once and the gate would change hands at every release. */
static void test_overtaking_clock_starts_at_the_front(void **state) {
    (void)state;
    dbc_gate g;
    int a;
    parked p = {.w = {.ready = parked_ready}};
    init_held(&g, &a);
    assert_int_equal(dbc_gate_acquire_or_park(&g, &p, &p.w), 1);
    waiter_thread c;
    pthread_t tc;
    start_waiter(&g, &c, &tc, 2);
    uv_sleep(20); /* c has waited past the 5 ms bound, behind p */
    uint64_t handed_at = uv_hrtime();
    dbc_gate_release(&g, &a);
    assert_int_equal(p.readies, 1);
    uv_mutex_lock(&g.lock);
    uint64_t since = g.first_since;
    uv_mutex_unlock(&g.lock);
    assert_true(since >= handed_at); /* c's clock started at the hand-over */
    dbc_gate_release(&g, &p);
    pthread_join(tc, NULL);
    assert_int_equal(c.rc, 0);
    assert_ptr_equal(owner_of(&g), &c.owner);
    dbc_gate_release(&g, &c.owner);
    dbc_gate_destroy(&g);
}

/* A newcomer that polls (before it queues) may end up queueing behind the
 * first waiter without taking the gate -- the first became due while it
 * polled --, so its polling must not keep a release from waking the first
 * waiter: b, asleep, takes the gate a releases at once, not at the end of
 * its 5 s timeout. */
static void test_polling_newcomer_does_not_silence_the_release(void **state) {
    (void)state;
    dbc_gate g;
    int a;
    init_held(&g, &a);
    g.barge_ns = (uint64_t)60 * 1000000000u; /* b is never due here */
    waiter_thread b;
    pthread_t tb;
    start_waiter(&g, &b, &tb, 1);
    uv_sleep(5); /* b's poll (300 us) is over: it sleeps until woken */
    uv_mutex_lock(&g.lock);
    g.spinning = true; /* a newcomer polls (it is not the first waiter) */
    uv_mutex_unlock(&g.lock);
    uint64_t t0 = uv_hrtime();
    dbc_gate_release(&g, &a);
    while (owner_of(&g) != &b.owner && uv_hrtime() - t0 < 4000000000u)
        uv_sleep(1);
    uint64_t waited_ms = (uv_hrtime() - t0) / 1000000u;
    pthread_join(tb, NULL);
    assert_int_equal(b.rc, 0);
    assert_true(waited_ms < 2000); /* woken, not timed out */
    uv_mutex_lock(&g.lock);
    g.spinning = false; /* the newcomer gives up polling */
    uv_mutex_unlock(&g.lock);
    dbc_gate_release(&g, &b.owner);
    dbc_gate_destroy(&g);
}

typedef struct hammer {
    dbc_gate *g;
    int *inside, *count;
    int id;
    int overlaps; /* times another writer was inside too */
} hammer;

static void *hammer_main(void *arg) {
    hammer *h = arg;
    for (int i = 0; i < 2000; i++) {
        if (dbc_gate_acquire(h->g, &h->id, 5000) != 0)
            return arg; /* the test sees count short */
        if ((*h->inside)++ != 0)
            h->overlaps++;
        (*h->count)++;
        (*h->inside)--;
        dbc_gate_release(h->g, &h->id);
    }
    return NULL;
}

/* Writers of four threads: one at a time, nobody lost (TSan checks the
 * plain counters). */
static void test_hammer_excludes(void **state) {
    (void)state;
    dbc_gate g;
    int inside = 0, count = 0;
    tu_ok(dbc_gate_init(&g));
    pthread_t th[4];
    hammer h[4];
    for (int i = 0; i < 4; i++) {
        h[i] = (hammer){.g = &g, .inside = &inside, .count = &count, .id = i};
        assert_int_equal(pthread_create(&th[i], NULL, hammer_main, &h[i]), 0);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(h[i].overlaps, 0);
    }
    assert_int_equal(count, 4 * 2000);
    assert_null(g.owner);
    assert_int_equal(g.waiters.count, 0);
    assert_false(g.spinning);
    dbc_gate_destroy(&g);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_next_waiter_polls_when_the_gate_changes_hands),
        cmocka_unit_test(test_long_holds_make_waiters_sleep),
        cmocka_unit_test(test_release_leaves_a_napping_waiter_asleep),
        cmocka_unit_test(test_overtaking_clock_starts_at_the_front),
        cmocka_unit_test(test_next_waiter_naps_when_the_first_leaves),
        cmocka_unit_test(test_polling_newcomer_does_not_silence_the_release),
        cmocka_unit_test(test_hammer_excludes),
        cmocka_unit_test(test_long_waiter_is_handed_the_gate),
        cmocka_unit_test(test_parked_waiter_handed_directly_fifo),
        cmocka_unit_test(test_sync_waiter_then_parked_in_order),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
