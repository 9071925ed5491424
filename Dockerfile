# clef-agent sidecar image (SPEC §9). Build: docker build -t clef-agent .
#
# The image holds exactly what the npm tarball installs: the build stage runs `npm pack` (whose
# prepack step is the production build) and installs that tarball with --omit=dev into
# /opt/clef-agent; the runtime stage copies that one directory and the init (tini) and nothing else.
# The same two npm steps, taken from the RUN lines below, are what test/deploy/dockerfile.test.ts
# runs before it starts ENTRYPOINT+CMD and HEALTHCHECK from the result (the apt-get line is checked
# against the test machine's installed packages instead of run).
#
# Base: Node 26, the current LTS, on Debian 13 "trixie" slim: the official images' default Debian
# for Node 26 (bookworm-slim is also published, at the same ~80 MB compressed), with the newer
# package set and the longer security support, so fewer known CVEs in the shared libraries the
# agent never uses. Alpine (~55 MB) uses musl, on which Node is an experimental platform; a
# distroless base needs the standalone binary instead (a separate image). Pin by digest in
# production (node:26-trixie-slim@sha256:…) and let a bot bump it.
FROM node:26-trixie-slim AS build
# tini, the image's init: see ENTRYPOINT below. Debian's package ships a static build as well.
RUN apt-get update && apt-get install -y --no-install-recommends tini && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json tsconfig.client.json README.md ./
COPY scripts ./scripts
COPY src ./src
COPY workers ./workers
COPY common ./common
COPY tools ./tools
COPY client ./client
RUN mkdir /pkg && npm pack --pack-destination /pkg
RUN npm install --omit=dev --no-audit --no-fund --prefix /opt/clef-agent /pkg/clef-agent-*.tgz

FROM node:26-trixie-slim
LABEL org.opencontainers.image.title="clef-agent" \
      org.opencontainers.image.description="Localhost secrets sidecar: serves a verified, decrypted Clef artifact on 127.0.0.1:7779 behind a bearer token" \
      org.opencontainers.image.version="0.1.0" \
      org.opencontainers.image.licenses="MIT" \
      org.opencontainers.image.base.name="docker.io/library/node:26-trixie-slim"
COPY --from=build /opt/clef-agent /opt/clef-agent
COPY --from=build /usr/bin/tini-static /usr/bin/tini
ENV NODE_ENV=production \
    PATH=/opt/clef-agent/node_modules/.bin:/usr/local/bin:/usr/bin:/bin
# A fixed numeric uid/gid that exists nowhere else in the image (the base's `node` user is 1000),
# so Kubernetes `runAsNonRoot` can verify it and a shared token file can be owned by it. The agent
# writes nothing of its own: it runs on a read-only root filesystem with no capabilities, and only
# CLEF_AGENT_TOKEN_FILE / CLEF_AGENT_CACHE_PATH, when set, point at mounted volumes it writes to.
USER 10001:10001
WORKDIR /opt/clef-agent
# It listens on 127.0.0.1 only, so there is no port to EXPOSE: the application reaches it through
# the pod's or task's shared network namespace. The probe runs the agent's own `check` command,
# so the image needs no curl.
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s --retries=3 CMD ["clef-agent", "check"]
# tini is PID 1: it forwards signals to the agent, exits with its code, and reaps every orphaned
# process re-parented to it. The agent cannot do the last part itself (Node has no waitpid(-1)),
# and in exec mode the application's own children are what leave orphans (`-s` makes tini a
# subreaper too, for when something else is PID 1, e.g. Kubernetes shareProcessNamespace).
ENTRYPOINT ["/usr/bin/tini", "-s", "--", "clef-agent"]
CMD ["serve"]
