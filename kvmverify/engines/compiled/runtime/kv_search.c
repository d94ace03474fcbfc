/* kvmverify compiled engine: the breadth-first search, included at the end of a generated model file.
 *
 * Storage, per state: its packed value (KV_STATE_BYTES), its parent link (8 bytes: the parent's index and the
 * position of the state among the parent's successors) and a 4-byte slot in an open-addressing hash table of
 * state indices (linear probing, at most 80% full). An entry holds the index (plus one; 0 is empty) in its low
 * bits and, in the bits a table of that size leaves spare, a few bits of the state's hash, so that a probe
 * passes other states' slots without reading those states. Nothing else lives per state.
 *
 * Levels and determinism. The search goes level by level; the states of a level are expanded by all threads at
 * once. A new state is first written to a record of the next level with the key (parent index, position) under
 * which it was found, lowered by an atomic minimum whenever another thread finds it under a smaller key. When
 * the level is done its records are sorted by key, which numbers the new states exactly as a sequential
 * breadth-first search does (the Python engine's numbering), whatever the number of threads and their timing.
 * Each state property remembers the first state index that violates it; each step property the first state
 * whose expansion violates it (an atomic minimum over the level, committed when the level completes), so every
 * result, count and trace is the same in every run.
 *
 * Limits. --max-states, --max-depth, --timeout, --max-memory and SIGINT stop the search; a level cut short is
 * discarded, so a stopped search reports exactly the levels it completed (every state up to that depth stored
 * and checked, every transition from the levels above it explored).
 *
 * Report (stdout, one record per line): progress lines while it runs, then the result:
 *   P states depth transitions milliseconds resident_kb
 *   R bound states transitions depth peak_rss_kb milliseconds
 *   F s|t property state          (first violating / reaching state of state property, step property)
 *   T state root n pos_1 .. pos_n (the path to a state: its root initial state, then successor positions)
 *   W word_0 .. word_k            (a state on that path, packed, in hexadecimal: after each T, n+1 of them)
 */
#include <errno.h>
#include <signal.h>
#include <time.h>
#include <sys/mman.h>
#include <sys/resource.h>
#ifdef __linux__
#include <sys/prctl.h>
#endif
#include <unistd.h>

#if defined(__GNUC__) && !defined(__TINYC__)
#include <pthread.h>
#define KV_THREADS_OK 1
#define KV_LOAD(p) __atomic_load_n((p), __ATOMIC_ACQUIRE)
#define KV_LOAD_RELAXED(p) __atomic_load_n((p), __ATOMIC_RELAXED)
#define KV_STORE(p, v) __atomic_store_n((p), (v), __ATOMIC_RELEASE)
#define KV_CAS32(p, expect, v) __atomic_compare_exchange_n((p), (expect), (v), 0, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)
#define KV_CAS64(p, expect, v) __atomic_compare_exchange_n((p), (expect), (v), 0, __ATOMIC_ACQ_REL, __ATOMIC_RELAXED)
#define KV_ADD(p, v) __atomic_fetch_add((p), (v), __ATOMIC_RELAXED)
#define KV_PREFETCH(p) __builtin_prefetch(p)
#else /* tcc: no atomics, one thread */
#define KV_THREADS_OK 0
#define KV_LOAD(p) (*(p))
#define KV_LOAD_RELAXED(p) (*(p))
#define KV_STORE(p, v) (*(p) = (v))
static int kv_cas32(uint32_t *p, uint32_t *e, uint32_t v) { if (*p == *e) { *p = v; return 1; } *e = *p; return 0; }
static int kv_cas64(uint64_t *p, uint64_t *e, uint64_t v) { if (*p == *e) { *p = v; return 1; } *e = *p; return 0; }
#define KV_CAS32(p, e, v) kv_cas32((p), (e), (v))
#define KV_CAS64(p, e, v) kv_cas64((p), (e), (v))
static uint64_t kv_add(uint64_t *p, uint64_t v) { uint64_t o = *p; *p = o + v; return o; }
#define KV_ADD(p, v) kv_add((p), (v))
#define KV_PREFETCH(p) ((void)(p))
#endif

#define KV_NONE UINT64_MAX
#define KV_MAX_THREADS 64
#define KV_CHUNK 64            /* states a thread takes from the level at a time */
#define KV_BLOCK 256           /* next-level records a thread reserves at a time */
/* a record of the level being built: the state, its key, then a word with its table slot (low 32 bits) and,
 * for up to 32 state properties, which ones it violates (reaches) (high 32 bits); more properties: more words */
#define KV_SMALLPROPS (KV_NSTATEPROPS <= 32)
#define KV_REC_WORDS (KV_STATE_WORDS + 2 + (KV_SMALLPROPS ? 0 : KV_PWORDS))
#define KV_SLOT(rec) ((uint32_t)(rec)[KV_STATE_WORDS + 1])
#define KV_SET_SLOT(rec, i) ((rec)[KV_STATE_WORDS + 1] = ((rec)[KV_STATE_WORDS + 1] & ~(uint64_t)UINT32_MAX) | (uint64_t)(i))

