# rowtrail daemon image (used by docker-compose.yml). Builds from a clean checkout: `docker build .`
FROM node:22-bookworm-slim AS build
WORKDIR /app
# Compilers for native addons (better-sqlite3) when no prebuilt binary matches.
RUN apt-get update && apt-get install -y --no-install-recommends python3 make g++ && rm -rf /var/lib/apt/lists/*
COPY package.json package-lock.json tsconfig.json tsconfig.build.json ./
COPY src ./src
COPY detectors ./detectors
COPY bin ./bin
RUN npm ci --no-audit --no-fund && npm prune --omit=dev

FROM node:22-bookworm-slim
WORKDIR /app
COPY --from=build /app /app
COPY dashboards ./dashboards
COPY deploy/rowtrail-entrypoint.sh ./deploy/rowtrail-entrypoint.sh
# The store's directory, owned by the user the daemon runs as: a named volume mounted here starts as a copy
# of it (owner included), so the store can open on the first `up`.
RUN mkdir -p /var/lib/rowtrail && chown node:node /var/lib/rowtrail && chmod 0755 /app/deploy/rowtrail-entrypoint.sh
VOLUME /var/lib/rowtrail
USER node
ENTRYPOINT ["node", "/app/bin/rowtrail.js"]
CMD ["watch", "--config", "/etc/rowtrail/rowtrail.yaml"]
