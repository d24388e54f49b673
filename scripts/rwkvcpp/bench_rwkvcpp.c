// Prime + greedy-decode throughput of rwkv.cpp, measured the way Engram's `bench` measures its own
// (src/main/java/io/engram/bench/Benchmark.java): per run a fresh state, PRIME uniform random token ids in
// [1, 60000) fed as one document (timed, including the logits of the last token), then DECODE greedy steps, one token
// at a time, each step = rwkv_eval + argmax over the logits (timed together). One warm-up run (not reported) first;
// the medians of the reported runs at the end.
//
// Priming uses rwkv_eval_sequence_in_chunks with chunk 16, the value rwkv.h recommends ("A reasonable and
// recommended value of chunk size is 16"); --chunk N changes it (rwkv.h suggests trying 2..64 for best speed),
// --chunk 0 makes one rwkv_eval_sequence call over the whole document (ggml's node limit may refuse long ones).
// Note: rwkv.cpp caches one sequence graph per sequence length, so a prime length that is not a multiple of the
// chunk rebuilds graphs on every run (keep PRIME % CHUNK == 0 for clean numbers).
//
// Build (see README.md in this folder):
//   R=/tmp/rwkvcpp/rwkv.cpp
//   gcc -O2 -std=c11 -o /tmp/rwkvcpp/bench_rwkvcpp scripts/rwkvcpp/bench_rwkvcpp.c -I$R -L$R/build -lrwkv
//       -Wl,-rpath,$R/build:$R/build/ggml/src -lm        (one line)
// Run:
//   /tmp/rwkvcpp/bench_rwkvcpp MODEL.bin [--threads 2] [--runs 5] [--prime-tokens 1024] [--decode-tokens 64]
//                              [--chunk 16] [--seed 1]
#define _POSIX_C_SOURCE 200809L
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <rwkv.h>

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double) ts.tv_sec + (double) ts.tv_nsec * 1e-9;
}

