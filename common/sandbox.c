/*
 * Dropping privileges, in the order STYLE.md fixes: chroot, chdir("/"),
 * setgroups, setresgid, setresuid, proof that the old ids are gone,
 * capabilities, NO_NEW_PRIVS, seccomp last.  Started without root the
 * process still gets NO_NEW_PRIVS and seccomp.
 *
 * In debug builds a forbidden system call traps: the handler logs its
 * name and then dies of SIGSYS, as a release build dies at once.
 */
#include <sys/types.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/capability.h>

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <seccomp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "sandbox.h"

struct sandbox {
	scmp_filter_ctx	 ctx;
	enum proc_type	 proc;
};

/* What every sandboxed process needs: its event loop, memory, time. */
static const int common_calls[] = {
	SCMP_SYS(read), SCMP_SYS(write), SCMP_SYS(readv), SCMP_SYS(writev),
	SCMP_SYS(pread64), SCMP_SYS(recvfrom), SCMP_SYS(recvmsg),
	SCMP_SYS(sendto), SCMP_SYS(sendmsg), SCMP_SYS(close),
	SCMP_SYS(shutdown), SCMP_SYS(getsockopt), SCMP_SYS(setsockopt),
	SCMP_SYS(getsockname), SCMP_SYS(getpeername),
	SCMP_SYS(epoll_wait), SCMP_SYS(epoll_pwait), SCMP_SYS(epoll_ctl),
	SCMP_SYS(poll), SCMP_SYS(clock_gettime), SCMP_SYS(gettimeofday),
	SCMP_SYS(time), SCMP_SYS(nanosleep), SCMP_SYS(clock_nanosleep),
	SCMP_SYS(brk), SCMP_SYS(mmap), SCMP_SYS(munmap), SCMP_SYS(mremap),
	SCMP_SYS(madvise), SCMP_SYS(mprotect), SCMP_SYS(fstat),
	SCMP_SYS(newfstatat), SCMP_SYS(statx), SCMP_SYS(lseek),
	SCMP_SYS(fcntl), SCMP_SYS(getrandom), SCMP_SYS(futex),
	SCMP_SYS(exit), SCMP_SYS(exit_group), SCMP_SYS(rt_sigreturn),
	SCMP_SYS(rt_sigaction), SCMP_SYS(rt_sigprocmask), SCMP_SYS(getpid),
	SCMP_SYS(gettid), SCMP_SYS(sched_yield), SCMP_SYS(restart_syscall),
	SCMP_SYS(sysinfo), SCMP_SYS(pipe2), SCMP_SYS(splice),
	SCMP_SYS(sendfile), SCMP_SYS(getuid), SCMP_SYS(geteuid),
	SCMP_SYS(getgid), SCMP_SYS(getegid), SCMP_SYS(prlimit64),
};

#ifdef VNCRELAYD_SANITIZE
/*
 * Only in builds with ASan and UBSan (make SANITIZE=1), which are for
 * tests: the sanitizer runtime sets up its own signal stack.
 */
static const int sanitizer_calls[] = {
	SCMP_SYS(sigaltstack),
};

/*
 * LeakSanitizer's check at exit needs ptrace and /proc, which a child in
 * its sandbox cannot have: it is off unless ASAN_OPTIONS says
 * detect_leaks=1, as -n runs and the case leak_sessions do.
 */
const char	*__asan_default_options(void);

const char *
__asan_default_options(void)
{
	return "detect_leaks=0";
}
#endif

/* Workers accept connections and read static files, nothing more. */
static const int worker_calls[] = {
	SCMP_SYS(accept), SCMP_SYS(accept4), SCMP_SYS(getdents64),
};

/* authd makes the upstream connections it approves. */
static const int authd_calls[] = {
	SCMP_SYS(connect), SCMP_SYS(bind),
};

#ifdef VNCRELAYD_DEBUG
static void
sandbox_sigsys(int sig, siginfo_t *info, void *uc)
{
	char	*name;
	char	 line[160];
	int	 n;

	(void)uc;
	name = seccomp_syscall_resolve_num_arch(SCMP_ARCH_NATIVE,
	    info->si_syscall);
	n = snprintf(line, sizeof(line), "%s: sandbox: forbidden system call "
	    "%s (%d)\n", log_getprocname(), name ? name : "?", info->si_syscall);
	if (write(STDERR_FILENO, line, n) == -1)
		(void)0;
	/* SA_RESETHAND made the action default again: die of SIGSYS. */
	raise(sig);
}
#endif

static int
sandbox_allow(scmp_filter_ctx ctx, const int *calls, size_t n)
{
	size_t	 i;

	for (i = 0; i < n; i++)
		if (seccomp_rule_add(ctx, SCMP_ACT_ALLOW, calls[i], 0) < 0)
			return -1;
	return 0;
}

