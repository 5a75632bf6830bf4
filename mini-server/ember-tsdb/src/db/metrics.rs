//! Self-metrics of a [`crate::Db`], named as Prometheus 2.42 names its TSDB metrics with
//! `prometheus_` replaced by `ember_`.

use ember::{Counter, FloatGauge, Gauge, Registry, Summary};

use crate::head::HeadStats;

/// The `ember_tsdb_*` metrics of a [`crate::Db`]. Handles: clones share the values.
///
/// Register them with [`TsdbMetrics::register`]. Names, types and HELP texts follow
/// Prometheus 2.42's `prometheus_tsdb_*` (`type="float"` on the per-sample counters, as
/// there); `ember_tsdb_duplicate_samples_total` has no Prometheus TSDB counterpart
/// (Prometheus counts duplicates in its scrape layer).
#[derive(Debug, Clone)]
pub struct TsdbMetrics {
    /// `ember_tsdb_head_series`.
    pub head_series: Gauge,
    /// `ember_tsdb_head_series_created_total`.
    pub head_series_created: Counter,
    /// `ember_tsdb_head_series_removed_total`.
    pub head_series_removed: Counter,
    /// `ember_tsdb_head_chunks`.
    pub head_chunks: Gauge,
    /// `ember_tsdb_head_chunks_created_total`.
    pub head_chunks_created: Counter,
    /// `ember_tsdb_head_chunks_removed_total`.
    pub head_chunks_removed: Counter,
    /// `ember_tsdb_head_samples_appended_total{type="float"}`.
    pub head_samples_appended: Counter,
    /// `ember_tsdb_out_of_order_samples_total{type="float"}`.
    pub out_of_order_samples: Counter,
    /// `ember_tsdb_out_of_bound_samples_total{type="float"}`.
    pub out_of_bound_samples: Counter,
    /// `ember_tsdb_duplicate_samples_total{type="float"}` (Ember only).
    pub duplicate_samples: Counter,
    /// `ember_tsdb_head_truncations_total`.
    pub head_truncations: Counter,
    /// `ember_tsdb_head_truncations_failed_total`.
    pub head_truncations_failed: Counter,
    /// `ember_tsdb_wal_corruptions_total`.
    pub wal_corruptions: Counter,
    /// `ember_tsdb_wal_fsync_duration_seconds` (summary, quantiles 0.5, 0.9, 0.99).
    pub wal_fsync_duration: Summary,
    /// `ember_tsdb_wal_writes_failed_total`.
    pub wal_writes_failed: Counter,
    /// `ember_tsdb_wal_truncations_total`.
    pub wal_truncations: Counter,
    /// `ember_tsdb_wal_truncations_failed_total`.
    pub wal_truncations_failed: Counter,
    /// `ember_tsdb_wal_segment_current`.
    pub wal_segment_current: Gauge,
    /// `ember_tsdb_checkpoint_creations_total`.
    pub checkpoint_creations: Counter,
    /// `ember_tsdb_checkpoint_creations_failed_total`.
    pub checkpoint_creations_failed: Counter,
    /// `ember_tsdb_checkpoint_deletions_total`.
    pub checkpoint_deletions: Counter,
    /// `ember_tsdb_checkpoint_deletions_failed_total`.
    pub checkpoint_deletions_failed: Counter,
    /// `ember_tsdb_data_replay_duration_seconds`.
    pub data_replay_duration: FloatGauge,
    /// `ember_tsdb_compactions_total` (head and block compactions).
    pub compactions: Counter,
    /// `ember_tsdb_compactions_failed_total`.
    pub compactions_failed: Counter,
    /// `ember_tsdb_blocks_loaded`.
    pub blocks_loaded: Gauge,
    /// `ember_tsdb_time_retentions_total`.
    pub time_retentions: Counter,
    /// `ember_tsdb_size_retentions_total`.
    pub size_retentions: Counter,
    /// `ember_tsdb_storage_blocks_bytes`.
    pub storage_blocks_bytes: Gauge,
    /// `ember_tsdb_lowest_timestamp` (ms; `i64::MAX` while the store is empty).
    pub lowest_timestamp: Gauge,
    /// Head counters already added to the metrics.
    published: HeadStats,
}

