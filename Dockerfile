# BuildServer container image: one self-contained single-file binary on a minimal runtime-deps base.
#
# Build from source (needs access to mcr.microsoft.com and NuGet):
#   docker build -t buildserver .
# Run (listens on all interfaces of the container, HTTP 8080 and HTTPS 8443; state in the /data volume):
#   docker run -d --name buildserver --init -p 127.0.0.1:8080:8080 -p 8443:8443 -v buildserver-data:/data buildserver
#
# Package an already published binary (tools/publish.sh -> publish/) without the SDK stage; note the
# build context is the publish/ folder:
#   docker build --target runtime-from-publish -t buildserver -f Dockerfile publish
#
# Base images are build arguments, e.g. --build-arg RUNTIME_IMAGE=<a local Debian/Ubuntu image>.
# mcr.microsoft.com/dotnet/runtime-deps:10.0 is Ubuntu 24.04 (Microsoft ships no Debian images for .NET 10);
# any apt-based Debian or Ubuntu image works as RUNTIME_IMAGE. docs/install.md has the details.
ARG SDK_IMAGE=mcr.microsoft.com/dotnet/sdk:10.0
ARG RUNTIME_IMAGE=mcr.microsoft.com/dotnet/runtime-deps:10.0

# ---- runtime-base: what the server needs at run time, no application yet ----
# (Stages are ordered so that --target runtime-from-publish never needs the SDK image, even with the
# legacy builder, which builds every stage before the target.)
FROM ${RUNTIME_IMAGE} AS runtime-base
# The shell executor runs steps as `setsid bash ...`; pipelines commonly clone with git over https.
# curl serves the HEALTHCHECK below.
RUN apt-get update \
 && apt-get install -y --no-install-recommends bash ca-certificates curl git \
 && rm -rf /var/lib/apt/lists/*
# A fixed, unprivileged user; its home holds the single-file bundle's extracted native library
# (~/.net/buildserver/..., libe_sqlite3.so) and git's settings.
ARG APP_UID=10001
RUN groupadd --system --gid ${APP_UID} buildserver \
 && useradd --system --uid ${APP_UID} --gid ${APP_UID} --create-home --home-dir /home/buildserver \
      --shell /bin/bash buildserver \
 && mkdir -p /app /data \
 && chown buildserver:buildserver /data
# DataDir: the same folder for verbs run without --data-dir (e.g. `docker run ... buildserver migrate`).
# Https__Url: users and agents reach the container's HTTPS port. Plain HTTP stays on the container's own
# loopback (the health check's); publishing it needs an explicit --urls http://0.0.0.0:8080 --AllowInsecureHttp=true.
ENV DataDir=/data \
    Https__Url=https://0.0.0.0:8443 \
    DOTNET_RUNNING_IN_CONTAINER=true
WORKDIR /data
VOLUME ["/data"]
EXPOSE 8443
# Probes the default port of CMD; with another --urls port, override or disable it (--no-healthcheck).
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
  CMD curl -fsS -o /dev/null http://127.0.0.1:8080/healthz || exit 1
USER buildserver
ENTRYPOINT ["/app/buildserver"]
CMD ["serve", "--data-dir", "/data", "--urls", "http://127.0.0.1:8080"]

# ---- runtime-from-publish: package a binary published on the host (build context = publish/) ----
# The whole context is copied: with publish/ as context that is buildserver + appsettings.json + the web UI's
# static files (wwwroot/, buildserver.staticwebassets.endpoints.json). (`COPY .`
# rather than named files so that the legacy builder, which builds this stage on its way to the default
# target with the repository root as context, does not fail on missing files.)
FROM runtime-base AS runtime-from-publish
COPY --chown=root:root . /app/

# ---- build: single-file publish with the .NET SDK ----
FROM ${SDK_IMAGE} AS build
WORKDIR /src
# Restore first, from the project files only, so source edits do not invalidate the package layer.
COPY global.json Directory.Build.props Directory.Packages.props ./
COPY BuildServer/BuildServer.csproj BuildServer/Publish.props BuildServer/
COPY BuildServer.Modules/BuildServer.Modules.csproj BuildServer.Modules/
RUN dotnet restore BuildServer/BuildServer.csproj -r linux-x64
COPY . .
RUN bash tools/publish.sh linux-x64 /out

# ---- runtime (default): the image built from source ----
FROM runtime-base AS runtime
COPY --from=build --chown=root:root /out/buildserver /out/appsettings.json /out/buildserver.staticwebassets.endpoints.json /app/
COPY --from=build --chown=root:root /out/wwwroot /app/wwwroot
