//! `/series`, `/labels` and `/label/<name>/values`.

use std::collections::BTreeSet;

use ember_tsdb::{Db, Matcher, MergeQuerier, Querier};

use super::params::{self, Form, MAX_TIME_MS, MIN_TIME_MS, Time};
use super::{Answer, Api, ApiError, ApiResult, ErrorKind, json};

/// The `start`/`end` parameters of the metadata endpoints, in ms, defaulting to
/// Prometheus's min and max time.
fn time_range(form: &Form) -> Result<(i64, i64), ApiError> {
    let start = params::parse_time_param(form, "start", Time::from_ms(MIN_TIME_MS))
        .map_err(|e| ApiError::invalid_param("start", e))?;
    let end = params::parse_time_param(form, "end", Time::from_ms(MAX_TIME_MS))
        .map_err(|e| ApiError::invalid_param("end", e))?;
    Ok((start.ms(), end.ms()))
}

/// A querier over the sources Prometheus's `Querier(mint, maxt)` would open: the
/// blocks whose half-open range overlaps `[mint, maxt]`, and the head when its samples
/// do.
fn querier_for(db: &Db, mint: i64, maxt: i64) -> MergeQuerier<'_> {
    let mut sources: Vec<&dyn Querier> = db
        .blocks()
        .iter()
        .filter(|b| b.meta().min_time <= maxt && mint < b.meta().max_time)
        .map(|b| b as &dyn Querier)
        .collect();
    if db
        .head()
        .time_range()
        .is_some_and(|(lo, hi)| lo <= maxt && mint <= hi)
    {
        sources.push(db.head());
    }
    MergeQuerier::new(sources)
}

fn storage_error(e: &ember_tsdb::Error) -> ApiError {
    ApiError::new(ErrorKind::Execution, e.to_string())
}

impl Api {
    /// `/api/v1/series`.
    pub(crate) fn series(&self, form: &Form) -> ApiResult {
        let matches = form.values("match[]");
        if matches.is_empty() {
            return Err(ApiError::bad_data("no match[] parameter provided"));
        }
        let (start, end) = time_range(form)?;
        let sets =
            params::parse_matchers(&matches).map_err(|e| ApiError::invalid_param("match[]", e))?;
        let db = self.db.read();
        let mut all = BTreeSet::new();
        for set in &sets {
            // Prometheus lists a block's series that have a chunk overlapping the range
            // (it reads no samples for this endpoint), so a range between two samples
            // of a chunk finds the series.
            for b in db
                .blocks()
                .iter()
                .filter(|b| b.meta().min_time <= end && start < b.meta().max_time)
            {
                let (lo, hi) = (b.meta().min_time, b.meta().max_time);
                for s in Querier::select(b, set, lo, hi).map_err(|e| storage_error(&e))? {
                    if s.chunks()
                        .iter()
                        .any(|c| c.max_time >= start && c.min_time <= end)
                    {
                        all.insert(s.labels().clone());
                    }
                }
            }
            // Head chunks carry no exact end time: the head answers by samples.
            for s in Querier::select(db.head(), set, start, end).map_err(|e| storage_error(&e))? {
                all.insert(s.labels().clone());
            }
        }
        let mut out = String::from("[");
        for (i, labels) in all.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            json::string_map(
                &mut out,
                labels.pairs().iter().map(|(n, v)| (n.as_str(), v.as_str())),
            );
        }
        out.push(']');
        Ok(Answer::data(out))
    }

    /// `/api/v1/labels`.
    pub(crate) fn label_names(&self, form: &Form) -> ApiResult {
        let (start, end) = time_range(form)?;
        let sets = params::parse_matchers(&form.values("match[]")).map_err(ApiError::bad_data)?;
        let db = self.db.read();
        let q = querier_for(&db, start, end);
        let names = collect(&sets, |m| q.label_names(m))?;
        let mut out = String::new();
        json::string_array(&mut out, names.iter().map(String::as_str));
        Ok(Answer::data(out))
    }

    /// `/api/v1/label/<name>/values`.
    pub(crate) fn label_values(&self, raw_name: &str, form: &Form) -> ApiResult {
        let name = params::unescape(raw_name).unwrap_or_else(|| raw_name.to_owned());
        if !crate::labels::is_valid_label_name(&name) {
            return Err(ApiError::bad_data(format!(
                "invalid label name: {}",
                params::go_quote(&name)
            )));
        }
        let (start, end) = time_range(form)?;
        let sets = params::parse_matchers(&form.values("match[]")).map_err(ApiError::bad_data)?;
        let db = self.db.read();
        let q = querier_for(&db, start, end);
        let values = collect(&sets, |m| q.label_values(&name, m))?;
        let mut out = String::new();
        json::string_array(&mut out, values.iter().map(String::as_str));
        Ok(Answer::data(out))
    }
}

/// The union of `f` over each matcher set (all series when there is none), sorted.
fn collect(
    sets: &[Vec<Matcher>],
    f: impl Fn(&[Matcher]) -> Result<Vec<String>, ember_tsdb::Error>,
) -> Result<BTreeSet<String>, ApiError> {
    let mut all = BTreeSet::new();
    if sets.is_empty() {
        all.extend(f(&[]).map_err(|e| storage_error(&e))?);
    }
    for set in sets {
        all.extend(f(set).map_err(|e| storage_error(&e))?);
    }
    Ok(all)
}
