# With prefork 2 the master has exactly three children: one authd and two
# workers, each showing its role in its process title.

CONFIG = '''
prefork = 2
listen "127.0.0.1:{port}" { tls = no }
'''


def run(t):
	t.start()

	kids = t.children()
	titles = sorted(p.title for p in kids)
	t.expect(len(kids) == 3, f"master has 3 children, not {titles}")

	authd = [p for p in kids if p.title.startswith("vncrelayd: authd")]
	t.expect(len(authd) == 1, f"one authd among {titles}")

	workers = t.workers()
	t.expect(sorted(workers) == [0, 1], f"workers 0 and 1, not {titles}")

	master = open(f"/proc/{t.pid}/cmdline", "rb").read()
	t.expect(master.startswith(b"vncrelayd: master"),
	    f"master's title is {master!r}")

	# The master's pid is ours; nothing else runs with a master title
	# whose parent is the master (no nested masters).
	nested = [p for p in kids if p.title.startswith("vncrelayd: master")]
	t.expect(not nested, f"a child titled master: {nested}")
