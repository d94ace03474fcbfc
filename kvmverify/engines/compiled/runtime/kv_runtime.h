/* kvmverify compiled engine: what the generated model code (cgen.py) uses. The model file defines KV_* sizes,
 * includes this header, defines kv_expand / kv_props / kv_canon / kv_init_states, then includes kv_search.c.
 *
 * Values are int64_t or uint64_t, as the generator's intervals decide; the helpers below give C the meaning
 * the Python engine gives each operator (engines/explicit/codegen.py): shifts by amounts out of range, C
 * division, Python's floor division for uN values, bit counts of negative numbers. */
#ifndef KV_RUNTIME_H
#define KV_RUNTIME_H

#define _GNU_SOURCE 1
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if defined(__GNUC__) && !defined(__TINYC__)
#define KV_LIKELY(x) __builtin_expect(!!(x), 1)
#define KV_UNLIKELY(x) __builtin_expect(!!(x), 0)
#define KV_NORETURN __attribute__((noreturn))
#define KV_INLINE static inline __attribute__((always_inline))
#else
#define KV_LIKELY(x) (x)
#define KV_UNLIKELY(x) (x)
#define KV_NORETURN
#define KV_INLINE static inline
#endif

#if !defined(__BYTE_ORDER__) || __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#if !defined(__x86_64__) && !defined(__i386__) && !defined(__aarch64__)
#error "the compiled engine stores states little-endian (x86-64, aarch64)"
#endif
#endif

/* A successor waiting to be looked up in the visited set: lookups go in batches, each batch's memory accesses
 * prefetched before the first of them is needed (the search is bound by memory latency, not by computing). */
#define KV_BATCH 32
typedef struct {
    uint64_t s[KV_STATE_WORDS];
    uint64_t key;   /* (parent index << 32) | position among the parent's successors */
    uint64_t hash;
} kv_pend;

/* One search thread: the state it expands and where it is in that state's successors. Aligned to keep two
 * threads' counters out of one cache line. */
typedef struct kv_worker {
    int id;
    int64_t budget;          /* choose iterations until the next limit check */
    uint64_t cur;            /* index of the state being expanded */
    uint32_t seq;            /* position of the next successor (or stopped path) of cur, as Python's len(out) */
    uint64_t trans_state;    /* transitions of cur so far */
    uint64_t trans;          /* transitions of the expanded states of this level */
    uint64_t rec_next, rec_end; /* block of next-level records this thread may fill */
    uint64_t redo_lo, redo_hi;  /* states left over when a table growth interrupted the thread */
    uint64_t done;           /* states expanded (for periodic checks) */
    uint64_t inserted;       /* new states not yet added to the shared count */
    double last_report;
    int npend;
    kv_pend pend[KV_BATCH];
} __attribute__((aligned(128))) kv_worker;

#define KV_TICK_EVERY 4096

static int kv_emit(kv_worker *w, uint64_t *t, int action);
static void kv_abort_path(kv_worker *w);
static void kv_step_violation(kv_worker *w, int prop);
static int kv_tick(kv_worker *w);
static KV_NORETURN void kv_fail(const char *what, long detail);

static int64_t kv_bad_select(void) { kv_fail("a select index out of range", 0); return 0; }
static uint64_t kv_bad_value(int field) { kv_fail("a value outside its field's encoding, field", field); return 0; }
static void kv_bad_assign(int field) { kv_fail("a value outside its field's values, field", field); }

KV_INLINE int kv_popcount(uint64_t x) {
#if defined(__GNUC__) && !defined(__TINYC__)
    return __builtin_popcountll(x);
#else
    int n = 0;
    while (x) { x &= x - 1; n++; }
    return n;
#endif
}
/* Python's int.bit_count(): the bits of the absolute value */
KV_INLINE int kv_popcount_s(int64_t x) { return kv_popcount(x < 0 ? (uint64_t)0 - (uint64_t)x : (uint64_t)x); }

