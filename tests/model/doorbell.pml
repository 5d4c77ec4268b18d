/*
 * doorbell.pml: a SPIN model of the doorbell wake-up protocol (RingBind: one wait on an event
 * ring serves many request rings). Run: python3 tests/model/check.py (HOW TO RUN below).
 *
 * WHAT IT MODELS
 *   NC = 2 clients, each the producer of its own SPSC request ring, N messages each; one server,
 *   the consumer of both, which has bound each ring's consumer end to its event ring (badge =
 *   client number). The kernel (RingNotify, run in the notifying client's context) produces
 *   DoorbellEvents into the event ring.
 *
 *   Request ring c:  tail[c] (client), head[c] (server), cw[c] = consumer_waiting (server).
 *   Event ring:      ev_tail, ev_rec[] (kernel), ev_head (server), ev_waiting (server).
 *   Kernel:          posted_at[c] = event-ring tail just after the last doorbell posted for
 *                    binding c (0 = never); ev_sleeping = the server is queued in RingWait.
 *
 *   Client c, per message (libexo RingProducer::commit): write the record; tail += 1 (release);
 *     full fence; load cw[c]; if set, load head[c] and call RingNotify unless its "notify once
 *     per sleep" rule says skip (CLIENT_RULE below).
 *   RingNotify (Ring::notify + Doorbell::ring, microkernel/object/doorbell.cpp; under the
 *     doorbell's lock, appending under Ring::post's lock: one atomic step): wake RingWait
 *     sleepers on the request ring itself (the server never sleeps there: nothing); if
 *     posted_at != 0 && ev_head < posted_at, nothing (a doorbell is pending); else append
 *     DoorbellEvent{c} (ev_tail += 1, posted_at = ev_tail). Then, a separate step after
 *     Ring::post's fence: if it posted and ev_waiting is set, wake the server.
 *   Server loop:
 *     1. peek every event record; each doorbell marks its client ready; then release them all
 *        (ev_head = the tail seen) BEFORE draining anyone.
 *     2. each ready client: drain (peek and consume records, release head); when empty: cw = 1,
 *        full fence, re-check tail; if records appeared, cw = 0 and drain on; else leave cw = 1
 *        and mark the client not ready.
 *     3. no client ready: ev_waiting = 1, full fence, re-check the event ring; if not empty,
 *        ev_waiting = 0 and loop; else RingWait(event ring, seen = its tail), then
 *        ev_waiting = 0 and loop.
 *   RingWait is WaitQueue::wait_until: under the queue's lock, return if ev_tail != seen, else
 *     queue and sleep; a wake re-runs the check. It may also return spuriously (a deadline, the
 *     kill check): at most SPURIOUS times per run (unbudgeted, no sleep would ever block).
 *
 *   Modelling choices:
 *   - consumer_waiting while draining: at the start of each drain the server either clears cw
 *     (as RpcServer::serve does: "draining, the client need not notify") or leaves it set,
 *     chosen nondeterministically, so both policies are verified. Clearing the cw of a client
 *     the server will not drain is wrong (BROKEN=3).
 *   - When the server releases what it read is left open (any batching). RELEASE_LATE=0 (the
 *     protocol above): everything read is released before cw = 1. RELEASE_LATE=1: also after
 *     the flag and the re-check, at the end of the turn, as RpcServer::serve first did.
 *   - A newly bound ring starts ready (the server drains it once after RingBind): the kernel
 *     posts nothing at bind time, and records committed before the server first sets cw are
 *     never notified.
 *   - Request rings hold N messages (producer-side waiting, the mirror-image handshake, and
 *     RpcServer's response ring are not modelled). The event ring holds EVCAP = NC records,
 *     one pending doorbell per binding, and an assertion checks that it never overflows; with
 *     SMALL_EVRING it holds one record, so a doorbell can find it full: the kernel drops it and
 *     counts it in Control::dropped (posted_at unchanged), and the server, after releasing its
 *     events, marks every client ready if `dropped` moved (RpcServer::drain_events). Peer death
 *     (a doorbell on close) and `closed` are not modelled.
 *   - Record contents are implicit (message k of client c is at index k); consumed[c] is the
 *     server's private read index, and the ghost that the properties read.
 *   - Granularity: one shared load or store per step, except that a load whose tested property
 *     cannot change until the loader acts again (tail only grows, so "a record is there" stays
 *     true; a doorbell record below the tail seen stays put until released) is merged with the
 *     store that follows it. Delaying such a load to the store's instant changes no outcome.
 *
 * THE CLIENT'S "NOTIFY ONCE PER SLEEP" RULE (CLIENT_RULE) AND WHAT SPIN FOUND
 *   0: as specified, and as RingProducer::commit first did: skip RingNotify if we notified
 *      before and head has not moved since. LOSES A WAKE-UP: client 0 commits messages 1 and
 *      2; the server drains both (head = 2), sets cw, re-checks, finds the ring empty; client
 *      0, after committing message 2, loads cw = 1 and head = 2 and notifies: a doorbell, the
 *      server wakes, releases it, drains client 0 and finds it empty (head stays 2), sets cw
 *      again and sleeps. Client 0 commits message 3, sees cw = 1 and head = 2 = notified_head,
 *      and skips the notify: the server sleeps for ever with message 3 unread. The notify was
 *      absorbed by a server that had already read what it announced, so head never moved.
 *      (Read in the code, not modelled: a plain RingConsumer has the same race, the notify
 *      absorbed by wait_until's re-check; there the kill check's 20 ms timeout ends the sleep.
 *      On an event ring nothing does.)
 *   1: head-based fix, the default: also skip when head == the tail just committed (the server
 *      has read and released all we committed, and re-checks tail after setting cw), and do
 *      NOT count that as a notify. Proven with RELEASE_LATE=0. With RELEASE_LATE=1 it still
 *      loses a wake-up: the server reads a record, sets cw, re-checks, and releases only
 *      afterwards, so a client that commits in between sees the old head == notified_head.
 *   2: no rule: notify whenever cw is set (the kernel's pending check alone dedups).
 *   3: generation fix: cw holds the server's sleep generation (a new nonzero value at every
 *      prepare_wait, 0 when cleared); the client skips only if it already notified this
 *      generation. Proven with either release order; it does not look at head.
 *
 * MEMORY MODEL
 *   Default: sequential consistency. Sound for x86-64 (TSO: the only reordering is a load
 *   passing its own CPU's earlier store to another word, through the store buffer) only where
 *   every store->load pair on which the handshake depends is separated by a full fence: client
 *   tail -> cw (consumer_waiting()'s fence), server cw -> tail (prepare_wait), server
 *   ev_waiting -> ev_tail (step 3), kernel ev_tail -> ev_waiting (Ring::post's fence); the
 *   kernel's locks (locked instructions) order the rest of what it does. The server also has
 *   unfenced store->load pairs (ev_head -> tail and ev_head -> dropped after step 1, head ->
 *   tail inside a drain, cw = 0 -> tail), so rather than argue they are harmless, -DTSO models
 *   the server's store buffer: its stores go into a FIFO that another process flushes to
 *   memory at any time, its fences and its RingWait syscall wait until the FIFO is empty, and
 *   its loads read memory (it never loads a word it stores, so no forwarding is needed).
 *   Clients and kernel stay SC: each of their stores is followed by a fence (or lock) before
 *   their next shared load. One of those pairs does matter: with SMALL_EVRING and no fence
 *   between releasing the events and loading `dropped` (DROP_FENCE=0, as RpcServer::
 *   drain_events first was), the kernel can still see the old ev_head, find the ring full and
 *   drop a doorbell that the server's early load of `dropped` missed: a lost wake-up under TSO
 *   only. BROKEN=6 (no fence in prepare_wait) likewise passes under SC and fails under TSO.
 *
 * PROPERTIES
 *   - Safety (pan -DSAFETY -DNOCLAIM): no invalid end state, no assertion violated. The server
 *     asleep in RingWait is a valid end state (label end_idle) only if it has consumed all
 *     NC * N messages (decided when it queues; this changes nothing the server does), so a
 *     lost wake-up (the server asleep for good while a ring holds records) is an invalid end
 *     state. Assertion: the event ring never overflows.
 *   - Liveness (pan -a, ltl all_consumed): <> (every message consumed), on every run (a
 *     deadlock counts: SPIN extends it by stuttering). Every loop in the model is bounded
 *     (clients stop; each wake is tied to a doorbell; spurious returns are budgeted), so no
 *     fairness assumption is needed.
 *   States stored (SPIN 6.5.2, SPURIOUS=1), all with 0 errors: default (rule 1, N=3)
 *   4,666,149; its LTL 3,905,362; TSO N=2 1,850,354; rule 3 + RELEASE_LATE N=2 3,802,339;
 *   SMALL_EVRING TSO N=2 1,734,208; check.py --deep adds the larger ones. Every statement is
 *   reached, except the end-of-turn release when RELEASE_LATE=0 (nothing is left to release).
 *
 * BROKEN VARIANTS (-DBROKEN=k: SPIN must find the lost wake-up)
 *   1: the server releases the doorbells AFTER draining instead of before.
 *   2: the kernel's pending check ignores ev_head (one doorbell, pending for ever).
 *   3: the server clears every client's cw when it wakes, but drains only those with a doorbell.
 *   4: the server does not re-check tail after setting cw.
 *   5: the kernel drops a doorbell silently (an event ring full, with no `dropped` count).
 *   6: no fence between the server's cw = 1 and its re-check of tail (found with -DTSO only).
 *
 * HOW TO RUN (tests/model/check.py does all of this, in a temporary directory)
 *   spin -a [-DN=n] [-DTSO] [-DCLIENT_RULE=r] [-DRELEASE_LATE=1] [-DSMALL_EVRING]
 *           [-DDROP_FENCE=0] [-DSPURIOUS=s] [-DBROKEN=k] doorbell.pml
 *   gcc -O2 -DSAFETY -DNOCLAIM -o pan pan.c && ./pan -m10000       # safety
 *   gcc -O2 -o pan pan.c && ./pan -a -m10000 -N all_consumed        # liveness
 *   A counter-example goes to doorbell.pml.trail; replay: spin -t -p -g -l [same -D] doorbell.pml
 */

