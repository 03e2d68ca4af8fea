# cli-proxy-api: see README.md.  GNU make.
.DELETE_ON_ERROR:
.PHONY: all check clean install uninstall deps run unit e2e deb check-deb

PREFIX  ?= /usr/local
BINDIR  ?= $(PREFIX)/bin
MANDIR  ?= $(PREFIX)/share/man
DOCDIR  ?= $(PREFIX)/share/doc/cli-proxy-api
DESTDIR ?=
# Where systemd looks: system units under PREFIX/lib/systemd/system; user
# units under PREFIX/lib/systemd/user, or ~/.local/share/systemd/user when
# PREFIX is in the home directory (make install PREFIX=~/.local).
SYSTEMD_SYSTEM_DIR ?= $(PREFIX)/lib/systemd/system
SYSTEMD_USER_DIR ?= $(if $(filter $(HOME)/%,$(PREFIX)),$(PREFIX)/share/systemd/user,$(PREFIX)/lib/systemd/user)
UNITS      := $(wildcard units/*.socket units/*.service units/*.timer)
USER_UNITS := $(wildcard units/user/*.socket units/user/*.service units/user/*.timer)
CONTRIB    := contrib/xinetd.d/cli-proxy-api contrib/inetd.conf \
              contrib/org.cli-proxy-api.plist contrib/Dockerfile \
              contrib/config.example.yaml contrib/factory-config.json

CC      ?= cc
CFLAGS  ?= -O2 -g
WARN    := -std=c11 -D_GNU_SOURCE -Wall -Wextra -Wshadow -Wpointer-arith \
           -Wcast-qual -Wstrict-prototypes -Wmissing-prototypes -Wformat=2 \
           -Wundef -Wvla -Wwrite-strings -Wno-unused-parameter
HARDEN  := -fstack-protector-strong -D_FORTIFY_SOURCE=2 -fPIE
LDHARD  := -pie -Wl,-z,relro,-z,now
LIBS    := -lbearssl -lcjson -lyaml

ifeq ($(SANITIZE),1)
CFLAGS  := -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=all
HARDEN  := -fPIE
LDFLAGS += -fsanitize=address,undefined
endif

ALL_CFLAGS = $(WARN) $(HARDEN) $(CFLAGS) $(CPPFLAGS)
ALL_LDFLAGS = $(LDHARD) $(LDFLAGS)

# The modules live in one folder per layer (src/README); main.c is the
# entry at the top. Includes name the folder ("support/buf.h") from
# -Isrc. Objects go to obj/, in the same folders, so src/ holds sources
# only. Objects shared by the program and the unit tests: every module
# but main, so a new module is picked up without an edit here.
LAYERS  := support parsers network accounts providers connection commands
LIB_SRC := $(foreach l,$(LAYERS),$(wildcard src/$(l)/*.c))
LIB_OBJ := $(patsubst src/%.c,obj/%.o,$(LIB_SRC))
HDRS    := $(foreach l,$(LAYERS),$(wildcard src/$(l)/*.h))
UNIT_SRC := $(wildcard tests/unit/test_*.c)
UNIT_BIN := $(UNIT_SRC:.c=)

# Objects depend on the build flavour so SANITIZE=1 never links stale objects.
FLAVOUR := .flavour-$(if $(filter 1,$(SANITIZE)),san,std)

all: cli-proxy-api

$(FLAVOUR):
	rm -rf .flavour-* obj tests/unit/*.o $(UNIT_BIN) cli-proxy-api
	touch $@

obj/%.o: src/%.c $(HDRS) $(FLAVOUR)
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -Isrc -c -o $@ $<

cli-proxy-api: obj/main.o $(LIB_OBJ)
	$(CC) $(ALL_CFLAGS) $(ALL_LDFLAGS) -o $@ $^ $(LIBS)

# An archive: each unit test links only the modules it calls.
obj/libcpa.a: $(LIB_OBJ)
	rm -f $@
	ar rcs $@ $^

tests/unit/%: tests/unit/%.c tests/unit/unit.h obj/libcpa.a
	$(CC) $(ALL_CFLAGS) -Isrc $(ALL_LDFLAGS) -o $@ $< obj/libcpa.a $(LIBS)

# check: both halves; unit: the C tests of the pure parts; e2e: the real
# binary against fake servers.
check: cli-proxy-api $(UNIT_BIN)
	@sh tests/run.sh $(UNIT_BIN)

unit: $(UNIT_BIN)
	@E2E=0 sh tests/run.sh $(UNIT_BIN)

e2e: cli-proxy-api
	@sh tests/run.sh

run: cli-proxy-api
	./cli-proxy-api --serve $(if $(CONFIG),--config $(CONFIG))

# Debian/Ubuntu: install what building and testing need, only when missing.
# The last line is what make deb needs (contrib/debian/control's
# Build-Depends, build-essential that dpkg-buildpackage checks for, and
# adduser that the package's postinst runs).
DEPS := gcc make libc6-dev libbearssl-dev libcjson-dev libyaml-dev \
        python3 openssl ca-certificates curl systemd xinetd man-db \
        clang libclang-rt-14-dev nginx chromium \
        build-essential dpkg-dev debhelper pkg-config adduser
deps:
	@missing=""; for p in $(DEPS); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q 'ok installed' \
	    || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  SUDO=; [ "$$(id -u)" = 0 ] || SUDO=sudo; \
	  $$SUDO apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing; \
	else echo "deps: all present"; fi

install: cli-proxy-api
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(MANDIR)/man1 \
	    $(DESTDIR)$(SYSTEMD_SYSTEM_DIR) $(DESTDIR)$(SYSTEMD_USER_DIR) \
	    $(DESTDIR)$(DOCDIR)
	install -m 755 cli-proxy-api $(DESTDIR)$(BINDIR)/cli-proxy-api
	install -m 644 contrib/cli-proxy-api.1 $(DESTDIR)$(MANDIR)/man1/
	for u in $(UNITS); do sed 's|@BINDIR@|$(BINDIR)|g' $$u \
	    > $(DESTDIR)$(SYSTEMD_SYSTEM_DIR)/$${u##*/} || exit 1; done
	for u in $(USER_UNITS); do sed 's|@BINDIR@|$(BINDIR)|g' $$u \
	    > $(DESTDIR)$(SYSTEMD_USER_DIR)/$${u##*/} || exit 1; done
	install -m 644 $(CONTRIB) README.md $(DESTDIR)$(DOCDIR)/

uninstall:
	rm -f $(DESTDIR)$(BINDIR)/cli-proxy-api \
	    $(DESTDIR)$(MANDIR)/man1/cli-proxy-api.1
	for u in $(UNITS); do rm -f $(DESTDIR)$(SYSTEMD_SYSTEM_DIR)/$${u##*/}; done
	for u in $(USER_UNITS); do rm -f $(DESTDIR)$(SYSTEMD_USER_DIR)/$${u##*/}; done
	rm -rf $(DESTDIR)$(DOCDIR)

clean:
	rm -f cli-proxy-api $(UNIT_BIN) .flavour-*
	rm -rf obj
	rm -rf tests/tmp deb-build
	rm -f cli-proxy-api_*.deb cli-proxy-api-dbgsym_*.deb

# ---- deb: the Debian package (contrib/debian) ----------------------------
# make deb: cli-proxy-api_VERSION_ARCH.deb (and -dbgsym_, the debug
# symbols) at the top, VERSION from src/support/version.h. dpkg-buildpackage
# builds in a copy of the tree under deb-build/ (it writes beside the tree
# it builds); its changelog is made here. make check-deb installs the
# package, tries it and purges it (root; tests/deb).
VERSION  := $(shell sed -n 's/^.define VERSION "\(.*\)"$$/\1/p' src/support/version.h)
DEB_ARCH  = $(shell dpkg --print-architecture)
DEB       = cli-proxy-api_$(VERSION)_$(DEB_ARCH).deb
DEB_TREE := deb-build/cli-proxy-api-$(VERSION)
DEB_MAINT = $(shell sed -n 's/^Maintainer: //p' contrib/debian/control)
# The last commit's time, so the same commit makes the same package.
DEB_DATE  = $(shell d=$$(git log -1 --format=%ct 2>/dev/null); \
              date -R $${d:+-d @$$d})

deb:
	@test -n "$(VERSION)" || { echo "no VERSION in src/support/version.h" >&2; exit 1; }
	@dpkg-checkbuilddeps contrib/debian/control || \
	    { echo "make deps installs what make deb needs" >&2; exit 1; }
	rm -rf deb-build
	mkdir -p $(DEB_TREE)
	tar -cf - --exclude=./.git --exclude=./deb-build --exclude='./*.deb' \
	    --exclude=./tests/tmp --exclude=./tests/fuzz/build --exclude=./obj \
	    --exclude='*.o' \
	    --exclude=__pycache__ . | tar -xf - -C $(DEB_TREE)
	cp -R contrib/debian $(DEB_TREE)/debian
	printf '%s (%s) unstable; urgency=medium\n\n  * Version %s.\n\n -- %s  %s\n' \
	    cli-proxy-api $(VERSION) $(VERSION) "$(DEB_MAINT)" "$(DEB_DATE)" \
	    > $(DEB_TREE)/debian/changelog
	cd $(DEB_TREE) && dpkg-buildpackage -b -us -uc -jauto
	mv deb-build/*.deb .
	@test -f $(DEB) && echo "built $(DEB)"

check-deb: deb
	@CPA_DEB=$(CURDIR)/$(DEB) E2E=0 sh tests/run.sh tests/deb/test_deb.py

# ---- fuzz: libFuzzer targets in tests/fuzz (clang from Debian) ----------
# Out of all and check; make check only replays the saved inputs
# (tests/unit/test_fuzz_regress.c). Objects go to tests/fuzz/build, never
# src/*.o. make fuzz FUZZ_SECONDS=N, make fuzz-ci: 60 s per target.
.PHONY: fuzz fuzz-ci
FUZZ_CC      ?= clang
FUZZ_SECONDS ?= 30
FUZZ_JOBS    ?= $(shell nproc 2>/dev/null || echo 1)
FUZZ_DIR     := tests/fuzz
FUZZ_B       := $(FUZZ_DIR)/build
FUZZ_SAN     := -fsanitize=address,undefined -fno-sanitize-recover=all
FUZZ_CFLAGS  := $(WARN) -Wno-unused-function -g -O1 -fno-omit-frame-pointer \
                $(FUZZ_SAN) -Isrc
# Every module but main: new ones are picked up without an edit here.
FUZZ_LIB_SRC := $(LIB_SRC)
FUZZ_LIB_OBJ := $(patsubst src/%.c,$(FUZZ_B)/obj/%.o,$(FUZZ_LIB_SRC))
FUZZ_SRC     := $(wildcard $(FUZZ_DIR)/fuzz_*.c)
FUZZ_BIN     := $(patsubst $(FUZZ_DIR)/%.c,$(FUZZ_B)/%,$(FUZZ_SRC))

$(FUZZ_B)/obj/%.o: src/%.c $(HDRS)
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -c -o $@ $<

# An archive: each target links only the objects it calls.
$(FUZZ_B)/libfuzzsrc.a: $(FUZZ_LIB_OBJ)
	rm -f $@
	ar rcs $@ $^

$(FUZZ_B)/fuzz_%: $(FUZZ_DIR)/fuzz_%.c $(FUZZ_DIR)/fuzz.h $(FUZZ_B)/libfuzzsrc.a
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer -o $@ $< \
	    $(FUZZ_B)/libfuzzsrc.a $(LIBS)

fuzz: $(FUZZ_BIN)
	sh $(FUZZ_DIR)/run.sh -t $(FUZZ_SECONDS) -j $(FUZZ_JOBS)

fuzz-ci: $(FUZZ_BIN)
	sh $(FUZZ_DIR)/run.sh -t 60 -j $(FUZZ_JOBS)

# make check replays the saved inputs through the targets' own sources.
tests/unit/test_fuzz_regress: $(FUZZ_SRC) $(FUZZ_DIR)/fuzz.h
# ---- end fuzz -------------------------------------------------------------

# ---- bench: make bench (tests/bench) -------------------------------------
# Benchmarks on loopback against a BearSSL fake upstream, each comparison
# alternated in one run; prints a table of figures, targets and results.
# BENCH_ARGS=--quick for a short smoke run, --only 1,3 for some of them.
.PHONY: bench bench-clean
BENCH_DIR    := tests/bench
BENCH_CFLAGS := -std=c11 -D_GNU_SOURCE -O2 -g -Wall -Wextra -Wshadow \
                -Wno-unused-parameter
BENCH_BIN    := $(BENCH_DIR)/bench-upstream $(BENCH_DIR)/bench-client
BENCH_ARGS   ?=

$(BENCH_DIR)/bench-%: $(BENCH_DIR)/%.c $(BENCH_DIR)/tlsend.c $(BENCH_DIR)/tlsend.h
	$(CC) $(BENCH_CFLAGS) -o $@ $< $(BENCH_DIR)/tlsend.c -lbearssl -lpthread

bench: cli-proxy-api $(BENCH_BIN)
	python3 $(BENCH_DIR)/bench.py $(BENCH_ARGS)

bench-clean:
	rm -f $(BENCH_BIN)
clean: bench-clean
# ---- end bench ------------------------------------------------------------
