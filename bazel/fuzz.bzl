"""fuzz_test: one libFuzzer target, replayed as a test and fuzzed by tools/fuzz.

fuzz_test(name = "ballot_fuzz", srcs = ["ballot_fuzz.c"], deps = [":ballot"])
expects the seed corpus in fuzz/<name>/ beside the BUILD file (one input a
file; crashes found later go there too, as regressions). It makes:
  <name>_test  a cc_test that replays every file of fuzz/<name>/ through
               LLVMFuzzerTestOneInput (tests/fuzz/driver.c); part of //...
  <name>       the libFuzzer binary, tagged manual: only tools/fuzz builds it,
               with clang and --config=fuzz.
Both get //tests/fuzz:fuzz: the target includes tests/fuzz/fuzz.h (libFuzzer's
entry points, FUZZ_CHECK).
"""

load("//bazel:copts.bzl", "C_COPTS")

def fuzz_test(name, srcs, deps = [], size = "small"):
    corpus = "fuzz/" + name
    native.cc_test(
        name = name + "_test",
        size = size,
        srcs = srcs,
        copts = C_COPTS,
        deps = deps + ["//tests/fuzz:driver", "//tests/fuzz:fuzz"],
        data = native.glob([corpus + "/**"]),
        args = [native.package_name() + "/" + corpus],
    )
    native.cc_binary(
        name = name,
        srcs = srcs,
        copts = C_COPTS,
        linkopts = ["-fsanitize=fuzzer"],
        deps = deps + ["//tests/fuzz:fuzz"],
        tags = ["manual"],
        testonly = True,
    )
