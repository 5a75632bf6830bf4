//! Every shape `#[metric]` accepts builds and records.

use std::fmt::Debug;
use std::future::Future;
use std::pin::pin;
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};

use async_trait::async_trait;

#[ember::metric]
fn free(x: u32) -> u32 {
    x + 1
}

#[ember::metric]
fn unit() {}

#[ember::metric]
fn early(x: u32) -> Result<u32, String> {
    if x == 0 {
        return Err("zero".into());
    }
    let y: u32 = x.to_string().parse().map_err(|_| String::from("parse"))?;
    Ok(y)
}

#[ember::metric]
fn generic<T: Clone + Debug>(t: &T) -> T {
    t.clone()
}

#[ember::metric]
fn opaque(n: u32) -> impl Iterator<Item = u32> {
    0..n
}

#[ember::metric]
fn opaque_result(n: u32) -> Result<impl Debug, std::num::TryFromIntError> {
    let b = u8::try_from(n)?;
    Ok(b)
}

#[ember::metric]
fn borrowed(s: &str) -> &str {
    &s[1..]
}

#[ember::metric]
async fn later(x: u32) -> std::io::Result<u32> {
    Ok(x)
}

struct Shop;

#[ember::metric]
impl Shop {
    fn open(&self) -> bool {
        true
    }
    async fn sell(&mut self, n: u32) -> Result<u32, String> {
        Ok(n)
    }
}

struct Alone;

struct Slot(u32);

#[ember::metric]
impl Slot {
    fn get_mut(&mut self) -> &mut u32 {
        &mut self.0
    }
    fn into_inner(self) -> u32 {
        self.0
    }
    fn pick<'a, T>(&self, a: &'a [T]) -> Option<&'a T>
    where
        T: PartialEq,
    {
        a.first()
    }
}

impl Alone {
    #[ember::metric]
    fn method(&self) -> u8 {
        1
    }
}

trait Greet {
    fn greet(&self) -> String;
}

impl Greet for Alone {
    #[ember::metric]
    fn greet(&self) -> String {
        "hi".into()
    }
}

#[async_trait]
trait Store {
    async fn load(&self, k: u32) -> Result<u32, String>;
}

struct A;
struct B;

// `#[async_trait]` expands first: `#[metric]` sees the boxed future.
#[async_trait]
impl Store for A {
    #[ember::metric]
    async fn load(&self, k: u32) -> Result<u32, String> {
        Ok(k)
    }
}

// `#[metric]` expands first and leaves the `async fn` for `#[async_trait]`.
#[ember::metric]
#[async_trait]
impl Store for B {
    async fn load(&self, k: u32) -> Result<u32, String> {
        Err(k.to_string())
    }
}

struct Noop;
impl Wake for Noop {
    fn wake(self: Arc<Self>) {}
}

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

fn main() {
    assert_eq!(free(1), 2);
    unit();
    assert!(early(0).is_err());
    assert_eq!(early(4), Ok(4));
    assert_eq!(generic(&"g"), "g");
    assert_eq!(opaque(3).count(), 3);
    assert!(opaque_result(300).is_err());
    assert_eq!(borrowed("xy"), "y");
    assert_eq!(block_on(later(2)).ok(), Some(2));
    assert!(Shop.open());
    assert_eq!(block_on(Shop.sell(3)), Ok(3));
    assert_eq!(Alone.method(), 1);
    let mut slot = Slot(1);
    *slot.get_mut() += 1;
    assert_eq!(slot.pick(&[5, 6]), Some(&5));
    assert_eq!(slot.into_inner(), 2);
    assert_eq!(Alone.greet(), "hi");
    assert_eq!(block_on(A.load(1)), Ok(1));
    assert!(block_on(B.load(1)).is_err());

    let text = ember::default_registry().encode_to_string(ember::expfmt::Format::Text);
    let m = module_path!();
    for line in [
        format!("function_calls_total{{function=\"free\",module=\"{m}\",result=\"ok\"}} 1"),
        format!("function_calls_total{{function=\"early\",module=\"{m}\",result=\"error\"}} 1"),
        format!("function_calls_total{{function=\"opaque_result\",module=\"{m}\",result=\"error\"}} 1"),
        format!("function_calls_total{{function=\"Shop::sell\",module=\"{m}\",result=\"ok\"}} 1"),
        format!("function_calls_total{{function=\"method\",module=\"{m}\",result=\"ok\"}} 1"),
        format!("function_calls_total{{function=\"load\",module=\"{m}\",result=\"ok\"}} 1"),
        format!("function_calls_total{{function=\"B::load\",module=\"{m}\",result=\"error\"}} 1"),
    ] {
        assert!(text.contains(&line), "missing {line} in\n{text}");
    }
}
