# syntax=docker/dockerfile:1
# chat-worker, CPU image. The NVIDIA GPU image is Dockerfile.cuda; README "Containers" has both.
#   docker build -t chat-worker:cpu .
#   docker run --rm -p 7861:7861 --stop-timeout 35 chat-worker:cpu
# `npm run test:production` replays the build and deps stages in a plain folder and starts the
# ENTRYPOINT there, and test/dockerfiles.test.ts checks this file's rules, so keep
# the app's steps in WORKDIR, COPY and RUN lines that also work outside Docker.

# A current Node.js LTS line (Node 20 reached end of life in April 2026).
ARG NODE_VERSION=24

# Compiles TypeScript into dist/ and writes the built-in synthetic test model. Only those two
# reach the runtime image: the compiler and the dev dependencies stay here.
FROM node:${NODE_VERSION}-slim AS build
WORKDIR /app
COPY package.json package-lock.json tsconfig.json tsconfig.playground.json ./
# tsc needs neither the native llama.cpp binaries (optional dependencies) nor install scripts.
RUN npm ci --omit=optional --ignore-scripts --no-audit --no-fund
# The build also type-checks the playground's hand-written JavaScript (it emits nothing for it).
COPY src ./src
COPY playground ./playground
RUN npm run build \
 && node dist/src/cli/makeModel.js --preset tiny --out models/chat-worker-tiny.gguf --quiet

# Production dependencies only. TypeScript comes along as node-llama-cpp's optional peer (its CLI
# alone uses it) and is dropped, and so are the CUDA and Vulkan binaries (about 600 MB) that the
# CPU image could not use.
FROM node:${NODE_VERSION}-slim AS deps
WORKDIR /app
COPY package.json package-lock.json ./
# npm ci's postinstall applies them (patch-package): node-llama-cpp's batch order and top-k
# (docs/decisions/eight-stream-step.md).
COPY patches ./patches
RUN npm ci --omit=dev --no-audit --no-fund \
 && rm -rf node_modules/typescript node_modules/.bin/tsc node_modules/.bin/tsserver \
    node_modules/@node-llama-cpp/linux-x64-cuda node_modules/@node-llama-cpp/linux-x64-cuda-ext node_modules/@node-llama-cpp/linux-x64-vulkan

FROM node:${NODE_VERSION}-slim AS runtime
ENV NODE_ENV=production \
    GPU=false \
    CONVERSATION_CACHE_DIR=/state-cache \
    MODELS_DIR=/models
WORKDIR /app
# A numeric non-root user, so that Kubernetes' runAsNonRoot can verify it. The app files stay
# root-owned and read-only to it; it writes only to the conversation cache folder and the models folder.
RUN groupadd --system --gid 10001 chatworker \
 && useradd --system --uid 10001 --gid 10001 --home-dir /nonexistent --no-create-home --shell /usr/sbin/nologin chatworker \
 && mkdir -p /models /state-cache \
 && chown 10001:10001 /models /state-cache
COPY package.json ./
COPY bin ./bin
COPY templates ./templates
COPY playground ./playground
COPY --from=deps /app/node_modules ./node_modules
COPY --from=build /app/dist/src ./dist/src
COPY --from=build /app/models ./models
USER 10001:10001
EXPOSE 7861
# GGUF files are mounted at /models (set MODEL_PATH=/models/<file>.gguf), or MODEL downloads them
# there (MODELS_DIR; the volume must then be writable); spilled conversation states survive
# restarts in /state-cache.
VOLUME ["/models", "/state-cache"]
# node itself is PID 1 (exec form, no npm, no shell): SIGTERM reaches the worker, which drains
# running generations for SHUTDOWN_GRACE_SECONDS (25) and exits 0. Give `docker stop` more than
# that: `docker run --stop-timeout 35` (Docker's default is 10 s).
STOPSIGNAL SIGTERM
HEALTHCHECK --interval=10s --timeout=5s --start-period=300s --retries=3 CMD ["node", "bin/healthcheck.cjs"]
ENTRYPOINT ["node", "bin/chat-worker.cjs"]