#ifndef N
#define N 3             /* messages per client */
#endif
#ifndef SPURIOUS
#define SPURIOUS 1      /* spurious RingWait returns allowed in one run */
#endif
#ifndef CLIENT_RULE
#define CLIENT_RULE 1   /* 0: as specified (loses a wake-up); 1: head fix; 2: none; 3: generation */
#endif
#ifndef BROKEN
#define BROKEN 0
#endif

#ifndef RELEASE_LATE
#define RELEASE_LATE 0  /* 1: the server may release what it read after its flag and re-check */
#endif
#ifndef DROP_FENCE
#define DROP_FENCE 1    /* SMALL_EVRING: a fence between releasing events and loading `dropped` */
#endif

#define NC 2            /* clients */
#ifdef SMALL_EVRING
#define EVCAP 1         /* one record: a doorbell can find the event ring full, and be dropped */
#else
#define EVCAP NC        /* event ring records: one pending doorbell per binding, never full */
#endif

/* ---- shared memory ---- */
byte tail[NC];          /* request ring: records committed; client (also its private count) */
byte head[NC];          /* request ring: records released; server */
byte cw[NC];            /* request ring: consumer_waiting (CLIENT_RULE 3: a generation) */
byte ev_tail;           /* event ring: records posted; kernel */
byte ev_rec[EVCAP];     /* event ring: the badge of each doorbell record; kernel */
byte ev_head;           /* event ring: records consumed; server */
bit  ev_waiting;        /* event ring: consumer_waiting; server */

