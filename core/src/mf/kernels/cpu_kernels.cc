// mf's CPU kernels for MindSpore Custom ops (func_type="aot").
//
// MindSpore's CPU backend runs element-wise ops and reductions one pass at a time
// and largely single-threaded; these fused kernels do the hot ones (cross entropy
// over the vocabulary, GELU, LayerNorm, bias gradients) in one pass, vectorised and
// split over the cores with OpenMP. Every function follows the aot signature:
//   int F(int nparam, void **params, int *ndims, int64_t **shapes, const char **dtypes, void *stream, void *extra)
// params holds the inputs, then the outputs. All tensors are contiguous float32
// (labels int32). Return 0 on success.
// glibc declares its vectorised math functions (libmvec: expf, tanhf, erff, ... 16 floats a call on AVX-512) only
// under __FAST_MATH__, which our -fno-finite-math-only (NaN and inf keep their meaning) leaves undefined: without
// the declarations every exp, tanh and erf below was a scalar call (GPT-2 small's GELU took 14 ms for 1024 x 3072
// values). Defined before the first include so that math.h declares whichever of them this glibc has; it only
// sets math_errhandling to 0 besides, which nothing here reads.
#if !defined(__FAST_MATH__)
#define __FAST_MATH__ 1
#endif
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <type_traits>
#include <utility>
#include <vector>
#include <omp.h>
#include <unistd.h>  // sysconf: the L1 data cache's size
#if defined(__AVX512F__)
#include <immintrin.h>
#endif
// AMX needs AVX-512 for its packing (a native build on an AMX CPU has it) and a compiler that knows the tile
// instructions; without either, products take the float32 micro-kernel only
#if defined(__AVX512F__) && defined(__x86_64__) && defined(__linux__) && (defined(__clang__) || __GNUC__ >= 11)
#define MF_AMX 1
#include <cpuid.h>
#include <cstdlib>
#include <sys/syscall.h>
#include <unistd.h>
#else
#define MF_AMX 0
#endif

namespace {

int64_t numel(int ndim, const int64_t *shape) {
  int64_t n = 1;
  for (int i = 0; i < ndim; ++i) n *= shape[i];
  return n;
}

// rows x width view of a tensor: width is the last dimension
void rows_cols(int ndim, const int64_t *shape, int64_t *rows, int64_t *cols) {
  *cols = shape[ndim - 1];
  *rows = numel(ndim - 1, shape);
}

// Sum over rows of a [rows, cols] matrix into out[cols], split over threads.
void column_sum(const float *x, int64_t rows, int64_t cols, float *out) {
  const int threads = omp_get_max_threads();
  std::vector<float> partial(static_cast<size_t>(threads) * cols, 0.f);
#pragma omp parallel
  {
    float *mine = partial.data() + static_cast<size_t>(omp_get_thread_num()) * cols;
#pragma omp for schedule(static)
    for (int64_t r = 0; r < rows; ++r) {
      const float *row = x + r * cols;
#pragma omp simd
      for (int64_t c = 0; c < cols; ++c) mine[c] += row[c];
    }
  }
  for (int64_t c = 0; c < cols; ++c) out[c] = 0.f;
  for (int t = 0; t < threads; ++t) {
    const float *mine = partial.data() + static_cast<size_t>(t) * cols;
    for (int64_t c = 0; c < cols; ++c) out[c] += mine[c];
  }
}

// ---- attention helpers -----------------------------------------------------------------
// Biases at or below this mark a key as hidden (mf's masks use -1e9).
constexpr float kHidden = -1e8f;
// Query rows one work item handles at most: the scores of a chunk are [kChunk, keys] floats.
constexpr int64_t kChunk = 64;
// Register tile of the small GEMM below: kRows rows by kCols columns of accumulators.
constexpr int64_t kRows = 4, kCols = 16;

int64_t round_up(int64_t x, int64_t to) { return (x + to - 1) / to * to; }

// Shapes of one fused attention call, token-major (as the projections produce them, so no
// transposes are needed): q [B, T, H, D], k and v [B, L, G, D], bias [Bb, Hb, Tb, L] with
// Bb in {1, B}, Hb in {1, H} and Tb in {1, T} (broadcast over batch, heads and rows; the backward gives the bias
// no gradient, so a learned per-head bias such as T5's goes through these kernels in inference only); or heads-major, q [B, H, T, D] and
// k, v [B, G, L, D]: the key/value cache's layout, which a prompt's prefill attends over; or
// token-major q over heads-major caches (PrefillAttention).
struct AttentionShape {
  bool heads_major;     // q and o [B, H, T, D], not [B, T, H, D]
  bool kv_heads_major;  // k and v [B, G, L, D], not [B, L, G, D]
  int64_t batch, rows, heads, dim, keys, groups, bias_batch, bias_rows;
  int64_t bias_heads = 1;  // H: a bias per head (T5's relative positions, ALiBi), inference only
  // q, k and v as one token-major tensor [B, T, 3, H, D] (a fused projection's output, read in place): the
  // length of one token's row of it; 0 when q, k and v are tensors of their own
  int64_t packed_width = 0;
  int64_t padded_dim, padded_keys;  // rounded up to whole register tiles (kCols)
  int64_t chunk;                     // query rows per chunk: kChunk, or all of them rounded up to kRows

  AttentionShape(int *ndims, int64_t **shapes, bool heads_major = false)
      : heads_major(heads_major), kv_heads_major(heads_major) {
    const int axis_of_rows = heads_major ? 2 : 1, axis_of_heads = heads_major ? 1 : 2;
    batch = shapes[0][0], rows = shapes[0][axis_of_rows], heads = shapes[0][axis_of_heads], dim = shapes[0][3];
    keys = shapes[1][axis_of_rows], groups = shapes[1][axis_of_heads];
    bias_batch = shapes[3][0], bias_rows = shapes[3][ndims[3] - 2];
    if (ndims[3] == 4) bias_heads = shapes[3][1];
    padded();
  }
  // q, k, v packed [B, T, 3, H, D], bias [Bb, 1, Tb, T]
  AttentionShape(const int64_t *qkv_shape, const int64_t *bias_shape, int bias_ndim)
      : heads_major(false), kv_heads_major(false), batch(qkv_shape[0]), rows(qkv_shape[1]), heads(qkv_shape[3]),
        dim(qkv_shape[4]), keys(qkv_shape[1]), groups(qkv_shape[3]), bias_batch(bias_shape[0]),
        bias_rows(bias_shape[bias_ndim - 2]), packed_width(3 * qkv_shape[3] * qkv_shape[4]) {
    if (bias_ndim == 4) bias_heads = bias_shape[1];
    padded();
  }
  // token-major q [B, T, H, D] over caches of `keys` slots per (batch, group), bias [Bb, 1, Tb, keys]
  AttentionShape(const int64_t *q_shape, int64_t groups, int64_t keys, const int64_t *bias_shape, int bias_ndim)
      : heads_major(false), kv_heads_major(true), batch(q_shape[0]), rows(q_shape[1]), heads(q_shape[2]),
        dim(q_shape[3]), keys(keys), groups(groups), bias_batch(bias_shape[0]), bias_rows(bias_shape[bias_ndim - 2]) {
    if (bias_ndim == 4) bias_heads = bias_shape[1];
    padded();
  }
  void padded() {
    padded_dim = round_up(dim, kCols), padded_keys = round_up(keys, kCols);
    chunk = std::min(kChunk, round_up(rows, kRows));
  }
  int64_t chunks() const { return (rows + chunk - 1) / chunk; }
  // offset of query (or output) row i of head h; row i + 1 is q_stride() further
  int64_t q_offset(int64_t b, int64_t h, int64_t i) const {
    return heads_major ? ((b * heads + h) * rows + i) * dim : ((b * rows + i) * heads + h) * dim;
  }
  int64_t q_stride() const { return heads_major ? dim : heads * dim; }
  // the same for the query input (and its gradient), which may sit in a packed q, k, v tensor
  int64_t query_offset(int64_t b, int64_t h, int64_t i) const {
    return packed_width ? (b * rows + i) * packed_width + h * dim : q_offset(b, h, i);
  }
  int64_t query_stride() const { return packed_width ? packed_width : q_stride(); }
  // offset of key (or value) 0 of group g; key j is j * kv_stride() further
  int64_t kv_offset(int64_t b, int64_t g) const {
    if (packed_width) return b * keys * packed_width + g * dim;
    return kv_heads_major ? (b * groups + g) * keys * dim : b * keys * groups * dim + g * dim;
  }
  int64_t kv_stride() const { return packed_width ? packed_width : kv_heads_major ? dim : groups * dim; }
  // the bias of query row i of head h in batch b (broadcast over batch, heads and rows where it has one)
  const float *bias_row(const float *bias, int64_t b, int64_t h, int64_t i) const {
    const int64_t head_row = (bias_batch == 1 ? 0 : b) * bias_heads + (bias_heads == 1 ? 0 : h);
    return bias + (head_row * bias_rows + (bias_rows == 1 ? 0 : i)) * keys;
  }
  int64_t group_of(int64_t h) const { return h / (heads / groups); }
};

// c [m, n] = a [m, k] . b [k, n] (or += with accumulate), row-major with leading dimensions; with transpose_a, a
// is given as a^T [k, m] (element (r, p) at a[p * lda + r]: a tile's rows are contiguous there, so attention's
// backward multiplies by p^T and dscores^T without transposing copies of them);
// m a multiple of kRows and n of kCols (callers pad with zeros). The kRows x kCols accumulators
// stay in registers over the whole k loop: attention's products are too small for a BLAS call
// to pay off, and MindSpore's batched matmul would need the head transposes this kernel avoids.
#if defined(__AVX512F__)
typedef float tile_vec __attribute__((vector_size(64), aligned(4)));  // 16 floats, any address

// kTileRows x (16 * kVectors) of c from the full k loop, accumulators in registers
template <int kTileRows, int kVectors, bool kTransposeA>
inline void small_gemm_tile(const float *a, int64_t lda, const float *b, int64_t ldb, float *c, int64_t ldc,
                            int64_t k, bool accumulate) {
  tile_vec acc[kTileRows][kVectors] = {};
  for (int64_t p = 0; p < k; ++p) {
    tile_vec bv[kVectors];
    for (int v = 0; v < kVectors; ++v) bv[v] = *reinterpret_cast<const tile_vec *>(b + p * ldb + 16 * v);
    for (int r = 0; r < kTileRows; ++r) {
      const tile_vec ar = (tile_vec){} + (kTransposeA ? a[p * lda + r] : a[r * lda + p]);
      for (int v = 0; v < kVectors; ++v) acc[r][v] += ar * bv[v];
    }
  }
  for (int r = 0; r < kTileRows; ++r)
    for (int v = 0; v < kVectors; ++v) {
      tile_vec *out = reinterpret_cast<tile_vec *>(c + r * ldc + 16 * v);
      *out = accumulate ? *out + acc[r][v] : acc[r][v];
    }
}
#endif

template <bool kTransposeA>
void small_gemm_of(const float *a, int64_t lda, const float *b, int64_t ldb, float *c, int64_t ldc, int64_t m,
                   int64_t n, int64_t k, bool accumulate) {
#if defined(__AVX512F__)
  const auto a_row = [&](int64_t i) { return kTransposeA ? a + i : a + i * lda; };  // a tile's first row
  // 8 x 32 tiles where they fit: 16 independent accumulators cover the FMA latency of two units, which the
  // 4 x 16 tile's 4 did not (attention's products ran at under half the peak); same sums, same order
  static_assert(kRows == 4 && kCols == 16, "the tiles below cover multiples of 4 rows and 16 columns");
  for (int64_t i = 0; i < m;) {
    const bool eight = i + 8 <= m;
    int64_t j = 0;
    for (; j + 32 <= n; j += 32)
      if (eight)
        small_gemm_tile<8, 2, kTransposeA>(a_row(i), lda, b + j, ldb, c + i * ldc + j, ldc, k, accumulate);
      else
        small_gemm_tile<4, 2, kTransposeA>(a_row(i), lda, b + j, ldb, c + i * ldc + j, ldc, k, accumulate);
    for (; j < n; j += 16)
      if (eight)
        small_gemm_tile<8, 1, kTransposeA>(a_row(i), lda, b + j, ldb, c + i * ldc + j, ldc, k, accumulate);
      else
        small_gemm_tile<4, 1, kTransposeA>(a_row(i), lda, b + j, ldb, c + i * ldc + j, ldc, k, accumulate);
    i += eight ? 8 : 4;
  }
#else
  for (int64_t i = 0; i < m; i += kRows)
    for (int64_t j = 0; j < n; j += kCols) {
      float acc[kRows][kCols] = {};
      for (int64_t p = 0; p < k; ++p) {
        const float *brow = b + p * ldb + j;
        for (int r = 0; r < kRows; ++r) {
          const float ar = kTransposeA ? a[p * lda + i + r] : a[(i + r) * lda + p];
#pragma omp simd
          for (int x = 0; x < kCols; ++x) acc[r][x] += ar * brow[x];
        }
      }
      for (int r = 0; r < kRows; ++r) {
        float *crow = c + (i + r) * ldc + j;
#pragma omp simd
        for (int x = 0; x < kCols; ++x) crow[x] = (accumulate ? crow[x] : 0.f) + acc[r][x];
      }
    }
#endif
}

void small_gemm(const float *a, int64_t lda, const float *b, int64_t ldb, float *c, int64_t ldc, int64_t m,
                int64_t n, int64_t k, bool accumulate) {
  small_gemm_of<false>(a, lda, b, ldb, c, ldc, m, n, k, accumulate);
}

// c [m, n] (+)= a^T . b for a given as [k, m] (row stride lda)
void small_gemm_transposed_a(const float *a, int64_t lda, const float *b, int64_t ldb, float *c, int64_t ldc,
                             int64_t m, int64_t n, int64_t k, bool accumulate) {
  small_gemm_of<true>(a, lda, b, ldb, c, ldc, m, n, k, accumulate);
}

#if defined(__AVX512F__)
// r[j] (16 floats each) -> r[q][j] = old r[j][q]
inline void transpose16(__m512 r[16]) {
  __m512 t[16];
  for (int i = 0; i < 8; ++i) {
    t[2 * i] = _mm512_unpacklo_ps(r[2 * i], r[2 * i + 1]);
    t[2 * i + 1] = _mm512_unpackhi_ps(r[2 * i], r[2 * i + 1]);
  }
  for (int i = 0; i < 4; ++i) {
    const __m512d t0 = _mm512_castps_pd(t[4 * i]), t1 = _mm512_castps_pd(t[4 * i + 1]);
    const __m512d t2 = _mm512_castps_pd(t[4 * i + 2]), t3 = _mm512_castps_pd(t[4 * i + 3]);
    r[4 * i] = _mm512_castpd_ps(_mm512_unpacklo_pd(t0, t2));
    r[4 * i + 1] = _mm512_castpd_ps(_mm512_unpackhi_pd(t0, t2));
    r[4 * i + 2] = _mm512_castpd_ps(_mm512_unpacklo_pd(t1, t3));
    r[4 * i + 3] = _mm512_castpd_ps(_mm512_unpackhi_pd(t1, t3));
  }
  for (int c = 0; c < 4; ++c) {  // then whole 128-bit lanes: a 4 x 4 transpose of lanes
    t[c] = _mm512_shuffle_f32x4(r[c], r[4 + c], 0x88);
    t[4 + c] = _mm512_shuffle_f32x4(r[c], r[4 + c], 0xdd);
    t[8 + c] = _mm512_shuffle_f32x4(r[8 + c], r[12 + c], 0x88);
    t[12 + c] = _mm512_shuffle_f32x4(r[8 + c], r[12 + c], 0xdd);
  }
  for (int c = 0; c < 4; ++c) {
    r[c] = _mm512_shuffle_f32x4(t[c], t[8 + c], 0x88);
    r[8 + c] = _mm512_shuffle_f32x4(t[c], t[8 + c], 0xdd);
    r[4 + c] = _mm512_shuffle_f32x4(t[4 + c], t[12 + c], 0x88);
    r[12 + c] = _mm512_shuffle_f32x4(t[4 + c], t[12 + c], 0xdd);
  }
}
#endif

// dst [0, n) = src [0, count) then zeros. Attention copies rows of a head's few floats (32 in a small ViT): as
// memcpy calls (what GCC makes of a plain copy loop, even of vector loads and stores) they took ~13% of its time;
// masked moves are not turned into calls.
inline void copy_padded(float *dst, const float *src, int64_t count, int64_t n) {
#if defined(__AVX512F__)
  for (int64_t c = 0; c < n; c += 16) {
    const __mmask16 in = c + 16 <= count ? __mmask16(0xffff) : c < count ? __mmask16((1u << (count - c)) - 1) : 0;
    const __mmask16 out = c + 16 <= n ? __mmask16(0xffff) : __mmask16((1u << (n - c)) - 1);
    _mm512_mask_storeu_ps(dst + c, out, _mm512_maskz_loadu_ps(in, src + c));
  }
#else
  std::copy(src, src + count, dst);
  std::fill(dst + count, dst + n, 0.f);
#endif
}

// rows x cols block of a strided tensor (row r at src + r * stride) -> dst [rows, ld], zero-padded
// to padded_rows and ld columns; transposed when transpose (dst [cols, ld] then, padded likewise).
void pack(const float *src, int64_t stride, int64_t rows, int64_t cols, bool transpose, float *dst, int64_t ld,
          int64_t padded_rows) {
  if (!transpose) {
    for (int64_t r = 0; r < padded_rows; ++r) copy_padded(dst + r * ld, src + r * stride, r < rows ? cols : 0, ld);
    return;
  }
  // zeros where the products read past the data: the padding columns of the last register tile, the padding rows
  // (filling whole rows of ld took ~4% of a prompt's attention)
  const int64_t used = std::min(ld, round_up(rows, kCols));
  for (int64_t c = 0; c < padded_rows; ++c) std::fill(dst + c * ld + (c < cols ? rows : 0), dst + c * ld + used, 0.f);
  int64_t whole_rows = 0, whole_cols = 0;  // the part done in 16 x 16 register transposes
#if defined(__AVX512F__)
  whole_rows = rows / 16 * 16, whole_cols = cols / 16 * 16;
  for (int64_t r0 = 0; r0 < whole_rows; r0 += 16)
    for (int64_t c0 = 0; c0 < whole_cols; c0 += 16) {
      __m512 block[16];
      for (int i = 0; i < 16; ++i) block[i] = _mm512_loadu_ps(src + (r0 + i) * stride + c0);
      transpose16(block);
      for (int i = 0; i < 16; ++i) _mm512_storeu_ps(dst + (c0 + i) * ld + r0, block[i]);
    }
#endif
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = r < whole_rows ? whole_cols : 0; c < cols; ++c) dst[c * ld + r] = src[r * stride + c];
}