enum { KV_RUN, KV_STOP_STATES, KV_STOP_TIMEOUT, KV_STOP_MEMORY, KV_STOP_INTERRUPT, KV_STOP_DEPTH };
static const char *const kv_bound_names[] = {"none", "max-states", "timeout", "max-memory", "interrupted",
                                             "max-depth"};

/* options */
static int kv_nthreads = 1;
static uint64_t kv_max_states = KV_NONE, kv_max_depth = KV_NONE, kv_max_mem = 0;
static double kv_deadline = 0, kv_started = 0, kv_progress_every = 1.0;
static int kv_symmetry = 1;

/* state */
static volatile sig_atomic_t kv_sigint = 0;
static int kv_stop = KV_RUN;
static int kv_need_grow = 0;
static uint8_t *kv_states;
static uint64_t kv_nstates, kv_states_cap;
static uint64_t *kv_parent;
static uint32_t *kv_table;
static uint64_t kv_tcap, kv_tmask, kv_tlimit, kv_tcount;
static unsigned kv_ibits = 32;       /* bits of an entry that hold the index; the rest hold the hash tag */
static uint32_t kv_idmask = UINT32_MAX;
static uint64_t *kv_next;            /* records of the level being built */
static uint64_t kv_next_cap, kv_next_n;
static uint64_t kv_level_lo, kv_level_hi, kv_cursor;
static uint64_t kv_depth, kv_transitions;
static uint64_t kv_pending[KV_PWORDS];          /* state properties nothing has violated (reached) yet */
static uint64_t kv_found_state[KV_NSTATEPROPS + 1], kv_found_step[KV_NSTEPPROPS + 1];
static uint64_t kv_cand_step[KV_NSTEPPROPS + 1];
static kv_worker kv_workers[KV_MAX_THREADS];

static double kv_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static KV_NORETURN void kv_fail(const char *what, long detail) {
    fprintf(stderr, "kvmverify compiled checker: internal error: %s %ld\n", what, detail);
    fflush(stdout);
    exit(70);
}

static void *kv_alloc(size_t n) {
    void *p = calloc(1, n ? n : 1);
    if (!p) kv_fail("out of memory allocating bytes:", (long)n);
    return p;
}

/* Large arrays are mapped, not allocated: grown in place by mremap where the system has it, and backed by huge
 * pages where it allows them (random lookups in a table of hundreds of megabytes miss the TLB otherwise; a
 * small array keeps small pages, which a huge page would round up to 2 MB). */
#define KV_HUGE (UINT64_C(32) << 20)
static void kv_advise(void *p, uint64_t bytes) {
#ifdef MADV_HUGEPAGE
    if (bytes >= KV_HUGE) madvise(p, bytes, MADV_HUGEPAGE);
#else
    (void)p; (void)bytes;
#endif
}

static void *kv_map(uint64_t bytes) {
    if (!bytes) bytes = 1;
    void *p = mmap(0, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) kv_fail("out of memory mapping bytes:", (long)bytes);
    kv_advise(p, bytes);
    return p;
}

static void kv_unmap(void *p, uint64_t bytes) {
    if (p) munmap(p, bytes ? bytes : 1);
}

static void *kv_remap(void *p, uint64_t old, uint64_t bytes) {
    if (!p) return kv_map(bytes);
#if defined(__linux__) && defined(MREMAP_MAYMOVE)
    void *q = mremap(p, old ? old : 1, bytes, MREMAP_MAYMOVE);
    if (q == MAP_FAILED) kv_fail("out of memory growing an array to bytes:", (long)bytes);
    kv_advise(q, bytes);
    return q;
#else
    void *q = kv_map(bytes);
    memcpy(q, p, old < bytes ? old : bytes);
    kv_unmap(p, old);
    return q;
#endif
}

static uint64_t kv_rss_bytes(void) {
    FILE *f = fopen("/proc/self/statm", "r");
    unsigned long size = 0, resident = 0;
    if (f) {
        int ok = fscanf(f, "%lu %lu", &size, &resident) == 2;
        fclose(f);
        if (ok) return (uint64_t)resident * (uint64_t)sysconf(_SC_PAGESIZE);
    }
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
#ifdef __APPLE__
    return (uint64_t)ru.ru_maxrss;
#else
    return (uint64_t)ru.ru_maxrss * 1024;
#endif
}

/* would allocating `extra` more bytes pass --max-memory? */
static int kv_over_memory(uint64_t extra) {
    return kv_max_mem && kv_rss_bytes() + extra > kv_max_mem;
}

static void kv_request_stop(int why) {
    int expect = KV_RUN;
#if KV_THREADS_OK
    __atomic_compare_exchange_n(&kv_stop, &expect, why, 0, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE);
#else
    if (kv_stop == expect) kv_stop = why;
#endif
}

