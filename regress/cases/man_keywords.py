# Every keyword that master/parse.c accepts is documented in
# man/vncrelayd.conf.5 as ".It Ic keyword", with its default (or that it
# is required); every ".It Ic" keyword of the page is one the parser
# accepts.  debug-triggers, parsed only in debug builds, is documented as
# such.

import os
import re

TOP = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
PARSER = os.path.join(TOP, "master", "parse.c")
PAGE = os.path.join(TOP, "man", "vncrelayd.conf.5")

# CFG_STR("name", ...), CFG_INT_CB("name", ...), CFG_SEC("name", ...),
# INT_OPT("name", ...) and the rest of libconfuse's option macros.  The
# whole file is searched, #ifdef'd parts included.
OPTION_RE = re.compile(r'\b(CFG_(?:STR|INT|BOOL|FLOAT|SEC|FUNC|PTR|'
    r'STR_LIST|INT_LIST|BOOL_LIST|FLOAT_LIST)(?:_CB)?|INT_OPT)\s*\(\s*'
    r'"([^"]+)"')
ITEM_RE = re.compile(r'^\.It Ic (\S+)(.*)$')
DEBUG_ONLY = {"debug-triggers"}


def without_comments(text):
	text = re.sub(r"/\*.*?\*/", " ", text, flags=re.S)
	return re.sub(r"//[^\n]*", " ", text)


def parser_keywords():
	with open(PARSER) as f:
		text = without_comments(f.read())
	sections = set()
	words = set()
	for kind, name in OPTION_RE.findall(text):
		words.add(name)
		if kind.startswith("CFG_SEC"):
			sections.add(name)
	return words, sections


def page_items():
	"""{keyword: [(line number, rest of the .It line, body text)]}"""
	with open(PAGE) as f:
		lines = f.read().splitlines()
	items = {}
	for i, line in enumerate(lines):
		m = ITEM_RE.match(line)
		if not m:
			continue
		body = []
		for follow in lines[i + 1:]:
			if follow.startswith((".It", ".El", ".Sh", ".Ss")):
				break
			if not follow.startswith('.\\"'):
				body.append(follow)
		items.setdefault(m.group(1), []).append((i + 1, m.group(2),
		    "\n".join(body)))
	return items


def run(t):
	words, sections = parser_keywords()
	t.expect(len(words) > 20, f"found only {len(words)} keywords in "
	    f"{PARSER}: is the pattern still right?")
	t.expect(DEBUG_ONLY <= words, f"{PARSER} no longer has "
	    f"{sorted(DEBUG_ONLY - words)}: update this case")
	items = page_items()
	problems = []

	for w in sorted(words - set(items)):
		problems.append(f"keyword {w} has no '.It Ic {w}' in the page")
	for w in sorted(set(items) - words):
		lines = ",".join(str(n) for n, _, _ in items[w])
		problems.append(f"'.It Ic {w}' (line {lines}) is no keyword of "
		    "the parser")

	for w in sorted(words & set(items)):
		for lineno, rest, body in items[w]:
			if not re.match(r"\s+(Ar|Cm|Brq)\b", rest):
				problems.append(f"line {lineno}: '.It Ic {w}' "
				    "without its argument (Ar, Cm or Brq)")
			if w in sections:
				continue
			if not re.search(r"\b(default|[Rr]equired)\b", body):
				problems.append(f"line {lineno}: {w}: neither "
				    "its default nor 'required'")

	for w in sorted(DEBUG_ONLY & set(items)):
		for lineno, _, body in items[w]:
			if not re.search(r"[Dd]ebug builds? only", body):
				problems.append(f"line {lineno}: {w} is not "
				    "documented as debug-build only")

	t.note(f"{len(words)} keywords in parse.c, {len(items)} in the page")
	t.expect(not problems, "; ".join(problems))
