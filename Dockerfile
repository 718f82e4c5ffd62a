# One image for api, worker and lever-sim; the command picks the app (`node apps/<app>/dist/server.js`).
# Targets:
#   migrate  every dependency (the Prisma CLI and tsx are root dev dependencies): runs `pnpm db:migrate`.
#   runtime  (the default, last) production dependencies and the compiled dist/ folders only; no pnpm,
#            no sources, no dev dependencies.

FROM node:20-bookworm-slim AS base
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

# Each workspace package's dist/ at its own path, to lay over the production install.
FROM build AS dist
RUN mkdir /out && for d in apps/* packages/*; do \
    if [ -d "$d/dist" ]; then mkdir -p "/out/$d" && cp -r "$d/dist" "/out/$d/"; fi; \
  done

# A fresh production-only install (the workspace packages' manifests resolve them to dist/ at run time).
FROM base AS prod-deps
COPY --from=manifests /app ./
RUN pnpm install --frozen-lockfile --prod --ignore-scripts

FROM node:20-bookworm-slim AS runtime
# A container's own loopback is unreachable from outside it; compose overrides HOST for host networking.
ENV NODE_ENV=production HOST=0.0.0.0
WORKDIR /app
COPY --from=prod-deps /app ./
COPY --from=dist /out ./
USER node
EXPOSE 3000
CMD ["node", "apps/api/dist/server.js"]
