/* SPDX-License-Identifier: MIT */
/*
 * switch_x86_64.S - the context switch between tasks and the scheduler on
 * x86_64 (System V ABI).  Saves only what a call must preserve: rbx, rbp,
 * r12-r15, the MXCSR control bits and the x87 control word.  Everything
 * else is caller-saved, so the compiler has already spilled it.
 *
 * Frame pushed on the stack being left (low to high):
 *   [sp+0] mxcsr  [sp+4] x87 cw  [sp+8] r15  r14  r13  r12  rbx  rbp  [sp+56] ret
 * A new task's frame is built by corio__stack_init_frame() with ret =
 * corio__trampoline, r12 = the task, r13 = the entry function.
 */
	.text

/* void corio__switch(void **save_sp, void *to_sp) */
	.globl	corio__switch
	.hidden	corio__switch
	.type	corio__switch, @function
	.p2align 4
corio__switch:
	.cfi_startproc
	pushq	%rbp
	pushq	%rbx
	pushq	%r12
	pushq	%r13
	pushq	%r14
	pushq	%r15
	subq	$8, %rsp
	stmxcsr	(%rsp)
	fnstcw	4(%rsp)
	movq	%rsp, (%rdi)
	movq	%rsi, %rsp
	ldmxcsr	(%rsp)
	fldcw	4(%rsp)
	addq	$8, %rsp
	popq	%r15
	popq	%r14
	popq	%r13
	popq	%r12
	popq	%rbx
	popq	%rbp
	ret
	.cfi_endproc
	.size	corio__switch, .-corio__switch

/* First code a new task runs: entry(task), which never returns. */
	.globl	corio__trampoline
	.hidden	corio__trampoline
	.type	corio__trampoline, @function
	.p2align 4
corio__trampoline:
	.cfi_startproc
	.cfi_undefined rip	/* the outermost frame: stop unwinders here */
	movq	%r12, %rdi
	callq	*%r13
	ud2
	.cfi_endproc
	.size	corio__trampoline, .-corio__trampoline

	.section .note.GNU-stack,"",@progbits
