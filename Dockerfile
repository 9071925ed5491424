# clef-agent sidecar image. Production runs on the current Node.js LTS (SPEC §1).
# Build: docker build -t clef-agent .
FROM node:22-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY scripts/clean-dist.mjs ./scripts/
COPY common ./common
COPY src ./src
COPY workers ./workers
COPY tools ./tools
# The production build compiles only shipped code (src, workers, common, tools) into dist/.
RUN npm run build:prod && npm prune --omit=dev

FROM node:22-bookworm-slim
ENV NODE_ENV=production
WORKDIR /app
COPY --from=build /app/package.json ./
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist/src ./dist/src
COPY --from=build /app/dist/workers ./dist/workers
COPY --from=build /app/dist/common ./dist/common
COPY --from=build /app/dist/tools ./dist/tools
# Unprivileged user; the agent needs no capabilities. It listens on 127.0.0.1 only, so there is no
# port to EXPOSE: the application container reaches it through the shared pod/task network namespace.
USER node
ENTRYPOINT ["node", "dist/src/main.js"]