// Which keys a chunk of query rows can see: [lo, hi) over all its rows, in whole register tiles.
// A row that sees no key attends to every key, as the unfused softmax over equal, fully masked
// scores does.
void visible_keys(const AttentionShape &s, const float *bias, int64_t b, int64_t h, int64_t first, int64_t count,
                  int64_t *lo, int64_t *hi) {
  int64_t low = s.keys, high = 0;
  if (s.bias_rows == 1) count = 1;  // every row sees the same keys (no causal mask: an encoder, a padding mask)
  for (int64_t i = first; i < first + count; ++i) {
    const float *row = s.bias_row(bias, b, h, i);
    int64_t first_visible = s.keys, last_visible = -1;
#pragma omp simd reduction(min : first_visible) reduction(max : last_visible)
    for (int64_t j = 0; j < s.keys; ++j) {
      const bool visible = row[j] > kHidden;
      first_visible = std::min(first_visible, visible ? j : s.keys);
      last_visible = std::max(last_visible, visible ? j : int64_t(-1));
    }
    if (last_visible < 0) first_visible = 0, last_visible = s.keys - 1;
    low = std::min(low, first_visible);
    high = std::max(high, last_visible + 1);
  }
  *lo = low / kCols * kCols;
  *hi = std::min(round_up(high, kCols), s.padded_keys);
}

// values [n] -> exp(value - peak), vectorised (glibc's vector maths); returns their sum. More than 87 below the peak
// a value is under float32's smallest normal number against the peak's 1: it cannot change the sum, and subnormal
// arithmetic is slow, so it is 0. Handing libmvec a hidden key's score (~ -1e9) instead sent every vector holding
// one through its scalar fallback for out-of-range inputs, errno and all: half of a prompt's attention time. The
// clamp is a pass of its own: inside the exp's loop the compiler folded it into the select and passed exp the
// unclamped values again.
float exp_from_peak(float *values, int64_t n, float peak) {
#pragma omp simd
  for (int64_t i = 0; i < n; ++i) {
    const float shifted = values[i] - peak;
    values[i] = shifted > -87.f ? shifted : -87.f;
  }
  float total = 0.f;
#pragma omp simd reduction(+ : total)
  for (int64_t i = 0; i < n; ++i) {
    const float p = values[i] > -87.f ? std::exp(values[i]) : 0.f;
    values[i] = p;
    total += p;
  }
  return total;
}

// One row of scores over keys [lo, hi) -> softmax probabilities; hidden and padding keys get 0.
// Where any key of the row is visible, the hidden ones (bias <= kHidden) get exactly 0; where none is, the row
// attends to all of them, as the unfused softmax over equal, fully masked scores does.
#if defined(__AVX512F__)
extern "C" __m512 _ZGVeN16v_expf(__m512);  // glibc's libmvec: 16 expf at once (what `omp simd` loops call)

// In 16-key vectors with masks for the row's end: the passes of the loops below cost ~300 cycles a row in loop
// set-up and scalar remainders, which for a small ViT's 50 keys was most of its attention's time. A NaN score makes
// the whole row NaN, so that it reaches the loss.
void softmax_row(float *row, const float *bias, int64_t lo, int64_t hi, int64_t keys, float scale) {
  const int64_t end = std::min(hi, keys);
  const auto lanes = [](int64_t from, int64_t to) {  // lanes of the vector at `from` that lie before `to`
    return from + 16 <= to ? __mmask16(0xffff) : from < to ? __mmask16((1u << (to - from)) - 1) : __mmask16(0);
  };
  const __m512 hidden = _mm512_set1_ps(kHidden), factor = _mm512_set1_ps(scale);
  const __m512 lowest = _mm512_set1_ps(std::numeric_limits<float>::lowest());
  __m512 peak_visible = lowest, peak_all = lowest;
  __mmask16 any_visible = 0, any_nan = 0;
  for (int64_t j = lo; j < hi; j += 16) {
    const __mmask16 in = lanes(j, end);
    const __m512 b = _mm512_maskz_loadu_ps(in, bias + j);
    const __m512 score = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(in, row + j), factor, b);
    const __mmask16 visible = _mm512_mask_cmp_ps_mask(in, b, hidden, _CMP_GT_OQ);
    any_visible |= visible;
    any_nan |= _mm512_mask_cmp_ps_mask(in, score, score, _CMP_UNORD_Q);
    peak_visible = _mm512_mask_max_ps(peak_visible, visible, peak_visible, score);
    peak_all = _mm512_mask_max_ps(peak_all, in, peak_all, score);
    _mm512_mask_storeu_ps(row + j, lanes(j, hi), score);
  }
  if (any_nan) {
    std::fill(row + lo, row + hi, std::numeric_limits<float>::quiet_NaN());
    return;
  }
  const float peak = _mm512_reduce_max_ps(any_visible ? peak_visible : peak_all);
  const __m512 shift = _mm512_set1_ps(peak), floor = _mm512_set1_ps(-87.f);
  __m512 total = _mm512_setzero_ps();
  for (int64_t j = lo; j < hi; j += 16) {
    const __mmask16 in = lanes(j, end);
    // more than 87 below the peak: under float32's smallest normal against the peak's 1, so 0 (see exp_from_peak)
    const __m512 shifted = _mm512_max_ps(_mm512_sub_ps(_mm512_loadu_ps(row + j), shift), floor);
    __mmask16 kept = _mm512_mask_cmp_ps_mask(in, shifted, floor, _CMP_GT_OQ);
    if (any_visible) kept &= _mm512_mask_cmp_ps_mask(in, _mm512_maskz_loadu_ps(in, bias + j), hidden, _CMP_GT_OQ);
    const __m512 p = _mm512_maskz_mov_ps(kept, _ZGVeN16v_expf(shifted));
    total = _mm512_add_ps(total, p);
    _mm512_mask_storeu_ps(row + j, lanes(j, hi), p);
  }
  const __m512 inv = _mm512_set1_ps(1.f / _mm512_reduce_add_ps(total));
  for (int64_t j = lo; j < hi; j += 16)
    _mm512_mask_storeu_ps(row + j, lanes(j, hi), _mm512_mul_ps(_mm512_loadu_ps(row + j), inv));
}
#else
// Both passes are branch-free so that the compiler vectorises them (exp included, through glibc's
// vector maths): hidden keys take a score far below any visible one, whose exp is exactly 0. A NaN score makes
// the whole row NaN, as in the AVX-512 build (a max reduction alone may drop it, depending on the lane order).
void softmax_row(float *row, const float *bias, int64_t lo, int64_t hi, int64_t keys, float scale) {
  constexpr float kMaskedScore = -1e30f;
  const int64_t end = std::min(hi, keys);
  int visible = 0;
#pragma omp simd reduction(| : visible)
  for (int64_t j = lo; j < end; ++j) visible |= int(bias[j] > kHidden);
  float m = std::numeric_limits<float>::lowest();
  int any_nan = 0;
#pragma omp simd reduction(max : m) reduction(| : any_nan)
  for (int64_t j = lo; j < end; ++j) {
    const float score = row[j] * scale + bias[j], kept = (visible && bias[j] <= kHidden) ? kMaskedScore : score;
    row[j] = kept;
    any_nan |= int(score != score);
    m = m > kept ? m : kept;  // not std::max: its reference to row[j] kept this loop scalar
  }
  if (any_nan) {
    std::fill(row + lo, row + hi, std::numeric_limits<float>::quiet_NaN());
    return;
  }
  const float inv = 1.f / exp_from_peak(row + lo, end - lo, m);
#pragma omp simd
  for (int64_t j = lo; j < end; ++j) row[j] *= inv;
  for (int64_t j = end; j < hi; ++j) row[j] = 0.f;
}
#endif

// Scores of a chunk's query rows (packed [chunk, padded_dim]) against keys [lo, hi) (packed
// transposed [padded_dim, padded_keys]) -> probabilities in probs [chunk, padded_keys]
// (columns [lo, hi) only); the rows past count stay 0.
void chunk_probabilities(const AttentionShape &s, const float *bias, int64_t b, int64_t h, int64_t first,
                         int64_t count, int64_t lo, int64_t hi, float scale, const float *queries,
                         const float *keys_t, float *probs) {
  small_gemm(queries, s.padded_dim, keys_t + lo, s.padded_keys, probs + lo, s.padded_keys, s.chunk, hi - lo,
             s.padded_dim, false);
  for (int64_t r = 0; r < s.chunk; ++r) {
    float *row = probs + r * s.padded_keys;
    if (r < count)
      softmax_row(row, s.bias_row(bias, b, h, first + r), lo, hi, s.keys, scale);
    else
      std::fill(row + lo, row + hi, 0.f);
  }
}

constexpr float kSqrt2OverPi = 0.7978845608028654f;
// mf.nn.losses.IGNORE_INDEX: a label that adds nothing to the loss
constexpr int32_t kIgnoreIndex = -100;
constexpr float kGeluCoeff = 0.044715f;

}  // namespace

extern "C" {

// ---- cross entropy over the last axis -------------------------------------------------
// in: logits [N, V], labels [N] (int32; -100 means ignored)
// out: loss [N] (0 where ignored, NaN for any other label outside [0, V), as a wrong label must not pass
// unnoticed: the Trainer checks labels before a step and stops on a NaN loss), logsumexp [N]
int CrossEntropyForward(int, void **params, int *ndims, int64_t **shapes, const char **, void *, void *) {
  const float *x = static_cast<const float *>(params[0]);
  const int32_t *labels = static_cast<const int32_t *>(params[1]);
  float *loss = static_cast<float *>(params[2]);
  float *lse = static_cast<float *>(params[3]);
  int64_t n, v;
  rows_cols(ndims[0], shapes[0], &n, &v);
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < n; ++i) {
    const float *row = x + i * v;
    float m = row[0];
#pragma omp simd reduction(max : m)
    for (int64_t j = 0; j < v; ++j) m = row[j] > m ? row[j] : m;
    float s = 0.f;
#pragma omp simd reduction(+ : s)
    for (int64_t j = 0; j < v; ++j) s += std::exp(row[j] - m);
    const float l = m + std::log(s);
    lse[i] = l;
    const int32_t t = labels[i];
    loss[i] = (t >= 0 && t < v) ? l - row[t] : (t == kIgnoreIndex ? 0.f : std::numeric_limits<float>::quiet_NaN());
  }
  return 0;
}

// in: logits [N, V], labels [N], logsumexp [N], dloss [N]; out: dlogits [N, V]
int CrossEntropyBackward(int, void **params, int *ndims, int64_t **shapes, const char **, void *, void *) {
  const float *x = static_cast<const float *>(params[0]);
  const int32_t *labels = static_cast<const int32_t *>(params[1]);
  const float *lse = static_cast<const float *>(params[2]);
  const float *dloss = static_cast<const float *>(params[3]);
  float *dx = static_cast<float *>(params[4]);
  int64_t n, v;
  rows_cols(ndims[0], shapes[0], &n, &v);
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < n; ++i) {
    const float *row = x + i * v;
    float *out = dx + i * v;
    const int32_t t = labels[i];
    if (t < 0 || t >= v) {
      const float fill = t == kIgnoreIndex ? 0.f : std::numeric_limits<float>::quiet_NaN();
      std::fill(out, out + v, fill);
      continue;
    }
    const float l = lse[i], g = dloss[i];
#pragma omp simd
    for (int64_t j = 0; j < v; ++j) out[j] = std::exp(row[j] - l) * g;
    out[t] -= g;
  }
  return 0;
}

// ---- GELU, tanh approximation (GPT-2's gelu_new) ----------------------------------------
int GeluTanhForward(int, void **params, int *ndims, int64_t **shapes, const char **, void *, void *) {
  const float *x = static_cast<const float *>(params[0]);
  float *y = static_cast<float *>(params[1]);
  const int64_t n = numel(ndims[0], shapes[0]);
#pragma omp parallel for simd schedule(static)
  for (int64_t i = 0; i < n; ++i) {
    const float v = x[i];
    y[i] = 0.5f * v * (1.f + std::tanh(kSqrt2OverPi * (v + kGeluCoeff * v * v * v)));
  }
  return 0;
}

// in: x, dy; out: dx
int GeluTanhBackward(int, void **params, int *ndims, int64_t **shapes, const char **, void *, void *) {
  const float *x = static_cast<const float *>(params[0]);
  const float *dy = static_cast<const float *>(params[1]);
  float *dx = static_cast<float *>(params[2]);
  const int64_t n = numel(ndims[0], shapes[0]);
#pragma omp parallel for simd schedule(static)
  for (int64_t i = 0; i < n; ++i) {
    const float v = x[i];
    const float inner = kSqrt2OverPi * (v + kGeluCoeff * v * v * v);
    const float t = std::tanh(inner);
    const float dinner = kSqrt2OverPi * (1.f + 3.f * kGeluCoeff * v * v);
    dx[i] = dy[i] * (0.5f * (1.f + t) + 0.5f * v * (1.f - t * t) * dinner);
  }
  return 0;
}

// ---- GELU, exact (erf; BERT's gelu) -------------------------------------------------------
constexpr float kInvSqrt2 = 0.7071067811865476f;
constexpr float kInvSqrt2Pi = 0.3989422804014327f;

int GeluErfForward(int, void **params, int *ndims, int64_t **shapes, const char **, void *, void *) {
  const float *x = static_cast<const float *>(params[0]);
  float *y = static_cast<float *>(params[1]);
  const int64_t n = numel(ndims[0], shapes[0]);
#pragma omp parallel for simd schedule(static)
  for (int64_t i = 0; i < n; ++i) {
    const float v = x[i];
    y[i] = 0.5f * v * (1.f + std::erf(v * kInvSqrt2));
  }
  return 0;
}

// in: x, dy; out: dx = dy * (Phi(x) + x * phi(x))
int GeluErfBackward(int, void **params, int *ndims, int64_t **shapes, const char **, void *, void *) {
  const float *x = static_cast<const float *>(params[0]);
  const float *dy = static_cast<const float *>(params[1]);
  float *dx = static_cast<float *>(params[2]);
  const int64_t n = numel(ndims[0], shapes[0]);
#pragma omp parallel for simd schedule(static)
  for (int64_t i = 0; i < n; ++i) {
    const float v = x[i];
    const float cdf = 0.5f * (1.f + std::erf(v * kInvSqrt2));
    dx[i] = dy[i] * (cdf + v * kInvSqrt2Pi * std::exp(-0.5f * v * v));
  }
  return 0;
}

// ---- LayerNorm over the last axis -----------------------------------------------------
// in: x [R, H], gamma [H], beta [H], eps [1]; out: y [R, H], mean [R], rstd [R]
int LayerNormForward(int, void **params, int *ndims, int64_t **shapes, const char **, void *, void *) {
  const float *x = static_cast<const float *>(params[0]);
  const float *gamma = static_cast<const float *>(params[1]);
  const float *beta = static_cast<const float *>(params[2]);
  const float eps = *static_cast<const float *>(params[3]);
  float *y = static_cast<float *>(params[4]);
  float *mean_out = static_cast<float *>(params[5]);
  float *rstd_out = static_cast<float *>(params[6]);
  int64_t rows, h;
  rows_cols(ndims[0], shapes[0], &rows, &h);
#pragma omp parallel for schedule(static)
  for (int64_t r = 0; r < rows; ++r) {
    const float *xr = x + r * h;
    float *yr = y + r * h;
    float sum = 0.f;
#pragma omp simd reduction(+ : sum)
    for (int64_t i = 0; i < h; ++i) sum += xr[i];
    const float mean = sum / h;
    float var = 0.f;
#pragma omp simd reduction(+ : var)
    for (int64_t i = 0; i < h; ++i) var += (xr[i] - mean) * (xr[i] - mean);
    const float rstd = 1.f / std::sqrt(var / h + eps);
#pragma omp simd
    for (int64_t i = 0; i < h; ++i) yr[i] = (xr[i] - mean) * rstd * gamma[i] + beta[i];
    mean_out[r] = mean;
    rstd_out[r] = rstd;
  }
  return 0;
}

// in: x [R, H], gamma [H], mean [R], rstd [R], dy [R, H]; out: dx [R, H], dgamma [H], dbeta [H]
int LayerNormBackward(int, void **params, int *ndims, int64_t **shapes, const char **, void *, void *) {
  const float *x = static_cast<const float *>(params[0]);
  const float *gamma = static_cast<const float *>(params[1]);
  const float *mean = static_cast<const float *>(params[2]);
  const float *rstd = static_cast<const float *>(params[3]);
  const float *dy = static_cast<const float *>(params[4]);
  float *dx = static_cast<float *>(params[5]);
  float *dgamma = static_cast<float *>(params[6]);
  float *dbeta = static_cast<float *>(params[7]);
  int64_t rows, h;
  rows_cols(ndims[0], shapes[0], &rows, &h);
  const int threads = omp_get_max_threads();
  std::vector<float> partial(static_cast<size_t>(threads) * 2 * h, 0.f);
#pragma omp parallel
  {
    float *pg = partial.data() + static_cast<size_t>(omp_get_thread_num()) * 2 * h;
    float *pb = pg + h;
#pragma omp for schedule(static)
    for (int64_t r = 0; r < rows; ++r) {
      const float *xr = x + r * h, *dyr = dy + r * h;
      float *dxr = dx + r * h;
      const float mu = mean[r], rs = rstd[r];
      float sum_g = 0.f, sum_gx = 0.f;
#pragma omp simd reduction(+ : sum_g, sum_gx)
      for (int64_t i = 0; i < h; ++i) {
        const float xhat = (xr[i] - mu) * rs;
        const float g = dyr[i] * gamma[i];
        sum_g += g;
        sum_gx += g * xhat;
        pg[i] += dyr[i] * xhat;
        pb[i] += dyr[i];
      }
      const float a = sum_g / h, b = sum_gx / h;
#pragma omp simd
      for (int64_t i = 0; i < h; ++i) {
        const float xhat = (xr[i] - mu) * rs;
        dxr[i] = rs * (dyr[i] * gamma[i] - a - xhat * b);
      }
    }
  }
  for (int64_t i = 0; i < h; ++i) dgamma[i] = dbeta[i] = 0.f;
  for (int t = 0; t < threads; ++t) {
    const float *pg = partial.data() + static_cast<size_t>(t) * 2 * h;
    for (int64_t i = 0; i < h; ++i) {
      dgamma[i] += pg[i];
      dbeta[i] += pg[h + i];
    }
  }
  return 0;
}

