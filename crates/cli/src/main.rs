fn main() -> std::process::ExitCode {
    cartback_cli::cli::main()
}
