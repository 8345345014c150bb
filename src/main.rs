//! The `esker` binary: all logic lives in the library.

fn main() -> std::process::ExitCode {
    esker::cli::main()
}
