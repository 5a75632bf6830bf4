//! `#[ember::metric]` end to end: each instrumented function's samples in the default
//! registry after known calls (ok, error, `?`, early return, panic, cancelled future).

use std::future::Future;
use std::pin::pin;
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};

use ember::expfmt::Format;

struct Noop;
impl Wake for Noop {
    fn wake(self: Arc<Self>) {}
}

/// Polls to completion; the futures under test never wait on anything.
fn block_on<F: Future>(f: F) -> F::Output {
    let waker = Waker::from(Arc::new(Noop));
    let mut cx = Context::from_waker(&waker);
    let mut f = pin!(f);
    loop {
        if let Poll::Ready(v) = f.as_mut().poll(&mut cx) {
            return v;
        }
    }
}

/// Pending once, then ready: lets a test drop a future mid-call.
struct YieldOnce(bool);
impl Future for YieldOnce {
    type Output = ();
    fn poll(mut self: std::pin::Pin<&mut Self>, _: &mut Context<'_>) -> Poll<()> {
        if self.0 {
            Poll::Ready(())
        } else {
            self.0 = true;
            Poll::Pending
        }
    }
}

fn samples(prefix: &str) -> Vec<String> {
    ember::default_registry()
        .encode_to_string(Format::Text)
        .lines()
        .filter(|l| l.starts_with(prefix))
        .map(str::to_string)
        .collect()
}

/// Sorted, so `cancelled`, `error`, `ok` (the registry writes them in creation order).
fn calls(function: &str) -> Vec<String> {
    let mut v = samples(&format!("function_calls_total{{function=\"{function}\","));
    v.sort();
    v
}

const M: &str = "metric_attribute_records_calls";

#[ember::metric]
fn parse(s: &str) -> Result<u32, std::num::ParseIntError> {
    if s.is_empty() {
        return Ok(0);
    }
    let n = s.parse()?;
    Ok(n)
}

#[test]
fn results_early_returns_and_question_marks_are_counted() {
    assert_eq!(parse("12"), Ok(12));
    assert_eq!(parse(""), Ok(0));
    assert!(parse("x").is_err());
    assert_eq!(
        calls("parse"),
        [
            format!(
                "function_calls_total{{function=\"parse\",module=\"{M}\",result=\"cancelled\"}} 0"
            ),
            format!("function_calls_total{{function=\"parse\",module=\"{M}\",result=\"error\"}} 1"),
            format!("function_calls_total{{function=\"parse\",module=\"{M}\",result=\"ok\"}} 2"),
        ]
    );
    assert_eq!(
        samples("function_calls_duration_seconds_count{function=\"parse\""),
        [format!(
            "function_calls_duration_seconds_count{{function=\"parse\",module=\"{M}\"}} 3"
        )]
    );
    assert_eq!(
        samples("function_calls_concurrent{function=\"parse\""),
        [format!(
            "function_calls_concurrent{{function=\"parse\",module=\"{M}\"}} 0"
        )]
    );
    let info = samples("build_info{");
    assert_eq!(info.len(), 1, "{info:?}");
    assert!(
        info[0].starts_with("build_info{version=\"0.1.0\",commit=\""),
        "{info:?}"
    );
    assert!(info[0].ends_with("\"} 1"), "{info:?}");
}

#[ember::metric]
fn explode(really: bool) -> u32 {
    if really {
        panic!("boom");
    }
    1
}

#[test]
fn a_panic_counts_as_error_and_propagates() {
    assert_eq!(explode(false), 1);
    let caught = std::panic::catch_unwind(|| explode(true));
    assert!(caught.is_err());
    assert_eq!(
        calls("explode"),
        [
            format!(
                "function_calls_total{{function=\"explode\",module=\"{M}\",result=\"cancelled\"}} 0"
            ),
            format!(
                "function_calls_total{{function=\"explode\",module=\"{M}\",result=\"error\"}} 1"
            ),
            format!("function_calls_total{{function=\"explode\",module=\"{M}\",result=\"ok\"}} 1"),
        ]
    );
}

#[ember::metric]
async fn fetch(fail: bool) -> Result<u8, String> {
    YieldOnce(false).await;
    if fail {
        Err("no".to_string())?;
    }
    Ok(7)
}

