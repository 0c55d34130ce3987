#!/usr/bin/env python3
"""Writes ../x86_executor_forms.inc: the instructions the executor's differential test runs natively and
emulated, encoded by GNU as (binutils), so the test's bytes come from an independent assembler.

Run from this folder after changing FORMS: python3 gen_executor_forms.py > ../x86_executor_forms.inc

Conventions the test relies on: memory operands use RBX (the buffer) plus an optional RCX index and a
small displacement; string instructions use RSI/RDI/RCX, which the test points into the buffer.
"""
import re
import subprocess
import tempfile
import os

ALU = ['add', 'or', 'adc', 'sbb', 'and', 'sub', 'xor', 'cmp']
FORMS = []

# Data movement.
FORMS += [
    'mov byte ptr [rbx+0x10], dl', 'mov byte ptr [rbx+0x11], ah', 'mov byte ptr [rbx+0x12], sil',
    'mov word ptr [rbx+0x13], dx', 'mov dword ptr [rbx+rcx*4+8], edx', 'mov qword ptr [rbx+0x18], r9',
    'mov bh, byte ptr [rbx+5]', 'mov dx, word ptr [rbx+0x22]', 'mov edx, dword ptr [rbx+0x21]',
    'mov r14, qword ptr [rbx+rcx*4+3]', 'mov byte ptr [rbx+7], 0xa5', 'mov word ptr [rbx+9], 0x1234',
    'mov dword ptr [rbx+0xb], 0xdeadbeef', 'mov qword ptr [rbx+0xd], -0x80000000',
    'movzx edx, byte ptr [rbx+0x31]', 'movzx dx, byte ptr [rbx+0x31]', 'movzx r11, word ptr [rbx+0x33]',
    'movsx edx, byte ptr [rbx+0x35]', 'movsx rdx, word ptr [rbx+0x37]', 'movsx dx, byte ptr [rbx+0x39]',
    'movsxd rdx, dword ptr [rbx+0x3b]',
    'mov eax, dword ptr [ebx+ecx*4+8]', 'mov word ptr [ebx+0x10], si',  # 67: 32-bit addressing
]

# ALU with memory operands at every width, both directions, immediates, LOCK.
for op in ALU:
    FORMS += [
        f'{op} byte ptr [rbx+0x10], dl', f'{op} dword ptr [rbx+rcx*4+8], esi', f'{op} word ptr [rbx+0x12], di',
        f'{op} qword ptr [rbx+0x18], r9', f'{op} ah, byte ptr [rbx+5]', f'{op} r10d, dword ptr [rbx+0x20]',
        f'{op} r10, qword ptr [rbx+0x20]', f'{op} byte ptr [rbx+0x11], 0x7f', f'{op} dword ptr [rbx+0x14], 0x12345678',
        f'{op} qword ptr [rbx+0x1c], -5', f'{op} word ptr [rbx+0x1a], 0x8001', f'{op} word ptr [rbx+0x1a], -3',
        f'{op} qword ptr [rbx+0x1c], 0x7fffffff', f'{op} al, 0x85', f'{op} dword ptr [ebx+ecx*2+6], eax',
    ]
    if op != 'cmp':
        FORMS += [f'lock {op} dword ptr [rbx+0x30], eax', f'lock {op} byte ptr [rbx+0x31], 0x33']

FORMS += [
    'test byte ptr [rbx+0x10], dl', 'test qword ptr [rbx+8], r11', 'test word ptr [rbx+6], si',
    'test byte ptr [rbx+3], 0x81', 'test dword ptr [rbx+4], 0x80000001', 'test qword ptr [rbx+4], -2',
    'test word ptr [rbx+4], 0x8000', 'test al, 5', 'test eax, 0x40000000',
]
for op in ['not', 'neg', 'inc', 'dec']:
    FORMS += [f'{op} byte ptr [rbx+0x10]', f'{op} word ptr [rbx+0x11]', f'{op} dword ptr [rbx+rcx*4+2]',
              f'{op} qword ptr [rbx+0x13]', f'lock {op} dword ptr [rbx+0x20]', f'lock {op} qword ptr [rbx+0x21]']

