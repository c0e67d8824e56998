// mf's GEMM kernels (MatMulNT, MatMulNN, MatMulTN of cpu_kernels.cc) called directly, without MindSpore: the
// harness of gemm_native.py, for machines where MindSpore is not installed (another CPU kind, a lent machine).
// Built with the same flags as mf.kernels, with -I pointing at core/src/mf/kernels.
// stdin: one product per line, "label transpose_a transpose_b a_rows a_cols b_rows b_cols" (label without
// spaces); argv[1]: repeats. stdout per product: "label median_seconds max_relative_error", the error of 64
// random entries against float64 sums, relative to the largest |a||b| term sum, so it means the same at any depth.
#include "cpu_kernels.cc"

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>

int main(int argc, char **argv) {
  const int repeats = argc > 1 ? atoi(argv[1]) : 5;
  char label[256];
  int transpose_a, transpose_b;
  long a_rows, a_cols, b_rows, b_cols;
  std::mt19937 random(0);
  std::uniform_real_distribution<float> uniform(-1.f, 1.f);
  while (scanf("%255s %d %d %ld %ld %ld %ld", label, &transpose_a, &transpose_b, &a_rows, &a_cols, &b_rows,
               &b_cols) == 7) {
    const long m = transpose_a ? a_cols : a_rows, depth = transpose_a ? a_rows : a_cols;
    const long n = transpose_b ? b_rows : b_cols;
    if (transpose_a && transpose_b) return fprintf(stderr, "no kernel transposes both operands\n"), 2;
    std::vector<float> a(a_rows * a_cols), b(b_rows * b_cols), c(m * n);
    for (auto &x : a) x = uniform(random);
    for (auto &x : b) x = uniform(random);
    int64_t a_shape[2] = {a_rows, a_cols}, b_shape[2] = {b_rows, b_cols}, c_shape[2] = {m, n};
    int64_t *shapes[3] = {a_shape, b_shape, c_shape};
    int ndims[3] = {2, 2, 2};
    void *params[3] = {a.data(), b.data(), c.data()};
    auto kernel = transpose_b ? MatMulNT : (transpose_a ? MatMulTN : MatMulNN);
    kernel(3, params, ndims, shapes, nullptr, nullptr, nullptr);  // warm-up: first-touch pages, thread pool
    std::vector<double> seconds;
    for (int r = 0; r < repeats; ++r) {
      const auto start = std::chrono::steady_clock::now();
      kernel(3, params, ndims, shapes, nullptr, nullptr, nullptr);
      seconds.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
    }
    std::sort(seconds.begin(), seconds.end());
    // element (i, k) of op(a) and (k, j) of op(b)
    const long a_row_step = transpose_a ? 1 : a_cols, a_depth_step = transpose_a ? a_cols : 1;
    const long b_depth_step = transpose_b ? 1 : b_cols, b_column_step = transpose_b ? b_cols : 1;
    double worst = 0;
    for (int q = 0; q < 64; ++q) {
      const long i = random() % m, j = random() % n;
      double exact = 0, magnitude = 1e-30;
      for (long k = 0; k < depth; ++k) {
        const double term = double(a[i * a_row_step + k * a_depth_step]) * b[k * b_depth_step + j * b_column_step];
        exact += term;
        magnitude += std::fabs(term);
      }
      worst = std::max(worst, std::fabs(exact - c[i * n + j]) / magnitude);
    }
    printf("%s %.9f %.3e\n", label, seconds[seconds.size() / 2], worst);
    fflush(stdout);
  }
  return 0;
}