/* ---- kernel state ---- */
byte posted_at[NC];     /* Doorbell::posted_at_ */
bit  ev_sleeping;       /* the server is queued in RingWait on the event ring */
byte spurious = SPURIOUS;
byte dropped;           /* Control::dropped: events the kernel could not post (SMALL_EVRING) */

/* ---- the server's private read index of each request ring; also the ghost "messages
   consumed" ---- */
byte consumed[NC];

#define ALL_CONSUMED (consumed[0] == N && consumed[1] == N)

ltl all_consumed { <> ALL_CONSUMED }

/* ---- the server's stores: direct (SC), or through a TSO store buffer ---- */
#ifdef TSO
#define W_HEAD 0
#define W_CW 1
#define W_EVHEAD 2
#define W_EVWAITING 3
chan sb = [8] of { byte, byte, byte };  /* (word, index, value), FIFO */
#define STORE_HEAD(i, v)    sb!W_HEAD, i, v
#define STORE_CW(i, v)      sb!W_CW, i, v
#define STORE_EVHEAD(v)     sb!W_EVHEAD, 0, v
#define STORE_EVWAITING(v)  sb!W_EVWAITING, 0, v
#define MFENCE              empty(sb)   /* mfence, or a syscall's locked instructions */

active proctype StoreBuffer() {
    byte w, x, v;
end_flush:
    do
    :: atomic {
           sb?w, x, v ->
           if
           :: w == W_HEAD -> head[x] = v
           :: w == W_CW -> cw[x] = v
           :: w == W_EVHEAD -> ev_head = v
           :: w == W_EVWAITING -> ev_waiting = v
           fi;
           w = 0; x = 0; v = 0
       }
    od
}
#else
#define STORE_HEAD(i, v)    head[i] = v
#define STORE_CW(i, v)      cw[i] = v
#define STORE_EVHEAD(v)     ev_head = v
#define STORE_EVWAITING(v)  ev_waiting = v
#define MFENCE              skip
#endif

