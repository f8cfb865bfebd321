# The master stays root but keeps only the capabilities it needs: it can
# change ids, chroot and bind low ports, and it cannot administer the
# system, load modules, trace processes or open raw sockets.  Exactly the
# set below stays, in the effective and the bounding set, so no child can
# regain anything else through exec.

CONFIG = '''
prefork = 1
listen "127.0.0.1:{port}" { tls = no }
'''

CAP_CHOWN = 0		# the control socket goes to its group
CAP_DAC_OVERRIDE = 1	# reloads read the files the configuration names
CAP_FOWNER = 3		# chmod of the control socket
CAP_KILL = 5		# signals children that run as another user
CAP_SETGID = 6
CAP_SETUID = 7		# children drop to the daemon's user
CAP_NET_BIND_SERVICE = 10	# a reload may add a listener below 1024
CAP_NET_RAW = 13
CAP_SYS_MODULE = 16
CAP_SYS_CHROOT = 18	# children chroot
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

	want = 0
	for cap in (CAP_CHOWN, CAP_DAC_OVERRIDE, CAP_FOWNER, CAP_KILL,
	    CAP_SETGID, CAP_SETUID, CAP_NET_BIND_SERVICE, CAP_SYS_CHROOT):
		want |= 1 << cap
	bnd = int(st["CapBnd"], 16)
	t.expect(eff == want, f"master's CapEff {eff:#x} is not exactly "
	    f"{want:#x}: more {eff & ~want:#x}, fewer {want & ~eff:#x}")
	t.expect(bnd == want, f"master's CapBnd {bnd:#x} is not exactly "
	    f"{want:#x}: more {bnd & ~want:#x}, fewer {want & ~bnd:#x}")
