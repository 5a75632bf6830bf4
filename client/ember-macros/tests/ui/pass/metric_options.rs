//! `labels(...)`, `help` and doc comments: constant labels on every series of the
//! function, descriptions in the shared families' HELP text.

/// Checks out the cart.
///
/// Details that stay out of the HELP text.
#[ember::metric(labels(team = "shop", r#type = "write"))]
fn checkout() -> Result<(), String> {
    Ok(())
}

#[ember::metric(name = "refund_v2", help = "Refunds\n  an order.", labels(team = "shop"), buckets = [0.5, 1])]
fn refund() {}

struct Db;

/// Doc comments of the `impl` block itself are not a function's description.
#[ember::metric(labels(system = "db"))]
impl Db {
    /// Runs a query.
    #[metric(labels(kind = "read"))]
    fn query(&self) -> u8 {
        1
    }

    #[ember::metric(help = "Writes rows.")]
    fn write(&self) {}
}

fn main() {
    checkout().unwrap();
    let text = ember::default_registry().encode_to_string(ember::expfmt::Format::Text);
    let m = module_path!();
    let lines = [
        format!("function_calls_total{{function=\"checkout\",module=\"{m}\",team=\"shop\",type=\"write\",result=\"ok\"}} 1"),
        format!("function_calls_total{{function=\"refund_v2\",module=\"{m}\",team=\"shop\",result=\"ok\"}} 0"),
        format!("function_calls_duration_seconds_bucket{{function=\"refund_v2\",module=\"{m}\",team=\"shop\",le=\"0.5\"}} 0"),
        format!("function_calls_concurrent{{function=\"Db::query\",module=\"{m}\",system=\"db\",kind=\"read\"}} 0"),
        format!("function_calls_concurrent{{function=\"Db::write\",module=\"{m}\",system=\"db\"}} 0"),
        format!(
            "# HELP function_calls_total Autometrics counter for tracking function calls. \
             Functions: Db::query ({m}): Runs a query.; Db::write ({m}): Writes rows.; \
             checkout ({m}): Checks out the cart.; refund_v2 ({m}): Refunds an order."
        ),
    ];
    for line in lines {
        assert!(text.lines().any(|l| l == line), "no `{line}` in:\n{text}");
    }
    if std::hint::black_box(false) {
        refund();
        let _ = Db.query();
        Db.write();
    }
}
