struct S;

#[ember::metric(labels(team = "a"))]
impl S {
    #[metric(labels(team = "b"))]
    fn f(&self) {}
}

fn main() {}