/* a << n for a uN result (w <= 64): 0 when n lies outside 0..w-1 */
KV_INLINE uint64_t kv_shl_w(uint64_t a, int64_t n, unsigned w) {
    if (n < 0 || n >= (int64_t)w) return 0;
    uint64_t r = a << n;
    return w >= 64 ? r : r & ((UINT64_C(1) << w) - 1);
}
/* a << n for a result the generator knows fits 64 bits: an amount of 64 or more can only shift 0 */
KV_INLINE uint64_t kv_shl(uint64_t a, int64_t n) { return (n < 0 || n >= 64) ? 0 : a << n; }
/* Python's >> (floor) for an amount n >= 0 of any size */
KV_INLINE int64_t kv_sar(int64_t a, int64_t n) { return n >= 64 ? (a < 0 ? -1 : 0) : a >> n; }
KV_INLINE uint64_t kv_shr(uint64_t a, int64_t n) { return n >= 64 ? 0 : a >> n; }
/* codegen's `a >> n if 0 <= n < limit else a >> limit` */
KV_INLINE int64_t kv_sar_lim(int64_t a, int64_t n, int64_t limit) {
    return kv_sar(a, (n >= 0 && n < limit) ? n : limit);
}
KV_INLINE uint64_t kv_shr_lim(uint64_t a, int64_t n, int64_t limit) {
    return kv_shr(a, (n >= 0 && n < limit) ? n : limit);
}
/* bits lo.. of a possibly negative value (two's complement, sign extended), masked */
KV_INLINE uint64_t kv_bits_s(int64_t x, unsigned lo, uint64_t mask) { return (uint64_t)(x >> lo) & mask; }
/* Values wider than 64 bits, when an operator needs them whole (a set of 100 elements shifted by a variable
 * amount, 128-bit arithmetic): `n` 64-bit limbs, least significant first, two's complement, `n` chosen by the
 * generator so that the exact result fits. */
/* bits [pos, pos+w) for any pos: zeros below the value, its sign above it */
static uint64_t kv_limb_bits(const uint64_t *l, int n, int64_t pos, int w) {
    uint64_t sign = (l[n - 1] >> 63) ? ~UINT64_C(0) : 0, r;
    if (pos <= -64) r = 0;
    else if (pos < 0) {
        r = l[0] << (-pos);
    } else {
        int64_t k = pos / 64, off = pos % 64;
        uint64_t a = k < n ? l[k] : sign, b = k + 1 < n ? l[k + 1] : sign;
        r = off ? (a >> off) | (b << (64 - off)) : a;
    }
    return w >= 64 ? r : r & ((UINT64_C(1) << w) - 1);
}
static void kv_wadd(uint64_t *r, const uint64_t *a, const uint64_t *b, int n) {
    uint64_t carry = 0;
    for (int i = 0; i < n; i++) {
        uint64_t x = a[i] + carry, c1 = x < carry;
        r[i] = x + b[i];
        carry = c1 | (r[i] < x);
    }
}
static void kv_wneg(uint64_t *r, const uint64_t *a, int n) {
    uint64_t carry = 1;
    for (int i = 0; i < n; i++) {
        r[i] = ~a[i] + carry;
        carry = carry && r[i] == 0;
    }
}
static void kv_wsub(uint64_t *r, const uint64_t *a, const uint64_t *b, int n) {
    uint64_t t[n];
    kv_wneg(t, b, n);
    kv_wadd(r, a, t, n);
}
/* a * b modulo 2**(64n), in 32-bit digits */
static void kv_wmul(uint64_t *r, const uint64_t *a, const uint64_t *b, int n) {
    uint32_t x[2 * n], y[2 * n], z[2 * n];
    for (int i = 0; i < n; i++) {
        x[2 * i] = (uint32_t)a[i]; x[2 * i + 1] = (uint32_t)(a[i] >> 32);
        y[2 * i] = (uint32_t)b[i]; y[2 * i + 1] = (uint32_t)(b[i] >> 32);
    }
    memset(z, 0, sizeof z);
    for (int i = 0; i < 2 * n; i++) {
        uint64_t carry = 0;
        for (int j = 0; i + j < 2 * n; j++) {
            uint64_t t = (uint64_t)x[i] * y[j] + z[i + j] + carry;
            z[i + j] = (uint32_t)t;
            carry = t >> 32;
        }
    }
    for (int i = 0; i < n; i++) r[i] = z[2 * i] | ((uint64_t)z[2 * i + 1] << 32);
}
/* a << m and a >> m (arithmetic), 0 <= m */
static void kv_wshl(uint64_t *r, const uint64_t *a, int n, int64_t m) {
    for (int i = 0; i < n; i++) r[i] = kv_limb_bits(a, n, 64 * (int64_t)i - m, 64);
}
static void kv_wsar(uint64_t *r, const uint64_t *a, int n, int64_t m) {
    for (int i = 0; i < n; i++) r[i] = kv_limb_bits(a, n, 64 * (int64_t)i + (m < 64 * (int64_t)n ? m : 64 * (int64_t)n), 64);
}
/* keep bits below `width` (a uN result) */
static void kv_wmask(uint64_t *r, int n, int width) {
    for (int i = 0; i < n; i++) {
        int lo = 64 * i;
        if (lo >= width) r[i] = 0;
        else if (width - lo < 64) r[i] &= (UINT64_C(1) << (width - lo)) - 1;
    }
}
/* the sign of a - b (signed) */
static int kv_wcmp(const uint64_t *a, const uint64_t *b, int n) {
    int sa = a[n - 1] >> 63, sb = b[n - 1] >> 63;
    if (sa != sb) return sa ? -1 : 1;
    for (int i = n - 1; i >= 0; i--)
        if (a[i] != b[i]) return a[i] < b[i] ? -1 : 1;
    return 0;
}
/* a / d or a % d for 0 < d < 2**63: truncating as C (floor = 0) or flooring as Python (floor = 1) */
static void kv_wdiv(uint64_t *r, const uint64_t *a, int n, uint64_t d, int floor, int mod) {
    uint64_t x[n], q[n], rem = 0;
    int neg = a[n - 1] >> 63;
    if (neg) kv_wneg(x, a, n); else memcpy(x, a, sizeof x);
    memset(q, 0, sizeof q);
    for (int i = 64 * n - 1; i >= 0; i--) {
        rem = (rem << 1) | ((x[i / 64] >> (i % 64)) & 1);
        if (rem >= d) { rem -= d; q[i / 64] |= UINT64_C(1) << (i % 64); }
    }
    if (mod) {
        memset(r, 0, 8 * (size_t)n);
        r[0] = rem;
        if (neg) {
            if (floor && rem) r[0] = d - rem;  /* Python: the divisor's sign */
            else kv_wneg(r, r, n);
        }
        return;
    }
    if (neg) {
        if (floor && rem) {  /* -(q + 1) */
            uint64_t one[n];
            memset(one, 0, sizeof one);
            one[0] = 1;
            kv_wadd(q, q, one, n);
        }
        kv_wneg(r, q, n);
    } else memcpy(r, q, 8 * (size_t)n);
}
/* Python's // and % by a positive divisor */
KV_INLINE int64_t kv_floordiv(int64_t a, int64_t b) { int64_t q = a / b; return (a % b != 0 && a < 0) ? q - 1 : q; }
KV_INLINE int64_t kv_floormod(int64_t a, int64_t b) { int64_t r = a % b; return r < 0 ? r + b : r; }
/* the sign of s - u */
KV_INLINE int kv_cmp_su(int64_t s, uint64_t u) {
    if (s < 0) return -1;
    return (uint64_t)s < u ? -1 : (uint64_t)s > u ? 1 : 0;
}

