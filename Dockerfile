# syntax=docker/dockerfile:1
# ferry as a container: `docker build -t ferry .`, then
#   docker run -v ./ferry.yaml:/config/ferry.yaml:ro -p 8080:8080 ferry
# The config's admin.listen must be 0.0.0.0:<port> for the admin API to be reachable from outside.

FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json ./
COPY src ./src
RUN npm run build && npm prune --omit=dev

FROM node:20-bookworm-slim AS runtime
ENV NODE_ENV=production
WORKDIR /app
COPY --from=build /app/package.json ./package.json
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
# The image's unprivileged `node` user (uid 1000); ferry keeps its state in the target, not on disk.
USER node
EXPOSE 8080
# /healthz answers while the process is alive; slim images have no curl, so node asks.
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:8080/healthz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
ENTRYPOINT ["node", "dist/cli.js"]
CMD ["run", "-c", "/config/ferry.yaml"]
