/* SPDX-License-Identifier: MIT */
/*
 * tests/switch.c - the context switch (runtime/switch_*.S) keeps what the
 * ABI says a call preserves: every callee-saved register holds its value
 * across a corio_yield() while other tasks run with other values in them,
 * and each task keeps its own floating-point rounding mode (MXCSR and the
 * x87 control word on x86_64, FPCR on aarch64).  The registers are set and
 * read by a small assembly routine per architecture, since C cannot say
 * which register holds what.  Runs natively and, cross-built, under
 * qemu-user (.ci/aarch64).
 */
#include "util.h"

#include <fenv.h>
#include <stdint.h>

enum { TASKS = 4, ROUNDS = 50 };

/*
 * void regs_across_yield(uint64_t base, uint64_t *out) - put base+0,
 * base+1, ... into every callee-saved register, call corio_yield(), then
 * store what those registers hold into out[] in the same order.
 * x86_64: rbx r12 r13 r14 r15 rbp (6).  aarch64: x19-x28 and d8-d15 (18).
 */
void regs_across_yield(uint64_t base, uint64_t *out);

#if defined(__x86_64__)
#define NREGS 6
__asm__(
	"	.text\n"
	"	.p2align 4\n"
	"	.type regs_across_yield, @function\n"
	"regs_across_yield:\n"
	"	pushq %rbp\n"
	"	pushq %rbx\n"
	"	pushq %r12\n"
	"	pushq %r13\n"
	"	pushq %r14\n"
	"	pushq %r15\n"
	"	pushq %rsi\n" /* out; the stack is 16-byte aligned again */
	"	leaq 0(%rdi), %rbx\n"
	"	leaq 1(%rdi), %r12\n"
	"	leaq 2(%rdi), %r13\n"
	"	leaq 3(%rdi), %r14\n"
	"	leaq 4(%rdi), %r15\n"
	"	leaq 5(%rdi), %rbp\n"
	"	call corio_yield@PLT\n"
	"	movq (%rsp), %rsi\n"
	"	movq %rbx, 0(%rsi)\n"
	"	movq %r12, 8(%rsi)\n"
	"	movq %r13, 16(%rsi)\n"
	"	movq %r14, 24(%rsi)\n"
	"	movq %r15, 32(%rsi)\n"
	"	movq %rbp, 40(%rsi)\n"
	"	popq %rsi\n"
	"	popq %r15\n"
	"	popq %r14\n"
	"	popq %r13\n"
	"	popq %r12\n"
	"	popq %rbx\n"
	"	popq %rbp\n"
	"	ret\n"
	"	.size regs_across_yield, .-regs_across_yield\n");
#elif defined(__aarch64__)
#define NREGS 18
/* Frame (176 bytes): x29 x30 | x19..x28 | out | pad | d8..d15. */
__asm__(
	"	.text\n"
	"	.p2align 4\n"
	"	.type regs_across_yield, %function\n"
	"regs_across_yield:\n"
	"	stp x29, x30, [sp, #-176]!\n"
	"	mov x29, sp\n"
	"	stp x19, x20, [sp, #16]\n"
	"	stp x21, x22, [sp, #32]\n"
	"	stp x23, x24, [sp, #48]\n"
	"	stp x25, x26, [sp, #64]\n"
	"	stp x27, x28, [sp, #80]\n"
	"	str x1, [sp, #96]\n"
	"	stp d8, d9, [sp, #112]\n"
	"	stp d10, d11, [sp, #128]\n"
	"	stp d12, d13, [sp, #144]\n"
	"	stp d14, d15, [sp, #160]\n"
	"	add x19, x0, #0\n"
	"	add x20, x0, #1\n"
	"	add x21, x0, #2\n"
	"	add x22, x0, #3\n"
	"	add x23, x0, #4\n"
	"	add x24, x0, #5\n"
	"	add x25, x0, #6\n"
	"	add x26, x0, #7\n"
	"	add x27, x0, #8\n"
	"	add x28, x0, #9\n"
	"	add x9, x0, #10\n"
	"	fmov d8, x9\n"
	"	add x9, x0, #11\n"
	"	fmov d9, x9\n"
	"	add x9, x0, #12\n"
	"	fmov d10, x9\n"
	"	add x9, x0, #13\n"
	"	fmov d11, x9\n"
	"	add x9, x0, #14\n"
	"	fmov d12, x9\n"
	"	add x9, x0, #15\n"
	"	fmov d13, x9\n"
	"	add x9, x0, #16\n"
	"	fmov d14, x9\n"
	"	add x9, x0, #17\n"
	"	fmov d15, x9\n"
	"	bl corio_yield\n"
	"	ldr x9, [sp, #96]\n"
	"	stp x19, x20, [x9, #0]\n"
	"	stp x21, x22, [x9, #16]\n"
	"	stp x23, x24, [x9, #32]\n"
	"	stp x25, x26, [x9, #48]\n"
	"	stp x27, x28, [x9, #64]\n"
	"	stp d8, d9, [x9, #80]\n"
	"	stp d10, d11, [x9, #96]\n"
	"	stp d12, d13, [x9, #112]\n"
	"	stp d14, d15, [x9, #128]\n"
	"	ldp x19, x20, [sp, #16]\n"
	"	ldp x21, x22, [sp, #32]\n"
	"	ldp x23, x24, [sp, #48]\n"
	"	ldp x25, x26, [sp, #64]\n"
	"	ldp x27, x28, [sp, #80]\n"
	"	ldp d8, d9, [sp, #112]\n"
	"	ldp d10, d11, [sp, #128]\n"
	"	ldp d12, d13, [sp, #144]\n"
	"	ldp d14, d15, [sp, #160]\n"
	"	ldp x29, x30, [sp], #176\n"
	"	ret\n"
	"	.size regs_across_yield, .-regs_across_yield\n");
