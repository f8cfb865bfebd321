# vncrelayd: make builds build/vncrelayd; see README.md for the rest.

PREFIX		?= /usr/local
DESTDIR		?=
BINDIR		 = $(PREFIX)/sbin
MANDIR		 = $(PREFIX)/share/man
SHAREDIR	 = $(PREFIX)/share/vncrelayd
SYSCONFDIR	?= /etc

CC		?= gcc
PKGS		 = libevent libevent_openssl openssl libconfuse libcap libseccomp jansson
CPPFLAGS_BASE	 = -D_GNU_SOURCE -Icommon -DVNCRELAYD_WEBROOT='"$(SHAREDIR)/www"'
CFLAGS_BASE	 = -std=gnu11 -Wall -Wextra -Werror -g -fstack-protector-strong \
		   -D_FORTIFY_SOURCE=2 -fPIE
LDFLAGS_BASE	 = -pie -Wl,-z,relro,-z,now
LIBS		 = -levent_openssl -levent -lssl -lcrypto -lconfuse -lcap \
		   -lseccomp -ljansson

# SANITIZE=1 builds with ASan and UBSan into build/asan/, beside the plain
# build, and `make regress SANITIZE=1` runs the suite against it.
B		 = build
ifeq ($(SANITIZE),1)
SANFLAGS	 = -fsanitize=address,undefined -fno-omit-frame-pointer \
		   -DVNCRELAYD_SANITIZE
B		 = build/asan
endif

MASTER_SRCS	 = master/main.c master/parse.c master/child.c master/listen.c \
		   master/control.c master/remember.c master/bearer.c \
		   master/metrics.c
AUTHD_SRCS	 = authd/authd.c authd/connect.c authd/decide.c authd/token.c \
		   authd/limits.c authd/issue.c \
		   authd/fetch.c authd/upstream.c authd/prism.c authd/kubevirt.c \
		   authd/measure.c
WORKER_SRCS	 = worker/worker.c worker/server.c worker/static.c \
		   worker/route.c worker/session.c worker/tls.c \
		   worker/ws.c worker/http.c worker/api.c worker/upstream.c \
		   worker/report.c worker/relayio.c worker/exporter.c
COMMON_SRCS	 = common/log.c common/ipc.c common/conf.c common/util.c \
		   common/sandbox.c common/proc.c common/httpc.c \
		   common/tlsc.c common/tlscert.c common/secret.c common/stats.c \
		   common/replay.c common/siphash.c common/load.c
