# syntax=docker/dockerfile:1
# One image for the cloud: nginx + the FastCGI responders (the service
# container), and the same image runs sbx-reaper (a one-task ECS service,
# `sbx-reaper --loop`) and sbx-migrate (one-off task) by overriding the
# command.

# ---- build: compile with the same configure the tests use, minus sanitizers
FROM debian:12-slim AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends \
      autoconf automake make gcc pkg-config ca-certificates \
      libfcgi-dev libpq-dev libcjson-dev libcurl4-openssl-dev libjwt-dev \
      libssl-dev libxml2-dev libcmocka-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY configure.ac Makefile.am ./
COPY common/ common/
COPY fcgi/ fcgi/
COPY cron/ cron/
COPY schema/ schema/
COPY tests/ tests/
COPY nginx/ nginx/
COPY scripts/ scripts/
# make install puts the responders in /opt/sbx/libexec/sbx and the
# migrations in /opt/sbx/share/sbx/schema; no systemd units, and the
# server's /etc files stay in this stage.
RUN autoreconf -fi \
 && mkdir /build && cd /build \
 && /src/configure --prefix=/opt/sbx --sysconfdir=/etc --without-systemdsystemunitdir \
      --enable-werror CFLAGS="-O2 -g -D_FORTIFY_SOURCE=2 -fstack-protector-strong" \
 && make -j"$(nproc)" \
 && make install

# ---- runtime: only the shared libraries, nginx and the process tools
FROM debian:12-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends \
      ca-certificates nginx-light spawn-fcgi multiwatch tini openssl \
      libfcgi0ldbl libpq5 libcjson1 libcurl4 libjwt0 libssl3 libxml2 \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid 10001 sbx \
 && useradd --system --uid 10001 --gid sbx --no-create-home --shell /usr/sbin/nologin sbx \
 && install -d -o sbx -g sbx -m 0750 /run/sbx
COPY --from=build /opt/sbx /opt/sbx
COPY nginx/ /opt/sbx/nginx/
COPY scripts/container-start /opt/sbx/bin/container-start
COPY scripts/lib/nginx.sh /opt/sbx/lib/nginx.sh
ENV PATH=/opt/sbx/bin:$PATH \
    SBX_SCHEMA_DIR=/opt/sbx/share/sbx/schema \
    SBX_STATE_DIR=/run/sbx \
    HTTPS_PORT=8443 HTTP_PORT=8080
# The ALB terminates the public TLS and speaks HTTPS to the task on 8443.
EXPOSE 8443 8080
# Nothing runs as root: nginx (on ports above 1024), spawn-fcgi,
# multiwatch and the responders run as sbx, and so do the reaper and
# sbx-migrate (their task definitions say so too). The state (nginx's
# configuration and temporary files, the sockets, the self-signed
# certificate) is written under /run/sbx only.
USER 10001:10001
ENTRYPOINT ["/usr/bin/tini", "--"]
CMD ["/opt/sbx/bin/container-start"]
