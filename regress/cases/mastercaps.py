# The master stays root but keeps only the capabilities it needs: it can
# change ids, chroot and bind low ports, and it cannot administer the
# system, load modules, trace processes or open raw sockets.

CONFIG = '''
prefork = 1
listen "127.0.0.1:{port}" { tls = no }
'''

CAP_SETGID = 6
CAP_SETUID = 7
CAP_NET_BIND_SERVICE = 10
CAP_NET_RAW = 13
CAP_SYS_MODULE = 16
CAP_SYS_CHROOT = 18
CAP_SYS_PTRACE = 19
CAP_SYS_ADMIN = 21


def run(t):
	t.start()
	st = t.proc_status(t.pid)
	eff = int(st["CapEff"], 16)
	with open("/proc/sys/kernel/cap_last_cap") as f:
		full = (1 << (int(f.read()) + 1)) - 1

	t.expect(eff != 0, "master has no capabilities at all")
	t.expect(eff != full, f"master kept the full set {eff:#x}")

	for cap in (CAP_SETUID, CAP_SETGID, CAP_SYS_CHROOT,
	    CAP_NET_BIND_SERVICE):
		t.expect(eff & (1 << cap), f"master lacks capability {cap} "
		    f"(CapEff {eff:#x})")
	for cap in (CAP_SYS_ADMIN, CAP_SYS_MODULE, CAP_SYS_PTRACE,
	    CAP_NET_RAW):
		t.expect(not eff & (1 << cap), f"master still has capability "
		    f"{cap} (CapEff {eff:#x})")