static int kv_check_limits(kv_worker *w) {
    if (kv_sigint) kv_request_stop(KV_STOP_INTERRUPT);
    if (w->id == 0) {
        double t = kv_now();
        if (kv_deadline && t > kv_deadline) kv_request_stop(KV_STOP_TIMEOUT);
        static double last_memory_check;
        if (kv_max_mem && t - last_memory_check >= 0.05) {  /* /proc is read at most 20 times a second */
            last_memory_check = t;
            if (kv_rss_bytes() > kv_max_mem) kv_request_stop(KV_STOP_MEMORY);
        }
        if (t - w->last_report >= kv_progress_every) {
            w->last_report = t;
            printf("P %llu %llu %llu %.0f %llu\n", (unsigned long long)KV_LOAD_RELAXED(&kv_tcount),
                   (unsigned long long)kv_depth, (unsigned long long)kv_transitions, (t - kv_started) * 1000,
                   (unsigned long long)(kv_rss_bytes() >> 10));
            fflush(stdout);
        }
    }
    if (kv_max_states != KV_NONE && KV_LOAD_RELAXED(&kv_tcount) >= kv_max_states) kv_request_stop(KV_STOP_STATES);
    return KV_LOAD_RELAXED(&kv_stop) != KV_RUN;
}

static int kv_tick(kv_worker *w) {
    w->budget = KV_TICK_EVERY;
    return kv_check_limits(w) || KV_LOAD_RELAXED(&kv_need_grow);
}

KV_INLINE uint64_t kv_hash(const uint64_t *t) {
    uint64_t h = UINT64_C(0x9E3779B97F4A7C15);
    for (int i = 0; i < KV_STATE_WORDS; i++) {
        h ^= t[i];
        h *= UINT64_C(0xbf58476d1ce4e5b9);
        h ^= h >> 31;
    }
    h *= UINT64_C(0x94d049bb133111eb);
    return h ^ (h >> 29);
}

KV_INLINE void kv_load(uint64_t *t, const uint8_t *src) {
    t[KV_STATE_WORDS - 1] = 0;
    memcpy(t, src, KV_STATE_BYTES);
}

KV_INLINE uint64_t *kv_record(uint64_t r) { return kv_next + r * KV_REC_WORDS; }

/* the record a new state goes to; 0 when the next-level buffer must grow first */
static uint64_t *kv_reserve(kv_worker *w) {
    if (w->rec_next == w->rec_end) {
        w->rec_next = KV_ADD(&kv_next_n, KV_BLOCK);
        w->rec_end = w->rec_next + KV_BLOCK;
    }
    if (w->rec_end > kv_next_cap) return 0;
    return kv_record(w->rec_next);
}

static void kv_abort_path(kv_worker *w) { w->seq++; }

static void kv_atomic_min(uint64_t *p, uint64_t v) {
    uint64_t old = KV_LOAD_RELAXED(p);
    while (v < old && !KV_CAS64(p, &old, v)) { }
}

static void kv_step_violation(kv_worker *w, int prop) { kv_atomic_min(&kv_cand_step[prop], w->cur); }

/* the hash tag of an entry: hash bits above those that pick the slot */
KV_INLINE uint32_t kv_tag(uint64_t h, unsigned ibits) {
    return ibits >= 32 ? 0 : (uint32_t)((h >> 40) & ((UINT64_C(1) << (32 - ibits)) - 1)) << ibits;
}

/* Look up one pending successor; insert it into the next level if it is new. Returns 1 when the table or the
 * next-level buffer must grow first. */
static int kv_insert(kv_worker *w, const kv_pend *p) {
    uint64_t i = p->hash & kv_tmask;
    uint32_t tag = kv_tag(p->hash, kv_ibits);
    for (;;) {
        uint32_t v = KV_LOAD(&kv_table[i]);
        if (v == 0) {
            if (KV_LOAD_RELAXED(&kv_tcount) + w->inserted >= kv_tlimit) return 1;
            uint64_t *rec = kv_reserve(w);
            if (!rec) return 1;
            uint64_t id = kv_nstates + w->rec_next + 1;
            if (KV_UNLIKELY(id > kv_idmask)) {
                if (kv_ibits >= 32) kv_fail("more states than the 32-bit table holds:", (long)id);
                return 1;  /* a larger table has room for longer indices */
            }
            memcpy(rec, p->s, 8 * KV_STATE_WORDS);
            rec[KV_STATE_WORDS] = p->key;
            if (KV_SMALLPROPS) {
                uint64_t bits[KV_PWORDS] = {0};
                if (KV_NSTATEPROPS) kv_props(p->s, kv_pending, bits);
                rec[KV_STATE_WORDS + 1] = (bits[0] << 32) | i;
            } else {
                rec[KV_STATE_WORDS + 1] = i;
                memset(rec + KV_STATE_WORDS + 2, 0, 8 * KV_PWORDS);
                kv_props(p->s, kv_pending, rec + KV_STATE_WORDS + 2);
            }
            uint32_t expect = 0;
            if (KV_CAS32(&kv_table[i], &expect, tag | (uint32_t)id)) {
                w->rec_next++;
                if (++w->inserted == 64) {
                    KV_ADD(&kv_tcount, w->inserted);
                    w->inserted = 0;
                }
                return 0;
            }
            continue; /* another thread took the slot: look at what it put there */
        }
        if ((v & ~kv_idmask) != tag) {  /* another state's slot: its tag differs */
            i = (i + 1) & kv_tmask;
            continue;
        }
        uint64_t idx = (uint64_t)(v & kv_idmask) - 1;
        if (idx < kv_nstates) {
            if (memcmp(kv_states + idx * KV_STATE_BYTES, p->s, KV_STATE_BYTES) == 0) return 0;
        } else {
            uint64_t *rec = kv_record(idx - kv_nstates);
            if (memcmp(rec, p->s, 8 * KV_STATE_WORDS) == 0) {
                kv_atomic_min(&rec[KV_STATE_WORDS], p->key);
                return 0;
            }
        }
        i = (i + 1) & kv_tmask;
    }
}

