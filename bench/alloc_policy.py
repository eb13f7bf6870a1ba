"""The allocator policy metanas's addon sets when it loads (native/src/addon.cc), for the PyTorch
side of the benchmarks, so that both sides run under the same glibc malloc settings and a ratio
measures the engines, not the allocator. METANAS_MALLOC=system leaves glibc's defaults on both."""
import ctypes
import os

M_TRIM_THRESHOLD = -1
M_TOP_PAD = -2
M_MMAP_THRESHOLD = -3


def apply_allocator_policy():
    if os.environ.get("METANAS_MALLOC") == "system":
        return "system"
    libc = ctypes.CDLL("libc.so.6")
    ok = libc.mallopt(M_MMAP_THRESHOLD, 1 << 30) == 1
    ok = libc.mallopt(M_TRIM_THRESHOLD, 1 << 30) == 1 and ok
    ok = libc.mallopt(M_TOP_PAD, 64 << 20) == 1 and ok
    return "heap" if ok else "system (mallopt refused)"