SRCS		 = $(MASTER_SRCS) $(AUTHD_SRCS) $(WORKER_SRCS) $(COMMON_SRCS)
HDRS		 = $(wildcard common/*.h master/*.h authd/*.h worker/*.h)

# make bench's load client and test upstream; bench_smoke runs them too.
BENCH_CFLAGS	 = -std=gnu11 -Wall -Wextra -Werror -g -O2 -pthread
WSLOAD_SRCS	 = bench/wsload.c bench/wsconn.c bench/token.c bench/proctree.c
BENCH_BINS	 = build/bench/wsload build/bench/benchup

REL_OBJS	 = $(SRCS:%.c=$(B)/obj/%.o)
DBG_OBJS	 = $(SRCS:%.c=$(B)/debug/obj/%.o)

all: $(B)/vncrelayd $(B)/vncrelayctl www

debug: $(B)/debug/vncrelayd $(B)/vncrelayctl www $(BENCH_BINS)

$(B)/vncrelayd: $(REL_OBJS)
	$(CC) $(LDFLAGS_BASE) $(SANFLAGS) -o $@ $(REL_OBJS) $(LIBS)

$(B)/vncrelayctl: ctl/vncrelayctl.c common/vncrelayd.h
	@mkdir -p $(B)
	$(CC) $(CPPFLAGS_BASE) $(CFLAGS_BASE) -O2 $(SANFLAGS) $(LDFLAGS_BASE) \
	    -o $@ ctl/vncrelayctl.c -ljansson

$(B)/debug/vncrelayd: $(DBG_OBJS)
	$(CC) $(LDFLAGS_BASE) $(SANFLAGS) -o $@ $(DBG_OBJS) $(LIBS)

# Each process directory sees common/ and itself, nothing else.
$(B)/obj/%.o: %.c $(HDRS)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS_BASE) -I$(dir $<) $(CFLAGS_BASE) -O2 $(SANFLAGS) -c -o $@ $<

$(B)/debug/obj/%.o: %.c $(HDRS)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS_BASE) -DVNCRELAYD_DEBUG -I$(dir $<) $(CFLAGS_BASE) -O1 $(SANFLAGS) -c -o $@ $<

include share/novnc/Makefile.inc

# make bench: the load client and the test upstream, then bench/run.

build/bench/wsload: $(WSLOAD_SRCS) bench/wsload.h bench/pattern.h
	@mkdir -p build/bench
	$(CC) -D_GNU_SOURCE $(BENCH_CFLAGS) -o $@ $(WSLOAD_SRCS) -lssl -lcrypto

build/bench/benchup: bench/upstream.c bench/pattern.h
	@mkdir -p build/bench
	$(CC) -D_GNU_SOURCE $(BENCH_CFLAGS) -o $@ bench/upstream.c

bench-tools: $(BENCH_BINS)

bench: deps all bench-tools
	/usr/bin/python3 bench/run

# Debian packages the build, the tests and the demo need.
DEB_BUILD	 = build-essential pkg-config libevent-dev libssl-dev \
		   libconfuse-dev libcap-dev libseccomp-dev libjansson-dev \
		   mandoc
DEB_TEST	 = python3 python3-websockets python3-jwt python3-cryptography \
		   tigervnc-standalone-server qemu-system-x86 chromium \
		   websockify socat openssl curl procps iproute2 util-linux \
		   clang libclang-rt-14-dev x11-xserver-utils

deps:
	@missing=""; for p in $(DEB_BUILD) $(DEB_TEST); do \
		dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | \
		    grep -q 'install ok installed' || missing="$$missing $$p"; \
	done; \
	command -v npm >/dev/null 2>&1 || missing="$$missing nodejs npm"; \
	if [ -n "$$missing" ]; then \
		echo "installing:$$missing"; \
		export DEBIAN_FRONTEND=noninteractive; \
		apt-get update -q && apt-get install -y -q --no-install-recommends $$missing; \
	fi
	@id _vncrelayd >/dev/null 2>&1 || useradd --system --no-create-home \
	    --home-dir /nonexistent --shell /usr/sbin/nologin _vncrelayd

regress: deps all debug
	VNCRELAYD=$(CURDIR)/$(B)/debug/vncrelayd \
	    VNCRELAYD_RELEASE=$(CURDIR)/$(B)/vncrelayd \
	    VNCRELAYCTL=$(CURDIR)/$(B)/vncrelayctl /usr/bin/python3 regress/run

# libFuzzer harnesses (regress/fuzz/README.md): each runs FUZZ_TIME seconds.
FUZZ_TIME	?= 60
fuzz:
	$(MAKE) -C regress/fuzz run FUZZ_TIME=$(FUZZ_TIME)

demo: deps all
	sh etc/demo.sh

# The examples in $(SHAREDIR)/examples name the installed paths, not the
# /usr/local defaults that etc/ shows.
install: all
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(MANDIR)/man5 \
	    $(DESTDIR)$(MANDIR)/man8 $(DESTDIR)$(SHAREDIR)/www \
	    $(DESTDIR)$(SHAREDIR)/examples
	install -m 0755 $(B)/vncrelayd $(DESTDIR)$(BINDIR)/vncrelayd
	install -m 0755 $(B)/vncrelayctl $(DESTDIR)$(BINDIR)/vncrelayctl
	cp -R $(WWW_DIR)/. $(DESTDIR)$(SHAREDIR)/www/
	install -m 0644 man/vncrelayd.8 man/vncrelayctl.8 $(DESTDIR)$(MANDIR)/man8/
	install -m 0644 man/vncrelayd.conf.5 $(DESTDIR)$(MANDIR)/man5/
	install -d $(DESTDIR)$(SHAREDIR)/examples/rc.d \
	    $(DESTDIR)$(SHAREDIR)/examples/sysusers.d \
	    $(DESTDIR)$(SHAREDIR)/examples/tmpfiles.d
	for f in vncrelayd.conf vncrelayd.service rc.d/vncrelayd \
	    sysusers.d/vncrelayd.conf tmpfiles.d/vncrelayd.conf; do \
		sed -e 's|/usr/local/sbin|$(BINDIR)|g' \
		    -e 's|/usr/local/share/vncrelayd|$(SHAREDIR)|g' etc/$$f \
		    > $(DESTDIR)$(SHAREDIR)/examples/$$f.tmp && \
		chmod 0644 $(DESTDIR)$(SHAREDIR)/examples/$$f.tmp && \
		mv $(DESTDIR)$(SHAREDIR)/examples/$$f.tmp \
		    $(DESTDIR)$(SHAREDIR)/examples/$$f || exit 1; \
	done
	chmod 0755 $(DESTDIR)$(SHAREDIR)/examples/rc.d/vncrelayd
	@if [ -z "$(DESTDIR)" ] && ! id _vncrelayd >/dev/null 2>&1; then \
		useradd --system --no-create-home --home-dir /nonexistent \
		    --shell /usr/sbin/nologin _vncrelayd; fi

clean:
	rm -rf build

.PHONY: all debug deps regress fuzz demo install clean www bench bench-tools