// ---- RMSNorm over the last axis (LLaMA) ------------------------------------------------
// y = x / sqrt(mean(x^2) + eps) * w over one row of h; returns the reciprocal it scaled by
static float rms_norm_row(const float *x, const float *w, float eps, int64_t h, float *y) {
  float sq = 0.f;
#pragma omp simd reduction(+ : sq)
  for (int64_t i = 0; i < h; ++i) sq += x[i] * x[i];
  const float rstd = 1.f / std::sqrt(sq / h + eps);
#pragma omp simd
  for (int64_t i = 0; i < h; ++i) y[i] = x[i] * rstd * w[i];
  return rstd;
}

// in: x [R, H], weight [H], eps [1]; out: y [R, H], rstd [R]
int RmsNormForward(int, void **params, int *ndims, int64_t **shapes, const char **, void *, void *) {
  const float *x = static_cast<const float *>(params[0]);
  const float *w = static_cast<const float *>(params[1]);
  const float eps = *static_cast<const float *>(params[2]);
  float *y = static_cast<float *>(params[3]);
  float *rstd_out = static_cast<float *>(params[4]);
  int64_t rows, h;
  rows_cols(ndims[0], shapes[0], &rows, &h);
#pragma omp parallel for schedule(static)
  for (int64_t r = 0; r < rows; ++r) rstd_out[r] = rms_norm_row(x + r * h, w, eps, h, y + r * h);
  return 0;
}

// in: x [R, H], weight [H], rstd [R], dy [R, H]; out: dx [R, H], dweight [H]
int RmsNormBackward(int, void **params, int *ndims, int64_t **shapes, const char **, void *, void *) {
  const float *x = static_cast<const float *>(params[0]);
  const float *w = static_cast<const float *>(params[1]);
  const float *rstd = static_cast<const float *>(params[2]);
  const float *dy = static_cast<const float *>(params[3]);
  float *dx = static_cast<float *>(params[4]);
  float *dw = static_cast<float *>(params[5]);
  int64_t rows, h;
  rows_cols(ndims[0], shapes[0], &rows, &h);
  const int threads = omp_get_max_threads();
  std::vector<float> partial(static_cast<size_t>(threads) * h, 0.f);
#pragma omp parallel
  {
    float *pw = partial.data() + static_cast<size_t>(omp_get_thread_num()) * h;
#pragma omp for schedule(static)
    for (int64_t r = 0; r < rows; ++r) {
      const float *xr = x + r * h, *dyr = dy + r * h;
      float *dxr = dx + r * h;
      const float rs = rstd[r];
      float dot = 0.f;
#pragma omp simd reduction(+ : dot)
      for (int64_t i = 0; i < h; ++i) {
        dot += dyr[i] * w[i] * xr[i];
        pw[i] += dyr[i] * xr[i] * rs;
      }
      const float c = dot * rs * rs * rs / h;
#pragma omp simd
      for (int64_t i = 0; i < h; ++i) dxr[i] = dyr[i] * w[i] * rs - xr[i] * c;
    }
  }
  for (int64_t i = 0; i < h; ++i) dw[i] = 0.f;
  for (int t = 0; t < threads; ++t)
    for (int64_t i = 0; i < h; ++i) dw[i] += partial[static_cast<size_t>(t) * h + i];
  return 0;
}

// ---- SwiGLU: silu(gate) * up -----------------------------------------------------------
int SiluMulForward(int, void **params, int *ndims, int64_t **shapes, const char **, void *, void *) {
  const float *g = static_cast<const float *>(params[0]);
  const float *u = static_cast<const float *>(params[1]);
  float *y = static_cast<float *>(params[2]);
  const int64_t n = numel(ndims[0], shapes[0]);
#pragma omp parallel for simd schedule(static)
  for (int64_t i = 0; i < n; ++i) y[i] = g[i] / (1.f + std::exp(-g[i])) * u[i];
  return 0;
}

// in: gate, up, dy; out: dgate, dup
int SiluMulBackward(int, void **params, int *ndims, int64_t **shapes, const char **, void *, void *) {
  const float *g = static_cast<const float *>(params[0]);
  const float *u = static_cast<const float *>(params[1]);
  const float *dy = static_cast<const float *>(params[2]);
  float *dg = static_cast<float *>(params[3]);
  float *du = static_cast<float *>(params[4]);
  const int64_t n = numel(ndims[0], shapes[0]);
#pragma omp parallel for simd schedule(static)
  for (int64_t i = 0; i < n; ++i) {
    const float s = 1.f / (1.f + std::exp(-g[i]));
    du[i] = dy[i] * g[i] * s;
    dg[i] = dy[i] * u[i] * s * (1.f + g[i] * (1.f - s));
  }
  return 0;
}

// ---- dense products for training and prefill: C = A B, blocked for the caches ----------------------------
// MindSpore's CPU MatMul reaches 38-88% of the fp32 peak on a GPT-2 training step's shapes, varying between
// runs (its input-gradient products, with a narrow output, are the weakest). This is the classic Goto/BLIS
// scheme: B is copied ("packed") kDepth rows x kColumnBlock columns at a time into panels of kTileCols columns,
// A kRowBlock rows at a time into panels of kTileRows rows, so that a micro-kernel multiplies a kTileRows x
// kTileCols tile of C with both operands read sequentially from cache (A's block stays in L2, B's panel in L2,
// B's block in L3). The micro-kernel keeps the whole C tile in registers (14 x 32 floats in 28 of AVX-512's 32
// registers: each step of k is 2 vector loads of B, 14 broadcasts of A and 28 FMAs). Packing also absorbs the
// transposes (16 x 16 register transposes), so one routine serves x W^T (forward), dy W (input gradient) and
// dy^T x (weight gradient), given strides. Both cores work on one product: B's block is packed by both (half
// the panels each), then each multiplies its own half of A's rows; B is double-buffered so one barrier per
// block suffices. With few rows the cores split B's panels instead.
// Measured (2 cores of an AMD EPYC Zen 5, peak 574 GFLOP/s): 80-87% of peak per product of GPT-2 small's step
// through MindSpore graphs, 87-95% called directly; benchmarks/gemm.py compares it with MindSpore and PyTorch.
extern "C++" {
namespace dense {
#if defined(__AVX512F__)
constexpr int kLanes = 16, kTileRows = 14;  // 28 accumulators of 32 registers
#elif defined(__AVX__)
constexpr int kLanes = 8, kTileRows = 6;  // 12 accumulators of 16 registers (the classic 6 x 16 kernel)
#else
constexpr int kLanes = 4, kTileRows = 4;
#endif
constexpr int kTileCols = 2 * kLanes;
constexpr int kDepth = 1024;                    // k per block: a 14 x 1024 panel of A is 56 KB
constexpr int kRowBlock = 3 * kTileRows;        // A's block: 42 x 1024 floats = 168 KB, kept in L2
constexpr int kColumnBlock = 48 * kTileCols;    // B's block: 1024 x 1536 floats = 6 MB, kept in L3
constexpr int kSplitColumnsBelow = 4;             // row tiles per thread under which threads split columns
constexpr int64_t kKeptA = int64_t(8) << 20;    // bytes of packed A a thread may keep across column blocks
constexpr int64_t kGridKeepsABelow = int64_t(32) << 20;  // bytes of A up to which many threads form a grid

typedef float vec __attribute__((vector_size(kLanes * sizeof(float))));
typedef float unaligned_vec __attribute__((vector_size(kLanes * sizeof(float)), aligned(4)));

// A matrix view: element (i, j) at data[i * row_stride + j * col_stride] (a transpose swaps the strides)
struct View {
  const float *data;
  int64_t row_stride, col_stride;
  const float *at(int64_t i, int64_t j) const { return data + i * row_stride + j * col_stride; }
  float value(int64_t i, int64_t j) const { return *at(i, j); }
  View block(int64_t i, int64_t j) const { return View{at(i, j), row_stride, col_stride}; }
  bool columns_contiguous() const { return row_stride == 1; }
#if defined(__AVX512F__)
  // elements (i..i+15, j) of a view whose columns are contiguous. 16 columns read 64 bytes at a time are too
  // many streams for the hardware prefetcher: with few rows of A (a short prompt's LM head) packing is what
  // waits on memory (SmolLM2's head, 17 rows: 7.8 -> 5.3 ms). Past a column's end this fetches the start of
  // the next, which is read soon after.
  __m512 column16(int64_t i, int64_t j) const {
    __builtin_prefetch(at(i + 64, j));
    return _mm512_loadu_ps(at(i, j));
  }
#endif
};

// B = (w * scale)^T for int8 weights w [N, K] with a scale per row (weight-only int8): packing dequantises, so
// a quantised model's prefill multiplies without writing the float32 matrix first
struct ScaledInt8Rows {
  const int8_t *w;
  const float *scale;
  int64_t k;  // w's row length
  float value(int64_t i, int64_t j) const { return float(w[j * k + i]) * scale[j]; }
  ScaledInt8Rows block(int64_t i, int64_t j) const { return ScaledInt8Rows{w + j * k + i, scale + j, k}; }
  bool columns_contiguous() const { return true; }
#if defined(__AVX512F__)
  __m512 column16(int64_t i, int64_t j) const {  // 16 int8 widened and scaled; prefetched as View's
    __builtin_prefetch(w + j * k + i + 256);
    const __m128i w8 = _mm_loadu_si128(reinterpret_cast<const __m128i *>(w + j * k + i));
    return _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(w8)), _mm512_set1_ps(scale[j]));
  }
#endif
};

// What suits the CPU, measured on two kinds: AMD's Zen 5 (where the constants above were tuned, and which keeps
// the code it was measured with) and a Sapphire Rapids-class Intel Xeon (2 cores).
// - Intel's cores do not bring the panels into L1 ahead of the micro-kernel by themselves: both stream from L2
//   (a 1024-deep panel of A is 56 KB, of B 128 KB, against 48 KB of L1), and the micro-kernel waited on those
//   loads. Prefetching 16 steps of k ahead made the products 11-14% faster there (2 cores: 270 -> 305 GFLOP/s
//   over a training step's products, 1 core 140 -> 159; deeper or shallower blocks did not help).
// - Sharing B's packed block between the cores (through Intel's slower L3, with a barrier per block) lost to
//   each core packing its own half of B's columns for up to ~500 rows: prefill products of 128 / 256 / 512 rows
//   took 16% / 12% / 7% less time split by columns, 1024 rows the same either way.
struct Tuning {
  bool prefetch;            // prefetch the panels kPrefetchSteps ahead in the micro-kernel
  int split_columns_below;  // row tiles per thread under which 2-3 threads split B's columns, not A's rows
};
constexpr int kPrefetchSteps = 16;
static Tuning tuning_for_this_cpu() {
  __builtin_cpu_init();
  if (__builtin_cpu_is("intel")) return Tuning{true, 24};
  return Tuning{false, kSplitColumnsBelow};
}

// c [kRows x kTileCols] (row stride ldc) = or += a's panel [depth][kTileRows] (its first kRows rows) x b's panel
// [depth][kTileCols]. kRows < kTileRows serves a product's last rows: 128 rows are 9 tiles of 14 and one of 2,
// which as a full tile cost 8% of the product's time.
template <bool kPrefetch, int kRows = kTileRows>
static inline void tile(int depth, const float *__restrict a, const float *__restrict b, float *c, int64_t ldc,
                        bool accumulate) {
  vec acc[kRows][2] = {};
  for (int i = 0; i < kRows; ++i) {  // C comes from L3 or memory
    __builtin_prefetch(c + i * ldc, 1);
    __builtin_prefetch(c + i * ldc + kTileCols - 1, 1);
  }
  for (int k = 0; k < depth; ++k) {
    const vec b0 = *reinterpret_cast<const vec *>(b), b1 = *reinterpret_cast<const vec *>(b + kLanes);
    if constexpr (kPrefetch) {  // B's two cache lines of step k + 16 (past the panel's end: harmless) and A's
      __builtin_prefetch(b + kPrefetchSteps * kTileCols);
      __builtin_prefetch(b + kPrefetchSteps * kTileCols + kTileCols / 2);
      __builtin_prefetch(a + kPrefetchSteps * kTileRows);
    }
    for (int i = 0; i < kRows; ++i) {
      const vec ai = (vec){} + a[i];  // a broadcast, folded into the FMA's memory operand
      acc[i][0] += ai * b0;
      acc[i][1] += ai * b1;
    }
    a += kTileRows;
    b += kTileCols;
  }
  for (int i = 0; i < kRows; ++i)
    for (int h = 0; h < 2; ++h) {
      unaligned_vec *out = reinterpret_cast<unaligned_vec *>(c + i * ldc + h * kLanes);
      *out = accumulate ? *out + acc[i][h] : acc[i][h];
    }
}

// the tile of `rows` <= kTileRows rows: a table of the kernels for each height
template <bool kPrefetch, int... kHeights>
static void tile_of_height(int rows, int depth, const float *a, const float *b, float *c, int64_t ldc, bool accumulate,
                           std::integer_sequence<int, kHeights...>) {
  using Kernel = void (*)(int, const float *, const float *, float *, int64_t, bool);
  static constexpr Kernel kernels[] = {tile<kPrefetch, kHeights + 1>...};
  kernels[rows - 1](depth, a, b, c, ldc, accumulate);
}

// B's rows [0, depth) x columns [first panel, last panel) * kTileCols into panels [depth][kTileCols], zero-padded
// past `cols`
template <class Source>
static void pack_b(Source b, int depth, int cols, float *out, int first_panel, int last_panel) {
  for (int p = first_panel; p < last_panel; ++p) {
    const int j0 = p * kTileCols, width = std::min(kTileCols, cols - j0);
    float *panel = out + int64_t(p) * depth * kTileCols;
    if constexpr (std::is_same_v<Source, View>) {
      if (b.col_stride == 1) {  // rows of B are contiguous (dy W, dy^T x)
        for (int k = 0; k < depth; ++k) {
          const float *row = b.at(k, j0);
          int j = 0;
          for (; j < width; ++j) panel[k * kTileCols + j] = row[j];
          for (; j < kTileCols; ++j) panel[k * kTileCols + j] = 0.f;
        }
        continue;
      }
    }
    int k = 0;
#if defined(__AVX512F__)
    if (b.columns_contiguous() && width == kTileCols) {  // B = W^T, W row-major (x W^T): 16 x 16 transposes
      for (; k + 16 <= depth; k += 16)
        for (int g = 0; g < kTileCols / 16; ++g) {
          __m512 r[16];
          for (int j = 0; j < 16; ++j) r[j] = b.column16(k, j0 + g * 16 + j);
          transpose16(r);
          for (int q = 0; q < 16; ++q) _mm512_store_ps(panel + (k + q) * kTileCols + g * 16, r[q]);
        }
    }
#endif
    for (; k < depth; ++k) {
      int j = 0;
      for (; j < width; ++j) panel[k * kTileCols + j] = b.value(k, j0 + j);
      for (; j < kTileCols; ++j) panel[k * kTileCols + j] = 0.f;
    }
  }
}

// A's rows [0, rows) x columns [0, depth) into panels [depth][kTileRows], zero-padded past `rows`
static void pack_a(View a, int rows, int depth, float *out) {
  for (int i0 = 0; i0 < rows; i0 += kTileRows) {
    const int height = std::min(kTileRows, rows - i0);
    float *panel = out + int64_t(i0 / kTileRows) * depth * kTileRows;
    int k = 0;
#if defined(__AVX512F__)
    static_assert(kTileRows <= 16, "a panel's column is one masked vector");
    const __mmask16 rows_mask = __mmask16((1u << height) - 1), panel_mask = __mmask16((1u << kTileRows) - 1);
    if (a.col_stride == 1) {  // rows of A contiguous (x W^T, dy W): 16 x 16 blocks transposed in registers
      for (; k + 16 <= depth; k += 16) {
        __m512 r[16];
        for (int i = 0; i < 16; ++i) r[i] = i < height ? _mm512_loadu_ps(a.at(i0 + i, k)) : _mm512_setzero_ps();
        transpose16(r);
        for (int q = 0; q < 16; ++q) _mm512_mask_storeu_ps(panel + (k + q) * kTileRows, panel_mask, r[q]);
      }
    } else if (a.row_stride == 1) {  // A = dy^T (dy^T x): a panel's column is contiguous
      for (; k < depth; ++k)
        _mm512_mask_storeu_ps(panel + k * kTileRows, panel_mask, _mm512_maskz_loadu_ps(rows_mask, a.at(i0, k)));
    }
#endif
    for (; k < depth; ++k) {
      int i = 0;
      for (; i < height; ++i) panel[k * kTileRows + i] = *a.at(i0 + i, k);
      for (; i < kTileRows; ++i) panel[k * kTileRows + i] = 0.f;
    }
  }
}

static float *aligned(std::vector<float> &buffer, int64_t floats) {
  if (int64_t(buffer.size()) < floats + 16) buffer.resize(floats + 16);
  return reinterpret_cast<float *>((reinterpret_cast<uintptr_t>(buffer.data()) + 63) & ~uintptr_t(63));
}

// rows x cols of c (row stride ldc) += bias [cols]: a Linear's bias on a tile just written, while it is in L1 (a pass
// of its own over GPT-2 small's MLP output took ~1 ms a layer)
static void add_bias(float *c, int64_t ldc, int rows, int cols, const float *bias) {
  for (int i = 0; i < rows; ++i) {
    float *row = c + i * ldc;
#pragma omp simd
    for (int j = 0; j < cols; ++j) row[j] += bias[j];
  }
}

// The float32 micro-kernel above and its packing, as product() uses a kind of tile: its shape and blocks, the
// floats a packed panel takes, how to pack A's and B's blocks and how to multiply one tile.
struct Fp32Tiles {
  static constexpr int kTileRows = dense::kTileRows, kTileCols = dense::kTileCols;
  static constexpr int kDepth = dense::kDepth, kRowBlock = dense::kRowBlock, kColumnBlock = dense::kColumnBlock;
  static int64_t a_panel_floats(int depth) { return int64_t(kTileRows) * depth; }
  static int64_t b_panel_floats(int depth) { return int64_t(kTileCols) * depth; }
  static void begin() {}
  static void end() {}
  template <class Source>
  static void pack_b(Source b, int depth, int cols, float *out, int first_panel, int last_panel) {
    dense::pack_b(b, depth, cols, out, first_panel, last_panel);
  }
  static void pack_a(View a, int rows, int depth, float *out) { dense::pack_a(a, rows, depth, out); }
  // c's rows x cols tile (rows <= kTileRows, cols <= kTileCols) = or += a's panel x b's panel
  static void multiply(int rows, int cols, int depth, const float *a_panel, const float *b_panel, float *c,
                       int64_t ldc, bool accumulate) {
    static const bool prefetch = tuning_for_this_cpu().prefetch;
    const auto heights = std::make_integer_sequence<int, kTileRows>();
    if (rows == kTileRows && cols == kTileCols) {  // a branch rather than a function pointer: both stay inlined
      if (prefetch) tile<true>(depth, a_panel, b_panel, c, ldc, accumulate);
      else tile<false>(depth, a_panel, b_panel, c, ldc, accumulate);
    } else if (cols == kTileCols) {  // the last rows
      if (prefetch) tile_of_height<true>(rows, depth, a_panel, b_panel, c, ldc, accumulate, heights);
      else tile_of_height<false>(rows, depth, a_panel, b_panel, c, ldc, accumulate, heights);
    } else {  // the last columns: via a copy
      alignas(64) float edge[kTileRows * kTileCols];
      if (prefetch) tile_of_height<true>(rows, depth, a_panel, b_panel, edge, kTileCols, false, heights);
      else tile_of_height<false>(rows, depth, a_panel, b_panel, edge, kTileCols, false, heights);
      for (int i = 0; i < rows; ++i)
        for (int j = 0; j < cols; ++j) c[i * ldc + j] = (accumulate ? c[i * ldc + j] : 0.f) + edge[i * kTileCols + j];
    }
  }
};

