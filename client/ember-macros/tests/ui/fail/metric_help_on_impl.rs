struct S;

#[ember::metric(help = "All of S.")]
impl S {
    fn f(&self) {}
}

fn main() {}