// splitmix64: the token ids only have to be uniform in [1, 60000); they are not the same ids as Engram's
// java.util.Random(1) draws, which does not matter for throughput (every id costs the same).
static uint64_t rng_state;
static uint64_t splitmix64(void) {
    uint64_t z = (rng_state += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}
static uint32_t uniform_token(uint32_t lo, uint32_t hi) { // [lo, hi), unbiased
    uint64_t n = hi - lo, limit = UINT64_MAX - UINT64_MAX % n, x;
    do { x = splitmix64(); } while (x >= limit);
    return lo + (uint32_t) (x % n);
}

static uint32_t argmax(const float * v, size_t n) {
    size_t best = 0;
    for (size_t i = 1; i < n; i++) if (v[i] > v[best]) best = i;
    return (uint32_t) best;
}

static int cmp_double(const void * a, const void * b) {
    double x = *(const double *) a, y = *(const double *) b;
    return (x > y) - (x < y);
}
static double median(double * v, int n) {
    qsort(v, n, sizeof(double), cmp_double);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

static void print_loadavg(const char * when) {
    FILE * f = fopen("/proc/loadavg", "r");
    char buf[128] = "?";
    if (f) {
        if (!fgets(buf, sizeof(buf), f)) strcpy(buf, "?");
        fclose(f);
        buf[strcspn(buf, "\n")] = 0;
    }
    printf("Load average %s: %s\n", when, buf);
}

static const char * file_dtype(const char * path) {
    static const char * names[] = {"FP32", "FP16", "Q4_0", "Q4_1", "Q4_1_O", "Q4_2", "Q4_3", "Q5_0", "Q5_1", "Q8_0",
                                   "Q8_1", "Q2_K", "Q3_K", "Q4_K", "Q5_K", "Q6_K", "Q8_K"};
    uint32_t h[6];
    FILE * f = fopen(path, "rb");
    if (!f) return "?";
    size_t n = fread(h, sizeof(uint32_t), 6, f);
    fclose(f);
    return n == 6 && h[5] < sizeof(names) / sizeof(names[0]) ? names[h[5]] : "?";
}

static void usage(const char * argv0) {
    fprintf(stderr, "usage: %s MODEL.bin [--threads 2] [--runs 5] [--prime-tokens 1024] [--decode-tokens 64] "
                    "[--chunk 16] [--seed 1]\n", argv0);
    exit(2);
}

int main(int argc, char ** argv) {
    const char * model_path = NULL;
    int threads = 2, runs = 5, prime_tokens = 1024, decode_tokens = 64, chunk = 16;
    uint64_t seed = 1;
    for (int i = 1; i < argc; i++) {
        const char * a = argv[i];
        if (a[0] == '-' && a[1] == '-') {
            if (i + 1 >= argc) usage(argv[0]);
            long v = strtol(argv[++i], NULL, 10);
            if (!strcmp(a, "--threads")) threads = (int) v;
            else if (!strcmp(a, "--runs")) runs = (int) v;
            else if (!strcmp(a, "--prime-tokens")) prime_tokens = (int) v;
            else if (!strcmp(a, "--decode-tokens")) decode_tokens = (int) v;
            else if (!strcmp(a, "--chunk")) chunk = (int) v;
            else if (!strcmp(a, "--seed")) seed = (uint64_t) v;
            else usage(argv[0]);
        } else if (!model_path) {
            model_path = a;
        } else {
            usage(argv[0]);
        }
    }
    if (!model_path || threads < 1 || runs < 1 || prime_tokens < 1 || decode_tokens < 1 || chunk < 0) usage(argv[0]);
    rng_state = seed;

    printf("rwkv.cpp system info: %s\n", rwkv_get_system_info_string());
    print_loadavg("before");

    double t_load = now_s();
    struct rwkv_context * ctx = rwkv_init_from_file(model_path, (uint32_t) threads, 0);
    if (!ctx) {
        fprintf(stderr, "rwkv_init_from_file failed for %s\n", model_path);
        return 1;
    }
    t_load = now_s() - t_load;
    const size_t n_vocab = rwkv_get_logits_len(ctx), state_len = rwkv_get_state_len(ctx);
    printf("Model: %s (%s), %zu layers, n_embed %zu, n_vocab %zu, loaded in %.2f s\n", model_path,
           file_dtype(model_path), rwkv_get_n_layer(ctx), rwkv_get_n_embed(ctx), n_vocab, t_load);
    printf("Threads %d, runs %d (+1 warm-up), prime %d tokens (%s), decode %d tokens (rwkv_eval + argmax)\n",
           threads, runs, prime_tokens,
           chunk > 0 ? "rwkv_eval_sequence_in_chunks" : "one rwkv_eval_sequence call", decode_tokens);
    if (chunk > 0) printf("Prime chunk size: %d tokens%s\n", chunk,
                          prime_tokens % chunk ? " (WARNING: prime not a multiple of chunk: graph rebuilds)" : "");

    float * state = malloc(state_len * sizeof(float));
    float * logits = malloc(n_vocab * sizeof(float));
    uint32_t * doc = malloc((size_t) prime_tokens * sizeof(uint32_t));
    double * prime = malloc((size_t) runs * sizeof(double));
    double * decode = malloc((size_t) runs * sizeof(double));
    if (!state || !logits || !doc || !prime || !decode) return 1;
    const uint32_t hi = n_vocab < 60000 ? (uint32_t) n_vocab : 60000;

    for (int r = 0; r <= runs; r++) {
        for (int i = 0; i < prime_tokens; i++) doc[i] = uniform_token(1, hi);
        rwkv_init_state(ctx, state); // fresh state

        double t0 = now_s();
        bool ok = chunk > 0
            ? rwkv_eval_sequence_in_chunks(ctx, doc, (size_t) prime_tokens, (size_t) chunk, state, state, logits)
            : rwkv_eval_sequence(ctx, doc, (size_t) prime_tokens, state, state, logits);
        double prime_s = now_s() - t0;
        if (!ok) {
            fprintf(stderr, "prime failed (error flags 0x%x)\n", (unsigned) rwkv_get_last_error(ctx));
            return 1;
        }
        uint32_t tok = argmax(logits, n_vocab);

        double t1 = now_s();
        for (int i = 0; i < decode_tokens; i++) {
            if (!rwkv_eval(ctx, tok, state, state, logits)) {
                fprintf(stderr, "rwkv_eval failed (error flags 0x%x)\n", (unsigned) rwkv_get_last_error(ctx));
                return 1;
            }
            tok = argmax(logits, n_vocab);
        }
        double decode_s = now_s() - t1;

        if (r == 0) {
            printf("warm-up: prime %.0f tok/s, decode %.1f tok/s (not counted)\n", prime_tokens / prime_s,
                   decode_tokens / decode_s);
            continue;
        }
        prime[r - 1] = prime_tokens / prime_s;
        decode[r - 1] = decode_tokens / decode_s;
        printf("run %d: prime %.0f tok/s, decode %.1f tok/s\n", r, prime[r - 1], decode[r - 1]);
        fflush(stdout);
    }

    double mp = median(prime, runs), md = median(decode, runs);
    print_loadavg("after");
    printf("\n| metric | median of %d |\n|---|---|\n", runs);
    printf("| priming a %d-token document | %.0f tok/s |\n", prime_tokens, mp);
    printf("| single-stream decode | %.1f tok/s (%.1f ms/token) |\n", md, 1000.0 / md);

    rwkv_free(ctx);
    free(state); free(logits); free(doc); free(prime); free(decode);
    return 0;
}