/* ---- kernel: RingNotify on a ring end bound to the event ring with badge c ---- */
#if BROKEN == 2
#define DOORBELL_PENDING(c) (posted_at[c] != 0)
#else
#define DOORBELL_PENDING(c) (posted_at[c] != 0 && ev_head < posted_at[c])
#endif

/* ---- the client's "notify once per sleep" rule: when a client that found cw set skips
   RingNotify. h: head, loaded after cw; w: the cw value loaded; tail[c]: what the client just
   committed (it is the only writer: its private count). ---- */
#if CLIENT_RULE == 0
/* As specified, and as RingProducer::commit first did: skip if we notified before and head has not
   moved since. Loses a wake-up (see the header). */
#define CLIENT_SKIPS (notified && h == notified_head)
#elif CLIENT_RULE == 1
/* Head-based fix: also skip when head == tail (the server has read and released everything we
   committed; it re-checks tail after it sets cw, so nothing needs waking), and do NOT count that
   as a notify. Sound only if the server releases what it read before it sets cw (RELEASE_LATE
   0); with RpcServer::serve's order it loses a wake-up. */
#define CLIENT_SKIPS (h == tail[c] || (notified && h == notified_head))
#elif CLIENT_RULE == 2
/* No rule: notify whenever cw is set. */
#define CLIENT_SKIPS false
#else
/* Generation fix: cw holds the server's sleep generation (a new nonzero value at every
   prepare_wait, 0 when cleared); skip if we already notified this generation. */
#define CLIENT_SKIPS (w == notified_w)
#endif

