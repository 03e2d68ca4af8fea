# cli-proxy-api: see README.md.  GNU make.
.DELETE_ON_ERROR:
.PHONY: all check clean install uninstall deps run unit e2e

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

# Objects shared by the program and the unit tests (everything but main).
LIB_SRC := src/buf.c src/log.c src/secret.c src/config.c src/url.c \
           src/http.c src/ta.c src/tls.c src/net.c src/proxy.c src/https.c \
           src/token.c src/oauth.c src/store.c src/claude.c src/codex.c src/reply.c \
           src/filter.c src/forward.c src/relay.c \
           src/serve.c src/pkce.c src/login.c
LIB_OBJ := $(LIB_SRC:.c=.o)
UNIT_SRC := $(wildcard tests/unit/test_*.c)
UNIT_BIN := $(UNIT_SRC:.c=)

# Objects depend on the build flavour so SANITIZE=1 never links stale objects.
FLAVOUR := .flavour-$(if $(filter 1,$(SANITIZE)),san,std)

all: cli-proxy-api

$(FLAVOUR):
	rm -f .flavour-* src/*.o tests/unit/*.o $(UNIT_BIN) cli-proxy-api
	touch $@

src/%.o: src/%.c src/*.h $(FLAVOUR)
	$(CC) $(ALL_CFLAGS) -c -o $@ $<

cli-proxy-api: src/main.o $(LIB_OBJ)
	$(CC) $(ALL_CFLAGS) $(ALL_LDFLAGS) -o $@ $^ $(LIBS)

tests/unit/%: tests/unit/%.c tests/unit/unit.h $(LIB_OBJ)
	$(CC) $(ALL_CFLAGS) -Isrc $(ALL_LDFLAGS) -o $@ $< $(LIB_OBJ) $(LIBS)

check: cli-proxy-api $(UNIT_BIN)
	@sh tests/run.sh $(UNIT_BIN)

run: cli-proxy-api
	./cli-proxy-api --serve $(if $(CONFIG),--config $(CONFIG))

# Debian/Ubuntu: install what building and testing need, only when missing.
DEPS := gcc make libc6-dev libbearssl-dev libcjson-dev libyaml-dev \
        python3 openssl ca-certificates curl systemd xinetd man-db
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
	rm -f cli-proxy-api src/*.o $(UNIT_BIN) .flavour-*
	rm -rf tests/tmp
