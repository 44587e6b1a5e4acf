#pragma once
// What the CPU runs beyond the build's baseline (x86-64: SSE2), asked once at start-up: the
// detector's byte searches take 32-byte AVX2 steps where it can.

namespace sb::policies::cpu {

/// The CPU has AVX2 and the OS saves its registers. False off x86-64 (and, should a static
/// initializer of another file ask, before this file's own has run: the SSE2 searches answer the
/// same).
bool has_avx2();

}  // namespace sb::policies::cpu