/* The cw value the server stores in prepare_wait. */
#if CLIENT_RULE == 3
#define SLEEP_MARK(k) gen[k]
#define NEW_SLEEP(k) gen[k]++
#else
#define SLEEP_MARK(k) 1
#define NEW_SLEEP(k) skip
#endif

/* RingNotify from client c. Ring::notify wakes RingWait sleepers on the request ring itself
   (none: the server never sleeps there); Doorbell::ring runs under the doorbell's lock and
   appends under Ring::post's lock: one atomic step (inside the caller's atomic). */
inline doorbell_ring(c) {
    if
    :: DOORBELL_PENDING(c)                      /* the last one is unread: nothing to do */
#ifdef SMALL_EVRING
    :: !DOORBELL_PENDING(c) && ev_tail - ev_head >= EVCAP ->
       dropped++                                /* Ring::post: full, counted, dropped */
    :: !DOORBELL_PENDING(c) && ev_tail - ev_head < EVCAP ->
#else
    :: else ->
#endif
#if BROKEN == 5
       if
       :: skip                                  /* wrong: dropped, and nobody told */
       :: true ->
#endif
       assert(ev_tail - ev_head < EVCAP);       /* the event ring never overflows */
       ev_rec[ev_tail % EVCAP] = c;
       ev_tail++;
       posted_at[c] = ev_tail;
       posted = 1
#if BROKEN == 5
       fi
#endif
    fi
}

/* Ring::post, after its lock: seq_cst fence, load the event ring's consumer_waiting, wake its
   queue (under the queue's lock). */
inline doorbell_wake() {
    if
    :: atomic { posted && ev_waiting -> ev_sleeping = 0; posted = 0 }
    :: atomic { !(posted && ev_waiting) -> posted = 0 }
    fi
}

proctype Client(byte c) {
    byte h;                 /* head as loaded after the fence */
    byte notified_head;
    byte w, notified_w;     /* CLIENT_RULE 3 */
    bit notified, posted;

    do
    :: d_step { tail[c] < N -> tail[c]++ }      /* write the record; commit: tail += 1 (release) */
       /* full fence, then load consumer_waiting */
#if CLIENT_RULE == 3
       w = cw[c];
       if
       :: atomic { w == 0 || CLIENT_SKIPS -> w = 0 }
       :: atomic { w != 0 && !(CLIENT_SKIPS) -> notified_w = w; w = 0; doorbell_ring(c) };
          doorbell_wake()
       fi
#else
       if
       :: cw[c] ->
          h = head[c];
          if
          :: atomic { CLIENT_SKIPS -> h = 0 }
          :: atomic {
                 !(CLIENT_SKIPS) -> notified = 1; notified_head = h; h = 0; doorbell_ring(c)
             };
             doorbell_wake()
          fi
       :: else
       fi
#endif
    :: else -> break
    od
}

/* ---- the server's step 2, for client k (a constant) ----
   When it releases what it read is left open: after any record, in any batch; with
   RELEASE_LATE also after the flag and the re-check, at the end of the turn (as RpcServer::serve
   does). Every order is explored. Steps that read a word whose tested property cannot change
   until this process acts again (tail only grows, so "a record is there" stays true) are merged
   with the store that follows: delaying such a read to the store's instant changes no outcome. */
inline release(k) {
    if
    :: atomic { released[k] != consumed[k] -> released[k] = consumed[k]; STORE_HEAD(k, released[k]) }
    :: else
    fi
}