/* Rules that look at arguments: read-only opens, FIONREAD, self-signals. */
static int
sandbox_argrules(scmp_filter_ctx ctx, enum proc_type proc)
{
	int	 writes = O_WRONLY | O_RDWR | O_CREAT | O_TRUNC | O_APPEND;

	if (seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(openat), 1,
	    SCMP_A2(SCMP_CMP_MASKED_EQ, writes, 0)) < 0)
		return -1;
	if (seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(ioctl), 1,
	    SCMP_A1(SCMP_CMP_EQ, FIONREAD)) < 0)
		return -1;
	if (seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(tgkill), 1,
	    SCMP_A0(SCMP_CMP_EQ, getpid())) < 0)
		return -1;
	if (proc == PROC_AUTHD) {
		if (seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(socket), 1,
		    SCMP_A0(SCMP_CMP_EQ, AF_INET)) < 0 ||
		    seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(socket), 1,
		    SCMP_A0(SCMP_CMP_EQ, AF_INET6)) < 0 ||
		    seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(socket), 1,
		    SCMP_A0(SCMP_CMP_EQ, AF_UNIX)) < 0)
			return -1;
	}
	return 0;
}

struct sandbox *
sandbox_prepare(enum proc_type proc)
{
	struct sandbox	*sb;
	uint32_t	 deny;

#ifdef VNCRELAYD_DEBUG
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = sandbox_sigsys;
	sa.sa_flags = SA_SIGINFO | SA_RESETHAND | SA_NODEFER;
	sigaction(SIGSYS, &sa, NULL);
	deny = SCMP_ACT_TRAP;
#else
	deny = SCMP_ACT_KILL_PROCESS;
#endif
	if ((sb = calloc(1, sizeof(*sb))) == NULL)
		fatal("sandbox");
	sb->proc = proc;
	if ((sb->ctx = seccomp_init(deny)) == NULL)
		fatalx("seccomp_init failed");
	if (sandbox_allow(sb->ctx, common_calls, sizeof(common_calls) /
	    sizeof(common_calls[0])) == -1 || sandbox_argrules(sb->ctx, proc))
		fatalx("seccomp rules failed");
#ifdef VNCRELAYD_SANITIZE
	if (sandbox_allow(sb->ctx, sanitizer_calls, sizeof(sanitizer_calls) /
	    sizeof(sanitizer_calls[0])) == -1)
		fatalx("seccomp sanitizer rules failed");
#endif
	if (proc == PROC_WORKER && sandbox_allow(sb->ctx, worker_calls,
	    sizeof(worker_calls) / sizeof(worker_calls[0])) == -1)
		fatalx("seccomp worker rules failed");
	if (proc == PROC_AUTHD && sandbox_allow(sb->ctx, authd_calls,
	    sizeof(authd_calls) / sizeof(authd_calls[0])) == -1)
		fatalx("seccomp authd rules failed");
	return sb;
}

static void
sandbox_ids(const char *root, const char *user)
{
	struct passwd	*pw;
	uid_t		 uid;
	gid_t		 gid;

	if ((pw = getpwnam(user)) == NULL)
		fatalx("unknown user %s", user);
	uid = pw->pw_uid;
	gid = pw->pw_gid;
	if (chroot(root) == -1)
		fatal("chroot %s", root);
	if (chdir("/") == -1)
		fatal("chdir /");
	if (setgroups(1, &gid) == -1 || setresgid(gid, gid, gid) == -1 ||
	    setresuid(uid, uid, uid) == -1)
		fatal("cannot drop privileges to %s", user);
	/* Prove it: the old ids must be out of reach. */
	if (uid != 0 && (setuid(0) != -1 || seteuid(0) != -1))
		fatalx("could regain root after dropping privileges");
	if (gid != 0 && (setgid(0) != -1 || setegid(0) != -1))
		fatalx("could regain group 0 after dropping privileges");
}

static void
sandbox_caps(void)
{
	cap_t	 caps;

	if ((caps = cap_init()) == NULL || cap_set_proc(caps) == -1)
		fatal("cannot drop capabilities");
	cap_free(caps);
	prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
}

void
sandbox_enter(struct sandbox *sb, const char *root, const char *user)
{
	if (geteuid() == 0)
		sandbox_ids(root, user);
	sandbox_caps();
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == -1)
		fatal("PR_SET_NO_NEW_PRIVS");
#ifdef VNCRELAYD_SANITIZE
	/*
	 * LeakSanitizer stops the process with ptrace and reads /proc: the
	 * regress case leak_sessions starts a sanitizer build without root
	 * (no chroot) and asks for this, and for nothing else.
	 */
	if (getenv("VNCRELAYD_LEAK_CHECK") != NULL) {
		log_warnx("sandbox: no seccomp filter, for LeakSanitizer");
		seccomp_release(sb->ctx);
		free(sb);
		return;
	}
#endif
	if (seccomp_load(sb->ctx) < 0)
		fatalx("cannot load the seccomp filter");
	seccomp_release(sb->ctx);
	free(sb);
}