#if MF_AMX
// ---- float32 products on AMX (Intel Sapphire Rapids and later) ---------------------------------------------------
// AMX multiplies bfloat16 tiles into float32 accumulators at ~9x the float32 rate of AVX-512's FMAs (measured on a
// 2-core Xeon: 2.2 TFLOP/s a core against 242 GFLOP/s). Float32 products keep float32's accuracy there by splitting
// each value into three bfloat16 (x = h + m + l exactly: 8 + 8 + 8 bits of float32's 24) and summing the six
// products that reach float32's precision, h.h + h.m + h.l + m.h + m.m + l.h; the three left out are below
// 2^-24 of the product (the "bf16x6" of Henry, Tang and Heinecke, "Leveraging the bfloat16 artificial
// intelligence datatype for higher-precision computations", 2019). AMX sums in float32 as it goes, so the result's
// error is that of a float32 product (harness, 32 x 768 x 32: max error 1.3e-5 against float64, a sequential
// float32 sum's 2.2e-5). Six products at ~9x the rate: 430 GFLOP/s of float32 work a core with the panels in L2,
// 1.8x AVX-512's peak. Only AMX treats subnormal inputs as zero: parts below float32's normal range
// (|x| < ~1e-38 after the split) are dropped, as in a flush-to-zero product; and an infinite input gives NaN (its
// pieces are inf and NaN) where a float32 product gives +-inf: either stops training (the Trainer's NaN stop).
// A C tile is 32 x 32 floats, four AMX tiles of 16 x 16 (tmm0-3); A's and B's 16 x 32 bf16 tiles go through
// tmm4-5 and tmm6-7. Packed panels hold, per step of 32 along the depth, [piece h/m/l][half][16][32] bf16: A's
// halves are its rows 0-15 and 16-31, each row 32 consecutive depths; B's halves are its columns 0-15 and 16-31 in
// AMX's pair layout, row p holding (B[2p][j], B[2p+1][j]) for j = 0..15.
namespace amx {
#define MF_AMX_TARGET __attribute__((target("amx-tile,amx-bf16,avx512f,avx512bw,avx512vl,avx512bf16")))
constexpr int kTile = 32, kStep = 32;
constexpr int kHalf = 16 * 32;           // bf16 in one AMX operand tile
constexpr int kStepBf16 = 3 * 2 * kHalf;  // bf16 per panel step: three pieces of two halves

// bfloat16 x 16 -> float32 x 16 (exact: a bfloat16 is a float32's high half)
MF_AMX_TARGET static inline __m512 widen(__m256i bf16) {
  return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(bf16), 16));
}

// 32 floats (first: 0-15, second: 16-31) -> three times 32 bfloat16 in order, first + second = piece[0] + piece[1]
// + piece[2] exactly: each piece is the nearest bfloat16 (ties to even) of what the ones before left, and every
// subtraction is exact
MF_AMX_TARGET static inline void split(__m512 first, __m512 second, __m512i piece[3]) {
  for (int q = 0; q < 3; ++q) {
    piece[q] = __m512i(_mm512_cvtne2ps_pbh(second, first));
    if (q == 2) break;
    first = _mm512_sub_ps(first, widen(_mm512_castsi512_si256(piece[q])));
    second = _mm512_sub_ps(second, widen(_mm512_extracti64x4_epi64(piece[q], 1)));
  }
}

// stage [16 rows][32 depths] float32 -> one A half of a step (the pieces kHalf * 2 apart)
MF_AMX_TARGET static void convert_a_half(const float *stage, uint16_t *out) {
  for (int i = 0; i < 16; ++i) {
    __m512i piece[3];
    split(_mm512_load_ps(stage + i * 32), _mm512_load_ps(stage + i * 32 + 16), piece);
    for (int q = 0; q < 3; ++q) _mm512_store_si512(out + q * 2 * kHalf + i * 32, piece[q]);
  }
}

// stage [32 depths][16 columns] float32 -> one B half of a step, in AMX's pair layout
MF_AMX_TARGET static void convert_b_half(const float *stage, uint16_t *out) {
  alignas(64) static const uint16_t pairs[32] = {0, 16, 1, 17, 2,  18, 3,  19, 4,  20, 5,  21, 6,  22, 7,  23,
                                                 8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31};
  const __m512i interleave = _mm512_load_si512(pairs);  // (even depth, odd depth) for each column
  for (int p = 0; p < 16; ++p) {
    __m512i piece[3];
    split(_mm512_load_ps(stage + 2 * p * 16), _mm512_load_ps(stage + (2 * p + 1) * 16), piece);
    for (int q = 0; q < 3; ++q)
      _mm512_store_si512(out + q * 2 * kHalf + p * 32, _mm512_permutexvar_epi16(interleave, piece[q]));
  }
}

// 16 x 16 block of floats (row r at src + r * stride; `rows` x `cols` of it read, the rest 0) -> transposed into
// dst (row c at dst + c * ld)
MF_AMX_TARGET static void transposed_block(const float *src, int64_t stride, int rows, int cols, float *dst,
                                           int64_t ld) {
  __m512 r[16];
  const __mmask16 mask = __mmask16((1u << cols) - 1);
  for (int i = 0; i < 16; ++i) r[i] = i < rows ? _mm512_maskz_loadu_ps(mask, src + i * stride) : _mm512_setzero_ps();
  transpose16(r);
  for (int c = 0; c < 16; ++c) _mm512_store_ps(dst + c * ld, r[c]);
}

// A's rows [0, rows) (<= 16) x depths [0, depth) (<= 32) -> stage [16][32], zero-padded
MF_AMX_TARGET static void stage_a(View a, int rows, int depth, float *stage) {
  if (a.col_stride == 1) {  // rows contiguous (x W^T, dy W)
    const __mmask16 low = __mmask16((1u << std::min(depth, 16)) - 1);
    const __mmask16 high = __mmask16((1u << std::max(depth - 16, 0)) - 1);
    for (int i = 0; i < 16; ++i) {
      const bool row = i < rows;
      _mm512_store_ps(stage + i * 32, row ? _mm512_maskz_loadu_ps(low, a.at(i, 0)) : _mm512_setzero_ps());
      _mm512_store_ps(stage + i * 32 + 16, row ? _mm512_maskz_loadu_ps(high, a.at(i, 16)) : _mm512_setzero_ps());
    }
  } else if (a.row_stride == 1) {  // columns contiguous (dy^T of dy^T x): transposed 16 depths at a time
    transposed_block(a.at(0, 0), a.col_stride, std::min(depth, 16), rows, stage, 32);
    transposed_block(a.at(0, 16), a.col_stride, std::max(depth - 16, 0), rows, stage + 16, 32);
  } else {
    for (int i = 0; i < 16; ++i)
      for (int k = 0; k < 32; ++k) stage[i * 32 + k] = i < rows && k < depth ? a.value(i, k) : 0.f;
  }
}

// B's depths [0, depth) (<= 32) x columns [0, cols) (<= 16) -> stage [32][16], zero-padded
MF_AMX_TARGET static void stage_b(View b, int depth, int cols, float *stage) {
  if (b.col_stride == 1) {  // rows contiguous (dy W, dy^T x)
    const __mmask16 mask = __mmask16((1u << cols) - 1);
    for (int k = 0; k < 32; ++k)
      _mm512_store_ps(stage + k * 16, k < depth ? _mm512_maskz_loadu_ps(mask, b.at(k, 0)) : _mm512_setzero_ps());
  } else if (b.row_stride == 1) {  // columns contiguous (W^T of x W^T): transposed 16 depths at a time
    transposed_block(b.at(0, 0), b.col_stride, cols, std::min(depth, 16), stage, 16);
    transposed_block(b.at(16, 0), b.col_stride, cols, std::max(depth - 16, 0), stage + 16 * 16, 16);
  } else {
    for (int k = 0; k < 32; ++k)
      for (int j = 0; j < 16; ++j) stage[k * 16 + j] = k < depth && j < cols ? b.value(k, j) : 0.f;
  }
}

// c [32 x 32] (row stride ldc) = or += the panels' product over `steps` steps: the six piece products in turn, each
// as 2 x 2 tile products (tmm0-3 += A half x B half)
MF_AMX_TARGET static void multiply_tile(int steps, const uint16_t *a, const uint16_t *b, float *c, int64_t ldc,
                                        bool accumulate) {
  const int64_t stride = ldc * int64_t(sizeof(float));
  for (int i = 0; i < kTile; ++i) {  // C's lines on their way while the tile is multiplied (LM head: 8% faster)
    __builtin_prefetch(c + i * ldc, 1);
    __builtin_prefetch(c + i * ldc + 16, 1);
  }
  if (accumulate) {
    _tile_loadd(0, c, stride);
    _tile_loadd(1, c + 16, stride);
    _tile_loadd(2, c + 16 * ldc, stride);
    _tile_loadd(3, c + 16 * ldc + 16, stride);
  } else {
    _tile_zero(0);
    _tile_zero(1);
    _tile_zero(2);
    _tile_zero(3);
  }
  // (GCC's tile intrinsics are statements, with the tile numbers immediates: hence macros)
#define MF_AMX_A(piece) { _tile_loadd(4, a + (piece) * 2 * kHalf, 64); _tile_loadd(5, a + (piece) * 2 * kHalf + kHalf, 64); }
#define MF_AMX_B(piece) { _tile_loadd(6, b + (piece) * 2 * kHalf, 64); _tile_loadd(7, b + (piece) * 2 * kHalf + kHalf, 64); }
#define MF_AMX_2X2 { _tile_dpbf16ps(0, 4, 6); _tile_dpbf16ps(1, 4, 7); _tile_dpbf16ps(2, 5, 6); _tile_dpbf16ps(3, 5, 7); }
  for (int s = 0; s < steps; ++s, a += kStepBf16, b += kStepBf16) {
    MF_AMX_A(0) MF_AMX_B(0) MF_AMX_2X2  // h.h
    MF_AMX_B(1) MF_AMX_2X2              // h.m
    MF_AMX_B(2) MF_AMX_2X2              // h.l
    MF_AMX_A(1) MF_AMX_B(0) MF_AMX_2X2  // m.h
    MF_AMX_B(1) MF_AMX_2X2              // m.m
    MF_AMX_A(2) MF_AMX_B(0) MF_AMX_2X2  // l.h
  }
#undef MF_AMX_A
#undef MF_AMX_B
#undef MF_AMX_2X2
  _tile_stored(0, c, stride);
  _tile_stored(1, c + 16, stride);
  _tile_stored(2, c + 16 * ldc, stride);
  _tile_stored(3, c + 16 * ldc + 16, stride);
}

// c [32 x 32] (row stride 32) = a's panel (three pieces, as above) x b's panel of one piece per step ([half][16][32]
// bf16: weight-only int8 values, exact in bfloat16): three piece products as 2 x 2 tile products
MF_AMX_TARGET static void multiply_tile_one_piece_b(int steps, const uint16_t *a, const uint16_t *b, float *c) {
  _tile_zero(0);
  _tile_zero(1);
  _tile_zero(2);
  _tile_zero(3);
  for (int s = 0; s < steps; ++s, a += kStepBf16, b += 2 * kHalf) {
    _tile_loadd(6, b, 64);
    _tile_loadd(7, b + kHalf, 64);
#define MF_AMX_PIECE(piece)                                                                        \
  {                                                                                                \
    _tile_loadd(4, a + (piece) * 2 * kHalf, 64);                                                   \
    _tile_loadd(5, a + (piece) * 2 * kHalf + kHalf, 64);                                           \
    _tile_dpbf16ps(0, 4, 6); _tile_dpbf16ps(1, 4, 7); _tile_dpbf16ps(2, 5, 6); _tile_dpbf16ps(3, 5, 7); \
  }
    MF_AMX_PIECE(0)
    MF_AMX_PIECE(1)
    MF_AMX_PIECE(2)
#undef MF_AMX_PIECE
  }
  _tile_stored(0, c, 32 * sizeof(float));
  _tile_stored(1, c + 16, 32 * sizeof(float));
  _tile_stored(2, c + 16 * 32, 32 * sizeof(float));
  _tile_stored(3, c + 16 * 32 + 16, 32 * sizeof(float));
}

// 16 columns of int8 weights (column j: w_rows + j * row_length, `depth` <= 32 values from it; `cols` of the 16 read,
// the rest 0) -> one B half of a step in AMX's pair layout: each weight as bfloat16 (exact: |w| <= 127)
MF_AMX_TARGET static void convert_int8_half(const int8_t *w_rows, int64_t row_length, int depth, int cols,
                                            uint16_t *out) {
  __m512 r[16];
  const __mmask32 mask = depth >= 32 ? ~__mmask32(0) : __mmask32((1u << depth) - 1);
  for (int j = 0; j < 16; ++j) {
    if (j >= cols) {
      r[j] = _mm512_setzero_ps();
      continue;
    }
    const __m256i bytes = _mm256_maskz_loadu_epi8(mask, w_rows + j * row_length);
    const __m512 first = _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm256_castsi256_si128(bytes)));
    const __m512 second = _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm256_extracti128_si256(bytes, 1)));
    r[j] = _mm512_castsi512_ps(__m512i(_mm512_cvtne2ps_pbh(second, first)));  // 16 (even, odd) depth pairs
  }
  transpose16(r);  // [column][pair] -> [pair][column]
  for (int p = 0; p < 16; ++p) _mm512_store_ps(reinterpret_cast<float *>(out + p * 32), r[p]);
}

MF_AMX_TARGET static void configure_tiles() {
  alignas(64) uint8_t config[64] = {};
  config[0] = 1;  // palette 1: eight tiles of up to 16 rows x 64 bytes
  for (int t = 0; t < 8; ++t) {
    config[16 + 2 * t] = 64;  // bytes per row
    config[48 + t] = 16;      // rows
  }
  // not _tile_loadconfig: GCC 12 does not know that it reads the buffer, and dropped the stores filling it
  asm volatile("ldtilecfg %0" : : "m"(*reinterpret_cast<const uint8_t(*)[64]>(config)));
}

MF_AMX_TARGET static void release_tiles() { _tile_release(); }

// AMX with bfloat16 on this CPU, allowed by the kernel (Linux gives a process the tile registers only when asked),
// and not turned off with MF_GEMM=fp32
static bool usable() {
  static const bool answer = [] {
    const char *choice = std::getenv("MF_GEMM");
    if (choice && std::strcmp(choice, "fp32") == 0) return false;
    unsigned eax, ebx, ecx, edx;
    if (!__get_cpuid_count(7, 0, &eax, &ebx, &ecx, &edx)) return false;
    const bool tiles = edx & (1u << 24), bf16 = edx & (1u << 22);
    const bool avx512bw = ebx & (1u << 30), avx512vl = ebx & (1u << 31);
    if (!(tiles && bf16 && avx512bw && avx512vl)) return false;
    if (!__get_cpuid_count(7, 1, &eax, &ebx, &ecx, &edx) || !(eax & (1u << 5))) return false;  // AVX512_BF16
    constexpr int kRequestPermission = 0x1023, kTileData = 18;  // ARCH_REQ_XCOMP_PERM, XFEATURE_XTILEDATA
    return syscall(SYS_arch_prctl, kRequestPermission, kTileData) == 0;
  }();
  return answer;
}
}  // namespace amx

struct AmxTiles {
  static constexpr int kTileRows = amx::kTile, kTileCols = amx::kTile;
  static constexpr int kDepth = 1024, kRowBlock = 4 * amx::kTile, kColumnBlock = 48 * amx::kTile;
  // three bf16 pieces of each value: 1.5 floats, over whole steps of depth
  static int64_t a_panel_floats(int depth) { return int64_t(kTileRows) * round_up(depth, amx::kStep) * 3 / 2; }
  static int64_t b_panel_floats(int depth) { return a_panel_floats(depth); }
  static void begin() { amx::configure_tiles(); }
  static void end() { amx::release_tiles(); }
  static void pack_b(View b, int depth, int cols, float *out, int first_panel, int last_panel) {
    alignas(64) float stage[32 * 16];
    for (int p = first_panel; p < last_panel; ++p) {
      uint16_t *panel = reinterpret_cast<uint16_t *>(out + p * b_panel_floats(depth));
      for (int k = 0; k < depth; k += amx::kStep, panel += amx::kStepBf16)
        for (int half = 0; half < 2; ++half) {
          const int j0 = p * kTileCols + half * 16;
          const int width = std::max(0, std::min(16, cols - j0)), height = std::min(amx::kStep, depth - k);
          amx::stage_b(b.block(k, j0), height, width, stage);
          amx::convert_b_half(stage, panel + half * amx::kHalf);
        }
    }
  }
  static void pack_a(View a, int rows, int depth, float *out) {
    alignas(64) float stage[16 * 32];
    for (int i0 = 0; i0 < rows; i0 += kTileRows) {
      uint16_t *panel = reinterpret_cast<uint16_t *>(out + (i0 / kTileRows) * a_panel_floats(depth));
      for (int k = 0; k < depth; k += amx::kStep, panel += amx::kStepBf16)
        for (int half = 0; half < 2; ++half) {
          const int first = i0 + half * 16;
          const int height = std::max(0, std::min(16, rows - first)), width = std::min(amx::kStep, depth - k);
          amx::stage_a(a.block(first, k), height, width, stage);
          amx::convert_a_half(stage, panel + half * amx::kHalf);
        }
    }
  }
  static void multiply(int rows, int cols, int depth, const float *a_panel, const float *b_panel, float *c,
                       int64_t ldc, bool accumulate) {
    const int steps = int(round_up(depth, amx::kStep) / amx::kStep);
    const uint16_t *a = reinterpret_cast<const uint16_t *>(a_panel), *b = reinterpret_cast<const uint16_t *>(b_panel);
    if (rows == kTileRows && cols == kTileCols) return amx::multiply_tile(steps, a, b, c, ldc, accumulate);
    alignas(64) float edge[kTileRows * kTileCols];  // the last rows or columns: via a whole tile
    if (accumulate)
      for (int i = 0; i < rows; ++i)
        for (int j = 0; j < cols; ++j) edge[i * kTileCols + j] = c[i * ldc + j];
    amx::multiply_tile(steps, a, b, edge, kTileCols, accumulate);
    for (int i = 0; i < rows; ++i)
      for (int j = 0; j < cols; ++j) c[i * ldc + j] = edge[i * kTileCols + j];
  }
};

