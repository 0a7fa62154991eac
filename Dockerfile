# syntax=docker/dockerfile:1
# Floodgate image: build with dev dependencies, run with production ones only.
#   docker build -t floodgate:0.1.0 .

# Production dependencies only (no compiler, no test tools), installed from the lock file.
FROM node:20-bookworm-slim AS deps
WORKDIR /app
COPY package.json package-lock.json ./
COPY client-sdk/package.json client-sdk/
COPY server/package.json server/
RUN npm ci --omit=dev --no-audit --no-fund

# Build: every dependency, then the TypeScript compile of the server and the client SDK it
# references (generated code is committed; the example app is not part of the image).
FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json tsconfig.json ./
COPY client-sdk/package.json client-sdk/tsconfig.json client-sdk/
COPY server/package.json server/tsconfig.json server/
RUN npm ci --no-audit --no-fund
COPY proto proto
COPY client-sdk/src client-sdk/src
COPY server/src server/src
RUN npm run build --workspace server

# Runtime. Files stay owned by root and the process runs as uid 1000 (the image's "node"
# user), so the code cannot be changed at run time and a read-only root filesystem works:
# nothing is written to disk, logs go to stdout.
FROM node:20-bookworm-slim AS runtime
ENV NODE_ENV=production
WORKDIR /app
COPY --from=ghcr.io/grpc-ecosystem/grpc-health-probe:v0.4.37 /ko-app/grpc-health-probe /bin/grpc_health_probe
COPY --from=deps /app/node_modules node_modules
COPY --from=build /app/package.json ./
COPY --from=build /app/proto proto
COPY --from=build /app/client-sdk/package.json client-sdk/
COPY --from=build /app/client-sdk/dist client-sdk/dist
COPY --from=build /app/server/package.json server/
COPY --from=build /app/server/dist server/dist
# Numeric, so Kubernetes can check runAsNonRoot against the image.
USER 1000:1000
# gRPC API (GRPC_PORT); admin HTTP gateway with /healthz, /readyz and /metrics (HTTP_PORT).
EXPOSE 50051 8080
STOPSIGNAL SIGTERM
# Exec form: node is PID 1 and receives SIGTERM itself (no shell in between); the server
# handles SIGTERM and SIGINT, so PID 1's default of ignoring signals does not apply.
# V8 options (docs/deploy.md; npm start and the tests pass the same): a young generation of up
# to 64 MB per semi-space, as the server allocates a few KB per check; and no allocation-site
# pretenuring, which under a flood at start-up moves the per-check objects to the old
# generation for good (20-30% more CPU per decision afterwards); and young-generation
# collections on the main thread alone, which on a pod's one or two cores need not wait for
# helper threads that another process holds off the CPU. Given here, not in NODE_OPTIONS,
# which accepts only the first.
CMD ["node", "--max-semi-space-size=64", "--no-allocation-site-pretenuring", "--no-parallel-scavenge", "server/dist/main.js"]
