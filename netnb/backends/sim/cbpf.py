"""A classic BPF interpreter: runs the programs libpcap compiles (``tcpdump -d``) over frames, as the
kernel's socket filter does — so a simulated capture keeps exactly the frames a kernel capture keeps.

Written by hand: the kernel runs these programs in C; here there is no kernel (and no libpcap in Pyodide).
Only the instructions libpcap emits for Ethernet captures are needed: loads (absolute, indirect, the
``ldxb 4*([k]&0xf)`` header length), ALU, jumps, returns.

>>> run_filter([[0x28, 0, 0, 12], [0x15, 0, 1, 0x0806], [0x6, 0, 0, 262144], [0x6, 0, 0, 0]],
...            bytes(12) + b"\\x08\\x06" + bytes(28))
True
"""

from __future__ import annotations

from collections.abc import Sequence

_MASK = 0xFFFFFFFF


def run_filter(program: Sequence[Sequence[int]], frame: bytes) -> bool:
    """Whether ``frame`` passes ``program`` (rows of code, jt, jf, k), i.e. the program returns non-zero."""
    a = x = 0
    mem = [0] * 16
    pc = 0
    n = len(frame)
    while pc < len(program):
        code, jt, jf, k = program[pc]
        cls = code & 0x07
        pc += 1
        if cls in (0x00, 0x01):  # ld / ldx
            mode, size = code & 0xE0, code & 0x18
            if mode == 0x00:  # imm
                value = k
            elif mode == 0x80:  # len
                value = n
            elif mode == 0x60:  # mem
                value = mem[k & 15]
            elif mode == 0xA0 and cls == 0x01:  # msh: 4*([k]&0xf)
                if k >= n:
                    return False
                value = (frame[k] & 0xF) * 4
            else:  # abs / ind
                off = k + (x if mode == 0x40 else 0)
                width = {0x00: 4, 0x08: 2, 0x10: 1}[size]
                if off < 0 or off + width > n:
                    return False
                value = int.from_bytes(frame[off:off + width], "big")
            if cls == 0x00:
                a = value & _MASK
            else:
                x = value & _MASK
        elif cls == 0x02:  # st
            mem[k & 15] = a
        elif cls == 0x03:  # stx
            mem[k & 15] = x
        elif cls == 0x04:  # alu
            op, src = code & 0xF0, (x if code & 0x08 else k)
            if op == 0x00:
                a = (a + src) & _MASK
            elif op == 0x10:
                a = (a - src) & _MASK
            elif op == 0x20:
                a = (a * src) & _MASK
            elif op == 0x30:
                if src == 0:
                    return False
                a = a // src
            elif op == 0x40:
                a |= src
            elif op == 0x50:
                a &= src
            elif op == 0x60:
                a = (a << src) & _MASK if src < 32 else 0
            elif op == 0x70:
                a = a >> src if src < 32 else 0
            elif op == 0x80:
                a = (-a) & _MASK
            elif op == 0x90:
                if src == 0:
                    return False
                a = a % src
            elif op == 0xA0:
                a ^= src
        elif cls == 0x05:  # jmp
            op = code & 0xF0
            src = x if code & 0x08 else k
            if op == 0x00:
                pc += k
                continue
            if op == 0x10:
                taken = a == src
            elif op == 0x20:
                taken = a > src
            elif op == 0x30:
                taken = a >= src
            else:
                taken = bool(a & src)
            pc += jt if taken else jf
        elif cls == 0x06:  # ret
            return bool((a if code & 0x18 == 0x10 else k))
        elif cls == 0x07:  # misc: tax / txa
            if code & 0xF8 == 0x00:
                x = a
            else:
                a = x
    return False