// Weight-only int8 (prefill of a quantised model): B = (w * scale)^T. Each weight is exact in bfloat16, so B is one
// piece and the product three (x's pieces times w); the column's scale multiplies the sum, as the float32 kernel's
// dequantised weights do term by term. A panel as AmxTiles packs it; B's: per step [half][16][32] bf16, then the
// panel's 32 scales.
struct AmxInt8Tiles {
  static constexpr int kTileRows = amx::kTile, kTileCols = amx::kTile;
  static constexpr int kDepth = AmxTiles::kDepth, kRowBlock = AmxTiles::kRowBlock;
  static constexpr int kColumnBlock = AmxTiles::kColumnBlock;
  static int64_t a_panel_floats(int depth) { return AmxTiles::a_panel_floats(depth); }
  static int64_t b_panel_floats(int depth) { return int64_t(kTileCols) * round_up(depth, amx::kStep) / 2 + kTileCols; }
  static void begin() { amx::configure_tiles(); }
  static void end() { amx::release_tiles(); }
  static void pack_a(View a, int rows, int depth, float *out) { AmxTiles::pack_a(a, rows, depth, out); }
  static void pack_b(ScaledInt8Rows b, int depth, int cols, float *out, int first_panel, int last_panel) {
    for (int p = first_panel; p < last_panel; ++p) {
      float *panel_start = out + p * b_panel_floats(depth);
      uint16_t *panel = reinterpret_cast<uint16_t *>(panel_start);
      for (int k = 0; k < depth; k += amx::kStep, panel += 2 * amx::kHalf)
        for (int half = 0; half < 2; ++half) {
          const int j0 = p * kTileCols + half * 16;
          const int width = std::max(0, std::min(16, cols - j0)), height = std::min(amx::kStep, depth - k);
          amx::convert_int8_half(b.w + j0 * b.k + k, b.k, height, width, panel + half * amx::kHalf);
        }
      float *scales = panel_start + b_panel_floats(depth) - kTileCols;
      for (int j = 0; j < kTileCols; ++j) scales[j] = p * kTileCols + j < cols ? b.scale[p * kTileCols + j] : 0.f;
    }
  }
  static void multiply(int rows, int cols, int depth, const float *a_panel, const float *b_panel, float *c,
                       int64_t ldc, bool accumulate) {
    const int steps = int(round_up(depth, amx::kStep) / amx::kStep);
    const float *scales = b_panel + b_panel_floats(depth) - kTileCols;
    alignas(64) float sums[kTileRows * kTileCols];
    amx::multiply_tile_one_piece_b(steps, reinterpret_cast<const uint16_t *>(a_panel),
                                   reinterpret_cast<const uint16_t *>(b_panel), sums);
    for (int i = 0; i < rows; ++i) {
      float *row = c + i * ldc;
      const float *sum = sums + i * kTileCols;
#pragma omp simd
      for (int j = 0; j < cols; ++j) row[j] = (accumulate ? row[j] : 0.f) + sum[j] * scales[j];
    }
  }
};
#endif  // MF_AMX

// c [m, n] (row stride ldc) = a [m, depth] b [depth, n] (+ bias [n] on every row when given) with the tiles of
// Tiles; b a View or ScaledInt8Rows
template <class Tiles, class Source>
static void product_with(int64_t m, int64_t n, int64_t depth, View a, Source b, float *c, int64_t ldc,
                         const float *bias) {
  constexpr int kTileRows = Tiles::kTileRows, kTileCols = Tiles::kTileCols;
  constexpr int kRowBlock = Tiles::kRowBlock, kColumnBlock = Tiles::kColumnBlock;
  const int kc_max = int(std::min<int64_t>(depth, Tiles::kDepth));
  const int nc_max = int(std::min<int64_t>(round_up(n, kTileCols), kColumnBlock));
  const int64_t b_block_floats = int64_t(nc_max / kTileCols) * Tiles::b_panel_floats(kc_max);
  const int64_t a_panel_floats = Tiles::a_panel_floats(kc_max);
  // B's two blocks belong to the calling thread: MindSpore may run two products at once on different threads
  static thread_local std::vector<float> b_store;
  float *b_blocks = aligned(b_store, 2 * b_block_floats);
  const int64_t steps = (depth + kc_max - 1) / kc_max;
  static const Tuning tuning = tuning_for_this_cpu();
#pragma omp parallel
  {
    Tiles::begin();
    const int t = omp_get_thread_num(), threads = omp_get_num_threads();
    const int64_t tiles = (m + kTileRows - 1) / kTileRows;
    // Few rows (a short prompt's prefill, a small batch): threads split B's panels instead of A's rows, each
    // packing and using only its own panels (so no barrier), all of A's rows each. Split by rows, a thread
    // could get one tile of 14 rows and the other two. (The threshold counts float32 tiles, whichever kind runs.)
    // (many threads splitting columns would each pack all of A: those form a grid below instead)
    const int split_below = threads <= 3 ? tuning.split_columns_below : kSplitColumnsBelow;
    const bool split_columns = m < int64_t(split_below) * threads * dense::kTileRows;
    // Many threads (more than the two CI's machines have): a grid of row groups x column groups, about square,
    // so that each thread reads only its group's share of B's block from the shared cache, not all of it (with
    // 16 threads splitting rows alone, every thread streamed the whole 6 MB block once per row block). The
    // threads of a row group each pack its rows of A, so only where A is small enough to be read again from the
    // cache: GPT-2's layers 10-15% faster on 16 and 8 Intel cores; its LM head's gradients, with A 200 MB deep,
    // 10-15% slower.
    int column_groups = split_columns ? threads : 1;
    if (!split_columns && m * depth * int64_t(sizeof(float)) <= kGridKeepsABelow)
      for (int g = 2; g * g <= threads; ++g)
        if (threads % g == 0) column_groups = g;
    const int row_groups = threads / column_groups, row_group = t / column_groups;
    const int column_group = t % column_groups;
    const int64_t first_row = std::min(m, tiles * row_group / row_groups * kTileRows);
    const int64_t last_row = std::min(m, tiles * (row_group + 1) / row_groups * kTileRows);
    const int64_t my_tiles = (last_row - first_row + kTileRows - 1) / kTileRows;
    // several column blocks (the LM head's x W^T): pack each of A's blocks once and keep it for the next ones
    const bool keep_a = n > kColumnBlock && my_tiles * kTileRows * depth * int64_t(sizeof(float)) <= kKeptA;
    static thread_local std::vector<float> a_store;
    // Split by columns, no thread reads another's panels and nothing waits at a barrier, so a thread may run
    // blocks ahead: in the caller's double buffer it would then overwrite panels that a slower thread is still
    // multiplying (a later block's panels sit elsewhere when its depth or width differs; found as one wrong
    // tile in 80000 values on a 2-core Intel). Each thread packs into a buffer of its own instead.
    static thread_local std::vector<float> own_b_store;
    float *own_b_block = row_groups == 1 && threads > 1 ? aligned(own_b_store, b_block_floats) : nullptr;
    float *a_blocks = aligned(a_store, keep_a ? my_tiles * a_panel_floats * steps
                                              : int64_t(kRowBlock / kTileRows) * a_panel_floats);
    int64_t block = 0;
    for (int64_t jc = 0; jc < n; jc += kColumnBlock) {
      const int nc = int(std::min<int64_t>(kColumnBlock, n - jc));
      const int panels = (nc + kTileCols - 1) / kTileCols;
      for (int64_t s = 0; s < steps; ++s, ++block) {
        const int64_t pc = s * kc_max;
        const int kc = int(std::min<int64_t>(kc_max, depth - pc));
        float *b_block = own_b_block ? own_b_block : b_blocks + (block & 1) * b_block_floats;
        const int my_first_panel = panels * t / threads, my_last_panel = panels * (t + 1) / threads;
        Tiles::pack_b(b.block(pc, jc), kc, nc, b_block, my_first_panel, my_last_panel);
        if (row_groups > 1) {  // threads use panels that others packed
#pragma omp barrier
        }
        const int first_panel = panels * column_group / column_groups;
        const int last_panel = panels * (column_group + 1) / column_groups;
        for (int64_t ic = first_row; ic < last_row; ic += kRowBlock) {
          const int mc = int(std::min<int64_t>(kRowBlock, last_row - ic));
          float *a_block = keep_a ? a_blocks + (s * my_tiles + (ic - first_row) / kTileRows) * a_panel_floats
                                  : a_blocks;
          if (!keep_a || jc == 0) Tiles::pack_a(a.block(ic, pc), mc, kc, a_block);
          for (int p = first_panel; p < last_panel; ++p) {
            const int j0 = p * kTileCols, width = std::min(kTileCols, nc - j0);
            const float *b_panel = b_block + int64_t(p) * Tiles::b_panel_floats(kc);
            for (int i0 = 0; i0 < mc; i0 += kTileRows) {
              const int height = std::min(kTileRows, mc - i0);
              const float *a_panel = a_block + int64_t(i0 / kTileRows) * Tiles::a_panel_floats(kc);
              float *out = c + (ic + i0) * ldc + jc + j0;
              Tiles::multiply(height, width, kc, a_panel, b_panel, out, ldc, pc > 0);
              if (bias && pc + kc == depth) add_bias(out, ldc, height, width, bias + jc + j0);
            }
          }
        }
      }
    }
    Tiles::end();
  }
}

// c [m, n] (row stride ldc) = a [m, depth] b [depth, n] (+ bias [n] on every row when given); b a View or
// ScaledInt8Rows. Float32 operands go through AMX where the CPU has it (see AmxTiles), the rest through the
// float32 micro-kernel.
template <class Source>
static void product(int64_t m, int64_t n, int64_t depth, View a, Source b, float *c, int64_t ldc,
                    const float *bias = nullptr) {
  if (m == 0 || n == 0) return;
  if (depth == 0) {
    for (int64_t i = 0; i < m; ++i)
      for (int64_t j = 0; j < n; ++j) c[i * ldc + j] = bias ? bias[j] : 0.f;
    return;
  }
#if MF_AMX
  // AMX where there is enough to do per packed value: its packing costs more than the float32 kernel's (three
  // bfloat16 per value) and its tiles' stores do too, so it needs rows and columns to reuse each packed value and
  // depth behind each store. Measured on the 2-core Xeon: a 17-row prompt's LM head (17 x 576 x 49152) took 15 ms
  // on AMX against 8 ms, a depth of 64 (llama_tiny's LM head) 31 against 17 ms; from 96 rows, 64 columns and a
  // depth of 128 AMX was as fast or faster (GPT-2 small's products 1.3-1.5x).
  if (m >= 96 && n >= 64 && depth >= 128 && amx::usable()) {
    if constexpr (std::is_same_v<Source, View>) return product_with<AmxTiles>(m, n, depth, a, b, c, ldc, bias);
    else return product_with<AmxInt8Tiles>(m, n, depth, a, b, c, ldc, bias);
  }
#endif
  product_with<Fp32Tiles>(m, n, depth, a, b, c, ldc, bias);
}
}  // namespace dense
}  // extern "C++"

// What float32 products of more than a few rows run on: "amx-bf16x6" (AMX, see AmxTiles) or "fp32" (the float32
// micro-kernel); mf.kernels.gemm_kind() reads it through ctypes
const char *MfGemmKind() {
#if MF_AMX
  if (dense::amx::usable()) return "amx-bf16x6";
#endif
  return "fp32";
}

// y [M, N] = x [M, K] W^T (+ b [N] when bias is given), W [N, K] (a Linear's forward); x's leading dimensions are
// rows. W is float32 (params[1]), or int8 with a scale per row (params[1], params[2]) for weight-only int8 with
// many rows (prefill)
static void linear_product(void **params, int *ndims, int64_t **shapes, bool int8_weights, const float *bias,
                           float *y) {
  int64_t m, k;
  rows_cols(ndims[0], shapes[0], &m, &k);
  const int64_t n = shapes[1][0];
  const dense::View x{static_cast<const float *>(params[0]), k, 1};
  if (int8_weights) {
    const dense::ScaledInt8Rows w{static_cast<const int8_t *>(params[1]), static_cast<const float *>(params[2]), k};
    dense::product(m, n, k, x, w, y, n, bias);
  } else {
    dense::product(m, n, k, x, dense::View{static_cast<const float *>(params[1]), 1, k}, y, n, bias);
  }
}

// in: x, W; out: y
int MatMulNT(int, void **params, int *ndims, int64_t **shapes, const char **, void *, void *) {
  linear_product(params, ndims, shapes, false, nullptr, static_cast<float *>(params[2]));
  return 0;
}

// in: x, W, b; out: y
int MatMulNTBias(int, void **params, int *ndims, int64_t **shapes, const char **, void *, void *) {
  linear_product(params, ndims, shapes, false, static_cast<const float *>(params[2]), static_cast<float *>(params[3]));
  return 0;
}

// in: x, w int8, scale; out: y
int MatMulNTInt8(int, void **params, int *ndims, int64_t **shapes, const char **, void *, void *) {
  linear_product(params, ndims, shapes, true, nullptr, static_cast<float *>(params[3]));
  return 0;
}

// in: x, w int8, scale, b; out: y
int MatMulNTInt8Bias(int, void **params, int *ndims, int64_t **shapes, const char **, void *, void *) {
  linear_product(params, ndims, shapes, true, static_cast<const float *>(params[3]), static_cast<float *>(params[4]));
  return 0;
}

// dx [M, K] = dy [M, N] W, W [N, K] (a Linear's input gradient)
int MatMulNN(int, void **params, int *ndims, int64_t **shapes, const char **, void *, void *) {
  int64_t m, n;
  rows_cols(ndims[0], shapes[0], &m, &n);
  const int64_t k = shapes[1][1];
  const float *dy = static_cast<const float *>(params[0]), *w = static_cast<const float *>(params[1]);
  dense::product(m, k, n, dense::View{dy, n, 1}, dense::View{w, k, 1}, static_cast<float *>(params[2]), k);
  return 0;
}

// dW [N, K] = dy [M, N]^T x [M, K] (a Linear's weight gradient)
int MatMulTN(int, void **params, int *ndims, int64_t **shapes, const char **, void *, void *) {
  int64_t m, n, k;
  rows_cols(ndims[0], shapes[0], &m, &n);
  rows_cols(ndims[1], shapes[1], &m, &k);
  const float *dy = static_cast<const float *>(params[0]), *x = static_cast<const float *>(params[1]);
  dense::product(n, k, m, dense::View{dy, 1, n}, dense::View{x, k, 1}, static_cast<float *>(params[2]), k);
  return 0;
}

// ---- x W^T for a few rows (decoding) ------------------------------------------------------
// in: x [M, K], w [N, K]; out: y [M, N]. Each weight row is read once from memory and used for
// all M rows of x, so the cost is one pass over the weights: decoding is bandwidth-bound.
static void small_matmul_f32(const float *x, const float *w, float *y, int64_t m, int64_t k, int64_t n) {
  const int64_t blocks = (n + 3) / 4;
  // four weight rows at a time: four independent accumulators keep the FMA units busy
#pragma omp parallel for schedule(static)
  for (int64_t b = 0; b < blocks; ++b) {
    const int64_t j = b * 4;
    if (j + 4 <= n) {
      const float *w0 = w + j * k, *w1 = w0 + k, *w2 = w1 + k, *w3 = w2 + k;
      for (int64_t i = 0; i < m; ++i) {
        const float *xr = x + i * k;
        float a0 = 0.f, a1 = 0.f, a2 = 0.f, a3 = 0.f;
#pragma omp simd reduction(+ : a0, a1, a2, a3)
        for (int64_t t = 0; t < k; ++t) {
          a0 += xr[t] * w0[t];
          a1 += xr[t] * w1[t];
          a2 += xr[t] * w2[t];
          a3 += xr[t] * w3[t];
        }
        float *yr = y + i * n + j;
        yr[0] = a0; yr[1] = a1; yr[2] = a2; yr[3] = a3;
      }
    } else {
      for (int64_t jj = j; jj < n; ++jj) {
        const float *wr = w + jj * k;
        for (int64_t i = 0; i < m; ++i) {
          const float *xr = x + i * k;
          float acc = 0.f;
#pragma omp simd reduction(+ : acc)
          for (int64_t t = 0; t < k; ++t) acc += xr[t] * wr[t];
          y[i * n + jj] = acc;
        }
      }
    }
  }
}

int SmallMatMul(int, void **params, int *ndims, int64_t **shapes, const char **, void *, void *) {
  small_matmul_f32(static_cast<const float *>(params[0]), static_cast<const float *>(params[1]),
                   static_cast<float *>(params[2]), shapes[0][0], shapes[0][1], shapes[1][0]);
  return 0;
}

// ---- x W^T with int8 weights (weight-only quantised decoding) -------------------------------
// in: x [M, K] float32, w [N, K] int8, scale [N] float32; out: y [M, N] = (x . w_n) * scale_n (+ bias_n).
// The same one pass over the weights as SmallMatMul, at a quarter of the bytes. Each row of x is rounded to
// 16 bits as the product runs (s_i = max |x_i| / 32767, q = round(x_i / s_i)) and multiplied with exact integer
// sums: y = (sum_t q_t w_t) * s_i * scale_n. 16-bit activations lose at most 1.5e-5 of a row's largest value
// (int8 activations lose 1/254 of it, which costs dynamic int8 4% perplexity; this costs nothing measurable),
// and in exchange one AVX-512 VNNI vpdpwssd makes 32 products where an fp32 FMA on widened weights made 16,
// with the weights widened once (int8 -> int16) instead of twice (-> int32 -> float). Measured on 2 cores
// (AMD EPYC, Zen 5), SmolLM2-135M's products per decoded token at 8 rows: 12.1 ms with fp32 FMAs, 7.2 ms so.
// Exact integer sums also make a row's result the same whatever else is in the batch, and on any CPU (the
// loops without AVX-512 compute the same sums).
// An int32 lane takes 2 of every 32 columns' products, each at most 32767 * 127: over kInt16Columns = 2048
// columns a lane holds at most 128 of them (5.3e8), and the sum of four lanes at most 2.13e9 < 2^31; the
// reduction adds four lanes in int32, the rest in int64, and longer rows add several such sums in int64.
// With only the hardware prefetcher the short int8 rows stream at half the memory bandwidth, so each block
// prefetches the one kPrefetchBlocks ahead (117M weights: 8.5 -> 5.5 ms; fp32 takes 15 ms).
constexpr int64_t kPrefetchBlocks = 4;
constexpr int64_t kInt16Columns = 2048;