FORMS += [
    'xchg byte ptr [rbx+0x10], cl', 'xchg byte ptr [rbx+0x10], ah', 'xchg word ptr [rbx+0x12], dx',
    'xchg dword ptr [rbx+0x14], esi', 'xchg qword ptr [rbx+0x18], r13', 'lock xchg dword ptr [rbx+0x14], edi',
    'xchg edx, esi',
    'cmpxchg byte ptr [rbx+0x10], dl', 'cmpxchg word ptr [rbx+0x12], si', 'cmpxchg dword ptr [rbx+0x14], edi',
    'cmpxchg qword ptr [rbx+0x18], r8', 'lock cmpxchg dword ptr [rbx+0x14], edx',
    'lock cmpxchg qword ptr [rbx+rcx*8], r12', 'lock cmpxchg byte ptr [rbx+0x1f], bh', 'cmpxchg edx, esi',
    'xadd byte ptr [rbx+0x10], dl', 'xadd word ptr [rbx+0x12], si', 'xadd dword ptr [rbx+0x14], edi',
    'xadd qword ptr [rbx+0x18], r8', 'lock xadd dword ptr [rbx+0x14], edx', 'lock xadd qword ptr [rbx+0x18], r15',
    'xadd edx, edx', 'xadd byte ptr [rbx+0x10], ah',
]
for op in ['bt', 'bts', 'btr', 'btc']:
    FORMS += [f'{op} word ptr [rbx+0x20], dx', f'{op} dword ptr [rbx+0x20], edx', f'{op} qword ptr [rbx+0x20], rdx',
              f'{op} word ptr [rbx+0x20], 17', f'{op} dword ptr [rbx+0x20], 37', f'{op} qword ptr [rbx+8], 63',
              f'{op} eax, edx', f'{op} rax, 70']
    if op != 'bt':
        FORMS += [f'lock {op} dword ptr [rbx+0x20], edx', f'lock {op} qword ptr [rbx+0x8], 5']

for cc in ['o', 'no', 'b', 'ae', 'e', 'ne', 'be', 'a', 's', 'ns', 'p', 'np', 'l', 'ge', 'le', 'g']:
    FORMS.append(f'set{cc} byte ptr [rbx+rcx+3]')
FORMS += ['sete ah', 'setne sil']

# Strings: every element size, with and without REP, REPE and REPNE, and 32-bit addressing (67).
for suffix in 'bwdq':
    FORMS += [f'movs{suffix}', f'rep movs{suffix}', f'stos{suffix}', f'rep stos{suffix}', f'lods{suffix}', f'rep lods{suffix}',
              f'cmps{suffix}', f'repe cmps{suffix}', f'repne cmps{suffix}', f'scas{suffix}', f'repe scas{suffix}', f'repne scas{suffix}']
FORMS += ['addr32 rep movsb', 'addr32 movsd', 'addr32 rep stosw', 'addr32 lodsd', 'addr32 repe cmpsb', 'addr32 repne scasq',
          'addr32 rep lodsb', 'addr32 repne scasb', 'addr32 rep stosb', 'addr32 rep movsq', 'addr32 repne cmpsw',
          'repne movsb', 'repne stosq']


def assemble(lines):
    with tempfile.TemporaryDirectory() as d:
        src = os.path.join(d, 't.s')
        obj = os.path.join(d, 't.o')
        with open(src, 'w') as f:
            f.write('.intel_syntax noprefix\n.code64\n')
            for line in lines:
                f.write(line + '\n')
        subprocess.run(['as', '--64', '-o', obj, src], check=True)
        dump = subprocess.run(['objdump', '-d', '--insn-width=15', obj], check=True, capture_output=True, text=True).stdout
    encoded = []
    for line in dump.splitlines():
        m = re.match(r'^\s+[0-9a-f]+:\t((?:[0-9a-f]{2} )+)', line)
        if m:
            encoded.append(m.group(1).split())
    if len(encoded) != len(lines):
        raise SystemExit(f'{len(lines)} forms but {len(encoded)} instructions')
    return encoded


def main():
    version = subprocess.run(['as', '--version'], check=True, capture_output=True, text=True).stdout.splitlines()[0]
    print(f'// Generated by hypervisor/tests/tools/gen_executor_forms.py with {version}: each form\'s bytes are')
    print('// binutils\' encoding of the Intel-syntax text beside them. Do not edit; change the script.')
    for text, bytes_ in zip(FORMS, assemble(FORMS)):
        print(f'    {{"{text}", {{{", ".join("0x" + b for b in bytes_)}}}}},')


if __name__ == '__main__':
    main()
