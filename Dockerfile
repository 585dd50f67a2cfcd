# Dockerfile - the images of the C services vote, worker and result, and of
# the demo's vote seeder (seed-data).
# Build context: the repository root. The exercise's stage names: `base`,
# then the targets `dev` and `production`, each for any of the three services
# (the build argument SERVICE):
#   docker build --target production --build-arg SERVICE=vote -t votingapp/vote .
#   docker build --target dev        --build-arg SERVICE=vote -t votingapp/vote:dev .
#   docker build --target seed-data  -t votingapp/seed-data .
# Stages: base (one apt install and one Bazel build of all services), then
# dev (Bazel rebuilds the mounted sources on change, compose.dev.yaml),
# production (FROM scratch: the stripped binary as /service and the
# libraries it links) and seed-data (FROM scratch: votectl and a shell that
# casts a crowd's votes, compose's `seed` profile). SERVICE is declared only
# after the base stage, so that stage is the same for all three: Compose v1
# builds each service on its own with the legacy builder, which builds every
# stage before the target; the second and third services find the base stage
# in the layer cache and take seconds. seed-data comes right after base, as
# it needs no SERVICE (dev's build would fail without one).

# ---- base: every C binary, and one root file system per image ----
ARG DEBIAN_IMAGE=debian:bookworm
FROM ${DEBIAN_IMAGE} AS base
ENV DEBIAN_FRONTEND=noninteractive LANG=C.UTF-8
RUN apt-get update \
 && apt-get install -y --no-install-recommends \
      bazel-bootstrap build-essential \
      libhiredis-dev libnats-dev libpq-dev libcivetweb-dev libprotobuf-c-dev \
      protobuf-c-compiler libjansson-dev libcmocka-dev \
 && apt-get clean && rm -rf /var/lib/apt/lists/*
COPY compose/dev-loop.sh /usr/local/bin/dev-loop
COPY compose/seed-data.sh /usr/local/bin/seed-data
WORKDIR /src
COPY . .
# One Bazel build for every service; the binaries go to /out/bin.
# --as-needed (after the services' own -l flags on the link line) drops the
# libstdc++ and libm that Bazel's toolchain always adds: 3 MB per image.
ENV BAZEL_FLAGS="-c opt --linkopt=-Wl,--as-needed"
RUN bazel build $BAZEL_FLAGS --symlink_prefix=/ //vote //worker //result //tools:votectl \
 && bin=$(bazel info $BAZEL_FLAGS --symlink_prefix=/ bazel-bin) \
 && mkdir -p /out/bin \
 && for t in vote/vote worker/worker result/result tools/votectl; do \
      install -m 0755 "$bin/$t" /out/bin/; \
    done \
 && bazel shutdown
# One root file system per service for the FROM scratch images: the stripped
# binary as /service, exactly the shared libraries ldd lists and the loader,
# a passwd and group with the user "app" (10001), nsswitch.conf and a
# world-writable /tmp.
RUN set -e; \
    for s in vote worker result; do \
      r=/out/rootfs/$s; \
      mkdir -p "$r/etc" "$r/tmp"; chmod 1777 "$r/tmp"; \
      install -m 0755 -s /out/bin/$s "$r/service"; \
      for f in $(ldd "$r/service" | awk '$2 == "=>" && $3 ~ /^\// {print $3} $1 ~ /^\// {print $1}'); do \
        cp -L --parents "$f" "$r/"; \
        case "$f" in */ld-linux*) ;; *) strip --strip-unneeded "$r$f" ;; esac; \
      done; \
      printf 'root:x:0:0:root:/root:/sbin/nologin\napp:x:10001:10001:app:/nonexistent:/sbin/nologin\n' > "$r/etc/passwd"; \
      printf 'root:x:0:\napp:x:10001:\n' > "$r/etc/group"; \
      printf 'passwd: files\ngroup: files\nhosts: files dns\n' > "$r/etc/nsswitch.conf"; \
      echo "$s: $(du -sh "$r" | cut -f1)"; \
    done
# seed-data's root file system: votectl, dash as /bin/sh (the loop of
# seed-data.sh needs nothing else), their libraries and the loader.
RUN set -e; r=/out/rootfs/seed-data; \
    mkdir -p "$r/bin" "$r/etc" "$r/tmp"; chmod 1777 "$r/tmp"; \
    install -m 0755 -s /out/bin/votectl "$r/bin/votectl"; \
    install -m 0755 /bin/dash "$r/bin/sh"; \
    install -m 0755 /usr/local/bin/seed-data "$r/bin/seed-data"; \
    for f in $( (ldd "$r/bin/votectl"; ldd "$r/bin/sh") | awk '$2 == "=>" && $3 ~ /^\// {print $3} $1 ~ /^\// {print $1}' | sort -u); do \
      cp -L --parents "$f" "$r/"; \
      case "$f" in */ld-linux*) ;; *) strip --strip-unneeded "$r$f" ;; esac; \
    done; \
    printf 'root:x:0:0:root:/root:/sbin/nologin\napp:x:10001:10001:app:/nonexistent:/sbin/nologin\n' > "$r/etc/passwd"; \
    printf 'root:x:0:\napp:x:10001:\n' > "$r/etc/group"; \
    printf 'passwd: files\ngroup: files\nhosts: files dns\n' > "$r/etc/nsswitch.conf"; \
    echo "seed-data: $(du -sh "$r" | cut -f1)"
# ---- seed-data: casts SEED_VOTES votes through vote-ui, then exits ----
FROM scratch AS seed-data
LABEL org.opencontainers.image.title=votingapp-seed-data
COPY --from=base /out/rootfs/seed-data/ /
USER 10001:10001
ENTRYPOINT ["/bin/sh", "/bin/seed-data"]

# ---- dev: $SERVICE rebuilt from the mounted sources on change ----
FROM base AS dev
ARG SERVICE
ENV SERVICE=${SERVICE} LOG_LEVEL=debug
RUN install -m 0755 /out/bin/${SERVICE} /usr/local/bin/${SERVICE}
EXPOSE 5000 8080
HEALTHCHECK --interval=10s --timeout=3s --start-period=300s --retries=3 \
    CMD /usr/local/bin/${SERVICE} --healthcheck
CMD ["dev-loop"]

# ---- production: the image of $SERVICE ----
FROM scratch AS production
ARG SERVICE
LABEL org.opencontainers.image.title=votingapp-${SERVICE}
COPY --from=base /out/rootfs/${SERVICE}/ /
USER 10001:10001
# vote and result listen on PORT (5000), worker on WORKER_PORT (8080).
EXPOSE 5000 8080
HEALTHCHECK --interval=10s --timeout=3s --start-period=10s --retries=3 \
    CMD ["/service", "--healthcheck"]
ENTRYPOINT ["/service"]