// Where L1 holds 32 KB (AMD's Zen 4), the blocks ahead go to L2 only: prefetched into L1 they evicted the
// rounded rows of x and the block in use (8 rows of a 1536-wide x are 24 KB), and the prefetches themselves
// stalled waiting for L1's miss buffers. SmolLM2-135M, int8, 128 decoded tokens on 2 Zen 4 cores: 3.2-3.6 ->
// 2.9-3.1 s at 8 rows, 1.6-1.8 -> 1.4-1.6 s at 1. The 48 KB L1s it was tuned on (Zen 5, Sapphire Rapids) keep
// prefetching into L1, as measured there.
static bool prefetch_weights_to_l2() {
  static const bool small_l1 = [] {
#ifdef _SC_LEVEL1_DCACHE_SIZE  // glibc's
    const long bytes = sysconf(_SC_LEVEL1_DCACHE_SIZE);  // 0 or -1 where it cannot tell
    return bytes > 0 && bytes <= 32 * 1024;
#else
    return false;
#endif
  }();
  return small_l1;
}

// the int8 product kernels walk the weights four rows at a time: fetch the block kPrefetchBlocks ahead.
// always_inline because GCC 12 treats a prefetch as free of side effects: a helper with several callers that
// is not inlined early is judged to do nothing, and its calls are deleted (the product kernels then streamed
// without prefetch; `objdump -d` of the library shows no prefetcht0).
__attribute__((always_inline)) static inline void prefetch_rows_ahead(const int8_t *w, int64_t j, int64_t k,
                                                                      int64_t n, bool to_l2) {
  if (j + (kPrefetchBlocks + 1) * 4 > n) return;
  const char *ahead = reinterpret_cast<const char *>(w + (j + kPrefetchBlocks * 4) * k);
  if (to_l2)
    for (int64_t p = 0; p < 4 * k; p += 64) __builtin_prefetch(ahead + p, 0, 2);
  else
    for (int64_t p = 0; p < 4 * k; p += 64) __builtin_prefetch(ahead + p);
}

// q [m, ld] (ld >= k; the columns past k are 0) and row_scale [m]
// max |x| over a row, or NaN when the row holds a NaN or an infinity. The quantised kernels then give that row
// NaN products, as the float32 product would, instead of whatever finite integers a non-finite value rounds to.
static float row_peak(const float *xr, int64_t k) {
  float peak = 0.f;
  int non_finite = 0;
#pragma omp simd reduction(max : peak) reduction(| : non_finite)
  for (int64_t t = 0; t < k; ++t) {
    peak = std::max(peak, std::fabs(xr[t]));
    non_finite |= !std::isfinite(xr[t]);
  }
  return non_finite ? std::numeric_limits<float>::quiet_NaN() : peak;
}

static void quantize_rows_int16(const float *x, int64_t m, int64_t k, int64_t ld, int16_t *q, float *row_scale) {
  for (int64_t i = 0; i < m; ++i) {
    const float *xr = x + i * k;
    const float peak = row_peak(xr, k);
    if (std::isnan(peak)) {  // all-zero integers, NaN scale: NaN products
      row_scale[i] = peak;
      std::fill(q + i * ld, q + (i + 1) * ld, int16_t(0));
      continue;
    }
    row_scale[i] = peak > 0.f ? peak / 32767.f : 1.f;
    // x * 32767 / peak in double: float32's last bit would decide between two roundings of one value in 300
    // (numpy gets the same q from the same double arithmetic)
    const double inverse = peak > 0.f ? 32767.0 / peak : 1.0;
    int16_t *qr = q + i * ld;
#pragma omp simd
    for (int64_t t = 0; t < k; ++t)
      qr[t] = static_cast<int16_t>(std::min(32767.0, std::max(-32767.0, std::nearbyint(xr[t] * inverse))));
    std::fill(qr + k, qr + ld, int16_t(0));
  }
}

#if defined(__AVX512BW__)
// the sums of four int32 vectors as int64 [sum a, sum b, sum c, sum d] (fewer shuffles than four reductions):
// lanes are added in int32 four at a time (which cannot overflow for kInt16Columns columns of the int16 x int8
// products, nor for the u8 x s8 ones of rows under ~100k columns), then in int64
static inline __m256i sum4_epi32_as_epi64(__m512i a, __m512i b, __m512i c, __m512i d) {
  const __m512i ab = _mm512_add_epi32(_mm512_unpacklo_epi32(a, b), _mm512_unpackhi_epi32(a, b));
  const __m512i cd = _mm512_add_epi32(_mm512_unpacklo_epi32(c, d), _mm512_unpackhi_epi32(c, d));
  const __m512i abcd = _mm512_add_epi32(_mm512_unpacklo_epi64(ab, cd), _mm512_unpackhi_epi64(ab, cd));
  // each 128-bit lane holds partial [a, b, c, d]: widen to int64 and add the four lanes
  const __m512i low = _mm512_cvtepi32_epi64(_mm512_castsi512_si256(abcd));
  const __m512i high = _mm512_cvtepi32_epi64(_mm512_extracti64x4_epi64(abcd, 1));
  const __m512i half = _mm512_add_epi64(low, high);
  return _mm256_add_epi64(_mm512_castsi512_si256(half), _mm512_extracti64x4_epi64(half, 1));
}

// acc + the sums of adjacent pairs of 16-bit products a * b, in 32-bit lanes
static inline __m512i add_pair_products(__m512i acc, __m512i a, __m512i b) {
#if defined(__AVX512VNNI__)
  // in place through asm: GCC's intrinsic copied each accumulator to another register and back around every
  // vpdpwssd (and spilled two to the stack), which left SmolLM2's products at 8 rows at a third of VNNI's rate
  asm("vpdpwssd %2, %1, %0" : "+v"(acc) : "v"(a), "v"(b));
  return acc;
#else
  return _mm512_add_epi32(acc, _mm512_madd_epi16(a, b));
#endif
}

// sums [kRows][4] += q's rows (stride ld) . the weight rows wr[0..3] over columns [from, to), with from a multiple
// of 32 and to - from <= kInt16Columns; weight columns past k are masked off (q's are zero). A template over the
// row count (so each count's loops unroll), hence C++ linkage inside this file's extern "C" block.
extern "C++" {
template <int kRows>
static inline void int16_products(const int16_t *q, int64_t ld, const int8_t *const *wr, int64_t k, int64_t from,
                                  int64_t to, int64_t (*sums)[4]) {
  __m512i acc[kRows][4];
  for (int r = 0; r < kRows; ++r)
    for (int c = 0; c < 4; ++c) acc[r][c] = _mm512_setzero_si512();
  // The full 32-column steps, then the row's masked end as a step of its own, so that the hot loop has no
  // masked loads nor a branch between the two kinds (the accumulators' register copies were the intrinsic's:
  // see add_pair_products).
  int64_t t = from;
  for (; t + 32 <= to; t += 32) {
    __m512i wv[4];
    for (int c = 0; c < 4; ++c)
      wv[c] = _mm512_cvtepi8_epi16(_mm256_loadu_si256(reinterpret_cast<const __m256i *>(wr[c] + t)));
    for (int r = 0; r < kRows; ++r) {
      const __m512i xv = _mm512_loadu_si512(q + r * ld + t);
      for (int c = 0; c < 4; ++c) acc[r][c] = add_pair_products(acc[r][c], xv, wv[c]);
    }
  }
  if (t < to) {  // to == k here: the weight columns past k are masked off (q's are zero)
    const __mmask32 mask = (__mmask32(1) << (k - t)) - 1;
    __m512i wv[4];
    for (int c = 0; c < 4; ++c) wv[c] = _mm512_cvtepi8_epi16(_mm256_maskz_loadu_epi8(mask, wr[c] + t));
    for (int r = 0; r < kRows; ++r) {
      const __m512i xv = _mm512_loadu_si512(q + r * ld + t);
      for (int c = 0; c < 4; ++c) acc[r][c] = add_pair_products(acc[r][c], xv, wv[c]);
    }
  }
  for (int r = 0; r < kRows; ++r) {
    alignas(32) int64_t part[4];
    _mm256_store_si256(reinterpret_cast<__m256i *>(part),
                       sum4_epi32_as_epi64(acc[r][0], acc[r][1], acc[r][2], acc[r][3]));
    for (int c = 0; c < 4; ++c) sums[r][c] += part[c];
  }
}
}  // extern "C++"
#endif

// bias (nullable) [N] is added to each output row: one kernel launch instead of two per Linear, which
// matters when decoding (~30 us per launch, four biased Linears per GPT-2 layer).
static void small_matmul_int8(const float *x, const int8_t *w, const float *scale, const float *bias, float *y,
                              int64_t m, int64_t k, int64_t n) {
  const int64_t ld = round_up(k, 32);
  std::vector<int16_t> q(m * ld);
  std::vector<float> row_scale(m);
  quantize_rows_int16(x, m, k, ld, q.data(), row_scale.data());
  // in double, so that the result does not depend on the order the compiler multiplies in (-ffast-math may
  // reorder): a row's result is then the same in any batch
  auto finish = [&](int64_t sum, int64_t i, int64_t j) {
    const float value = static_cast<float>(static_cast<double>(sum) * (static_cast<double>(row_scale[i]) * scale[j]));
    return bias ? value + bias[j] : value;
  };
  // y[i, j..j+3] from four sums: finish() four columns at once (the same double operations). Scalar, the finishes
  // cost as much as a tenth of the products at SmolLM2's 576-wide rows and 8 rows (9.5 -> 9.0 ms per step's products)
  [[maybe_unused]] auto finish_four = [&](const int64_t *sums, int64_t i, int64_t j) {
#if defined(__AVX512DQ__) && defined(__AVX512VL__)
    const __m256d scales = _mm256_mul_pd(_mm256_set1_pd(static_cast<double>(row_scale[i])),
                                         _mm256_cvtps_pd(_mm_loadu_ps(scale + j)));
    const __m256d totals = _mm256_cvtepi64_pd(_mm256_loadu_si256(reinterpret_cast<const __m256i *>(sums)));
    __m128 values = _mm256_cvtpd_ps(_mm256_mul_pd(totals, scales));
    if (bias) values = _mm_add_ps(values, _mm_loadu_ps(bias + j));
    _mm_storeu_ps(y + i * n + j, values);
#else
    for (int c = 0; c < 4; ++c) y[i * n + j + c] = finish(sums[c], i, j + c);
#endif
  };
  const int64_t blocks = (n + 3) / 4;
  const bool to_l2 = prefetch_weights_to_l2();
#pragma omp parallel for schedule(static)
  for (int64_t b = 0; b < blocks; ++b) {
    const int64_t j = b * 4;
    prefetch_rows_ahead(w, j, k, n, to_l2);
#if defined(__AVX512BW__)
    if (j + 4 <= n) {
      const int8_t *wr[4] = {w + j * k, w + (j + 1) * k, w + (j + 2) * k, w + (j + 3) * k};
      for (int64_t i = 0; i < m; i += 4) {  // up to four rows of x: each widened weight vector serves all
        const int rows = static_cast<int>(std::min<int64_t>(4, m - i));
        const int16_t *qi = q.data() + i * ld;
        int64_t sums[4][4] = {};
        for (int64_t from = 0; from < k; from += kInt16Columns) {
          const int64_t to = std::min(k, from + kInt16Columns);
          if (rows == 4) int16_products<4>(qi, ld, wr, k, from, to, sums);
          else if (rows == 3) int16_products<3>(qi, ld, wr, k, from, to, sums);
          else if (rows == 2) int16_products<2>(qi, ld, wr, k, from, to, sums);
          else int16_products<1>(qi, ld, wr, k, from, to, sums);
        }
        for (int r = 0; r < rows; ++r) finish_four(sums[r], i + r, j);
      }
      continue;
    }
#endif
    for (int64_t jj = j; jj < std::min(n, j + 4); ++jj) {
      const int8_t *wr = w + jj * k;
      for (int64_t i = 0; i < m; ++i) {
        const int16_t *qr = q.data() + i * ld;
        int64_t sum = 0;
        for (int64_t from = 0; from < k; from += 512) {  // 512 products fit an int32 sum (at most 2.13e9)
          const int64_t to = std::min(k, from + 512);
          int32_t part = 0;
#pragma omp simd reduction(+ : part)
          for (int64_t t = from; t < to; ++t) part += static_cast<int32_t>(qr[t]) * static_cast<int32_t>(wr[t]);
          sum += part;
        }
        y[i * n + jj] = finish(sum, i, jj);
      }
    }
  }
}

// ---- x W^T with int8 weights and int8 activations (dynamic quantisation) ------------------------
// Each row of x is quantised when the product runs: s_i = max |x_i| / 127, q = round(x / s_i) in
// [-127, 127]; the products are exact int32 sums, and y = (sum_t q_t w_t) * s_i * scale_n (+ bias_n).
// With AVX-512 VNNI one vpdpbusd multiplies 64 u8 x s8 pairs (4x the products of an fp32 FMA, and no
// widening of the weights): q goes in offset to u8 (q + 128) and 128 * sum_t w_t is taken off again.
// Without VNNI the same integer sums are computed by plain loops: the results are identical on any CPU.
// u = q + 128 as uint8 (what vpdpbusd multiplies: unsigned by signed)
static void quantize_activation_rows(const float *x, int64_t m, int64_t k, uint8_t *u, float *row_scale) {
  for (int64_t i = 0; i < m; ++i) {
    const float *xr = x + i * k;
    const float peak = row_peak(xr, k);
    if (std::isnan(peak)) {  // all-zero integers (u = 128), NaN scale: NaN products
      row_scale[i] = peak;
      std::fill(u + i * k, u + (i + 1) * k, uint8_t(128));
      continue;
    }
    const float s = peak > 0.f ? peak / 127.f : 1.f, inverse = 1.f / s;
    row_scale[i] = s;
#pragma omp simd
    for (int64_t t = 0; t < k; ++t) u[i * k + t] = static_cast<uint8_t>(std::nearbyint(xr[t] * inverse) + 128.f);
  }
}

#if defined(__AVX512VNNI__) && defined(__AVX512BW__)
static inline __mmask64 tail_mask(int64_t left) { return left >= 64 ? ~__mmask64(0) : (__mmask64(1) << left) - 1; }
#endif

#if defined(__AVX512VNNI__) && defined(__AVX512BW__)
// acc + the sums of four adjacent u8 x s8 products, in place (see add_pair_products: the intrinsic's copies)
static inline __m512i add_quad_products(__m512i acc, __m512i u, __m512i w) {
  asm("vpdpbusd %2, %1, %0" : "+v"(acc) : "v"(u), "v"(w));
  return acc;
}
#endif

static void small_matmul_w8a8(const float *x, const int8_t *w, const float *scale, const float *bias, float *y,
                              int64_t m, int64_t k, int64_t n) {
  std::vector<uint8_t> u(m * k);
  std::vector<float> row_scale(m);
  quantize_activation_rows(x, m, k, u.data(), row_scale.data());
  auto finish = [&](int64_t sum, int64_t i, int64_t j) {
    const float value = static_cast<float>(sum) * row_scale[i] * scale[j];
    return bias ? value + bias[j] : value;
  };
  const int64_t blocks = (n + 3) / 4;
  const bool to_l2 = prefetch_weights_to_l2();
#pragma omp parallel for schedule(static)
  for (int64_t b = 0; b < blocks; ++b) {
    const int64_t j = b * 4;
    prefetch_rows_ahead(w, j, k, n, to_l2);
    const int64_t width = std::min<int64_t>(4, n - j);
#if defined(__AVX512VNNI__) && defined(__AVX512BW__)
    if (width == 4) {
      const int8_t *wr[4] = {w + j * k, w + (j + 1) * k, w + (j + 2) * k, w + (j + 3) * k};
      // 128 * sum_t w_t per weight row: what the u8 offset added to every product's sum
      alignas(32) int64_t offset_sum[4];
      {
        const __m512i all_128 = _mm512_set1_epi8(static_cast<char>(0x80));
        __m512i acc[4] = {_mm512_setzero_si512(), _mm512_setzero_si512(), _mm512_setzero_si512(),
                          _mm512_setzero_si512()};
        for (int64_t t = 0; t < k; t += 64) {
          const __mmask64 mask = tail_mask(k - t);
          for (int c = 0; c < 4; ++c)
            acc[c] = add_quad_products(acc[c], all_128, _mm512_maskz_loadu_epi8(mask, wr[c] + t));
        }
        _mm256_store_si256(reinterpret_cast<__m256i *>(offset_sum), sum4_epi32_as_epi64(acc[0], acc[1], acc[2], acc[3]));
      }
      const int64_t full = k - k % 64;
      int64_t i = 0;
      for (; i < m; i += 4) {  // up to four rows of x: each weight vector serves all of them
        const int rows = static_cast<int>(std::min<int64_t>(4, m - i));
        const uint8_t *ur[4];
        for (int r = 0; r < 4; ++r) ur[r] = u.data() + (i + std::min(r, rows - 1)) * k;
        __m512i acc[4][4];
        for (int r = 0; r < 4; ++r)
          for (int c = 0; c < 4; ++c) acc[r][c] = _mm512_setzero_si512();
        auto step = [&](int64_t t, __mmask64 mask) {
          __m512i wv[4];
          for (int c = 0; c < 4; ++c) wv[c] = _mm512_maskz_loadu_epi8(mask, wr[c] + t);
          for (int r = 0; r < rows; ++r) {
            const __m512i uv = _mm512_maskz_loadu_epi8(mask, ur[r] + t);
            for (int c = 0; c < 4; ++c) acc[r][c] = add_quad_products(acc[r][c], uv, wv[c]);
          }
        };
        if (rows == 4) {
          for (int64_t t = 0; t < full; t += 64) {  // the hot loop, unmasked, the row count known
            __m512i wv[4];
            for (int c = 0; c < 4; ++c) wv[c] = _mm512_loadu_si512(wr[c] + t);
            for (int r = 0; r < 4; ++r) {
              const __m512i uv = _mm512_loadu_si512(ur[r] + t);
              for (int c = 0; c < 4; ++c) acc[r][c] = add_quad_products(acc[r][c], uv, wv[c]);
            }
          }
        } else {
          for (int64_t t = 0; t < full; t += 64) step(t, ~__mmask64(0));
        }
        if (full < k) step(full, tail_mask(k - full));
        for (int r = 0; r < rows; ++r) {
          alignas(32) int64_t sums[4];
          _mm256_store_si256(reinterpret_cast<__m256i *>(sums),
                             sum4_epi32_as_epi64(acc[r][0], acc[r][1], acc[r][2], acc[r][3]));
          for (int c = 0; c < 4; ++c)
            y[(i + r) * n + j + c] = finish(sums[c] - offset_sum[c], i + r, j + c);
        }
      }
      continue;
    }
#endif
    for (int64_t c = 0; c < width; ++c) {
      const int8_t *wr = w + (j + c) * k;
      for (int64_t i = 0; i < m; ++i) {
        const uint8_t *ur = u.data() + i * k;
        int32_t sum = 0;
#pragma omp simd reduction(+ : sum)
        for (int64_t t = 0; t < k; ++t) sum += (static_cast<int32_t>(ur[t]) - 128) * static_cast<int32_t>(wr[t]);
        y[i * n + j + c] = finish(sum, i, j + c);
      }
    }
  }
}

