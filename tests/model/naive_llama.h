// An independent float64 reference: a scalar LLaMA forward pass read straight from a llama2.c
// legacy checkpoint, written from the llama2.c format description (shared/models/README.md) and
// sharing no code with the runtime. Slow by design; for small models only.
#pragma once

#include <cmath>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <stdexcept>
#include <string>
#include <vector>

namespace ingot::test {

class NaiveLlama {
 public:
  explicit NaiveLlama(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    int32_t h[7];
    in.read(reinterpret_cast<char*>(h), sizeof h);
    if (!in) throw std::runtime_error("cannot read " + path);
    dim = h[0], hidden = h[1], n_layers = h[2], n_heads = h[3], n_kv = h[4], vocab = std::abs(h[5]), seq = h[6];
    hs = dim / n_heads;
    auto take = [&](size_t n) {
      std::vector<float> f(n);
      in.read(reinterpret_cast<char*>(f.data()), std::streamsize(n * 4));
      if (!in) throw std::runtime_error("truncated " + path);
      return std::vector<double>(f.begin(), f.end());
    };
    const size_t L = size_t(n_layers), kvd = size_t(n_kv * hs);
    emb = take(size_t(vocab) * dim);
    rms_att = take(L * dim);
    wq = take(L * dim * dim);
    wk = take(L * kvd * dim);
    wv = take(L * kvd * dim);
    wo = take(L * dim * dim);
    rms_ffn = take(L * dim);
    w1 = take(L * hidden * dim);
    w2 = take(L * dim * hidden);
    w3 = take(L * hidden * dim);
    rms_final = take(dim);
    reset();
  }

  void reset() {
    kc.assign(size_t(n_layers) * seq * n_kv * hs, 0.0);
    vc.assign(kc.size(), 0.0);
  }

  // Logits (vocab) for `token` at `pos`; positions must be fed in order from 0.
  std::vector<double> forward(int token, int pos) {
    const size_t D = size_t(dim), H = size_t(hidden), kvd = size_t(n_kv * hs);
    std::vector<double> x(emb.begin() + long(token) * dim, emb.begin() + long(token + 1) * dim);
    std::vector<double> xb(D), q(D), k(kvd), v(kvd), att(D), hb(H), hb2(H);
    for (size_t l = 0; l < size_t(n_layers); ++l) {
      rmsnorm(xb, x, &rms_att[l * D]);
      matvec(q, xb, &wq[l * D * D], D, D);
      matvec(k, xb, &wk[l * kvd * D], kvd, D);
      matvec(v, xb, &wv[l * kvd * D], kvd, D);
      for (size_t i = 0; i < D; i += 2) {  // interleaved RoPE, theta 10000
        const double freq = 1.0 / std::pow(10000.0, double(i % hs) / double(hs));
        const double a = pos * freq, c = std::cos(a), s = std::sin(a);
        for (std::vector<double>* vec : {&q, &k}) {
          if (i >= vec->size()) continue;
          const double x0 = (*vec)[i], x1 = (*vec)[i + 1];
          (*vec)[i] = x0 * c - x1 * s;
          (*vec)[i + 1] = x0 * s + x1 * c;
        }
      }
      double* kl = &kc[(l * seq + size_t(pos)) * kvd];
      double* vl = &vc[(l * seq + size_t(pos)) * kvd];
      std::copy(k.begin(), k.end(), kl);
      std::copy(v.begin(), v.end(), vl);
      for (int h = 0; h < n_heads; ++h) {
        const int kvh = h / (n_heads / n_kv);
        std::vector<double> sc(size_t(pos) + 1);
        double mx = -1e300;
        for (int t = 0; t <= pos; ++t) {
          double d = 0;
          for (int i = 0; i < hs; ++i) d += q[size_t(h * hs + i)] * kc[(l * seq + size_t(t)) * kvd + size_t(kvh * hs + i)];
          sc[size_t(t)] = d / std::sqrt(double(hs));
          mx = std::max(mx, sc[size_t(t)]);
        }
        double sum = 0;
        for (double& s : sc) sum += (s = std::exp(s - mx));
        for (int i = 0; i < hs; ++i) {
          double o = 0;
          for (int t = 0; t <= pos; ++t) o += sc[size_t(t)] / sum * vc[(l * seq + size_t(t)) * kvd + size_t(kvh * hs + i)];
          att[size_t(h * hs + i)] = o;
        }
      }
      matvec(xb, att, &wo[l * D * D], D, D);
      for (size_t i = 0; i < D; ++i) x[i] += xb[i];
      rmsnorm(xb, x, &rms_ffn[l * D]);
      matvec(hb, xb, &w1[l * H * D], H, D);
      matvec(hb2, xb, &w3[l * H * D], H, D);
      for (size_t i = 0; i < H; ++i) hb[i] = hb[i] / (1 + std::exp(-hb[i])) * hb2[i];
      matvec(xb, hb, &w2[l * D * H], D, H);
      for (size_t i = 0; i < D; ++i) x[i] += xb[i];
    }
    rmsnorm(xb, x, rms_final.data());
    std::vector<double> logits(static_cast<size_t>(vocab));
    matvec(logits, xb, emb.data(), size_t(vocab), D);
    return logits;
  }

  int dim, hidden, n_layers, n_heads, n_kv, vocab, seq, hs;

 private:
  void rmsnorm(std::vector<double>& o, const std::vector<double>& x, const double* w) {
    double ss = 0;
    for (double v : x) ss += v * v;
    const double s = 1.0 / std::sqrt(ss / double(x.size()) + 1e-5);
    for (size_t i = 0; i < x.size(); ++i) o[i] = x[i] * s * w[i];
  }
  static void matvec(std::vector<double>& o, const std::vector<double>& x, const double* w, size_t rows, size_t cols) {
    for (size_t r = 0; r < rows; ++r) {
      double s = 0;
      for (size_t c = 0; c < cols; ++c) s += w[r * cols + c] * x[c];
      o[r] = s;
    }
  }
  std::vector<double> emb, rms_att, wq, wk, wv, wo, rms_ffn, w1, w2, w3, rms_final, kc, vc;
};

}  // namespace ingot::test