#[test]
fn async_calls_count_ok_error_and_cancelled() {
    assert_eq!(block_on(fetch(false)), Ok(7));
    assert!(block_on(fetch(true)).is_err());
    {
        let waker = Waker::from(Arc::new(Noop));
        let mut cx = Context::from_waker(&waker);
        let mut f = Box::pin(fetch(false));
        assert!(f.as_mut().poll(&mut cx).is_pending());
        assert_eq!(
            samples("function_calls_concurrent{function=\"fetch\""),
            [format!(
                "function_calls_concurrent{{function=\"fetch\",module=\"{M}\"}} 1"
            )]
        );
    }
    assert_eq!(
        calls("fetch"),
        [
            format!(
                "function_calls_total{{function=\"fetch\",module=\"{M}\",result=\"cancelled\"}} 1"
            ),
            format!("function_calls_total{{function=\"fetch\",module=\"{M}\",result=\"error\"}} 1"),
            format!("function_calls_total{{function=\"fetch\",module=\"{M}\",result=\"ok\"}} 1"),
        ]
    );
    assert_eq!(
        samples("function_calls_concurrent{function=\"fetch\""),
        [format!(
            "function_calls_concurrent{{function=\"fetch\",module=\"{M}\"}} 0"
        )]
    );
}

struct Cart(u32);

#[ember::metric]
impl Cart {
    fn total(&self) -> u32 {
        self.0
    }

    fn items(&self) -> impl Iterator<Item = u32> + '_ {
        (0..self.0).map(|i| i * 2)
    }

    #[metric(name = "Cart::renamed")]
    fn checkout<T: Into<u32>>(&mut self, extra: T) -> Result<impl std::fmt::Debug, String> {
        self.0 += extra.into();
        Ok(self.0)
    }
}

#[test]
fn impl_blocks_label_methods_type_colon_colon_method() {
    let mut c = Cart(2);
    assert_eq!(c.total(), 2);
    assert_eq!(c.items().sum::<u32>(), 2);
    assert_eq!(format!("{:?}", c.checkout(3u8)), "Ok(5)");
    assert_eq!(
        calls("Cart::total")[2],
        format!("function_calls_total{{function=\"Cart::total\",module=\"{M}\",result=\"ok\"}} 1")
    );
    assert_eq!(calls("Cart::items").len(), 3);
    assert_eq!(
        calls("Cart::renamed")[2],
        format!(
            "function_calls_total{{function=\"Cart::renamed\",module=\"{M}\",result=\"ok\"}} 1"
        )
    );
}

#[test]
fn init_function_call_creates_series_at_zero() {
    ember::init_function_call("never_called", M);
    assert_eq!(
        calls("never_called"),
        [
            format!(
                "function_calls_total{{function=\"never_called\",module=\"{M}\",result=\"cancelled\"}} 0"
            ),
            format!(
                "function_calls_total{{function=\"never_called\",module=\"{M}\",result=\"error\"}} 0"
            ),
            format!(
                "function_calls_total{{function=\"never_called\",module=\"{M}\",result=\"ok\"}} 0"
            ),
        ]
    );
}

#[ember::metric(buckets = [0.5, 60])]
fn slow_path() {}

#[ember::metric]
fn fast_path() {}

#[test]
fn a_site_can_have_its_own_buckets() {
    slow_path();
    assert_eq!(
        samples("function_calls_duration_seconds_bucket{function=\"slow_path\""),
        [
            format!(
                "function_calls_duration_seconds_bucket{{function=\"slow_path\",module=\"{M}\",le=\"0.5\"}} 1"
            ),
            format!(
                "function_calls_duration_seconds_bucket{{function=\"slow_path\",module=\"{M}\",le=\"60\"}} 1"
            ),
            format!(
                "function_calls_duration_seconds_bucket{{function=\"slow_path\",module=\"{M}\",le=\"+Inf\"}} 1"
            ),
        ]
    );
    // Other sites keep the autometrics buckets.
    fast_path();
    assert_eq!(
        samples("function_calls_duration_seconds_bucket{function=\"fast_path\"").len(),
        ember::FUNCTION_CALLS_BUCKETS.len() + 1
    );
}