static const uint8_t *kv_state_of(uint32_t v) {
    uint64_t idx = (uint64_t)(v & kv_idmask) - 1;
    return idx < kv_nstates ? kv_states + idx * KV_STATE_BYTES : (const uint8_t *)kv_record(idx - kv_nstates);
}

/* Look up the pending successors: first every table slot they hash to is fetched, then every state those slots
 * name, then each is looked up (by then mostly in cache). Returns 1 (dropping the batch) when something must
 * grow first: the states since the batch began are expanded again afterwards (lookups are idempotent). */
static int kv_flush(kv_worker *w) {
    int n = w->npend;
    for (int k = 0; k < n; k++) {
        uint32_t v = KV_LOAD_RELAXED(&kv_table[w->pend[k].hash & kv_tmask]);
        if (v && (v & ~kv_idmask) == kv_tag(w->pend[k].hash, kv_ibits)) KV_PREFETCH(kv_state_of(v));
    }
    for (int k = 0; k < n; k++)
        if (kv_insert(w, &w->pend[k])) {
            w->npend = 0;
            KV_STORE(&kv_need_grow, 1);
            return 1;
        }
    w->npend = 0;
    return 0;
}

/* One successor of w->cur (t may be changed: canonicalised), queued for lookup. Returns 1 when the expansion
 * must stop here: something must grow first. */
static int kv_emit(kv_worker *w, uint64_t *t, int action) {
    (void)action;
    uint64_t key = (w->cur << 32) | w->seq;
    if (KV_UNLIKELY(++w->seq == 0)) kv_fail("more than 2**32 successors of state", (long)w->cur);
    w->trans_state++;
    if (kv_symmetry) kv_canon(t);
    kv_pend *p = &w->pend[w->npend++];
    memcpy(p->s, t, 8 * KV_STATE_WORDS);
    p->key = key;
    p->hash = kv_hash(t);
    KV_PREFETCH(&kv_table[p->hash & kv_tmask]);
    return w->npend == KV_BATCH ? kv_flush(w) : 0;
}

/* fn over [0, n) split among the threads (one thread for small n) */
typedef struct { void (*fn)(uint64_t, uint64_t, int); uint64_t lo, hi; int k; } kv_job;
static void *kv_job_run(void *arg) {
    kv_job *j = arg;
    j->fn(j->lo, j->hi, j->k);
    return 0;
}
static void kv_parallel(void (*fn)(uint64_t, uint64_t, int), uint64_t n) {
    int t = (KV_THREADS_OK && n >= 65536) ? kv_nthreads : 1;
    kv_job jobs[KV_MAX_THREADS];
    for (int k = 0; k < t; k++) {
        jobs[k].fn = fn;
        jobs[k].lo = n * k / t;
        jobs[k].hi = n * (k + 1) / t;
        jobs[k].k = k;
    }
#if KV_THREADS_OK
    pthread_t th[KV_MAX_THREADS];
    for (int k = 1; k < t; k++)
        if (pthread_create(&th[k], 0, kv_job_run, &jobs[k])) kv_fail("pthread_create failed:", errno);
    kv_job_run(&jobs[0]);
    for (int k = 1; k < t; k++) pthread_join(th[k], 0);
#else
    kv_job_run(&jobs[0]);
#endif
}

/* ----------------------------------------------------------------------------------------------- growth */
/* is record r reserved by a thread but not filled? */
static int kv_unfilled(uint64_t r) {
    for (int k = 0; k < kv_nthreads; k++)
        if (r >= kv_workers[k].rec_next && r < kv_workers[k].rec_end) return 1;
    return 0;
}

/* The table being rebuilt: every entry is new, so threads only race for empty slots (compare and swap). */
static uint32_t *kv_new_table;
static uint64_t kv_new_mask;
static unsigned kv_new_ibits;

static void kv_place(uint64_t lo, uint64_t hi, int records) {
    uint32_t *t = kv_new_table;
    uint64_t m = kv_new_mask, h[16];
    for (uint64_t a = lo; a < hi; a += 16) {
        uint64_t b = a + 16 < hi ? a + 16 : hi;
        for (uint64_t j = a; j < b; j++) {
            uint64_t s[KV_STATE_WORDS];
            if (records) memcpy(s, kv_record(j), 8 * KV_STATE_WORDS);
            else kv_load(s, kv_states + j * KV_STATE_BYTES);
            h[j - a] = (records && kv_unfilled(j)) ? KV_NONE : kv_hash(s);
            if (h[j - a] != KV_NONE) KV_PREFETCH(&t[h[j - a] & m]);
        }
        for (uint64_t j = a; j < b; j++) {
            if (h[j - a] == KV_NONE) continue;
            uint64_t i = h[j - a] & m;
            uint32_t v = kv_tag(h[j - a], kv_new_ibits) | (uint32_t)((records ? kv_nstates : 0) + j + 1);
            for (;;) {
                uint32_t expect = 0;
                if (KV_LOAD_RELAXED(&t[i]) == 0 && KV_CAS32(&t[i], &expect, v)) break;
                i = (i + 1) & m;
            }
            if (records) KV_SET_SLOT(kv_record(j), i);
        }
    }
}
static void kv_place_states(uint64_t lo, uint64_t hi, int k) { (void)k; kv_place(lo, hi, 0); }
static void kv_place_records(uint64_t lo, uint64_t hi, int k) { (void)k; kv_place(lo, hi, 1); }

