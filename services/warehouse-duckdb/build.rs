//! Empty on purpose: it exists so the `[build-dependencies]` in Cargo.toml take part in
//! feature resolution (see the comment there).
fn main() {}
