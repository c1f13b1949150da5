//! Project tasks as programs (the benchmark and the container proof come next).

fn main() {
    eprintln!("cargo xtask: no task yet");
    std::process::exit(2);
}
