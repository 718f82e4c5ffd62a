# Images for api and worker, and apart from them one for the Lever simulator (a test double that must never
# ship to production). The command picks the app (`node apps/<app>/dist/server.js`).
# Targets:
#   migrate  every dependency (the Prisma CLI and tsx are root dev dependencies): runs `pnpm db:migrate`.
#   sim      the simulator alone (apps/lever-sim: its production dependencies and dist/), for docker compose
#            and local trials; it refuses NODE_ENV=production.
#   runtime  (the default, last) api and worker: production dependencies and the compiled dist/ folders
#            only; no pnpm, no sources, no dev dependencies, no simulator.

FROM node:24-bookworm-slim AS base
WORKDIR /app
ENV CHECKPOINT_DISABLE=1 TURBO_TELEMETRY_DISABLED=1
COPY package.json ./
# Exactly the pnpm that package.json's `packageManager` names: any other version would download that one.
RUN npm install -g "$(node -p "require('./package.json').packageManager.split('+')[0]")"

# What `pnpm install` reads, and nothing else, so a source change does not invalidate the install layers.
FROM base AS manifests
COPY . /src
RUN cd /src \
  && cp --parents package.json pnpm-lock.yaml pnpm-workspace.yaml apps/*/package.json packages/*/package.json /app/ \
  && cp -r patches /app/

FROM base AS build
COPY --from=manifests /app ./
# --ignore-scripts skips only our postinstall (prisma generate), which needs the schema copied below;
# pnpm runs no dependency's build script anyway (pnpm-workspace.yaml). Patches are still applied.
RUN pnpm install --frozen-lockfile --ignore-scripts
COPY . .
# The Prisma client is generated into packages/db/src/generated (git-ignored), then compiled with the rest.
RUN pnpm db:generate && pnpm build

FROM build AS migrate
USER node
CMD ["pnpm", "db:migrate"]

# Each workspace package's dist/ at its own path, to lay over a production install: the simulator's under
# /out/sim, everything else's under /out/service.
FROM build AS dist
RUN for d in apps/* packages/*; do \
    if [ -d "$d/dist" ]; then \
      if [ "$d" = apps/lever-sim ]; then out=/out/sim; else out=/out/service; fi; \
      mkdir -p "$out/$d" && cp -r "$d/dist" "$out/$d/"; \
    fi; \
  done

# A fresh production-only install of the service: the workspace without the simulator (the lockfile's entry
# for it is simply unused), so none of its dependencies either. The workspace packages' manifests resolve
# them to dist/ at run time.
FROM base AS prod-deps
COPY --from=manifests /app ./
RUN rm -r apps/lever-sim && pnpm install --frozen-lockfile --prod --ignore-scripts

# The simulator's own production install: the root manifests and its package.json only.
FROM base AS sim-deps
COPY --from=manifests /app/package.json /app/pnpm-lock.yaml /app/pnpm-workspace.yaml ./
COPY --from=manifests /app/patches ./patches
COPY --from=manifests /app/apps/lever-sim/package.json ./apps/lever-sim/
RUN pnpm install --frozen-lockfile --prod --ignore-scripts

FROM node:24-bookworm-slim AS sim
# Not `production`: the simulator refuses it. HOST as for runtime below.
ENV NODE_ENV=development HOST=0.0.0.0
WORKDIR /app
COPY --from=sim-deps /app ./
COPY --from=dist /out/sim ./
USER node
EXPOSE 4010
CMD ["node", "apps/lever-sim/dist/server.js"]

FROM node:24-bookworm-slim AS runtime
# A container's own loopback is unreachable from outside it; compose overrides HOST for host networking.
ENV NODE_ENV=production HOST=0.0.0.0
WORKDIR /app
COPY --from=prod-deps /app ./
COPY --from=dist /out/service ./
USER node
EXPOSE 3000
CMD ["node", "apps/api/dist/server.js"]
