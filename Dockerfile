# raftkit in a small image: built with the dev tools, run with the production dependencies
# only, as the unprivileged `node` user, data on a volume. Not built or run by the project's
# CI (no container runtime there): see the README's operations section.
#
#   docker build -t raftkit .
#   docker run -v raftkit-data:/data -p 8000:8000 -p 9000:9000 raftkit \
#     node --listen raftkit-1:8000 --peers raftkit-1:8000,raftkit-2:8000,raftkit-3:8000 \
#          --data /data --http 0.0.0.0:9000 --http-advertise http://raftkit-1:9000

FROM node:20-bookworm-slim AS build
WORKDIR /src
COPY package.json package-lock.json tsconfig.json tsconfig.build.json ./
COPY src ./src
COPY scripts/build-ui.ts ./scripts/
# `npm ci` compiles through `prepare` (the code, and the dashboard's bundle); nothing else is built.
RUN npm ci --no-audit --no-fund

FROM node:20-bookworm-slim
ENV NODE_ENV=production
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund && npm cache clean --force
COPY --from=build /src/dist ./dist
COPY bin ./bin
RUN mkdir /data && chown node:node /data
USER node
VOLUME ["/data"]
# 8000: Raft peers; 9000: the HTTP API (/healthz, /readyz, /metrics among it).
EXPOSE 8000 9000
ENTRYPOINT ["node", "/app/bin/raftkit.js"]
CMD ["--help"]
