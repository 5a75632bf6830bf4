//! `/query`, `/query_range`, `/query_exemplars` and `/format_query`.

use std::time::{Duration, SystemTime};

use ember_promql::promql_parser::parser::{self, Expr};
use ember_promql::{Engine, EngineOptions, QueryValue};

use super::params::{self, Form, MAX_TIME_MS, MIN_TIME_MS, Time};
use super::{Answer, Api, ApiError, ApiResult};

/// Prometheus's cap on the points of one range query series.
const MAX_POINTS: i128 = 11_000;

/// Now, in ms since the epoch.
pub(crate) fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

impl Api {
    /// The engine for one request: the configured one, its timeout shortened by a
    /// `timeout` parameter.
    fn engine_for(&self, form: &Form) -> Result<Engine, ApiError> {
        let to = form.value("timeout");
        if to.is_empty() {
            return Ok(self.engine.clone());
        }
        let ns = params::parse_duration(to).map_err(|e| ApiError::invalid_param("timeout", e))?;
        let requested = Duration::from_nanos(ns.max(0) as u64);
        let opts = self.engine.options();
        Ok(Engine::new(EngineOptions {
            timeout: Some(opts.timeout.map_or(requested, |t| t.min(requested))),
            ..opts.clone()
        }))
    }

    /// Evaluates under the storage's read lock.
    fn eval(
        &self,
        engine: &Engine,
        query: &str,
        start: i64,
        end: i64,
        step: i64,
    ) -> ember_promql::Result<QueryValue> {
        let db = self.db.read();
        let q = db.querier();
        // Prometheus's engine recovers a runtime panic into "unexpected error: ..."
        // (an execution error); so does this, so one query cannot take the server down.
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            engine.exec(&q, query, start, end, step, None)
        }))
        .unwrap_or_else(|panic| {
            let msg = panic
                .downcast_ref::<&str>()
                .map(|s| (*s).to_owned())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "panic".to_owned());
            Err(ember_promql::Error::Execution(format!(
                "unexpected error: {msg}"
            )))
        })
    }

    /// `/api/v1/query`.
    pub(crate) fn query(&self, form: &Form) -> ApiResult {
        let t = params::parse_time_param(form, "time", Time::from_ms(now_ms()))
            .map_err(|e| ApiError::invalid_param("time", e))?;
        let engine = self.engine_for(form)?;
        let t = t.engine_ms();
        match self.eval(&engine, form.value("query"), t, t, 0) {
            Ok(v) => Ok(Answer::data(ember_promql::result_json(&v))),
            // Only the parse and type checks of Prometheus's `NewInstantQuery` fail
            // with bad_data; it names the parameter.
            Err(e) if e.error_type() == "bad_data" => Err(ApiError::invalid_param(
                "query",
                params::go_parse_error(form.value("query"), e.to_string()),
            )),
            Err(e) => Err(ApiError::from_engine(&e)),
        }
    }

    /// `/api/v1/query_range`.
    pub(crate) fn query_range(&self, form: &Form) -> ApiResult {
        let start = params::parse_time(form.value("start"))
            .map_err(|e| ApiError::invalid_param("start", e))?;
        let end =
            params::parse_time(form.value("end")).map_err(|e| ApiError::invalid_param("end", e))?;
        if end < start {
            return Err(ApiError::invalid_param(
                "end",
                "end timestamp must not be before start time",
            ));
        }
        let step = params::parse_duration(form.value("step"))
            .map_err(|e| ApiError::invalid_param("step", e))?;
        if step <= 0 {
            return Err(ApiError::invalid_param(
                "step",
                "zero or negative query resolution step widths are not accepted. Try a positive integer",
            ));
        }
        // Go: end.Sub(start) saturates at the int64 nanosecond range.
        let span = (end.ns - start.ns).clamp(i128::from(i64::MIN), i128::from(i64::MAX));
        if span / i128::from(step) > MAX_POINTS {
            return Err(ApiError::bad_data(
                "exceeded maximum resolution of 11,000 points per timeseries. Try decreasing the query resolution (?step=XX)",
            ));
        }
        let engine = self.engine_for(form)?;
        let step_ms = step / 1_000_000;
        let (start, end) = (start.engine_ms(), end.engine_ms());
        match self.eval(&engine, form.value("query"), start, end, step_ms) {
            Ok(v) => Ok(Answer::data(ember_promql::result_json(&v))),
            Err(e) if e.error_type() == "bad_data" => Err(ApiError::bad_data(
                params::go_parse_error(form.value("query"), e.to_string()),
            )),
            Err(e) => Err(ApiError::from_engine(&e)),
        }
    }
}

/// `/api/v1/query_exemplars`: no exemplars are stored, so a query with selectors
/// answers `[]` (and one without, as Prometheus, 204 No Content).
pub(crate) fn query_exemplars(form: &Form) -> ApiResult {
    let start = params::parse_time_param(form, "start", Time::from_ms(MIN_TIME_MS))
        .map_err(|e| ApiError::invalid_param("start", e))?;
    let end = params::parse_time_param(form, "end", Time::from_ms(MAX_TIME_MS))
        .map_err(|e| ApiError::invalid_param("end", e))?;
    if end < start {
        return Err(ApiError::bad_data(
            "end timestamp must not be before start timestamp",
        ));
    }
    let query = form.value("query");
    let expr =
        parser::parse(query).map_err(|e| ApiError::bad_data(params::go_parse_error(query, e)))?;
    if !has_selector(&expr) {
        return Ok(Answer::no_content());
    }
    Ok(Answer::data("[]".to_owned()))
}

/// Whether an expression selects series (Prometheus's `ExtractSelectors` is not empty).
fn has_selector(e: &Expr) -> bool {
    match e {
        Expr::VectorSelector(_) | Expr::MatrixSelector(_) => true,
        Expr::Aggregate(a) => has_selector(&a.expr) || a.param.as_deref().is_some_and(has_selector),
        Expr::Unary(u) => has_selector(&u.expr),
        Expr::Binary(b) => has_selector(&b.lhs) || has_selector(&b.rhs),
        Expr::Paren(p) => has_selector(&p.expr),
        Expr::Subquery(s) => has_selector(&s.expr),
        Expr::Call(c) => c.args.args.iter().any(|a| has_selector(a)),
        Expr::NumberLiteral(_) | Expr::StringLiteral(_) | Expr::Extension(_) => false,
    }
}

/// `/api/v1/format_query`: the query pretty-printed.
pub(crate) fn format_query(form: &Form) -> ApiResult {
    let query = form.value("query");
    let pretty = ember_promql::format_query(query).map_err(|e| {
        ApiError::invalid_param("query", params::go_parse_error(query, e.to_string()))
    })?;
    let mut out = String::with_capacity(pretty.len() + 2);
    super::json::string(&mut out, &pretty);
    Ok(Answer::data(out))
}
