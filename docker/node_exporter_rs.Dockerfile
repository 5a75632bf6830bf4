# node_exporter_rs in a container. Build from the repository root:
#   docker build -f docker/node_exporter_rs.Dockerfile -t node_exporter_rs .
# Run with the host's /proc, /sys and root file system mounted read-only, host network and
# host PID namespace so the metrics describe the host, not the container:
#   docker run -d --net=host --pid=host \
#     -v /proc:/host/proc:ro -v /sys:/host/sys:ro -v /:/host/root:ro,rslave \
#     node_exporter_rs --path.procfs=/host/proc --path.sysfs=/host/sys --path.rootfs=/host/root
FROM rust:1-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --locked --profile dist -p node_exporter_rs \
 && cp target/dist/node_exporter_rs /node_exporter_rs

FROM debian:bookworm-slim
COPY --from=build /node_exporter_rs /bin/node_exporter_rs
USER 65534:65534
EXPOSE 9100
ENTRYPOINT ["/bin/node_exporter_rs"]
