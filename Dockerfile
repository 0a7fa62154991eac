# syntax=docker/dockerfile:1
# Build stage: dev dependencies, TypeScript compile.
FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json tsconfig.json ./
COPY client-sdk/package.json client-sdk/tsconfig.json client-sdk/
COPY server/package.json server/tsconfig.json server/
RUN npm ci --no-audit --no-fund
COPY proto proto
COPY client-sdk/src client-sdk/src
COPY server/src server/src
RUN npm run build && npm prune --omit=dev

# Runtime stage: production dependencies and compiled code only, non-root.
FROM node:20-bookworm-slim
ENV NODE_ENV=production GRPC_PORT=50051 HTTP_PORT=8080
WORKDIR /app
COPY --from=build --chown=node:node /app/package.json ./
COPY --from=build --chown=node:node /app/node_modules node_modules
COPY --from=build --chown=node:node /app/proto proto
COPY --from=build --chown=node:node /app/client-sdk/package.json client-sdk/
COPY --from=build --chown=node:node /app/client-sdk/dist client-sdk/dist
COPY --from=build --chown=node:node /app/server/package.json server/
COPY --from=build --chown=node:node /app/server/dist server/dist
USER node
# gRPC API; admin HTTP gateway, /metrics and probes (the standalone gateway: node server/dist/gateway-main.js)
EXPOSE 50051 8080
STOPSIGNAL SIGTERM
CMD ["node", "server/dist/main.js"]
