//! Query results and the engine's internal step-wise values.

use crate::labels::Labels;

/// A point of a series: timestamp (ms) and value.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Point {
    /// Milliseconds since the Unix epoch.
    pub t: i64,
    /// Value.
    pub v: f64,
}

/// A series with its points, ascending by time.
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    /// Labels of the series.
    pub labels: Labels,
    /// Points, ascending by time.
    pub points: Vec<Point>,
}

/// One element of an instant vector result.
#[derive(Debug, Clone, PartialEq)]
pub struct InstantSample {
    /// Labels of the element.
    pub labels: Labels,
    /// Evaluation timestamp (ms).
    pub t: i64,
    /// Value.
    pub v: f64,
}

/// The result of a query, shaped as the Prometheus HTTP API's `resultType`s.
#[derive(Debug, Clone, PartialEq)]
pub enum QueryValue {
    /// `vector`: one sample per series at the evaluation time, in Prometheus's order.
    Vector(Vec<InstantSample>),
    /// `matrix`: series with points (range queries, or range-vector instant queries).
    Matrix(Vec<Series>),
    /// `scalar`.
    Scalar {
        /// Evaluation timestamp (ms).
        t: i64,
        /// Value.
        v: f64,
    },
    /// `string`.
    String {
        /// Evaluation timestamp (ms).
        t: i64,
        /// Value.
        v: String,
    },
}

impl QueryValue {
    /// The `resultType` string of the HTTP API.
    ///
    /// ```
    /// use ember_promql::QueryValue;
    /// assert_eq!(QueryValue::Scalar { t: 0, v: 1.0 }.result_type(), "scalar");
    /// ```
    pub fn result_type(&self) -> &'static str {
        match self {
            QueryValue::Vector(_) => "vector",
            QueryValue::Matrix(_) => "matrix",
            QueryValue::Scalar { .. } => "scalar",
            QueryValue::String { .. } => "string",
        }
    }
}

/// One element of a vector at one evaluation step.
#[derive(Debug, Clone)]
pub(crate) struct StepSample {
    pub(crate) labels: Labels,
    pub(crate) v: f64,
}

/// The value of an expression over all steps of an evaluation.
#[derive(Debug, Clone)]
pub(crate) enum Value {
    /// An instant vector: series with a point at each step where they have a value.
    Vector(Vec<Series>),
    /// A scalar: one value per step.
    Scalar(Vec<f64>),
    /// A string literal.
    String(String),
    /// A range vector (only at the top of an instant query).
    Range(Vec<Series>),
}