/* symmetry reduction: sort `n` slice keys of `words` words each (lexicographically, most significant word last,
 * stably) into `order`; 1 if any moved */
static inline int kv_sort_keys(const uint64_t *key, int words, int *order, int n) {
    int moved = 0;
    for (int i = 1; i < n; i++) {
        int x = order[i], j = i;
        while (j > 0) {
            const uint64_t *a = key + x * words, *b = key + order[j - 1] * words;
            int less = 0;
            for (int k = words - 1; k >= 0; k--)
                if (a[k] != b[k]) { less = a[k] < b[k]; break; }
            if (!less) break;
            order[j] = order[j - 1];
            j--;
            moved = 1;
        }
        order[j] = x;
    }
    return moved;
}

/* a field of a packed state at a bit offset known only at run time (symmetry reduction's permutations) */
KV_INLINE uint64_t kv_get_bits(const uint64_t *s, unsigned off, unsigned bits) {
    unsigned k = off / 64, o = off % 64;
    uint64_t x = s[k] >> o;
    if (o + bits > 64) x |= s[k + 1] << (64 - o);
    return bits >= 64 ? x : x & ((UINT64_C(1) << bits) - 1);
}
KV_INLINE void kv_put_bits(uint64_t *t, unsigned off, unsigned bits, uint64_t code) {
    unsigned k = off / 64, o = off % 64;
    uint64_t m = bits >= 64 ? ~UINT64_C(0) : (UINT64_C(1) << bits) - 1;
    t[k] = (t[k] & ~(m << o)) | (code << o);
    if (o + bits > 64) t[k + 1] = (t[k + 1] & ~(m >> (64 - o))) | (code >> (64 - o));
}

#endif
