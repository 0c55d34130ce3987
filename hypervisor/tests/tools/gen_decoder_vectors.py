import subprocess, re, json
cases = {
 '64': [
  ('mov %al,(%rdi)','mov',1),('mov %eax,(%rdi,%rcx,4)','mov',4),('mov %r9,0x8(%rdi)','mov',8),('mov (%rdi),%al','mov',1),
  ('mov 0x10(%rsp),%r10','mov',8),('movw $0xbeef,0x2(%rdi)','mov',2),('movq $-1,(%rax)','mov',8),('movb $0x12,0x1000(%rip)','mov',1),
  ('movabs %eax,0xd0000040','mov',4),('movabs 0xd0000040,%rax','mov',8),('mov %ah,(%rbx)','mov',1),('mov %sil,(%rbx)','mov',1),
  ('movzwl 0x2(%rdi),%ecx','movzx',4),('movzbq (%r13),%r14','movzx',8),('movsbw (%rsi),%ax','movsx',2),('movslq 0x4(%rdi),%rdx','movsxd',8),
  ('movsb','movs',1),('rep movsq','movs',8),('stos %eax,%es:(%rdi)','stos',4),('rep stosb','stos',1),('lodsw','lods',2),('repe cmpsb','cmps',1),('repne scasl','scas',4),
  ('add %eax,(%rdi)','add',4),('lock add %eax,(%rdi)','add',4),('or (%rdi),%cl','or',1),('adc $0x5,%al','adc',1),('sbbq $0x7f,(%rdx)','sbb',8),
  ('and $0x12345678,%rax','and',8),('sub %r8w,0x10(%r9,%r10,8)','sub',2),('xor %fs:0x28,%rax','xor',8),('cmpb $0x1,(%rax)','cmp',1),
  ('test %eax,(%rdi)','test',4),('testl $0x80,0x30(%rdi)','test',4),('test $0xff,%al','test',1),
  ('incl (%rdi)','inc',4),('lock decq (%rdi)','dec',8),('negb (%rsi)','neg',1),('notw (%rsi)','not',2),
  ('xchg %eax,(%rdi)','xchg',4),('lock cmpxchg %ecx,(%rdi)','cmpxchg',4),('lock xadd %rax,(%rdi)','xadd',8),('cmpxchg %bl,(%rdi)','cmpxchg',1),
  ('bt %eax,(%rdi)','bt',4),('btsq $0x3f,(%rdi)','bts',8),('lock btr %ecx,(%rdi)','btr',4),('btcw $0x3,(%rdi)','btc',2),
  ('sete (%rdi)','setcc',1),('setg 0x10(%rbp)','setcc',1),('mov %eax,%gs:(%r12)','mov',4),('addl $0x1,0x12345678(,%rbx,2)','add',4),
  ('mov (%r12),%eax','mov',4),('mov (%r13),%eax','mov',4),('mov 0x0(,%r12,1),%eax','mov',4),('addr32 mov (%eax),%ebx','mov',4),('mov %ax,(%rdi)','mov',2),
 ],
 '32': [
  ('mov %al,(%edi)','mov',1),('mov %eax,0x10(%ebp)','mov',4),('mov 0xd0000000,%eax','mov',4),('movw $0x1234,(%ebx)','mov',2),
  ('movzbl (%esi),%eax','movzx',4),('rep movsl','movs',4),('addr16 mov (%bx,%si),%al','mov',1),('lock incl (%ecx)','inc',4),('sete (%eax)','setcc',1),
 ],
 '16': [
  ('mov %al,(%bx,%si)','mov',1),('mov %ax,0x10(%bp)','mov',2),('mov 0x9000,%al','mov',1),('mov %eax,(%di)','mov',4),('movw $0x1234,0x2(%bx)','mov',2),
  ('rep insw','?',0),('rep movsb','movs',1),('addr32 mov (%eax),%ax','mov',2),('movzbw (%si),%ax','movzx',2),('incb (%bx)','inc',1),
 ],
}
out = []
for mode, insns in cases.items():
    for asm, mnem, size in insns:
        src = f'.code{mode}\n{asm}\n'
        open('t.s','w').write(src)
        subprocess.run(['as','--64','-o','t.o','t.s'], check=True, capture_output=True)
        d = subprocess.run(['objdump','-d','-M','suffix','t.o'], check=True, capture_output=True, text=True).stdout
        lines = [l for l in d.splitlines() if re.match(r'^\s+0:', l)]
        bs = []
        for l in d.splitlines():
            m = re.match(r'^\s+[0-9a-f]+:\t((?:[0-9a-f]{2} )+)', l)
            if m: bs += m.group(1).split()
        out.append((mode, asm, bs, mnem, size))
for mode, asm, bs, mnem, size in out:
    print(f'    {{CpuMode::{"Long64" if mode=="64" else "Protected32" if mode=="32" else "Real16"}, {{{", ".join("0x"+b for b in bs)}}}, "{mnem}", {size}}},  // {asm}')
