//! node_exporter_rs: the collectors of Prometheus's node_exporter for Linux, with the same
//! metric names, label names, types, HELP texts and flags, on Ember's exporter framework.
//!
//! Every file is read through [`Paths`] (`--path.procfs`, `--path.sysfs`,
//! `--path.rootfs`, `--path.udev.data`), so each collector runs against a fixture tree in
//! tests exactly as it runs against the host.

pub mod collectors;
mod paths;
pub mod sysfs;
pub mod util;

pub use paths::Paths;

/// The exporter's identity: name, version, namespace and default port 9100.
pub const INFO: ember_exporter::ExporterInfo = ember_exporter::ExporterInfo {
    name: "node_exporter",
    description: "Prometheus exporter for machine metrics",
    version: env!("CARGO_PKG_VERSION"),
    namespace: "node",
    default_listen_address: ":9100",
};