/* A table of `cap` slots holding every state stored and every state of the level being built, built from the
 * states themselves (read in order by each thread; the table in random order, prefetched): the old table goes
 * first, so that the two never take memory at once. */
static int kv_grow_table(uint64_t cap) {
    if (kv_over_memory(cap * 4 > kv_tcap * 4 ? cap * 4 - kv_tcap * 4 : 0)) return 0;
    kv_unmap(kv_table, kv_tcap * 4);
    unsigned ibits = 1;
    while ((UINT64_C(1) << ibits) < cap) ibits++;
    ibits = ibits + 1 < 32 ? ibits + 1 : 32;  /* indices up to twice the capacity: room for reserved records */
    kv_new_table = kv_map(cap * 4);
    kv_new_mask = cap - 1;
    kv_new_ibits = ibits;
    kv_parallel(kv_place_states, kv_nstates);
    kv_parallel(kv_place_records, kv_next_n < kv_next_cap ? kv_next_n : kv_next_cap);
    kv_table = kv_new_table;
    kv_tcap = cap;
    kv_tmask = cap - 1;
    kv_tlimit = cap / 10 * 8;
    kv_ibits = ibits;
    kv_idmask = ibits >= 32 ? UINT32_MAX : (uint32_t)((UINT64_C(1) << ibits) - 1);
    return 1;
}

static int kv_grow_next(uint64_t need) {
    uint64_t cap = kv_next_cap ? kv_next_cap : 1024;
    while (cap < need) cap *= 2;
    if (cap == kv_next_cap) return 1;
    if (kv_over_memory((cap - kv_next_cap) * 8 * KV_REC_WORDS)) return 0;
    kv_next = kv_remap(kv_next, kv_next_cap * 8 * KV_REC_WORDS, cap * 8 * KV_REC_WORDS);
    kv_next_cap = cap;
    return 1;
}

static int kv_grow(void) {
    for (int k = 0; k < kv_nthreads; k++) {
        kv_tcount += kv_workers[k].inserted;
        kv_workers[k].inserted = 0;
    }
    uint64_t top = kv_nstates + kv_next_n + (uint64_t)KV_BLOCK * (kv_nthreads + 1) + 1;
    if ((kv_tcount + (uint64_t)64 * kv_nthreads >= kv_tlimit || top > kv_idmask) && !kv_grow_table(kv_tcap * 2))
        return 0;
    uint64_t need = kv_next_n + (uint64_t)KV_BLOCK * (kv_nthreads + 1);
    if (need > kv_next_cap && !kv_grow_next(need + need / 2)) return 0;
    return 1;
}

/* ----------------------------------------------------------------------------------------------- a level */
/* Expand states [lo, hi). Their successors are looked up in batches; when a batch cannot complete (something
 * must grow, or a limit stopped the search) the states since the batch began are left to redo. */
static void kv_expand_range(kv_worker *w, uint64_t lo, uint64_t hi) {
    uint64_t s[KV_STATE_WORDS];
    uint64_t start = lo, trans = 0;
    for (uint64_t i = lo; i < hi; i++) {
        if (KV_LOAD_RELAXED(&kv_need_grow) || KV_LOAD_RELAXED(&kv_stop) != KV_RUN ||
            ((++w->done & 1023) == 0 && kv_check_limits(w)))
            goto redo;
        w->cur = i;
        w->seq = 0;
        w->trans_state = 0;
        kv_load(s, kv_states + i * KV_STATE_BYTES);
        if (kv_expand(w, s)) goto redo;
        trans += w->trans_state;
        if (w->npend >= KV_BATCH / 2 || i + 1 == hi) {
            if (kv_flush(w)) goto redo;
            w->trans += trans;
            trans = 0;
            start = i + 1;
        }
    }
    return;
redo:
    w->npend = 0;
    w->redo_lo = start;
    w->redo_hi = hi;
}

static void *kv_work(void *arg) {
    kv_worker *w = arg;
    w->budget = KV_TICK_EVERY;
    for (;;) {
        uint64_t lo, hi;
        if (w->redo_lo < w->redo_hi) {
            lo = w->redo_lo;
            hi = w->redo_hi;
            w->redo_lo = w->redo_hi = 0;
        } else {
            if (KV_LOAD_RELAXED(&kv_need_grow) || KV_LOAD_RELAXED(&kv_stop) != KV_RUN) return 0;
            lo = KV_ADD(&kv_cursor, KV_CHUNK);
            if (lo >= kv_level_hi) return 0;
            hi = lo + KV_CHUNK < kv_level_hi ? lo + KV_CHUNK : kv_level_hi;
        }
        kv_expand_range(w, lo, hi);
        if (w->redo_lo < w->redo_hi) return 0;
    }
}