inline drain(k) {
    if
    :: ready[k] ->
       if
       :: STORE_CW(k, 0)                        /* modelling choice: clear the flag while ... */
       :: skip                                  /* ... draining, or leave it; both explored */
       fi;
       do
       :: atomic { consumed[k] != tail[k] -> consumed[k]++ }  /* peek: read one record */
       :: released[k] != consumed[k] -> release(k)            /* release what was read */
       :: consumed[k] == tail[k] ->                           /* empty */
#if !RELEASE_LATE
          release(k);                           /* everything read is released first */
#endif
          NEW_SLEEP(k);
          STORE_CW(k, SLEEP_MARK(k));           /* prepare_wait */
#if BROKEN == 4
          ready[k] = 0;                         /* wrong: no re-check */
          break
#else
#if BROKEN != 6
          MFENCE;
#endif
          if
          :: atomic { tail[k] != consumed[k] -> STORE_CW(k, 0) }  /* records appeared */
          :: else -> ready[k] = 0; break                          /* the flag stays set */
          fi
#endif
       od;
       release(k)                               /* the rest, at the end of the turn */
    :: else
    fi
}

/* The server asleep in RingWait: woken by the kernel (then wait_until re-checks under the
   queue's lock), or a spurious return (budgeted, or every sleep would be non-blocking). */
inline sleep() {
    if
    :: atomic { !ev_sleeping -> goto rw_check }
    :: atomic { spurious > 0 -> spurious--; ev_sleeping = 0 }
    fi
}

proctype Server() {
    bit ready[NC];
    byte released[NC];      /* its private head of each request ring (consumed[]: read) */
    byte gen[NC];           /* CLIENT_RULE 3: its sleep generation on each request ring */
    byte dropped_seen;
    byte evh;               /* its private event ring head */
    byte seen;              /* event ring tail seen in step 1 */
    byte i;

    d_step { ready[0] = 1; ready[1] = 1 }   /* newly bound rings are drained once */

loop:
    /* 1. Peek every event record; each doorbell marks its client ready. A record below the
       tail seen is stable until released; once read it is dead, so the model zeroes it
       (fewer states; nobody reads it again). */
    seen = ev_tail;
    do
    :: atomic {
           evh != seen ->
           i = ev_rec[evh % EVCAP]; ev_rec[evh % EVCAP] = 0; ready[i] = 1; evh++;
           i = 0
       }
    :: else -> seen = 0; break
    od;
#if BROKEN != 1
    STORE_EVHEAD(evh);      /* release the doorbells BEFORE draining */
#endif
#ifdef SMALL_EVRING
    /* RpcServer::drain_events: events the kernel dropped may include doorbells, so every
       client becomes ready. */
#if DROP_FENCE
    MFENCE;                 /* our release must be visible before we look at `dropped` */
#endif
    if
    :: atomic { dropped != dropped_seen -> dropped_seen = dropped; ready[0] = 1; ready[1] = 1 }
    :: else
    fi;
#endif

    /* 2. Drain every ready client. */
    drain(0);
    drain(1);
#if BROKEN == 1
    STORE_EVHEAD(evh);      /* wrong: released after draining */
#endif

    /* 3. No client ready: sleep on the event ring. */
    STORE_EVWAITING(1);
    MFENCE;
    if
    :: atomic { ev_tail != evh -> STORE_EVWAITING(0) }; goto loop
    :: else
    fi;
    MFENCE;                 /* RingWait(seen = evh): the syscall's locks drain the buffer */
rw_check:                   /* WaitQueue::wait_until: under the queue's lock, check, queue */
    if
    :: atomic { ev_tail != evh -> STORE_EVWAITING(0) }; goto loop       /* ready: return */
    :: atomic { ev_tail == evh && ALL_CONSUMED -> ev_sleeping = 1 };
end_idle:
       sleep()              /* asleep with nothing left to do: a valid end state */
    :: atomic { ev_tail == evh && !ALL_CONSUMED -> ev_sleeping = 1 };
       sleep()              /* asleep with work pending: must be woken */
    fi;
#if BROKEN == 3
    STORE_CW(0, 0);         /* wrong: clears the flags of clients it will not drain */
    STORE_CW(1, 0);
#endif
    STORE_EVWAITING(0);     /* finish_wait */
    goto loop
}

init {
    atomic {
        run Server();
        run Client(0);
        run Client(1)
    }
}
