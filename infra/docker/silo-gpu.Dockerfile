# The silo for GPU nodes. It copies a self-contained publish made beforehand (no SDK in the image, no restore at build):
#   bash infra/publish.sh silo --gpu
#   docker build -f infra/docker/silo-gpu.Dockerfile -t specedge/silo:gpu .
# The CUDA user-space libraries come from the base image; the driver comes from the node (NVIDIA container toolkit).
FROM nvidia/cuda:12.8.1-cudnn-runtime-ubuntu24.04

# .NET's native prerequisites for a self-contained app (globalization, TLS, compression).
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates libicu74 libssl3t64 zlib1g \
 && rm -rf /var/lib/apt/lists/*

RUN groupadd --system --gid 10001 specedge \
 && useradd --system --uid 10001 --gid specedge --no-create-home --shell /usr/sbin/nologin specedge

WORKDIR /app
COPY artifacts/publish/silo-gpu/ /app/

# Silo-to-silo, client gateway, HTTP (health, metrics). Kubernetes gives POD_IP / POD_NAME and the rest (infra/k8s).
EXPOSE 11111 30000 8080 30443
ENV ASPNETCORE_URLS=http://0.0.0.0:8080 \
    DOTNET_RUNNING_IN_CONTAINER=true \
    SpecEdge__Devices=cuda:0 \
    SpecEdge__DType=bf16

USER 10001
ENTRYPOINT ["/app/SpecEdge.Silo"]