/* records in key order, for a bucket of one parent's new successors: by position */
static int kv_by_key(const void *a, const void *b) {
    uint64_t x = kv_record(*(const uint32_t *)a)[KV_STATE_WORDS], y = kv_record(*(const uint32_t *)b)[KV_STATE_WORDS];
    return x < y ? -1 : x > y;
}

static int kv_ensure_states(uint64_t n) {
    if (n <= kv_states_cap) return 1;
    uint64_t cap = kv_states_cap ? kv_states_cap : 1024;
    while (cap < n) cap *= 2;
    if (kv_over_memory((n - kv_nstates) * (KV_STATE_BYTES + 8))) return 0;
    kv_states = kv_remap(kv_states, kv_states_cap * KV_STATE_BYTES, cap * KV_STATE_BYTES);
    kv_parent = kv_remap(kv_parent, kv_states_cap * 8, cap * 8);
    kv_states_cap = cap;
    return 1;
}

/* the first state of the new level that violates (reaches) each pending state property */
static void kv_note_props(const uint64_t *bits, uint64_t idx) {
    for (int p = 0; p < KV_NSTATEPROPS; p++)
        if ((bits[p / 64] >> (p % 64)) & 1 && (kv_pending[p / 64] >> (p % 64)) & 1 && kv_found_state[p] == KV_NONE)
            kv_found_state[p] = idx;
}

/* stores the records order[lo..hi) as states kv_nstates + lo .. (their slots in the table, their parent links),
 * each thread noting the first of them that violates (reaches) each pending state property */
static uint32_t *kv_order;
static uint64_t kv_first[KV_MAX_THREADS][KV_NSTATEPROPS + 1];
static void kv_store_range(uint64_t lo, uint64_t hi, int t) {
    for (uint64_t k = lo; k < hi; k++) {
        if (k + 8 < hi) KV_PREFETCH(&kv_table[KV_SLOT(kv_record(kv_order[k + 8]))]);
        uint64_t *rec = kv_record(kv_order[k]);
        uint64_t idx = kv_nstates + k;
        memcpy(kv_states + idx * KV_STATE_BYTES, rec, KV_STATE_BYTES);
        kv_parent[idx] = rec[KV_STATE_WORDS];
        kv_table[KV_SLOT(rec)] = (kv_table[KV_SLOT(rec)] & ~kv_idmask) | (uint32_t)(idx + 1);
        if (KV_NSTATEPROPS) {
            uint64_t small = rec[KV_STATE_WORDS + 1] >> 32;
            const uint64_t *bits = KV_SMALLPROPS ? &small : rec + KV_STATE_WORDS + 2;
            for (int p = 0; p < KV_NSTATEPROPS; p++)
                if ((bits[p / 64] >> (p % 64)) & 1 && kv_first[t][p] == KV_NONE) kv_first[t][p] = idx;
        }
    }
}

/* The records of the level just built, numbered by key and stored; 0 if memory ran out. Keys are (parent,
 * position): a counting sort by parent (the parents are the level just expanded), then each parent's few new
 * successors by position. */
static int kv_commit(void) {
    uint64_t n = kv_next_n, m = kv_level_hi - kv_level_lo, live = 0;
    uint32_t *end = kv_map((m + 1) * 4);
    for (uint64_t r = 0; r < n; r++) {
        uint64_t key = kv_record(r)[KV_STATE_WORDS];
        if (key == KV_NONE) continue;
        end[(key >> 32) - kv_level_lo]++;
        live++;
    }
    if (KV_UNLIKELY(n > UINT32_MAX)) kv_fail("a level of more than 2**32 records:", (long)n);
    uint64_t sum = 0;
    for (uint64_t p = 0; p < m; p++) { uint64_t c = end[p]; end[p] = (uint32_t)sum; sum += c; }
    uint32_t *order = kv_map(live * 4 + 4);
    for (uint64_t r = 0; r < n; r++) {
        uint64_t key = kv_record(r)[KV_STATE_WORDS];
        if (key != KV_NONE) order[end[(key >> 32) - kv_level_lo]++] = (uint32_t)r;
    }
    for (uint64_t p = 0, from = 0; p < m; from = end[p], p++) {  /* end[p]: where parent p's bucket ends */
        uint64_t size = end[p] - from;
        if (size < 2) continue;
        if (size > 16) { qsort(order + from, size, 4, kv_by_key); continue; }
        for (uint64_t a = from + 1; a < end[p]; a++) {
            uint32_t x = order[a];
            uint64_t kx = kv_record(x)[KV_STATE_WORDS], b = a;
            while (b > from && kv_record(order[b - 1])[KV_STATE_WORDS] > kx) { order[b] = order[b - 1]; b--; }
            order[b] = x;
        }
    }
    kv_unmap(end, (m + 1) * 4);
    if (!kv_ensure_states(kv_nstates + live)) { kv_unmap(order, live * 4 + 4); return 0; }
    kv_order = order;
    for (int k = 0; k < kv_nthreads; k++)
        for (int p = 0; p < KV_NSTATEPROPS; p++) kv_first[k][p] = KV_NONE;
    kv_parallel(kv_store_range, live);
    for (int k = 0; k < kv_nthreads; k++)  /* each thread's first violating state, in index order */
        for (int p = 0; p < KV_NSTATEPROPS; p++)
            if (kv_first[k][p] < kv_found_state[p] && (kv_pending[p / 64] >> (p % 64)) & 1) kv_found_state[p] = kv_first[k][p];
    kv_unmap(order, live * 4 + 4);
    kv_nstates += live;
    return 1;
}

