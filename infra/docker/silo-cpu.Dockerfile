# The silo on CPU (the kustomize base; a try-out cluster without GPUs). Copies a self-contained publish made beforehand:
#   bash infra/publish.sh silo
#   docker build -f infra/docker/silo-cpu.Dockerfile -t specedge/silo:cpu .
FROM debian:12.11-slim

RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates libicu72 libssl3 zlib1g libgomp1 \
 && rm -rf /var/lib/apt/lists/*

RUN groupadd --system --gid 10001 specedge \
 && useradd --system --uid 10001 --gid specedge --no-create-home --shell /usr/sbin/nologin specedge

WORKDIR /app
COPY artifacts/publish/silo/ /app/

# Silo-to-silo, client gateway, HTTP (health, metrics). Kubernetes gives POD_IP / POD_NAME and the rest (infra/k8s).
EXPOSE 11111 30000 8080 30443
ENV ASPNETCORE_URLS=http://0.0.0.0:8080 \
    DOTNET_RUNNING_IN_CONTAINER=true

USER 10001
ENTRYPOINT ["/app/SpecEdge.Silo"]
