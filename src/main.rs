use std::io::{BufRead, IsTerminal, Write};

use anyhow::{Context, bail};
use clap::Parser;
use shop_accounts::accounts::admins::{self, Role};
use shop_accounts::config::{AdminCommand, Cli, Command};
use shop_accounts::store::Db;
use shop_accounts::{Application, app};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    shop_accounts::cli::logging::init(&cli.config.rust_log, cli.config.log_format);
    match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => {
            let app = Application::build(cli.config).await?;
            app.run_until_stopped(app::shutdown_signal()).await
        }
        Command::Migrate => {
            let db = Db::connect(&cli.config.database_url).await?;
            db.migrate().await?;
            println!("database is up to date ({})", db.backend_name());
            Ok(())
        }
        Command::Admin(AdminCommand::Create {
            email,
            name,
            role,
            password_stdin,
        }) => {
            let role = Role::parse(&role).context("--role must be administrator or support")?;
            let password = read_password(password_stdin)?;
            let state = shop_accounts::app::tool_state(cli.config).await?;
            match admins::create(&state, &email, &name, role, &password, None).await {
                Ok(id) => {
                    println!("administrator {id} created: {email} ({})", role.code());
                    Ok(())
                }
                Err(admins::CreateAdminError::Policy(problems)) => {
                    for p in problems {
                        eprintln!("{}", p.localized(shop_accounts::i18n::Locale::En));
                    }
                    bail!("the password was not accepted")
                }
                Err(e) => bail!("{e}"),
            }
        }
        Command::DemoData { customers } => {
            let state = shop_accounts::app::tool_state(cli.config).await?;
            shop_accounts::demo::fill(&state, customers).await
        }
        Command::Check { ready } => shop_accounts::cli::check::run(&cli.config, ready).await,
        Command::Backup { file } => shop_accounts::cli::backup::run(&cli.config, &file).await,
    }
}

/// From stdin with `--password-stdin`, otherwise from a prompt (twice, unechoed
/// where the terminal allows).
fn read_password(from_stdin: bool) -> anyhow::Result<String> {
    let stdin = std::io::stdin();
    if from_stdin || !stdin.is_terminal() {
        let mut line = String::new();
        stdin.lock().read_line(&mut line)?;
        return Ok(line.trim_end_matches(['\r', '\n']).to_string());
    }
    let prompt = |label: &str| -> anyhow::Result<String> {
        eprint!("{label}: ");
        std::io::stderr().flush()?;
        let _ = std::process::Command::new("stty").arg("-echo").status();
        let mut line = String::new();
        let read = stdin.lock().read_line(&mut line);
        let _ = std::process::Command::new("stty").arg("echo").status();
        eprintln!();
        read?;
        Ok(line.trim_end_matches(['\r', '\n']).to_string())
    };
    let first = prompt("Password")?;
    let second = prompt("Repeat password")?;
    if first != second {
        bail!("the two passwords differ");
    }
    Ok(first)
}
