fn main() -> std::process::ExitCode {
    batchwatch_resident::run(batchwatch_resident::launch::Launch::from_args(
        std::env::args(),
    ))
}
