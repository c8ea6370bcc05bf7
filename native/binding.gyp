{
  # star_kernels: N-API addon (plain C API, no node-addon-api) with OpenBLAS linked statically.
  # Built by scripts/build-native.sh; the result is committed under prebuilds/<platform>-<arch>/.
  "variables": {
    "openblas_dir%": "/usr/lib/x86_64-linux-gnu/openblas-pthread",
    "openblas_include%": "/usr/include/x86_64-linux-gnu/openblas-pthread"
  },
  "targets": [
    {
      "target_name": "star_kernels",
      "sources": ["src/star_kernels.cc"],
      "include_dirs": ["<(openblas_include)"],
      "defines": ["NAPI_VERSION=8"],
      "cflags!": ["-fno-exceptions", "-O2", "-O0"],
      "cflags_cc!": ["-fno-exceptions", "-O2", "-O0"],
      "cflags": ["-O3", "-fno-trapping-math", "-ffp-contract=off", "-fvisibility=hidden", "-ffunction-sections", "-fdata-sections"],
      "cflags_cc": ["-O3", "-fno-trapping-math", "-ffp-contract=off", "-std=c++17", "-fvisibility=hidden", "-ffunction-sections", "-fdata-sections"],
      "ldflags": [
        "-Wl,--gc-sections",
        "-Wl,--exclude-libs,ALL",
        "-Wl,--as-needed",
        "-static-libstdc++",
        "-static-libgcc"
      ],
      "libraries": ["<(openblas_dir)/libopenblas.a", "-lpthread", "-lm"]
    }
  ]
}
