// doctest's runtime for the benchmark binary: the op table (tests/op_table*.cpp) and its helpers include doctest
// for the tests' asserts, which the benchmarks never reach (they build the CUDA-comparison cases only). No runner.
#define DOCTEST_CONFIG_IMPLEMENT
#include <doctest/doctest.h>
