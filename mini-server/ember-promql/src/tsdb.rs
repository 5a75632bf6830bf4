//! [`Queryable`] over ember-tsdb (cargo feature `tsdb`): any [`ember_tsdb::Querier`] (a
//! [`Block`](ember_tsdb::Block), the [`Head`](ember_tsdb::Head), a
//! [`MergeQuerier`](ember_tsdb::MergeQuerier) of them) answers the engine's selects.
//!
//! Matchers are converted once per select (a regex is compiled once per selector, not
//! per series or sample); labels once per selected series. Samples are decoded per
//! series (chunk by chunk when its chunks are disjoint, through ember-tsdb's merging
//! iterator when they overlap) into one vector sized from the chunks (the engine copies them into its own
//! buffers next), with values bit for bit, so staleness markers stay markers.

use ember_tsdb::{MatchOp as TsdbOp, Matcher, Querier};

use crate::error::{Error, Result};
use crate::labels::{Label, LabelMatcher, Labels, MatchOp};
use crate::storage::{Queryable, Sample, SelectedSeries};

/// Upper bound on the samples of one chunk, to size a series' buffer without a count.
const CHUNK_SAMPLES_HINT: usize = 120;

/// Converts the engine's matchers to ember-tsdb's.
fn convert_matchers(matchers: &[LabelMatcher]) -> Result<Vec<Matcher>> {
    matchers
        .iter()
        .map(|m| {
            let op = match m.op {
                MatchOp::Equal => TsdbOp::Equal,
                MatchOp::NotEqual => TsdbOp::NotEqual,
                MatchOp::Regex => TsdbOp::Regex,
                MatchOp::NotRegex => TsdbOp::NotRegex,
            };
            Matcher::new(op, m.name.as_str(), m.value.as_str())
                .map_err(|e| Error::BadData(format!("invalid matcher {}: {e}", m.name)))
        })
        .collect()
}

fn convert_labels(labels: &ember_tsdb::Labels) -> Labels {
    Labels::new(
        labels
            .pairs()
            .iter()
            .map(|(name, value)| Label {
                name: name.clone(),
                value: value.clone(),
            })
            .collect(),
    )
}

impl<Q: Querier + ?Sized> Queryable for Q {
    fn select(
        &self,
        matchers: &[LabelMatcher],
        mint: i64,
        maxt: i64,
    ) -> Result<Vec<SelectedSeries<'_>>> {
        let matchers = convert_matchers(matchers)?;
        let selected = Querier::select(self, &matchers, mint, maxt)
            .map_err(|e| Error::Storage(e.to_string()))?;
        Ok(selected
            .into_iter()
            .map(|series| {
                let chunks = series.chunks();
                let mut samples = Vec::with_capacity(chunks.len() * CHUNK_SAMPLES_HINT);
                if chunks.windows(2).all(|w| w[0].max_time < w[1].min_time) {
                    // Disjoint chunks (always so within one block): decode them in turn,
                    // checking the range only in the chunks that cross its ends.
                    for c in chunks {
                        if c.min_time >= mint && c.max_time <= maxt {
                            samples.extend(c.chunk.iter().map(|(t, v)| Sample { t, v }));
                        } else {
                            samples.extend(
                                c.chunk
                                    .iter()
                                    .filter(|&(t, _)| t >= mint && t <= maxt)
                                    .map(|(t, v)| Sample { t, v }),
                            );
                        }
                    }
                } else {
                    // Overlapping chunks (blocks merged): the merging iterator.
                    samples.extend(series.iter().map(|(t, v)| Sample { t, v }));
                }
                SelectedSeries {
                    labels: convert_labels(series.labels()),
                    samples: Box::new(samples.into_iter()),
                }
            })
            .collect())
    }
}
