"""
lib_metrics.py: what the metrics_* cases share beside regress/harness.py.

    sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
    import lib_metrics

- scrape(t, port): GET /metrics from the metrics listener, checked by
  parse() and returned as a Page;
- recv_all(sock): what a connection sends until its EOF;
- tcp_sockets(port): the IPv4 TCP sockets on a local port that a process
  holds, from /proc/net/tcp;
- parse(t, text): a strict line check of the Prometheus text exposition
  format 0.0.4, as the daemon must write it: every line is "# HELP",
  "# TYPE" or a sample; names and label names have the format's syntax,
  label values only its escapes; every sample belongs to the family whose
  TYPE line came before it, a family's samples stand together, no sample
  is there twice; values are numbers; counters are not negative; each
  histogram series has its buckets in rising le order, cumulative, ending
  with le="+Inf" equal to its _count, and a _sum.

Every failure goes through t.fail()/t.expect().
"""

import math
import re
import socket

NAME = r"[a-zA-Z_:][a-zA-Z0-9_:]*"
LABEL = r"[a-zA-Z_][a-zA-Z0-9_]*"
VALUE = r'"(?:[^"\\\n]|\\[\\"n])*"'
HELP_RE = re.compile(rf"# HELP ({NAME}) ((?:[^\\\n]|\\[\\n])*)")
TYPE_RE = re.compile(rf"# TYPE ({NAME}) "
    r"(counter|gauge|histogram|summary|untyped)")
SAMPLE_RE = re.compile(rf"({NAME})(?:\{{((?:{LABEL}={VALUE},)*"
    rf"(?:{LABEL}={VALUE})?)\}})? (\S+)(?: (-?[0-9]+))?")
PAIR_RE = re.compile(rf"({LABEL})=({VALUE}),?")
FLOAT_RE = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)"
    r"(?:[eE][+-]?[0-9]+)?|[+-]?Inf|NaN")


def unescape(v):
	return re.sub(r"\\(.)", lambda m: "\n" if m.group(1) == "n" else
	    m.group(1), v[1:-1])


class Page:
	"""A parsed page: .types {family: type}, .samples {(name, labels):
	value} with labels a sorted tuple of (name, value) pairs."""

	def __init__(self):
		self.types = {}
		self.helps = {}
		self.samples = {}

	def get(self, name, **labels):
		"""The value of one sample, or None."""
		return self.samples.get((name, tuple(sorted(labels.items()))))

	def series(self, name):
		"""{labels dict as a sorted tuple: value} of a sample name."""
		return {lb: v for (n, lb), v in self.samples.items() if n == name}


def family_of(name, types):
	"""The family a sample name belongs to, by the TYPE lines seen."""
	if name in types:
		return name
	for suffix in ("_bucket", "_sum", "_count"):
		base = name[:-len(suffix)]
		if name.endswith(suffix) and types.get(base) in ("histogram",
		    "summary"):
			return base
	return None


def parse_sample(t, n, line, page, current, done):
	m = SAMPLE_RE.fullmatch(line)
	t.expect(m is not None, f"line {n}: not a sample: {line!r}")
	name, labels, value = m.group(1), m.group(2) or "", m.group(3)
	fam = family_of(name, page.types)
	t.expect(fam is not None, f"line {n}: {name} has no TYPE line before "
	    "it")
	t.expect(fam == current or fam not in done, f"line {n}: samples of "
	    f"{fam} do not stand together")
	pairs = PAIR_RE.findall(labels)
	keys = [k for k, _ in pairs]
	t.expect(len(keys) == len(set(keys)), f"line {n}: a label twice")
	t.expect(FLOAT_RE.fullmatch(value) is not None,
	    f"line {n}: value {value!r} is not a number")
	key = (name, tuple(sorted((k, unescape(v)) for k, v in pairs)))
	t.expect(key not in page.samples, f"line {n}: {key} is there twice")
	v = float(value)
	if page.types[fam] == "counter" or name.endswith(("_bucket",
	    "_count")):
		t.expect(v >= 0 and not math.isnan(v),
		    f"line {n}: {name} is {value}, a count below zero")
	page.samples[key] = v
	return fam


