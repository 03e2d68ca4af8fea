# cli-proxy-api: see README.md.  GNU make.
.DELETE_ON_ERROR:
.PHONY: all check clean install uninstall deps run unit e2e

PREFIX  ?= /usr/local
BINDIR  ?= $(PREFIX)/bin
MANDIR  ?= $(PREFIX)/share/man
DESTDIR ?=

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
DEPS := gcc make libbearssl-dev libcjson-dev libyaml-dev pkg-config \
        python3 openssl ca-certificates curl
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
	install -d $(DESTDIR)$(BINDIR)
	install -m 755 cli-proxy-api $(DESTDIR)$(BINDIR)/cli-proxy-api

uninstall:
	rm -f $(DESTDIR)$(BINDIR)/cli-proxy-api

clean:
	rm -f cli-proxy-api src/*.o $(UNIT_BIN) .flavour-*
	rm -rf tests/tmp