impl Default for TsdbMetrics {
    fn default() -> Self {
        Self::new()
    }
}

impl TsdbMetrics {
    /// Fresh metrics, all zero.
    pub fn new() -> Self {
        let wal_fsync_duration = Summary::builder()
            .quantiles(&[(0.5, 0.05), (0.9, 0.01), (0.99, 0.001)])
            .build()
            .unwrap_or_default();
        Self {
            head_series: Gauge::default(),
            head_series_created: Counter::default(),
            head_series_removed: Counter::default(),
            head_chunks: Gauge::default(),
            head_chunks_created: Counter::default(),
            head_chunks_removed: Counter::default(),
            head_samples_appended: Counter::default(),
            out_of_order_samples: Counter::default(),
            out_of_bound_samples: Counter::default(),
            duplicate_samples: Counter::default(),
            head_truncations: Counter::default(),
            head_truncations_failed: Counter::default(),
            wal_corruptions: Counter::default(),
            wal_fsync_duration,
            wal_writes_failed: Counter::default(),
            wal_truncations: Counter::default(),
            wal_truncations_failed: Counter::default(),
            wal_segment_current: Gauge::default(),
            checkpoint_creations: Counter::default(),
            checkpoint_creations_failed: Counter::default(),
            checkpoint_deletions: Counter::default(),
            checkpoint_deletions_failed: Counter::default(),
            data_replay_duration: FloatGauge::default(),
            compactions: Counter::default(),
            compactions_failed: Counter::default(),
            blocks_loaded: Gauge::default(),
            time_retentions: Counter::default(),
            size_retentions: Counter::default(),
            storage_blocks_bytes: Gauge::default(),
            lowest_timestamp: Gauge::default(),
            published: HeadStats::default(),
        }
    }