def parse_comment(t, n, line, page, done):
	m = HELP_RE.fullmatch(line)
	if m:
		t.expect(m.group(1) not in page.helps,
		    f"line {n}: a second HELP for {m.group(1)}")
		page.helps[m.group(1)] = m.group(2)
		return
	m = TYPE_RE.fullmatch(line)
	t.expect(m is not None, f"line {n}: neither HELP nor TYPE: {line!r}")
	t.expect(m.group(1) not in page.types and m.group(1) not in done,
	    f"line {n}: a second TYPE for {m.group(1)}, or one after its "
	    "samples")
	page.types[m.group(1)] = m.group(2)


def parse(t, text):
	t.expect(text.endswith("\n"), "the page does not end with a newline")
	page = Page()
	current, done = None, set()
	for n, line in enumerate(text[:-1].split("\n"), 1):
		t.expect(line != "", f"line {n} is empty")
		if line.startswith("#"):
			parse_comment(t, n, line, page, done)
			continue
		fam = parse_sample(t, n, line, page, current, done)
		if fam != current:
			if current is not None:
				done.add(current)
			current = fam
	for fam, kind in page.types.items():
		if kind == "histogram":
			check_histogram(t, page, fam)
	return page


def check_histogram(t, page, fam):
	"""Per label set: buckets rising in le, cumulative, +Inf last and
	equal to _count; a _sum."""
	groups = {}
	for (name, labels), v in page.samples.items():
		if name != fam + "_bucket":
			continue
		rest = tuple(p for p in labels if p[0] != "le")
		le = dict(labels).get("le")
		t.expect(le is not None and FLOAT_RE.fullmatch(le) is not None,
		    f"{fam}: bucket {labels} without a numeric le")
		groups.setdefault(rest, []).append((float(le), v))
	counts = {lb for (name, lb) in page.samples if name == fam + "_count"}
	t.expect(counts == set(groups), f"{fam}: _count series {counts} are "
	    f"not the bucket series {set(groups)}")
	for rest, buckets in groups.items():
		buckets.sort()
		t.expect(buckets[-1][0] == math.inf, f"{fam}{rest}: no +Inf")
		values = [v for _, v in buckets]
		t.expect(values == sorted(values), f"{fam}{rest}: buckets are "
		    f"not cumulative: {buckets}")
		count = page.samples[(fam + "_count", rest)]
		t.expect(values[-1] == count, f"{fam}{rest}: +Inf bucket "
		    f"{values[-1]} but _count {count}")
		t.expect((fam + "_sum", rest) in page.samples,
		    f"{fam}{rest}: no _sum")


TCP_ESTABLISHED = "01"
TCP_LISTEN = "0A"


def tcp_sockets(port):
	"""{inode: (state, remote port)} of the IPv4 TCP sockets on local
	port that some process holds (not those that wait to be accepted, nor
	those in TIME_WAIT: their inode is 0)."""
	out = {}
	with open("/proc/net/tcp") as f:
		next(f)
		for line in f:
			fields = line.split()
			local, remote, state, inode = (fields[1], fields[2],
			    fields[3], fields[9])
			if int(local.split(":")[1], 16) == port and inode != "0":
				out[inode] = (state, int(remote.split(":")[1], 16))
	return out


def recv_all(s):
	"""What s receives until EOF (10000 reads at most)."""
	got = b""
	for _ in range(10000):
		data = s.recv(65536)
		if not data:
			break
		got += data
	return got


def http(t, port, request, timeout=10):
	"""Send raw bytes to the metrics listener; all it answers until EOF."""
	with socket.create_connection(("127.0.0.1", port),
	    timeout=timeout) as s:
		s.sendall(request)
		return recv_all(s)


def scrape(t, port):
	"""GET /metrics: 200, the format's content type, a page that parses."""
	got = http(t, port, b"GET /metrics HTTP/1.1\r\nHost: localhost\r\n"
	    b"\r\n")
	head, sep, body = got.partition(b"\r\n\r\n")
	t.expect(sep != b"", f"GET /metrics: no head in {got[:200]!r}")
	lines = head.decode("ascii").split("\r\n")
	t.expect(lines[0] == "HTTP/1.1 200 OK", f"GET /metrics: {lines[0]!r}")
	headers = {k.lower(): v.strip() for k, _, v in
	    (ln.partition(":") for ln in lines[1:])}
	t.expect(headers.get("content-type") ==
	    "text/plain; version=0.0.4; charset=utf-8",
	    f"GET /metrics: content type {headers.get('content-type')!r}")
	t.expect(headers.get("content-length") == str(len(body)),
	    f"GET /metrics: content length {headers.get('content-length')} "
	    f"for {len(body)} bytes")
	return parse(t, body.decode("utf-8"))