static void kv_settle_props(void) {
    for (int p = 0; p < KV_NSTATEPROPS; p++)
        if (kv_found_state[p] != KV_NONE) kv_pending[p / 64] &= ~(UINT64_C(1) << (p % 64));
}

/* expand the level [kv_level_lo, kv_level_hi); 1 if it completed */
static int kv_level(void) {
    int n = kv_nthreads;
    if (kv_level_hi - kv_level_lo < 2 * KV_CHUNK) n = 1;
    kv_cursor = kv_level_lo;
    kv_next_n = 0;
    for (int k = 0; k < KV_NSTEPPROPS; k++) kv_cand_step[k] = KV_NONE;
    for (int k = 0; k < kv_nthreads; k++) {
        kv_worker *w = &kv_workers[k];
        w->rec_next = w->rec_end = 0;
        w->redo_lo = w->redo_hi = 0;
        w->trans = 0;
        w->npend = 0;
        w->inserted = 0;
    }
    for (;;) {
#if KV_THREADS_OK
        pthread_t th[KV_MAX_THREADS];
        for (int k = 1; k < n; k++)
            if (pthread_create(&th[k], 0, kv_work, &kv_workers[k])) kv_fail("pthread_create failed:", errno);
        kv_work(&kv_workers[0]);
        for (int k = 1; k < n; k++) pthread_join(th[k], 0);
#else
        kv_work(&kv_workers[0]);
#endif
        if (kv_stop != KV_RUN) return 0;
        if (!kv_need_grow) break;
        if (!kv_grow()) { kv_request_stop(KV_STOP_MEMORY); return 0; }
        kv_need_grow = 0;
    }
    for (int k = 0; k < kv_nthreads; k++) {
        kv_tcount += kv_workers[k].inserted;
        kv_workers[k].inserted = 0;
    }
    /* records reserved but never filled are dead */
    for (int k = 0; k < kv_nthreads; k++)
        for (uint64_t r = kv_workers[k].rec_next; r < kv_workers[k].rec_end && r < kv_next_cap; r++)
            kv_record(r)[KV_STATE_WORDS] = KV_NONE;
    if (!kv_commit()) { kv_request_stop(KV_STOP_MEMORY); return 0; }
    for (int k = 0; k < kv_nthreads; k++) kv_transitions += kv_workers[k].trans;
    for (int k = 0; k < KV_NSTEPPROPS; k++)
        if (kv_found_step[k] == KV_NONE) kv_found_step[k] = kv_cand_step[k];
    kv_settle_props();
    return 1;
}

/* ----------------------------------------------------------------------------------------------- report */
static void kv_print_state(uint64_t idx) {
    uint64_t s[KV_STATE_WORDS];
    kv_load(s, kv_states + idx * KV_STATE_BYTES);
    printf("W");
    for (int i = 0; i < KV_STATE_WORDS; i++) printf(" %llx", (unsigned long long)s[i]);
    printf("\n");
}

static void kv_print_path(uint64_t idx) {
    uint64_t n = 0, j = idx;
    while (kv_parent[j] != KV_NONE) { j = kv_parent[j] >> 32; n++; }
    uint64_t *path = kv_alloc((n + 1) * 8);
    j = idx;
    for (uint64_t k = n + 1; k-- > 0;) { path[k] = j; if (k) j = kv_parent[j] >> 32; }
    printf("T %llu %llu %llu", (unsigned long long)idx, (unsigned long long)path[0], (unsigned long long)n);
    for (uint64_t k = 1; k <= n; k++) printf(" %llu", (unsigned long long)(kv_parent[path[k]] & 0xffffffffu));
    printf("\n");
    for (uint64_t k = 0; k <= n; k++) kv_print_state(path[k]);
    free(path);
}

static void kv_report(int bound) {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    printf("R %s %llu %llu %llu %ld %.0f\n", kv_bound_names[bound], (unsigned long long)kv_nstates,
           (unsigned long long)kv_transitions, (unsigned long long)kv_depth, (long)ru.ru_maxrss,
           (kv_now() - kv_started) * 1000);
    for (int p = 0; p < KV_NSTATEPROPS; p++)
        if (kv_found_state[p] != KV_NONE) printf("F s %d %llu\n", p, (unsigned long long)kv_found_state[p]);
    for (int p = 0; p < KV_NSTEPPROPS; p++)
        if (kv_found_step[p] != KV_NONE) printf("F t %d %llu\n", p, (unsigned long long)kv_found_step[p]);
    for (int p = 0; p < KV_NSTATEPROPS; p++)
        if (kv_found_state[p] != KV_NONE) kv_print_path(kv_found_state[p]);
    for (int p = 0; p < KV_NSTEPPROPS; p++)
        if (kv_found_step[p] != KV_NONE) kv_print_path(kv_found_step[p]);
    printf("E\n");
    fflush(stdout);
}