#else
#error "corio supports x86_64 and aarch64"
#endif

/* Many rounds of the routine, each with values no other task uses. */
static void *regs_task(void *arg)
{
	uint64_t id = (uint64_t)(uintptr_t)arg;
	for (uint64_t r = 0; r < ROUNDS; r++) {
		uint64_t base = (id << 40) | (r << 16), out[NREGS];
		regs_across_yield(base, out);
		for (int i = 0; i < NREGS; i++)
			if (out[i] != base + (uint64_t)i)
				return (void *)(uintptr_t)(i + 1); /* the register that changed */
	}
	return NULL;
}

static void *regs_main(void *arg)
{
	(void)arg;
	corio_task *ts[TASKS];
	for (uintptr_t i = 0; i < TASKS; i++)
		cr_assert_eq(corio_spawn(&ts[i], regs_task, (void *)(i + 1)), 0);
	/* the main task takes part too, with its own values */
	void *mine = regs_task((void *)(uintptr_t)(TASKS + 1));
	cr_assert_null(mine, "main task: callee-saved register %d changed", (int)(uintptr_t)mine - 1);
	for (int i = 0; i < TASKS; i++) {
		void *res;
		cr_assert_eq(corio_join(ts[i], &res), 0);
		cr_assert_null(res, "task %d: callee-saved register %d changed", i,
			       (int)(uintptr_t)res - 1);
	}
	return NULL;
}

Test(switch, callee_saved_registers_survive_a_switch, .timeout = WAIT_TEST_TIMEOUT)
{
	t_run(regs_main, NULL, NULL);
}

/* ---- the rounding mode ----------------------------------------------------- */

static const int modes[] = {FE_UPWARD, FE_DOWNWARD, FE_TOWARDZERO};

/* The rounding mode in every control register that has one: glibc's
 * fegetround() reads only the x87 control word on x86_64, so MXCSR's
 * rounding bits (13-14, in the same encoding shifted by 3) are read too. */
static int rounding(void)
{
	int mode = fegetround();
#if defined(__x86_64__)
	int sse = (int)(__builtin_ia32_stmxcsr() >> 3) & 0xc00;
	if (sse != mode)
		return -1;
#endif
	return mode;
}

/* Set a rounding mode of its own, yield, find it still set.  A new task
 * starts rounding to nearest. */
static void *round_task(void *arg)
{
	int mode = modes[(uintptr_t)arg % 3];
	if (rounding() != FE_TONEAREST)
		return (void *)1;
	for (int r = 0; r < ROUNDS; r++) {
		fesetround(mode);
		corio_yield();
		if (rounding() != mode)
			return (void *)2;
	}
	return NULL;
}

static void *round_main(void *arg)
{
	(void)arg;
	corio_task *ts[TASKS];
	for (uintptr_t i = 0; i < TASKS; i++)
		cr_assert_eq(corio_spawn(&ts[i], round_task, (void *)i), 0);
	for (int i = 0; i < TASKS; i++) {
		void *res;
		cr_assert_eq(corio_join(ts[i], &res), 0);
		cr_assert_null(res, "task %d: rounding mode check %d failed", i, (int)(uintptr_t)res);
	}
	cr_assert_eq(rounding(), FE_TONEAREST, "the main task kept its own mode");
	return NULL;
}

Test(switch, each_task_keeps_its_rounding_mode, .timeout = WAIT_TEST_TIMEOUT)
{
	t_run(round_main, NULL, NULL);
}
