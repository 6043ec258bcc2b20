# The edge host (Orleans client with the draft model) for a Linux PC or a test runner. Copies a self-contained publish:
#   bash infra/publish.sh edge-host
#   docker build -f infra/docker/edge-host.Dockerfile -t specedge/edge-host .
#   docker run -it -v $PWD/models/demo/draft:/models/draft -v ~/.specedge:/credentials:ro specedge/edge-host \
#     --gateways silo.example.net:30000 --draft /models/draft --credential-file /credentials/edge.token
FROM debian:12.11-slim

RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates libicu72 libssl3 zlib1g \
 && rm -rf /var/lib/apt/lists/*

RUN groupadd --system --gid 10001 specedge \
 && useradd --system --uid 10001 --gid specedge --no-create-home --shell /usr/sbin/nologin specedge

WORKDIR /app
COPY artifacts/publish/edge-host/ /app/

USER 10001
ENTRYPOINT ["/app/SpecEdge.EdgeHost"]