/* ----------------------------------------------------------------------------------------------- main */
static void kv_on_sigint(int sig) { (void)sig; kv_sigint = 1; signal(SIGINT, SIG_DFL); }

static uint64_t kv_arg(const char *text) {
    char *end;
    errno = 0;
    unsigned long long v = strtoull(text, &end, 10);
    if (errno || *end) kv_fail("a bad number on the command line", 0);
    return v;
}

int main(int argc, char **argv) {
    signal(SIGINT, kv_on_sigint);  /* first: Ctrl-C from now on stops the search with a report */
    kv_started = kv_now();
#ifdef __linux__
    prctl(PR_SET_PDEATHSIG, SIGKILL);  /* kvmverify killed (not interrupted): the search goes too */
#endif
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : "";
        if (!strcmp(a, "--threads")) { kv_nthreads = (int)kv_arg(v); i++; }
        else if (!strcmp(a, "--max-states")) { kv_max_states = kv_arg(v); i++; }
        else if (!strcmp(a, "--max-depth")) { kv_max_depth = kv_arg(v); i++; }
        else if (!strcmp(a, "--timeout-ms")) { kv_deadline = kv_started + kv_arg(v) / 1000.0; i++; }
        else if (!strcmp(a, "--max-memory-mb")) { kv_max_mem = kv_arg(v) << 20; i++; }
        else if (!strcmp(a, "--progress-ms")) { kv_progress_every = kv_arg(v) / 1000.0; i++; }
        else if (!strcmp(a, "--no-symmetry")) kv_symmetry = 0;
        else { fprintf(stderr, "unknown argument %s\n", a); return 2; }
    }
    if (!KV_THREADS_OK || kv_nthreads < 1) kv_nthreads = 1;
    if (kv_nthreads > KV_MAX_THREADS) kv_nthreads = KV_MAX_THREADS;
    for (int k = 0; k < kv_nthreads; k++) { kv_workers[k].id = k; kv_workers[k].last_report = kv_started; }
    for (int p = 0; p < KV_NSTATEPROPS; p++) { kv_pending[p / 64] |= UINT64_C(1) << (p % 64); kv_found_state[p] = KV_NONE; }
    for (int p = 0; p < KV_NSTEPPROPS; p++) kv_found_step[p] = KV_NONE;
    uint64_t cap = 1 << 16;
    while (cap / 10 * 8 < 2 * (uint64_t)KV_NINIT) cap *= 2;
    kv_grow_table(cap);  /* empty: every thread count works here */
    kv_grow_next(1024);
    /* the initial states, canonical and without repeats, in the model's order (as the Python engine) */
    kv_ensure_states(KV_NINIT);
    for (int k = 0; k < KV_NINIT; k++) {
        uint64_t t[KV_STATE_WORDS];
        memcpy(t, kv_init_states[k], sizeof t);
        if (kv_symmetry) kv_canon(t);
        uint64_t h = kv_hash(t), i = h & kv_tmask;
        int seen = 0;
        while (kv_table[i]) {
            uint64_t idx = (uint64_t)(kv_table[i] & kv_idmask) - 1;
            if (memcmp(kv_states + idx * KV_STATE_BYTES, t, KV_STATE_BYTES) == 0) { seen = 1; break; }
            i = (i + 1) & kv_tmask;
        }
        if (seen) continue;
        memcpy(kv_states + kv_nstates * KV_STATE_BYTES, t, KV_STATE_BYTES);
        kv_parent[kv_nstates] = KV_NONE;
        kv_table[i] = kv_tag(h, kv_ibits) | (uint32_t)(kv_nstates + 1);
        kv_tcount++;
        uint64_t bits[KV_PWORDS + 1] = {0};
        if (KV_NSTATEPROPS) kv_props(t, kv_pending, bits);
        kv_note_props(bits, kv_nstates);
        kv_nstates++;
    }
    kv_settle_props();
    kv_level_lo = 0;
    kv_level_hi = kv_nstates;
    int bound = KV_RUN;
    while (kv_level_lo < kv_level_hi) {
        if (kv_depth >= kv_max_depth) { bound = KV_STOP_DEPTH; break; }
        if (kv_max_states != KV_NONE && kv_nstates >= kv_max_states) { bound = KV_STOP_STATES; break; }
        if (kv_check_limits(&kv_workers[0])) { bound = kv_stop; break; }
        if (!kv_level()) { bound = kv_stop; break; }
        kv_depth++;
        kv_level_lo = kv_level_hi;
        kv_level_hi = kv_nstates;
    }
    if (bound == KV_RUN) kv_depth = kv_depth ? kv_depth - 1 : 0;
    kv_report(bound);
    return 0;
}
