# syntax=docker/dockerfile:1
# The vibe image: one binary, every target (`vibe up`, `vibe serve --target ...`).
#
#   docker build -t vibe .
#   docker run --rm -p 8080:8080 -p 9464:9464 vibe up --demo
#
# Runs as UID/GID 1001 on a read-only root filesystem: it writes only to /var/lib/vibe (the
# embedded DuckDB warehouse) and /tmp. The Helm chart (charts/vibe) mounts its own config at
# /etc/vibe/vibe.toml and an emptyDir or a volume at each writable path.

# --- build -------------------------------------------------------------------------------
# Debian 12 (bookworm), like the runtime below, so the binary's glibc matches.
FROM rust:1.95-slim-bookworm AS build
# The bundled DuckDB is C++ (the cc crate needs g++ and make); protoc is not needed (protox).
# Debian's stable packages are pinned by the base tag's release.
# hadolint ignore=DL3008
RUN apt-get update \
 && apt-get install -y --no-install-recommends g++ make \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
RUN install -d /out/etc/vibe \
 && printf '%s\n' \
      '[listen]' \
      'gateway = "0.0.0.0:8080"' \
      'grpc = "0.0.0.0:50051"' \
      'metrics = "0.0.0.0:9464"' \
      '' \
      '[warehouse.duckdb]' \
      'path = "/var/lib/vibe/warehouse.duckdb"' \
      > /out/etc/vibe/vibe.toml \
 && chmod 0444 /out/etc/vibe/vibe.toml
COPY . .
# The DuckDB C++ build takes ~20-30 min on 2 cores: keep the registry and target dirs in
# BuildKit caches so a rebuild only recompiles what changed.
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/usr/local/cargo/git \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked --bin vibe \
 && install -D -m 0755 target/release/vibe /out/usr/local/bin/vibe \
 && install -D -m 0755 /bin/sleep /out/usr/local/bin/sleep \
 && install -d -m 0750 -o 1001 -g 1001 /out/var/lib/vibe

# --- runtime -----------------------------------------------------------------------------
# distroless cc: glibc, libstdc++ (DuckDB), CA certificates (BigQuery, rediss://), no shell.
FROM gcr.io/distroless/cc-debian12:nonroot
# /usr/local/bin/sleep (coreutils, same Debian 12 glibc) serves only as the preStop pause on
# Kubernetes < 1.30, where the native sleep action is still alpha.
COPY --from=build /out/usr/local/bin/ /usr/local/bin/
COPY --from=build --chown=1001:1001 /out/var/lib/ /var/lib/
# The default config for `docker run` (written in the build stage): listen on every interface,
# data under /var/lib/vibe. VIBE_<SECTION>__<KEY> still overrides any key; the chart mounts
# its own file here.
COPY --from=build /out/etc/vibe/ /etc/vibe/
ENV VIBE_CONFIG=/etc/vibe/vibe.toml \
    HOME=/tmp
WORKDIR /var/lib/vibe
USER 1001:1001
# 8080 gateway (gRPC), 50051 services' gRPC, 9464 Prometheus /metrics.
EXPOSE 8080 50051 9464
# Readiness of the default `vibe up` (the gateway listener). A container running only
# service targets has no 8080: override with --health-cmd "vibe probe --addr 127.0.0.1:50051".
HEALTHCHECK --interval=10s --timeout=3s --start-period=120s --retries=3 \
  CMD ["vibe", "probe", "--addr", "127.0.0.1:8080", "--timeout", "2s"]
ENTRYPOINT ["vibe"]
CMD ["up"]
