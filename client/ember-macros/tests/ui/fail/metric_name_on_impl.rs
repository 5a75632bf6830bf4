struct S;

#[ember::metric(name = "S")]
impl S {
    fn f(&self) {}
}

fn main() {}
