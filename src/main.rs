use clap::Parser;

fn main() {
    let cli = match chaoscal::cli::Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            // Usage errors exit 2 (clap's own convention too); help and version exit 0.
            let code = if e.use_stderr() { 2 } else { 0 };
            let _ = e.print();
            std::process::exit(code);
        }
    };
    std::process::exit(chaoscal::cli::main_with(cli));
}
