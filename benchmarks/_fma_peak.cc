// The machine's fp32 peak, measured: each thread runs independent chains of fused multiply-adds on the widest
// vectors the compiler targets (-march=native), enough chains to cover FMA latency on every FMA unit. What it
// reaches is FMA units x vector width x clock, as the cores run it (turbo, double-pumped 512-bit and all).
// Build: g++ -O3 -march=native -fopenmp _fma_peak.cc; run: ./a.out SECONDS -> prints GFLOP/s.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <omp.h>

#if defined(__AVX512F__)
constexpr int kLanes = 16;
#elif defined(__AVX__)
constexpr int kLanes = 8;
#else
constexpr int kLanes = 4;
#endif
typedef float vec __attribute__((vector_size(kLanes * sizeof(float))));
// Independent chains: enough to cover FMA latency (4-5 cycles) on every FMA unit (2-3), and no more than the
// registers hold with the two constants: AVX-512 has 32 vector registers, AVX2 and SSE 16 (16 chains there
// spill to memory and measured 173 instead of 286 GFLOP/s for AVX2 code on the Zen 5 machine).
#if defined(__AVX512F__)
constexpr int kChains = 16;
#else
constexpr int kChains = 12;
#endif
constexpr long kRounds = 1 << 20;

int main(int argc, char **argv) {
  const double seconds = argc > 1 ? atof(argv[1]) : 1.0;
  double best = 0.0;
  for (int trial = 0; trial < 5; ++trial) {
    long rounds = 0;
    const auto start = std::chrono::steady_clock::now();
    double elapsed = 0.0;
    float sink = 0.f;
    while (elapsed < seconds / 5) {
#pragma omp parallel reduction(+ : sink)
      {
        vec acc[kChains];
        const vec a = (vec){} + 0.999999f, b = (vec){} + 1e-7f;
        for (int c = 0; c < kChains; ++c) acc[c] = (vec){} + static_cast<float>(c + omp_get_thread_num());
        for (long r = 0; r < kRounds; ++r)
          for (int c = 0; c < kChains; ++c) acc[c] = acc[c] * a + b;  // contracted to one FMA
        for (int c = 0; c < kChains; ++c)
          for (int l = 0; l < kLanes; ++l) sink += acc[c][l];
      }
      rounds += kRounds;
      elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    }
    const double flops = 2.0 * kLanes * kChains * rounds * omp_get_max_threads();
    if (flops / elapsed > best) best = flops / elapsed;
    if (sink == 12345.f) printf(" ");  // keeps the chains alive
  }
  printf("%.1f\n", best / 1e9);
  return 0;
}