// The int8 products as Custom ops. in: x [..., K] (any leading dimensions: no reshapes around the call when
// decoding), w [N, K] int8, scale [N] float32, and for the Bias variants bias [N]; out: y [..., N] =
// (x . w_n) * scale_n (+ bias_n). Int8: weight-only (x stays float32); W8A8: dynamic int8.
static int int8_product(void **params, int *ndims, int64_t **shapes, bool dynamic, bool with_bias) {
  int64_t m, k;
  rows_cols(ndims[0], shapes[0], &m, &k);
  const float *bias = with_bias ? static_cast<const float *>(params[3]) : nullptr;
  float *y = static_cast<float *>(params[with_bias ? 4 : 3]);
  (dynamic ? small_matmul_w8a8 : small_matmul_int8)(static_cast<const float *>(params[0]),
                                                    static_cast<const int8_t *>(params[1]),
                                                    static_cast<const float *>(params[2]), bias, y, m, k,
                                                    shapes[1][0]);
  return 0;
}

int SmallMatMulInt8(int, void **params, int *ndims, int64_t **shapes, const char **, void *, void *) {
  return int8_product(params, ndims, shapes, false, false);
}

int SmallMatMulInt8Bias(int, void **params, int *ndims, int64_t **shapes, const char **, void *, void *) {
  return int8_product(params, ndims, shapes, false, true);
}

int SmallMatMulW8A8(int, void **params, int *ndims, int64_t **shapes, const char **, void *, void *) {
  return int8_product(params, ndims, shapes, true, false);
}

int SmallMatMulW8A8Bias(int, void **params, int *ndims, int64_t **shapes, const char **, void *, void *) {
  return int8_product(params, ndims, shapes, true, true);
}

// ---- bias ---------------------------------------------------------------------------
// in: x [R, H], bias [H]; out: x + bias
int BiasAddForward(int, void **params, int *ndims, int64_t **shapes, const char **, void *, void *) {
  const float *x = static_cast<const float *>(params[0]);
  const float *bias = static_cast<const float *>(params[1]);
  float *y = static_cast<float *>(params[2]);
  int64_t rows, h;
  rows_cols(ndims[0], shapes[0], &rows, &h);
#pragma omp parallel for schedule(static)
  for (int64_t r = 0; r < rows; ++r) {
#pragma omp simd
    for (int64_t i = 0; i < h; ++i) y[r * h + i] = x[r * h + i] + bias[i];
  }
  return 0;
}

// in: dy [R, H]; out: dbias [H] (the sum over rows)
int ColumnSum(int, void **params, int *ndims, int64_t **shapes, const char **, void *, void *) {
  int64_t rows, h;
  rows_cols(ndims[0], shapes[0], &rows, &h);
  column_sum(static_cast<const float *>(params[0]), rows, h, static_cast<float *>(params[1]));
  return 0;
}

// in: x (any shape); out: [1] sum of squares (for the global gradient norm)
int SumOfSquares(int, void **params, int *ndims, int64_t **shapes, const char **, void *, void *) {
  const float *x = static_cast<const float *>(params[0]);
  const int64_t n = numel(ndims[0], shapes[0]);
  // per-thread partial sums added in thread order, so the result does not vary between runs
  std::vector<double> partial(omp_get_max_threads(), 0.0);
#pragma omp parallel
  {
    double mine = 0.0;
#pragma omp for schedule(static)
    for (int64_t i = 0; i < n; ++i) mine += static_cast<double>(x[i]) * x[i];
    partial[omp_get_thread_num()] = mine;
  }
  double total = 0.0;
  for (double p : partial) total += p;
  *static_cast<float *>(params[1]) = static_cast<float>(total);
  return 0;
}

// ---- AdamW step (mf.trainer.optim.AdamW), in place -------------------------------------------
// in: param, m, v [any, same shape] (written in place), grad [same], settings [8]: learning rate, beta1, beta2,
// eps, keep (1 - lr * weight_decay for a decayed matrix, else 1), the gradient's clipping coefficient, and the
// bias corrections 1 - beta1^t, 1 - beta2^t; out: [1], a token the graph depends on. MindSpore's Adam after a
// decoupled decay (what mf's step computed with separate ops before):
//   g *= coefficient; p *= keep; m = b1 m + (1 - b1) g; v = b2 v + (1 - b2) g^2;
//   p -= lr sqrt(c2) / c1 * m / (sqrt(v) + eps)
// One pass over four arrays where clipping, decay and MindSpore's Adam made three, each with a temporary the
// size of every parameter alive at once (~1 GB of GPT-2 small's training peak).
int AdamWUpdate(int, void **params, int *ndims, int64_t **shapes, const char **, void *, void *) {
  float *param = static_cast<float *>(params[0]);
  float *m = static_cast<float *>(params[1]);
  float *v = static_cast<float *>(params[2]);
  const float *grad = static_cast<const float *>(params[3]);
  const float *settings = static_cast<const float *>(params[4]);
  const int64_t n = numel(ndims[0], shapes[0]);
  const float beta1 = settings[1], beta2 = settings[2], eps = settings[3];
  const float keep = settings[4], coefficient = settings[5];
  const float step_size = settings[0] * std::sqrt(settings[7]) / settings[6];
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < n; ++i) {
    const float g = grad[i] * coefficient;
    const float mi = m[i] + (g - m[i]) * (1.0f - beta1);
    const float vi = v[i] + (g * g - v[i]) * (1.0f - beta2);
    m[i] = mi;
    v[i] = vi;
    param[i] = param[i] * keep - step_size * mi / (std::sqrt(vi) + eps);
  }
  *static_cast<float *>(params[5]) = 0.0f;
  return 0;
}

// ---- keyed dropout (mf.nn.dropout) ---------------------------------------------------------
// in: x [any], seed [] int64, threshold [] int64; out: y = x * keep / keep_probability, where element i
// is kept when the top 24 bits of a murmur3-finalised hash of (i, seed) are below threshold
// (keep_probability = threshold / 2^24). The backward pass is the same call on dy. mf.nn.dropout holds the
// numpy definition and an ops fallback that give the same bits.
namespace {
inline uint32_t fmix32(uint32_t h) {
  h ^= h >> 16;
  h *= 0x85EBCA6Bu;
  h ^= h >> 13;
  h *= 0xC2B2AE35u;
  h ^= h >> 16;
  return h;
}
}  // namespace

int DropoutApply(int, void **params, int *ndims, int64_t **shapes, const char **, void *, void *) {
  const float *x = static_cast<const float *>(params[0]);
  const uint64_t seed = static_cast<uint64_t>(*static_cast<const int64_t *>(params[1]));
  const uint32_t threshold = static_cast<uint32_t>(*static_cast<const int64_t *>(params[2]));
  float *y = static_cast<float *>(params[3]);
  const int64_t n = numel(ndims[0], shapes[0]);
  const uint32_t k1 = fmix32(static_cast<uint32_t>(seed) ^ fmix32(static_cast<uint32_t>(seed >> 32) + 0x9E3779B9u));
  const uint32_t k2 = fmix32(k1 ^ 0x68E31DA4u);
  const float scale = threshold > 0 ? 16777216.f / static_cast<float>(threshold) : 0.f;
#pragma omp parallel for simd schedule(static)
  for (int64_t i = 0; i < n; ++i) {
    const uint32_t h = fmix32(fmix32(static_cast<uint32_t>(i) ^ k1) + k2);
    y[i] = (h >> 8) < threshold ? x[i] * scale : 0.f;
  }
  return 0;
}

// ---- rotary position embedding, adjacent feature pairs (Meta's LLaMA layout) -----------------
// in: x [A, B, C, D], cos and sin [A', B', C', D/2] with each of A', B', C' either 1 or the size of
// x's axis (broadcast); out: y with (y[2i], y[2i+1]) = (x[2i] c - x[2i+1] s, x[2i] s + x[2i+1] c).
// The backward pass is the same rotation by the opposite angle (sin negated): nothing is kept.
namespace {
void rotate_pairs(void **params, int64_t **shapes, float direction) {
  const float *x = static_cast<const float *>(params[0]);
  const float *cos = static_cast<const float *>(params[1]);
  const float *sin = static_cast<const float *>(params[2]);
  float *y = static_cast<float *>(params[3]);
  const int64_t a = shapes[0][0], b = shapes[0][1], c = shapes[0][2], d = shapes[0][3], half = d / 2;
  const int64_t ca = shapes[1][0], cb = shapes[1][1], cc = shapes[1][2];
#pragma omp parallel for collapse(3) schedule(static)
  for (int64_t i = 0; i < a; ++i)
    for (int64_t j = 0; j < b; ++j)
      for (int64_t k = 0; k < c; ++k) {
        const int64_t row = ((i * b + j) * c + k) * d;
        const int64_t angle = (((ca == 1 ? 0 : i) * cb + (cb == 1 ? 0 : j)) * cc + (cc == 1 ? 0 : k)) * half;
        const float *co = cos + angle, *si = sin + angle;
        const float *xr = x + row;
        float *yr = y + row;
#pragma omp simd
        for (int64_t p = 0; p < half; ++p) {
          const float even = xr[2 * p], odd = xr[2 * p + 1], cs = co[p], sn = direction * si[p];
          yr[2 * p] = even * cs - odd * sn;
          yr[2 * p + 1] = even * sn + odd * cs;
        }
      }
}
}  // namespace

int RotaryForward(int, void **params, int *, int64_t **shapes, const char **, void *, void *) {
  rotate_pairs(params, shapes, 1.f);
  return 0;
}

// in: dy, cos, sin; out: dx (dy rotated back)
int RotaryBackward(int, void **params, int *, int64_t **shapes, const char **, void *, void *) {
  rotate_pairs(params, shapes, -1.f);
  return 0;
}

// ---- attention: softmax(scale * q k^T + bias) v, without materialising the scores ---------
// in: q [B, T, H, D], k [B, L, G, D], v [B, L, G, D], bias [Bb, Hb, Tb, L] (see AttentionShape), scale [1]
// out: o [B, T, H, D]; the backward pass recomputes the probabilities (nothing else is kept).
// Query head h reads key/value head h / (H / G) (grouped-query attention). Work goes in chunks of
// kChunk query rows, copied with their keys and values into zero-padded blocks so that every
// product is one small_gemm; keys outside a chunk's visible range (the upper triangle of a
// causal mask) cost nothing.
static void attention_forward(void **params, const AttentionShape &s) {
  const float *q = static_cast<const float *>(params[0]);
  const float *k = static_cast<const float *>(params[1]);
  const float *v = static_cast<const float *>(params[2]);
  const float *bias = static_cast<const float *>(params[3]);
  const float scale = *static_cast<const float *>(params[4]);
  float *o = static_cast<float *>(params[5]);
  const int64_t chunks = s.chunks(), rows = s.chunk, dp = s.padded_dim, lp = s.padded_keys;
  const int64_t query_stride = s.query_stride(), kv_stride = s.kv_stride();
#pragma omp parallel
  {
    std::vector<float> queries(rows * dp), keys_t(dp * lp), values(lp * dp), probs(rows * lp), out(rows * dp);
    // A work item is one chunk of one head's query rows, with its own copy of the keys and values it sees: per
    // head, 9 heads of one prompt kept one of two threads idle for a fifth of the time. The copies cost a few
    // percent of the products; the last chunks, which see the most keys under a causal mask, go first.
#pragma omp for collapse(3) schedule(dynamic)
    for (int64_t b = 0; b < s.batch; ++b)
      for (int64_t h = 0; h < s.heads; ++h)
        for (int64_t reversed = 0; reversed < chunks; ++reversed) {
          const int64_t chunk = chunks - 1 - reversed, first = chunk * rows, count = std::min(rows, s.rows - first);
          int64_t lo, hi;
          visible_keys(s, bias, b, h, first, count, &lo, &hi);
          const int64_t g = s.group_of(h), seen = std::min(hi, s.keys);
          pack(k + s.kv_offset(b, g), kv_stride, seen, s.dim, true, keys_t.data(), lp, dp);
          pack(v + s.kv_offset(b, g), kv_stride, seen, s.dim, false, values.data(), dp, hi);
          pack(q + s.query_offset(b, h, first), query_stride, count, s.dim, false, queries.data(), dp, rows);
          chunk_probabilities(s, bias, b, h, first, count, lo, hi, scale, queries.data(), keys_t.data(), probs.data());
          if (count == rows && s.dim == dp) {  // a whole chunk: straight into o
            small_gemm(probs.data() + lo, lp, values.data() + lo * dp, dp, o + s.q_offset(b, h, first), s.q_stride(),
                       rows, dp, hi - lo, false);
            continue;
          }
          small_gemm(probs.data() + lo, lp, values.data() + lo * dp, dp, out.data(), dp, rows, dp, hi - lo, false);
          for (int64_t r = 0; r < count; ++r)
            copy_padded(o + s.q_offset(b, h, first + r), out.data() + r * dp, s.dim, s.dim);
        }
  }
}

int AttentionForward(int, void **params, int *ndims, int64_t **shapes, const char **, void *, void *) {
  attention_forward(params, AttentionShape(ndims, shapes));
  return 0;
}

// the same on heads-major q [B, H, T, D], k and v [B, G, L, D] (a cache viewed whole), out o [B, H, T, D]: a
// prompt's prefill attends over the key/value cache without MindSpore's transposes, batched products and
// softmax (SmolLM2-135M's prefill of 8 x 128 tokens spent ~190 of 1100 ms in them on a 2-core Intel Xeon)
int CachedAttentionForward(int, void **params, int *ndims, int64_t **shapes, const char **, void *, void *) {
  attention_forward(params, AttentionShape(ndims, shapes, true));
  return 0;
}

// A prompt's attention through the key/value cache: in q [B, T, H, D], k, v [B, T, G, D] (token-major, as the
// projections produce them), key_cache, value_cache [B * G * L, D] (kv_cache_shape), index (int32: the slot of
// the first row), bias [Bb, 1, Tb, L], scale [1]; out o [B, T, H, D]. Writes k and v to slots index.. of the
// caches (in place), then attends over all L slots. MindSpore's way, the head transposes of q, k, v and o and
// two ScatterUpdates, took ~6% of SmolLM2-135M's prefill of one prompt.
// k, v [B, T, G, D] (token-major; one token is also heads-major) -> slots index..index + T - 1 of the caches
// [B, G, slots, D]
static void write_cache_rows(const float *k, const float *v, float *key_cache, float *value_cache, int64_t batch,
                             int64_t rows, int64_t groups, int64_t dim, int64_t slots, int64_t index) {
  for (int64_t b = 0; b < batch; ++b)
    for (int64_t g = 0; g < groups; ++g)
      for (int64_t t = 0; t < rows; ++t) {
        const int64_t from = ((b * rows + t) * groups + g) * dim, to = ((b * groups + g) * slots + index + t) * dim;
        std::memcpy(key_cache + to, k + from, dim * sizeof(float));
        std::memcpy(value_cache + to, v + from, dim * sizeof(float));
      }
}

int PrefillAttention(int, void **params, int *ndims, int64_t **shapes, const char **, void *, void *) {
  const int64_t batch = shapes[0][0], rows = shapes[0][1], dim = shapes[0][3], groups = shapes[1][2];
  const int64_t slots = shapes[3][0] / (batch * groups), index = *static_cast<const int32_t *>(params[5]);
  if (index < 0 || index + rows > slots) return 1;
  float *key_cache = static_cast<float *>(params[3]), *value_cache = static_cast<float *>(params[4]);
  write_cache_rows(static_cast<const float *>(params[1]), static_cast<const float *>(params[2]), key_cache,
                   value_cache, batch, rows, groups, dim, slots, index);
  void *attention[6] = {params[0], key_cache, value_cache, params[6], params[7], params[8]};
  attention_forward(attention, AttentionShape(shapes[0], groups, slots, shapes[6], ndims[6]));
  return 0;
}

