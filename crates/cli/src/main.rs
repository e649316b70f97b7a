/// mimalloc: a webhook allocates many small buffers on one thread and frees them on another;
/// under load glibc's malloc took about a third of the ingest path's CPU (`docs/BENCHMARKS.md`).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    cartback_cli::commands::main()
}
