fn main() -> std::process::ExitCode {
    batchwatch_resident::run(batchwatch_core::control::Launch::from_args(std::env::args()))
}
