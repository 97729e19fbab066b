#!/usr/bin/env python3
"""Puts PT_GNU_RELRO back into an executable after GNU objcopy removed its unwind tables.

    restore-relro.py ORIGINAL STRIPPED

GNU objcopy (binutils 2.40) compacts the file when it removes .eh_frame and .eh_frame_hdr: the
writable LOAD segment moves to a lower file offset (its addresses stay), and the GNU_RELRO program
header is dropped, so the dynamic loader no longer makes relocated data read-only. The
GNU_EH_FRAME header is left with size 0 and an address past the end of the code, which an unwinder
must not follow. This script rewrites that stale GNU_EH_FRAME slot as the original GNU_RELRO, at the
same addresses, with the file offset the writable segment now has. ELF64 little-endian only.
"""
import struct
import sys

PT_LOAD, PT_GNU_EH_FRAME, PT_GNU_RELRO = 1, 0x6474E550, 0x6474E552
PF_W = 2
PHDR = struct.Struct("<IIQQQQQQ")  # type, flags, offset, vaddr, paddr, filesz, memsz, align


def program_headers(data):
    if data[:4] != b"\x7fELF" or data[4] != 2 or data[5] != 1:
        sys.exit("restore-relro: not a little-endian ELF64 file")
    phoff, = struct.unpack_from("<Q", data, 0x20)
    phentsize, phnum = struct.unpack_from("<HH", data, 0x36)
    return [(phoff + i * phentsize, list(PHDR.unpack_from(data, phoff + i * phentsize))) for i in range(phnum)]


def main():
    original_path, stripped_path = sys.argv[1], sys.argv[2]
    original = program_headers(open(original_path, "rb").read())
    relro = [h for _, h in original if h[0] == PT_GNU_RELRO]
    if not relro:
        sys.exit(f"restore-relro: {original_path} has no GNU_RELRO to restore")
    relro = relro[0]
    data = bytearray(open(stripped_path, "rb").read())
    headers = program_headers(data)
    if any(h[0] == PT_GNU_RELRO for _, h in headers):
        return  # objcopy kept it
    writable = [h for _, h in headers if h[0] == PT_LOAD and h[1] & PF_W and h[3] <= relro[3] < h[3] + h[6]]
    slots = [at for at, h in headers if h[0] == PT_GNU_EH_FRAME]
    if not writable or not slots:
        sys.exit("restore-relro: no writable LOAD segment holding the RELRO range, or no free program header slot")
    load = writable[0]
    relro[2] = load[2] + (relro[3] - load[3])  # same address, the segment's new file offset
    PHDR.pack_into(data, slots[0], *relro)
    open(stripped_path, "wb").write(data)


if __name__ == "__main__":
    main()
