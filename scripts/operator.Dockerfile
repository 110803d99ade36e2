# syntax=docker/dockerfile:1
# The {{operator}} image; scripts/generate-deploy.mjs writes it from scripts/operator.Dockerfile
# (edit that one). The build context is the repository root (the whole workspace):
#
#   docker build -f operators/{{operator}}/Dockerfile -t chousei-{{operator}}:dev \
#     --build-arg VERSION=$(node -p "require('./operators/{{operator}}/package.json').version") \
#     --build-arg REVISION=$(git rev-parse HEAD) .
#
# Stage 1 installs the workspace from the frozen lockfile and runs scripts/bundle.sh, which
# builds this operator and its workspace dependencies with turbo and deploys it with its
# production dependencies only into /bundle. CI runs the same script
# (operators/{{operator}}/test/image-bundle.test.ts), so what CI checks is what ships.
# Stage 2 is distroless Node 24 (no shell, no package manager) holding only /bundle, run as
# UID 65532. Both bases are build arguments (BUILD_IMAGE, BASE_IMAGE): pin them by digest
# (image:tag@sha256:...) where builds must repeat; testenv builds this file with buildah on
# bases made locally, as nothing may come from a registry there.
ARG BUILD_IMAGE=node:24.21.0-bookworm-slim
ARG BASE_IMAGE=gcr.io/distroless/nodejs24-debian12:nonroot

FROM ${BUILD_IMAGE} AS build
ENV CI=true \
    DO_NOT_TRACK=1 \
    TURBO_TELEMETRY_DISABLED=1 \
    npm_config_store_dir=/pnpm/store
WORKDIR /src
# pnpm at the version package.json pins (packageManager); cached until package.json changes.
COPY package.json ./
RUN npm install --global --no-audit --no-fund "$(node -p 'require("./package.json").packageManager')"
COPY . .
RUN --mount=type=cache,id=chousei-pnpm-store,target=/pnpm/store \
    pnpm install --frozen-lockfile \
 && scripts/bundle.sh {{operator}} /bundle

FROM ${BASE_IMAGE}
ARG BASE_IMAGE
ARG VERSION=0.0.0-dev
ARG REVISION=unknown
LABEL org.opencontainers.image.title="chousei-{{operator}}" \
      org.opencontainers.image.description="{{description}}" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.source="https://github.com/chousei-dev/chousei" \
      org.opencontainers.image.base.name="${BASE_IMAGE}"
WORKDIR /app
COPY --from=build /bundle /app
ENV NODE_ENV=production
# At most two malloc arenas: glibc otherwise gives each of node's threads its own, and the
# dns-operator's RSS after 5000 Ingresses was 3-6 MB higher (its peak 6-10 MB).
ENV MALLOC_ARENA_MAX=2
# Numeric, so that runAsNonRoot can verify it.
USER 65532:65532
# V8 sized for a small steady heap: a young generation of at most 2 x 4 MB (V8 otherwise
# grows it to 128 MB on a big node and keeps it committed while idle), --optimize-for-size,
# and --lite-mode (no optimized code or feedback vectors: an operator waits on the network,
# not on its JavaScript). Chosen by measurement, docs/benchmarks.md "Node flags"; the
# benchmarks and e2e suites run this same command and environment.
ENTRYPOINT ["/nodejs/bin/node", "--max-semi-space-size=4", "--optimize-for-size", "--lite-mode", "/app/dist/main.js"]
