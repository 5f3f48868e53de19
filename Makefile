# task_api: PGXS build, plus the project's serve/test entry points.

EXTENSION = task_api
# The one place the version is written: task_api.control's default_version.
EXTVERSION := $(shell sed -n "s/^default_version = '\\(.*\\)'$$/\\1/p" $(dir $(lastword $(MAKEFILE_LIST)))task_api.control)

MODULE_big = task_api
OBJS = \
	src/task_api.o \
	src/guc.o \
	src/uuidv7.o \
	src/errors.o \
	src/error_map.o \
	src/error_fields.o \
	src/enum_labels.o \
	src/replica.o \
	src/request.o \
	src/pre_request.o \
	src/credential_lookup.o \
	src/json_agg.o \
	src/json_pairs.o \
	src/membership.o \
	src/codec_util.o \
	src/jwt_codec.o \
	src/jwt.o \
	src/hmac_keyed.o \
	src/password.o \
	src/owner_spi.o \
	src/task_insert.o \
	src/etag.o \
	src/soft_delete.o \
	src/stamp.o \
	src/idempotency.o \
	src/idempotency_fingerprint.o \
	src/idempotency_rows.o \
	src/idempotency_store.o \
	src/idempotency_triggers.o \
	src/cursor_codec.o \
	src/cursor.o \
	src/http.o \
	src/rate_limit_core.o \
	src/rate_limit.o \
	src/rate_limit_admin.o \
	src/inflight.o \
	src/login_throttle.o \
	src/quiet_log.o \
	src/metrics.o \
	src/trace.o \
	src/trace_id.o \
	src/events_claim.o \
	src/events_record.o \
	src/events_store.o \
	src/event_notify.o \
	src/bounds.o \
	src/cors.o \
	src/session_slide.o \
	src/citus.o \
	src/citus_views.o

# The install script of the current version is assembled from one file per
# resource, in order.  Released versions are frozen beside it: the full script
# of the first release and one upgrade script per release after it
# (docs/contributing.md, "Releases and upgrade steps").
INSTALL_PARTS = $(sort $(wildcard sql/install/*.sql))
DATA_built = $(EXTENSION)--$(EXTVERSION).sql
RELEASE_SCRIPTS = $(sort $(wildcard sql/$(EXTENSION)--*.sql))
DATA = $(RELEASE_SCRIPTS) sql/prepare/$(EXTENSION)_prepare_upgrade.sql

# pg_regress tests: sql/NAME.sql -> expected/NAME.out, run by scripts/test.sh
# against a throw-away cluster that preloads the library.
REGRESS = $(patsubst sql/%.sql,%,$(filter-out $(RELEASE_SCRIPTS),$(sort $(wildcard sql/*.sql))))
REGRESS_OPTS = --load-extension=$(EXTENSION)
ISOLATION = $(patsubst specs/%.spec,%,$(sort $(wildcard specs/*.spec)))
ISOLATION_OPTS = --load-extension=$(EXTENSION)

# libsodium: Argon2id password hashing (src/password.c); libcrypto: the
# OpenSSL PostgreSQL links, for keyed HMAC contexts (src/hmac_keyed.c).
SHLIB_LINK = -lsodium -lcrypto

PG_CFLAGS = -Wall -Wextra -Werror -Wno-unused-parameter
PG_CPPFLAGS = -I$(srcdir)/src -DTASK_API_VERSION='"$(EXTVERSION)"'

EXTRA_CLEAN = $(DATA_built) results output_iso regression.diffs regression.out

PG_CONFIG ?= $(firstword $(wildcard /usr/lib/postgresql/15/bin/pg_config) pg_config)
PGXS := $(shell $(PG_CONFIG) --pgxs 2>/dev/null)
.DEFAULT_GOAL := all
ifneq ($(wildcard $(PGXS)),)
include $(PGXS)
else
# A fresh machine has no PostgreSQL yet: serve, test and deps install it.
all install installcheck:
	@echo "PostgreSQL 15 server headers are missing: run 'make deps' first (make serve and make test do it)" >&2; exit 1
endif

# PGXS knows no header dependencies: every object is rebuilt when a header
# of src/ changes (the library is small; a wrong stale object is not).
$(OBJS) $(OBJS:.o=.bc): $(wildcard src/*.h)

$(EXTENSION)--$(EXTVERSION).sql: $(INSTALL_PARTS)
	cat $^ > $@

.PHONY: serve stop reset test test-citus deps bench psql

# Install everything missing, build, start PostgreSQL + PostgREST on localhost.
serve:
	@scripts/serve.sh

stop:
	@scripts/stop.sh

# Stop and delete the 'make serve' cluster and its data.
reset:
	@scripts/reset.sh

# Install everything missing, then run every test tier on a throw-away cluster.
test:
	@scripts/test.sh

# The HTTP suite on a Citus coordinator and two workers (docs/scaling.md);
# not part of make test: says so and exits 0 where Citus is not installed.
test-citus:
	@scripts/test-citus.sh

deps:
	@scripts/deps.sh

# A superuser psql session on the 'make serve' database.
psql:
	@scripts/psql.sh

bench:
	@scripts/bench.sh && scripts/bench-auth.sh --append && scripts/bench-trash.sh --append \
		&& scripts/bench-idempotency.sh --append && scripts/bench-pages.sh --append \
		&& scripts/bench-rate-limit.sh --append && scripts/bench-events.sh --append \
		&& scripts/bench-retention.sh --append && scripts/bench-postgrest.sh && scripts/bench-peer.sh