// in: q, k, v, bias, scale, o, do; out: dq, dk, dv
// The probabilities are recomputed from the scores (not from a stored log-sum-exp: a fully
// masked row's scores sit near -1e9, where a float log-sum-exp loses the normaliser). One work
// item is a (batch, key/value head) pair, so it alone writes that head's dk and dv.
static void attention_backward(void **params, const AttentionShape &s) {
  const float *q = static_cast<const float *>(params[0]);
  const float *k = static_cast<const float *>(params[1]);
  const float *v = static_cast<const float *>(params[2]);
  const float *bias = static_cast<const float *>(params[3]);
  const float scale = *static_cast<const float *>(params[4]);
  const float *o = static_cast<const float *>(params[5]);
  const float *dout = static_cast<const float *>(params[6]);
  float *dq = static_cast<float *>(params[7]);
  float *dk = static_cast<float *>(params[8]);
  float *dv = static_cast<float *>(params[9]);
  const int64_t per_group = s.heads / s.groups, chunks = s.chunks(), rows = s.chunk;
  const int64_t dp = s.padded_dim, lp = s.padded_keys, q_stride = s.q_stride(), kv_stride = s.kv_stride();
  const int64_t query_stride = s.query_stride();
#pragma omp parallel
  {
    std::vector<float> keys(lp * dp), keys_t(dp * lp), values_t(dp * lp), dkeys(lp * dp), dvalues(lp * dp);
    std::vector<float> queries(rows * dp), grads(rows * dp), probs(rows * lp), dscores(rows * lp);
    std::vector<float> dqueries(rows * dp);
#pragma omp for collapse(2) schedule(dynamic)
    for (int64_t b = 0; b < s.batch; ++b)
      for (int64_t g = 0; g < s.groups; ++g) {
        const int64_t base = s.kv_offset(b, g);
        pack(k + base, kv_stride, s.keys, s.dim, false, keys.data(), dp, lp);
        pack(k + base, kv_stride, s.keys, s.dim, true, keys_t.data(), lp, dp);
        pack(v + base, kv_stride, s.keys, s.dim, true, values_t.data(), lp, dp);
        std::fill(dkeys.begin(), dkeys.end(), 0.f);
        std::fill(dvalues.begin(), dvalues.end(), 0.f);
        for (int64_t h = g * per_group; h < (g + 1) * per_group; ++h)
          for (int64_t chunk = 0; chunk < chunks; ++chunk) {
            const int64_t first = chunk * rows, count = std::min(rows, s.rows - first);
            int64_t lo, hi;
            visible_keys(s, bias, b, h, first, count, &lo, &hi);
            pack(q + s.query_offset(b, h, first), query_stride, count, s.dim, false, queries.data(), dp, rows);
            pack(dout + s.q_offset(b, h, first), q_stride, count, s.dim, false, grads.data(), dp, rows);
            chunk_probabilities(s, bias, b, h, first, count, lo, hi, scale, queries.data(), keys_t.data(),
                                probs.data());
            // dprobs = do . v^T, then dscores = p * (dprobs - do . o) * scale
            small_gemm(grads.data(), dp, values_t.data() + lo, lp, dscores.data() + lo, lp, rows, hi - lo, dp, false);
            for (int64_t r = 0; r < rows; ++r) {
              float delta = 0.f;
              if (r < count) {
                const float *orow = o + s.q_offset(b, h, first + r);
                const float *grow = grads.data() + r * dp;
                for (int64_t c = 0; c < s.dim; ++c) delta += grow[c] * orow[c];
              }
              const float *prow = probs.data() + r * lp;
              float *drow = dscores.data() + r * lp;
#pragma omp simd
              for (int64_t j = lo; j < hi; ++j) drow[j] = prow[j] * (drow[j] - delta) * scale;
            }
            // dq = dscores . k
            small_gemm(dscores.data() + lo, lp, keys.data() + lo * dp, dp, dqueries.data(), dp, rows, dp, hi - lo, false);
            for (int64_t r = 0; r < count; ++r)
              copy_padded(dq + s.query_offset(b, h, first + r), dqueries.data() + r * dp, s.dim, s.dim);
            // dv += p^T . do and dk += dscores^T . q, over the chunk's visible keys (rows past count are 0 in p,
            // dscores and do alike)
            small_gemm_transposed_a(probs.data() + lo, lp, grads.data(), dp, dvalues.data() + lo * dp, dp, hi - lo,
                                    dp, rows, true);
            small_gemm_transposed_a(dscores.data() + lo, lp, queries.data(), dp, dkeys.data() + lo * dp, dp, hi - lo,
                                    dp, rows, true);
          }
        for (int64_t j = 0; j < s.keys; ++j) {
          copy_padded(dk + base + j * kv_stride, dkeys.data() + j * dp, s.dim, s.dim);
          copy_padded(dv + base + j * kv_stride, dvalues.data() + j * dp, s.dim, s.dim);
        }
      }
  }
}

int AttentionBackward(int, void **params, int *ndims, int64_t **shapes, const char **, void *, void *) {
  attention_backward(params, AttentionShape(ndims, shapes));
  return 0;
}

// Attention on q, k, v packed in one token-major tensor [B, T, 3, H, D] (GPT-2's c_attn output, reshaped), read in
// place: no split of it before the forward and no concatenation of dq, dk, dv after the backward (~1.2 ms each a
// GPT-2 small layer). in: qkv, bias [Bb, 1, Tb, T], scale; out: o [B, T, H, D]
int PackedAttentionForward(int, void **params, int *ndims, int64_t **shapes, const char **, void *, void *) {
  const AttentionShape s(shapes[0], shapes[1], ndims[1]);
  float *qkv = static_cast<float *>(params[0]);
  const int64_t width = s.heads * s.dim;
  void *attention[6] = {qkv, qkv + width, qkv + 2 * width, params[1], params[2], params[3]};
  attention_forward(attention, s);
  return 0;
}

// in: qkv, bias, scale, o, do; out: dqkv [B, T, 3, H, D] (every entry written)
int PackedAttentionBackward(int, void **params, int *ndims, int64_t **shapes, const char **, void *, void *) {
  const AttentionShape s(shapes[0], shapes[1], ndims[1]);
  float *qkv = static_cast<float *>(params[0]), *dqkv = static_cast<float *>(params[5]);
  const int64_t width = s.heads * s.dim;
  void *attention[10] = {qkv, qkv + width, qkv + 2 * width, params[1], params[2], params[3], params[4],
                         dqkv, dqkv + width, dqkv + 2 * width};
  attention_backward(attention, s);
  return 0;
}

// ---- decoding attention: store this step's keys and values, then attend over the cache --------
// in: q [B, H, 1, D], k [B, G, 1, D], v [B, G, 1, D] (the new token's; H % G == 0), key_cache and
// value_cache [B * G * L, D] (mf.nn.kv_cache_shape: row (b * G + g) * L + slot), index int32 [] (the
// slot to write), bias [Bb, Hb, 1, L] (Bb in {1, B}, Hb in {1, H}: ALiBi's bias is per head), scale [1];
// out: o [B, H, 1, D]. Writes the caches in place, like the ScatterUpdate it replaces: one kernel instead
// of the ~20 (index arithmetic, two scatters, reshapes, two batched products, softmax) a decoded token
// paid per layer at ~30 us each. Slots masked by the bias (<= kMaskSkip; mf's MASK_VALUE is -1e9) are
// skipped: their softmax weight is exactly 0 in float32 either way.
constexpr float kMaskSkip = -1e8f;

// One query head over its key/value head's cache rows: softmax(scale * q . keys + bias) . values -> out [dim];
// weights [slots] is scratch. Slots masked by the bias are skipped when the head sees any slot at all.
// kVectors > 0: dim = 16 * kVectors with AVX-512, the query and the output held in registers while the cache rows
// stream (one horizontal sum per key); 0: any dim, plain loops.
extern "C++" {
template <int kVectors>
static void attend_head(const float *query, const float *keys, const float *values, const float *row_bias,
                        int64_t slots, int64_t dim, float scale, float *weights, float *out) {
  bool any_visible = false;
  for (int64_t l = 0; l < slots && !any_visible; ++l) any_visible = row_bias[l] > kMaskSkip;
#if defined(__AVX512F__)
  __m512 qv[kVectors > 0 ? kVectors : 1];
  for (int v = 0; v < kVectors; ++v) qv[v] = _mm512_loadu_ps(query + 16 * v);
#endif
  float peak = -std::numeric_limits<float>::infinity();
  for (int64_t l = 0; l < slots; ++l) {
    if (any_visible && row_bias[l] <= kMaskSkip) {
      weights[l] = -std::numeric_limits<float>::infinity();
      continue;
    }
    const float *key = keys + l * dim;
    float dot = 0.f;
#if defined(__AVX512F__)
    if (kVectors > 0) {
      __m512 acc = _mm512_mul_ps(qv[0], _mm512_loadu_ps(key));
      for (int v = 1; v < kVectors; ++v) acc = _mm512_fmadd_ps(qv[v], _mm512_loadu_ps(key + 16 * v), acc);
      dot = _mm512_reduce_add_ps(acc);
    } else
#endif
    {
#pragma omp simd reduction(+ : dot)
      for (int64_t t = 0; t < dim; ++t) dot += query[t] * key[t];
    }
    weights[l] = dot * scale + row_bias[l];
    peak = std::max(peak, weights[l]);
  }
  // the probabilities (a weight of 0 is not read from its value row below)
  const float inverse = 1.f / exp_from_peak(weights, slots, peak);
#if defined(__AVX512F__)
  if (kVectors > 0) {
    __m512 acc[kVectors > 0 ? kVectors : 1];
    for (int v = 0; v < kVectors; ++v) acc[v] = _mm512_setzero_ps();
    for (int64_t l = 0; l < slots; ++l) {
      if (weights[l] == 0.f) continue;
      const __m512 p = _mm512_set1_ps(weights[l]);
      const float *value = values + l * dim;
      for (int v = 0; v < kVectors; ++v) acc[v] = _mm512_fmadd_ps(p, _mm512_loadu_ps(value + 16 * v), acc[v]);
    }
    for (int v = 0; v < kVectors; ++v) _mm512_storeu_ps(out + 16 * v, _mm512_mul_ps(acc[v], _mm512_set1_ps(inverse)));
    return;
  }
#endif
  std::fill(out, out + dim, 0.f);
  for (int64_t l = 0; l < slots; ++l) {
    if (weights[l] == 0.f) continue;
    const float p = weights[l], *value = values + l * dim;
#pragma omp simd
    for (int64_t t = 0; t < dim; ++t) out[t] += p * value[t];
  }
  for (int64_t t = 0; t < dim; ++t) out[t] *= inverse;
}
}  // extern "C++"

// bias_shape: the bias's first two sizes (Bb, Hb)
static int decode_attention(const float *q, const float *k, const float *v, float *key_cache, float *value_cache,
                            int64_t index, const float *bias, const int64_t *bias_shape, float scale, float *o,
                            int64_t batch, int64_t heads, int64_t groups, int64_t dim, int64_t slots) {
  const int64_t bias_batch = bias_shape[0] == 1 ? 0 : bias_shape[1] * slots, bias_head = bias_shape[1] == 1 ? 0 : slots;
  if (index < 0 || index >= slots) return 1;
  write_cache_rows(k, v, key_cache, value_cache, batch, 1, groups, dim, slots, index);
#pragma omp parallel if (batch * heads * slots * dim >= (1 << 18))  // waking threads costs more than a small step
  {
    std::vector<float> weights(slots);
#pragma omp for schedule(static)
    for (int64_t bh = 0; bh < batch * heads; ++bh) {
      const int64_t b = bh / heads, h = bh % heads, g = h / (heads / groups);
      const float *keys = key_cache + (b * groups + g) * slots * dim, *values = value_cache + (b * groups + g) * slots * dim;
      const float *row_bias = bias + b * bias_batch + h * bias_head;
      auto head = dim == 64 ? attend_head<4> : dim == 128 ? attend_head<8> : attend_head<0>;
      head(q + bh * dim, keys, values, row_bias, slots, dim, scale, weights.data(), o + bh * dim);
    }
  }
  return 0;
}

int DecodeAttention(int, void **params, int *ndims, int64_t **shapes, const char **, void *, void *) {
  const int64_t batch = shapes[0][0], heads = shapes[0][1], dim = shapes[0][3], groups = shapes[1][1];
  return decode_attention(static_cast<const float *>(params[0]), static_cast<const float *>(params[1]),
                          static_cast<const float *>(params[2]), static_cast<float *>(params[3]),
                          static_cast<float *>(params[4]), *static_cast<const int32_t *>(params[5]),
                          static_cast<const float *>(params[6]), shapes[6], *static_cast<const float *>(params[7]),
                          static_cast<float *>(params[8]), batch, heads, groups, dim,
                          shapes[3][0] / (batch * groups));
}

// ---- decoding attention from the hidden state: q/k/v products, rotary, cache writes, attention, output ----
// in: x [B, 1, E]; wq [H * D, E], wk and wv [G * D, E], wo [E', H * D], float32 or int8 with per-row scales
// sq, sk, sv, so (a float32 model passes [1] placeholders); cos, sin [Bc, 1, 1, D / 2] (Bc in {1, B}; adjacent
// feature pairs, as RotaryForward); key_cache, value_cache, index, bias, scale as DecodeAttention.
// out: [B, 1, E'] = the attention's output projection. The seven launches of a LLaMA decoding step's
// attention (four products, two rotations, the attention) in one: each launch costs ~15-30 us in
// MindSpore's CPU runtime, as much as SmolLM2's int8 products themselves.
enum class WeightKind { kFloat32, kInt8, kDynamicInt8 };

static void project(WeightKind kind, const float *x, const void *w, const float *scale, float *y, int64_t m,
                    int64_t k, int64_t n) {
  if (kind == WeightKind::kFloat32)
    small_matmul_f32(x, static_cast<const float *>(w), y, m, k, n);
  else if (kind == WeightKind::kInt8)
    small_matmul_int8(x, static_cast<const int8_t *>(w), scale, nullptr, y, m, k, n);
  else
    small_matmul_w8a8(x, static_cast<const int8_t *>(w), scale, nullptr, y, m, k, n);
}

// rows [B, heads, D] rotated in place by their batch row's angles (cos, sin [Bc, D / 2])
static void rotate_rows(float *rows, int64_t batch, int64_t heads, int64_t dim, const float *cos, const float *sin,
                        int64_t cos_batch) {
  const int64_t half = dim / 2;
  for (int64_t b = 0; b < batch; ++b) {
    const float *co = cos + (cos_batch == 1 ? 0 : b) * half, *si = sin + (cos_batch == 1 ? 0 : b) * half;
    for (int64_t h = 0; h < heads; ++h) {
      float *r = rows + (b * heads + h) * dim;
#pragma omp simd
      for (int64_t p = 0; p < half; ++p) {
        const float even = r[2 * p], odd = r[2 * p + 1];
        r[2 * p] = even * co[p] - odd * si[p];
        r[2 * p + 1] = even * si[p] + odd * co[p];
      }
    }
  }
}

static int projected_decode_attention(void **params, int64_t **shapes, WeightKind kind) {
  const float *x = static_cast<const float *>(params[0]);
  const float *cos = static_cast<const float *>(params[9]), *sin = static_cast<const float *>(params[10]);
  const int64_t batch = shapes[0][0], width = shapes[0][2], dim = 2 * shapes[9][3];
  const int64_t q_rows = shapes[1][0], kv_rows = shapes[3][0], heads = q_rows / dim, groups = kv_rows / dim;
  const int64_t out_width = shapes[7][0];
  std::vector<float> q(batch * q_rows), k(batch * kv_rows), v(batch * kv_rows), attended(batch * q_rows);
  project(kind, x, params[1], static_cast<const float *>(params[2]), q.data(), batch, width, q_rows);
  project(kind, x, params[3], static_cast<const float *>(params[4]), k.data(), batch, width, kv_rows);
  project(kind, x, params[5], static_cast<const float *>(params[6]), v.data(), batch, width, kv_rows);
  rotate_rows(q.data(), batch, heads, dim, cos, sin, shapes[9][0]);
  rotate_rows(k.data(), batch, groups, dim, cos, sin, shapes[9][0]);
  const int status = decode_attention(q.data(), k.data(), v.data(), static_cast<float *>(params[11]),
                                      static_cast<float *>(params[12]), *static_cast<const int32_t *>(params[13]),
                                      static_cast<const float *>(params[14]), shapes[14],
                                      *static_cast<const float *>(params[15]), attended.data(), batch, heads, groups,
                                      dim, shapes[11][0] / (batch * groups));
  if (status != 0) return status;
  project(kind, attended.data(), params[7], static_cast<const float *>(params[8]), static_cast<float *>(params[16]),
          batch, q_rows, out_width);
  return 0;
}

// ---- a decoded token's gated feed-forward: w2 (silu(x w1^T) * (x w3^T)), one kernel for four launches ----
// in: x [..., E] (few rows), w1 and w3 [I, E] (gate, up), w2 [E', I]: float32, or int8 with per-row scales
// s1, s3, s2 ([1] placeholders for float32); out: y [..., E']. The *PreNorm kernels take a pre-norm block's
// residual stream as x, then its RMSNorm's weight [E] and eps [1], and return x + the feed-forward of
// rms_norm(x) (E' = E; the norm computed as RmsNormForward does): the block's second half in one launch where
// it took three.
static int gated_feed_forward(void **params, int *ndims, int64_t **shapes, WeightKind kind, bool pre_norm) {
  int64_t rows, width;
  rows_cols(ndims[0], shapes[0], &rows, &width);
  const int64_t inner = shapes[1][0], out_width = shapes[5][0];
  const float *residual = static_cast<const float *>(params[0]), *x = residual;
  float *y = static_cast<float *>(params[pre_norm ? 9 : 7]);
  std::vector<float> normed;
  if (pre_norm) {
    const float *weight = static_cast<const float *>(params[7]), eps = *static_cast<const float *>(params[8]);
    normed.resize(rows * width);
    for (int64_t r = 0; r < rows; ++r) rms_norm_row(residual + r * width, weight, eps, width, normed.data() + r * width);
    x = normed.data();
  }
  std::vector<float> gate(rows * inner), up(rows * inner);
  project(kind, x, params[1], static_cast<const float *>(params[2]), gate.data(), rows, width, inner);
  project(kind, x, params[3], static_cast<const float *>(params[4]), up.data(), rows, width, inner);
#pragma omp simd
  for (int64_t i = 0; i < rows * inner; ++i) gate[i] = gate[i] / (1.f + std::exp(-gate[i])) * up[i];
  project(kind, gate.data(), params[5], static_cast<const float *>(params[6]), y, rows, inner, out_width);
  if (pre_norm)
#pragma omp simd
    for (int64_t i = 0; i < rows * out_width; ++i) y[i] += residual[i];
  return 0;
}

int GatedFeedForward(int, void **params, int *ndims, int64_t **shapes, const char **, void *, void *) {
  return gated_feed_forward(params, ndims, shapes, WeightKind::kFloat32, false);
}

int GatedFeedForwardPreNorm(int, void **params, int *ndims, int64_t **shapes, const char **, void *, void *) {
  return gated_feed_forward(params, ndims, shapes, WeightKind::kFloat32, true);
}

int GatedFeedForwardInt8(int, void **params, int *ndims, int64_t **shapes, const char **, void *, void *) {
  return gated_feed_forward(params, ndims, shapes, WeightKind::kInt8, false);
}

int GatedFeedForwardInt8PreNorm(int, void **params, int *ndims, int64_t **shapes, const char **, void *, void *) {
  return gated_feed_forward(params, ndims, shapes, WeightKind::kInt8, true);
}

int GatedFeedForwardW8A8(int, void **params, int *ndims, int64_t **shapes, const char **, void *, void *) {
  return gated_feed_forward(params, ndims, shapes, WeightKind::kDynamicInt8, false);
}

int GatedFeedForwardW8A8PreNorm(int, void **params, int *ndims, int64_t **shapes, const char **, void *, void *) {
  return gated_feed_forward(params, ndims, shapes, WeightKind::kDynamicInt8, true);
}

int ProjectedDecodeAttention(int, void **params, int *, int64_t **shapes, const char **, void *, void *) {
  return projected_decode_attention(params, shapes, WeightKind::kFloat32);
}

int ProjectedDecodeAttentionInt8(int, void **params, int *, int64_t **shapes, const char **, void *, void *) {
  return projected_decode_attention(params, shapes, WeightKind::kInt8);
}

int ProjectedDecodeAttentionW8A8(int, void **params, int *, int64_t **shapes, const char **, void *, void *) {
  return projected_decode_attention(params, shapes, WeightKind::kDynamicInt8);
}

}  // extern "C"
