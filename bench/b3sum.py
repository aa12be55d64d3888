#!/usr/bin/env python3
"""Fallback for `b3sum FILE...` when the b3sum crate cannot be installed: the PyPI `blake3`
package (Rust BLAKE3 under the hood), multithreaded like b3sum, one line per file."""

import sys

import blake3


def main() -> int:
    for path in sys.argv[1:]:
        h = blake3.blake3(max_threads=blake3.blake3.AUTO)
        with open(path, "rb") as f:
            while chunk := f.read(1 << 20):
                h.update(chunk)
        print(f"{h.hexdigest()}  {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
