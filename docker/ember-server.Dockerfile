# ember-server in a container. Build from the repository root:
#   docker build -f docker/ember-server.Dockerfile -t ember-server .
# Run with a prometheus.yml and a volume for the data (flags as Prometheus's):
#   docker run -d -p 9090:9090 \
#     -v $PWD/prometheus.yml:/etc/ember/prometheus.yml:ro -v ember-data:/var/lib/ember \
#     ember-server
# Without a mounted prometheus.yml it runs its built-in configuration (itself and
# localhost:9100; add --net=host to reach a node_exporter_rs on the host).
FROM rust:1-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --locked --profile dist -p ember-server --bin ember-server \
 && cp target/dist/ember-server /ember-server \
 && mkdir -p /var/lib/ember /etc/ember

FROM debian:bookworm-slim
COPY --from=build /ember-server /bin/ember-server
COPY --from=build --chown=65534:65534 /var/lib/ember /var/lib/ember
COPY --from=build --chown=65534:65534 /etc/ember /etc/ember
WORKDIR /etc/ember
USER 65534:65534
EXPOSE 9090
VOLUME ["/var/lib/ember"]
ENTRYPOINT ["/bin/ember-server", "--storage.tsdb.path=/var/lib/ember", "--web.listen-address=0.0.0.0:9090"]
