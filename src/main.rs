use std::io::{BufRead, IsTerminal, Write};

use anyhow::{Context, bail};
use clap::Parser;
use shop_accounts::accounts::admins::{self, Role};
use shop_accounts::config::{AdminCommand, Cli, Command, CustomersCommand, ImportCommand};
use shop_accounts::import;
use shop_accounts::store::Db;
use shop_accounts::{Application, app, cli};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    // The import's standard output is its summary and rejected lines alone.
    let to_stderr = matches!(cli.command, Some(Command::Import(_)));
    shop_accounts::cli::logging::init(&cli.config.rust_log, cli.config.log_format, to_stderr);
    match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => {
            let app = Application::build(cli.config).await?;
            app.run_until_stopped(app::shutdown_signal()).await
        }
        Command::Migrate => {
            let db = Db::connect_tool(&cli.config.database_url).await?;
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
        Command::Admin(AdminCommand::ResetTwoFactor { email }) => {
            let state = shop_accounts::app::tool_state(cli.config).await?;
            println!("{}", cli::reset_two_factor(&state, &email).await?);
            Ok(())
        }
        Command::Config(command) => {
            let state = shop_accounts::app::tool_state(cli.config).await?;
            print!("{}", cli::config(&state, command).await?);
            Ok(())
        }
        Command::Customers(CustomersCommand::Bulk(args)) => {
            shop_accounts::jobs::cli::bulk(cli.config, args).await
        }
        Command::DemoData { customers } => {
            let state = shop_accounts::app::tool_state(cli.config).await?;
            shop_accounts::demo::fill(&state, customers).await
        }
        Command::Import(ImportCommand::Magento {
            file,
            dry_run,
            batch_size,
        }) => {
            let state = shop_accounts::app::tool_state(cli.config).await?;
            let options = import::Options {
                dry_run,
                batch_size: batch_size.max(1),
            };
            let code = match import::magento(&state, &file, &options).await {
                Ok(summary) => {
                    if dry_run {
                        println!("dry run, nothing written:");
                    }
                    println!("{}", summary.line());
                    for rejection in &summary.rejected {
                        println!("{rejection}");
                    }
                    summary.exit_code()
                }
                Err(e) => {
                    eprintln!("{e}");
                    e.exit_code()
                }
            };
            state.db.close().await;
            std::process::exit(code)
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