    /// Registers every metric in `registry` under its `ember_tsdb_*` name.
    pub fn register(&self, registry: &Registry) -> Result<(), ember::Error> {
        let r = registry;
        // The per-sample counters carry `type="float"`, as Prometheus's.
        let float = registry.sub_registry_with_labels([("type", "float")])?;
        r.register(
            "ember_tsdb_head_series",
            "Total number of series in the head block.",
            self.head_series.clone(),
        )?;
        r.register(
            "ember_tsdb_head_series_created_total",
            "Total number of series created in the head",
            self.head_series_created.clone(),
        )?;
        r.register(
            "ember_tsdb_head_series_removed_total",
            "Total number of series removed in the head",
            self.head_series_removed.clone(),
        )?;
        r.register(
            "ember_tsdb_head_chunks",
            "Total number of chunks in the head block.",
            self.head_chunks.clone(),
        )?;
        r.register(
            "ember_tsdb_head_chunks_created_total",
            "Total number of chunks created in the head",
            self.head_chunks_created.clone(),
        )?;
        r.register(
            "ember_tsdb_head_chunks_removed_total",
            "Total number of chunks removed in the head",
            self.head_chunks_removed.clone(),
        )?;
        float.register(
            "ember_tsdb_head_samples_appended_total",
            "Total number of appended samples.",
            self.head_samples_appended.clone(),
        )?;
        float.register(
            "ember_tsdb_out_of_order_samples_total",
            "Total number of out of order samples ingestion failed attempts due to out of order being disabled.",
            self.out_of_order_samples.clone(),
        )?;
        float.register(
            "ember_tsdb_out_of_bound_samples_total",
            "Total number of out of bound samples ingestion failed attempts with out of order support disabled.",
            self.out_of_bound_samples.clone(),
        )?;
        float.register(
            "ember_tsdb_duplicate_samples_total",
            "Total number of samples rejected for a timestamp already stored with a different value.",
            self.duplicate_samples.clone(),
        )?;
        r.register(
            "ember_tsdb_head_truncations_total",
            "Total number of head truncations attempted.",
            self.head_truncations.clone(),
        )?;
        r.register(
            "ember_tsdb_head_truncations_failed_total",
            "Total number of head truncations that failed.",
            self.head_truncations_failed.clone(),
        )?;
        r.register(
            "ember_tsdb_wal_corruptions_total",
            "Total number of WAL corruptions.",
            self.wal_corruptions.clone(),
        )?;
        r.register(
            "ember_tsdb_wal_fsync_duration_seconds",
            "Duration of write log fsync.",
            self.wal_fsync_duration.clone(),
        )?;
        r.register(
            "ember_tsdb_wal_writes_failed_total",
            "Total number of write log writes that failed.",
            self.wal_writes_failed.clone(),
        )?;
        r.register(
            "ember_tsdb_wal_truncations_total",
            "Total number of write log truncations attempted.",
            self.wal_truncations.clone(),
        )?;
        r.register(
            "ember_tsdb_wal_truncations_failed_total",
            "Total number of write log truncations that failed.",
            self.wal_truncations_failed.clone(),
        )?;
        r.register(
            "ember_tsdb_wal_segment_current",
            "Write log segment index that TSDB is currently writing to.",
            self.wal_segment_current.clone(),
        )?;
        r.register(
            "ember_tsdb_checkpoint_creations_total",
            "Total number of checkpoint creations attempted.",
            self.checkpoint_creations.clone(),
        )?;
        r.register(
            "ember_tsdb_checkpoint_creations_failed_total",
            "Total number of checkpoint creations that failed.",
            self.checkpoint_creations_failed.clone(),
        )?;
        r.register(
            "ember_tsdb_checkpoint_deletions_total",
            "Total number of checkpoint deletions attempted.",
            self.checkpoint_deletions.clone(),
        )?;
        r.register(
            "ember_tsdb_checkpoint_deletions_failed_total",
            "Total number of checkpoint deletions that failed.",
            self.checkpoint_deletions_failed.clone(),
        )?;
        r.register(
            "ember_tsdb_data_replay_duration_seconds",
            "Time taken to replay the data on disk.",
            self.data_replay_duration.clone(),
        )?;
        r.register(
            "ember_tsdb_compactions_total",
            "Total number of compactions that were executed for the partition.",
            self.compactions.clone(),
        )?;
        r.register(
            "ember_tsdb_compactions_failed_total",
            "Total number of compactions that failed for the partition.",
            self.compactions_failed.clone(),
        )?;
        r.register(
            "ember_tsdb_blocks_loaded",
            "Number of currently loaded data blocks",
            self.blocks_loaded.clone(),
        )?;
        r.register(
            "ember_tsdb_time_retentions_total",
            "The number of times that blocks were deleted because the maximum time limit was exceeded.",
            self.time_retentions.clone(),
        )?;
        r.register(
            "ember_tsdb_size_retentions_total",
            "The number of times that blocks were deleted because the maximum number of bytes was exceeded.",
            self.size_retentions.clone(),
        )?;
        r.register(
            "ember_tsdb_storage_blocks_bytes",
            "The number of bytes that are currently used for local storage by all blocks.",
            self.storage_blocks_bytes.clone(),
        )?;
        r.register(
            "ember_tsdb_lowest_timestamp",
            "Lowest timestamp value stored in the database. The unit is decided by the library consumer.",
            self.lowest_timestamp.clone(),
        )?;
        Ok(())
    }

    /// Adds what the head counted since the last call.
    pub(crate) fn publish(&mut self, now: HeadStats, series: usize, chunks: usize) {
        let p = self.published;
        self.head_series_created
            .inc_by(now.series_created - p.series_created);
        self.head_series_removed
            .inc_by(now.series_removed - p.series_removed);
        self.head_chunks_created
            .inc_by(now.chunks_created - p.chunks_created);
        self.head_chunks_removed
            .inc_by(now.chunks_removed - p.chunks_removed);
        self.head_samples_appended
            .inc_by(now.samples_appended - p.samples_appended);
        self.out_of_order_samples
            .inc_by(now.out_of_order - p.out_of_order);
        self.out_of_bound_samples
            .inc_by(now.out_of_bounds - p.out_of_bounds);
        self.duplicate_samples.inc_by(now.duplicates - p.duplicates);
        self.head_series.set(series as i64);
        self.head_chunks.set(chunks as i64);
        self.published = now;
    }
}
