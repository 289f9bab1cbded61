//! The `portent` binary: parse arguments, run, map the outcome to an exit
//! code (0 ran, 1 findings at or above --fail-on, 2 error).

use clap::Parser;

fn main() {
    let cli = portent::cli::Cli::parse();
    let code = match portent::app::run(cli) {
        Ok(outcome) => outcome.exit_code(),
        Err(e) => {
            eprintln!("portent: error: {e:#}");
            2
        }
    };
    std::process::exit(code);
}
