# vifplugd as a per-host sidecar image.
#
#   docker build -t vifplug .
#   install -d -o 65532 -g 65532 -m 0750 /run/vifplug
#   docker run -d --name vifplugd --read-only --cap-drop ALL \
#       --security-opt no-new-privileges --network host \
#       -v /run/vifplug:/run/vifplug -v /sys:/host/sys:ro \
#       vifplug --sysfs-root /host/sys
#
# Arguments after the image name are vifplugd flags (`docker run IMAGE --help`
# lists them); VIFPLUG_* environment variables work too. The daemon runs as
# uid/gid 65532 and creates its socket (mode 0660) in the /run/vifplug
# volume, hence the host directory given to that uid above; a named volume
# takes that ownership from the image by itself.
#
# Builds with Docker (BuildKit or not), podman and buildah: no engine-specific
# syntax. podman and buildah drop HEALTHCHECK from OCI-format images; build
# with `--format docker` to keep it.

# Any image with node (24 LTS or later, on the PATH), npm and apt-get works,
# e.g. a mirror of node:24-bookworm-slim in a private registry.
ARG NODE_IMAGE=node:24-bookworm-slim

# ---- build: every dependency, TypeScript compiled to dist/ -----------------
FROM ${NODE_IMAGE} AS build
WORKDIR /src
# Dependencies first, so that editing the sources reuses this layer.
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
# A type error fails the image build, as it fails `npm run build`.
RUN npm run build

# ---- deps: production dependencies only -------------------------------------
# A stage of its own so that the runtime image holds no npm cache and no
# dev dependency, and so that this layer changes only with the lock file.
FROM ${NODE_IMAGE} AS deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund

# ---- runtime ----------------------------------------------------------------
FROM ${NODE_IMAGE}

# iproute2 brings `devlink` and `ip`: with the host's network namespace
# (--network host, hostNetwork) the representor provider reads devlink ports
# through them; elsewhere it falls back to sysfs alone. `apt-get clean` and
# the lists: about 80 MB of apt caches on bases that do not drop them already.
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends iproute2 \
 && apt-get clean \
 && rm -rf /var/lib/apt/lists/*

# A fixed, numeric, non-root identity: Kubernetes can verify runAsNonRoot
# only against a numeric USER, and hosts can grant the socket to a known
# uid/gid. 65532 is the customary "nonroot" id of minimal images.
# /run/vifplug is created owned by it, so that a new named volume mounted
# there inherits an ownership the daemon can create its socket in.
RUN groupadd --system --gid 65532 vifplug \
 && useradd --system --uid 65532 --gid 65532 --no-create-home --home-dir /nonexistent \
        --shell /usr/sbin/nologin vifplug \
 && install -d -o 65532 -g 65532 -m 0750 /run/vifplug

WORKDIR /app
# VIFPLUG_SHUTDOWN_GRACE: drain calls in flight for at most 8 s after SIGTERM,
# inside `docker stop`'s default 10 s before SIGKILL. VIFPLUG_LISTEN is the
# daemon's own default, spelled out: the health probe reads it too.
ENV NODE_ENV=production \
    VIFPLUG_LISTEN=unix:///run/vifplug/vifplug.sock \
    VIFPLUG_SHUTDOWN_GRACE=8

# The image's settings come before the files (COPY creates root-owned files
# whatever USER says), so that a change of the sources rebuilds only the
# layers from the COPY that differs on.
USER 65532:65532
VOLUME ["/run/vifplug"]
# The daemon drains on SIGTERM and exits 0. It runs as PID 1 and handles the
# signal itself; the only processes it starts (devlink, ip) are its own
# children, which node reaps, so no init is needed (`--init` does no harm).
STOPSIGNAL SIGTERM
# Through the gRPC health service, on the addresses the daemon listens on.
HEALTHCHECK --interval=30s --timeout=5s --start-period=10s --retries=3 \
    CMD ["node", "/app/scripts/container/healthcheck.js", "--timeout", "4"]
ENTRYPOINT ["node", "/app/dist/cli/vifplugd.js"]
# Reset the base image's CMD ["node"], which would reach vifplugd as an
# argument: with no arguments the daemon uses its environment and defaults.
CMD []
ARG NODE_IMAGE
LABEL org.opencontainers.image.title="vifplug" \
      org.opencontainers.image.description="OVN's VIF plug provider framework as a per-host gRPC service (vifplugd)" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.base.name="${NODE_IMAGE}"

# Least to most often changed. Everything is owned by root and read-only to
# the daemon's user.
COPY --from=deps /app/node_modules ./node_modules
COPY package.json ./
# The API, for users who generate clients from the image.
COPY proto ./proto
COPY scripts/container/healthcheck.js ./scripts/container/healthcheck.js
COPY --from=build /src/dist ./dist

# Last: they change with every commit.
ARG VERSION=dev
ARG REVISION=unknown
LABEL org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}"
