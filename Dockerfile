# fairgate's container image: `docker build -t fairgate .`
# scripts/image-check.mjs (run by test/integration/image.test.ts) checks this file without a container runtime:
# every COPY source exists and is not .dockerignored, and the runtime stage's steps, run in a clean temporary
# directory, give a tree that starts with ENTRYPOINT + CMD, passes the HEALTHCHECK and stops on SIGTERM.
ARG NODE_VERSION=20

# Build: compile src/ to dist/ with the dev dependencies (TypeScript; esbuild bundles the status page's client).
FROM node:${NODE_VERSION}-bookworm-slim AS build
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund --ignore-scripts
COPY tsconfig.json tsconfig.build.json ./
COPY scripts/build-status-client.mjs scripts/
COPY src/ src/
RUN npm run build

# Runtime: the runtime dependencies only, the compiled code, the CLI and the shipped configs; no compiler, no npm
# cache, not root.
FROM node:${NODE_VERSION}-bookworm-slim AS runtime
ENV NODE_ENV=production
WORKDIR /opt/fairgate
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund --ignore-scripts && npm cache clean --force
COPY --from=build /src/dist/ dist/
COPY bin/ bin/
COPY config/ config/
COPY deploy/docker/healthcheck.mjs deploy/docker/healthcheck.mjs
COPY LICENSE README.md CHANGELOG.md ./
RUN ln -s /opt/fairgate/bin/fairgate.js /usr/local/bin/fairgate \
  && groupadd --system --gid 10001 fairgate \
  && useradd --system --uid 10001 --gid fairgate --no-create-home --home-dir /nonexistent fairgate
USER 10001:10001
# The main listener and the admin listener (/metrics, /status: publish it only to operators).
EXPOSE 8080 9091
# /ready on the main listener; FAIRGATE_READY_URL points elsewhere when your config listens elsewhere.
ENV FAIRGATE_READY_URL=http://127.0.0.1:8080/ready
HEALTHCHECK --interval=10s --timeout=3s --start-period=10s --retries=3 CMD ["node", "/opt/fairgate/deploy/docker/healthcheck.mjs"]
ENTRYPOINT ["fairgate"]
# The shipped config: demo mode on the container's loopback (the demo issuer refuses any other address). Mount a
# production config and name it: docker run -v ./fairgate.yaml:/etc/fairgate/fairgate.yaml:ro fairgate \
#   all --config /etc/fairgate/fairgate.yaml
CMD ["all", "--config", "/opt/fairgate/config/fairgate.yaml"]
