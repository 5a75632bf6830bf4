//! Reads: a querier merging blocks and head, selects, label names and values, metadata.

use crate::Error;
use crate::head::{HeadSamples, HeadSeries, SeriesId};
use crate::labels::Labels;
use crate::matcher::Matcher;
use crate::querier::{MergeQuerier, Querier, Series};
use crate::record::Metadata;

use super::Db;

impl Db {
    /// Samples of series `id` with `mint <= t <= maxt`.
    pub fn samples_in(&self, id: SeriesId, mint: i64, maxt: i64) -> Result<HeadSamples<'_>, Error> {
        self.head.samples_in(id, mint, maxt)
    }

    /// Every series of the head with samples in `mint..=maxt`, with those samples (the
    /// head only; [`Db::select`] reads blocks too).
    pub fn head_series(&self, mint: i64, maxt: i64) -> impl Iterator<Item = HeadSeries<'_>> + '_ {
        self.head.series_in_range(mint, maxt)
    }

    /// A querier over every block and the head, merged (a sample is in exactly one of
    /// them: the head refuses samples before the newest block's end).
    pub fn querier(&self) -> MergeQuerier<'_> {
        let mut sources: Vec<&dyn Querier> =
            self.blocks.iter().map(|b| b as &dyn Querier).collect();
        sources.push(&self.head);
        MergeQuerier::new(sources)
    }

    /// Series matching every matcher with samples in `mint..=maxt`, from blocks and
    /// head, sorted by labels.
    pub fn select(&self, matchers: &[Matcher], mint: i64, maxt: i64) -> Result<Vec<Series>, Error> {
        self.querier().select(matchers, mint, maxt)
    }

    /// Label names of the series (blocks and head) matching every matcher, sorted.
    pub fn label_names(&self, matchers: &[Matcher]) -> Result<Vec<String>, Error> {
        self.querier().label_names(matchers)
    }

    /// Values of label `name` on the series (blocks and head) matching every matcher,
    /// sorted.
    pub fn label_values(&self, name: &str, matchers: &[Matcher]) -> Result<Vec<String>, Error> {
        self.querier().label_values(name, matchers)
    }

    /// The metadata last written for a series.
    pub fn metadata(&self, labels: &Labels) -> Option<&Metadata> {
        self.head.metadata(self.head.get(labels)?)
    }
}
